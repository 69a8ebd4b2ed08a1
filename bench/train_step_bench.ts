// One LeNet training step (batch 64, 28×28×1, Adam) per backend. img/s = 64 / (time per step).
// Run: deno bench --allow-read bench/train_step_bench.ts
import * as tf from "@tensorflow/tfjs-core";
import { createModel, createTrainStep, useBackend } from "../mod.ts";

const BATCH = 64;

async function lenetStep(backend: "wasm") {
  await useBackend(backend);
  const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10 });
  const step = createTrainStep(model, tf.train.adam(1e-3), 10);
  const images = tf.randomNormal([BATCH, 28, 28, 1], 0, 1, "float32", 1) as tf.Tensor4D;
  const labels = tf.tensor1d(Array.from({ length: BATCH }, (_, i) => i % 10), "int32");
  return () => {
    const loss = step(images, labels);
    loss.dataSync();
    loss.dispose();
  };
}

const wasmStep = await lenetStep("wasm");
Deno.bench({
  name: "lenet train step, wasm, batch 64 (28×28×1)",
  group: "lenet-train-step",
  baseline: true,
  warmup: 20,
  n: 200,
  fn: wasmStep,
});
