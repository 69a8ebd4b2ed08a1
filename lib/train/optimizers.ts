/**
 * Optimizers with PyTorch's semantics: SGD (momentum, Nesterov, L2 weight decay), Adam (L2 weight
 * decay), AdamW (decoupled weight decay), and a learning rate that schedules can change.
 *
 * @module
 */
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

/** An optimizer over named variables whose learning rate can change between steps. */
export class Optimizer {
  /** The options with PyTorch's defaults filled in. */
  readonly options: Required<OptimizerOptions>;
  /** The tfjs optimizer doing the update. */
  readonly inner: tf.Optimizer;
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
    const { name, lr, momentum, nesterov, betas, eps } = this.options;
    this.#lr = lr;
    if (name === "sgd") {
      this.inner = momentum > 0 ? tf.train.momentum(lr, momentum, nesterov) : tf.train.sgd(lr);
    } else if (name === "adam" || name === "adamw") {
      this.inner = tf.train.adam(lr, betas[0], betas[1], eps);
    } else {
      throw new RangeError(`unknown optimizer '${name}': expected sgd, adam or adamw`);
    }
  }

  /** The current learning rate. */
  get lr(): number {
    return this.#lr;
  }

  set lr(value: number) {
    this.#lr = value;
    const inner = this.inner as unknown as {
      setLearningRate?: (lr: number) => void;
      learningRate: number;
    };
    if (inner.setLearningRate) inner.setLearningRate(value);
    else inner.learningRate = value;
  }

  /**
   * Applies one update. `grads` and `variables` share names; the gradients are not disposed.
   */
  applyGradients(grads: tf.NamedTensorMap, variables: Record<string, tf.Variable>): void {
    const { name, weightDecay } = this.options;
    if (weightDecay > 0 && name === "adamw") {
      tf.tidy(() => {
        for (const [key, variable] of Object.entries(variables)) {
          if (grads[key] !== undefined) {
            variable.assign(tf.mul(variable, 1 - this.#lr * weightDecay));
          }
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
      this.inner.applyGradients(decayed);
      tf.dispose(decayed);
      return;
    }
    this.inner.applyGradients(grads);
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
    this.inner.dispose();
  }
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
