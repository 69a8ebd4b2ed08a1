/**
 * `MemoryLoader`: batches of decoded images held in memory (an {@linkcode InMemoryDataset}, or
 * Subsets of one), transformed and collated on the calling thread. It needs no Deno API, so it
 * is the loader of a web page; in Deno it gives the same batches as a `DataLoader` with
 * `numWorkers: 0` on the same seed (same plan, same per-sample augmentation, same collation).
 *
 * @module
 */
import type { Dataset } from "../datasets/types.ts";
import { InMemoryDataset } from "../datasets/in_memory.ts";
import { Subset } from "../datasets/subset.ts";
import { compose } from "../transforms/compose.ts";
import type { Transform } from "../transforms/types.ts";
import { type Batch, processBatch } from "./_process.ts";
import {
  batchCount,
  type BatchLoader,
  checkBatchOptions,
  planEpoch,
  repeatCounts,
} from "./batch_loader.ts";
import type { Sampler } from "./sampler.ts";
import type { MemorySource } from "./source.ts";
import { memorySourceOf } from "./_memory_source.ts";

/** Options for {@linkcode MemoryLoader}: the in-process subset of `DataLoaderOptions`. */
export interface MemoryLoaderOptions {
  /** Samples per batch. Default: 1, like PyTorch. */
  batchSize?: number;
  /** Reshuffle every epoch, seeded by (seed, epoch). Default: false. */
  shuffle?: boolean;
  /** Seeds the shuffle and every random transform. Default: 0. */
  seed?: number;
  /** Chooses each epoch's indices; exclusive with `shuffle`. Default: none. */
  sampler?: Sampler;
  /** Drop the last, smaller batch. Default: false. */
  dropLast?: boolean;
  /** Applied to each sample (any transform, custom ones included). Default: none. */
  transform?: Transform;
}

/** The in-memory images behind `dataset`, and which of them each loader index means. */
function memorySource(dataset: Dataset): { source: MemorySource; indices: Int32Array } {
  if (dataset instanceof Subset) {
    const inner = memorySource(dataset.dataset);
    return {
      source: inner.source,
      indices: Int32Array.from(dataset.indices, (i) => inner.indices[i]),
    };
  }
  if (dataset instanceof InMemoryDataset) {
    return {
      source: memorySourceOf(dataset),
      indices: Int32Array.from({ length: dataset.length }, (_, i) => i),
    };
  }
  throw new TypeError(
    `MemoryLoader loads an InMemoryDataset or Subsets of one, not ${dataset.constructor.name}; ` +
      "decode the images into an InMemoryDataset first (or use DataLoader in Deno)",
  );
}

/**
 * Iterates an in-memory dataset in batches, like `torch.utils.data.DataLoader` with
 * `num_workers=0`. Each `for await` is one epoch; `batches(epoch)` runs a given epoch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shapes } from "../datasets/mod.ts";
 * import { normalize } from "../transforms/mod.ts";
 * import { MemoryLoader } from "./memory_loader.ts";
 * const loader = new MemoryLoader(shapes({ size: 20 }), {
 *   batchSize: 8,
 *   shuffle: true,
 *   transform: normalize({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }),
 * });
 * const sizes: number[] = [];
 * for await (const batch of loader) sizes.push(batch.labels.length);
 * assert.deepEqual(sizes, [8, 8, 4]);
 * ```
 */
export class MemoryLoader implements BatchLoader {
  /** The dataset batches come from. */
  readonly dataset: Dataset;
  /** Samples per batch. */
  readonly batchSize: number;
  /** Whether each epoch is reshuffled. */
  readonly shuffle: boolean;
  /** Chooses each epoch's indices, when given. */
  readonly sampler: Sampler | undefined;
  /** Seed of the shuffle and of every random transform. */
  readonly seed: number;
  /** Whether the last, smaller batch is dropped. */
  readonly dropLast: boolean;
  /** Applied to every sample. */
  readonly transform: Transform;
  readonly #resolved: { source: MemorySource; indices: Int32Array };
  #epoch = 0;

  /** A loader over `dataset`; see {@linkcode MemoryLoaderOptions} for the defaults. */
  constructor(dataset: Dataset, options: MemoryLoaderOptions = {}) {
    this.dataset = dataset;
    this.batchSize = options.batchSize ?? 1;
    this.shuffle = options.shuffle ?? false;
    this.seed = options.seed ?? 0;
    this.sampler = options.sampler;
    this.dropLast = options.dropLast ?? false;
    this.transform = options.transform ?? compose([]);
    checkBatchOptions(this);
    this.#resolved = memorySource(dataset);
  }

  /** Batches per epoch. */
  get length(): number {
    return batchCount(this.sampler?.length ?? this.dataset.length, this.batchSize, this.dropLast);
  }

  /** The loader indices of each batch of `epoch`, in order. */
  plan(epoch: number): number[][] {
    return planEpoch(this.dataset.length, epoch, this);
  }

  /** The next epoch's batches (`for await` counts epochs from 0). */
  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.batches(this.#epoch++);
  }

  /** One epoch's batches, in order; `skip` leaves out the first ones (to resume mid-epoch). */
  async *batches(epoch: number, { skip = 0 }: { skip?: number } = {}): AsyncGenerator<Batch> {
    const { source, indices } = this.#resolved;
    const plan = this.plan(epoch);
    const draws = this.sampler === undefined ? undefined : repeatCounts(plan);
    for (let b = skip; b < plan.length; b++) {
      const samples = plan[b];
      const { batch } = await processBatch(source, this.transform, this.seed, {
        epoch,
        samples,
        ...(draws === undefined ? {} : { draws: draws[b] }),
        sources: samples.map((i) => indices[i]),
      });
      yield batch;
    }
  }
}
