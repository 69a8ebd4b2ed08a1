// A real WebGPU run on this machine's adapter (lavapipe or llvmpipe on our CPU-only machines, no
// flag needed in Deno 2.9): one small convolution forward and backward, compared with cpu. The op
// count is kept small because every new op costs a shader compile on a software adapter.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend, webGpuAdapterInfo } from "../../mod.ts";
import { adapterLine } from "./_parity_cases.ts";

const adapter = await navigator.gpu?.requestAdapter().catch(() => null);

async function convForwardBackward(x: tf.Tensor4D, filter: tf.Tensor4D) {
  const outputs = tf.tidy(() => {
    const f = (a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.relu(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, "same")));
    const [dx, dw] = tf.grads(f)([x, filter]);
    return [tf.conv2d(x, filter, 2, "same"), dx, dw];
  });
  // WebGPU has no synchronous read in Deno (tfjs's readSync needs an OffscreenCanvas).
  const values = await Promise.all(outputs.map(async (t) => Array.from(await t.data())));
  tf.dispose([...outputs, x, filter]);
  return values;
}

Deno.test({
  name: `WebGPU conv2d forward and backward match cpu on ${adapterLine}`,
  ignore: adapter == null,
  // tfjs-webgpu keeps buffer-mapping promises and the device open beyond one test.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    await useBackend("cpu");
    const xValues = tf.tidy(() =>
      tf.randomNormal([2, 7, 7, 3], 0, 1, "float32", 1).dataSync().slice()
    );
    const wValues = tf.tidy(() =>
      tf.randomNormal([3, 3, 3, 4], 0, 1, "float32", 2).dataSync().slice()
    );
    const expected = await convForwardBackward(
      tf.tensor4d(xValues, [2, 7, 7, 3]),
      tf.tensor4d(wValues, [3, 3, 3, 4]),
    );

    await useBackend("webgpu");
    assert.ok(webGpuAdapterInfo() !== null, "our factory created the device");
    const actual = await convForwardBackward(
      tf.tensor4d(xValues, [2, 7, 7, 3]),
      tf.tensor4d(wValues, [3, 3, 3, 4]),
    );
    for (const [i, name] of ["forward", "input gradient", "filter gradient"].entries()) {
      const scale = Math.max(...expected[i].map(Math.abs));
      const maxError = Math.max(...expected[i].map((v, j) => Math.abs(v - actual[i][j])));
      assert.ok(maxError / scale < 1e-4, `${name}: relative error ${maxError / scale}`);
    }
    await useBackend("cpu");
  },
});
