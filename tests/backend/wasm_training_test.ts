// Every layer type the model zoo trains with (conv, depthwise, batch norm, relu6, pooling,
// residual add, padding, dropout, dense) gets the same gradients on wasm as on cpu.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { useBackend } from "../../mod.ts";

function zooLikeModel(): tfl.LayersModel {
  const input = tfl.input({ shape: [13, 13, 3] });
  // No bias before batch norm, as in ResNet: its true gradient is 0, so only noise would differ.
  const stem = tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: "same", useBias: false })
    .apply(input) as tfl.SymbolicTensor;
  const normed = tfl.layers.batchNormalization().apply(stem) as tfl.SymbolicTensor;
  const relu = tfl.layers.reLU().apply(normed) as tfl.SymbolicTensor;
  const depthwise = tfl.layers.depthwiseConv2d({
    kernelSize: 3,
    strides: 2,
    padding: "same",
    depthMultiplier: 2,
    activation: "relu6",
  }).apply(relu) as tfl.SymbolicTensor;
  const pointwise = tfl.layers.conv2d({ filters: 8, kernelSize: 1, useBias: false })
    .apply(depthwise) as tfl.SymbolicTensor;
  const shortcut = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: "same" })
    .apply(relu) as tfl.SymbolicTensor;
  const sum = tfl.layers.add().apply([pointwise, shortcut]) as tfl.SymbolicTensor;
  const padded = tfl.layers.zeroPadding2d({ padding: 1 }).apply(sum) as tfl.SymbolicTensor;
  const valid = tfl.layers.conv2d({ filters: 6, kernelSize: 3, activation: "relu" })
    .apply(padded) as tfl.SymbolicTensor;
  const pooled = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(valid) as tfl.SymbolicTensor;
  const averaged = tfl.layers.averagePooling2d({ poolSize: 1 }).apply(pooled) as tfl.SymbolicTensor;
  const global = tfl.layers.globalAveragePooling2d({}).apply(averaged) as tfl.SymbolicTensor;
  const logits = tfl.layers.dense({ units: 5 }).apply(global) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: logits });
}

function lossOf(model: tfl.LayersModel, x: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  const logits = model.apply(x, { training: true }) as tf.Tensor;
  return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
}

async function gradients(backend: "cpu" | "wasm", model: tfl.LayersModel, x: number[][][][]) {
  await useBackend(backend);
  return tf.tidy(() => {
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3], "int32"), 5);
    const { value, grads } = tf.variableGrads(() => lossOf(model, tf.tensor4d(x), labels));
    const out: Record<string, Float32Array> = { loss: value.dataSync() as Float32Array };
    for (const [name, grad] of Object.entries(grads)) out[name] = grad.dataSync() as Float32Array;
    return out;
  });
}

Deno.test("a zoo-like network gets the same gradients on wasm as on cpu", async () => {
  await useBackend("cpu");
  const model = zooLikeModel();
  const x = tf.tidy(() =>
    tf.randomNormal([4, 13, 13, 3], 0, 1, "float32", 3).arraySync()
  ) as number[][][][];
  const expected = await gradients("cpu", model, x);
  const actual = await gradients("wasm", model, x);
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
  assert.equal(
    Object.keys(actual).length,
    model.trainableWeights.length + 1,
    "a gradient per weight",
  );
  for (const [name, values] of Object.entries(expected)) {
    let maxError = 0;
    let scale = 1e-6;
    for (let i = 0; i < values.length; i++) {
      maxError = Math.max(maxError, Math.abs(actual[name][i] - values[i]));
      scale = Math.max(scale, Math.abs(values[i]));
    }
    assert.ok(maxError / scale < 1e-4, `${name}: relative error ${maxError / scale}`);
  }
  model.dispose();
});

Deno.test("training steps on wasm keep tf.memory().numTensors flat", async () => {
  await useBackend("wasm");
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [12, 12, 1], filters: 4, kernelSize: 3, activation: "relu" }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.dropout({ rate: 0.25 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3 }),
    ],
  });
  const optimizer = tf.train.adam(1e-2);
  const x = tf.randomNormal([8, 12, 12, 1], 0, 1, "float32", 1);
  const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], "int32"), 3);
  const step = () => {
    const loss = optimizer.minimize(() => lossOf(model, x, labels), true) as tf.Scalar;
    const value = loss.dataSync()[0];
    loss.dispose();
    return value;
  };
  const first = step(); // creates the optimizer's slot variables
  const tensorsAfterFirstStep = tf.memory().numTensors;
  let last = first;
  for (let i = 0; i < 20; i++) last = step();
  assert.equal(tf.memory().numTensors, tensorsAfterFirstStep);
  assert.ok(last < first, `loss went down: ${first} → ${last}`);
  tf.dispose([x, labels]);
  optimizer.dispose();
  model.dispose();
});
