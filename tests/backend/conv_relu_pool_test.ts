// The fused convolution + bias + ReLU + 2×2 max pool (conv_relu_pool.ts) on wasm: its forward
// kernel against FusedConv2D then MaxPool (bit for bit) and the cpu backend; its gradient kernel
// against MaxPoolGrad then the ReLU's mask (bit for bit), its SIMD module against the TypeScript
// loops (bit for bit, with ties, all-negative windows, a NaN and −0 in dy), and its bias gradient
// against a sum. (lean_test.ts trains lenet and small-cnn with it against tfjs' unfused ops;
// wasm_threads_test.ts gets the same weights on 1, 2 and 3 threads.)
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../../mod.ts";
import {
  CONV_RELU_POOL,
  POOL_RELU_BIAS_GRAD,
  setPoolReluBiasGradSimd,
} from "../../lib/backend/_wasm_kernels/conv_relu_pool.ts";
import { assertClose, assertSameBytes } from "./_assert.ts";
import { random, type Shape4 } from "./_conv_cases.ts";

interface Case {
  x: Shape4;
  filter: Shape4;
  stride: number;
  pad: "same" | "valid";
  bias: boolean;
}

const CASES: Case[] = [
  { x: [3, 28, 28, 1], filter: [5, 5, 1, 10], stride: 1, pad: "valid", bias: true }, // LeNet's
  { x: [3, 12, 12, 10], filter: [5, 5, 10, 20], stride: 1, pad: "valid", bias: true },
  { x: [2, 16, 16, 3], filter: [3, 3, 3, 16], stride: 1, pad: "same", bias: false },
  // 3×3, stride 1, 8 channels or more: the Winograd kernel, then the pool.
  { x: [2, 8, 10, 9], filter: [3, 3, 9, 12], stride: 1, pad: "same", bias: true },
  { x: [2, 9, 9, 4], filter: [3, 3, 4, 7], stride: 2, pad: "same", bias: true }, // 5×5: odd
  { x: [1, 8, 6, 2], filter: [1, 1, 2, 3], stride: 1, pad: "valid", bias: true }, // C < 4
];

const label = (k: Case) => `x ${k.x} filter ${k.filter} s${k.stride} ${k.pad}`;

function inputs(k: Case, seed: number) {
  return {
    x: tf.tensor(random(k.x, seed), k.x),
    filter: tf.tensor(random(k.filter, seed + 1), k.filter),
    ...(k.bias ? { bias: tf.tensor(random([k.filter[3]], seed + 2)) } : {}),
  };
}

const attrs = (k: Case) => ({
  strides: [k.stride, k.stride],
  pad: k.pad,
  dataFormat: "NHWC",
  dilations: [1, 1],
  activation: "relu",
});

Deno.test("wasm: conv + bias + ReLU + 2×2 max pool as one kernel = FusedConv2D then MaxPool, bit for bit", async () => {
  await useBackend("wasm");
  for (const [i, k] of CASES.entries()) {
    const named = inputs(k, 10 * i);
    const [pooled, y] = tf.engine().runKernel(CONV_RELU_POOL, named, attrs(k)) as tf.Tensor[];
    const expectedY = tf.engine().runKernel("FusedConv2D", named, attrs(k)) as tf.Tensor;
    const expectedPooled = tf.maxPool(expectedY as tf.Tensor4D, 2, 2, "valid");
    assertSameBytes(y.dataSync() as Float32Array, expectedY.dataSync() as Float32Array, label(k));
    assertSameBytes(
      pooled.dataSync() as Float32Array,
      expectedPooled.dataSync() as Float32Array,
      `${label(k)}: pooled`,
    );
    tf.dispose([pooled, y, expectedY, expectedPooled, ...Object.values(named)]);
  }
});

Deno.test("wasm: conv + bias + ReLU + 2×2 max pool as one kernel is close to the cpu backend", async () => {
  for (const [i, k] of CASES.entries()) {
    const results = [];
    for (const backend of ["wasm", "cpu"] as const) {
      await useBackend(backend);
      const named = inputs(k, 10 * i + 5);
      const pooled = tf.tidy(() => {
        if (backend === "wasm") {
          return (tf.engine().runKernel(CONV_RELU_POOL, named, attrs(k)) as tf.Tensor[])[0];
        }
        const { x, filter, bias } = named as Record<string, tf.Tensor4D>;
        const z = tf.conv2d(x, filter, k.stride, k.pad);
        const biased = bias === undefined ? z : tf.add(z, bias) as tf.Tensor4D;
        return tf.maxPool(tf.relu(biased), 2, 2, "valid");
      });
      results.push(Array.from(pooled.dataSync()));
      tf.dispose([pooled, ...Object.values(named)]);
    }
    assertClose(results[0], results[1], label(k));
  }
});

/** y with many ties (a few levels, negatives) and dy with a NaN and a −0. */
function gradientInputs(shape: Shape4, seed: number) {
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const y = Float32Array.from(
    { length: shape.reduce((a, b) => a * b) },
    () => Math.max(0, Math.floor(next() * 5) - 2), // a ReLU's output: ≥ 0, many zeros and ties
  );
  const pooled: Shape4 = [shape[0], shape[1] / 2, shape[2] / 2, shape[3]];
  const dy = Float32Array.from(
    { length: pooled.reduce((a, b) => a * b) },
    (_, i) => i === 3 ? NaN : i === 5 ? -0 : next() - 0.5,
  );
  return { y: tf.tensor(y, shape), dy: tf.tensor(dy, pooled) };
}

const GRADIENT_SHAPES: Shape4[] = [[2, 4, 4, 1], [3, 24, 24, 10], [2, 8, 8, 20], [1, 6, 10, 4], [
  2,
  4,
  6,
  23,
]];

Deno.test("wasm: the pool + ReLU + bias gradient kernel = MaxPoolGrad then the ReLU's mask, bit for bit", async () => {
  await useBackend("wasm");
  for (const [i, shape] of GRADIENT_SHAPES.entries()) {
    const { y, dy } = gradientInputs(shape, i + 1);
    const dzs: Float32Array[] = [];
    const dbs: Float32Array[] = [];
    for (const simd of [true, false]) {
      setPoolReluBiasGradSimd(simd);
      const [dz, db] = tf.engine().runKernel(POOL_RELU_BIAS_GRAD, { dy, y }, {}) as tf.Tensor[];
      dzs.push(dz.dataSync() as Float32Array);
      dbs.push(db.dataSync() as Float32Array);
      tf.dispose([dz, db]);
    }
    setPoolReluBiasGradSimd(true);
    assertSameBytes(dzs[0], dzs[1], `${shape}: dz, SIMD and loops`);
    assertSameBytes(dbs[0], dbs[1], `${shape}: db, SIMD and loops`);
    const expected = tf.tidy(() => {
      const dx = tf.engine().runKernel("MaxPoolGrad", { dy, input: y, output: dy }, {
        filterSize: [2, 2],
        strides: [2, 2],
        pad: "valid",
      }) as tf.Tensor;
      return tf.mul(dx, tf.step(y));
    });
    assertSameBytes(dzs[0], expected.dataSync() as Float32Array, `${shape}: dz`);
    // The NaN reaches one channel's sum; the others are the plain sums over pixels.
    const sums = tf.tidy(() => tf.sum(expected, [0, 1, 2]).dataSync());
    const finite = (values: ArrayLike<number>) =>
      Array.from(values, (v) => Number.isNaN(v) ? 0 : v);
    assert.deepEqual(Array.from(dbs[0], Number.isNaN), Array.from(sums, Number.isNaN));
    assertClose(finite(dbs[0]), finite(sums), `${shape}: db`, 1e-6);
    tf.dispose([y, dy, expected]);
  }
});

Deno.test("wasm: the pool + ReLU + bias gradient kernel rejects a dy that is not y's pool", async () => {
  await useBackend("wasm");
  const y = tf.zeros([1, 4, 4, 2]);
  const dy = tf.zeros([1, 3, 2, 2]);
  assert.throws(
    () => tf.engine().runKernel(POOL_RELU_BIAS_GRAD, { dy, y }, {}),
    /is not the 2×2 pool of y/,
  );
  tf.dispose([y, dy]);
});
