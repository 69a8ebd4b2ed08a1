import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import {
  createModel,
  createOptimizer,
  DataLoader,
  evaluate,
  fileHandler,
  fit,
  loadCheckpoint,
  mnist,
  saveCheckpoint,
  Subset,
  useBackend,
} from "../../mod.ts";
import { recoverDir } from "../../lib/io/_atomic.ts";
import { tempDir } from "../_tmp.ts";

const MNIST_ROOT = new URL("../../../shared/datasets/mnist", import.meta.url).pathname;
const digits = await mnist({ root: MNIST_ROOT, train: false });
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
const scale = (x: tf.Tensor4D) => tf.div(tf.cast(x, "float32"), 255) as tf.Tensor4D;

Deno.test("export: model.json + weights.bin load back unchanged; float16 and uint8 shrink them", async () => {
  await useBackend("wasm");
  const dir = await tempDir("export-");
  const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed: 5 });
  await fit(
    model,
    new DataLoader(new Subset(digits, range(0, 512)), { batchSize: 64, numWorkers: 0 }),
    {
      epochs: 1,
      numClasses: 10,
      optimizer: { name: "adam", lr: 2e-3 },
      inputTransform: scale,
    },
  );
  const testLoader = new DataLoader(new Subset(digits, range(9000, 9500)), {
    batchSize: 250,
    numWorkers: 0,
  });
  const accuracy = async (m: tfl.LayersModel) =>
    (await evaluate(m, testLoader, { numClasses: 10, inputTransform: scale })).accuracy;
  const original = await accuracy(model);
  const sizes: Record<string, number> = {};
  for (const quantization of ["none", "float16", "uint8"] as const) {
    const path = join(dir, quantization);
    await model.save(fileHandler(path, { quantization }));
    sizes[quantization] = (await Deno.stat(join(path, "weights.bin"))).size;
    const json = JSON.parse(await Deno.readTextFile(join(path, "model.json")));
    assert.equal(json.format, "layers-model");
    assert.deepEqual(json.weightsManifest[0].paths, ["weights.bin"]);
    const loaded = await tfl.loadLayersModel(fileHandler(path));
    const restored = await accuracy(loaded);
    if (quantization === "none") {
      assert.deepEqual(
        loaded.getWeights().map((w) => w.dataSync()),
        model.getWeights().map((w) => w.dataSync()),
      );
      assert.equal(restored, original);
    } else {
      assert.ok(
        Math.abs(restored - original) <= 0.02,
        `${quantization}: ${original} → ${restored}`,
      );
    }
    loaded.dispose();
  }
  assert.equal(sizes.none, 21840 * 4);
  assert.equal(sizes.float16, 21840 * 2);
  assert.equal(sizes.uint8, 21840);
  model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a missing or foreign folder is a clear error", async () => {
  await assert.rejects(
    () => tfl.loadLayersModel(fileHandler("data/.test/no-such-model")),
    /model\.json: cannot read a TF\.js model/,
  );
  const optimizer = createOptimizer({ name: "sgd", lr: 0.1 });
  const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10 });
  await assert.rejects(
    () => loadCheckpoint("data/.test/no-such-checkpoint", { model, optimizer }),
    /not a checkpoint/,
  );
  model.dispose();
  optimizer.dispose();
});

for (const backend of ["wasm", "cpu"] as const) {
  Deno.test(`resuming after epoch 1 gives the uninterrupted run's weights bit for bit (${backend})`, async () => {
    await useBackend(backend);
    const dir = await tempDir("resume-");
    const data = new Subset(digits, range(0, backend === "cpu" ? 64 : 512));
    const loader = () =>
      new DataLoader(data, { batchSize: 32, shuffle: true, seed: 3, numWorkers: 0 });
    const options = { numClasses: 10, inputTransform: scale, mixupAlpha: 0.2, seed: 3 };
    const run = async (
      optimizer: ReturnType<typeof createOptimizer>,
      model: tfl.LayersModel,
      from: number,
      to: number,
    ) => await fit(model, loader(), { ...options, optimizer, epochs: to, initialEpoch: from });

    const straight = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed: 7 });
    const straightOptimizer = createOptimizer({ name: "adam", lr: 1e-3 });
    await run(straightOptimizer, straight, 0, 3);
    const expected = straight.getWeights().map((w) => w.dataSync());

    const first = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed: 7 });
    const firstOptimizer = createOptimizer({ name: "adam", lr: 1e-3 });
    await run(firstOptimizer, first, 0, 1);
    await saveCheckpoint(join(dir, "last"), {
      model: first,
      optimizer: firstOptimizer,
      state: { epoch: 1 },
    });

    // A different initialisation proves the checkpoint, not the seed, supplies the weights.
    const resumed = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed: 99 });
    const resumedOptimizer = createOptimizer({ name: "adam", lr: 1e-3 });
    const state = await loadCheckpoint(join(dir, "last"), {
      model: resumed,
      optimizer: resumedOptimizer,
    });
    assert.equal(state.epoch, 1);
    await run(resumedOptimizer, resumed, state.epoch, 3);
    const actual = resumed.getWeights().map((w) => w.dataSync());
    assert.equal(actual.length, expected.length);
    for (let i = 0; i < expected.length; i++) {
      assert.deepEqual(actual[i], expected[i], `weight ${i}`);
    }
    for (const o of [straightOptimizer, firstOptimizer, resumedOptimizer]) o.dispose();
    for (const m of [straight, first, resumed]) m.dispose();
    await Deno.remove(dir, { recursive: true });
  });
}

for (const backend of ["wasm", "cpu"] as const) {
  Deno.test(`an interrupt mid-epoch saves progress that resumes to the same weights (${backend})`, async () => {
    await useBackend(backend);
    const dir = await tempDir("interrupt-");
    const data = new Subset(digits, range(0, backend === "cpu" ? 64 : 256));
    const loader = () =>
      new DataLoader(data, { batchSize: 32, shuffle: true, seed: 4, numWorkers: 0 });
    const options = { numClasses: 10, inputTransform: scale, mixupAlpha: 0.2, seed: 4, epochs: 3 };
    const build = (seed: number) =>
      createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10, seed });

    const straight = build(7);
    const straightOptimizer = createOptimizer({ name: "adam", lr: 1e-3 });
    const full = await fit(straight, loader(), { ...options, optimizer: straightOptimizer });
    const expected = straight.getWeights().map((w) => w.dataSync());

    // Abort during epoch 1's first step: training stops after that step.
    const first = build(7);
    const firstOptimizer = createOptimizer({ name: "adam", lr: 1e-3 });
    const controller = new AbortController();
    const stopped = await fit(first, loader(), {
      ...options,
      optimizer: firstOptimizer,
      readEvery: 1,
      signal: controller.signal,
      callbacks: {
        onStep: (info) => void (info.epoch === 1 && info.step === 1 && controller.abort()),
      },
    });
    assert.deepEqual(
      [stopped.interrupted?.epoch, stopped.interrupted?.step, stopped.history.length],
      [1, 1, 1],
    );
    await saveCheckpoint(join(dir, "last"), {
      model: first,
      optimizer: firstOptimizer,
      state: { epoch: 1, progress: stopped.interrupted },
    });

    const resumed = build(99);
    const resumedOptimizer = createOptimizer({ name: "adam", lr: 1e-3 });
    const state = await loadCheckpoint(join(dir, "last"), {
      model: resumed,
      optimizer: resumedOptimizer,
    });
    const rest = await fit(resumed, loader(), {
      ...options,
      optimizer: resumedOptimizer,
      resume: state.progress,
    });
    const actual = resumed.getWeights().map((w) => w.dataSync());
    for (let i = 0; i < expected.length; i++) {
      assert.deepEqual(actual[i], expected[i], `weight ${i}`);
    }
    // The resumed epoch's metrics cover the whole epoch, as in the uninterrupted run.
    assert.deepEqual(
      rest.history,
      full.history.map((log, i) => ({ ...log, ...pickTimes(rest.history[i]) })),
    );
    for (const o of [straightOptimizer, firstOptimizer, resumedOptimizer]) o.dispose();
    for (const m of [straight, first, resumed]) m.dispose();
    await Deno.remove(dir, { recursive: true });
  });
}

function pickTimes(log: { seconds: number; imagesPerSecond: number }) {
  return { seconds: log.seconds, imagesPerSecond: log.imagesPerSecond };
}

Deno.test("a crash inside a checkpoint swap is recovered: the finished new one, else the old", async () => {
  const dir = await tempDir("recover-");
  const write = async (folder: string, epoch: number, complete = true) => {
    await Deno.mkdir(join(dir, folder), { recursive: true });
    if (complete) await Deno.writeTextFile(join(dir, folder, "state.json"), `{"epoch":${epoch}}`);
  };
  const epochOf = async () =>
    JSON.parse(await Deno.readTextFile(join(dir, "last", "state.json"))).epoch;
  // Killed after the old one moved aside, before the new one moved in; the new one unfinished.
  await write(".last.a.old", 3);
  await write(".last.b.tmp", 4, false);
  assert.equal(await recoverDir(join(dir, "last"), "state.json"), true);
  assert.equal(await epochOf(), 3);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["last"]);
  // Killed at the same point with the new one finished: it wins.
  await Deno.rename(join(dir, "last"), join(dir, ".last.c.old"));
  await write(".last.d.tmp", 5);
  await recoverDir(join(dir, "last"), "state.json");
  assert.equal(await epochOf(), 5);
  // Killed after the swap, before the old one was removed: the leftover goes.
  await write(".last.e.old", 4);
  await recoverDir(join(dir, "last"), "state.json");
  assert.equal(await epochOf(), 5);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["last"]);
  // Nothing there at all.
  assert.equal(await recoverDir(join(dir, "none"), "state.json"), false);
  await Deno.remove(dir, { recursive: true });
});
