/**
 * What a worker needs to load samples by itself: a dataset reduced to plain data (a file list,
 * or pixels in shared memory) that can be posted to a Web Worker.
 *
 * @module
 */
import type { DecodeOptions } from "../decode/decode.ts";
import { ImageFolder } from "../datasets/image_folder.ts";
import { InMemoryDataset } from "../datasets/in_memory.ts";
import { Subset } from "../datasets/subset.ts";
import type { Dataset } from "../datasets/types.ts";
import { memorySourceOf } from "./_memory_source.ts";

/** Image files with labels, decoded in the worker. */
export interface FileSource {
  /** Images decoded from files. */
  kind: "files";
  /** Path of each sample. */
  files: string[];
  /** Label of each sample. */
  labels: Int32Array;
  /** How files are decoded. */
  decode: DecodeOptions;
  /** Resize to this shorter side right after decoding (set when caching). */
  shorterSide?: number;
}

/** Fixed-size uint8 images in shared memory. */
export interface MemorySource {
  /** Images already in memory. */
  kind: "memory";
  /** All images, uint8 HWC (shared with workers when they are used). */
  images: Uint8Array; // backed by a SharedArrayBuffer when workers are used
  /** Label of each sample. */
  labels: Int32Array;
  /** [height, width, channels] of every image. */
  shape: [number, number, 1 | 3];
}

/** Decoded samples of any size in one packed cache file (see cache.ts). */
export interface PackedSource {
  /** Images in a decoded-sample cache file. */
  kind: "packed";
  /** The cache's packed binary file. */
  path: string;
  /** Byte offset of each sample in the file. */
  offsets: Float64Array;
  /** Height, width, channels of each sample, flattened. */
  dims: Int32Array;
  /** Label of each sample. */
  labels: Int32Array;
  /** Samples whose file was bad when the cache was built, with the reason. */
  bad?: Record<number, string>;
}

/** A dataset in a form that crosses to workers. */
export type SampleSource = FileSource | MemorySource | PackedSource;

/** A source plus, for subsets, which of its samples each loader index means. */
export interface ResolvedSource {
  /** Where the samples come from. */
  source: SampleSource;
  /** Loader index → source index. */
  indices: Int32Array;
}

/**
 * Reduces ImageFolder, InMemoryDataset and Subsets of them to a source workers can load from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shapes, Subset } from "../datasets/mod.ts";
 * import { resolveSource } from "./source.ts";
 * const { source, indices } = resolveSource(new Subset(shapes({ size: 10 }), [4, 2]), false);
 * assert.equal(source.kind, "memory");
 * assert.deepEqual([...indices], [4, 2]);
 * ```
 */
export function resolveSource(dataset: Dataset, shared: boolean): ResolvedSource {
  if (dataset instanceof Subset) {
    const inner = resolveSource(dataset.dataset, shared);
    return {
      source: inner.source,
      indices: Int32Array.from(dataset.indices, (i) => inner.indices[i]),
    };
  }
  const all = Int32Array.from({ length: dataset.length }, (_, i) => i);
  if (dataset instanceof ImageFolder) {
    return {
      source: {
        kind: "files",
        files: dataset.samples.map(([path]) => path),
        labels: Int32Array.from(dataset.samples, ([, label]) => label),
        decode: dataset.decodeOptions,
      },
      indices: all,
    };
  }
  if (dataset instanceof InMemoryDataset) {
    let images = dataset.images;
    if (shared && !(images.buffer instanceof SharedArrayBuffer)) {
      images = new Uint8Array(new SharedArrayBuffer(images.length));
      images.set(dataset.images);
    }
    return { source: memorySourceOf(dataset, images), indices: all };
  }
  throw new TypeError(
    `${dataset.constructor.name} cannot be loaded in workers (ImageFolder, InMemoryDataset and ` +
      "Subsets of them can); pass numWorkers: 0 to load it on the main thread",
  );
}
