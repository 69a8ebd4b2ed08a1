// Shapes and inputs shared by the convolution kernels' tests (forward, input and filter gradients).
import * as tf from "@tensorflow/tfjs-core";

/** An NHWC shape or an HWIO filter shape. */
export type Shape4 = [number, number, number, number];

/** A convolution's padding as tfjs takes it: a mode or explicit [[0, 0], top/bottom, left/right, [0, 0]]. */
export type Pad = "same" | "valid" | [
  [number, number],
  [number, number],
  [number, number],
  [number, number],
];

/** Seeded standard-normal values of `shape`, as a plain Float32Array (no tensor left). */
export function random(shape: number[], seed: number): Float32Array {
  const t = tf.randomNormal(shape, 0, 1, "float32", seed);
  const values = t.dataSync() as Float32Array;
  t.dispose();
  return values.slice();
}
