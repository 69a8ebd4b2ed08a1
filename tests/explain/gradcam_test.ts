import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import {
  createModel,
  ExplainError,
  featureMaps,
  findLayer,
  gradCam,
  gradCamBatch,
  listModels,
  useBackend,
} from "../../mod.ts";

/** Share of the heatmap's mass in the top-left quadrant. */
function topLeftShare(heatmap: Float32Array, height: number, width: number): number {
  let inside = 0;
  let total = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const v = heatmap[y * width + x];
      total += v;
      if (y < height / 2 && x < width / 2) inside += v;
    }
  }
  return inside / total;
}

Deno.test("gradCam: a logit that reads only the top-left quadrant puts the heatmap mass there", async () => {
  await useBackend("wasm");
  // Red detector and green detector (1×1 conv, the target), then only the top-left quadrant
  // reaches the logits; the photo is red noise there and green noise elsewhere.
  const input = tfl.input({ shape: [16, 16, 3] });
  const features = tfl.layers.conv2d({
    filters: 2,
    kernelSize: 1,
    activation: "relu",
    useBias: false,
    name: "features",
    weights: [tf.tensor4d([1, 0, 0, 1, 0, 0], [1, 1, 3, 2])],
  }).apply(input) as tfl.SymbolicTensor;
  const quadrant = tfl.layers.cropping2D({ cropping: [[0, 8], [0, 8]] }).apply(features);
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(quadrant);
  const logits = tfl.layers.dense({
    units: 2,
    weights: [tf.tensor2d([[1, 0], [0, 1]]), tf.zeros([2])],
  }).apply(pooled) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: logits });
  const pixels = new Float32Array(16 * 16 * 3);
  let seed = 7;
  const noise = () => ((seed = (seed * 1103515245 + 12345) >>> 0) % 1000) / 1000;
  for (let y = 0; y < 16; y++) {
    for (let x = 0; x < 16; x++) {
      const channel = y < 8 && x < 8 ? 0 : 1;
      pixels[(y * 16 + x) * 3 + channel] = 0.5 + 0.5 * noise();
    }
  }
  const image = tf.tensor3d(pixels, [16, 16, 3]);
  const result = await gradCam(model, image, { layer: "features" });
  assert.equal(result.layer, "features");
  assert.equal(result.classIndex, 0);
  assert.equal(result.heatmap.length, 256);
  assert.ok(topLeftShare(result.heatmap, 16, 16) > 0.9, "mass in the top-left quadrant");
  assert.ok(Math.abs(Math.max(...result.heatmap) - 1) < 1e-6);
  const before = tf.memory().numTensors;
  await gradCam(model, image, { classIndex: 0, layer: "features" });
  assert.equal(tf.memory().numTensors, before, "no tensor leaks");
  image.dispose();
  model.dispose();
});

Deno.test("gradCam and featureMaps work on every zoo model and a nested transfer model", async () => {
  await useBackend("wasm");
  for (const { name } of listModels()) {
    if (name.endsWith("-example")) continue;
    const side = name === "lenet" ? 28 : 32;
    const channels = name === "lenet" ? 1 : 3;
    const model = createModel(name, { inputShape: [side, side, channels], numClasses: 3, seed: 1 });
    const image = tf.randomUniform([side, side, channels], 0, 1, "float32", 3);
    const ref = findLayer(model);
    assert.doesNotMatch(ref.layer.getClassName(), /Pooling/, name);
    const result = await gradCam(model, image);
    assert.equal(result.heatmap.length, side * side, name);
    assert.ok(result.heatmap.every((v) => v >= 0 && v <= 1 && Number.isFinite(v)), name);
    const maps = await featureMaps(model, image, ref.path);
    assert.equal(maps.data.length, maps.height * maps.width * maps.channels, name);
    image.dispose();
    model.dispose();
  }
  const base = tfl.sequential({
    name: "base",
    layers: [tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, name: "c1" })],
  });
  const model = tfl.sequential({
    layers: [base, tfl.layers.globalAveragePooling2d({}), tfl.layers.dense({ units: 2 })],
  });
  const image = tf.randomUniform([8, 8, 3]);
  assert.equal(findLayer(model).path, "base/c1");
  const result = await gradCam(model, image, { layer: "base/c1" });
  assert.equal(result.layer, "base/c1");
  assert.deepEqual([result.cam.height, result.cam.width], [6, 6]);
  assert.throws(() => findLayer(model, "nope"), ExplainError);
  image.dispose();
  model.dispose();
});

Deno.test("gradCamBatch: one pass gives each image's gradCam heatmap, and no tensor outlives it", async () => {
  await useBackend("wasm");
  const model = createModel("compact-cnn", { inputShape: [16, 16, 3], numClasses: 4, seed: 3 });
  const images = tf.randomUniform([5, 16, 16, 3], -1, 1, "float32", 11) as tf.Tensor4D;
  const classIndices = [0, 3, 1, 2, 3];
  const before = tf.memory().numTensors;
  const batch = await gradCamBatch(model, images, { classIndices });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(batch.classIndices, classIndices);
  for (let i = 0; i < 5; i++) {
    const one = tf.slice(images, [i, 0, 0, 0], [1, 16, 16, 3]);
    const single = await gradCam(model, one, { classIndex: classIndices[i] });
    one.dispose();
    assert.equal(single.layer, batch.layer);
    const worst = Math.max(...single.heatmap.map((v, j) => Math.abs(v - batch.heatmaps[i][j])));
    assert.ok(worst < 1e-4, `image ${i}: ${worst}`);
  }
  // Without classes: each image's predicted class.
  const argMax = tf.tidy(() => tf.argMax(model.predict(images) as tf.Tensor, 1));
  const predicted = [...argMax.dataSync()];
  argMax.dispose();
  assert.deepEqual((await gradCamBatch(model, images)).classIndices, predicted);
  assert.equal(tf.memory().numTensors, before);
  const flat = tfl.sequential({
    layers: [tfl.layers.flatten({ inputShape: [16, 16, 3] }), tfl.layers.dense({ units: 4 })],
  });
  const withFlat = tf.memory().numTensors; // its weights
  await assert.rejects(() => gradCamBatch(flat, images), ExplainError);
  assert.equal(tf.memory().numTensors, withFlat);
  images.dispose();
  flat.dispose();
  model.dispose();
});
