import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  createModel,
  encodeSafetensors,
  loadStateDict,
  readStateDict,
  StateDictError,
  toStateDict,
  useBackend,
} from "../../mod.ts";

await useBackend("cpu");

const weightsOf = (model: { getWeights(): tf.Tensor[] }) =>
  model.getWeights().map((w) => Array.from(w.dataSync()));

Deno.test("toStateDict → safetensors → loadStateDict round-trips a torchvision-named resnet18", () => {
  const source = createModel("resnet18", {
    inputShape: [64, 64, 3],
    numClasses: 5,
    seed: 1,
    stem: "imagenet",
  });
  const target = createModel("resnet18", {
    inputShape: [64, 64, 3],
    numClasses: 5,
    seed: 2,
    stem: "imagenet",
  });
  const stateDict = readStateDict(encodeSafetensors(toStateDict(source)));
  // torchvision's names and layouts
  assert.deepEqual(stateDict.get("conv1.weight")!.shape, [64, 3, 7, 7]);
  assert.deepEqual(stateDict.get("layer2.0.downsample.0.weight")!.shape, [128, 64, 1, 1]);
  assert.ok(stateDict.has("layer4.1.bn2.running_var"));
  assert.deepEqual(stateDict.get("fc.weight")!.shape, [5, 512]);
  const before = tf.memory().numTensors;
  const result = loadStateDict(target, stateDict);
  assert.equal(tf.memory().numTensors, before);
  assert.equal(result.mapping, "names");
  assert.deepEqual(weightsOf(target), weightsOf(source));
  source.dispose();
  target.dispose();
});

Deno.test("loadStateDict names the parameter that is missing, extra or the wrong shape", () => {
  const model = createModel("compact-cnn", { inputShape: [32, 32, 3], numClasses: 4, seed: 0 });
  const good = toStateDict(model); // keys like conv2d_N.weight: our own layer names
  const untouched = weightsOf(model);
  const without = new Map(good);
  const [firstKey] = good.keys();
  without.delete(firstKey);
  assert.throws(
    () => loadStateDict(model, without, { source: "m.pth", mapping: "names" }),
    (error: Error) =>
      error instanceof StateDictError && error.message.includes(`missing parameter ${firstKey}`) &&
      error.message.startsWith("m.pth: "),
  );
  const extra = new Map(good);
  extra.set("head.weight", { dtype: "float32", shape: [1], data: new Float32Array(1) });
  assert.throws(
    () => loadStateDict(model, extra, { source: "m.pth", mapping: "names" }),
    /unexpected parameter head\.weight/,
  );
  const wrong = new Map(good);
  const conv = good.get(firstKey)!;
  wrong.set(firstKey, { dtype: "float32", shape: [16, 3, 5, 5], data: new Float32Array(1200) });
  assert.throws(
    () => loadStateDict(model, wrong, { source: "m.pth" }),
    new RegExp(
      `${firstKey.replace(".", "\\.")} has shape \\[16,3,5,5\\], .*needs \\[${
        conv.shape.join(",")
      }\\] \\(out, in, kh, kw\\)`,
    ),
  );
  assert.deepEqual(weightsOf(model), untouched, "a failed load changes nothing");
  // By order, a state dict with one module too few says how the architectures differ.
  const short = new Map([...good].filter(([key]) => !key.startsWith(firstKey.split(".")[0])));
  assert.throws(() => loadStateDict(model, short, { mapping: "order" }), /architectures differ/);
  model.dispose();
});

Deno.test("num_batches_tracked is read and ignored; an excluded classifier keeps its own weights", () => {
  const model = createModel("resnet18", {
    inputShape: [32, 32, 3],
    numClasses: 3,
    seed: 3,
    stem: "imagenet",
  });
  const stateDict = toStateDict(model);
  stateDict.set("bn1.num_batches_tracked", {
    dtype: "int64",
    shape: [],
    data: new Float32Array([10]),
  });
  stateDict.set("fc.weight", {
    dtype: "float32",
    shape: [1000, 512],
    data: new Float32Array(512000),
  });
  stateDict.set("fc.bias", { dtype: "float32", shape: [1000], data: new Float32Array(1000) });
  const head = model.getLayer("fc").getWeights()[0].dataSync().slice();
  const result = loadStateDict(model, stateDict, { exclude: ["fc"] });
  assert.deepEqual(result.ignored, ["bn1.num_batches_tracked"]);
  assert.deepEqual(model.getLayer("fc").getWeights()[0].dataSync(), head);
  model.dispose();
});
