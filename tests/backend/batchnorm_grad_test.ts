import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-layers";
import { useBackend } from "../../mod.ts";

// Our FusedBatchNorm gradient drops tfjs's Tile; the numbers must be the ones tfjs computes.
for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`batch-norm gradients equal tfjs's tiled formula (${backend})`, async () => {
    await useBackend(backend);
    const x = tf.randomNormal([3, 5, 4, 6], 0, 1, "float32", 1) as tf.Tensor4D;
    const mean = tf.randomNormal([6], 0, 1, "float32", 2) as tf.Tensor1D;
    const variance = tf.randomUniform([6], 0.5, 2, "float32", 3) as tf.Tensor1D;
    const scale = tf.randomNormal([6], 1, 0.1, "float32", 4) as tf.Tensor1D;
    const offset = tf.randomNormal([6], 0, 0.1, "float32", 5) as tf.Tensor1D;
    const dy = tf.randomNormal([3, 5, 4, 6], 0, 1, "float32", 6);
    const eps = 1e-3;
    const grads = tf.grads((a, m, v, s, o) => tf.batchNorm(a as tf.Tensor4D, m, v, o, s, eps))([
      x,
      mean,
      variance,
      scale,
      offset,
    ], dy);
    const expected = tf.tidy(() => {
      const inv = tf.rsqrt(tf.add(variance, eps));
      const tiled = tf.tile(tf.reshape(inv, [1, 1, 1, 6]), [3, 5, 4, 1]);
      const axes = [0, 1, 2];
      const xm = tf.sub(x, mean);
      const dys = tf.mul(dy, scale);
      const rcube = tf.mul(tf.mul(tf.mul(inv, inv), inv), -0.5);
      return [
        tf.mul(tf.mul(dy, tiled), scale),
        tf.sum(tf.mul(tf.mul(inv, -1), dys), axes),
        tf.sum(tf.mul(tf.mul(rcube, xm), dys), axes),
        tf.sum(tf.mul(dy, tf.mul(xm, inv)), axes),
        tf.sum(dy, axes),
      ];
    });
    // Ours is registered (tfjs-layers re-registers tfjs's own when it loads): no Tile runs.
    const profile = await tf.profile(() =>
      tf.grads((a: tf.Tensor) => tf.batchNorm(a as tf.Tensor4D, mean, variance, offset, scale))([
        x,
      ], dy)
    );
    assert.ok(!profile.kernelNames.includes("Tile"), `kernels: ${profile.kernelNames.join(", ")}`);
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(await grads[i].data(), await expected[i].data(), `gradient ${i}`);
    }
    tf.dispose([x, mean, variance, scale, offset, dy, ...grads, ...expected]);
  });
}
