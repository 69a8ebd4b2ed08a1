// The ONNX export against ONNX Runtime: every zoo model (random weights and batch-norm
// statistics), a torchvision-loaded and a fine-tuned model, float16 weights, a model of every
// supported layer class, and the errors. onnx.checker (python3-onnx) checks the files where present.
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import {
  createModel,
  exportOnnx,
  freeze,
  listModels,
  loadTorchvision,
  OnnxExportError,
  onnxMetadata,
  readOnnxModel,
  replaceHead,
  type Stem,
  toOnnx,
  toStateDict,
  useBackend,
} from "../../mod.ts";
import { tempDir } from "../_tmp.ts";
import { coverageModel } from "./_coverage.ts";
import {
  checkWithOnnx,
  hasOnnxChecker,
  ortOutput,
  randomInput,
  randomizeWeights,
  relativeError,
  tfjsOutput,
} from "./_onnx.ts";

const TOLERANCE = 1e-4;
const noOnnx = !await hasOnnxChecker();
const noOnnxReason = noOnnx ? " (ignored: /usr/bin/python3 has no onnx package)" : "";

interface Case {
  label: string;
  build: () => tfl.LayersModel;
}

const IMAGENET_STYLE = [
  "resnet18",
  "resnet50",
  "mobilenetv2",
  "mobilenetv3-large",
  "efficientnet-b0",
];

/** Every registered model at a small size, and the ImageNet-style ones with their ImageNet stem. */
function zooCases(): Case[] {
  const cases: Case[] = listModels().filter((entry) => !entry.name.includes("example")).map((
    entry,
  ) => ({
    label: entry.name,
    build: () =>
      createModel(entry.name, {
        inputShape: entry.name === "lenet" ? [28, 28, 1] : [32, 32, 3],
        numClasses: 7,
        seed: 3,
      }),
  }));
  for (const name of IMAGENET_STYLE) {
    const stem: Stem = "imagenet";
    cases.push({
      label: `${name} (ImageNet stem, 64 px)`,
      build: () => createModel(name, { inputShape: [64, 64, 3], numClasses: 5, seed: 4, stem }),
    });
  }
  return cases;
}

/** Exports `model`, runs it in ONNX Runtime and TF.js on one batch; returns the ONNX bytes. */
async function assertSameLogits(
  label: string,
  model: tfl.LayersModel,
  options: { float16?: boolean; tolerance?: number; batch?: number } = {},
): Promise<Uint8Array> {
  const bytes = toOnnx(model, { float16: options.float16 });
  const x = randomInput(model, options.batch ?? 2, 11);
  try {
    const expected = tfjsOutput(model, x);
    const actual = await ortOutput(bytes, x);
    const error = relativeError(expected, actual);
    assert.ok(
      error <= (options.tolerance ?? TOLERANCE),
      `${label}: ONNX Runtime differs from TF.js by ${error.toExponential(2)} of the largest logit`,
    );
  } finally {
    x.dispose();
  }
  return bytes;
}

let zooFiles: Promise<string[]> | undefined;

/** Exports every zoo case into a temp folder once (both tests below use the files). */
function exportZoo(compare: boolean): Promise<string[]> {
  zooFiles ??= (async () => {
    await useBackend("wasm");
    const dir = await tempDir("onnx-zoo-");
    const paths: string[] = [];
    for (const [i, { label, build }] of zooCases().entries()) {
      const model = build();
      try {
        randomizeWeights(model, i);
        const bytes = compare ? await assertSameLogits(label, model) : toOnnx(model);
        const path = join(dir, `${i}.onnx`);
        await Deno.writeFile(path, bytes);
        paths.push(path);
      } finally {
        model.dispose();
      }
    }
    return paths;
  })();
  return zooFiles;
}

Deno.test("every zoo model: ONNX Runtime's logits equal TF.js' within 1e-4 of the largest", async () => {
  const before = tf.memory().numTensors;
  const paths = await exportZoo(true);
  assert.equal(paths.length, zooCases().length);
  assert.equal(tf.memory().numTensors, before, "the export and the checks leak no tensor");
});

Deno.test({
  name:
    `every zoo model's export passes onnx.checker (full check, strict shape inference)${noOnnxReason}`,
  ignore: noOnnx,
  fn: async () => {
    await checkWithOnnx(await exportZoo(false));
  },
});

Deno.test("the graph has torch.onnx.export's interface: NCHW `input`, dynamic batch, `logits`", async () => {
  await useBackend("wasm");
  const model = createModel("compact-cnn", { inputShape: [24, 20, 3], numClasses: 4, seed: 1 });
  randomizeWeights(model, 9);
  const bytes = await assertSameLogits("compact-cnn, batch 5", model, { batch: 5 });
  const info = readOnnxModel(bytes);
  assert.deepEqual(info.inputs, [{ name: "input", dims: ["batch", 3, 24, 20] }]);
  assert.deepEqual(info.outputs, [{ name: "logits", dims: ["batch", 4] }]);
  assert.ok(info.opset >= 13);
  // Three convs with their batch norms folded in: no BatchNormalization and no Mul/Add for them.
  const text = new TextDecoder().decode(bytes);
  assert.ok(!text.includes("BatchNormalization"), "batch norms are folded");
  await assertSameLogits("compact-cnn, batch 1", model, { batch: 1 });
  model.dispose();
});

Deno.test("float16 weights: half the file, Cast back to float32, ONNX Runtime within 1e-2", async () => {
  await useBackend("wasm");
  for (const name of ["compact-cnn", "mobilenetv2"]) {
    const model = createModel(name, { inputShape: [32, 32, 3], numClasses: 6, seed: 2 });
    randomizeWeights(model, 5);
    const full = toOnnx(model);
    const half = await assertSameLogits(`${name} float16`, model, {
      float16: true,
      tolerance: 1e-2,
    });
    assert.ok(half.length < 0.6 * full.length, `${name}: ${half.length} vs ${full.length} bytes`);
    assert.deepEqual(readOnnxModel(half).inputs, readOnnxModel(full).inputs);
    model.dispose();
  }
});

Deno.test("a torchvision-loaded MobileNetV3 (hard-swish, squeeze-excitation) exports exactly", async () => {
  await useBackend("wasm");
  const source = createModel("mobilenetv3-large", {
    inputShape: [64, 64, 3],
    numClasses: 1000,
    seed: 8,
    stem: "imagenet",
  });
  randomizeWeights(source, 21);
  const stateDict = toStateDict(source);
  source.dispose();
  const model = await loadTorchvision("mobilenet_v3_large", stateDict, { inputSize: 64 });
  await assertSameLogits("torchvision mobilenet_v3_large", model, { batch: 1 });
  model.dispose();
});

Deno.test("a fine-tuned model (frozen ResNet-18, new head, dropout) exports with its metadata", async () => {
  await useBackend("wasm");
  const base = createModel("resnet18", { inputShape: [32, 32, 3], numClasses: 10, seed: 1 });
  randomizeWeights(base, 31);
  freeze(base);
  const model = replaceHead(base, 2, { dropout: 0.3, seed: 2 });
  randomizeWeights(model, 32);
  const bytes = await assertSameLogits("fine-tuned resnet18", model);
  const dir = await tempDir("onnx-tuned-");
  const path = join(dir, "model.onnx");
  const metadata = onnxMetadata({
    classes: ["ants", "bees"],
    inputShape: [32, 32, 3],
    transform: {
      name: "compose",
      options: {
        transforms: [{
          name: "normalize",
          options: { mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.2] },
        }],
      },
    },
  });
  await exportOnnx(model, path, { metadata });
  const written = await Deno.readFile(path);
  assert.ok(written.length > bytes.length, "the metadata is in the file");
  const info = readOnnxModel(written);
  assert.deepEqual(JSON.parse(info.metadata.classes), ["ants", "bees"]);
  assert.deepEqual(JSON.parse(info.metadata.mean), [0.5, 0.4, 0.3]);
  assert.equal(info.metadata.input_shape, "[3,32,32]");
  assert.equal(JSON.parse(info.metadata.preprocessing).inputShape[0], 32);
  if (!noOnnx) await checkWithOnnx([path]);
  model.dispose(); // the backbone's layers with it; its old classifier is left
  base.layers[base.layers.length - 1].dispose();
});

Deno.test("every supported layer class and padding case, softmax output included", async () => {
  await useBackend("wasm");
  const model = coverageModel();
  randomizeWeights(model, 41);
  const bytes = await assertSameLogits("coverage", model, { batch: 3 });
  if (!noOnnx) {
    const dir = await tempDir("onnx-coverage-");
    await Deno.writeFile(join(dir, "coverage.onnx"), bytes);
    await checkWithOnnx([join(dir, "coverage.onnx")]);
  }
  model.dispose();
});

Deno.test("a layer without an ONNX form is an error naming its class and name", async () => {
  await useBackend("wasm");
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 2, kernelSize: 3, name: "stem" }),
      tfl.layers.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 2, name: "upsample" }),
      tfl.layers.globalAveragePooling2d({}),
    ],
  });
  assert.throws(
    () => toOnnx(model),
    (error: Error) =>
      error instanceof OnnxExportError && error.name === "OnnxExportError" &&
      /Conv2DTranspose layer 'upsample'/.test(error.message) && !error.message.includes("\n"),
  );
  const dir = await tempDir("onnx-error-");
  await assert.rejects(
    () => exportOnnx(model, join(dir, "model.onnx")),
    (error: Error) =>
      error.message.startsWith(join(dir, "model.onnx") + ": ") &&
      error.message.includes("'upsample'"),
  );
  assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing is written");
  model.dispose();
});
