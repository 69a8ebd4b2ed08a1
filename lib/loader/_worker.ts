// Internal: the loader's worker. It receives the source and the transform spec once, then
// batch requests; it answers each with the collated batch, its buffers transferred, or with
// the error message (which names the file when decoding failed).
/// <reference lib="deno.worker" />
import { transformFromSpec } from "../transforms/compose.ts";
import type { Transform, TransformSpec } from "../transforms/types.ts";
import { type BatchRequest, processBatch } from "./_process.ts";
import "./_read_files.ts";
import type { SampleSource } from "./source.ts";

let source: SampleSource;
let transform: Transform;
let seed = 0;

// Requests run one at a time, in arrival order: interleaving two batches would only delay both.
let queue: Promise<void> = Promise.resolve();

self.onmessage = (event: MessageEvent) => {
  queue = queue.then(() => handle(event.data));
};

async function handle(message: Record<string, unknown> & { type: string }) {
  if (message.type === "init") {
    source = message.source as SampleSource;
    transform = transformFromSpec(message.transform as TransformSpec);
    seed = message.seed as number;
    return;
  }
  const request = message.request as BatchRequest;
  try {
    const { batch, cached } = await processBatch(source, transform, seed, request);
    const transfer = [batch.images.buffer, batch.labels.buffer, batch.indices.buffer];
    for (const sample of cached ?? []) {
      // Decoders may hand out views into pooled buffers: send exact copies of those.
      const { data } = sample;
      if (data.byteOffset !== 0 || data.byteLength !== data.buffer.byteLength) {
        sample.data = data.slice();
      }
      transfer.push(sample.data.buffer);
    }
    self.postMessage({ type: "batch", id: message.id, batch, cached }, transfer as ArrayBuffer[]);
  } catch (error) {
    self.postMessage({
      type: "error",
      id: message.id,
      message: error instanceof Error ? error.message : String(error),
    });
  }
}
