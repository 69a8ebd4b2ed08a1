// Add your own architecture to the model zoo and create it by name.
//
// `registerModel(name, description, builder)` puts a builder in the registry, like timm's
// `@register_model`; from then on `createModel(name, options)` builds it, `listModels()` lists
// it, and a `trainRun` config (what `deno task train` runs) may name it as its `model`. The
// builder gets the input shape and class count from the dataset and runs under a seeded
// Math.random, so `seed` fixes its initial weights. Layers come from tfjs-layers, the library's
// own dependency; here a functional model with skip connections, trained for 4 epochs on 3,000
// images of the embedded shapes set (10 classes, generated in memory: no files).
//
// Run:    deno run --allow-read examples/custom_model.ts
// Prints: the registered models (tiny-resnet among them), its parameter count, one line per
//         epoch, and the accuracy on 1,000 held-out images (chance: 10%).
import * as tfl from "@tensorflow/tfjs-layers";
import {
  createModel,
  DataLoader,
  evaluate,
  fit,
  listModels,
  type ModelOptions,
  normalize,
  registerModel,
  selectBackend,
  shapes,
} from "../mod.ts";

/** A tiny ResNet: a stem, two residual blocks (the second strided), global pooling, a head. */
function tinyResnet({ inputShape, numClasses }: ModelOptions): tfl.LayersModel {
  const convBn = (x: tfl.SymbolicTensor, filters: number, strides = 1, relu = true) => {
    x = tfl.layers.conv2d({ filters, kernelSize: 3, strides, padding: "same", useBias: false })
      .apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.batchNormalization({ momentum: 0.9 }).apply(x) as tfl.SymbolicTensor;
    return relu ? tfl.layers.reLU().apply(x) as tfl.SymbolicTensor : x;
  };
  const block = (x: tfl.SymbolicTensor, filters: number, strides: number) => {
    const shortcut = strides === 1 ? x : convBn(x, filters, strides, false);
    const y = convBn(convBn(x, filters, strides), filters, 1, false);
    return tfl.layers.reLU().apply(tfl.layers.add().apply([y, shortcut])) as tfl.SymbolicTensor;
  };
  const input = tfl.input({ shape: inputShape });
  let x = convBn(input, 16, 2);
  x = block(block(x, 16, 1), 32, 2);
  x = tfl.layers.globalAveragePooling2d({}).apply(x) as tfl.SymbolicTensor;
  const logits = tfl.layers.dense({ units: numClasses }).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ name: "tiny_resnet", inputs: input, outputs: logits });
}

registerModel("tiny-resnet", "two residual blocks, 16/32 channels", tinyResnet);
console.log(`models: ${listModels().map((entry) => entry.name).join(", ")}`);

await selectBackend("wasm");
const model = createModel("tiny-resnet", { inputShape: [32, 32, 3], numClasses: 10, seed: 1 });
console.log(`tiny-resnet: ${model.countParams()} parameters, ${model.layers.length} layers`);

// The embedded shapes set (10 classes of 32×32 drawings, generated in memory), a subset of it.
const norm = normalize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
const loader = (train: boolean, size: number) =>
  new DataLoader(shapes({ train, size }), {
    batchSize: 64,
    shuffle: train,
    transform: norm,
    numWorkers: 0,
  });
await fit(model, loader(true, 3000), {
  epochs: 4,
  numClasses: 10,
  optimizer: { name: "adam", lr: 0.01 },
  callbacks: {
    onEpochEnd: (log) =>
      console.log(
        `epoch ${log.epoch + 1}: loss ${log.loss.toFixed(4)} accuracy ${
          (log.accuracy * 100).toFixed(1)
        }%`,
      ),
  },
});
const { accuracy } = await evaluate(model, loader(false, 1000), { numClasses: 10 });
console.log(`val accuracy ${(accuracy * 100).toFixed(1)}% (10 classes)`);
model.dispose();
