import assert from "node:assert/strict";
import { join } from "node:path";
import { nameRun, resolveTrainConfig, shapes, Subset, trainRun } from "../../mod.ts";
import { runBalance } from "../../lib/run/_balance.ts";
import { makeColorFolder } from "../_images.ts";
import { tempDir } from "../_tmp.ts";

const quiet = { log: () => {}, warn: () => {} };

const full = shapes({ size: 100 });
// Class 0 keeps 2 of its 10 samples: 2 of 92.
const train = new Subset(
  full,
  Array.from({ length: 100 }, (_, i) => i).filter((i) => full.labelOf(i) !== 0 || i < 20),
);
const data = { train, validation: shapes({ train: false, size: 20 }), classes: full.classes };

Deno.test("--balance weights: inverse-frequency class weights, printed", () => {
  const lines: string[] = [];
  const balance = runBalance(
    resolveTrainConfig({ balance: "weights" }),
    data,
    (l) => lines.push(l),
  );
  assert.equal(balance.sampler, undefined);
  assert.equal(balance.classWeights!.length, 10);
  assert.ok(Math.abs(balance.classWeights![0] - 92 / (10 * 2)) < 1e-12);
  assert.ok(Math.abs(balance.classWeights![1] - 92 / (10 * 10)) < 1e-12);
  assert.match(lines[0], /^balance: class-weighted loss, circle 4\.600, ring 0\.920/);
  assert.deepEqual(balance.counts.train, [2, ...new Array(9).fill(10)]);
  assert.deepEqual(balance.counts.validation, new Array(10).fill(2));
});

Deno.test("--balance oversample/undersample: a seeded sampler; none changes nothing", () => {
  const quiet = () => {};
  const over = runBalance(resolveTrainConfig({ balance: "oversample", seed: 3 }), data, quiet);
  assert.equal(over.sampler!.length, 92);
  assert.deepEqual(over.sampler!.indices(1), over.sampler!.indices(1));
  const under = runBalance(resolveTrainConfig({ balance: "undersample" }), data, quiet);
  assert.equal(under.sampler!.length, 20);
  const none = runBalance(resolveTrainConfig({}), data, quiet);
  assert.equal(none.sampler, undefined);
  assert.equal(none.classWeights, undefined);
  assert.throws(() => resolveTrainConfig({ balance: "smote" }), /balance must be one of/);
});

Deno.test("a --balance oversample run resumes to the uninterrupted run's weights; the report draws the classes", async () => {
  const dir = await tempDir("balance-run-");
  await makeColorFolder(join(dir, "photos"), { perClass: 12 });
  for (let i = 3; i < 12; i++) await Deno.remove(join(dir, "photos", "red", `${i}.png`));
  const config = (name: string) =>
    nameRun(resolveTrainConfig({
      dataset: join(dir, "photos"),
      valSplit: 0.25,
      imgSize: 16,
      model: "compact-cnn",
      augment: "cifar",
      epochs: 2,
      batchSize: 4,
      workers: 0,
      cache: false,
      backend: "wasm",
      onnx: false,
      balance: "oversample",
      out: join(dir, "runs"),
      name,
    }));
  const lines: string[] = [];
  await trainRun(config("straight"), { log: (l) => lines.push(l), warn: () => {} });
  assert.ok(lines.some((l) => l.startsWith("balance: oversample to ")), lines.join("\n"));
  const controller = new AbortController();
  const stopped = await trainRun(config("stopped"), {
    ...quiet,
    signal: controller.signal,
    readEvery: 1,
    callbacks: {
      onStep: (info) => void (info.epoch === 1 && info.step === 2 && controller.abort()),
    },
  });
  assert.deepEqual(stopped.interrupted, { epoch: 1, step: 2 });
  await trainRun(config("stopped"), { ...quiet, resume: true });
  const read = (name: string, file: string) => Deno.readFile(join(dir, "runs", name, file));
  assert.deepEqual(
    await read("stopped", "model/weights.bin"),
    await read("straight", "model/weights.bin"),
  );
  const evaluation = JSON.parse(
    await Deno.readTextFile(join(dir, "runs", "straight", "evaluation.json")),
  );
  assert.equal(typeof evaluation.report.balancedAccuracy, "number");
  assert.equal(evaluation.report.perClass.length, 3);
  const html = await Deno.readTextFile(join(dir, "runs", "straight", "report.html"));
  assert.match(html, /<h2>Class distribution<\/h2>/);
  await Deno.remove(dir, { recursive: true });
});
