/**
 * Samplers: which loader indices an epoch visits, in which order. `WeightedRandomSampler` has
 * PyTorch's semantics (one weight per sample, `torch.multinomial` draws with or without
 * replacement); `classBalancedSampler` builds one for imbalanced labels (oversample the rare
 * classes, or undersample the common ones). An epoch's indices are a pure function of
 * (seed, epoch), so any worker count and a resumed run see the same batches.
 *
 * @module
 */
import { Rng } from "../_internal/rng.ts";

/** Chooses the loader indices of each epoch, deterministically from (seed, epoch). */
export interface Sampler {
  /** Indices per epoch. */
  readonly length: number;
  /** The indices `epoch` visits, in order (the same for the same seed and epoch). */
  indices(epoch: number): number[];
}

/** A sampler's settings was out of range (weights, sample count). */
export class SamplerError extends RangeError {
  /** Always `SamplerError`. */
  override name = "SamplerError";
}

/** Options for {@linkcode WeightedRandomSampler}. */
export interface WeightedRandomSamplerOptions {
  /** Indices per epoch. Default: the number of weights. */
  numSamples?: number;
  /**
   * Independent draws proportional to the weights (`true`), or sequential draws that remove each
   * drawn index (`false`, at most as many samples as positive weights). Default: true.
   */
  replacement?: boolean;
  /** Seeds the draws (mixed with the epoch). Default: 0. */
  seed?: number;
}

/**
 * PyTorch's `WeightedRandomSampler`: `numSamples` indices drawn from `weights` (need not sum to
 * one) as `torch.multinomial` does, reseeded from (seed, epoch) every epoch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WeightedRandomSampler } from "./sampler.ts";
 * const sampler = new WeightedRandomSampler([0, 1, 3], { numSamples: 8, seed: 1 });
 * const epoch0 = sampler.indices(0);
 * assert.equal(epoch0.length, 8);
 * assert.ok(!epoch0.includes(0)); // weight 0 is never drawn
 * assert.deepEqual(sampler.indices(0), epoch0); // a pure function of (seed, epoch)
 * ```
 */
export class WeightedRandomSampler implements Sampler {
  /** The weight of each index. */
  readonly weights: readonly number[];
  /** Indices per epoch. */
  readonly length: number;
  /** Whether draws put the index back. */
  readonly replacement: boolean;
  /** Seed of the draws. */
  readonly seed: number;
  readonly #cumulative: Float64Array;

  /** A sampler over `weights`; see {@linkcode WeightedRandomSamplerOptions} for the defaults. */
  constructor(weights: readonly number[], options: WeightedRandomSamplerOptions = {}) {
    this.weights = [...weights];
    this.length = options.numSamples ?? weights.length;
    this.replacement = options.replacement ?? true;
    this.seed = options.seed ?? 0;
    if (!Number.isInteger(this.length) || this.length < 0) {
      throw new SamplerError(`numSamples must be a non-negative integer, got ${this.length}`);
    }
    let positive = 0;
    this.#cumulative = new Float64Array(weights.length);
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      const w = weights[i];
      if (!Number.isFinite(w) || w < 0) {
        throw new SamplerError(`weights must be finite and non-negative, got ${w} at index ${i}`);
      }
      if (w > 0) positive++;
      total += w;
      this.#cumulative[i] = total;
    }
    if (this.length > 0 && positive === 0) {
      throw new SamplerError(`weights must have a positive entry, got ${weights.length} zeros`);
    }
    if (!this.replacement && this.length > positive) {
      throw new SamplerError(
        `cannot draw ${this.length} samples without replacement from ${positive} positive weights`,
      );
    }
  }

  /** The indices of `epoch`. */
  indices(epoch: number): number[] {
    const rng = new Rng(this.seed, epoch, 0x5a3b);
    return this.replacement ? this.#withReplacement(rng) : this.#withoutReplacement(rng);
  }

  #withReplacement(rng: Rng): number[] {
    const cumulative = this.#cumulative;
    const total = cumulative[cumulative.length - 1];
    const out = new Array<number>(this.length);
    for (let s = 0; s < this.length; s++) {
      const target = rng.next() * total;
      // First index whose cumulative weight exceeds the target (zero weights never do).
      let low = 0;
      let high = cumulative.length - 1;
      while (low < high) {
        const mid = (low + high) >>> 1;
        if (cumulative[mid] > target) high = mid;
        else low = mid + 1;
      }
      out[s] = low;
    }
    return out;
  }

  /**
   * Sequential draws without replacement, as exponential races (Efraimidis–Spirakis): index i
   * gets the key E_i / w_i with E_i ~ Exp(1); sorting by key gives the draw order, which has
   * exactly the distribution of drawing proportional to the remaining weights, one at a time.
   */
  #withoutReplacement(rng: Rng): number[] {
    const keyed: { index: number; key: number }[] = [];
    for (let i = 0; i < this.weights.length; i++) {
      const w = this.weights[i];
      const e = -Math.log(1 - rng.next()); // Exp(1); drawn for every index so order is stable
      if (w > 0) keyed.push({ index: i, key: e / w });
    }
    keyed.sort((a, b) => a.key - b.key || a.index - b.index);
    return keyed.slice(0, this.length).map((k) => k.index);
  }
}

/** How {@linkcode classBalancedSampler} balances the classes. */
export type BalanceMode = "oversample" | "undersample";

/** Options for {@linkcode classBalancedSampler}. */
export interface ClassBalancedOptions {
  /**
   * `oversample`: every sample weighted by 1 / its class's count, drawn with replacement, as
   * many as the dataset holds (each class expected equally often). `undersample`: each epoch
   * takes as many samples of every class as the rarest has, without replacement, shuffled.
   * Default: `oversample`.
   */
  mode?: BalanceMode;
  /** Seeds the draws. Default: 0. */
  seed?: number;
}

/**
 * Samples per class of `labels` (length: the largest label + 1, or `numClasses` if larger).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classCounts } from "./sampler.ts";
 * assert.deepEqual(classCounts([0, 2, 2], 4), [1, 0, 2, 0]);
 * ```
 */
export function classCounts(labels: ArrayLike<number>, numClasses?: number): number[] {
  let k = numClasses ?? 0;
  for (let i = 0; i < labels.length; i++) k = Math.max(k, labels[i] + 1);
  const counts = new Array<number>(k).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}

/**
 * A sampler that sees every class about equally often, from the label of each loader index.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { classBalancedSampler, classCounts } from "./sampler.ts";
 * const labels = [0, 0, 0, 0, 0, 0, 1, 1];
 * const under = classBalancedSampler(labels, { mode: "undersample", seed: 3 });
 * assert.deepEqual(classCounts(under.indices(0).map((i) => labels[i])), [2, 2]);
 * const over = classBalancedSampler(labels, { mode: "oversample" });
 * assert.equal(over.length, 8);
 * ```
 */
export function classBalancedSampler(
  labels: ArrayLike<number>,
  options: ClassBalancedOptions = {},
): Sampler {
  const seed = options.seed ?? 0;
  const counts = classCounts(labels);
  if (options.mode === "undersample") return new UndersampleSampler(labels, counts, seed);
  const weights = Array.from(labels, (label) => 1 / counts[label]);
  return new WeightedRandomSampler(weights, { numSamples: labels.length, seed });
}

/** `undersample` of {@linkcode classBalancedSampler}. */
class UndersampleSampler implements Sampler {
  readonly length: number;
  readonly #byClass: number[][];
  readonly #take: number;
  readonly #seed: number;

  constructor(labels: ArrayLike<number>, counts: number[], seed: number) {
    this.#byClass = counts.map(() => []);
    for (let i = 0; i < labels.length; i++) this.#byClass[labels[i]].push(i);
    const present = this.#byClass.filter((members) => members.length > 0);
    this.#take = present.length > 0 ? Math.min(...present.map((m) => m.length)) : 0;
    this.length = this.#take * present.length;
    this.#seed = seed;
  }

  indices(epoch: number): number[] {
    const rng = new Rng(this.#seed, epoch, 0x0dd5);
    const out: number[] = [];
    for (const members of this.#byClass) {
      if (members.length === 0) continue;
      out.push(...rng.shuffle([...members]).slice(0, this.#take));
    }
    return rng.shuffle(out);
  }
}

/**
 * Inverse-frequency class weights `N / (K · n_c)` (scikit-learn's `class_weight="balanced"`): 1
 * for every class when balanced; a class without samples gets 0. For a class-weighted loss.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inverseFrequencyWeights } from "./sampler.ts";
 * assert.deepEqual(inverseFrequencyWeights([90, 10]), [100 / 180, 100 / 20]);
 * ```
 */
export function inverseFrequencyWeights(counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  const present = counts.filter((n) => n > 0).length;
  return counts.map((n) => (n > 0 ? total / (present * n) : 0));
}
