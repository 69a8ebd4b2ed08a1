/**
 * Losses on logits (never on softmax outputs): cross-entropy with label smoothing and class
 * weights, with hard labels or soft targets (MixUp/CutMix), and focal loss.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { SOFTMAX_CROSS_ENTROPY } from "../backend/_wasm_kernels/softmax_cross_entropy.ts";

/** Options for {@linkcode crossEntropy}. */
export interface CrossEntropyOptions {
  /** ε: targets become (1 − ε)·one-hot + ε / classes, as PyTorch's `label_smoothing`. */
  labelSmoothing?: number;
  /** One weight per class; the mean is weighted as PyTorch's `weight` does. */
  classWeights?: readonly number[];
}

/**
 * Mean cross-entropy of `logits` [batch, classes] against integer labels [batch] or soft
 * targets [batch, classes]. Computed with log-softmax, so it is stable for large logits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../backend/mod.ts";
 * import { crossEntropy } from "./losses.ts";
 * await useBackend("cpu");
 * const loss = crossEntropy(tf.tensor2d([[0, 0]]), tf.tensor1d([1], "int32"));
 * assert.ok(Math.abs(loss.dataSync()[0] - Math.log(2)) < 1e-6);
 * ```
 */
export function crossEntropy(
  logits: tf.Tensor2D,
  targets: tf.Tensor1D | tf.Tensor2D,
  options: CrossEntropyOptions = {},
): tf.Scalar {
  if (
    options.classWeights === undefined &&
    tf.getKernel(SOFTMAX_CROSS_ENTROPY, tf.getBackend()) !== undefined
  ) {
    return fusedCrossEntropy(logits, targets, options.labelSmoothing ?? 0);
  }
  return tf.tidy(() => {
    const numClasses = logits.shape[1];
    const hard = targets.rank === 1;
    let probabilities = hard
      ? tf.cast(tf.oneHot(tf.cast(targets, "int32") as tf.Tensor1D, numClasses), "float32")
      : targets as tf.Tensor2D;
    const smoothing = options.labelSmoothing ?? 0;
    if (smoothing > 0) {
      probabilities = tf.add(tf.mul(probabilities, 1 - smoothing), smoothing / numClasses);
    }
    const perSample = tf.neg(tf.sum(tf.mul(probabilities, tf.logSoftmax(logits)), -1));
    if (options.classWeights === undefined) return tf.mean(perSample) as tf.Scalar;
    if (options.classWeights.length !== numClasses) {
      throw new RangeError(
        `${options.classWeights.length} class weights for ${numClasses} classes`,
      );
    }
    // PyTorch: Σ w[y]·loss / Σ w[y] (for soft targets, the target-weighted class weight).
    const weights = tf.sum(
      tf.mul(
        hard ? tf.oneHot(tf.cast(targets, "int32") as tf.Tensor1D, numClasses) : targets,
        tf.tensor1d(options.classWeights as number[]),
      ),
      -1,
    );
    return tf.div(tf.sum(tf.mul(perSample, weights)), tf.sum(weights)) as tf.Scalar;
  });
}

/**
 * The same mean cross-entropy as one kernel (the wasm backend's), which also returns the
 * gradient with respect to the logits; the backward pass scales it by dy. The targets get no
 * gradient (labels, or MixUp's mixed one-hots).
 */
function fusedCrossEntropy(
  logits: tf.Tensor2D,
  targets: tf.Tensor1D | tf.Tensor2D,
  labelSmoothing: number,
): tf.Scalar {
  const op = tf.customGrad((...args: unknown[]) => {
    const x = args[0] as tf.Tensor2D;
    const save = args[1] as (tensors: tf.Tensor[]) => void;
    const hard = targets.rank === 1;
    const dtype = hard ? "int32" : "float32";
    const cast = targets.dtype === dtype ? targets : tf.cast(targets, dtype);
    const inputs: tf.NamedTensorMap = hard
      ? { logits: x, labels: cast }
      : { logits: x, targets: cast };
    const [loss, gradient] = tf.engine().runKernel(SOFTMAX_CROSS_ENTROPY, inputs, {
      labelSmoothing,
    }) as tf.Tensor[];
    if (cast !== targets) cast.dispose();
    save([gradient]);
    return {
      value: loss as tf.Scalar,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.mul(saved[0], dy as tf.Tensor),
    };
  });
  return (op as (x: tf.Tensor) => tf.Scalar)(logits);
}

/** Options for {@linkcode focalLoss}. */
export interface FocalLossOptions {
  /** Focusing parameter γ. Default: 2. */
  gamma?: number;
  /** Class-balance weight α per class. Default: none. */
  alpha?: readonly number[];
}

/**
 * Focal loss (Lin et al. 2017), multi-class: mean of −α_y (1 − p_y)^γ log p_y.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../backend/mod.ts";
 * import { crossEntropy, focalLoss } from "./losses.ts";
 * await useBackend("cpu");
 * const logits = tf.tensor2d([[2, 0, -1]]);
 * const labels = tf.tensor1d([0], "int32");
 * assert.ok(focalLoss(logits, labels).dataSync()[0] < crossEntropy(logits, labels).dataSync()[0]);
 * ```
 */
export function focalLoss(
  logits: tf.Tensor2D,
  labels: tf.Tensor1D,
  options: FocalLossOptions = {},
): tf.Scalar {
  return tf.tidy(() => {
    const numClasses = logits.shape[1];
    const oneHot = tf.cast(
      tf.oneHot(tf.cast(labels, "int32") as tf.Tensor1D, numClasses),
      "float32",
    );
    const logP = tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), -1);
    const p = tf.exp(logP);
    let loss = tf.mul(tf.neg(tf.pow(tf.sub(1, p), options.gamma ?? 2)), logP);
    if (options.alpha !== undefined) {
      loss = tf.mul(loss, tf.sum(tf.mul(oneHot, tf.tensor1d(options.alpha as number[])), -1));
    }
    return tf.mean(loss) as tf.Scalar;
  });
}
