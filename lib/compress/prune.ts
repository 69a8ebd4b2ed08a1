/**
 * Magnitude pruning (unstructured): the smallest weights of the kernels are set to zero, globally
 * or per layer, to a target sparsity reached on a cubic schedule over epochs, with the masks
 * re-applied after every optimizer step so that momentum cannot regrow them (as TF Model
 * Optimization's `prune_low_magnitude` and `torch.nn.utils.prune` do).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import type { Callbacks } from "../train/mod.ts";

/** A pruning setting that cannot work; the message names it. */
export class PruningError extends Error {
  /** Always `PruningError`. */
  override name = "PruningError";
}

/** Options for {@linkcode cubicSparsity}. */
export interface SparsityScheduleOptions {
  /** Sparsity to reach, in [0, 1). */
  target: number;
  /** Sparsity at `beginEpoch`. Default: 0. */
  initial?: number;
  /** Epoch at which pruning starts. Default: 0. */
  beginEpoch?: number;
  /** Epoch from which the sparsity is `target`. */
  endEpoch: number;
}

/**
 * The sparsity at `epoch` on the cubic schedule of Zhu & Gupta (2017), TF MOT's
 * `PolynomialDecay(power=3)`: s = target + (initial − target)·(1 − progress)³.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cubicSparsity } from "./prune.ts";
 * assert.equal(cubicSparsity(0, { target: 0.8, endEpoch: 4 }), 0);
 * assert.equal(cubicSparsity(2, { target: 0.8, endEpoch: 4 }), 0.8 - 0.8 / 8);
 * assert.equal(cubicSparsity(9, { target: 0.8, endEpoch: 4 }), 0.8);
 * ```
 */
export function cubicSparsity(epoch: number, options: SparsityScheduleOptions): number {
  const initial = options.initial ?? 0;
  const begin = options.beginEpoch ?? 0;
  const span = options.endEpoch - begin;
  const progress = span <= 0 ? 1 : Math.min(1, Math.max(0, (epoch - begin) / span));
  return options.target + (initial - options.target) * (1 - progress) ** 3;
}

/**
 * The variables magnitude pruning works on: every kernel (convolutions, dense layers).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { prunableVariables } from "./prune.ts";
 * await useBackend("cpu");
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 2 })] });
 * assert.deepEqual(prunableVariables(model).map((v) => v.shape), [[4, 2]]); // not the bias
 * model.dispose();
 * ```
 */
export function prunableVariables(model: LayersModel): tf.Variable[] {
  const out: tf.Variable[] = [];
  const seen = new Set<string>();
  for (const weight of model.weights) {
    const variable = weight.read() as tf.Variable;
    if (seen.has(variable.name) || variable.rank < 2 || !/kernel/.test(weight.name)) continue;
    seen.add(variable.name);
    out.push(variable);
  }
  return out;
}

/**
 * The fraction of zeros over the prunable kernels of `model` (or of the given variables).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { sparsityOf } from "./prune.ts";
 * await useBackend("cpu");
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 2 })] });
 * assert.equal(sparsityOf(model), 0);
 * model.dispose();
 * ```
 */
export function sparsityOf(model: LayersModel): number {
  let zeros = 0, total = 0;
  for (const variable of prunableVariables(model)) {
    const values = variable.dataSync();
    total += values.length;
    for (let i = 0; i < values.length; i++) if (values[i] === 0) zeros++;
  }
  return total === 0 ? 0 : zeros / total;
}

/** Options for {@linkcode MagnitudePruner}. */
export interface MagnitudePruningOptions {
  /** Final sparsity, in [0, 1). */
  sparsity: number;
  /** One threshold over all kernels (`global`, the default) or one per kernel (`layer`). */
  scope?: "global" | "layer";
  /** Epochs of the run: the target is reached at the last one. */
  epochs: number;
  /** Epoch at which pruning starts. Default: 0. */
  beginEpoch?: number;
  /** Epoch from which the sparsity is the target. Default: `epochs − 1`. */
  endEpoch?: number;
}

/**
 * Prunes a model's kernels by magnitude while it trains: {@linkcode MagnitudePruner.callbacks}
 * go into `fit` (new masks at each epoch, masks re-applied after every step).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { MagnitudePruner, sparsityOf } from "./prune.ts";
 * await useBackend("cpu");
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [8], units: 8 })] });
 * const pruner = new MagnitudePruner(model, { sparsity: 0.5, epochs: 1 });
 * pruner.update(0.5);
 * assert.equal(sparsityOf(model), 0.5);
 * pruner.dispose();
 * model.dispose();
 * ```
 */
export class MagnitudePruner {
  readonly #variables: tf.Variable[];
  readonly #options: MagnitudePruningOptions;
  #masks: tf.Tensor[] = [];
  #maskEpoch = -1;
  /** The sparsity of the current masks. */
  current = 0;

  /** Prunes the kernels of `model`. */
  constructor(model: LayersModel, options: MagnitudePruningOptions) {
    if (!(options.sparsity >= 0 && options.sparsity < 1)) {
      throw new PruningError(`pruning sparsity must be in [0, 1), got ${options.sparsity}`);
    }
    this.#variables = prunableVariables(model);
    if (this.#variables.length === 0) throw new PruningError("the model has no kernels to prune");
    this.#options = options;
  }

  /** The scheduled sparsity of `epoch`. */
  sparsityAt(epoch: number): number {
    const end = this.#options.endEpoch ?? Math.max(0, this.#options.epochs - 1);
    return cubicSparsity(epoch, {
      target: this.#options.sparsity,
      beginEpoch: this.#options.beginEpoch,
      endEpoch: end,
    });
  }

  /** New masks zeroing the smallest weights to `sparsity`, applied at once. */
  update(sparsity: number): void {
    tf.dispose(this.#masks);
    const values = this.#variables.map((v) => v.dataSync() as Float32Array);
    const thresholdOf = (arrays: Float32Array[]) => {
      const total = arrays.reduce((n, a) => n + a.length, 0);
      const k = Math.floor(sparsity * total);
      if (k === 0) return -1;
      const all = new Float32Array(total);
      let offset = 0;
      for (const a of arrays) {
        for (let i = 0; i < a.length; i++) all[offset + i] = Math.abs(a[i]);
        offset += a.length;
      }
      return all.sort()[k - 1];
    };
    const global = this.#options.scope !== "layer" ? thresholdOf(values) : 0;
    this.#masks = this.#variables.map((variable, i) => {
      const threshold = this.#options.scope === "layer" ? thresholdOf([values[i]]) : global;
      const mask = new Float32Array(values[i].length);
      for (let j = 0; j < mask.length; j++) mask[j] = Math.abs(values[i][j]) > threshold ? 1 : 0;
      return tf.keep(tf.tensor(mask, variable.shape));
    });
    this.current = sparsity;
    this.apply();
  }

  /** Multiplies each kernel by its mask (after every optimizer step). */
  apply(): void {
    tf.tidy(() => {
      for (const [i, mask] of this.#masks.entries()) {
        this.#variables[i].assign(tf.mul(this.#variables[i], mask));
      }
    });
  }

  /** Sets the final masks (the target sparsity), e.g. after restoring a best epoch's weights. */
  finish(): void {
    this.update(this.#options.sparsity);
  }

  /** Hooks for `fit`: the epoch's masks at its start, re-applied after each step. */
  callbacks(): Required<Pick<Callbacks, "onEpochBegin" | "onBatchEnd">> {
    const ensure = (epoch: number) => {
      if (this.#maskEpoch === epoch) return;
      this.#maskEpoch = epoch;
      this.update(this.sparsityAt(epoch));
    };
    return {
      onEpochBegin: (epoch) => ensure(epoch),
      onBatchEnd: (epoch) => {
        ensure(epoch); // a run resumed mid-epoch has no onEpochBegin
        this.apply();
      },
    };
  }

  /** Frees the masks. */
  dispose(): void {
    tf.dispose(this.#masks);
    this.#masks = [];
  }
}

/**
 * One set of callbacks that calls each given set's hooks in order (and stops when one says so).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeCallbacks } from "./prune.ts";
 * const seen: string[] = [];
 * const merged = mergeCallbacks(
 *   { onBatchEnd: () => void seen.push("a") },
 *   undefined,
 *   { onBatchEnd: () => void seen.push("b") },
 * );
 * merged.onBatchEnd?.(0, 0);
 * assert.deepEqual(seen, ["a", "b"]);
 * ```
 */
export function mergeCallbacks(...sets: (Callbacks | undefined)[]): Callbacks {
  const present = sets.filter((s): s is Callbacks => s !== undefined);
  return {
    onEpochBegin: async (epoch) => {
      for (const s of present) await s.onEpochBegin?.(epoch);
    },
    onStep: async (info) => {
      for (const s of present) await s.onStep?.(info);
    },
    onBatchEnd: (epoch, step) => {
      for (const s of present) s.onBatchEnd?.(epoch, step);
    },
    onEpochEnd: async (log, progress) => {
      let verdict: void | "stop" = undefined;
      for (const s of present) {
        if ((await s.onEpochEnd?.(log, progress)) === "stop") verdict = "stop";
      }
      return verdict;
    },
  };
}
