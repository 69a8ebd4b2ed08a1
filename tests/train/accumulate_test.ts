import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { createModel, DataLoader, fit, InMemoryDataset, useBackend } from "../../mod.ts";
import { microBatches } from "../../lib/train/_batch_step.ts";

Deno.test("microBatches: near-equal ranges covering the batch", () => {
  assert.deepEqual(microBatches(12, 4), [[0, 3], [3, 3], [6, 3], [9, 3]]);
  assert.deepEqual(microBatches(12, 5), [[0, 3], [3, 3], [6, 2], [8, 2], [10, 2]]);
  assert.deepEqual(microBatches(3, 8), [[0, 1], [1, 1], [2, 1]]); // never an empty one
  assert.deepEqual(microBatches(5, 1), [[0, 5]]);
});

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`${backend}: N accumulated micro-batches make the same update as one batch (lenet, 1e-5)`, async () => {
    await useBackend(backend);
    const n = 12;
    const images = new Uint8Array(n * 28 * 28).map((_, i) => (i * 97 + (i >> 7)) % 256);
    const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % 10);
    const dataset = new InMemoryDataset({
      images,
      labels,
      shape: [28, 28, 1],
      classes: [..."0123456789"],
    });
    const weightsAfter = async (accumulate: number) => {
      const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
      await fit(model, new DataLoader(dataset, { batchSize: n, numWorkers: 0 }), {
        epochs: 2, // two updates: the second starts from the first's result
        numClasses: 10,
        optimizer: { name: "sgd", lr: 0.05, momentum: 0.9 },
        inputTransform: (x) => tf.div(tf.cast(x, "float32"), 255) as tf.Tensor4D,
        accumulate,
      });
      const values = model.getWeights().map((w) => Array.from(w.dataSync()));
      model.dispose();
      return values;
    };
    const whole = await weightsAfter(1);
    const before = tf.memory().numTensors;
    for (const accumulate of [4, 5]) {
      const parts = await weightsAfter(accumulate);
      let worst = 0;
      parts.forEach((w, i) =>
        w.forEach((v, j) => worst = Math.max(worst, Math.abs(v - whole[i][j])))
      );
      assert.ok(worst <= 1e-5, `accumulate ${accumulate}: max weight difference ${worst}`);
    }
    assert.equal(tf.memory().numTensors, before);
  });
}
