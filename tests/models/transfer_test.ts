import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import {
  createModel,
  DataLoader,
  evaluate,
  fileHandler,
  fit,
  freeze,
  InMemoryDataset,
  loadModel,
  mnist,
  replaceHead,
  splitFrozen,
  unfreeze,
  useBackend,
} from "../../mod.ts";
import { tempDir } from "../_tmp.ts";

const MNIST_ROOT = new URL("../../../shared/datasets/mnist", import.meta.url).pathname;
const scale = (x: tf.Tensor4D) => tf.div(tf.cast(x, "float32"), 255) as tf.Tensor4D;

Deno.test("load a saved model, freeze the backbone, train a new head for a new task", async () => {
  await useBackend("wasm");
  const digits = await mnist({ root: MNIST_ROOT, train: false });
  const subset = (from: number, to: number, label: (digit: number) => number, classes: string[]) =>
    new InMemoryDataset({
      images: digits.images.slice(from * 784, to * 784),
      labels: Uint8Array.from(digits.labels.slice(from, to), label),
      shape: [28, 28, 1],
      classes,
    });
  const dir = await tempDir("transfer-");
  // A backbone trained on the ten digits, saved in the TF.js format.
  const backbone = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed: 2 });
  const tenWay = subset(0, 2000, (d) => d, digits.classes as string[]);
  await fit(backbone, new DataLoader(tenWay, { batchSize: 64, shuffle: true, numWorkers: 0 }), {
    epochs: 2,
    numClasses: 10,
    optimizer: { name: "adam", lr: 2e-3 },
    inputTransform: scale,
  });
  await backbone.save(fileHandler(join(dir, "backbone")));

  // The new task: odd or even, from its own images.
  const loaded = await loadModel(join(dir, "backbone", "model.json"));
  assert.equal(freeze(loaded), loaded.layers.length - 1);
  const model = replaceHead(loaded, 2, { seed: 0 });
  assert.deepEqual(model.trainableWeights.map((w) => w.shape), [[50, 2], [2]]);
  const frozenBefore = loaded.layers[0].getWeights().map((w) => w.dataSync().slice());
  const parity = (from: number, to: number) => subset(from, to, (d) => d % 2, ["even", "odd"]);
  await fit(
    model,
    new DataLoader(parity(2000, 3000), { batchSize: 32, shuffle: true, numWorkers: 0 }),
    {
      epochs: 3,
      numClasses: 2,
      optimizer: { name: "adam", lr: 1e-2 },
      inputTransform: scale,
    },
  );
  const frozenAfter = loaded.layers[0].getWeights().map((w) => w.dataSync());
  assert.deepEqual(frozenAfter, frozenBefore, "the frozen conv layer did not move");
  const result = await evaluate(
    model,
    new DataLoader(parity(9000, 9500), { batchSize: 250, numWorkers: 0 }),
    {
      numClasses: 2,
      inputTransform: scale,
    },
  );
  assert.ok(result.accuracy > 0.85, `odd/even from frozen digit features: ${result.accuracy}`);
  assert.throws(() => freeze(loaded, { upTo: "nope" }), /no layer named 'nope'; layers: /);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("frozen batch-norm layers keep their statistics during training (TF2 Keras semantics)", async () => {
  await useBackend("wasm");
  const backbone = createModel("resnet18", { inputShape: [16, 16, 3], numClasses: 4, seed: 1 });
  freeze(backbone);
  const bn = backbone.layers.find((layer) => layer.getClassName() === "BatchNormalization")!;
  const before = bn.getWeights().map((w) => w.dataSync().slice());
  const data = new InMemoryDataset({
    images: Uint8Array.from({ length: 8 * 16 * 16 * 3 }, (_, i) => (i * 37) % 256),
    labels: Uint8Array.from([0, 1, 2, 3, 0, 1, 2, 3]),
    shape: [16, 16, 3],
    classes: ["a", "b", "c", "d"],
  });
  await fit(backbone, new DataLoader(data, { batchSize: 4, numWorkers: 0 }), {
    epochs: 1,
    numClasses: 4,
    optimizer: { name: "sgd", lr: 0.1 },
    inputTransform: scale,
  });
  assert.deepEqual(bn.getWeights().map((w) => w.dataSync()), before);
  backbone.dispose();
});

Deno.test("a frozen prefix splits off exactly; fit trains the head alone; unfreezing ends the split", async () => {
  await useBackend("wasm");
  const backbone = createModel("cifar-cnn", { inputShape: [32, 32, 3], numClasses: 10, seed: 3 });
  const model = replaceHead(backbone, 4, { dropout: 0.2 });
  freeze(model);
  const split = splitFrozen(model);
  assert.ok(split !== null);
  const x = tf.randomNormal([3, 32, 32, 3], 0, 1, "float32", 9) as tf.Tensor4D;
  const whole = model.predict(x) as tf.Tensor;
  const parts = split.head.predict(split.features.predict(x) as tf.Tensor) as tf.Tensor;
  assert.deepEqual(await parts.data(), await whole.data(), "prefix then head = the model");
  // Dropout trains, so the cut falls before it, not after.
  assert.equal(split.head.layers.some((l) => l.getClassName() === "Dropout"), true);

  const frozenBefore = split.features.getWeights().map((w) => w.dataSync().slice());
  const headBefore = split.head.getWeights().map((w) => w.dataSync().slice());
  const images = new Uint8Array(16 * 32 * 32 * 3).map((_, i) => (i * 37) % 256);
  const data = new InMemoryDataset({
    images,
    labels: Uint8Array.from({ length: 16 }, (_, i) => i % 4),
    shape: [32, 32, 3],
    classes: ["a", "b", "c", "d"],
  });
  await fit(model, new DataLoader(data, { batchSize: 8, numWorkers: 0 }), {
    epochs: 1,
    numClasses: 4,
    optimizer: { name: "adam", lr: 1e-2 },
  });
  split.features.getWeights().forEach((w, i) =>
    assert.deepEqual(w.dataSync(), frozenBefore[i], "frozen weights unchanged")
  );
  assert.ok(
    split.head.getWeights().some((w, i) => w.dataSync().some((v, j) => v !== headBefore[i][j])),
    "the head trained",
  );
  unfreeze(model);
  assert.equal(splitFrozen(model), null);
  tf.dispose([x, whole, parts]);
  model.dispose();
});

Deno.test("replaceHead's seed fixes the new classifier's initial weights", async () => {
  await useBackend("wasm");
  const backbone = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const headOf = (seed: number) =>
    replaceHead(backbone, 3, { seed }).layers.at(-1)!.getWeights()[0].dataSync();
  assert.deepEqual(headOf(7), headOf(7));
  assert.notDeepEqual(headOf(7), headOf(8));
  backbone.dispose();
});
