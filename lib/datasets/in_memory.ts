/**
 * Datasets whose pixels sit in one uint8 array (MNIST, CIFAR, the embedded shapes set).
 *
 * @module
 */
import type { RawImage } from "../decode/decode.ts";
import { checkIndex, type Dataset, type Sample } from "./types.ts";

/** Construction options of {@linkcode InMemoryDataset}. */
export interface InMemoryDatasetOptions {
  /** All images back to back, N × H × W × C, uint8. */
  images: Uint8Array;
  /** One label per image. */
  labels: Uint8Array | Int32Array;
  /** Height, width, channels of every image. */
  shape: [number, number, 1 | 3];
  /** Class names by label. */
  classes: readonly string[];
}

/**
 * Fixed-size images held in memory. `get` returns a copy, so transforms may modify it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryDataset } from "./in_memory.ts";
 * const dataset = new InMemoryDataset({
 *   images: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
 *   labels: new Uint8Array([0, 1]),
 *   shape: [2, 2, 1],
 *   classes: ["a", "b"],
 * });
 * const [image, label] = await dataset.get(1);
 * assert.deepEqual([...image.data], [5, 6, 7, 8]);
 * assert.equal(label, 1);
 * ```
 */
export class InMemoryDataset implements Dataset {
  /** All images, uint8 HWC, one after another. */
  readonly images: Uint8Array;
  /** Label of each image. */
  readonly labels: Uint8Array | Int32Array;
  /** [height, width, channels] of every image. */
  readonly shape: [number, number, 1 | 3];
  readonly classes: readonly string[];

  /** Wraps images and labels already in memory (checked for consistent sizes). */
  constructor(options: InMemoryDatasetOptions) {
    const [h, w, c] = options.shape;
    if (options.images.length !== options.labels.length * h * w * c) {
      throw new RangeError(
        `${options.labels.length} labels need ${options.labels.length * h * w * c} pixel bytes ` +
          `of ${h}×${w}×${c}, got ${options.images.length}`,
      );
    }
    this.images = options.images;
    this.labels = options.labels;
    this.shape = options.shape;
    this.classes = options.classes;
  }

  get length(): number {
    return this.labels.length;
  }

  labelOf(index: number): number {
    checkIndex(index, this.length);
    return this.labels[index];
  }

  /** The pixels of sample `index` as a view into the shared array (no copy; do not modify). */
  view(index: number): RawImage {
    checkIndex(index, this.length);
    const [height, width, channels] = this.shape;
    const size = height * width * channels;
    return {
      width,
      height,
      channels,
      data: this.images.subarray(index * size, (index + 1) * size),
    };
  }

  get(index: number): Promise<Sample> {
    const image = this.view(index);
    return Promise.resolve([{ ...image, data: image.data.slice() }, this.labels[index]]);
  }
}
