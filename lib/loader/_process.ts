// Internal: turns a list of sample indices into one collated batch. The same code runs inline
// (numWorkers: 0) and inside each worker, which is what makes batches byte-identical either way.
import type { RawImage } from "../decode/decode.ts";
import { DecodeError } from "../decode/errors.ts";
import { Rng } from "../_internal/rng.ts";
import { compose, sampleRng, transformFromSpec } from "../transforms/compose.ts";
import { partsOf } from "../transforms/_parts.ts";
import type { CachedSample } from "./cache.ts";
import type { AnyImage, Transform, TransformSpec } from "../transforms/types.ts";
import type { MemorySource, SampleSource } from "./source.ts";

/** One batch: images NHWC (float32 after normalize/toFloat, else uint8), labels, indices. */
export interface Batch {
  /** Pixels of the whole batch, NHWC (Float32 after normalize, else uint8). */
  images: Float32Array | Uint8Array;
  /** [batch, height, width, channels]. */
  shape: [number, number, number, number];
  /** Label of each image. */
  labels: Int32Array;
  /** The loader indices of the samples, in batch order. */
  indices: Int32Array;
  /** Samples left out of this batch because they could not be loaded (bad files). */
  skipped?: SkippedSample[];
  /** Samples kept that the decoder tolerated something in (junk bytes libjpeg skips too). */
  decodeWarnings?: SkippedSample[];
}

/** A sample that could not be loaded, and why. */
export interface SkippedSample {
  /** Loader index. */
  index: number;
  /** The file. */
  source: string;
  /** The problem, in one line. */
  message: string;
}

/** A bad sample recorded in the decoded-sample cache (so later epochs skip it without I/O). */
export class CachedBadSample extends Error {
  /** Always `CachedBadSample`. */
  override name = "CachedBadSample";
}

/**
 * The cache's record of a file that could not be loaded: no pixels, the reason kept, so later
 * epochs skip it without touching the file again.
 */
export function badSample(index: number, error: string): CachedSample {
  return { index, width: 0, height: 0, channels: 3, data: new Uint8Array(0), error };
}

/** Errors that mean "this one file is bad", as opposed to a broken loader or cache. */
function isBadFile(error: unknown): error is Error {
  return error instanceof DecodeError || error instanceof CachedBadSample ||
    (error instanceof Error && storedBadFile?.(error) === true);
}

/** What a worker is asked to do for one batch. */
export interface BatchRequest {
  epoch: number;
  /** Loader indices (they seed the augmentation). */
  samples: number[];
  /** Source indices (where the pixels come from). */
  sources: number[];
  /**
   * Earlier draws of each sample in the epoch (a sampler with replacement repeats samples): a
   * repeat gets augmentation of its own, as PyTorch's fresh random draw per `__getitem__`. Absent:
   * every sample is a first draw.
   */
  draws?: number[];
  /** Also return each sample's pixels before the transform, to fill the cache. */
  collect?: boolean;
  /** Leave out samples whose file is bad (with a reason) instead of failing the batch. */
  skipBad?: boolean;
}

/** A batch plus, when collecting, the untransformed samples for the cache. */
export interface ProcessedBatch {
  batch: Batch;
  cached?: CachedSample[];
}

/** Loads a sample from a file or from the decoded-sample cache (needs Deno: see _read_files.ts). */
export type StoredSampleReader = (
  source: Exclude<SampleSource, { kind: "memory" }>,
  index: number,
) => Promise<RawImage & { warnings?: string[] }>;

let storedReader: StoredSampleReader | undefined;
let storedBadFile: ((error: Error) => boolean) | undefined;

/**
 * Installs the reader of file and cache sources, and what among its errors means "this one file
 * is bad" (_read_files.ts does both on import).
 */
export function setStoredSampleReader(
  reader: StoredSampleReader,
  isBadFile: (error: Error) => boolean,
): void {
  storedReader = reader;
  storedBadFile = isBadFile;
}

/** Loads one sample's pixels, before any transform, with what the decoder tolerated in it. */
export async function loadSample(
  source: SampleSource,
  index: number,
): Promise<RawImage & { warnings?: string[] }> {
  if (source.kind !== "memory") {
    if (storedReader === undefined) {
      throw new TypeError(
        `${source.kind} sources are read with Deno (import lib/loader/loader.ts); ` +
          "in a web page, load decoded images into an InMemoryDataset",
      );
    }
    return await storedReader(source, index);
  }
  const [height, width, channels] = source.shape;
  const size = height * width * channels;
  return { width, height, channels, data: source.images.slice(index * size, (index + 1) * size) };
}

/** A pipeline whose trailing `normalize` runs while collating, straight into the batch. */
interface SplitTransform {
  head: Transform;
  /** Per-channel x·a + b of the trailing normalize, if there is one. */
  affine?: { a: number[]; b: number[] };
}

const splits = new WeakMap<Transform, SplitTransform>();

/** Splits off a trailing `normalize` so the batch needs no per-sample float copies. */
function split(transform: Transform): SplitTransform {
  let result = splits.get(transform);
  if (result !== undefined) return result;
  result = { head: transform };
  const steps = transform.name === "compose"
    ? transform.options.transforms as TransformSpec[]
    : [{ name: transform.name, options: transform.options }];
  const last = steps.at(-1);
  if (last?.name === "normalize") {
    const { mean, std } = last.options as { mean: number[]; std: number[] };
    // The steps before it as they are (a custom one has no spec to rebuild it from); a compose
    // that came from a worker's spec is rebuilt, its steps being the library's own.
    const parts = partsOf(transform);
    result = {
      head: compose(parts?.slice(0, -1) ?? steps.slice(0, -1).map(transformFromSpec)),
      affine: { a: std.map((s) => 1 / 255 / s), b: mean.map((m, c) => -m / std[c]) },
    };
  }
  splits.set(transform, result);
  return result;
}

/** Whether `transform` leaves every image as it is (a compose of no steps). */
function isIdentity(transform: Transform): boolean {
  return transform.name === "compose" &&
    (transform.options.transforms as unknown[] | undefined)?.length === 0;
}

/**
 * A batch of in-memory samples with no transform but a trailing normalize (if any): each image
 * copied (or normalized) straight from the source's pixels into the batch, with no per-sample
 * copy, generator or promise. The same values as the general path below.
 */
function collateMemory(
  source: MemorySource,
  request: BatchRequest,
  affine: SplitTransform["affine"],
): ProcessedBatch {
  const [height, width, channels] = source.shape;
  const size = height * width * channels;
  const count = request.sources.length;
  if (affine !== undefined && affine.a.length !== channels) {
    throw new RangeError(`normalize: ${affine.a.length} means for a ${channels}-channel image`);
  }
  const out = affine === undefined ? new Uint8Array(size * count) : new Float32Array(size * count);
  for (let n = 0; n < count; n++) {
    const from = request.sources[n] * size;
    const data = source.images.subarray(from, from + size);
    if (affine === undefined) {
      out.set(data, n * size);
      continue;
    }
    // The same arithmetic as normalize(): x·(1/255/std) + (−mean/std), rounded to float32.
    for (let i = 0, o = n * size; i < size; i += channels, o += channels) {
      for (let c = 0; c < channels; c++) out[o + c] = data[i + c] * affine.a[c] + affine.b[c];
    }
  }
  return {
    batch: {
      images: out,
      shape: [count, height, width, channels],
      labels: Int32Array.from(request.sources, (i) => source.labels[i]),
      indices: Int32Array.from(request.samples),
    },
  };
}

export async function processBatch(
  source: SampleSource,
  transform: Transform,
  seed: number,
  request: BatchRequest,
): Promise<ProcessedBatch> {
  const { head, affine } = split(transform);
  if (source.kind === "memory" && isIdentity(head)) return collateMemory(source, request, affine);
  const images: AnyImage[] = [];
  const cached: CachedSample[] = [];
  const skipped: SkippedSample[] = [];
  const decodeWarnings: SkippedSample[] = [];
  const kept: number[] = [];
  for (const [n, sourceIndex] of request.sources.entries()) {
    let image: RawImage & { warnings?: string[] };
    try {
      image = await loadSample(source, sourceIndex);
    } catch (error) {
      if (!request.skipBad || source.kind === "memory" || !isBadFile(error)) throw error;
      const file = source.kind === "files" ? source.files[sourceIndex] : `sample ${sourceIndex}`;
      const message = error.message.startsWith(file) ? error.message : `${file}: ${error.message}`;
      skipped.push({ index: request.samples[n], source: file, message });
      if (request.collect) cached.push(badSample(sourceIndex, message));
      continue;
    }
    if (image.warnings !== undefined && image.warnings.length > 0 && source.kind === "files") {
      const file = source.files[sourceIndex];
      const message = `${file} decoded with warnings: ${image.warnings.join("; ")}`;
      decodeWarnings.push({ index: request.samples[n], source: file, message });
    }
    if (request.collect) {
      const { warnings: _, ...pixels } = image;
      cached.push({ index: sourceIndex, ...pixels });
    }
    const draw = request.draws?.[n] ?? 0;
    const rng = draw === 0
      ? sampleRng(seed, request.epoch, request.samples[n])
      : new Rng(seed, request.epoch, request.samples[n], draw);
    images.push(head.apply(image, rng));
    kept.push(n);
  }
  if (images.length === 0) {
    const batch: Batch = {
      images: new Uint8Array(0),
      shape: [0, 0, 0, 0],
      labels: new Int32Array(0),
      indices: new Int32Array(0),
      skipped,
    };
    return request.collect ? { batch, cached } : { batch };
  }
  const first = images[0];
  const size = first.width * first.height * first.channels;
  const fused = affine !== undefined && first.data instanceof Uint8Array;
  if (affine !== undefined && !fused) {
    throw new TypeError("normalize needs uint8 samples from the steps before it");
  }
  if (fused && affine.a.length !== first.channels) {
    throw new RangeError(
      `normalize: ${affine.a.length} means for a ${first.channels}-channel image`,
    );
  }
  const out = fused || first.data instanceof Float32Array
    ? new Float32Array(size * images.length)
    : new Uint8Array(size * images.length);
  for (const [n, image] of images.entries()) {
    if (
      image.width !== first.width || image.height !== first.height ||
      image.channels !== first.channels || image.data.constructor !== first.data.constructor
    ) {
      const where = source.kind === "files" ? ` (${source.files[request.sources[kept[n]]]})` : "";
      throw new RangeError(
        `sample ${request.samples[kept[n]]}${where} is ${image.height}×${image.width}×` +
          `${image.channels} but the batch's first is ${first.height}×${first.width}×` +
          `${first.channels}; add resize and a crop to the transform so every sample has one size`,
      );
    }
    if (!fused) {
      out.set(image.data, n * size);
      continue;
    }
    // The same arithmetic as normalize(): x·(1/255/std) + (−mean/std), rounded to float32.
    const data = image.data;
    const channels = image.channels;
    if (channels === 3) {
      const [a0, a1, a2] = affine.a;
      const [b0, b1, b2] = affine.b;
      for (let i = 0, o = n * size; i < size; i += 3, o += 3) {
        out[o] = data[i] * a0 + b0;
        out[o + 1] = data[i + 1] * a1 + b1;
        out[o + 2] = data[i + 2] * a2 + b2;
      }
      continue;
    }
    for (let i = 0, o = n * size; i < size; i += channels, o += channels) {
      for (let c = 0; c < channels; c++) out[o + c] = data[i + c] * affine.a[c] + affine.b[c];
    }
  }
  const batch: Batch = {
    images: out,
    shape: [images.length, first.height, first.width, first.channels],
    labels: Int32Array.from(kept, (n) => source.labels[request.sources[n]]),
    indices: Int32Array.from(kept, (n) => request.samples[n]),
    ...(skipped.length > 0 ? { skipped } : {}),
    ...(decodeWarnings.length > 0 ? { decodeWarnings } : {}),
  };
  return request.collect ? { batch, cached } : { batch };
}
