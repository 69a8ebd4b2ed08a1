// MaxPoolGrad's 2×2 path on wasm: our SIMD module against the TypeScript loops, bit for bit, for
// channel counts with and without a tail, odd sizes, ties, all-negative windows, a NaN and −0 in
// dy (wasm_kernels_test.ts compares the kernel with the cpu backend); and MaxPool's 2×2 kernel
// against the cpu backend.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../../mod.ts";
import { setMaxPoolGradSimd } from "../../lib/backend/_wasm_kernels/max_pool_grad.ts";
import { simdModule } from "../../lib/backend/_wasm_simd/_module.ts";
import { MAX_POOL_PLAIN, MAX_POOL_SHARED } from "../../lib/backend/_wasm_simd/max_pool_wasm.ts";

/** Values with many ties (a few levels), negatives, and a NaN and −0 in dy. */
function inputs(shape: number[], seed: number) {
  const size = shape.reduce((a, b) => a * b, 1);
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
  const x = Float32Array.from({ length: size }, () => Math.floor(next() * 5) - 3);
  return x;
}

function gradient(x: Float32Array, shape: number[], dyValues: Float32Array, outShape: number[]) {
  return tf.tidy(() =>
    tf.engine().runKernel("MaxPoolGrad", {
      dy: tf.tensor(dyValues, outShape),
      input: tf.tensor(x, shape),
      output: tf.zeros(outShape), // unused by this kernel
    }, { filterSize: [2, 2], strides: [2, 2], pad: "valid" }) as tf.Tensor
  );
}

Deno.test("MaxPoolGrad 2×2 on wasm: the SIMD module = the TypeScript loops, bit for bit", async (t) => {
  await useBackend("wasm");
  const module = simdModule(tf.backend(), { shared: MAX_POOL_SHARED, plain: MAX_POOL_PLAIN });
  assert.ok(module !== null, "the SIMD module loads on this engine");
  for (const shape of [[2, 4, 4, 1], [3, 6, 8, 4], [2, 5, 7, 10], [1, 8, 8, 16], [2, 9, 6, 23]]) {
    await t.step(JSON.stringify(shape), () => {
      const outShape = [shape[0], Math.floor(shape[1] / 2), Math.floor(shape[2] / 2), shape[3]];
      const x = inputs(shape, shape[3]);
      const dy = inputs(outShape, 7).map((v, i) => i === 3 ? NaN : i === 5 ? -0 : v - 0.5);
      const results = [true, false].map((simd) => {
        setMaxPoolGradSimd(simd);
        const dx = gradient(x, shape, dy, outShape);
        const bytes = new Uint8Array(dx.dataSync().slice().buffer);
        dx.dispose();
        return bytes;
      });
      setMaxPoolGradSimd(true);
      assert.deepEqual(results[0], results[1]);
    });
  }
});

Deno.test("MaxPool on wasm (our 2×2 kernel, and the built-in's other cases) = cpu, bit for bit", async () => {
  const cases: [[number, number, number, number], number, number, "valid" | "same"][] = [
    [[2, 8, 8, 1], 2, 2, "valid"],
    [[3, 16, 12, 10], 2, 2, "valid"], // a tail of 2 channels
    [[1, 6, 6, 23], 2, 2, "valid"],
    [[2, 4, 4, 3], 2, 2, "valid"], // fewer than 4 channels
    [[2, 7, 9, 4], 2, 2, "valid"], // odd sizes: the built-in kernel
    [[2, 8, 8, 5], 3, 2, "same"], // another pool: the built-in kernel
  ];
  for (const [shape, size, stride, pad] of cases) {
    const values = inputs(shape, shape[3] + 3);
    const results = [];
    for (const backend of ["cpu", "wasm"] as const) {
      await useBackend(backend);
      const out = tf.tidy(() =>
        tf.maxPool(tf.tensor(values, shape) as tf.Tensor4D, size, stride, pad)
      );
      results.push(out.dataSync() as Float32Array);
      out.dispose();
    }
    assert.deepEqual(Array.from(results[1]), Array.from(results[0]), `${shape} ${size}/${stride}`);
  }
});
