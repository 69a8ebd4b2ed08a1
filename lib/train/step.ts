/**
 * One optimisation step: forward in training mode, cross-entropy on logits, backward, update.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { leanForward, useLeanTraining } from "./_lean.ts";
import { crossEntropy } from "./losses.ts";
import { splitFrozen } from "../models/transfer.ts";

/** A compiled training step for one model and optimizer. */
export type TrainStep = (images: tf.Tensor4D, labels: tf.Tensor1D) => tf.Scalar;

/**
 * Creates a step that minimises softmax cross-entropy on the model's logits and returns the
 * batch's mean loss as a scalar tensor (the caller disposes it and decides when to read it, so
 * a GPU backend is not forced to synchronise every step).
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend/mod.ts";
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { createModel } from "../models/mod.ts";
 * import { createTrainStep } from "./step.ts";
 * await useBackend("wasm");
 * const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10 });
 * const step = createTrainStep(model, tf.train.adam(1e-3), 10);
 * const loss = step(tf.zeros([2, 28, 28, 1]), tf.tensor1d([3, 7], "int32"));
 * assert.ok(loss.dataSync()[0] > 0);
 * loss.dispose();
 * model.dispose();
 * ```
 */
export function createTrainStep(
  model: LayersModel,
  optimizer: tf.Optimizer,
  numClasses: number,
): TrainStep {
  useLeanTraining();
  return (images, labels) => {
    // A frozen prefix runs outside the tape, in inference mode, as in `fit`.
    const split = splitFrozen(model);
    const features = split ? tf.tidy(() => split.features.apply(images) as tf.Tensor) : images;
    const trained = split ? split.head : model;
    const loss = optimizer.minimize(() => {
      const logits = leanForward(() => trained.apply(features, { training: true }) as tf.Tensor2D);
      if (logits.shape[1] !== numClasses) {
        throw new RangeError(`the model has ${logits.shape[1]} outputs for ${numClasses} classes`);
      }
      return crossEntropy(logits, labels);
    }, true) as tf.Scalar;
    if (split) features.dispose();
    return loss;
  };
}
