import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import {
  nameRun,
  NonFiniteLossError,
  openTrainedModel,
  predictFiles,
  readEventFile,
  resolveTrainConfig,
  type TrainConfig,
  trainRun,
} from "../../mod.ts";
import { makeColorFolder } from "../_images.ts";
import { tempDir } from "../_tmp.ts";

/** A small ImageFolder of noisy colour patches, 8 PNGs of 20×24 per class. */
const makeFolder = (root: string) => makeColorFolder(root);

const quiet = { log: () => {}, warn: () => {} };

function config(dir: string, name: string, extra: Partial<TrainConfig> = {}) {
  return nameRun(resolveTrainConfig({
    dataset: join(dir, "photos"),
    valSplit: 0.25,
    imgSize: 16,
    model: "compact-cnn",
    augment: "cifar",
    epochs: 2,
    batchSize: 8,
    workers: 0,
    cache: false,
    backend: "wasm",
    out: join(dir, "runs"),
    name,
    ...extra,
  }));
}

Deno.test("trainRun writes a complete run directory that eval and predict can use", async () => {
  const dir = await tempDir("run-");
  await makeFolder(join(dir, "photos"));
  const before = tf.memory().numTensors;
  const result = await trainRun(config(dir, "colors"), quiet);
  assert.equal(tf.memory().numTensors, before, "no tensor outlives the run");
  const run = join(dir, "runs", "colors");
  assert.equal(result.runDir, run);
  assert.equal(result.history.length, 2);

  const stored = JSON.parse(await Deno.readTextFile(join(run, "config.json")));
  assert.equal(stored.model, "compact-cnn");
  assert.equal(stored.name, "colors");

  const lines = (await Deno.readTextFile(join(run, "metrics.jsonl"))).trim().split("\n")
    .map((line) => JSON.parse(line));
  assert.deepEqual(lines.map((l) => l.epoch), [1, 2]);
  for (const key of ["loss", "accuracy", "val_loss", "val_accuracy", "lr", "images_per_s"]) {
    assert.equal(typeof lines[0][key], "number", key);
  }

  const eventFile = [...Deno.readDirSync(run)].find((e) =>
    e.name.startsWith("events.out.tfevents")
  );
  assert.ok(eventFile, "a TensorBoard event file");
  const events = await readEventFile(join(run, eventFile.name));
  assert.equal(events[0].fileVersion, "brain.Event:2");
  const trainLoss = events.flatMap((e) =>
    e.scalars.filter((s) => s.tag === "loss/train").map((s) => [e.step, s.value])
  );
  assert.deepEqual(trainLoss.map(([step]) => step), [1, 2]);
  assert.ok(Math.abs(trainLoss[1][1] - lines[1].loss) < 1e-6, "scalar equals metrics.jsonl");

  for (const checkpoint of ["last", "best"]) {
    const state = JSON.parse(
      await Deno.readTextFile(join(run, "checkpoints", checkpoint, "state.json")),
    );
    assert.equal(typeof state.progress.epoch, "number", checkpoint);
  }

  const evaluation = JSON.parse(await Deno.readTextFile(join(run, "evaluation.json")));
  assert.equal(evaluation.confusion.length, 9);
  assert.equal(evaluation.accuracy, result.evaluation?.accuracy);

  const html = await Deno.readTextFile(join(run, "report.html"));
  assert.match(html, /<svg/);
  assert.match(html, /Confusion matrix/);
  assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, "self-contained");

  const trained = await openTrainedModel(run);
  assert.deepEqual(trained.preprocessing.classes, ["blue", "green", "red"]);
  const [prediction] = await predictFiles(trained, [join(dir, "photos", "red", "0.png")], 2);
  assert.equal(prediction.top.length, 2);
  assert.ok(prediction.top[0].probability >= prediction.top[1].probability);
  trained.model.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an interrupted run resumes from its checkpoint to the uninterrupted run's weights", async () => {
  const dir = await tempDir("resume-run-");
  await makeFolder(join(dir, "photos"));
  await trainRun(config(dir, "straight", { epochs: 3 }), quiet);

  const controller = new AbortController();
  const stopped = await trainRun(config(dir, "stopped", { epochs: 3 }), {
    ...quiet,
    signal: controller.signal,
    readEvery: 1,
    callbacks: {
      onStep: (info) => void (info.epoch === 1 && info.step === 1 && controller.abort()),
    },
  });
  assert.deepEqual(stopped.interrupted, { epoch: 1, step: 1 });
  await trainRun(config(dir, "stopped", { epochs: 3 }), { ...quiet, resume: true });

  const weights = (name: string) => Deno.readFile(join(dir, "runs", name, "model", "weights.bin"));
  assert.deepEqual(await weights("stopped"), await weights("straight"));
  const metrics = async (name: string) =>
    (await Deno.readTextFile(join(dir, "runs", name, "metrics.jsonl"))).trim().split("\n")
      .map((line) => {
        const { seconds: _s, images_per_s: _i, ...rest } = JSON.parse(line);
        return rest;
      });
  assert.deepEqual(await metrics("stopped"), await metrics("straight"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a run outside runs/ and data/ is refused by the test permissions", async () => {
  await assert.rejects(
    () =>
      trainRun(
        nameRun(resolveTrainConfig({ out: "elsewhere", epochs: 1, backend: "wasm" })),
        quiet,
      ),
    Deno.errors.NotCapable,
  );
});

Deno.test("fine-tuning: a frozen backbone, unfrozen at epoch 1 at a tenth of the lr, resumes exactly", async () => {
  const dir = await tempDir("finetune-");
  await makeFolder(join(dir, "photos"));
  await trainRun(config(dir, "base", { epochs: 1 }), quiet);
  const finetune = (name: string) =>
    config(dir, name, {
      pretrained: join(dir, "runs", "base"),
      epochs: 3,
      unfreezeAt: 1,
      backboneLrScale: 0.1,
      augment: "none",
    });
  const lines: string[] = [];
  await trainRun(finetune("straight"), { ...quiet, log: (line) => lines.push(line) });
  assert.ok(
    lines.some((line) => /epoch 2: unfroze the backbone \(\d+ variables at lr × 0.1\)/.test(line)),
  );

  const controller = new AbortController();
  const stopped = await trainRun(finetune("stopped"), {
    ...quiet,
    signal: controller.signal,
    readEvery: 1,
    callbacks: {
      onStep: (info) => void (info.epoch === 2 && info.step === 1 && controller.abort()),
    },
  });
  assert.deepEqual(stopped.interrupted, { epoch: 2, step: 1 });
  await trainRun(finetune("stopped"), { ...quiet, resume: true });
  const weights = (name: string) => Deno.readFile(join(dir, "runs", name, "model", "weights.bin"));
  assert.deepEqual(await weights("stopped"), await weights("straight"));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a loss gone NaN stops the run, names the last good checkpoint and leaves it loadable", async () => {
  const dir = await tempDir("nan-");
  await makeFolder(join(dir, "photos"));
  await trainRun(config(dir, "blowup", { epochs: 1, optimizer: "sgd", momentum: 0 }), quiet);
  // Resume for a second epoch at an absurd learning rate: the loss leaves the floats.
  const error = await trainRun(
    config(dir, "blowup", { epochs: 2, optimizer: "sgd", momentum: 0, lr: 1e300 }),
    { ...quiet, resume: true },
  ).then(() => null, (e) => e);
  assert.ok(error instanceof NonFiniteLossError, String(error));
  assert.match(error.message, /in epoch 2 by step \d+/);
  assert.match(error.message, /checkpoints\/last still holds epoch 1, the last good one/);
  const state = JSON.parse(
    await Deno.readTextFile(join(dir, "runs", "blowup", "checkpoints", "last", "state.json")),
  );
  assert.equal(state.epoch, 1);
  // And it still resumes (at a sane learning rate).
  const resumed = await trainRun(
    config(dir, "blowup", { epochs: 2, optimizer: "sgd", momentum: 0 }),
    {
      ...quiet,
      resume: true,
    },
  );
  assert.equal(resumed.history.length, 2);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a dirty folder: each bad file is one warning naming it, training goes on; strict stops", async () => {
  const dir = await tempDir("dirty-");
  const photos = join(dir, "photos");
  await makeFolder(photos);
  const good = await Deno.readFile(join(photos, "red", "0.png"));
  await Deno.writeFile(join(photos, "red", "empty.png"), new Uint8Array());
  await Deno.writeFile(join(photos, "red", "cut.png"), good.subarray(0, 60)); // header only
  await Deno.mkdir(join(photos, "red", "folder.png"));
  await Deno.writeFile(join(photos, "green", "ça va ✓.png"), good);
  await Deno.mkdir(join(photos, "violet"));
  await Deno.writeFile(join(photos, "violet", "only.png"), good); // a class with one image
  const warnings: string[] = [];
  const result = await trainRun(config(dir, "dirty", { epochs: 1, valSplit: 0.3 }), {
    log: () => {},
    warn: (line) => warnings.push(line),
  });
  assert.equal(result.history.length, 1);
  const about = (name: string) => warnings.filter((line) => line.includes(name));
  assert.equal(about("empty.png").length, 1, warnings.join("\n"));
  assert.match(about("empty.png")[0], /empty file \(0 bytes\)/);
  assert.equal(about("cut.png").length, 1, "the truncated PNG is skipped once, when loaded");
  assert.match(about("cut.png")[0], /^warning: skipping .*cut\.png: /);
  assert.equal(about("folder.png").length, 0, "a folder named like an image is not a file");

  await assert.rejects(
    () => trainRun(config(dir, "strict", { epochs: 1, strict: true }), quiet),
    /empty\.png: empty file/,
  );
  await Deno.remove(dir, { recursive: true });
});
