import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { useBackend } from "../../lib/backend/mod.ts";
import { createModel, listModels } from "../../lib/models/mod.ts";
import { createTrainStep } from "../../lib/train/mod.ts";

const trainable = (model: LayersModel) =>
  model.trainableWeights.reduce((sum, w) => sum + w.read().size, 0);

Deno.test("every architecture the issue names is registered", () => {
  assert.deepEqual(listModels().map((m) => m.name), [
    "cifar-cnn",
    "compact-cnn",
    "efficientnet-b0",
    "lenet",
    "mobilenetv2",
    "mobilenetv3-large",
    "resnet18",
    "resnet50",
    "small-cnn",
    "vgg11-bn",
  ]);
  assert.throws(
    () => createModel("resnet101", { inputShape: [32, 32, 3], numClasses: 10 }),
    /unknown model 'resnet101'; available: cifar-cnn, compact-cnn, efficientnet-b0, lenet, mobilenetv2, mobilenetv3-large, resnet18, resnet50, small-cnn, vgg11-bn/,
  );
});

Deno.test("trainable parameter counts match torchvision's (moving statistics excluded)", async () => {
  await useBackend("wasm");
  const cases: [string, [number, number, number], number, number][] = [
    ["resnet18", [224, 224, 3], 1000, 11_689_512], // torchvision.models.resnet18()
    ["mobilenetv2", [224, 224, 3], 1000, 3_504_872], // torchvision.models.mobilenet_v2()
    ["resnet50", [224, 224, 3], 1000, 25_557_032], // torchvision.models.resnet50()
    ["mobilenetv3-large", [224, 224, 3], 1000, 5_483_032], // .mobilenet_v3_large()
    ["efficientnet-b0", [224, 224, 3], 1000, 5_288_548], // .efficientnet_b0()
    ["resnet18", [32, 32, 3], 10, 11_173_962], // CIFAR stem: 3×3 conv, no max-pool
    ["lenet", [28, 28, 1], 10, 21_840],
  ];
  for (const [name, inputShape, numClasses, expected] of cases) {
    const model = createModel(name, { inputShape, numClasses });
    assert.equal(trainable(model), expected, `${name} ${inputShape}`);
    model.dispose();
  }
});

Deno.test("each model maps a batch to logits and takes a training step on wasm", async () => {
  await useBackend("wasm");
  const cases: [string, [number, number, number]][] = [
    ["lenet", [28, 28, 1]],
    ["small-cnn", [28, 28, 1]],
    ["cifar-cnn", [32, 32, 3]],
    ["vgg11-bn", [32, 32, 3]],
    ["resnet18", [32, 32, 3]],
    ["mobilenetv2", [32, 32, 3]],
    ["resnet50", [32, 32, 3]],
    ["mobilenetv3-large", [32, 32, 3]],
    ["efficientnet-b0", [32, 32, 3]],
  ];
  for (const [name, inputShape] of cases) {
    const model = createModel(name, { inputShape, numClasses: 7 });
    const images = tf.randomNormal([2, ...inputShape], 0, 1, "float32", 1) as tf.Tensor4D;
    const labels = tf.tensor1d([3, 5], "int32");
    const logits = model.predict(images) as tf.Tensor;
    assert.deepEqual(logits.shape, [2, 7], name);
    const optimizer = tf.train.sgd(0.01);
    const before = model.trainableWeights[0].read().dataSync().slice();
    const loss = createTrainStep(model, optimizer, 7)(images, labels);
    assert.ok(Number.isFinite(loss.dataSync()[0]), `${name}: finite loss`);
    const after = model.trainableWeights[0].read().dataSync();
    assert.notDeepEqual(after, before, `${name}: the first layer's weights moved`);
    tf.dispose([images, labels, logits, loss]);
    optimizer.dispose();
    model.dispose();
  }
});

Deno.test("the same seed builds the same weights for every model; another seed does not", async () => {
  await useBackend("wasm");
  for (const { name } of listModels()) {
    const inputShape: [number, number, number] = name === "lenet" ? [28, 28, 1] : [32, 32, 3];
    const build = (seed: number) => createModel(name, { inputShape, numClasses: 10, seed });
    const [a, b, c] = [build(3), build(3), build(4)];
    const flat = (m: typeof a) => m.getWeights().map((w) => w.dataSync());
    const [wa, wb, wc] = [flat(a), flat(b), flat(c)];
    assert.ok(wa.every((w, i) => w.every((v, j) => v === wb[i][j])), `${name}: same seed`);
    assert.ok(wa.some((w, i) => w.some((v, j) => v !== wc[i][j])), `${name}: other seed`);
    for (const m of [a, b, c]) m.dispose();
  }
});
