import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  ConfigError,
  createModel,
  fileHandler,
  readOnnxModel,
  resolveTrainConfig,
  sparsityOf,
  useBackend,
} from "../../mod.ts";
import { runCompression, structuredModel, writeQdqOnnx } from "../../lib/run/_compress.ts";
import { decodeModel } from "../../lib/export/_proto.ts";
import { tempDir } from "../_tmp.ts";

Deno.test("config: compression settings, their defaults and bounds", () => {
  const config = resolveTrainConfig({});
  assert.equal(config.teacher, null);
  assert.equal(config.distillT, 4);
  assert.equal(config.distillAlpha, 0.7);
  assert.equal(config.prune, 0);
  assert.equal(config.pruneStructured, false);
  assert.equal(config.qatEpochs, 0);
  const set = resolveTrainConfig({ prune: "0.5", distillT: "2", qatEpochs: "1" });
  assert.deepEqual([set.prune, set.distillT, set.qatEpochs], [0.5, 2, 1]);
  assert.throws(() => resolveTrainConfig({ prune: 1 }), ConfigError);
  assert.throws(() => resolveTrainConfig({ distillAlpha: 2 }), ConfigError);
});

Deno.test("run compression: structured model, magnitude masks, QAT baking, a teacher's classes checked", async () => {
  await useBackend("cpu");
  const lines: string[] = [];
  const log = (line: string) => void lines.push(line);
  const make = () =>
    createModel("compact-cnn", { inputShape: [16, 16, 3], numClasses: 4, seed: 1 });
  const base = resolveTrainConfig({ epochs: 2 });

  const full = make();
  const fullParams = full.countParams();
  const small = await structuredModel(full, { ...base, prune: 0.5, pruneStructured: true }, log);
  assert.ok(small.countParams() < fullParams / 2);
  assert.match(lines.at(-1)!, /3 convolutions rebuilt with 50% of their filters/);

  const compression = await runCompression(
    { ...base, prune: 0.5, qatEpochs: 1, quantize: "uint8" },
    small,
    4,
    log,
  );
  compression.onEpochBegin(1);
  compression.onBatchEnd(1, 0);
  assert.ok(Math.abs(sparsityOf(small) - 0.5) < 0.01);
  compression.finish();
  assert.ok(Math.abs(sparsityOf(small) - 0.5) < 0.01);
  small.dispose();

  const dir = await tempDir("teacher");
  const teacher = createModel("compact-cnn", { inputShape: [16, 16, 3], numClasses: 3 });
  await teacher.save(fileHandler(dir));
  await assert.rejects(
    runCompression({ ...base, teacher: dir }, make(), 4, log),
    (e: Error) => e instanceof ConfigError && /3 classes, the dataset 4/.test(e.message),
  );
  const ok = await runCompression({ ...base, teacher: dir }, make(), 3, log);
  assert.equal(ok.distill?.temperature, 4);
  ok.finish();
  teacher.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("run compression: model.int8.onnx keeps the metadata and is about 4x smaller", async () => {
  await useBackend("cpu");
  const model = createModel("compact-cnn", { inputShape: [16, 16, 3], numClasses: 4, seed: 1 });
  const dir = await tempDir("int8");
  await writeQdqOnnx(model, `${dir}/model.int8.onnx`, { classes: "a,b,c,d" });
  const bytes = await Deno.readFile(`${dir}/model.int8.onnx`);
  const info = readOnnxModel(bytes);
  assert.equal(info.metadata.classes, "a,b,c,d");
  assert.ok(bytes.length < model.countParams() * 1.5);
  await Deno.remove(dir, { recursive: true });
  model.dispose();
});

Deno.test("run compression: after QAT, model.int8.onnx quantizes activations at the observed ranges", async () => {
  await useBackend("cpu");
  const model = createModel("compact-cnn", { inputShape: [16, 16, 3], numClasses: 4, seed: 1 });
  const compression = await runCompression(
    resolveTrainConfig({ epochs: 1, qatEpochs: 1 }),
    model,
    4,
    () => {},
  );
  compression.onEpochBegin(0);
  const x = tf.randomNormal([2, 16, 16, 3], 0, 1, "float32", 3);
  tf.dispose([model.apply(x, { training: true }) as tf.Tensor, x]);
  compression.finish();
  const dir = await tempDir("int8-activations");
  await writeQdqOnnx(model, `${dir}/model.int8.onnx`, {});
  const graph = decodeModel(await Deno.readFile(`${dir}/model.int8.onnx`)).graph as {
    node: { op_type: string }[];
  };
  assert.equal(graph.node.filter((n) => n.op_type === "QuantizeLinear").length, 4);
  await Deno.remove(dir, { recursive: true });
  model.dispose();
});
