// Internal: the loader's worker. It receives the source and the transform spec once, then
// batch requests; it answers each with the collated batch, its buffers transferred, or with
// the error message (which names the file when decoding failed).
/// <reference lib="deno.worker" />
import { transformFromSpec } from "../transforms/compose.ts";
import type { Transform, TransformSpec } from "../transforms/types.ts";
import { type BatchRequest, processBatch } from "./_process.ts";
import type { SampleSource } from "./source.ts";

let source: SampleSource;
let transform: Transform;
let seed = 0;

self.onmessage = async (event: MessageEvent) => {
  const message = event.data;
  if (message.type === "init") {
    source = message.source as SampleSource;
    transform = transformFromSpec(message.transform as TransformSpec);
    seed = message.seed;
    return;
  }
  const request = message.request as BatchRequest;
  try {
    const batch = await processBatch(source, transform, seed, request);
    const transfer = [batch.images.buffer, batch.labels.buffer, batch.indices.buffer];
    self.postMessage({ type: "batch", id: message.id, batch }, transfer as ArrayBuffer[]);
  } catch (error) {
    self.postMessage({
      type: "error",
      id: message.id,
      message: error instanceof Error ? error.message : String(error),
    });
  }
};
