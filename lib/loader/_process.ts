// Internal: turns a list of sample indices into one collated batch. The same code runs inline
// (numWorkers: 0) and inside each worker, which is what makes batches byte-identical either way.
import { decodeImageFile, type RawImage } from "../decode/decode.ts";
import { sampleRng } from "../transforms/compose.ts";
import { resizedSize, resizeImage } from "../transforms/geometry.ts";
import type { CachedSample } from "./cache.ts";
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
  /** Also return each sample's pixels before the transform, to fill the cache. */
  collect?: boolean;
}

/** A batch plus, when collecting, the untransformed samples for the cache. */
export interface ProcessedBatch {
  batch: Batch;
  cached?: CachedSample[];
}

const openFiles = new Map<string, { file: Deno.FsFile; queue: Promise<unknown> }>();

/** Reads `length` bytes at `offset`. Reads of one file are queued: seek + read must not interleave
 * when a worker has several batches in progress. */
function readPacked(path: string, offset: number, length: number): Promise<Uint8Array> {
  let entry = openFiles.get(path);
  if (entry === undefined) {
    entry = { file: Deno.openSync(path), queue: Promise.resolve() };
    openFiles.set(path, entry);
  }
  const { file } = entry;
  const read = entry.queue.then(async () => {
    const out = new Uint8Array(length);
    await file.seek(offset, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < length) {
      const n = await file.read(out.subarray(filled));
      if (n === null) throw new Error(`${path}: cache file ends early; delete it to rebuild`);
      filled += n;
    }
    return out;
  });
  entry.queue = read.catch(() => {});
  return read;
}

/** Closes cache files this thread opened. */
export function closeFiles(): void {
  for (const { file } of openFiles.values()) file.close();
  openFiles.clear();
}

/** Loads one sample's pixels, before any transform. */
export async function loadSample(source: SampleSource, index: number): Promise<RawImage> {
  if (source.kind === "files") {
    const image = await decodeImageFile(source.files[index], source.decode);
    if (source.shorterSide === undefined) return image;
    const [h, w] = resizedSize(image.height, image.width, source.shorterSide);
    return resizeImage(image, h, w);
  }
  if (source.kind === "packed") {
    const [height, width, channels] = source.dims.subarray(index * 3, index * 3 + 3);
    const data = await readPacked(source.path, source.offsets[index], height * width * channels);
    return { width, height, channels: channels as 1 | 3, data };
  }
  const [height, width, channels] = source.shape;
  const size = height * width * channels;
  return { width, height, channels, data: source.images.slice(index * size, (index + 1) * size) };
}

export async function processBatch(
  source: SampleSource,
  transform: Transform,
  seed: number,
  request: BatchRequest,
): Promise<ProcessedBatch> {
  const images: AnyImage[] = [];
  const cached: CachedSample[] = [];
  for (const [n, sourceIndex] of request.sources.entries()) {
    const image = await loadSample(source, sourceIndex);
    if (request.collect) cached.push({ index: sourceIndex, ...image });
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
  const batch: Batch = {
    images: out,
    shape: [images.length, first.height, first.width, first.channels],
    labels: Int32Array.from(request.sources, (i) => source.labels[i]),
    indices: Int32Array.from(request.samples),
  };
  return request.collect ? { batch, cached } : { batch };
}
