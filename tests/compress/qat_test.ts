import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import {
  activationQuantization,
  createModel,
  DataLoader,
  fakeQuantize,
  fileHandler,
  fit,
  InMemoryDataset,
  loadModel,
  QuantizationAwareTraining,
  QuantizationError,
  useBackend,
} from "../../mod.ts";
import { tempDir } from "../_tmp.ts";

Deno.test("fakeQuantize: 256 levels over [min, max], per tensor or channel, straight-through gradient", async () => {
  await useBackend("cpu");
  const x = tf.tensor2d([[0, -1], [0.31, 1.2], [0.9, 3]]); // columns are channels
  const perTensor = Array.from(fakeQuantize(x).dataSync());
  const scale = 4 / 255;
  const expected = [0, -1, 0.31, 1.2, 0.9, 3].map((v) => Math.round((v + 1) / scale) * scale - 1);
  perTensor.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-5));
  const perChannel = Array.from(fakeQuantize(x, { perChannel: true }).dataSync());
  const s0 = 0.9 / 127, s1 = 3 / 127; // symmetric: max |x| / 127 per column
  [0, 0.31, 0.9].forEach((v, i) =>
    assert.ok(Math.abs(perChannel[2 * i] - Math.round(v / s0) * s0) < 1e-5)
  );
  [-1, 1.2, 3].forEach((v, i) =>
    assert.ok(Math.abs(perChannel[2 * i + 1] - Math.round(v / s1) * s1) < 1e-5)
  );
  const c = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
  const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(fakeQuantize(v, { perChannel: true }), c)))(
    x,
  );
  assert.deepEqual(Array.from(grad.dataSync()), [1, 2, 3, 4, 5, 6]);
  tf.dispose([x, c, grad]);
});

function data(n = 16) {
  return new InMemoryDataset({
    images: new Uint8Array(n * 16 * 16 * 3).map((_, i) => (i * 97 + (i >> 5)) % 256),
    labels: Int32Array.from({ length: n }, (_, i) => i % 4),
    shape: [16, 16, 3],
    classes: ["a", "b", "c", "d"],
  });
}
const scale = (x: tf.Tensor4D) => tf.div(tf.cast(x, "float32"), 255) as tf.Tensor4D;
const kernels = (m: { weights: { name: string; read(): tf.Tensor }[] }) =>
  m.weights.filter((w) => /kernel/.test(w.name)).map((w) => w.read().dataSync() as Float32Array);

Deno.test("QAT: trains the last epoch fake-quantized, and its scales round-trip into TF.js uint8 weights", async () => {
  await useBackend("wasm");
  const model = createModel("compact-cnn", { inputShape: [16, 16, 3], numClasses: 4, seed: 1 });
  const qat = new QuantizationAwareTraining(model, { epochs: 2, lastEpochs: 1, weights: "tensor" });
  const enabled: boolean[] = [];
  const before = tf.memory().numTensors;
  const { history } = await fit(model, new DataLoader(data(), { batchSize: 8, numWorkers: 0 }), {
    epochs: 2,
    numClasses: 4,
    optimizer: { name: "adam", lr: 1e-3 },
    inputTransform: scale,
    callbacks: {
      ...qat.callbacks(),
      onEpochEnd: () => void enabled.push(qat.enabled),
    },
  });
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(enabled, [false, true]);
  assert.ok(history.every((h) => Number.isFinite(h.loss)));
  const ranges = qat.ranges();
  assert.equal(ranges.length, 4); // three convolutions and the head
  for (const { activation: [lo, hi] } of ranges) assert.ok(lo <= 0 && hi > lo);
  // The float weights moved off the grid while training; bake puts them on it.
  qat.bake();
  const baked = kernels(model);
  const dir = await tempDir("qat");
  await model.save(fileHandler(dir, { quantization: "uint8" }));
  const loaded = await loadModel(dir);
  const exported = kernels(loaded);
  for (const [i, w] of baked.entries()) {
    const step = (Math.max(...w) - Math.min(...w)) / 255;
    for (let j = 0; j < w.length; j++) {
      assert.ok(Math.abs(exported[i][j] - w[j]) < step * 1e-3, `kernel ${i}[${j}]`);
    }
  }
  // Post-training quantization of weights not on a grid moves them (by up to half a step).
  const fresh = createModel("compact-cnn", { inputShape: [16, 16, 3], numClasses: 4, seed: 1 });
  await fresh.save(fileHandler(dir, { quantization: "uint8" }));
  const ptq = await loadModel(dir);
  const [a, b] = [kernels(fresh)[0], kernels(ptq)[0]];
  assert.ok(a.some((v, j) => Math.abs(v - b[j]) > 1e-4));
  qat.dispose();
  tf.dispose([model, loaded, fresh, ptq].flatMap((m) => m.weights.map((w) => w.read())));
  await Deno.remove(dir, { recursive: true });
  assert.throws(() => new QuantizationAwareTraining(model, { epochs: 0 }), QuantizationError);
});

Deno.test("QAT: a layer reads its input on the uint8 grid of its observed range (ONNX's QuantizeLinear)", async () => {
  await useBackend("cpu");
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [3], units: 1, useBias: false, kernelInitializer: "ones" }),
    ],
  });
  const qat = new QuantizationAwareTraining(model, { epochs: 1 });
  qat.enabled = true;
  const x = tf.tensor2d([[-1, 0.5, 3]]);
  const y = model.apply(x, { training: true }) as tf.Tensor;
  assert.deepEqual(qat.ranges(), [{ layer: model.layers[0].name, activation: [-1, 3] }]);
  const { scale, zeroPoint } = activationQuantization([-1, 3]);
  assert.equal(zeroPoint, 64); // round(1 / (4 / 255)): 0 is a level of the grid
  const q = [-1, 0.5, 3].map((v) =>
    (Math.min(255, Math.max(0, Math.round(v / scale) + zeroPoint)) - zeroPoint) * scale
  );
  assert.ok(Math.abs(y.dataSync()[0] - (q[0] + q[1] + q[2])) < 1e-5);
  tf.dispose([x, y]);
  qat.dispose();
  model.dispose();
});
