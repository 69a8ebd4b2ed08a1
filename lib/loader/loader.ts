/**
 * `DataLoader`: seeded per-epoch shuffling, batches in order, read → decode → transform on a pool
 * of Deno Web Workers with transferred buffers and a bounded prefetch queue.
 *
 * @module
 */
import type { Dataset } from "../datasets/types.ts";
import { compose, transformFromSpec } from "../transforms/compose.ts";
import type { Transform } from "../transforms/types.ts";
import {
  badSample,
  type Batch,
  type BatchRequest,
  loadSample,
  processBatch,
  type ProcessedBatch,
  type SkippedSample,
} from "./_process.ts";
import {
  type CachedSample,
  type CacheOptions,
  cachePaths,
  CacheWriter,
  openCache,
} from "./cache.ts";
import { closeFiles } from "./_read_files.ts";
import {
  batchCount,
  type BatchLoader,
  checkBatchOptions,
  planEpoch,
  repeatCounts,
} from "./batch_loader.ts";
import type { Sampler } from "./sampler.ts";
import {
  type FileSource,
  type ResolvedSource,
  resolveSource,
  type SampleSource,
} from "./source.ts";

export type { Batch, SkippedSample } from "./_process.ts";

/** Options for {@linkcode DataLoader}. */
export interface DataLoaderOptions {
  /** Samples per batch. Default: 1, like PyTorch. */
  batchSize?: number;
  /** Reshuffle every epoch, seeded by (seed, epoch). Default: false. */
  shuffle?: boolean;
  /** Seeds the shuffle and every random transform. Default: 0. */
  seed?: number;
  /**
   * Chooses each epoch's indices instead of the (shuffled) order, e.g. a
   * `WeightedRandomSampler`; exclusive with `shuffle`, as in PyTorch. Default: none.
   */
  sampler?: Sampler;
  /** Drop the last, smaller batch. Default: false. */
  dropLast?: boolean;
  /** Applied to each sample; its output size must be the same for every sample. */
  transform?: Transform;
  /**
   * Worker count; 0 loads on the calling thread. Default: CPU cores − 1, at least 1. Workers
   * rebuild `transform` from its spec, so a custom transform needs 0.
   */
  numWorkers?: number;
  /** Most batches requested but not yet consumed. Default: 2 per worker (2 inline). */
  prefetch?: number;
  /**
   * Decoded-sample cache for image folders: the first epoch stores decoded (and optionally
   * resized) pixels under `data/cache/`, later epochs read them back. `true` uses the defaults.
   */
  cache?: boolean | CacheOptions;
  /**
   * Keep the workers (and their warmed-up JIT) between epochs, like PyTorch's
   * `persistent_workers`; they stop on `close()`, on `using` disposal, or when a loop breaks or
   * throws. Default: false (workers stop at the end of every epoch).
   */
  persistentWorkers?: boolean;
  /**
   * Leave a sample whose file cannot be read or decoded out of its batch, with one warning line
   * naming the file and the problem, instead of failing the epoch. Default: true (false is
   * ImageFolder's `strict` for files that looked fine when the folder was scanned).
   */
  skipBadSamples?: boolean;
  /** Where skipped-sample warnings go, once per sample. Default: `console.warn`. */
  onWarning?: (line: string) => void;
}

let liveWorkers = 0;

interface Pending {
  promise: Promise<ProcessedBatch>;
  resolve(result: ProcessedBatch): void;
  reject(error: Error): void;
}

function pending(): Pending {
  let resolve!: (result: ProcessedBatch) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<ProcessedBatch>((res, rej) => [resolve, reject] = [res, rej]);
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
export class DataLoader implements BatchLoader {
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
  /** Worker count (0: inline). */
  readonly numWorkers: number;
  /** Most batches requested ahead of the consumer. */
  readonly prefetch: number;
  /** The decoded-sample cache's settings, if on. */
  readonly cache: CacheOptions | undefined;
  /** Whether workers live across epochs. */
  readonly persistentWorkers: boolean;
  /** Whether bad files are skipped (see {@linkcode DataLoaderOptions.skipBadSamples}). */
  readonly skipBadSamples: boolean;
  readonly #warn: (line: string) => void;
  readonly #skipped = new Map<number, SkippedSample>();
  /** Samples already reported as decoded with warnings (each once, like skipped ones). */
  readonly #decodeWarned = new Set<number>();
  #epoch = 0;
  #pool: WorkerPool | undefined;
  #cacheUnwritable = false;
  #resolved?: ResolvedSource;
  #inFlight = 0;

  /** A loader over `dataset`; see {@linkcode DataLoaderOptions} for the defaults. */
  constructor(dataset: Dataset, options: DataLoaderOptions = {}) {
    this.dataset = dataset;
    this.batchSize = options.batchSize ?? 1;
    this.shuffle = options.shuffle ?? false;
    this.seed = options.seed ?? 0;
    this.sampler = options.sampler;
    this.dropLast = options.dropLast ?? false;
    this.transform = options.transform ?? compose([]);
    this.numWorkers = options.numWorkers ?? Math.max(1, (navigator.hardwareConcurrency ?? 2) - 1);
    this.prefetch = options.prefetch ?? Math.max(2, 2 * this.numWorkers);
    this.cache = options.cache === true ? {} : options.cache || undefined;
    this.persistentWorkers = options.persistentWorkers ?? false;
    this.skipBadSamples = options.skipBadSamples ?? true;
    this.#warn = options.onWarning ?? ((line) => console.warn(line));
    checkBatchOptions(this);
    if (!Number.isInteger(this.numWorkers) || this.numWorkers < 0) {
      throw new RangeError(`numWorkers must be 0 or more, got ${this.numWorkers}`);
    }
    if (this.numWorkers > 0 && options.transform !== undefined) {
      // Workers rebuild the transform from its spec: say now, not at the first batch, when a
      // step is one no factory knows.
      try {
        transformFromSpec(options.transform);
      } catch (error) {
        if (!(error instanceof RangeError)) throw error;
        throw new RangeError(
          `transform: ${error.message.split(";")[0]}: workers rebuild only the library's ` +
            `transforms from their specs; load a custom transform with numWorkers: 0`,
        );
      }
    }
  }

  /** Batches per epoch. */
  get length(): number {
    return batchCount(this.sampler?.length ?? this.dataset.length, this.batchSize, this.dropLast);
  }

  /** Batches requested from workers and not yet handed to the consumer. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Samples left out so far because their file was bad, by loader index. */
  get skippedSamples(): SkippedSample[] {
    return [...this.#skipped.values()];
  }

  /** Workers running now, across all loaders (for leak checks). */
  static get liveWorkers(): number {
    return liveWorkers;
  }

  /** The loader indices of each batch of `epoch`, in order. */
  plan(epoch: number): number[][] {
    return planEpoch(this.dataset.length, epoch, this);
  }

  /** The next epoch's batches (`for await` counts epochs from 0). */
  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return this.batches(this.#epoch++);
  }

  /**
   * One epoch's batches, in order; `skip` leaves out the first batches (to resume mid-epoch: the
   * rest are the same batches, with the same augmentation, as in an uninterrupted epoch).
   */
  async *batches(epoch: number, { skip = 0 }: { skip?: number } = {}): AsyncGenerator<Batch> {
    this.#resolved ??= resolveSource(this.dataset, this.numWorkers > 0);
    const { indices } = this.#resolved;
    let source: SampleSource = this.#resolved.source;
    let writer: CacheWriter | undefined;
    if (this.cache !== undefined && source.kind === "files" && !this.#cacheUnwritable) {
      const files: FileSource = { ...source, shorterSide: this.cache.shorterSide };
      // The key stats every file: computed once for the lookup and, on a miss, the build.
      const paths = await cachePaths(files, this.cache);
      const packed = await openCache(files, this.cache, paths);
      source = packed ?? files;
      if (packed === null) {
        try {
          writer = await CacheWriter.create(files, this.cache, paths);
        } catch (error) {
          this.#disableCache(error);
        }
      }
    }
    const plan = this.plan(epoch);
    const draws = this.sampler === undefined ? undefined : repeatCounts(plan);
    const requests: BatchRequest[] = plan.slice(skip).map((samples, b) => ({
      epoch,
      samples,
      ...(draws === undefined ? {} : { draws: draws[skip + b] }),
      sources: samples.map((i) => indices[i]),
      collect: writer !== undefined,
      skipBad: this.skipBadSamples,
    }));
    // Cache writes run behind the batches: the consumer never waits on the disk.
    let writes = Promise.resolve();
    const store = (samples: CachedSample[]) => {
      writes = writes.then(async () => {
        if (writer === undefined) return;
        for (const sample of samples) {
          if (!await this.#cacheStep(writer, () => writer!.add(sample))) {
            writer = undefined;
            return;
          }
        }
      });
    };
    const results = this.numWorkers === 0
      ? this.#inline(source, requests)
      : this.#inWorkers(source, requests);
    let finished = false;
    try {
      for await (const { batch, cached } of results) {
        if (cached) store(cached);
        for (const sample of batch.skipped ?? []) {
          if (this.#skipped.has(sample.index)) continue;
          this.#skipped.set(sample.index, sample);
          this.#warn(`warning: skipping ${sample.message}`);
        }
        for (const sample of batch.decodeWarnings ?? []) {
          if (this.#decodeWarned.has(sample.index)) continue;
          this.#decodeWarned.add(sample.index);
          this.#warn(`warning: ${sample.message}`);
        }
        yield batch;
      }
      await writes;
      if (writer !== undefined) await this.#completeCache(writer);
      finished = true;
    } finally {
      if (!finished) {
        await writes;
        await writer?.abort();
      }
    }
  }

  /** Adds samples the epoch never touched (dropLast, subsets), then puts the cache in place. */
  async #completeCache(writer: CacheWriter) {
    const { source } = writer;
    try {
      for (let index = 0; index < source.files.length; index++) {
        if (writer.has(index)) continue;
        let sample: CachedSample;
        try {
          sample = { index, ...await loadSample(source, index) };
        } catch (error) {
          // A bad file the epoch never touched: cache it as bad; its batch will skip it.
          if (!(error instanceof Error) || !this.skipBadSamples) throw error;
          sample = badSample(index, error.message);
        }
        if (!await this.#cacheStep(writer, () => writer.add(sample))) return;
      }
      await this.#cacheStep(writer, () => writer.finish());
    } catch (error) {
      await writer.abort();
      throw error;
    } finally {
      closeFiles();
    }
  }

  /** Runs one cache write; a failure turns the cache off (with a warning), never the epoch. */
  async #cacheStep(writer: CacheWriter, step: () => Promise<void>): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (error) {
      await writer.abort();
      this.#disableCache(error);
      return false;
    }
  }

  /** The cache only saves time: say why it is off, in one line, and keep going without it. */
  #disableCache(error: unknown) {
    this.#cacheUnwritable = true;
    const dir = this.cache?.dir ?? "data/cache";
    const denied = error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.PermissionDenied;
    console.warn(
      denied
        ? `warning: the decoded-sample cache is off: writing ${dir} was refused; allow it with ` +
          `--allow-write=${dir}`
        : `warning: the decoded-sample cache is off: ${
          error instanceof Error ? error.message : error
        }`,
    );
  }

  async *#inline(source: SampleSource, requests: BatchRequest[]): AsyncGenerator<ProcessedBatch> {
    try {
      for (const request of requests) {
        yield await processBatch(source, this.transform, this.seed, request);
      }
    } finally {
      closeFiles();
    }
  }

  async *#inWorkers(
    source: SampleSource,
    requests: BatchRequest[],
  ): AsyncGenerator<ProcessedBatch> {
    const size = Math.min(this.numWorkers, requests.length);
    if (this.#pool === undefined || this.#pool.size < size) {
      this.#pool?.terminate();
      this.#pool = new WorkerPool(this.persistentWorkers ? this.numWorkers : size);
    }
    const pool = this.#pool;
    const { name, options } = this.transform;
    pool.init({ type: "init", source, transform: { name, options }, seed: this.seed });
    let completed = false;
    try {
      const ids: number[] = [];
      this.#inFlight = 0;
      for (let i = 0; i < requests.length; i++) {
        while (ids.length < requests.length && ids.length < i + this.prefetch) {
          ids.push(pool.dispatch(ids.length, requests[ids.length]));
          this.#inFlight++;
        }
        const result = await pool.result(ids[i]);
        this.#inFlight--;
        yield result;
      }
      completed = true;
    } finally {
      this.#inFlight = 0;
      if (!completed || !this.persistentWorkers) this.close();
    }
  }

  /** Stops the workers now (they also stop by themselves unless `persistentWorkers` is set). */
  close(): void {
    this.#pool?.terminate();
    this.#pool = undefined;
  }

  /** `using loader = new DataLoader(…)` closes it at the end of the scope. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** Workers with request ids and results; a request goes to worker (sequence mod size). */
class WorkerPool {
  readonly #workers: Worker[] = [];
  readonly #waiting = new Map<number, Pending>();
  #nextId = 0;

  constructor(size: number) {
    for (let w = 0; w < size; w++) {
      const worker = new Worker(new URL("./_worker.ts", import.meta.url).href, { type: "module" });
      liveWorkers++;
      this.#workers.push(worker);
      worker.onmessage = (event: MessageEvent) => {
        const entry = this.#waiting.get(event.data.id);
        if (entry === undefined) return;
        if (event.data.type === "batch") {
          entry.resolve({ batch: event.data.batch, cached: event.data.cached });
        } else {
          entry.reject(new Error(event.data.message));
        }
      };
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        const error = new Error(`loader worker failed: ${event.message}`);
        for (const entry of this.#waiting.values()) entry.reject(error);
      };
    }
  }

  get size(): number {
    return this.#workers.length;
  }

  /** Sends the epoch's source and transform to every worker. */
  init(message: unknown): void {
    for (const worker of this.#workers) worker.postMessage(message);
  }

  /** Queues request number `sequence` of the epoch; returns its id. */
  dispatch(sequence: number, request: BatchRequest): number {
    const id = this.#nextId++;
    this.#waiting.set(id, pending());
    this.#workers[sequence % this.#workers.length].postMessage({ type: "batch", id, request });
    return id;
  }

  async result(id: number): Promise<ProcessedBatch> {
    try {
      return await this.#waiting.get(id)!.promise;
    } finally {
      this.#waiting.delete(id);
    }
  }

  terminate(): void {
    for (const worker of this.#workers) worker.terminate();
    liveWorkers -= this.#workers.length;
    this.#workers.length = 0;
    for (const entry of this.#waiting.values()) entry.reject(new Error("loader closed"));
    this.#waiting.clear();
  }
}
