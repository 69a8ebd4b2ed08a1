// Export size and test accuracy with weight quantization: LeNet trained with the MNIST
// protocol's settings (seed 1), exported as float32, float16 and uint8, loaded back with
// tf.loadLayersModel and evaluated on the protocol's 2,000 test digits.
// Run: deno run --allow-read=.,../shared --allow-write=data bench/export_quantization.ts
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { createModel, DataLoader, evaluate, fileHandler, fit, mnist, Subset } from "../mod.ts";

const digits = await mnist({ root: "../shared/datasets/mnist", train: false });
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);
const normalise = (x: tf.Tensor4D) =>
  tf.div(tf.sub(tf.div(tf.cast(x, "float32"), 255), 0.1307), 0.3081) as tf.Tensor4D;
const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
const train = new DataLoader(new Subset(digits, range(0, 8000)), {
  batchSize: 64,
  shuffle: true,
  seed: 1,
  numWorkers: 0,
});
await fit(model, train, {
  epochs: 5,
  numClasses: 10,
  optimizer: { name: "adam", lr: 1e-3 },
  inputTransform: normalise,
});
const test = new DataLoader(new Subset(digits, range(8000, 10000)), {
  batchSize: 500,
  numWorkers: 0,
});
const dir = await Deno.makeTempDir({ dir: "data", prefix: ".export-" });
const rows = [];
try {
  for (const quantization of ["none", "float16", "uint8"] as const) {
    await model.save(fileHandler(`${dir}/${quantization}`, { quantization }));
    const loaded = await tfl.loadLayersModel(fileHandler(`${dir}/${quantization}`));
    const result = await evaluate(loaded, test, { numClasses: 10, inputTransform: normalise });
    rows.push({
      quantization,
      weight_bytes: (await Deno.stat(`${dir}/${quantization}/weights.bin`)).size,
      test_accuracy: result.accuracy,
      test_loss: Math.round(result.loss * 10000) / 10000,
    });
    loaded.dispose();
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
console.log(JSON.stringify(rows));
