// The wasm backend's batch-norm training kernels (TypeScript over the heap) against tfjs-core's
// ops and autodiff on the cpu backend: forward values and statistics, and the three gradients, for
// no activation, ReLU and ReLU6 fused in; and the fused add + ReLU gradient.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../../mod.ts";
import {
  ADD_RELU_GRAD,
  BATCH_NORM_TRAIN,
  BATCH_NORM_TRAIN_GRAD,
} from "../../lib/backend/_wasm_kernels/batch_norm_train.ts";

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
