/**
 * MixUp (Zhang et al. 2018) and CutMix (Yun et al. 2019) on a batch, on the backend: images mixed
 * with a shuffled copy of the batch, targets mixed in the same proportion.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Rng } from "../_internal/rng.ts";

/** A Gamma(shape, 1) sample (Marsaglia–Tsang), for Beta sampling. */
function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * rng.next() ** (1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number, v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng.next();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) {
      return d * v;
    }
  }
}

/** A Beta(α, α) sample. */
export function sampleBeta(rng: Rng, alpha: number): number {
  const a = gamma(rng, alpha);
  const b = gamma(rng, alpha);
  return a / (a + b);
}

/** A mixed batch: images and soft targets [batch, classes]. */
export interface MixedBatch {
  /** The mixed images. */
  images: tf.Tensor4D;
  /** Soft targets, one row per image, each summing to 1. */
  targets: tf.Tensor2D;
}

/** weight · one-hot(labels) + (1 − weight) · one-hot(labels[index]). */
function mixTargets(
  labels: tf.Tensor1D,
  numClasses: number,
  index: tf.Tensor1D,
  weight: number,
): tf.Tensor2D {
  const oneHot = tf.cast(tf.oneHot(tf.cast(labels, "int32") as tf.Tensor1D, numClasses), "float32");
  return tf.add(
    tf.mul(oneHot, weight),
    tf.mul(tf.gather(oneHot, index), 1 - weight),
  ) as tf.Tensor2D;
}

function permutation(rng: Rng, n: number): Int32Array {
  return Int32Array.from(rng.shuffle(Array.from({ length: n }, (_, i) => i)));
}

/**
 * MixUp: λ ~ Beta(α, α); x = λx + (1 − λ)x[perm], y = λy + (1 − λ)y[perm].
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../backend/mod.ts";
 * import { Rng } from "../_internal/rng.ts";
 * import { mixup } from "./mix.ts";
 * await useBackend("cpu");
 * const { targets } = mixup(tf.zeros([4, 2, 2, 1]), tf.tensor1d([0, 1, 2, 0], "int32"), 3, 0.4, new Rng(1));
 * assert.ok(tf.sum(targets).dataSync()[0] - 4 < 1e-5); // each row still sums to 1
 * ```
 */
export function mixup(
  images: tf.Tensor4D,
  labels: tf.Tensor1D,
  numClasses: number,
  alpha: number,
  rng: Rng,
): MixedBatch {
  const lambda = sampleBeta(rng, alpha);
  const perm = permutation(rng, images.shape[0]);
  return tf.tidy(() => {
    const index = tf.tensor1d(perm, "int32");
    return {
      images: tf.add(
        tf.mul(images, lambda),
        tf.mul(tf.gather(images, index), 1 - lambda),
      ) as tf.Tensor4D,
      targets: mixTargets(labels, numClasses, index, lambda),
    };
  });
}

/**
 * CutMix: a box of area (1 − λ) from a shuffled copy is pasted in; targets weighted by area.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../backend/mod.ts";
 * import { Rng } from "../_internal/rng.ts";
 * import { cutmix } from "./mix.ts";
 * await useBackend("cpu");
 * const { images } = cutmix(tf.zeros([2, 8, 8, 3]), tf.tensor1d([0, 1], "int32"), 2, 1, new Rng(2));
 * assert.deepEqual(images.shape, [2, 8, 8, 3]);
 * ```
 */
export function cutmix(
  images: tf.Tensor4D,
  labels: tf.Tensor1D,
  numClasses: number,
  alpha: number,
  rng: Rng,
): MixedBatch {
  const [, height, width] = images.shape;
  const lambda = sampleBeta(rng, alpha);
  const ratio = Math.sqrt(1 - lambda);
  const [cutH, cutW] = [Math.floor(height * ratio), Math.floor(width * ratio)];
  const [cy, cx] = [rng.int(height), rng.int(width)];
  const [y0, y1] = [Math.max(0, cy - (cutH >> 1)), Math.min(height, cy + (cutH >> 1))];
  const [x0, x1] = [Math.max(0, cx - (cutW >> 1)), Math.min(width, cx + (cutW >> 1))];
  const area = 1 - ((y1 - y0) * (x1 - x0)) / (height * width);
  const perm = permutation(rng, images.shape[0]);
  return tf.tidy(() => {
    const mask = tf.buffer([1, height, width, 1]);
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) mask.set(1, 0, y, x, 0);
    const box = mask.toTensor();
    const index = tf.tensor1d(perm, "int32");
    return {
      images: tf.add(
        tf.mul(images, tf.sub(1, box)),
        tf.mul(tf.gather(images, index), box),
      ) as tf.Tensor4D,
      targets: mixTargets(labels, numClasses, index, area),
    };
  });
}
