/**
 * Micro-batching: items submitted within a short wait run as one batch.
 *
 * @module
 */

/** Options for {@linkcode MicroBatcher}. */
export interface MicroBatcherOptions<In, Out> {
  /** Runs one batch; returns one output per input, in order. */
  process: (items: In[]) => Promise<Out[]>;
  /** The most items in one batch. Default: 16. */
  maxBatch?: number;
  /** How long the first item of a batch waits for others, in milliseconds. Default: 5. */
  maxWaitMs?: number;
  /** Hears of each batch's size as it starts. */
  onBatch?: (size: number) => void;
}

interface Pending<In, Out> {
  item: In;
  resolve: (out: Out) => void;
  reject: (error: unknown) => void;
}

/**
 * Collects submitted items and runs them through `process` in batches: a batch starts when it
 * holds `maxBatch` items or its first item has waited `maxWaitMs`; one batch runs at a time, and
 * items that arrive meanwhile form the next one as soon as it ends.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MicroBatcher } from "./batcher.ts";
 * const sizes: number[] = [];
 * const batcher = new MicroBatcher({
 *   process: (xs: number[]) => Promise.resolve(xs.map((x) => x * 2)),
 *   maxBatch: 4,
 *   maxWaitMs: 10,
 *   onBatch: (size) => sizes.push(size),
 * });
 * const outs = await Promise.all([1, 2, 3].map((x) => batcher.submit(x)));
 * assert.deepEqual(outs, [2, 4, 6]);
 * assert.deepEqual(sizes, [3]);
 * ```
 */
export class MicroBatcher<In, Out> {
  readonly #process: (items: In[]) => Promise<Out[]>;
  readonly #maxBatch: number;
  readonly #maxWaitMs: number;
  readonly #onBatch?: (size: number) => void;
  #queue: Pending<In, Out>[] = [];
  #timer?: ReturnType<typeof setTimeout>;
  #running?: Promise<void>;

  /** Creates a batcher; nothing runs until an item is submitted. */
  constructor(options: MicroBatcherOptions<In, Out>) {
    this.#process = options.process;
    this.#maxBatch = Math.max(1, options.maxBatch ?? 16);
    this.#maxWaitMs = Math.max(0, options.maxWaitMs ?? 5);
    this.#onBatch = options.onBatch;
  }

  /** Items waiting for a batch (not counting the one running). */
  get pending(): number {
    return this.#queue.length;
  }

  /** Queues one item; resolves with its output once its batch has run. */
  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#queue.length >= this.#maxBatch) this.#start();
      else if (this.#timer === undefined && this.#running === undefined) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#start();
        }, this.#maxWaitMs);
      }
    });
  }

  /** Runs what is queued now, without waiting; resolves when every queued item has run. */
  async flush(): Promise<void> {
    this.#start();
    while (this.#running !== undefined) await this.#running;
  }

  #start(): void {
    if (this.#running !== undefined || this.#queue.length === 0) return;
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = this.#queue.splice(0, this.#maxBatch);
    this.#running = this.#run(batch).finally(() => {
      this.#running = undefined;
      // Items that came in while this batch ran have waited at least as long: run them now.
      this.#start();
    });
  }

  async #run(batch: Pending<In, Out>[]): Promise<void> {
    this.#onBatch?.(batch.length);
    try {
      const outs = await this.#process(batch.map((p) => p.item));
      if (outs.length !== batch.length) {
        throw new Error(`batch of ${batch.length} gave ${outs.length} outputs`);
      }
      batch.forEach((p, i) => p.resolve(outs[i]));
    } catch (error) {
      for (const p of batch) p.reject(error);
    }
  }
}
