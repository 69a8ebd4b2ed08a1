// Mean over middle axes on wasm (lib/backend/_wasm_kernels/mean.ts), in its SIMD module and in its
// TypeScript loops: the same bytes as tfjs-backend-wasm's own kernel (with keepDims, negative axes, one middle axis), other axes left
// to it; the gradient kernel the same bytes as tfjs' gradient of Mean (ones, multiply, divide);
// a global-average-pooling model's gradients as with tfjs' kernels; bad attributes refused.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { assertSameBytes } from "./_assert.ts";
import { random } from "./_conv_cases.ts";
import { setWasmKernels, useBackend } from "../../mod.ts";
import { MEAN_GRAD, middleAxes, setMeanSimd } from "../../lib/backend/_wasm_kernels/mean.ts";
import { setLeanTraining, useLeanTraining } from "../../lib/train/_lean.ts";

const CASES: [number[], number[], boolean][] = [
  [[4, 5, 6, 7], [1, 2], false],
  [[4, 5, 6, 7], [1, 2], true],
  [[3, 4, 4, 64], [-3, -2], false],
  [[2, 9, 5], [1], false],
  [[2, 3, 4, 5], [1, 2, 3], false], // innermost: the built-in kernel's case
  [[2, 3, 4, 5], [3], true],
  [[6, 5], [0], false],
];

/** Mean of every case with the wasm kernels `set`. */
function means(set: "ours" | "stock"): Float32Array[] {
  const previous = setWasmKernels(set);
  try {
    return CASES.map(([shape, axes, keepDims], i) =>
      tf.tidy(() => {
        const x = tf.tensor(random(shape, 10 + i), shape);
        const y = tf.mean(x, axes, keepDims);
        const expected = keepDims
          ? shape.map((d, k) => axes.some((a) => (a < 0 ? a + shape.length : a) === k) ? 1 : d)
          : shape.filter((_, k) => !axes.some((a) => (a < 0 ? a + shape.length : a) === k));
        assert.deepEqual(y.shape, expected, `case ${i}: shape`);
        return y.dataSync() as Float32Array;
      })
    );
  } finally {
    setWasmKernels(previous);
  }
}

Deno.test("wasm: Mean over middle axes gives the built-in kernel's bytes (SIMD and loops)", async () => {
  await useBackend("wasm");
  const stock = means("stock");
  for (const simd of [true, false]) {
    const previous = setMeanSimd(simd);
    try {
      means("ours").forEach((values, i) => assertSameBytes(values, stock[i], `case ${i} ${simd}`));
    } finally {
      setMeanSimd(previous);
    }
  }
});

Deno.test("middleAxes: a run of axes before the last one, else undefined", () => {
  assert.deepEqual(middleAxes([2, 3, 4, 5], [1, 2]), [2, 12, 5]);
  assert.deepEqual(middleAxes([2, 3, 4, 5], [-2, 1]), [2, 12, 5]);
  assert.deepEqual(middleAxes([2, 3, 4, 5], [0]), [1, 2, 60]);
  assert.equal(middleAxes([2, 3, 4, 5], [3]), undefined);
  assert.equal(middleAxes([2, 3, 4, 5], [1, 3]), undefined);
  assert.equal(middleAxes([2, 3, 4, 5], []), undefined);
  assert.equal(middleAxes([2, 3, 4, 5], [4]), undefined);
});

Deno.test("wasm: Mean's gradient kernel gives tfjs' gradient bytes", async () => {
  await useBackend("wasm");
  useLeanTraining();
  const shape = [3, 4, 5, 16];
  const gradient = (lean: boolean) => {
    setLeanTraining(lean);
    try {
      return tf.tidy(() => {
        const x = tf.tensor(random(shape, 3), shape);
        const w = tf.tensor(random([3, 16], 4), [3, 16]);
        const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.mean(v, [1, 2]), w)))(x);
        return g.dataSync() as Float32Array;
      });
    } finally {
      setLeanTraining(true);
    }
  };
  const expected = gradient(false);
  assertSameBytes(gradient(true), expected, "dx (SIMD)");
  const previous = setMeanSimd(false);
  assertSameBytes(gradient(true), expected, "dx (loops)");
  setMeanSimd(previous);
  const before = tf.memory().numTensors;
  gradient(true);
  assert.equal(tf.memory().numTensors, before, "no tensor left");
});

Deno.test("wasm: the gradient kernel refuses axes that are not a middle run, or a wrong dy", async () => {
  await useBackend("wasm");
  const dy = tf.zeros([2, 5]);
  assert.throws(
    () => tf.engine().runKernel(MEAN_GRAD, { dy }, { shape: [2, 3, 4, 5], axes: [3] }),
    /DenovisionMeanGrad: axes 3 of \[2,3,4,5\] are not a run of middle axes/,
  );
  assert.throws(
    () => tf.engine().runKernel(MEAN_GRAD, { dy }, { shape: [2, 3, 4, 6], axes: [1, 2] }),
    /DenovisionMeanGrad: dy \[2,5\] does not match \[2,3,4,6\] reduced/,
  );
  dy.dispose();
});
