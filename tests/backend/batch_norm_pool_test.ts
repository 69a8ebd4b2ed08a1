// The wasm backend's fused batch norm + ReLU + 2×2 max pool (lib/backend/_wasm_kernels/
// batch_norm_pool.ts): the pooled output, the statistics and the three gradients against tfjs' ops
// and autodiff on the cpu backend, with ties in the pool windows (the ReLU's zeros); its SIMD
// module against its TypeScript loops bit for bit (channel tails, NaN); the same bytes on 1, 2
// and 3 threads; the lean path runs it for `compact-cnn`; no tensor left behind.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { assertClose, assertSameBytes } from "./_assert.ts";
import { resultsOnThreads } from "./_threads.ts";
import { createModel, createOptimizer, useBackend, wasmFeatures } from "../../mod.ts";
import {
  BATCH_NORM_POOL,
  BATCH_NORM_POOL_GRAD,
} from "../../lib/backend/_wasm_kernels/batch_norm_pool.ts";
import {
  BATCH_NORM_TRAIN,
  setBatchNormSimd,
  SOURCE,
} from "../../lib/backend/_wasm_kernels/batch_norm_train.ts";
import { random } from "./_conv_cases.ts";
import { batchStep } from "../../lib/train/_batch_step.ts";
import { crossEntropy } from "../../lib/train/losses.ts";
import { useLeanTraining } from "../../lib/train/_lean.ts";

const EPSILON = 1e-5;
type Shape4 = [number, number, number, number];

function data(shape: Shape4, seed: number) {
  const channels = shape[3];
  return {
    x: random(shape, seed),
    gamma: random([channels], seed + 1).map((v) => 1 + 0.5 * v),
    beta: random([channels], seed + 2).map((v) => 0.5 * v),
    dy: random([shape[0], shape[1] / 2, shape[2] / 2, channels], seed + 3),
  };
}
type Data = ReturnType<typeof data>;

/** [pooled, mean, variance, dx, dGamma, dBeta] from the fused kernels on the active backend. */
function fused(shape: Shape4, d: Data): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(d.x, shape);
    const gamma = tf.tensor1d(d.gamma);
    const beta = tf.tensor1d(d.beta);
    const dy = tf.tensor4d(d.dy, [shape[0], shape[1] / 2, shape[2] / 2, shape[3]]);
    const [pooled, mean, variance, invStd] = tf.engine().runKernel(
      BATCH_NORM_POOL,
      { x, gamma, beta },
      { epsilon: EPSILON },
    ) as tf.Tensor[];
    const grads = tf.engine().runKernel(
      BATCH_NORM_POOL_GRAD,
      { dy, x, mean, invStd, gamma, beta },
      {},
    ) as tf.Tensor[];
    return [pooled, mean, variance, ...grads].map((t) => t.dataSync() as Float32Array);
  });
}

/** The same from tfjs' ops and autodiff (moments, batchNorm, relu, maxPool) on the cpu backend. */
function reference(shape: Shape4, d: Data): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(d.x, shape);
    const gamma = tf.tensor1d(d.gamma);
    const beta = tf.tensor1d(d.beta);
    const dy = tf.tensor4d(d.dy, [shape[0], shape[1] / 2, shape[2] / 2, shape[3]]);
    const forward = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      const z = tf.batchNorm(x, mean, variance, beta, gamma, EPSILON);
      return tf.maxPool(tf.relu(z) as tf.Tensor4D, 2, 2, "valid");
    };
    const grads = tf.grads((x, gamma, beta) => tf.sum(tf.mul(forward(x, gamma, beta), dy)))([
      x,
      gamma,
      beta,
    ]);
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return [forward(x, gamma, beta), mean, variance, ...grads].map((t) =>
      t.dataSync() as Float32Array
    );
  });
}

const NAMES = ["pooled", "mean", "variance", "dx", "dGamma", "dBeta"];
const SHAPES: Shape4[] = [[2, 4, 6, 5], [3, 8, 8, 16], [1, 6, 4, 35], [2, 2, 2, 1]];

Deno.test("fused batch norm + ReLU + max pool = tfjs ops and autodiff on cpu", async (t) => {
  for (const [i, shape] of SHAPES.entries()) {
    await t.step(`x [${shape}]`, async () => {
      const d = data(shape, 10 + 5 * i);
      await useBackend("cpu");
      const expected = reference(shape, d);
      await useBackend("wasm");
      const before = tf.memory().numTensors;
      for (const simd of [true, false]) {
        const previous = setBatchNormSimd(simd);
        try {
          const ours = fused(shape, d);
          NAMES.forEach((name, k) => assertClose(ours[k], expected[k], `${name}, SIMD ${simd}`));
        } finally {
          setBatchNormSimd(previous);
        }
      }
      assert.equal(tf.memory().numTensors, before);
    });
  }
});

Deno.test("fused batch norm + pool: SIMD = TypeScript, bit for bit, with ties and NaN", async () => {
  await useBackend("wasm");
  for (const channels of [1, 2, 3, 16, 17, 33]) {
    const shape: Shape4 = [2, 4, 6, channels];
    const d = data(shape, 40 + channels);
    // Ties: a window whose four values are equal (the ReLU's zeros, and one above them), and a
    // NaN in the pooled gradient.
    for (let c = 0; c < channels; c++) {
      for (const at of [0, channels, 6 * channels, 7 * channels]) d.x[at + c] = -1e3;
      for (const at of [2 * channels, 3 * channels, 8 * channels, 9 * channels]) {
        d.x[at + c] = 0.25;
      }
    }
    d.dy[channels - 1] = NaN;
    const run = (simd: boolean) => {
      const previous = setBatchNormSimd(simd);
      try {
        return fused(shape, d);
      } finally {
        setBatchNormSimd(previous);
      }
    };
    const [simd, typescript] = [run(true), run(false)];
    NAMES.forEach((name, k) => assertSameBytes(simd[k], typescript[k], `${channels}: ${name}`));
  }
});

Deno.test({
  name: "fused batch norm + pool on 2 and 3 threads (a pool of helpers) = 1 thread",
  ignore: !(await wasmFeatures()).threads,
  fn: async () => {
    const shapes: Shape4[] = [[5, 6, 4, 16], [3, 4, 8, 35]];
    const inputs = shapes.map((shape, i) => data(shape, 70 + i));
    const all = async () => {
      await useBackend("wasm");
      return shapes.map((shape, i) => fused(shape, inputs[i]));
    };
    const { byThreads, one } = await resultsOnThreads(
      SOURCE,
      all,
      (threads, calls) => assert.ok(calls >= threads - 1, `${threads} threads: ${calls} calls`),
    );
    for (const [threads, results] of byThreads) {
      results.forEach((result, i) =>
        NAMES.forEach((name, k) =>
          assertSameBytes(result[k], one[i][k], `[${shapes[i]}] ${name}: ${threads} threads`)
        )
      );
    }
  },
});

Deno.test("a compact-cnn step runs each batch norm + ReLU + pool as one op each way", async () => {
  await useBackend("wasm");
  useLeanTraining();
  const model = createModel("compact-cnn", { inputShape: [16, 16, 3], numClasses: 4, seed: 1 });
  const optimizer = createOptimizer({ name: "adam", lr: 1e-3 });
  const context = {
    model,
    optimizer,
    numClasses: 4,
    loss: crossEntropy,
    seed: 0,
    accumulate: 1,
    split: null,
  };
  const images = tf.randomNormal([4, 16, 16, 3], 0, 1, "float32", 1) as tf.Tensor4D;
  const labels = tf.tensor1d([0, 1, 2, 3], "int32");
  const names: string[] = [];
  const engine = tf.engine() as unknown as {
    runKernel: (name: string, ...a: unknown[]) => unknown;
  };
  const original = engine.runKernel;
  engine.runKernel = function (name: string, ...rest: unknown[]) {
    names.push(name);
    return original.call(this, name, ...rest);
  };
  try {
    const { loss, correct } = batchStep(context as never, images, labels, 0, 0);
    assert.ok(Number.isFinite(loss.dataSync()[0]));
    tf.dispose([loss, correct]);
  } finally {
    engine.runKernel = original;
    tf.dispose([images, labels]);
    optimizer.inner.dispose();
    model.dispose();
  }
  const count = (name: string) => names.filter((n) => n === name).length;
  assert.equal(count(BATCH_NORM_POOL), 3, names.join());
  assert.equal(count(BATCH_NORM_POOL_GRAD), 3, names.join());
  for (const kernel of ["MaxPool", "MaxPoolGrad", BATCH_NORM_TRAIN]) {
    assert.equal(count(kernel), 0, `no ${kernel} in ${names.join()}`);
  }
});
