/**
 * What every dataset is: a length, class names, and samples `[image, label]` by index, as in
 * torchvision.
 *
 * @module
 */
import type { RawImage } from "../decode/decode.ts";

/** One sample: the image (uint8 HWC) and its class index. */
export type Sample = [image: RawImage, label: number];

/** A map-style dataset, like `torch.utils.data.Dataset`. */
export interface Dataset {
  /** Number of samples. */
  readonly length: number;
  /** Class names; a label is an index into this list. */
  readonly classes: readonly string[];
  /** The sample at `index` (0 ≤ index < length). */
  get(index: number): Promise<Sample>;
  /** The label at `index`, without loading the image (for splits and class counts). */
  labelOf(index: number): number;
  /** Where the sample at `index` comes from (a file path), when the dataset knows. */
  sourceOf?(index: number): string | undefined;
}

/**
 * Throws a RangeError unless `index` is a valid sample index of a dataset of `length`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkIndex } from "./types.ts";
 * assert.throws(() => checkIndex(5, 5), /index 5 is out of range/);
 * ```
 */
export function checkIndex(index: number, length: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= length) {
    throw new RangeError(`sample index ${index} is out of range for a dataset of ${length}`);
  }
}
