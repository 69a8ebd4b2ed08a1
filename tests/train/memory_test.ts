import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  createModel,
  MemoryLimitError,
  planMicroBatches,
  useBackend,
  wasmHeapBytes,
} from "../../mod.ts";

Deno.test("planMicroBatches: the batch when it fits; micro-batches that fit when not; state untouched", async () => {
  await useBackend("wasm");
  const model = createModel("compact-cnn", { inputShape: [64, 64, 3], numClasses: 4, seed: 1 });
  const before = model.getWeights().map((w) => Array.from(w.dataSync()));
  const tensors = tf.memory().numTensors;
  const roomy = planMicroBatches(model, { batchSize: 32, numClasses: 4 })!;
  assert.deepEqual([roomy.microBatch, roomy.accumulate], [32, 1]);
  // A limit with room for about 10 more images than the heap holds now.
  const tight = planMicroBatches(model, {
    batchSize: 64,
    numClasses: 4,
    limitBytes: (wasmHeapBytes()! + 10 * roomy.imageBytes) / 0.8,
  })!;
  assert.ok(tight.accumulate > 1, `accumulate ${tight.accumulate}`);
  assert.ok(tight.microBatch * tight.accumulate >= 64);
  assert.ok(tight.microBytes <= tight.limitBytes * 0.8);
  assert.throws(
    () => planMicroBatches(model, { batchSize: 8, numClasses: 4, limitBytes: 1024 }),
    (error: Error) =>
      error instanceof MemoryLimitError && /one image's training step needs/.test(error.message),
  );
  // The throwaway steps changed no weight (batch-norm statistics included) and left no tensor.
  assert.deepEqual(model.getWeights().map((w) => Array.from(w.dataSync())), before);
  assert.equal(tf.memory().numTensors, tensors);
  model.dispose();
});

Deno.test("planMicroBatches says nothing off wasm", async () => {
  await useBackend("cpu");
  const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10 });
  assert.equal(planMicroBatches(model, { batchSize: 64, numClasses: 10 }), undefined);
  model.dispose();
});

Deno.test("planMicroBatches leaves MobileNetV2's weights as they were and finite (the probe's overflow)", async () => {
  // Zero images gave every batch norm zero variance, the probe's gradients overflowed to ±Inf,
  // and its step at lr 0 wrote w − 0·Inf = NaN into the weights: training began from NaN.
  await useBackend("wasm");
  const model = createModel("mobilenetv2", { inputShape: [64, 64, 3], numClasses: 2, seed: 1 });
  const before = model.getWeights().map((w) => Array.from(w.dataSync()));
  planMicroBatches(model, { batchSize: 32, numClasses: 2 });
  const after = model.getWeights().map((w) => Array.from(w.dataSync()));
  assert.ok(after.every((values) => values.every(Number.isFinite)), "every weight finite");
  assert.deepEqual(after, before);
  model.dispose();
});
