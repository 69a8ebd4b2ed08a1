// Internal: turns a list of sample indices into one collated batch. The same code runs inline
// (numWorkers: 0) and inside each worker, which is what makes batches byte-identical either way.
import { decodeImageFile, type RawImage } from "../decode/decode.ts";
import { sampleRng } from "../transforms/compose.ts";
import type { AnyImage, Transform } from "../transforms/types.ts";
import type { SampleSource } from "./source.ts";

/** One batch: images NHWC (float32 after normalize/toFloat, else uint8), labels, indices. */
export interface Batch {
  images: Float32Array | Uint8Array;
  /** [batch, height, width, channels]. */
  shape: [number, number, number, number];
  labels: Int32Array;
  /** The loader indices of the samples, in batch order. */
  indices: Int32Array;
}

/** What a worker is asked to do for one batch. */
export interface BatchRequest {
  epoch: number;
  /** Loader indices (they seed the augmentation). */
  samples: number[];
  /** Source indices (where the pixels come from). */
  sources: number[];
}

async function load(source: SampleSource, index: number): Promise<RawImage> {
  if (source.kind === "files") return await decodeImageFile(source.files[index], source.decode);
  const [height, width, channels] = source.shape;
  const size = height * width * channels;
  return { width, height, channels, data: source.images.slice(index * size, (index + 1) * size) };
}

export async function processBatch(
  source: SampleSource,
  transform: Transform,
  seed: number,
  request: BatchRequest,
): Promise<Batch> {
  const images: AnyImage[] = [];
  for (const [n, sourceIndex] of request.sources.entries()) {
    const image = await load(source, sourceIndex);
    images.push(transform.apply(image, sampleRng(seed, request.epoch, request.samples[n])));
  }
  const first = images[0];
  const size = first.width * first.height * first.channels;
  const out = first.data instanceof Float32Array
    ? new Float32Array(size * images.length)
    : new Uint8Array(size * images.length);
  for (const [n, image] of images.entries()) {
    if (
      image.width !== first.width || image.height !== first.height ||
      image.channels !== first.channels || image.data.constructor !== first.data.constructor
    ) {
      const where = source.kind === "files" ? ` (${source.files[request.sources[n]]})` : "";
      throw new RangeError(
        `sample ${
          request.samples[n]
        }${where} is ${image.height}×${image.width}×${image.channels} ` +
          `but the batch's first is ${first.height}×${first.width}×${first.channels}; add resize ` +
          "and a crop to the transform so every sample has one size",
      );
    }
    out.set(image.data, n * size);
  }
  return {
    images: out,
    shape: [images.length, first.height, first.width, first.channels],
    labels: Int32Array.from(request.sources, (i) => source.labels[i]),
    indices: Int32Array.from(request.samples),
  };
}
