/**
 * Views of a dataset: a subset by indices, and seeded train/validation splits (Keras'
 * `validation_split`, optionally stratified by class).
 *
 * @module
 */
import { Rng } from "../_internal/rng.ts";
import { checkIndex, type Dataset, type Sample } from "./types.ts";

/**
 * The samples of `dataset` at `indices`, in that order (like `torch.utils.data.Subset`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryDataset } from "./in_memory.ts";
 * import { Subset } from "./subset.ts";
 * const base = new InMemoryDataset({
 *   images: new Uint8Array(3), labels: new Uint8Array([0, 1, 2]), shape: [1, 1, 1],
 *   classes: ["a", "b", "c"],
 * });
 * const subset = new Subset(base, [2, 0]);
 * assert.equal(subset.length, 2);
 * assert.equal(subset.labelOf(0), 2);
 * ```
 */
export class Subset implements Dataset {
  /** The dataset the indices point into. */
  readonly dataset: Dataset;
  /** Indices into `dataset`, in this subset's order. */
  readonly indices: readonly number[];

  /** A view of `dataset` at `indices` (each checked to be in range). */
  constructor(dataset: Dataset, indices: readonly number[]) {
    for (const index of indices) checkIndex(index, dataset.length);
    this.dataset = dataset;
    this.indices = indices;
  }

  get length(): number {
    return this.indices.length;
  }

  get classes(): readonly string[] {
    return this.dataset.classes;
  }

  labelOf(index: number): number {
    checkIndex(index, this.length);
    return this.dataset.labelOf(this.indices[index]);
  }

  get(index: number): Promise<Sample> {
    checkIndex(index, this.length);
    return this.dataset.get(this.indices[index]);
  }

  sourceOf(index: number): string | undefined {
    checkIndex(index, this.length);
    return this.dataset.sourceOf?.(this.indices[index]);
  }
}

/** Options for {@linkcode splitDataset}. */
export interface SplitOptions {
  /** Fraction of samples that go to validation, in (0, 1). */
  validationFraction: number;
  /** Shuffle seed. Default: 0. */
  seed?: number;
  /** Keep each class's proportion in both parts. Default: false. */
  stratify?: boolean;
}

/**
 * Splits a dataset into seeded, disjoint train and validation subsets. With `stratify`, every
 * class contributes round(fraction × its count) samples to validation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryDataset } from "./in_memory.ts";
 * import { splitDataset } from "./subset.ts";
 * const base = new InMemoryDataset({
 *   images: new Uint8Array(10), labels: new Uint8Array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]),
 *   shape: [1, 1, 1], classes: ["a", "b"],
 * });
 * const { train, validation } = splitDataset(base, { validationFraction: 0.2, stratify: true });
 * assert.deepEqual([train.length, validation.length], [8, 2]);
 * assert.deepEqual([validation.labelOf(0), validation.labelOf(1)].sort(), [0, 1]);
 * ```
 */
export function splitDataset(
  dataset: Dataset,
  options: SplitOptions,
): { train: Subset; validation: Subset } {
  const { validationFraction, seed = 0, stratify = false } = options;
  if (!(validationFraction > 0 && validationFraction < 1)) {
    throw new RangeError(`validationFraction must be in (0, 1), got ${validationFraction}`);
  }
  const rng = new Rng(seed, 0x5b1d);
  const groups: number[][] = [];
  if (stratify) {
    for (let i = 0; i < dataset.length; i++) (groups[dataset.labelOf(i)] ??= []).push(i);
  } else {
    groups.push(Array.from({ length: dataset.length }, (_, i) => i));
  }
  const train: number[] = [];
  const validation: number[] = [];
  for (const group of groups) {
    if (group === undefined) continue;
    rng.shuffle(group);
    const count = Math.round(group.length * validationFraction);
    validation.push(...group.slice(0, count));
    train.push(...group.slice(count));
  }
  if (train.length === 0 || validation.length === 0) {
    throw new RangeError(
      `a ${validationFraction} split of ${dataset.length} samples leaves one side empty`,
    );
  }
  return {
    train: new Subset(dataset, train.sort((a, b) => a - b)),
    validation: new Subset(dataset, validation.sort((a, b) => a - b)),
  };
}
