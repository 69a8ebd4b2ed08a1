// The wasm backend's batch-norm training kernels against tfjs-core's ops and autodiff on the cpu
// backend: forward values and statistics, and the three gradients, for no activation, ReLU and
// ReLU6 fused in; and the fused add + ReLU gradient. Then their SIMD module against their
// TypeScript loops, bit for bit, and the moving averages' update against tfjs-layers' ops.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../../mod.ts";
import {
  ADD_RELU_GRAD,
  BATCH_NORM_TRAIN,
  BATCH_NORM_TRAIN_GRAD,
  MOVING_AVERAGES,
  setBatchNormSimd,
} from "../../lib/backend/_wasm_kernels/batch_norm_train.ts";
import {
  BATCH_NORM_PLAIN,
  BATCH_NORM_SHARED,
} from "../../lib/backend/_wasm_simd/batch_norm_wasm.ts";
import { simdModule } from "../../lib/backend/_wasm_simd/_module.ts";
import { RELU_BIAS_GRAD } from "../../lib/backend/_wasm_kernels/relu_bias_grad.ts";

const SHAPE = [4, 5, 3, 7];
const EPSILON = 1e-5;

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string) {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let worst = 0;
  let scale = 1e-6;
  for (let i = 0; i < expected.length; i++) {
    worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  assert.ok(worst <= 1e-5 * scale, `${label}: max error ${worst} at scale ${scale}`);
}

/** Seeded inputs as plain arrays, so both backends start from the same numbers. */
function inputs() {
  return tf.tidy(() => ({
    x: tf.randomNormal(SHAPE, 1, 2, "float32", 1).dataSync().slice(),
    dy: tf.randomNormal(SHAPE, 0, 1, "float32", 2).dataSync().slice(),
    gamma: tf.randomUniform([7], 0.5, 2, "float32", 3).dataSync().slice(),
    beta: tf.randomUniform([7], -1, 1, "float32", 4).dataSync().slice(),
  }));
}

const MODES = [
  { name: "no activation", activation: false, cap: Infinity },
  { name: "ReLU", activation: true, cap: Infinity },
  { name: "a capped ReLU (ReLU6's path, capped at 2)", activation: true, cap: 2 },
];

for (const mode of MODES) {
  Deno.test(`wasm batch-norm training kernels, ${mode.name}: = tfjs ops and autodiff on cpu`, async () => {
    const data = inputs();
    await useBackend("cpu");
    const reference = tf.tidy(() => {
      const x = tf.tensor(data.x, SHAPE);
      const gamma = tf.tensor1d(data.gamma);
      const beta = tf.tensor1d(data.beta);
      const dy = tf.tensor(data.dy, SHAPE);
      const forward = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => {
        const { mean, variance } = tf.moments(x, [0, 1, 2]);
        const z = tf.batchNorm(x, mean, variance, beta, gamma, EPSILON);
        if (!mode.activation) return z;
        return mode.cap === Infinity ? tf.relu(z) : tf.clipByValue(z, 0, mode.cap);
      };
      const [dx, dGamma, dBeta] = tf.grads((x, gamma, beta) =>
        tf.sum(tf.mul(forward(x, gamma, beta), dy))
      )([x, gamma, beta]);
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return [forward(x, gamma, beta), mean, variance, dx, dGamma, dBeta].map((t) =>
        t.dataSync().slice()
      );
    });
    // Every case has elements on both sides of the activation's thresholds.
    if (mode.activation) assert.ok(reference[0].some((v) => v === 0));
    if (mode.cap === 2) assert.ok(reference[0].some((v) => v === 2));

    await useBackend("wasm");
    const attrs = { epsilon: EPSILON, activation: mode.activation, cap: mode.cap };
    const before = tf.memory().numTensors;
    const [y, mean, variance, dx, dGamma, dBeta] = tf.tidy(() => {
      const x = tf.tensor(data.x, SHAPE);
      const gamma = tf.tensor1d(data.gamma);
      const beta = tf.tensor1d(data.beta);
      const dy = tf.tensor(data.dy, SHAPE);
      const [y, mean, variance, invStd] = tf.engine().runKernel(
        BATCH_NORM_TRAIN,
        { x, gamma, beta },
        attrs,
      ) as tf.Tensor[];
      const grads = tf.engine().runKernel(
        BATCH_NORM_TRAIN_GRAD,
        { dy, x, mean, invStd, gamma, beta },
        attrs,
      ) as tf.Tensor[];
      return [y, mean, variance, ...grads].map((t) => t.dataSync().slice());
    });
    assert.equal(tf.memory().numTensors, before);
    assertClose(y, reference[0], "y");
    assertClose(mean, reference[1], "mean");
    assertClose(variance, reference[2], "variance");
    assertClose(dx, reference[3], "dx");
    assertClose(dGamma, reference[4], "dGamma");
    assertClose(dBeta, reference[5], "dBeta");
  });
}

Deno.test("wasm add + ReLU gradient: dy where a + b > 0 (or within [0, cap]), else 0", async () => {
  await useBackend("wasm");
  const a = [1, -2, 3, 0.5, 7, -1];
  const b = [-2, 1, 4, -0.5, 0, 1];
  const dy = [10, 20, 30, 40, 50, 60];
  const run = (cap: number) =>
    tf.tidy(() =>
      (tf.engine().runKernel(ADD_RELU_GRAD, {
        dy: tf.tensor1d(dy),
        a: tf.tensor1d(a),
        b: tf.tensor1d(b),
      }, { activation: true, cap }) as tf.Tensor).dataSync().slice()
    );
  // a + b = [-1, -1, 7, 0, 7, 0]: ReLU passes only > 0; ReLU6 passes 0 ≤ z ≤ 6, as tfjs' clip.
  assert.deepEqual(Array.from(run(Infinity)), [0, 0, 30, 0, 50, 0]);
  assert.deepEqual(Array.from(run(6)), [0, 0, 0, 40, 0, 60]);
});

// The SIMD module (lib/backend/_wasm_simd/batch_norm.c) against the TypeScript loops it replaces:
// the same arithmetic in the same order, so every output must be the same float32, bit for bit.

/** Where two float32 arrays differ bit for bit (+0 vs −0, NaN payloads too), or −1. */
function firstBitDifference(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  const [ua, ub] = [a, b].map((v) => new Uint32Array(v.buffer, v.byteOffset, v.length));
  return ua.findIndex((bits, i) => bits !== ub[i]);
}

function assertBitIdentical(simd: Float32Array[], typescript: Float32Array[], labels: string[]) {
  simd.forEach((values, k) => {
    const at = firstBitDifference(values, typescript[k]);
    assert.equal(
      at,
      -1,
      `${labels[k]}[${at}]: SIMD ${values[at]}, TypeScript ${typescript[k][at]}`,
    );
  });
}

/** A deterministic generator of floats in [0, 1). */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/**
 * Inputs for `pixels` × `channels`: random x (some exactly 0, some negative) and dy (some +0 and
 * −0); every third channel instead takes m ± 1 in turn with γ = β = 3, so that with ε = 0 its
 * mean is m, its variance 1 and its pre-activation exactly 0 or 6: both ends of ReLU6's window;
 * every third (from the third) has β = −100, below any activation's window (so the gradient's
 * d = dy·0 is ±0 throughout, and its sums zero).
 */
function boundaryInputs(pixels: number, channels: number, seed: number) {
  const random = seeded(seed);
  const x = new Float32Array(pixels * channels);
  const dy = new Float32Array(pixels * channels);
  const gamma = new Float32Array(channels);
  const beta = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const boundary = c % 3 === 1;
    gamma[c] = boundary ? 3 : 0.5 + random() * 1.5;
    beta[c] = boundary ? 3 : c % 3 === 2 ? -100 : random() * 2 - 1;
    const m = c % 5 - 2;
    for (let p = 0; p < pixels; p++) {
      const r = random();
      x[p * channels + c] = boundary ? m + (p % 2 ? 1 : -1) : r < 0.1 ? 0 : (r - 0.4) * 4;
      const s = random();
      dy[p * channels + c] = s < 0.05 ? 0 : s < 0.1 ? -0 : s * 2 - 1.1;
    }
  }
  return { x, dy, gamma, beta };
}

/** y, mean, variance, invStd, dx, dGamma, dBeta from the kernels, on the SIMD path or not. */
function batchNormOutputs(
  data: ReturnType<typeof boundaryInputs>,
  shape: number[],
  attrs: Record<string, number | boolean>,
  simd: boolean,
): Float32Array[] {
  const previous = setBatchNormSimd(simd);
  try {
    return tf.tidy(() => {
      const x = tf.tensor(data.x, shape);
      const gamma = tf.tensor1d(data.gamma);
      const beta = tf.tensor1d(data.beta);
      const dy = tf.tensor(data.dy, shape);
      const forward = tf.engine().runKernel(BATCH_NORM_TRAIN, { x, gamma, beta }, attrs);
      const [, mean, , invStd] = forward as tf.Tensor[];
      const grads = tf.engine().runKernel(
        BATCH_NORM_TRAIN_GRAD,
        { dy, x, mean, invStd, gamma, beta },
        attrs,
      );
      return [...forward as tf.Tensor[], ...grads as tf.Tensor[]].map((t) =>
        t.dataSync() as Float32Array
      );
    });
  } finally {
    setBatchNormSimd(previous);
  }
}

const OUTPUTS = ["y", "mean", "variance", "invStd", "dx", "dGamma", "dBeta"];
const BIT_MODES = [
  { name: "no activation", activation: false, cap: Infinity },
  { name: "ReLU", activation: true, cap: Infinity },
  { name: "ReLU6", activation: true, cap: 6 },
];

Deno.test("the batch-norm SIMD module runs on this engine's wasm backend", async () => {
  await useBackend("wasm");
  const source = { shared: BATCH_NORM_SHARED, plain: BATCH_NORM_PLAIN };
  assert.notEqual(simdModule(tf.backend(), source), null);
});

for (const channels of [1, 3, 16, 17, 32, 64, 130]) {
  Deno.test(`wasm batch norm, ${channels} channels: SIMD = TypeScript, bit for bit`, async () => {
    await useBackend("wasm");
    const shape = [2, 5, 6, channels];
    const data = boundaryInputs(60, channels, channels);
    for (const mode of BIT_MODES) {
      for (const epsilon of [1e-5, 0]) {
        const attrs = { epsilon, activation: mode.activation, cap: mode.cap };
        const simd = batchNormOutputs(data, shape, attrs, true);
        const typescript = batchNormOutputs(data, shape, attrs, false);
        assertBitIdentical(
          simd,
          typescript,
          OUTPUTS.map((o) => `${mode.name}, ε ${epsilon}: ${o}`),
        );
        if (epsilon === 0 && mode.cap === 6 && channels > 1) {
          // The boundary channels reach both ends of the window: y is exactly 0 and 6 there.
          assert.ok(simd[0].some((v, i) => v === 6 && i % channels === 1));
          assert.ok(simd[0].some((v, i) => v === 0 && i % channels === 1));
        }
      }
    }
  });
}

Deno.test("wasm batch norm: SIMD = TypeScript bit for bit with NaN and ±Infinity in dy", async () => {
  await useBackend("wasm");
  const channels = 17;
  const data = boundaryInputs(60, channels, 7);
  // Where the activation passes (channels 3, 6, 15, random), and where it does not (dy·0: NaN),
  // in pairs of channels and in the tail: boundary channels 1, 4, 7 and 16 have z = 0 at even
  // pixels, channels 5 and 8 have β = −100. One value per channel, so that none is NaN anyway.
  data.dy[3] = NaN;
  data.dy[channels + 6] = Infinity;
  data.dy[3 * channels + 15] = NaN;
  data.dy[1] = NaN;
  data.dy[2 * channels + 4] = Infinity;
  data.dy[4 * channels + 7] = -Infinity;
  data.dy[6 * channels + 16] = NaN;
  data.dy[2 * channels + 5] = -Infinity;
  data.dy[8 * channels + 8] = Infinity;
  for (const mode of BIT_MODES) {
    // ε = 0: the boundary channels' z is exactly 0 or 6 (ReLU's mask is 0 at z = 0).
    const attrs = { epsilon: 0, activation: mode.activation, cap: mode.cap };
    const simd = batchNormOutputs(data, [60, channels], attrs, true);
    const typescript = batchNormOutputs(data, [60, channels], attrs, false);
    assertBitIdentical(simd, typescript, OUTPUTS.map((o) => `${mode.name}: ${o}`));
  }
});

Deno.test("wasm add + ReLU gradient: SIMD = TypeScript, bit for bit", async () => {
  await useBackend("wasm");
  const random = seeded(11);
  const size = 61; // odd: the last element is the scalar tail
  const a = Float32Array.from({ length: size }, () => Math.round(random() * 16 - 8));
  const b = Float32Array.from({ length: size }, (_, i) => i % 4 === 0 ? -a[i] : 6 - a[i]);
  for (let i = 2; i < size; i += 4) b[i] = random() * 20 - 10;
  const dy = Float32Array.from({ length: size }, (_, i) => i % 3 === 0 ? -random() : random());
  dy[5] = -0;
  dy[8] = NaN;
  const run = (cap: number, simd: boolean) => {
    const previous = setBatchNormSimd(simd);
    try {
      return tf.tidy(() =>
        (tf.engine().runKernel(ADD_RELU_GRAD, {
          dy: tf.tensor1d(dy),
          a: tf.tensor1d(a),
          b: tf.tensor1d(b),
        }, { activation: true, cap }) as tf.Tensor).dataSync() as Float32Array
      );
    } finally {
      setBatchNormSimd(previous);
    }
  };
  for (const cap of [Infinity, 6]) {
    const simd = run(cap, true);
    assertBitIdentical([simd], [run(cap, false)], [`cap ${cap}`]);
    // a + b is exactly 0 and 6 at every other element: ReLU passes neither 0, ReLU6 both.
    assert.equal(Object.is(simd[4], cap === 6 ? dy[4] : 0 * dy[4]), true);
  }
});

Deno.test("wasm conv bias + ReLU gradient: SIMD = TypeScript, bit for bit", async () => {
  await useBackend("wasm");
  const random = seeded(5);
  for (const channels of [1, 10, 17, 20, 40]) {
    const size = 7 * channels;
    // y: exact zeros (the mask's edge), negatives are impossible after a ReLU but test them too.
    const y = Float32Array.from({ length: size }, (_, i) => i % 3 === 0 ? 0 : random() - 0.3);
    const dy = Float32Array.from({ length: size }, () => random() * 2 - 1);
    dy[0] = -0;
    dy[channels] = NaN; // y = 0 there: NaN·0 is NaN on both paths
    const run = (simd: boolean) => {
      const previous = setBatchNormSimd(simd);
      try {
        return tf.tidy(() =>
          (tf.engine().runKernel(RELU_BIAS_GRAD, {
            dy: tf.tensor2d(dy, [7, channels]),
            y: tf.tensor2d(y, [7, channels]),
          }, {}) as tf.Tensor[]).map((t) => t.dataSync() as Float32Array)
        );
      } finally {
        setBatchNormSimd(previous);
      }
    };
    assertBitIdentical(run(true), run(false), [`${channels}: dz`, `${channels}: bias`]);
  }
});

Deno.test("wasm moving averages' update = tfjs-layers' three ops, bit for bit", async () => {
  await useBackend("wasm");
  for (const momentum of [0.99, 0.9, 0.1]) {
    const [mean, variance, movingMean, movingVariance] = [1, 2, 3, 4].map((seed) =>
      tf.randomUniform([37], 0, seed === 2 || seed === 4 ? 5 : 1, "float32", seed)
    );
    const ours = tf.engine().runKernel(MOVING_AVERAGES, {
      mean,
      variance,
      movingMean,
      movingVariance,
    }, { momentum }) as tf.Tensor[];
    const theirs = [[movingMean, mean], [movingVariance, variance]].map(([m, b]) =>
      tf.sub(m, tf.mul(tf.sub(m, b), 1 - momentum))
    );
    for (const [i, t] of ours.entries()) {
      const [a, e] = [t.dataSync(), theirs[i].dataSync()];
      assert.deepEqual(
        new Uint32Array(a.buffer),
        new Uint32Array(e.buffer),
        `momentum ${momentum}`,
      );
    }
    tf.dispose([mean, variance, movingMean, movingVariance, ...ours, ...theirs]);
  }
});
