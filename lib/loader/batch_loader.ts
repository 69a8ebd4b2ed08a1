/**
 * What `fit` and `evaluate` need of a loader, and the epoch plan every loader shares: the
 * {@linkcode DataLoader} (files, workers, cache; Deno) and the {@linkcode MemoryLoader} (decoded
 * images in memory; also in a web page) both follow it, so the same seed gives the same batches.
 *
 * @module
 */
import { Rng } from "../_internal/rng.ts";
import type { Dataset } from "../datasets/types.ts";
import type { Batch } from "./_process.ts";
import type { Sampler } from "./sampler.ts";

export type { Batch, SkippedSample } from "./_process.ts";

/**
 * A dataset in batches, epoch by epoch: what `fit` trains on and `evaluate` measures.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shapes } from "../datasets/mod.ts";
 * import type { BatchLoader } from "./batch_loader.ts";
 * import { MemoryLoader } from "./memory_loader.ts";
 * const loader: BatchLoader = new MemoryLoader(shapes({ size: 10 }), { batchSize: 4 });
 * assert.equal(loader.length, 3);
 * ```
 */
export interface BatchLoader extends AsyncIterable<Batch> {
  /** The dataset batches come from (its `classes`, and `sourceOf` for mistakes). */
  readonly dataset: Dataset;
  /** Batches per epoch. */
  readonly length: number;
  /** One epoch's batches, in order; `skip` leaves out the first ones (to resume mid-epoch). */
  batches(epoch: number, options?: { skip?: number }): AsyncGenerator<Batch>;
}

/** How an epoch is cut into batches (see {@linkcode planEpoch}). */
export interface EpochPlanOptions {
  /** Samples per batch. */
  batchSize: number;
  /** Reshuffle every epoch, seeded by (seed, epoch). */
  shuffle: boolean;
  /** Seeds the shuffle. */
  seed: number;
  /** Chooses each epoch's indices instead of the (shuffled) order. */
  sampler?: Sampler;
  /** Drop the last, smaller batch. */
  dropLast: boolean;
}

/**
 * The loader indices of each batch of `epoch`, in order, for a dataset of `length` samples.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planEpoch } from "./batch_loader.ts";
 * const plan = planEpoch(5, 0, { batchSize: 2, shuffle: false, seed: 0, dropLast: false });
 * assert.deepEqual(plan, [[0, 1], [2, 3], [4]]);
 * ```
 */
export function planEpoch(length: number, epoch: number, options: EpochPlanOptions): number[][] {
  const order = options.sampler?.indices(epoch) ?? Array.from({ length }, (_, i) => i);
  if (options.shuffle) new Rng(options.seed, epoch, 0x5ffe).shuffle(order);
  const batches: number[][] = [];
  for (let start = 0; start < order.length; start += options.batchSize) {
    const batch = order.slice(start, start + options.batchSize);
    if (batch.length < options.batchSize && options.dropLast) break;
    batches.push(batch);
  }
  return batches;
}

/**
 * For each sample of each batch: how many times the epoch drew it before (0 for a first draw), so
 * that a sampler's repeats get augmentation of their own.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { repeatCounts } from "./batch_loader.ts";
 * assert.deepEqual(repeatCounts([[3, 1], [3]]), [[0, 0], [1]]);
 * ```
 */
export function repeatCounts(plan: number[][]): number[][] {
  const seen = new Map<number, number>();
  return plan.map((batch) =>
    batch.map((index) => {
      const count = seen.get(index) ?? 0;
      seen.set(index, count + 1);
      return count;
    })
  );
}

/**
 * Batches per epoch for `samples` samples (dropping or keeping the last, smaller batch).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchCount } from "./batch_loader.ts";
 * assert.equal(batchCount(10, 4, false), 3);
 * assert.equal(batchCount(10, 4, true), 2);
 * ```
 */
export function batchCount(samples: number, batchSize: number, dropLast: boolean): number {
  const n = samples / batchSize;
  return dropLast ? Math.floor(n) : Math.ceil(n);
}

/**
 * Checks the options every loader shares: a positive whole batch size, and a sampler only
 * without shuffling (the sampler orders the epoch), as PyTorch's DataLoader does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkBatchOptions } from "./batch_loader.ts";
 * assert.throws(() => checkBatchOptions({ batchSize: 0, shuffle: false }), /batchSize/);
 * ```
 */
export function checkBatchOptions(
  options: { batchSize: number; shuffle: boolean; sampler?: Sampler },
): void {
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${options.batchSize}`);
  }
  if (options.sampler !== undefined && options.shuffle) {
    throw new RangeError("sampler and shuffle are exclusive: the sampler orders the epoch");
  }
}
