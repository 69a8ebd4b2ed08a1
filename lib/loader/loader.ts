/**
 * `DataLoader`: seeded per-epoch shuffling, batches in order, read → decode → transform on a pool
 * of Deno Web Workers with transferred buffers and a bounded prefetch queue.
 *
 * @module
 */
import { Rng } from "../_internal/rng.ts";
import type { Dataset } from "../datasets/types.ts";
import { compose } from "../transforms/compose.ts";
import type { Transform } from "../transforms/types.ts";
import { type Batch, type BatchRequest, processBatch } from "./_process.ts";
import { type ResolvedSource, resolveSource } from "./source.ts";

export type { Batch } from "./_process.ts";

/** Options for {@linkcode DataLoader}. */
export interface DataLoaderOptions {
  /** Samples per batch. Default: 1, like PyTorch. */
  batchSize?: number;
  /** Reshuffle every epoch, seeded by (seed, epoch). Default: false. */
  shuffle?: boolean;
  /** Seeds the shuffle and every random transform. Default: 0. */
  seed?: number;
  /** Drop the last, smaller batch. Default: false. */
  dropLast?: boolean;
  /** Applied to each sample; its output size must be the same for every sample. */
  transform?: Transform;
  /** Worker count; 0 loads on the calling thread. Default: CPU cores − 1, at least 1. */
  numWorkers?: number;
  /** Most batches requested but not yet consumed. Default: 2 per worker (2 inline). */
  prefetch?: number;
}

let liveWorkers = 0;

interface Pending {
  promise: Promise<Batch>;
  resolve(batch: Batch): void;
  reject(error: Error): void;
}

function pending(): Pending {
  let resolve!: (batch: Batch) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<Batch>((res, rej) => [resolve, reject] = [res, rej]);
  promise.catch(() => {}); // a batch nobody waits for (after a break) must not crash the process
  return { promise, resolve, reject };
}

/**
 * Iterates a dataset in batches, like `torch.utils.data.DataLoader`. Each `for await` is one
 * epoch; `batches(epoch)` runs a given epoch. Workers start with the epoch and are all stopped
 * when it ends, breaks or throws.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shapes } from "../datasets/mod.ts";
 * import { compose, normalize, randomHorizontalFlip } from "../transforms/mod.ts";
 * import { DataLoader } from "./loader.ts";
 * const loader = new DataLoader(shapes({ size: 64 }), {
 *   batchSize: 16,
 *   shuffle: true,
 *   numWorkers: 1,
 *   transform: compose([randomHorizontalFlip(), normalize({ mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] })]),
 * });
 * let seen = 0;
 * for await (const batch of loader) {
 *   assert.deepEqual(batch.shape, [16, 32, 32, 3]);
 *   seen += batch.labels.length;
 * }
 * assert.equal(seen, 64);
 * ```
 */
export class DataLoader implements AsyncIterable<Batch> {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly transform: Transform;
  readonly numWorkers: number;
  readonly prefetch: number;
  #epoch = 0;
  #resolved?: ResolvedSource;
  #inFlight = 0;

  constructor(dataset: Dataset, options: DataLoaderOptions = {}) {
    this.dataset = dataset;
    this.batchSize = options.batchSize ?? 1;
    this.shuffle = options.shuffle ?? false;
    this.seed = options.seed ?? 0;
    this.dropLast = options.dropLast ?? false;
    this.transform = options.transform ?? compose([]);
    this.numWorkers = options.numWorkers ?? Math.max(1, (navigator.hardwareConcurrency ?? 2) - 1);
    this.prefetch = options.prefetch ?? Math.max(2, 2 * this.numWorkers);
    if (!Number.isInteger(this.batchSize) || this.batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${this.batchSize}`);
    }
    if (!Number.isInteger(this.numWorkers) || this.numWorkers < 0) {
      throw new RangeError(`numWorkers must be 0 or more, got ${this.numWorkers}`);
    }
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length / this.batchSize;
    return this.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** Batches requested from workers and not yet handed to the consumer. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Workers running now, across all loaders (for leak checks). */
  static get liveWorkers(): number {
    return liveWorkers;
  }

  /** The loader indices of each batch of `epoch`, in order. */
  plan(epoch: number): number[][] {
    const order = Array.from({ length: this.dataset.length }, (_, i) => i);
    if (this.shuffle) new Rng(this.seed, epoch, 0x5ffe).shuffle(order);
    const batches: number[][] = [];
    for (let start = 0; start < order.length; start += this.batchSize) {
      const batch = order.slice(start, start + this.batchSize);
      if (batch.length < this.batchSize && this.dropLast) break;
      batches.push(batch);
    }
    return batches;
  }

  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.batches(this.#epoch++);
  }

  /** One epoch's batches, in order. */
  async *batches(epoch: number): AsyncGenerator<Batch> {
    this.#resolved ??= resolveSource(this.dataset, this.numWorkers > 0);
    const { source, indices } = this.#resolved;
    const requests: BatchRequest[] = this.plan(epoch).map((samples) => ({
      epoch,
      samples,
      sources: samples.map((i) => indices[i]),
    }));
    if (this.numWorkers === 0) {
      for (const request of requests) {
        yield await processBatch(source, this.transform, this.seed, request);
      }
      return;
    }
    const { name, options } = this.transform;
    const workers: Worker[] = [];
    const waiting = new Map<number, Pending>();
    const fail = (error: Error) => {
      for (const entry of waiting.values()) entry.reject(error);
    };
    try {
      for (let w = 0; w < Math.min(this.numWorkers, requests.length); w++) {
        const worker = new Worker(new URL("./_worker.ts", import.meta.url).href, {
          type: "module",
        });
        liveWorkers++;
        workers.push(worker);
        worker.onmessage = (event: MessageEvent) => {
          const entry = waiting.get(event.data.id);
          if (entry === undefined) return;
          if (event.data.type === "batch") entry.resolve(event.data.batch);
          else entry.reject(new Error(event.data.message));
        };
        worker.onerror = (event: ErrorEvent) => {
          event.preventDefault();
          fail(new Error(`loader worker failed: ${event.message}`));
        };
        worker.postMessage({ type: "init", source, transform: { name, options }, seed: this.seed });
      }
      let dispatched = 0;
      this.#inFlight = 0;
      for (let i = 0; i < requests.length; i++) {
        while (dispatched < requests.length && dispatched < i + this.prefetch) {
          waiting.set(dispatched, pending());
          workers[dispatched % workers.length].postMessage({
            type: "batch",
            id: dispatched,
            request: requests[dispatched],
          });
          dispatched++;
          this.#inFlight++;
        }
        const batch = await waiting.get(i)!.promise;
        waiting.delete(i);
        this.#inFlight--;
        yield batch;
      }
    } finally {
      for (const worker of workers) worker.terminate();
      liveWorkers -= workers.length;
      this.#inFlight = 0;
    }
  }
}
