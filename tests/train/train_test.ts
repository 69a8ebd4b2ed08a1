import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import {
  createModel,
  createOptimizer,
  crossEntropy,
  cutmix,
  DataLoader,
  evaluate,
  fit,
  focalLoss,
  mixup,
  NonFiniteLossError,
  normalize,
  reduceLROnPlateau,
  Rng,
  shapes,
  useBackend,
} from "../../mod.ts";

const close = (a: number, b: number, tol = 1e-5) =>
  assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);
const value = (t: tf.Tensor) => t.dataSync()[0];

Deno.test("cross-entropy: logits, label smoothing and class weights as PyTorch defines them", async () => {
  await useBackend("cpu");
  const logits = tf.tensor2d([[2, 1, 0], [0, 0, 3]]);
  const labels = tf.tensor1d([0, 1], "int32");
  const logSoftmax = tf.logSoftmax(logits).arraySync() as number[][];
  const nll = [-logSoftmax[0][0], -logSoftmax[1][1]];
  close(value(crossEntropy(logits, labels)), (nll[0] + nll[1]) / 2);
  // Smoothing ε: (1 − ε)·NLL + ε·mean over classes of −log p.
  const eps = 0.1;
  const uniform = logSoftmax.map((row) => -row.reduce((a, b) => a + b, 0) / 3);
  close(
    value(crossEntropy(logits, labels, { labelSmoothing: eps })),
    ((1 - eps) * nll[0] + eps * uniform[0] + (1 - eps) * nll[1] + eps * uniform[1]) / 2,
  );
  // Class weights: Σ w[y]·nll / Σ w[y].
  close(
    value(crossEntropy(logits, labels, { classWeights: [1, 3, 1] })),
    (nll[0] + 3 * nll[1]) / 4,
  );
  // Soft targets equal to one-hot give the same loss as hard labels.
  const soft = tf.cast(tf.oneHot(labels, 3), "float32") as tf.Tensor2D;
  close(value(crossEntropy(logits, soft)), value(crossEntropy(logits, labels)));
  // Focal loss with γ = 0 is cross-entropy.
  close(value(focalLoss(logits, labels, { gamma: 0 })), value(crossEntropy(logits, labels)));
});

Deno.test("SGD with momentum, Nesterov and weight decay follows PyTorch's update", async () => {
  await useBackend("cpu");
  const run = (options: Parameters<typeof createOptimizer>[0]) => {
    const w = tf.variable(tf.tensor1d([1, -2]), true, `w${Math.random()}`);
    const optimizer = createOptimizer(options);
    for (let i = 0; i < 3; i++) {
      const grads = { [w.name]: tf.tensor1d([0.5, 0.25]) };
      optimizer.applyGradients(grads, { [w.name]: w });
      tf.dispose(Object.values(grads));
    }
    const out = Array.from(w.dataSync());
    optimizer.dispose();
    w.dispose();
    return out;
  };
  // Reference, written out: g' = g + wd·p; v = μv + g'; p -= lr·(nesterov ? g' + μv : v).
  const reference = (lr: number, mu: number, wd: number, nesterov: boolean) => {
    const p = [1, -2];
    const v = [0, 0];
    const g = [0.5, 0.25];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 2; j++) {
        const gj = g[j] + wd * p[j];
        v[j] = mu * v[j] + gj;
        p[j] -= lr * (nesterov ? gj + mu * v[j] : v[j]);
      }
    }
    return p;
  };
  for (const nesterov of [false, true]) {
    const ours = run({ name: "sgd", lr: 0.1, momentum: 0.9, nesterov, weightDecay: 0.01 });
    const theirs = reference(0.1, 0.9, 0.01, nesterov);
    ours.forEach((x, j) => close(x, theirs[j]));
  }
});

Deno.test("AdamW decays weights decoupled from the gradient; Adam with weight decay does not", async () => {
  await useBackend("cpu");
  const step = (name: "adam" | "adamw") => {
    const w = tf.variable(tf.tensor1d([10]), true, `w${Math.random()}`);
    const optimizer = createOptimizer({ name, lr: 0.1, weightDecay: 0.5 });
    const grads = { [w.name]: tf.tensor1d([0]) }; // a zero gradient isolates the decay
    optimizer.applyGradients(grads, { [w.name]: w });
    const out = w.dataSync()[0];
    tf.dispose([w, ...Object.values(grads)]);
    optimizer.dispose();
    return out;
  };
  close(step("adamw"), 10 * (1 - 0.1 * 0.5), 1e-4); // p·(1 − lr·wd), then an Adam step of 0
  assert.ok(step("adam") < 10 - 0.09, "coupled L2: Adam normalises wd·p into a full-size step");
});

Deno.test("ReduceLROnPlateau waits `patience` epochs, then multiplies by `factor`", () => {
  const schedule = reduceLROnPlateau({ patience: 2, factor: 0.5 });
  const lrs: number[] = [];
  for (const loss of [1, 0.9, 0.95, 0.96, 0.97, 0.98]) {
    schedule.observe!(loss);
    lrs.push(schedule.lr(1, 0, 0, 1));
  }
  assert.deepEqual(lrs, [1, 1, 1, 1, 0.5, 0.5]);
});

Deno.test("MixUp and CutMix keep target rows summing to 1 and shapes unchanged", async () => {
  await useBackend("cpu");
  const images = tf.randomUniform([6, 8, 8, 3]) as tf.Tensor4D;
  const labels = tf.tensor1d([0, 1, 2, 3, 4, 0], "int32");
  for (const mix of [mixup, cutmix]) {
    const out = mix(images, labels, 5, 0.4, new Rng(3));
    assert.deepEqual(out.images.shape, [6, 8, 8, 3]);
    const rows = tf.sum(out.targets, -1).dataSync();
    rows.forEach((r) => close(r, 1));
    tf.dispose([out.images, out.targets]);
  }
});

function tinyModel(seed: number) {
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [32, 32, 3],
        filters: 8,
        kernelSize: 3,
        strides: 2,
        activation: "relu",
        kernelInitializer: tfl.initializers.glorotUniform({ seed }),
      }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({
        units: 10,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }),
      }),
    ],
  });
}

const transform = normalize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });

Deno.test("fit trains from a DataLoader, reads the loss every k steps, and keeps numTensors flat", async () => {
  await useBackend("wasm");
  const loader = new DataLoader(shapes({ size: 96 }), {
    batchSize: 16,
    shuffle: true,
    numWorkers: 0,
    transform,
  });
  const model = tinyModel(1);
  const counts: number[] = [];
  const steps: number[] = [];
  const { history } = await fit(model, loader, {
    epochs: 4,
    numClasses: 10,
    optimizer: { name: "adam", lr: 5e-3 },
    readEvery: 2,
    clipNorm: 1,
    mixupAlpha: 0.2,
    callbacks: {
      onStep: (info) => void steps.push(info.step),
      onEpochEnd: () => void counts.push(tf.memory().numTensors),
    },
  });
  assert.equal(history.length, 4);
  assert.deepEqual(steps.slice(0, 3), [2, 4, 6]);
  assert.ok(history[3].loss < history[0].loss, `loss went down: ${history.map((h) => h.loss)}`);
  assert.equal(counts[2], counts[1], "no tensor leak from epoch 2 on");
  assert.equal(counts[3], counts[1]);
  model.dispose();
});

Deno.test("early stopping stops after `patience` epochs and restores the best weights", async () => {
  await useBackend("wasm");
  const data = shapes({ size: 48 });
  const train = new DataLoader(data, { batchSize: 16, numWorkers: 0, transform });
  const validation = new DataLoader(data, { batchSize: 48, numWorkers: 0, transform });
  const model = tinyModel(2);
  let bestWeights: Float32Array[] = [];
  const result = await fit(model, train, {
    epochs: 30,
    numClasses: 10,
    // A learning rate far too high makes validation loss worsen soon.
    optimizer: { name: "sgd", lr: 3 },
    validation,
    earlyStopping: { monitor: "val_loss", patience: 2, restoreBestWeights: true },
    callbacks: {
      onEpochEnd: (log) => {
        if (log.epoch === 0 || (result_best(log.valLoss!))) {
          bestWeights = model.getWeights().map((w) => w.dataSync() as Float32Array);
        }
      },
    },
  });
  assert.ok(result.stoppedEarly, "stopped before 30 epochs");
  assert.ok(result.history.length < 30);
  const best = result.history.reduce((a, b) => (b.valLoss! < a.valLoss! ? b : a));
  assert.equal(result.bestEpoch, best.epoch);
  assert.deepEqual(model.getWeights().map((w) => w.dataSync()), bestWeights);
  model.dispose();
});

let lowest = Infinity;
function result_best(loss: number) {
  if (loss < lowest) {
    lowest = loss;
    return true;
  }
  return false;
}

Deno.test("evaluate reports loss, top-1/top-k, per-class metrics and the misclassified samples", async () => {
  await useBackend("wasm");
  const data = shapes({ size: 30, train: false });
  const loader = new DataLoader(data, { batchSize: 8, numWorkers: 0, transform });
  const model = createModel("cifar-cnn", { inputShape: [32, 32, 3], numClasses: 10, seed: 4 });
  const result = await evaluate(model, loader, { numClasses: 10, topK: 3 });
  assert.equal(result.confusion.reduce((a, b) => a + b, 0), 30);
  assert.equal(result.misclassified.length, Math.round(30 * (1 - result.accuracy)));
  assert.ok(result.topK >= result.accuracy);
  assert.equal(result.k, 3);
  assert.equal(result.report.perClass.length, 10);
  assert.equal(result.report.perClass[0].name, "circle");
  for (const m of result.misclassified) {
    assert.notEqual(m.truth, m.predicted);
    assert.equal(data.labelOf(m.index), m.truth);
    assert.ok(m.confidence > 0 && m.confidence <= 1);
  }
  model.dispose();
});

/** Whether two models hold bit-identical weights (a loop: deepEqual is slow on 400k floats). */
function sameWeights(a: tfl.LayersModel, b: tfl.LayersModel): boolean {
  const [x, y] = [a.getWeights(), b.getWeights()];
  return x.length === y.length && x.every((w, i) => {
    const [p, q] = [w.dataSync(), y[i].dataSync()];
    return p.length === q.length && p.every((v, j) => Object.is(v, q[j]));
  });
}

Deno.test("dropout is seeded per step: the same seed gives the same weights, another seed not", async () => {
  await useBackend("wasm");
  const data = shapes({ size: 96 });
  const train = async (seed: number) => {
    const net = createModel("small-cnn", { inputShape: [32, 32, 3], numClasses: 10, seed: 1 });
    const optimizer = createOptimizer({ name: "adam", lr: 1e-3 });
    const loader = new DataLoader(data, { batchSize: 32, shuffle: true, numWorkers: 0, transform });
    await fit(net, loader, { epochs: 2, numClasses: 10, optimizer, seed });
    optimizer.dispose();
    return net;
  };
  const [a, b, c] = [await train(5), await train(5), await train(6)];
  assert.ok(sameWeights(a, b), "same seed, same dropout masks");
  assert.ok(!sameWeights(a, c), "another seed, other masks");
  for (const net of [a, b, c]) net.dispose();
});

Deno.test("param groups: a group trains at lrScale × lr with its own state", async () => {
  await useBackend("cpu");
  const head = tf.variable(tf.tensor1d([1, 1]), true, "pg_head");
  const body = tf.variable(tf.tensor1d([1, 1]), true, "pg_body");
  const optimizer = createOptimizer({ name: "sgd", lr: 0.1 });
  optimizer.addParamGroup(["pg_body"], 0.1);
  const grads = { pg_head: tf.ones([2]), pg_body: tf.ones([2]) };
  optimizer.applyGradients(grads, { pg_head: head, pg_body: body });
  close(head.dataSync()[0], 0.9);
  close(body.dataSync()[0], 0.99);
  optimizer.lr = 1;
  optimizer.applyGradients(grads, { pg_head: head, pg_body: body });
  close(head.dataSync()[0], -0.1);
  close(body.dataSync()[0], 0.89);
  assert.deepEqual(optimizer.paramGroups, [{ names: ["pg_body"], lrScale: 0.1 }]);
  assert.throws(() => optimizer.addParamGroup(["pg_body"], 1), /already in a param group/);
  tf.dispose([head, body, ...Object.values(grads)]);
  optimizer.dispose();
});

Deno.test("a NaN loss stops fit with the epoch and step; clipping keeps exploding gradients finite", async () => {
  await useBackend("wasm");
  const data = shapes({ size: 64 });
  // Inputs ×1e4 make the first gradients huge: plain SGD at lr 1 blows the weights up.
  const explode = (x: tf.Tensor4D) => tf.mul(tf.cast(x, "float32"), 1e4) as tf.Tensor4D;
  const run = (clipNorm?: number) => {
    const model = createModel("cifar-cnn", { inputShape: [32, 32, 3], numClasses: 10, seed: 2 });
    const loader = new DataLoader(data, { batchSize: 16, numWorkers: 0 });
    const result = fit(model, loader, {
      epochs: 3,
      numClasses: 10,
      optimizer: { name: "sgd", lr: 1 },
      inputTransform: explode,
      readEvery: 1,
      clipNorm,
    });
    return result.finally(() => model.dispose());
  };
  const error = await run().then(() => null, (e) => e);
  assert.ok(error instanceof NonFiniteLossError, String(error));
  assert.equal(error.epoch, 0);
  assert.ok(error.step >= 1 && error.step <= 4);
  assert.match(error.message, /lower the learning rate, or clip gradients/);
  const clipped = await run(1);
  assert.ok(clipped.history.every((log) => Number.isFinite(log.loss)));
});
