import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  createModel,
  cubicSparsity,
  DataLoader,
  fit,
  InMemoryDataset,
  MagnitudePruner,
  mergeCallbacks,
  pruneChannels,
  PruningError,
  sparsityOf,
  useBackend,
} from "../../mod.ts";

Deno.test("cubicSparsity: TF MOT's PolynomialDecay(power 3) from begin to end", () => {
  const s = (e: number) => cubicSparsity(e, { target: 0.8, beginEpoch: 1, endEpoch: 5 });
  assert.equal(s(0), 0);
  assert.equal(s(1), 0);
  assert.ok(Math.abs(s(2) - 0.8 * (1 - 0.75 ** 3)) < 1e-12);
  assert.equal(s(5), 0.8);
  assert.equal(s(7), 0.8);
  for (let e = 1; e < 5; e++) assert.ok(s(e + 1) > s(e)); // monotone
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

for (const scope of ["global"] as const) {
  Deno.test(`MagnitudePruner (${scope}): sparsity follows the schedule and holds through Adam steps`, async () => {
    await useBackend("wasm");
    const model = createModel("compact-cnn", { inputShape: [16, 16, 3], numClasses: 4, seed: 1 });
    const pruner = new MagnitudePruner(model, { sparsity: 0.6, epochs: 3, scope });
    const seen: number[] = [];
    const before = tf.memory().numTensors;
    await fit(model, new DataLoader(data(), { batchSize: 8, numWorkers: 0 }), {
      epochs: 3,
      numClasses: 4,
      optimizer: { name: "adam", lr: 1e-2 }, // momentum would regrow unmasked zeros
      inputTransform: scale,
      callbacks: mergeCallbacks(pruner.callbacks(), {
        onEpochEnd: () => void seen.push(sparsityOf(model)),
      }),
    });
    // Each epoch ends at least as sparse as its schedule (a few weights may be exactly zero).
    for (const [epoch, s] of seen.entries()) {
      assert.ok(s >= pruner.sparsityAt(epoch) - 1e-3, `epoch ${epoch}: ${s}`);
      assert.ok(s < pruner.sparsityAt(epoch) + 0.02, `epoch ${epoch}: ${s}`);
    }
    assert.ok(Math.abs(seen[2] - 0.6) < 0.01);
    pruner.dispose();
    assert.equal(tf.memory().numTensors, before);
    model.dispose();
  });
}

Deno.test("MagnitudePruner: per-layer scope prunes every kernel to the target", async () => {
  await useBackend("cpu");
  const model = createModel("compact-cnn", { inputShape: [16, 16, 3], numClasses: 4, seed: 1 });
  const pruner = new MagnitudePruner(model, { sparsity: 0.5, epochs: 1, scope: "layer" });
  pruner.finish();
  for (const w of model.weights.filter((w) => /kernel/.test(w.name))) {
    const values = w.read().dataSync();
    const zeros = values.filter((v) => v === 0).length / values.length;
    assert.ok(Math.abs(zeros - 0.5) < 0.02, `${w.name}: ${zeros}`);
  }
  assert.throws(() => new MagnitudePruner(model, { sparsity: 1, epochs: 1 }), PruningError);
  pruner.dispose();
  model.dispose();
});

Deno.test("pruneChannels: compact-cnn keeps its outputs' shape, is smaller and computes the kept filters", async () => {
  await useBackend("cpu");
  const model = createModel("compact-cnn", { inputShape: [32, 32, 3], numClasses: 10, seed: 2 });
  const { model: small, pruned } = await pruneChannels(model, { ratio: 0.5 });
  assert.deepEqual(Object.values(pruned).map(([k, n]) => [k, n]), [[8, 16], [16, 32], [32, 64]]);
  assert.ok(small.countParams() < 0.4 * model.countParams());
  const x = tf.randomUniform([2, 32, 32, 3], 0, 1, "float32", 3);
  const [a, b] = [model.predict(x) as tf.Tensor, small.predict(x) as tf.Tensor];
  assert.deepEqual(a.shape, b.shape);
  tf.dispose([a, b]);
  // Ratio 0 is the same network: the same outputs.
  const { model: same } = await pruneChannels(model, { ratio: 0 });
  const [c, d] = [model.predict(x) as tf.Tensor, same.predict(x) as tf.Tensor];
  assert.ok(tf.max(tf.abs(tf.sub(c, d))).dataSync()[0] < 1e-5);
  tf.dispose([c, d, x]);
  same.dispose();
  small.dispose();
  model.dispose();
});

Deno.test("pruneChannels: removing filters whose weights are zero changes nothing, and halves the work", async () => {
  await useBackend("wasm");
  const model = createModel("compact-cnn", { inputShape: [32, 32, 3], numClasses: 10, seed: 2 });
  // Zero the weakest half of each conv's filters (and their BN shift), so pruning is exact.
  for (const layer of model.layers.filter((l) => l.getClassName() === "Conv2D")) {
    const [kernel] = layer.getWeights();
    const filters = kernel.shape[3]!;
    const mask = tf.tidy(() =>
      tf.reshape(tf.concat([tf.ones([filters / 2]), tf.zeros([filters / 2])]), [1, 1, 1, filters])
    );
    const masked = tf.mul(kernel, mask);
    layer.setWeights([masked]);
    tf.dispose([mask, masked]);
  }
  const { model: small } = await pruneChannels(model, { ratio: 0.5 });
  const x = tf.randomUniform([8, 32, 32, 3], 0, 1, "float32", 3);
  const [a, b] = [model.predict(x) as tf.Tensor, small.predict(x) as tf.Tensor];
  // BatchNorm of a zero filter is a constant (its beta); with beta 0 and ReLU it contributes 0.
  assert.ok(tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] < 1e-4);
  tf.dispose([a, b]);
  // Faster by construction, not by a stopwatch (timings belong in bench/compress.ts): the
  // convolutions' multiply-adds, which dominate the forward pass, drop by more than half.
  const convMacs = (m: typeof model) =>
    m.layers.filter((l) => l.getClassName() === "Conv2D").reduce((sum, l) => {
      const [kh, kw, cin, cout] = l.getWeights()[0].shape;
      const [, h, w] = l.outputShape as number[];
      return sum + kh * kw * cin * cout * h * w;
    }, 0);
  assert.ok(convMacs(small) < convMacs(model) / 2, `${convMacs(small)} vs ${convMacs(model)}`);
  assert.ok(small.countParams() < model.countParams() / 2);
  x.dispose();
  small.dispose();
  model.dispose();
});
