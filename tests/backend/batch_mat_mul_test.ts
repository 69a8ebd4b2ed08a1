// BatchMatMul on wasm with transposed operands (ours: the operand is transposed, then XNNPACK's
// product runs) against tfjs-backend-cpu, for every transpose combination, ranks 2 and 3, batch
// broadcasting, and shapes that are not multiples of any tile; and no buffer is left behind.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../../mod.ts";

const CASES: { a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
  { a: [64, 50], b: [320, 50], ta: false, tb: true }, // a dense layer's dx = dy·Wᵀ
  { a: [64, 320], b: [64, 50], ta: true, tb: false }, // its dW = xᵀ·dy
  { a: [7, 5], b: [3, 7], ta: true, tb: true },
  { a: [2, 9, 4], b: [2, 6, 9], ta: true, tb: true },
  { a: [3, 4, 9], b: [1, 5, 9], ta: false, tb: true }, // b broadcast over the batch
  { a: [1, 9, 4], b: [3, 9, 5], ta: true, tb: false }, // a broadcast over the batch
  { a: [5, 8], b: [8, 3], ta: false, tb: false }, // the built-in's own case, unchanged
];

async function product(
  backend: "cpu" | "wasm",
  a: number[],
  b: number[],
  ta: boolean,
  tb: boolean,
) {
  await useBackend(backend);
  const result = tf.tidy(() => {
    const x = tf.randomNormal(a, 0, 1, "float32", 1);
    const y = tf.randomNormal(b, 0, 1, "float32", 2);
    return tf.matMul(x as tf.Tensor3D, y as tf.Tensor3D, ta, tb);
  });
  const out = { values: result.dataSync().slice(), shape: result.shape };
  result.dispose();
  return out;
}

Deno.test("BatchMatMul on wasm: transposed operands = cpu, batches and broadcasts included", async (t) => {
  for (const { a, b, ta, tb } of CASES) {
    await t.step(
      `${JSON.stringify(a)}${ta ? "ᵀ" : ""} × ${JSON.stringify(b)}${tb ? "ᵀ" : ""}`,
      async () => {
        const expected = await product("cpu", a, b, ta, tb);
        const actual = await product("wasm", a, b, ta, tb);
        assert.deepEqual(actual.shape, expected.shape);
        let error = 0;
        for (let i = 0; i < expected.values.length; i++) {
          error = Math.max(error, Math.abs(actual.values[i] - expected.values[i]));
        }
        assert.ok(error <= 1e-4, `max error ${error}`);
      },
    );
  }
});

Deno.test("BatchMatMul on wasm frees its transposed copies", async () => {
  await useBackend("wasm");
  const x = tf.randomNormal([4, 6]);
  const y = tf.randomNormal([5, 4]);
  const before = tf.backend().numDataIds();
  for (let i = 0; i < 3; i++) tf.matMul(x, y, true, true).dispose();
  assert.equal(tf.backend().numDataIds(), before);
  tf.dispose([x, y]);
});
