// Cast on wasm: to the same dtype it shares the input's data (no copy) and outlives the input;
// to another dtype it converts as before.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { useBackend } from "../../mod.ts";

Deno.test("Cast on wasm to the same dtype shares the data and survives the input's disposal", async () => {
  await useBackend("wasm");
  for (const dtype of ["float32", "int32"] as const) {
    const x = tf.tensor1d([1.5, -2, 3], dtype);
    const before = tf.backend().numDataIds();
    const y = tf.cast(x, dtype);
    assert.equal(tf.backend().numDataIds(), before, "no new buffer");
    x.dispose();
    assert.deepEqual(Array.from(y.dataSync()), dtype === "float32" ? [1.5, -2, 3] : [1, -2, 3]);
    y.dispose();
  }
});

Deno.test("Cast on wasm to another dtype still converts", async () => {
  await useBackend("wasm");
  const x = tf.tensor1d([1.7, -2.2, 0]);
  const i = tf.cast(x, "int32");
  const f = tf.cast(i, "float32");
  assert.equal(i.dtype, "int32");
  assert.deepEqual(Array.from(i.dataSync()), [1, -2, 0]);
  assert.deepEqual(Array.from(f.dataSync()), [1, -2, 0]);
  tf.dispose([x, i, f]);
});
