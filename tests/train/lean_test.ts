// The lean training path (lib/train/_lean.ts): the fused batch norm gives tfjs-layers' numbers and
// gradients, the capped ReLU is one clip, released dy tensors never break a backward pass, and the
// wasm Identity shares data instead of copying it.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { createModel, DataLoader, fit, InMemoryDataset, useBackend } from "../../mod.ts";
import { setLeanTraining, useLeanInference, useLeanTraining } from "../../lib/train/_lean.ts";
import { withDropoutSeed } from "../../lib/train/_dropout.ts";

function closeTo(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number) {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]));
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tolerance * scale,
      `element ${i}: ${actual[i]} vs ${expected[i]}`,
    );
  }
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`${backend}: fused training batch norm = moments + batchNorm, value, gradients, moving stats`, async () => {
    await useBackend(backend);
    useLeanTraining();
    const x = tf.randomNormal([3, 5, 4, 6], 2, 3, "float32", 1) as tf.Tensor4D;
    const w = tf.randomNormal([3, 5, 4, 6], 0, 1, "float32", 2);
    const gamma = tf.variable(tf.randomUniform([6], 0.5, 1.5, "float32", 3));
    const beta = tf.variable(tf.randomUniform([6], -0.5, 0.5, "float32", 4));
    const layer = tfl.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-5 });
    layer.build([null, 5, 4, 6]);
    layer.setWeights([gamma, beta, tf.zeros([6]), tf.ones([6])]);
    const lean = tf.variableGrads(
      () => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, w)) as tf.Scalar,
      layer.trainableWeights.map((v) => v.read() as tf.Variable),
    );
    const reference = tf.variableGrads(() => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      return tf.sum(tf.mul(tf.batchNorm(x, mean, variance, beta, gamma, 1e-5), w)) as tf.Scalar;
    }, [gamma, beta]);
    closeTo(lean.value.dataSync(), reference.value.dataSync(), 1e-4);
    const [dGamma, dBeta] = Object.values(lean.grads);
    closeTo(dGamma.dataSync(), reference.grads[gamma.name].dataSync(), 1e-4);
    closeTo(dBeta.dataSync(), reference.grads[beta.name].dataSync(), 1e-4);
    // dx, through tf.grad of the same expression
    const dxLean = tf.grad((input: tf.Tensor) =>
      tf.sum(tf.mul(layer.apply(input, { training: true }) as tf.Tensor, w))
    )(x);
    const dxReference = tf.grad((input: tf.Tensor) => {
      const { mean, variance } = tf.moments(input, [0, 1, 2]);
      return tf.sum(tf.mul(tf.batchNorm(input, mean, variance, beta, gamma, 1e-5), w));
    })(x);
    closeTo(dxLean.dataSync(), dxReference.dataSync(), 1e-4);
    // moving averages: v ← 0.9·v + 0.1·batch statistic (two updates above: two applies with grads,
    // one more through tf.grad)
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const [, , movingMean, movingVariance] = layer.getWeights();
    const decay = (start: number, value: number) => {
      let v = start;
      for (let i = 0; i < 2; i++) v = v - (v - value) * 0.1;
      return v;
    };
    closeTo(movingMean.dataSync(), Array.from(mean.dataSync(), (m) => decay(0, m)), 1e-5);
    closeTo(movingVariance.dataSync(), Array.from(variance.dataSync(), (v) => decay(1, v)), 1e-5);
    tf.dispose([x, w, gamma, beta, dxLean, dxReference, mean, variance]);
    tf.dispose([lean.value, reference.value, ...Object.values(lean.grads)]);
    tf.dispose(Object.values(reference.grads));
  });
}

Deno.test("wasm: Identity shares data, so a clone outlives its disposed source", async () => {
  await useBackend("wasm");
  const source = tf.tensor1d([1, 2, 3]);
  const copy = tf.clone(source);
  source.dispose();
  assert.deepEqual(Array.from(copy.dataSync()), [1, 2, 3]);
  copy.dispose();
});

Deno.test("wasm: a residual, batch-norm, ReLU6 network trains with the lean path, no tensor left", async () => {
  await useBackend("wasm");
  const images = new Uint8Array(16 * 32 * 32 * 3).map((_, i) => (i * 37) % 251);
  const labels = Int32Array.from({ length: 16 }, (_, i) => i % 2);
  const dataset = new InMemoryDataset({ images, shape: [32, 32, 3], labels, classes: ["a", "b"] });
  const loader = new DataLoader(dataset, { batchSize: 8, numWorkers: 0, shuffle: true, seed: 1 });
  for (const name of ["mobilenetv2", "resnet18"]) {
    const model = createModel(name, { inputShape: [32, 32, 3], numClasses: 2, seed: 1 });
    const before = tf.memory().numTensors;
    const { history } = await fit(model, loader, {
      epochs: 2,
      numClasses: 2,
      optimizer: { name: "adam", lr: 1e-3 },
    });
    assert.equal(tf.memory().numTensors, before, name);
    assert.ok(history.every((log) => Number.isFinite(log.loss)), name);
    model.dispose();
  }
});

for (const name of ["resnet18", "mobilenetv2"]) {
  Deno.test(`wasm: ${name} with its ReLUs fused into batch norms and adds trains as without`, async () => {
    await useBackend("wasm");
    useLeanTraining();
    const model = createModel(name, { inputShape: [16, 16, 3], numClasses: 4, seed: 2 });
    const x = tf.randomNormal([3, 16, 16, 3], 0, 1, "float32", 5) as tf.Tensor4D;
    const y = tf.oneHot(tf.tensor1d([0, 3, 1], "int32"), 4);
    const start = model.getWeights().map((w) => tf.clone(w));
    const step = (fuseActivations: boolean) => {
      setLeanTraining(true, { fuseActivations });
      try {
        model.setWeights(start);
        const loss = () =>
          tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor);
        const { value, grads } = tf.variableGrads(
          () => withDropoutSeed([7], loss) as tf.Scalar, // the same dropout mask both times
          model.trainableWeights.map((w) => w.read() as tf.Variable),
        );
        const result = {
          loss: value.dataSync()[0],
          grads: Object.values(grads).map((g) => Array.from(g.dataSync())),
          weights: model.getWeights().map((w) => Array.from(w.dataSync())), // moving stats too
        };
        tf.dispose([value, ...Object.values(grads)]);
        return result;
      } finally {
        setLeanTraining(true);
      }
    };
    const plain = step(false);
    const fused = step(true);
    assert.ok(
      Math.abs(fused.loss - plain.loss) <= 1e-5 * Math.abs(plain.loss),
      `loss ${fused.loss} vs ${plain.loss}`,
    );
    fused.grads.forEach((g, i) => closeTo(g, plain.grads[i], 1e-4));
    fused.weights.forEach((w, i) => closeTo(w, plain.weights[i], 1e-5));
    tf.dispose([x, y, ...start]);
    model.dispose();
  });
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`${backend}: conv + bias + ReLU as one fused kernel in training = tfjs' unfused ops, no tensor left`, async () => {
    await useBackend(backend);
    useLeanTraining();
    // lenet: two conv + bias + ReLU layers (the first one's input gradient is never needed);
    // small-cnn adds `same` padding.
    for (const [name, side] of [["lenet", 28], ["small-cnn", 28]] as const) {
      const model = createModel(name, { inputShape: [side, side, 1], numClasses: 10, seed: 3 });
      const x = tf.randomNormal([4, side, side, 1], 0, 1, "float32", 6) as tf.Tensor4D;
      const y = tf.oneHot(tf.tensor1d([0, 3, 1, 9], "int32"), 10);
      const step = (lean: boolean) => {
        setLeanTraining(lean);
        try {
          const loss = () =>
            tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor);
          const { value, grads } = tf.variableGrads(
            () => withDropoutSeed([7], loss) as tf.Scalar,
            model.trainableWeights.map((w) => w.read() as tf.Variable),
          );
          const result = {
            loss: value.dataSync()[0],
            grads: Object.values(grads).map((g) => Array.from(g.dataSync())),
          };
          tf.dispose([value, ...Object.values(grads)]);
          return result;
        } finally {
          setLeanTraining(true);
        }
      };
      const plain = step(false);
      const before = tf.memory().numTensors;
      const fused = step(true);
      assert.equal(tf.memory().numTensors, before, `${name}: tensors`);
      assert.ok(Math.abs(fused.loss - plain.loss) <= 1e-5 * Math.abs(plain.loss), name);
      assert.equal(fused.grads.length, plain.grads.length);
      fused.grads.forEach((g, i) => closeTo(g, plain.grads[i], 1e-4));
      tf.dispose([x, y]);
      model.dispose();
    }
  });
}

Deno.test("wasm inference: batch norm + ReLU6 one kernel, no padding copies, the same logits as tfjs-layers' ops; not under a gradient", async () => {
  await useBackend("wasm");
  useLeanInference();
  const model = createModel("mobilenetv2", { inputShape: [32, 32, 3], numClasses: 5, seed: 2 });
  // Moving statistics and affine parameters away from their initial 0 and 1.
  let seed = 7;
  for (const layer of model.layers.filter((l) => l.getClassName() === "BatchNormalization")) {
    layer.setWeights(
      layer.getWeights().map((w, k) =>
        tf.tidy(() => {
          const values = tf.randomUniform(w.shape, 0.5, 1.5, "float32", seed++);
          return k === 1 || k === 2 ? tf.sub(values, 1) : values; // β and the mean around 0
        })
      ),
    );
  }
  const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 3);
  const before = tf.memory().numTensors;
  const { result, kernelNames } = await tf.profile(() => model.predict(x) as tf.Tensor);
  const fused = (result as tf.Tensor).dataSync();
  (result as tf.Tensor).dispose();
  assert.equal(tf.memory().numTensors, before, "no tensor left");
  assert.ok(kernelNames.includes("DenovisionBatchNormInfer"), "the fused kernel ran");
  // Its zero paddings are its stride-2 convolutions' own padding.
  assert.ok(!kernelNames.includes("PadV2"), "no padding copied");
  assert.ok(model.layers.some((l) => l.getClassName() === "ZeroPadding2D"), "a model with padding");
  assert.ok(
    !kernelNames.includes("Relu") && !kernelNames.includes("ClipByValue"),
    kernelNames.join(),
  );
  setLeanTraining(false);
  let plain: Float32Array;
  try {
    plain = tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
  } finally {
    setLeanTraining(true);
  }
  closeTo(fused, plain, 1e-5);
  // With the tape on (Grad-CAM's gradients of an inference pass), tfjs' own ops and gradients.
  const { value, grads } = tf.variableGrads(
    () => tf.sum(model.apply(x, { training: false }) as tf.Tensor) as tf.Scalar,
  );
  closeTo([value.dataSync()[0]], [plain.reduce((a, b) => a + b, 0)], 1e-4);
  assert.ok(Object.values(grads).every((g) => g.dataSync().every(Number.isFinite)));
  tf.dispose([value, ...Object.values(grads), x]);
  model.dispose();
});
