/**
 * Optimizers with PyTorch's semantics: SGD (momentum, Nesterov, L2 weight decay), Adam (L2 weight
 * decay), AdamW (decoupled weight decay), and a learning rate that schedules can change.
 *
 * @module
 */
import { LeanAdamOptimizer } from "./_adam.ts";
import * as tf from "@tensorflow/tfjs-core";

/** The optimizers by name. */
export type OptimizerName = "sgd" | "adam" | "adamw";

/** Options for {@linkcode createOptimizer}; defaults are PyTorch's. */
export interface OptimizerOptions {
  /** `sgd`, `adam` or `adamw`. */
  name: OptimizerName;
  /** Learning rate. */
  lr: number;
  /** SGD momentum. Default: 0. */
  momentum?: number;
  /** Nesterov momentum for SGD. Default: false. */
  nesterov?: boolean;
  /** L2 penalty (SGD, Adam) or decoupled decay (AdamW). Default: 0 (AdamW: 0.01). */
  weightDecay?: number;
  /** Adam's β1, β2. Default: [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Adam's ε. Default: 1e-8. */
  eps?: number;
}

/** A set of variables trained at a fraction of the learning rate, like a PyTorch param group. */
export interface ParamGroup {
  /** Variable names in the group. */
  names: string[];
  /** Learning-rate multiplier of the group. */
  lrScale: number;
}

interface Group extends ParamGroup {
  inner: tf.Optimizer;
  members: Set<string>;
}

/**
 * An optimizer over named variables whose learning rate can change between steps. Variables in
 * a {@linkcode ParamGroup} (see `addParamGroup`) get their own state and a scaled learning rate,
 * so a backbone unfrozen mid-run can train ten times slower than the head.
 */
export class Optimizer {
  /** The options with PyTorch's defaults filled in. */
  readonly options: Required<OptimizerOptions>;
  /** The tfjs optimizer updating the variables outside any param group. */
  readonly inner: tf.Optimizer;
  readonly #groups: Group[] = [];
  #lr: number;

  /** Creates the optimizer; prefer {@linkcode createOptimizer}. */
  constructor(options: OptimizerOptions) {
    this.options = {
      momentum: 0,
      nesterov: false,
      weightDecay: options.name === "adamw" ? 0.01 : 0,
      betas: [0.9, 0.999],
      eps: 1e-8,
      ...options,
    };
    if (!["sgd", "adam", "adamw"].includes(this.options.name)) {
      throw new RangeError(`unknown optimizer '${this.options.name}': expected sgd, adam or adamw`);
    }
    this.#lr = this.options.lr;
    this.inner = this.#createInner(this.#lr);
  }

  #createInner(lr: number): tf.Optimizer {
    const { name, momentum, nesterov, betas, eps } = this.options;
    if (name === "sgd") {
      return momentum > 0 ? tf.train.momentum(lr, momentum, nesterov) : tf.train.sgd(lr);
    }
    return new LeanAdamOptimizer(lr, betas[0], betas[1], eps);
  }

  /** The current learning rate (of variables outside param groups). */
  get lr(): number {
    return this.#lr;
  }

  set lr(value: number) {
    this.#lr = value;
    setLearningRate(this.inner, value);
    for (const group of this.#groups) setLearningRate(group.inner, value * group.lrScale);
  }

  /** The param groups added so far. */
  get paramGroups(): ParamGroup[] {
    return this.#groups.map(({ names, lrScale }) => ({ names: [...names], lrScale }));
  }

  /**
   * Puts `names` in a new param group trained at `lrScale` × the learning rate, with its own
   * moments. Add a group before the group's variables get their first gradient (when they are
   * unfrozen), so the other variables' optimizer state is untouched.
   */
  addParamGroup(names: readonly string[], lrScale: number): void {
    const taken = names.find((name) => this.#groups.some((g) => g.members.has(name)));
    if (taken !== undefined) throw new RangeError(`${taken} is already in a param group`);
    this.#groups.push({
      names: [...names],
      lrScale,
      members: new Set(names),
      inner: this.#createInner(this.#lr * lrScale),
    });
  }

  /**
   * Applies one update. `grads` and `variables` share names; the gradients are not disposed.
   */
  applyGradients(grads: tf.NamedTensorMap, variables: Record<string, tf.Variable>): void {
    if (this.#groups.length === 0) {
      this.#apply(this.inner, this.#lr, grads, variables);
      return;
    }
    const parts = new Map<tf.Optimizer, [number, tf.NamedTensorMap]>();
    for (const [key, grad] of Object.entries(grads)) {
      const group = this.#groups.find((g) => g.members.has(key));
      const [inner, lr] = group ? [group.inner, this.#lr * group.lrScale] : [this.inner, this.#lr];
      if (!parts.has(inner)) parts.set(inner, [lr, {}]);
      parts.get(inner)![1][key] = grad;
    }
    for (const [inner, [lr, part]] of parts) this.#apply(inner, lr, part, variables);
  }

  #apply(
    inner: tf.Optimizer,
    lr: number,
    grads: tf.NamedTensorMap,
    variables: Record<string, tf.Variable>,
  ) {
    const { name, weightDecay } = this.options;
    if (weightDecay > 0 && name === "adamw") {
      tf.tidy(() => {
        for (const key of Object.keys(grads)) {
          variables[key].assign(tf.mul(variables[key], 1 - lr * weightDecay));
        }
      });
    }
    if (weightDecay > 0 && name !== "adamw") {
      const decayed = tf.tidy(() => {
        const out: tf.NamedTensorMap = {};
        for (const [key, grad] of Object.entries(grads)) {
          out[key] = tf.add(grad, tf.mul(variables[key], weightDecay));
        }
        return out;
      });
      inner.applyGradients(decayed);
      tf.dispose(decayed);
      return;
    }
    inner.applyGradients(grads);
  }

  /** The tfjs optimizers: the default one, then one per param group (for checkpoints). */
  get innerOptimizers(): tf.Optimizer[] {
    return [this.inner, ...this.#groups.map((group) => group.inner)];
  }

  /** The optimizer's state (moments, step count) for a checkpoint. */
  getWeights(): Promise<{ name: string; tensor: tf.Tensor }[]> {
    return this.inner.getWeights();
  }

  /** Restores state saved by {@linkcode getWeights}. */
  setWeights(weights: { name: string; tensor: tf.Tensor }[]): Promise<void> {
    return this.inner.setWeights(weights);
  }

  /** Frees the optimizer's state tensors. */
  dispose(): void {
    for (const inner of this.innerOptimizers) {
      inner.dispose();
      // tfjs-core 4.22's MomentumOptimizer.dispose forgets SGD's learning-rate scalar `c`.
      const c = (inner as unknown as { c?: tf.Tensor }).c;
      if (c !== undefined && !c.isDisposed) c.dispose();
    }
  }
}

function setLearningRate(inner: tf.Optimizer, lr: number) {
  const target = inner as unknown as {
    setLearningRate?: (lr: number) => void;
    learningRate: number;
  };
  if (target.setLearningRate) target.setLearningRate(lr);
  else target.learningRate = lr;
}

/**
 * Creates an optimizer with PyTorch's defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { createOptimizer } from "./optimizers.ts";
 * await useBackend("cpu");
 * const sgd = createOptimizer({ name: "sgd", lr: 0.1, momentum: 0.9, nesterov: true });
 * sgd.lr = 0.01;
 * assert.equal(sgd.lr, 0.01);
 * sgd.dispose();
 * ```
 */
export function createOptimizer(options: OptimizerOptions): Optimizer {
  return new Optimizer(options);
}
