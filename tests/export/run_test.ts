// ONNX from a training run: trainRun writes model.onnx beside model/ (unless onnx: false), whose
// metadata holds the run's preprocessing and whose logits are the TF.js model's on a photo
// preprocessed as predict does; `deno task export` over that run, and its one-line errors.
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import {
  decodeImageFile,
  fileHandler,
  nameRun,
  openTrainedModel,
  readOnnxModel,
  resolveTrainConfig,
  type TrainConfig,
  trainRun,
} from "../../mod.ts";
import { Rng } from "../../lib/_internal/rng.ts";
import { exportCommand } from "../../cli/export.ts";
import { makeColorFolder } from "../_images.ts";
import { tempDir } from "../_tmp.ts";
import { checkWithOnnx, hasOnnxChecker, ortOutput, relativeError, tfjsOutput } from "./_onnx.ts";

const quiet = { log: () => {}, warn: () => {} };
const noOnnx = !await hasOnnxChecker();

function config(dir: string, name: string, extra: Partial<TrainConfig> = {}) {
  return nameRun(resolveTrainConfig({
    dataset: join(dir, "photos"),
    valSplit: 0.25,
    imgSize: 16,
    model: "compact-cnn",
    augment: "cifar",
    epochs: 1,
    batchSize: 8,
    workers: 0,
    cache: false,
    backend: "wasm",
    out: join(dir, "runs"),
    name,
    ...extra,
  }));
}

/** Console output of `body`, and its result. */
async function capture<T>(body: () => Promise<T>): Promise<{ result: T; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    return { result: await body(), out: lines.join("\n") };
  } finally {
    console.log = log;
  }
}

Deno.test("a train run writes model.onnx: the run's preprocessing inside, TF.js' logits out", async () => {
  const dir = await tempDir("onnx-run-");
  await makeColorFolder(join(dir, "photos"));
  const { runDir } = await trainRun(config(dir, "colors"), quiet);
  const path = join(runDir, "model.onnx");
  const bytes = await Deno.readFile(path);
  const info = readOnnxModel(bytes);
  const trained = await openTrainedModel(runDir);
  assert.deepEqual(JSON.parse(info.metadata.classes), trained.preprocessing.classes);
  assert.deepEqual(JSON.parse(info.metadata.preprocessing), trained.preprocessing);
  assert.deepEqual(info.inputs[0].dims, ["batch", 3, 16, 16]);

  // A photo as predict sees it: decoded, run through the evaluation pipeline, HWC float32.
  const classDir = join(dir, "photos", trained.preprocessing.classes[0]);
  const file = join(classDir, [...Deno.readDirSync(classDir)][0].name);
  const image = trained.transform.apply(await decodeImageFile(file, { channels: 3 }), new Rng(0));
  const x = tf.tensor4d(Float32Array.from(image.data), [1, image.height, image.width, 3]);
  const error = relativeError(tfjsOutput(trained.model, x), await ortOutput(bytes, x));
  assert.ok(error <= 1e-4, `ONNX Runtime differs by ${error}`);
  x.dispose();
  trained.model.dispose();
  if (!noOnnx) await checkWithOnnx([path]);

  // `deno task export` over the same run: the default path, --float16, --format tfjs.
  const { out } = await capture(() => exportCommand(["--run", runDir]));
  assert.match(out, /model\.onnx: ONNX opset 13, \d+ nodes/);
  const half = join(runDir, "half.onnx");
  await capture(() => exportCommand(["--run", runDir, "--float16", "--out", half]));
  assert.ok((await Deno.stat(half)).size < 0.6 * bytes.length);
  const tfjs = join(dir, "tfjs");
  await capture(() =>
    exportCommand(["--run", join(runDir, "model"), "--format", "tfjs", "--out", tfjs])
  );
  const reopened = await openTrainedModel(tfjs);
  assert.deepEqual(reopened.preprocessing, trained.preprocessing);
  reopened.model.dispose();

  const skipped = await trainRun(config(dir, "no-onnx", { onnx: false }), quiet);
  await assert.rejects(() => Deno.stat(join(skipped.runDir, "model.onnx")), Deno.errors.NotFound);
});

Deno.test("deno task export: a missing run and a corrupt model.json are one-line errors naming the file", async () => {
  const dir = await tempDir("onnx-cli-");
  const missing = join(dir, "runs", "nope");
  await assert.rejects(
    () => exportCommand(["--run", missing]),
    (error: Error) => error.message.startsWith(`${missing}: `) && !error.message.includes("\n"),
  );
  const modelDir = join(dir, "runs", "bad", "model");
  await Deno.mkdir(modelDir, { recursive: true });
  await Deno.writeTextFile(join(modelDir, "model.json"), '{"modelTopology": {');
  await Deno.writeTextFile(
    join(modelDir, "preprocessing.json"),
    JSON.stringify({
      classes: ["a"],
      inputShape: [8, 8, 3],
      transform: { name: "toFloat", options: {} },
    }),
  );
  await assert.rejects(
    () => exportCommand(["--run", join(dir, "runs", "bad")]),
    (error: Error) =>
      error.message.startsWith(join(modelDir, "model.json")) && !error.message.includes("\n"),
  );
  await Deno.writeTextFile(
    join(modelDir, "model.json"),
    '{"modelTopology": {"class_name": "Sequential", "config": {"layers": [{"class_name": "X"}]}}}',
  );
  await assert.rejects(
    () => exportCommand(["--run", join(dir, "runs", "bad")]),
    (error: Error) =>
      error.message.startsWith(join(modelDir, "model.json")) && !error.message.includes("\n"),
  );
  await assert.rejects(() => exportCommand(["--run", missing, "--format", "tflite"]), /--format/);
});

Deno.test("a run whose model has no ONNX form warns, names the layer, and finishes", async () => {
  const dir = await tempDir("onnx-warn-");
  await makeColorFolder(join(dir, "photos"));
  const pretrained = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [16, 16, 3], filters: 4, kernelSize: 3, name: "stem" }),
      tfl.layers.conv2dTranspose({ filters: 4, kernelSize: 2, strides: 2, name: "upsample" }),
      tfl.layers.globalAveragePooling2d({ name: "pool" }),
      tfl.layers.dense({ units: 3, name: "head" }),
    ],
  });
  await pretrained.save(fileHandler(join(dir, "pretrained")));
  pretrained.dispose();
  const warnings: string[] = [];
  const { runDir } = await trainRun(
    config(dir, "upsample", { pretrained: join(dir, "pretrained", "model.json"), freeze: "none" }),
    { log: () => {}, warn: (line) => warnings.push(line) },
  );
  const warning = warnings.find((line) => line.includes("model.onnx"));
  assert.ok(warning?.includes("Conv2DTranspose layer 'upsample'"), warnings.join("\n"));
  await Deno.stat(join(runDir, "model", "model.json"));
  await Deno.stat(join(runDir, "evaluation.json"));
  await assert.rejects(() => Deno.stat(join(runDir, "model.onnx")), Deno.errors.NotFound);
});
