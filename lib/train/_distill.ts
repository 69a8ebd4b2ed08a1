// Internal: knowledge distillation for `fit` (Hinton et al. 2015): the teacher's logits of each
// batch are computed before the gradient tape, in inference mode, and the step's loss becomes
// α·T²·KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 − α)·hard loss.
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";

/** Distillation settings for `fit`'s `distill` option. */
export interface DistillOptions {
  /** Any LayersModel with the student's classes: a run's model, a TF.js model, torchvision. */
  teacher: LayersModel;
  /** Softmax temperature T of the soft targets. Default: 4. */
  temperature?: number;
  /** Weight α of the soft term; the hard-label loss gets 1 − α. Default: 0.7. */
  alpha?: number;
}

/** The distillation settings cannot work (a bad temperature or α, or MixUp/CutMix with it). */
export class DistillationError extends Error {
  /** Always `DistillationError`. */
  override name = "DistillationError";
}

/**
 * Hinton's distillation loss, averaged over the batch: α·T²·KL(p_teacher ‖ p_student) at
 * temperature T plus (1 − α) times `hard` (plain cross-entropy on `labels` when omitted). The
 * KL term is PyTorch's `kl_div(log_softmax(s / T), softmax(t / T), reduction="batchmean")`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../backend/mod.ts";
 * import { distillationLoss } from "./fit.ts";
 * await useBackend("cpu");
 * const logits = tf.tensor2d([[1, 2, 3]]);
 * // A student equal to its teacher pays only the hard term (α = 1 leaves nothing else).
 * const loss = distillationLoss(logits, logits, tf.tensor1d([2], "int32"), { alpha: 1 });
 * assert.ok(Math.abs(loss.dataSync()[0]) < 1e-6);
 * tf.dispose([logits, loss]);
 * ```
 */
export function distillationLoss(
  student: tf.Tensor2D,
  teacher: tf.Tensor2D,
  labels: tf.Tensor1D | tf.Tensor2D,
  options: { temperature?: number; alpha?: number } = {},
  hard?: (logits: tf.Tensor2D, targets: tf.Tensor1D | tf.Tensor2D) => tf.Scalar,
): tf.Scalar {
  const { temperature, alpha } = checked(options);
  return tf.tidy(() => {
    const logP = tf.logSoftmax(tf.div(student, temperature));
    const logQ = tf.logSoftmax(tf.div(teacher, temperature));
    const kl = tf.div(tf.sum(tf.mul(tf.exp(logQ), tf.sub(logQ, logP))), student.shape[0]);
    const soft = tf.mul(kl, alpha * temperature * temperature);
    if (alpha === 1) return soft as tf.Scalar;
    const hardLoss = hard ? hard(student, labels) : crossEntropyOn(student, labels);
    return tf.add(soft, tf.mul(hardLoss, 1 - alpha)) as tf.Scalar;
  });
}

function crossEntropyOn(logits: tf.Tensor2D, labels: tf.Tensor1D | tf.Tensor2D): tf.Scalar {
  const targets = labels.rank === 1
    ? tf.oneHot(tf.cast(labels, "int32") as tf.Tensor1D, logits.shape[1])
    : labels;
  return tf.mean(tf.neg(tf.sum(tf.mul(targets, tf.logSoftmax(logits)), -1))) as tf.Scalar;
}

function checked(options: { temperature?: number; alpha?: number }) {
  const temperature = options.temperature ?? 4;
  const alpha = options.alpha ?? 0.7;
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new DistillationError(`distillation temperature must be > 0, got ${temperature}`);
  }
  if (!(alpha >= 0 && alpha <= 1)) {
    throw new DistillationError(`distillation alpha must be in [0, 1], got ${alpha}`);
  }
  return { temperature, alpha };
}

/** Per-batch state of a distillation run inside `fit`. */
export interface Distiller {
  /** The step's loss: the distillation loss against the current batch's teacher logits. */
  loss: (logits: tf.Tensor2D, targets: tf.Tensor1D | tf.Tensor2D) => tf.Scalar;
  /** Runs the teacher on a batch (inference mode, no tape) before the step. */
  begin(images: tf.Tensor4D): void;
  /** Frees the batch's teacher logits after the step. */
  end(): void;
}

/**
 * A distiller for `fit`: `begin` computes the teacher's logits of a batch; `loss` takes
 * consecutive row ranges of them, one per micro-batch, in the order the step asks.
 */
export function createDistiller(
  options: DistillOptions,
  hard: (logits: tf.Tensor2D, targets: tf.Tensor1D | tf.Tensor2D) => tf.Scalar,
  mixing: boolean,
): Distiller {
  const settings = checked(options);
  if (mixing) {
    throw new DistillationError(
      "distillation with MixUp/CutMix is not supported (the teacher would see unmixed images)",
    );
  }
  let teacherLogits: tf.Tensor2D | null = null;
  let offset = 0;
  return {
    begin(images) {
      teacherLogits = tf.tidy(() =>
        options.teacher.apply(images, { training: false }) as tf.Tensor2D
      );
      offset = 0;
    },
    end() {
      teacherLogits?.dispose();
      teacherLogits = null;
    },
    loss(logits, targets) {
      if (teacherLogits === null) throw new DistillationError("no teacher logits for this batch");
      const rows = logits.shape[0];
      const teacher = teacherLogits;
      if (teacher.shape[1] !== logits.shape[1]) {
        throw new DistillationError(
          `teacher has ${teacher.shape[1]} classes, the student ${logits.shape[1]}`,
        );
      }
      const start = offset;
      offset = (offset + rows) % teacher.shape[0];
      return tf.tidy(() => {
        const part = rows === teacher.shape[0]
          ? teacher
          : tf.slice(teacher, [start, 0], [rows, -1]) as tf.Tensor2D;
        return distillationLoss(logits, part, targets, settings, hard);
      });
    },
  };
}
