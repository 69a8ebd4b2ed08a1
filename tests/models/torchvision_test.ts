// The zoo's ImageNet architectures against torchvision: layer names and weight shapes equal the
// torchvision state_dict's (tests/models/torchvision_state_dicts.json, printed by torchvision
// 0.14), the stem option, and a TF.js save/load round trip that uses stock layer classes only.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { useBackend } from "../../lib/backend/mod.ts";
import { createModel, efficientNetB0, type Stem } from "../../lib/models/mod.ts";
import { hardSigmoid, hardSwish, silu } from "../../lib/models/_blocks.ts";
import stateDicts from "./torchvision_state_dicts.json" with { type: "json" };

const TORCHVISION: [string, keyof typeof stateDicts][] = [
  ["resnet18", "resnet18"],
  ["resnet50", "resnet50"],
  ["mobilenetv2", "mobilenet_v2"],
  ["mobilenetv3-large", "mobilenet_v3_large"],
  ["efficientnet-b0", "efficientnet_b0"],
];

const TORCH_PARAM: Record<string, string> = {
  kernel: "weight",
  depthwise_kernel: "weight",
  bias: "bias",
  gamma: "weight",
  beta: "bias",
  moving_mean: "running_mean",
  moving_variance: "running_var",
};

/** The torch state_dict a model's weights stand for: key `layer.param`, shape in torch's layout. */
function torchStateDict(model: tfl.LayersModel): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const layer of model.layers) {
    for (const weight of layer.weights) {
      const suffix = weight.originalName.slice(weight.originalName.lastIndexOf("/") + 1);
      const key = `${layer.name}.${TORCH_PARAM[suffix]}`;
      assert.ok(!(key in out), `${key} twice`);
      const shape = weight.shape as number[];
      const className = layer.getClassName();
      // Conv2D HWIO → OIHW; DepthwiseConv2D (kh, kw, C, 1) → (C, 1, kh, kw); Dense (in, out) → (out, in)
      out[key] = suffix === "bias" || shape.length === 1
        ? shape
        : className === "Conv2D"
        ? [shape[3], shape[2], shape[0], shape[1]]
        : className === "DepthwiseConv2D"
        ? [shape[2], shape[3], shape[0], shape[1]]
        : [shape[1], shape[0]];
    }
  }
  return out;
}

Deno.test("layer names and weight shapes equal torchvision's state_dict, key for key", async () => {
  await useBackend("wasm");
  for (const [name, torchName] of TORCHVISION) {
    const model = createModel(name, {
      inputShape: [224, 224, 3],
      numClasses: 1000,
      stem: "imagenet",
    });
    assert.deepEqual(torchStateDict(model), stateDicts[torchName], name);
    model.dispose();
  }
});

Deno.test("the stem option: torchvision's layout at any size, or the CIFAR one", async () => {
  await useBackend("wasm");
  const conv1 = (size: number, stem?: Stem) => {
    const model = createModel("resnet18", { inputShape: [size, size, 3], numClasses: 10, stem });
    const shape = model.getLayer("conv1").getWeights()[0].shape;
    const pooled = model.layers.some((layer) => layer.getClassName() === "MaxPooling2D");
    model.dispose();
    return [shape, pooled];
  };
  assert.deepEqual(conv1(32), [[3, 3, 3, 64], false]);
  assert.deepEqual(conv1(32, "auto"), [[3, 3, 3, 64], false]);
  assert.deepEqual(conv1(32, "imagenet"), [[7, 7, 3, 64], true]);
  assert.deepEqual(conv1(96), [[7, 7, 3, 64], true]);
  assert.deepEqual(conv1(96, "cifar"), [[3, 3, 3, 64], false]);
  // The MobileNets and EfficientNet keep their weights' shapes; the stem changes the strides.
  for (const name of ["mobilenetv2", "mobilenetv3-large", "efficientnet-b0"]) {
    for (const [stem, side] of [["cifar", 4], ["imagenet", 1]] as const) {
      const model = createModel(name, { inputShape: [32, 32, 3], numClasses: 10, stem });
      const pool = model.layers.findLast((l) => l.getClassName() === "GlobalAveragePooling2D")!;
      assert.equal((pool.input as tfl.SymbolicTensor).shape[1], side, `${name} ${stem}`);
      model.dispose();
    }
  }
  assert.throws(
    () =>
      createModel("resnet50", {
        inputShape: [32, 32, 3],
        numClasses: 10,
        stem: "tiny" as Stem,
      }),
    /unknown stem 'tiny': expected auto, imagenet or cifar/,
  );
});

Deno.test("hard-swish, hard-sigmoid and SiLU are PyTorch's, from stock layers", async () => {
  await useBackend("wasm");
  const values = Array.from({ length: 41 }, (_, i) => (i - 20) / 4); // -5 … 5
  const input = tfl.input({ shape: [values.length] });
  const model = tfl.model({
    inputs: input,
    outputs: [hardSwish(input), hardSigmoid(input), silu(input)],
  });
  const outputs = model.predict(tf.tensor2d([values])) as tf.Tensor[];
  const [swish, sigmoid, siluOut] = outputs.map((t) => Array.from(t.dataSync()));
  const relu6 = (x: number) => Math.min(Math.max(x, 0), 6);
  values.forEach((x, i) => {
    assert.ok(Math.abs(swish[i] - x * relu6(x + 3) / 6) < 1e-6, `hardswish(${x})`);
    assert.ok(Math.abs(sigmoid[i] - relu6(x + 3) / 6) < 1e-6, `hardsigmoid(${x})`);
    assert.ok(Math.abs(siluOut[i] - x / (1 + Math.exp(-x))) < 1e-6, `silu(${x})`);
  });
  tf.dispose(outputs);
});

/** What stock @tensorflow/tfjs deserialises: tfjs-layers' own classes and initializers. */
const STOCK = new Set([
  "Model",
  "InputLayer",
  "Conv2D",
  "DepthwiseConv2D",
  "BatchNormalization",
  "ZeroPadding2D",
  "MaxPooling2D",
  "GlobalAveragePooling2D",
  "ReLU",
  "Activation",
  "Rescaling",
  "Reshape",
  "Add",
  "Multiply",
  "Dropout",
  "Dense",
  "VarianceScaling",
  "Zeros",
  "Ones",
]);

/** tfjs-layers' own activation identifiers that the models use. */
const STOCK_ACTIVATIONS = new Set(["linear", "swish", "sigmoid"]);

/** Every `class_name` and `activation` in a saved topology. */
function classNames(
  value: unknown,
  into = { classes: new Set<string>(), activations: new Set<string>() },
): typeof into {
  if (Array.isArray(value)) {
    for (const item of value) classNames(item, into);
  } else if (value !== null && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) {
      if (key === "class_name" && typeof item === "string") into.classes.add(item);
      else if (key === "activation" && typeof item === "string") into.activations.add(item);
      else classNames(item, into);
    }
  }
  return into;
}

Deno.test("each architecture saves as a LayersModel of stock classes and loads back identical", async () => {
  await useBackend("wasm");
  const builds: [string, () => tfl.LayersModel][] = [
    ...TORCHVISION.map(([name]): [string, () => tfl.LayersModel] => [
      name,
      () => createModel(name, { inputShape: [32, 32, 3], numClasses: 10, seed: 1 }),
    ]),
    [
      "efficientnet-b0 with stochastic depth",
      () => efficientNetB0({ inputShape: [32, 32, 3], numClasses: 10, stochasticDepth: 0.2 }),
    ],
  ];
  const x = tf.randomNormal([2, 32, 32, 3], 0, 1, "float32", 5);
  for (const [name, build] of builds) {
    const model = build();
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler((artifacts) => {
      saved = artifacts;
      return Promise.resolve({
        modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
      });
    }));
    assert.ok(saved !== undefined);
    const { classes, activations } = classNames(saved.modelTopology);
    assert.ok(classes.has("Conv2D") && classes.has("BatchNormalization"), name);
    assert.deepEqual([...classes].filter((c) => !STOCK.has(c)), [], `${name}: foreign classes`);
    assert.deepEqual([...activations].filter((a) => !STOCK_ACTIVATIONS.has(a)), [], name);
    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(saved));
    assert.deepEqual(loaded.layers.map((l) => l.name), model.layers.map((l) => l.name), name);
    const [before, after] = [model, loaded].map((m) => m.predict(x) as tf.Tensor);
    assert.deepEqual(await after.data(), await before.data(), `${name}: same logits`);
    tf.dispose([before, after]);
    model.dispose();
    loaded.dispose();
  }
  x.dispose();
});

Deno.test("efficientnet-b0's stochastic depth is stock per-sample dropout on the residual branches", async () => {
  await useBackend("wasm");
  const model = efficientNetB0({ inputShape: [32, 32, 3], numClasses: 10, stochasticDepth: 0.2 });
  const drops = model.layers.filter((l) => l.getClassName() === "Dropout").map((l) =>
    l.getConfig()
  );
  // 9 residual blocks, rates 0.2 · block / 16, then the classifier's dropout 0.2
  assert.equal(drops.length, 10);
  assert.deepEqual(drops.slice(0, 9).map((c) => c.noiseShape), Array(9).fill([null, 1, 1, 1]));
  assert.ok(Math.abs((drops[0].rate as number) - 0.2 * 2 / 16) < 1e-9);
  assert.ok(Math.abs((drops[8].rate as number) - 0.2 * 14 / 16) < 1e-9);
  model.dispose();
});
