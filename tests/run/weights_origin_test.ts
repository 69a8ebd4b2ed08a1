// The run records what it trained: a photo folder fine-tuned from a ResNet-18 state dict is a
// `resnet18` run (not the folder default `mobilenetv2`) in config.json, evaluation.json, the
// report, model.json's and model.onnx's metadata, `/healthz` and the TF.js export; `--resume`
// reads that config.json back and carries on.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createModel,
  createPredictService,
  encodeSafetensors,
  nameRun,
  openTrainedModel,
  readOnnxModel,
  resolveTrainConfig,
  toStateDict,
  trainRun,
  useBackend,
} from "../../mod.ts";
import { exportCommand } from "../../cli/export.ts";
import { makeColorFolder } from "../_images.ts";
import { tempDir } from "../_tmp.ts";

const quiet = { log: () => {}, warn: () => {} };

async function readJson(path: string) {
  return JSON.parse(await Deno.readTextFile(path));
}

async function healthz(runDir: string) {
  const trained = await openTrainedModel(runDir);
  const service = createPredictService(trained, { log: () => {} });
  try {
    const health = await (await service.handler(new Request("http://localhost/healthz"))).json();
    const page = await (await service.handler(new Request("http://localhost/"))).text();
    return { health, title: /<title>([^<]*)<\/title>/.exec(page)?.[1] };
  } finally {
    trained.model.dispose();
  }
}

Deno.test("a photo folder fine-tuned from a ResNet-18 state dict is recorded as resnet18 everywhere", async () => {
  const dir = await tempDir("origin-");
  try {
    await useBackend("wasm");
    // A torchvision-layout ResNet-18 (10 classes, small input): the keys say what it is.
    const weights = join(dir, "resnet18.safetensors");
    const source = createModel("resnet18", {
      inputShape: [32, 32, 3],
      numClasses: 10,
      seed: 7,
      stem: "imagenet",
    });
    await Deno.writeFile(weights, encodeSafetensors(toStateDict(source)));
    source.dispose();
    await makeColorFolder(join(dir, "photos"), { perClass: 3 });
    const config = nameRun(resolveTrainConfig({
      dataset: join(dir, "photos"),
      valSplit: 0.34,
      imgSize: 32,
      pretrained: weights,
      epochs: 1,
      batchSize: 4,
      workers: 0,
      cache: false,
      backend: "wasm",
      out: join(dir, "runs"),
      name: "r18",
    }));
    assert.equal(config.model, "mobilenetv2", "the photo-folder default, before the build");
    const result = await trainRun(config, quiet);
    const run = result.runDir;
    const origin = {
      architecture: "resnet18",
      source: weights,
      format: "pytorch",
      torchvision: "resnet18",
    };

    const stored = await readJson(join(run, "config.json"));
    assert.equal(stored.model, "resnet18");
    assert.deepEqual(stored.weights, origin);
    const evaluation = await readJson(join(run, "evaluation.json"));
    assert.equal(evaluation.model, "resnet18");
    assert.deepEqual(evaluation.weights, origin);
    const html = await Deno.readTextFile(join(run, "report.html"));
    assert.match(html, /r18: resnet18 fine-tuned from [^<]*resnet18\.safetensors on /);
    assert.doesNotMatch(html, /mobilenetv2/);

    const expected = {
      architecture: "resnet18",
      weights,
      weights_format: "pytorch",
      torchvision: "resnet18",
    };
    const modelJson = await readJson(join(run, "model", "model.json"));
    assert.deepEqual(modelJson.userDefinedMetadata, expected);
    const onnx = readOnnxModel(await Deno.readFile(join(run, "model.onnx"))).metadata;
    assert.deepEqual(
      [onnx.architecture, onnx.weights, onnx.weights_format, onnx.torchvision],
      Object.values(expected),
    );
    assert.ok(onnx.classes, "the preprocessing keys stay");

    const { health, title } = await healthz(run);
    assert.equal(health.model, "resnet18");
    assert.equal(health.weights, weights);
    assert.equal(title, "denovision · resnet18");

    // `deno task export --format tfjs` and ONNX say the same.
    const log = console.log;
    console.log = () => {};
    try {
      assert.equal(await exportCommand(["--run", run, "--format", "tfjs"]), 0);
      assert.equal(
        await exportCommand(["--run", run, "--out", join(dir, "exported.onnx")]),
        0,
      );
    } finally {
      console.log = log;
    }
    assert.deepEqual(
      (await readJson(join(run, "tfjs", "model.json"))).userDefinedMetadata,
      expected,
    );
    const exported = readOnnxModel(await Deno.readFile(join(dir, "exported.onnx"))).metadata;
    assert.equal(exported.architecture, "resnet18");
    assert.equal(exported.weights, weights);

    // --resume: config.json read back (as `deno task train --resume` does), one more epoch.
    const resumed = nameRun(resolveTrainConfig({ ...stored, epochs: 2 }));
    const again = await trainRun(resumed, { ...quiet, resume: true });
    assert.equal(again.history.length, 2);
    const after = await readJson(join(run, "config.json"));
    assert.equal(after.model, "resnet18");
    assert.deepEqual(after.weights, origin);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a run from scratch records its zoo model and no weights; old runs still serve", async () => {
  const dir = await tempDir("origin-scratch-");
  try {
    await makeColorFolder(join(dir, "photos"), { perClass: 3 });
    const result = await trainRun(
      nameRun(resolveTrainConfig({
        dataset: join(dir, "photos"),
        valSplit: 0.34,
        imgSize: 16,
        model: "compact-cnn",
        epochs: 1,
        batchSize: 4,
        workers: 0,
        cache: false,
        onnx: false,
        backend: "wasm",
        out: join(dir, "runs"),
        name: "scratch",
      })),
      quiet,
    );
    const configPath = join(result.runDir, "config.json");
    const stored = await readJson(configPath);
    assert.equal(stored.model, "compact-cnn");
    assert.deepEqual(stored.weights, {
      architecture: "compact-cnn",
      source: "none",
      format: "none",
    });
    assert.deepEqual((await healthz(result.runDir)).health.weights, "none");

    // A run from before `weights` existed: config.json without it, model.json without metadata.
    delete stored.weights;
    await Deno.writeTextFile(configPath, JSON.stringify(stored));
    const modelJsonPath = join(result.runDir, "model", "model.json");
    const modelJson = await readJson(modelJsonPath);
    delete modelJson.userDefinedMetadata;
    await Deno.writeTextFile(modelJsonPath, JSON.stringify(modelJson));
    const { health } = await healthz(result.runDir);
    assert.equal(health.model, "compact-cnn");
    assert.equal(health.weights, "none");
    assert.equal(resolveTrainConfig(stored).weights, null);
    assert.throws(
      () => resolveTrainConfig({ ...stored, weights: { architecture: "x" } }),
      /weights must be null or \{ architecture, source, format/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
