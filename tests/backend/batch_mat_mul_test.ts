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

const FUSED: {
  a: [number, number];
  b: [number, number];
  ta: boolean;
  tb: boolean;
  relu: boolean;
}[] = [
  { a: [64, 320], b: [320, 50], ta: false, tb: false, relu: true }, // LeNet's fc1
  { a: [64, 50], b: [50, 10], ta: false, tb: false, relu: false }, // its logits
  { a: [9, 7], b: [5, 9], ta: true, tb: true, relu: true },
  { a: [1, 13], b: [13, 1], ta: false, tb: false, relu: false }, // one row, one column
  { a: [17, 6], b: [6, 23], ta: false, tb: false, relu: true }, // odd tiles everywhere
];

Deno.test("_FusedMatMul on wasm (our SIMD kernel): bias + linear or ReLU = cpu", async (t) => {
  for (const { a, b, ta, tb, relu } of FUSED) {
    await t.step(`${a}${ta ? "ᵀ" : ""} × ${b}${tb ? "ᵀ" : ""}${relu ? " relu" : ""}`, async () => {
      const results = [];
      for (const backend of ["cpu", "wasm"] as const) {
        await useBackend(backend);
        const n = tb ? b[0] : b[1];
        const out = tf.tidy(() =>
          tf.fused.matMul({
            a: tf.randomNormal(a, 0, 1, "float32", 3) as tf.Tensor2D,
            b: tf.randomNormal(b, 0, 1, "float32", 4) as tf.Tensor2D,
            transposeA: ta,
            transposeB: tb,
            bias: tf.randomNormal([n], 0, 1, "float32", 5),
            activation: relu ? "relu" : "linear",
          })
        );
        results.push({ values: out.dataSync().slice(), shape: out.shape });
        out.dispose();
      }
      assert.deepEqual(results[1].shape, results[0].shape);
      let error = 0;
      for (let i = 0; i < results[0].values.length; i++) {
        error = Math.max(error, Math.abs(results[1].values[i] - results[0].values[i]));
      }
      assert.ok(error <= 1e-4, `max error ${error}`);
    });
  }
});

Deno.test("_FusedMatMul and BatchMatMul on wasm take rank-2 operands past our kernel's size limit (the lean dense path)", async () => {
  const [m, k, n] = [8, 4096, 520]; // 17 M multiply-adds: above SIMD_MATMUL_LIMIT, on XNNPACK
  const results = [];
  for (const backend of ["cpu", "wasm"] as const) {
    await useBackend(backend);
    const out = tf.tidy(() => {
      const a = tf.randomNormal([m, k], 0, 1, "float32", 6);
      const b = tf.randomNormal([k, n], 0, 1, "float32", 7);
      const bias = tf.randomNormal([n], 0, 1, "float32", 8);
      if (backend === "cpu") {
        return [tf.relu(tf.add(tf.matMul(a, b), bias)), tf.matMul(a, b)];
      }
      const attrs = { transposeA: false, transposeB: false };
      return [
        tf.engine().runKernel("_FusedMatMul", { a, b, bias }, { ...attrs, activation: "relu" }),
        tf.engine().runKernel("BatchMatMul", { a, b }, attrs),
      ] as tf.Tensor[];
    });
    results.push(out.map((t) => ({ shape: t.shape, values: t.dataSync().slice() })));
    tf.dispose(out);
  }
  for (const i of [0, 1]) {
    assert.deepEqual(results[1][i].shape, [m, n]);
    let error = 0;
    for (let j = 0; j < results[0][i].values.length; j++) {
      error = Math.max(error, Math.abs(results[1][i].values[j] - results[0][i].values[j]));
    }
    assert.ok(error <= 1e-2, `max error ${error}`); // sums of 4,096 products of N(0, 1)
  }
});
