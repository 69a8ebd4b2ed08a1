// crossEntropy on wasm (one fused kernel that also returns the logits' gradient) against the
// composed ops on cpu: the loss and its gradient for hard labels, float labels, soft targets,
// label smoothing and large logits; and no tensor is left behind.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { crossEntropy, useBackend } from "../../mod.ts";

const LOGITS = [
  [2, -1, 0.5, 0],
  [1000, 999, -1000, 3], // log-sum-exp must not overflow
  [-3, -3, -3, -3],
];
const LABELS = [0, 1, 3];
const SOFT = [[0.7, 0.3, 0, 0], [0, 0.5, 0.5, 0], [0.25, 0.25, 0.25, 0.25]];

async function lossAndGradient(
  backend: "cpu" | "wasm",
  targets: () => tf.Tensor1D | tf.Tensor2D,
  labelSmoothing: number,
) {
  await useBackend(backend);
  const logits = tf.tensor2d(LOGITS);
  const t = targets();
  const before = tf.memory().numTensors;
  const { value, grads } = tf.valueAndGrads((x: tf.Tensor) =>
    tf.mul(crossEntropy(x as tf.Tensor2D, t, { labelSmoothing }), 3) // dy = 3
  )([logits]);
  const out = { loss: value.dataSync()[0], gradient: Array.from(grads[0].dataSync()) };
  tf.dispose([value, ...grads]);
  assert.equal(tf.memory().numTensors, before, "every intermediate tensor is disposed");
  tf.dispose([logits, t]);
  return out;
}

const CASES: [string, () => tf.Tensor1D | tf.Tensor2D][] = [
  ["int32 labels", () => tf.tensor1d(LABELS, "int32")],
  ["float32 labels", () => tf.tensor1d(LABELS, "float32")],
  ["soft targets", () => tf.tensor2d(SOFT)],
];

Deno.test("crossEntropy on wasm (fused kernel) = the composed ops on cpu, loss and gradient", async (t) => {
  for (const [label, targets] of CASES) {
    for (const smoothing of [0, 0.1]) {
      await t.step(`${label}, label smoothing ${smoothing}`, async () => {
        const expected = await lossAndGradient("cpu", targets, smoothing);
        const actual = await lossAndGradient("wasm", targets, smoothing);
        assert.ok(Number.isFinite(actual.loss));
        assert.ok(
          Math.abs(actual.loss - expected.loss) <= 1e-5 * Math.max(1, Math.abs(expected.loss)),
          `loss ${actual.loss} vs ${expected.loss}`,
        );
        for (let i = 0; i < expected.gradient.length; i++) {
          assert.ok(
            Math.abs(actual.gradient[i] - expected.gradient[i]) <= 1e-6,
            `gradient[${i}] ${actual.gradient[i]} vs ${expected.gradient[i]}`,
          );
        }
      });
    }
  }
});

Deno.test("crossEntropy on wasm: a NaN logit gives a NaN loss, as the composed ops do", async () => {
  await useBackend("wasm");
  const loss = tf.tidy(() =>
    crossEntropy(tf.tensor2d([[NaN, 1], [0, 1]]), tf.tensor1d([0, 1], "int32"))
  );
  assert.ok(Number.isNaN(loss.dataSync()[0]));
  loss.dispose();
  // And the wasm backend does run the fused kernel (else the test above compares cpu with itself).
  const profile = await tf.profile(() => {
    tf.tidy(() => crossEntropy(tf.tensor2d([[1, 2]]), tf.tensor1d([0], "int32")));
  });
  assert.ok(
    profile.kernelNames.includes("DenovisionSoftmaxCrossEntropy"),
    profile.kernelNames.join(),
  );
});
