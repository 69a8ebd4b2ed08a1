import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  createModel,
  DataLoader,
  DistillationError,
  distillationLoss,
  fit,
  InMemoryDataset,
  useBackend,
} from "../../mod.ts";
import { pythonImports, runPython } from "../pretrained/_python.ts";

const softmax = (row: number[], t: number) => {
  const e = row.map((v) => Math.exp(v / t));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

Deno.test("distillationLoss: a tiny case computed by hand", async () => {
  await useBackend("cpu");
  const s = [[1, 0, -1], [0.5, 2, 0]];
  const t = [[0, 1, 3], [2, 0, 0]];
  const y = [0, 1];
  const T = 2, alpha = 0.3;
  let kl = 0, ce = 0;
  for (let i = 0; i < 2; i++) {
    const p = softmax(s[i], T), q = softmax(t[i], T);
    for (let c = 0; c < 3; c++) kl += q[c] * Math.log(q[c] / p[c]);
    ce -= Math.log(softmax(s[i], 1)[y[i]]);
  }
  const expected = alpha * T * T * kl / 2 + (1 - alpha) * ce / 2;
  const before = tf.memory().numTensors;
  const [st, tt, yt] = [tf.tensor2d(s), tf.tensor2d(t), tf.tensor1d(y, "int32")];
  const loss = distillationLoss(st, tt, yt, { temperature: T, alpha });
  assert.ok(Math.abs(loss.dataSync()[0] - expected) < 1e-5, `${loss.dataSync()[0]} vs ${expected}`);
  tf.dispose([st, tt, yt, loss]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("distillationLoss: bad settings are DistillationErrors", async () => {
  await useBackend("cpu");
  const x = tf.tensor2d([[0, 1]]);
  const y = tf.tensor1d([0], "int32");
  assert.throws(() => distillationLoss(x, x, y, { temperature: 0 }), DistillationError);
  assert.throws(() => distillationLoss(x, x, y, { alpha: 1.5 }), DistillationError);
  tf.dispose([x, y]);
});

const torch = await pythonImports("torch");
Deno.test({
  name: "distillationLoss: as PyTorch's kl_div(batchmean)·T² + cross_entropy",
  ignore: !torch,
  async fn() {
    await useBackend("cpu");
    const n = 5, k = 7, T = 4, alpha = 0.7;
    const s = Array.from(
      { length: n },
      (_, i) => Array.from({ length: k }, (_, c) => Math.sin(i * 7 + c * 3) * 3),
    );
    const t = Array.from(
      { length: n },
      (_, i) => Array.from({ length: k }, (_, c) => Math.cos(i * 5 + c) * 4),
    );
    const y = Array.from({ length: n }, (_, i) => (i * 3) % k);
    const script = `
import json, sys, torch
import torch.nn.functional as F
s, t, y, T, a = json.loads(sys.argv[1])
s, t, y = torch.tensor(s, dtype=torch.float64), torch.tensor(t, dtype=torch.float64), torch.tensor(y)
kd = F.kl_div(F.log_softmax(s / T, dim=1), F.softmax(t / T, dim=1), reduction="batchmean") * T * T
print(float(a * kd + (1 - a) * F.cross_entropy(s, y)))
`;
    const expected = Number(await runPython(["-c", script, JSON.stringify([s, t, y, T, alpha])]));
    const [st, tt, yt] = [tf.tensor2d(s), tf.tensor2d(t), tf.tensor1d(y, "int32")];
    const loss = distillationLoss(st, tt, yt, { temperature: T, alpha });
    const got = loss.dataSync()[0];
    assert.ok(Math.abs(got - expected) < 1e-5 * Math.max(1, expected), `${got} vs ${expected}`);
    tf.dispose([st, tt, yt, loss]);
  },
});

function tinyData() {
  const n = 12;
  return new InMemoryDataset({
    images: new Uint8Array(n * 28 * 28).map((_, i) => (i * 97 + (i >> 7)) % 256),
    labels: Int32Array.from({ length: n }, (_, i) => (i * 7) % 10),
    shape: [28, 28, 1],
    classes: [..."0123456789"],
  });
}

Deno.test("fit with distill: the teacher is untouched, micro-batches make the same update, no leak", async () => {
  await useBackend("wasm");
  const dataset = tinyData();
  const teacher = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed: 9 });
  const teacherBefore = teacher.getWeights().map((w) => Array.from(w.dataSync()));
  const train = async (accumulate: number) => {
    const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
    const { history } = await fit(
      model,
      new DataLoader(dataset, { batchSize: 12, numWorkers: 0 }),
      {
        epochs: 2,
        numClasses: 10,
        optimizer: { name: "sgd", lr: 0.05 },
        inputTransform: (x) => tf.div(tf.cast(x, "float32"), 255) as tf.Tensor4D,
        accumulate,
        distill: { teacher, temperature: 4, alpha: 0.7 },
      },
    );
    const values = model.getWeights().map((w) => Array.from(w.dataSync()));
    model.dispose();
    return { values, history };
  };
  const whole = await train(1);
  const before = tf.memory().numTensors;
  const split = await train(3);
  assert.equal(tf.memory().numTensors, before);
  assert.ok(Number.isFinite(whole.history[1].loss));
  assert.ok(Math.abs(whole.history[0].loss - split.history[0].loss) < 1e-4);
  for (const [i, w] of whole.values.entries()) {
    for (const [j, v] of w.entries()) assert.ok(Math.abs(v - split.values[i][j]) < 1e-5);
  }
  const teacherAfter = teacher.getWeights().map((w) => Array.from(w.dataSync()));
  assert.deepEqual(teacherAfter, teacherBefore);
  teacher.dispose();
});

Deno.test("fit with distill: the first step's loss is the distillation loss of the batch", async () => {
  await useBackend("wasm");
  const dataset = tinyData();
  const teacher = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed: 9 });
  const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed: 3 });
  const scale = (x: tf.Tensor4D) => tf.div(tf.cast(x, "float32"), 255) as tf.Tensor4D;
  const expected = tf.tidy(() => {
    const x = scale(tf.tensor4d(dataset.images as Uint8Array, [12, 28, 28, 1], "int32"));
    const s = model.apply(x, { training: true }) as tf.Tensor2D; // lenet has no dropout/BN
    const t = teacher.apply(x) as tf.Tensor2D;
    return distillationLoss(s, t, tf.tensor1d(dataset.labels, "int32"), {
      temperature: 2,
      alpha: 0.5,
    })
      .dataSync()[0];
  });
  const { history } = await fit(model, new DataLoader(dataset, { batchSize: 12, numWorkers: 0 }), {
    epochs: 1,
    numClasses: 10,
    optimizer: { name: "sgd", lr: 0.01 },
    inputTransform: scale,
    distill: { teacher, temperature: 2, alpha: 0.5 },
  });
  assert.ok(Math.abs(history[0].loss - expected) < 1e-5, `${history[0].loss} vs ${expected}`);
  await assert.rejects(
    fit(model, new DataLoader(dataset, { batchSize: 12, numWorkers: 0 }), {
      epochs: 1,
      numClasses: 10,
      optimizer: { name: "sgd", lr: 0.01 },
      mixupAlpha: 0.2,
      distill: { teacher },
    }),
    DistillationError,
  );
  model.dispose();
  teacher.dispose();
});
