// The compression table of one model on `shapes` (32×32×3, 10 classes: CIFAR-10's size), shared
// by bench/compress.ts (compact-cnn) and bench/compress_resnet.ts (resnet18). One seed for every
// row; wasm backend. Rows: the baseline (the recipe: Adam at a constant lr), a distilled student
// (the 80%-structured-pruned baseline fine-tuned with the baseline as teacher) beside the same
// student fine-tuned without it (the 80% structured row), 50% magnitude pruning, PTQ and QAT int8,
// and the baseline fine-tuned as long without compression (the control every fine-tuned row is
// read against). Fine-tuning is Adam with a cosine decay to 0. Accuracy is the exported model's
// as loaded back; bytes are the TF.js weights.bin (and gzip -9); latency is predict + read-back,
// the fastest over rounds that take the models in turn. Prints one JSON line, then a markdown
// table; writes the JSON to `--out` after each row too.
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { parseArgs } from "node:util";
import { gzipSync } from "fflate";
import * as ort from "onnxruntime-web";
import {
  CIFAR_MEAN,
  CIFAR_STD,
  cosineLR,
  createModel,
  DataLoader,
  evaluate,
  fileHandler,
  fit,
  loadModel,
  MagnitudePruner,
  normalize,
  pruneChannels,
  QuantizationAwareTraining,
  quantizeOnnxWeights,
  setWasmThreads,
  shapes,
  sparsityOf,
  toOnnx,
  useBackend,
} from "../mod.ts";

/** Defaults of one model's table; every one is a flag too. */
export interface CompressionBenchDefaults {
  model: string;
  train: number;
  test: number;
  epochs: number;
  fineTune: number;
  lr: number;
  fineTuneLr: number;
  batch: number;
  latencyRounds: number;
  b1Runs: number;
  b32Runs: number;
}

type Row = {
  model: string;
  test_accuracy: number;
  params: number;
  sparsity: number;
  weight_bytes: number;
  gzip_bytes: number;
  latency_ms_b1: number;
  latency_ms_b32: number;
  train_s: number;
  how: string;
};

function flag(name: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isFinite(n) || n < 0) {
    throw new Error(`--${name} must be a non-negative number; got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Runs the table with `defaults` overridable by the command line. */
export async function runCompressionBench(defaults: CompressionBenchDefaults): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string", default: defaults.model },
      train: { type: "string", default: String(defaults.train) },
      test: { type: "string", default: String(defaults.test) },
      epochs: { type: "string", default: String(defaults.epochs) },
      "fine-tune": { type: "string", default: String(defaults.fineTune) },
      lr: { type: "string", default: String(defaults.lr) },
      "fine-tune-lr": { type: "string", default: String(defaults.fineTuneLr) },
      batch: { type: "string", default: String(defaults.batch) },
      seed: { type: "string", default: "0" },
      "spread-seeds": { type: "string", default: "" },
      threads: { type: "string", default: "1" },
      "distill-t": { type: "string", default: "4" },
      "distill-alpha": { type: "string", default: "0.7" },
      "latency-rounds": { type: "string", default: String(defaults.latencyRounds) },
      "b1-runs": { type: "string", default: String(defaults.b1Runs) },
      "b32-runs": { type: "string", default: String(defaults.b32Runs) },
      "structured-ratio": { type: "string", default: "0.8" },
      rows: { type: "string", default: "distill,structured,magnitude,ptq,qat,onnx,control" },
      out: { type: "string" },
    },
  });
  const name = values.model;
  const epochs = flag("epochs", values.epochs), fineTune = flag("fine-tune", values["fine-tune"]);
  const seed = flag("seed", values.seed), batchSize = flag("batch", values.batch);
  const lr = flag("lr", values.lr), fineTuneLr = flag("fine-tune-lr", values["fine-tune-lr"]);
  const temperature = flag("distill-t", values["distill-t"]);
  const alpha = flag("distill-alpha", values["distill-alpha"]);
  const spreadSeeds = values["spread-seeds"] === ""
    ? []
    : values["spread-seeds"].split(",").map((s) => flag("spread-seeds", s));
  const ROWS = ["distill", "structured", "magnitude", "ptq", "qat", "onnx", "control"];
  const wanted = values.rows.split(",").filter((r) => r !== "");
  const unknown = wanted.filter((r) => !ROWS.includes(r));
  if (unknown.length > 0) {
    throw new Error(`--rows: unknown ${unknown.join(", ")}; expected some of ${ROWS.join(", ")}`);
  }
  const want = (key: string) => wanted.includes(key);
  const ratio = flag("structured-ratio", values["structured-ratio"]);
  const percent = `${Math.round(ratio * 100)}%`;
  await setWasmThreads(flag("threads", values.threads));
  await useBackend("wasm");
  const transform = normalize({ mean: [...CIFAR_MEAN], std: [...CIFAR_STD] });
  const trainSet = shapes({ size: flag("train", values.train) });
  const testSet = shapes({ size: flag("test", values.test), train: false });
  const loader = (s = seed) =>
    new DataLoader(trainSet, { batchSize, shuffle: true, seed: s, numWorkers: 0, transform });
  const test = new DataLoader(testSet, { batchSize: 100, numWorkers: 0, transform });
  const recipe = { numClasses: 10, optimizer: { name: "adam" as const, lr }, seed };
  const tune = {
    numClasses: 10,
    optimizer: { name: "adam" as const, lr: fineTuneLr },
    schedule: cosineLR({ epochs: fineTune }),
    epochs: fineTune,
    seed,
  };
  const make = (s = seed) =>
    createModel(name, { inputShape: [32, 32, 3], numClasses: 10, seed: s });

  function latency(model: LayersModel, batch: number, runs: number): number {
    const x = tf.randomUniform([batch, 32, 32, 3], 0, 1, "float32", 7);
    let best = Infinity;
    for (let i = 0; i < runs + 1; i++) {
      const start = performance.now();
      const y = model.predict(x) as tf.Tensor;
      y.dataSync();
      y.dispose();
      if (i >= 1) best = Math.min(best, performance.now() - start);
    }
    x.dispose();
    return best;
  }

  /** Test accuracy of an ONNX file run by ONNX Runtime (wasm, one thread). */
  async function ortAccuracy(bytes: Uint8Array): Promise<number> {
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = "error";
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    let hits = 0, seen = 0;
    try {
      for await (const batch of test) {
        const nchw = tf.tidy(() =>
          tf.transpose(tf.tensor4d(batch.images as Float32Array, batch.shape), [0, 3, 1, 2])
        );
        const input = new ort.Tensor("float32", nchw.dataSync() as Float32Array, nchw.shape);
        nchw.dispose();
        const logits = (await session.run({ input })).logits.data as Float32Array;
        for (let i = 0; i < batch.labels.length; i++) {
          const row = logits.subarray(i * 10, i * 10 + 10);
          if (row.indexOf(Math.max(...row)) === batch.labels[i]) hits++;
        }
        seen += batch.labels.length;
      }
    } finally {
      await session.release();
    }
    return hits / seen;
  }

  const started = performance.now();
  const dir = await Deno.makeTempDir({ dir: "data", prefix: ".compress-" });
  const rows: Row[] = [];
  const spread: { seed: number; test_accuracy: number }[] = [];
  const onnx: { model: string; test_accuracy_ort: number; bytes: number; how: string }[] = [];
  const summary = () => ({
    model: name,
    rows,
    baseline_other_seeds: spread,
    onnx_rows: onnx,
    seconds: Math.round((performance.now() - started) / 1000),
    train: trainSet.length,
    test: testSet.length,
    epochs,
    fine_tune: fineTune,
    lr,
    fine_tune_lr: fineTuneLr,
    batch: batchSize,
    seed,
    distill: { temperature, alpha },
    threads: flag("threads", values.threads),
    date: new Date().toISOString(),
  });
  const save = async () => {
    if (values.out) await Deno.writeTextFile(values.out, JSON.stringify(summary(), null, 1));
  };
  async function row(
    label: string,
    model: LayersModel,
    quantization: "none" | "uint8",
    how: string,
    since: number,
  ) {
    const trainSeconds = Math.round((performance.now() - since) / 1000);
    const path = `${dir}/${rows.length}`;
    await model.save(fileHandler(path, { quantization }));
    const exported = await loadModel(path); // what a user of the export gets
    const weights = await Deno.readFile(`${path}/weights.bin`);
    const result = await evaluate(exported, test, { numClasses: 10 });
    rows.push({
      model: label,
      test_accuracy: Math.round(result.accuracy * 10000) / 10000,
      params: exported.countParams(),
      sparsity: Math.round(sparsityOf(exported) * 1000) / 1000,
      weight_bytes: weights.length,
      gzip_bytes: gzipSync(weights, { level: 9 }).length,
      latency_ms_b1: Infinity,
      latency_ms_b32: Infinity,
      train_s: trainSeconds,
      how,
    });
    console.error(JSON.stringify(rows.at(-1)));
    exported.dispose();
    await save();
  }

  try {
    let since = performance.now();
    const baseline = make();
    await fit(baseline, loader(), { ...recipe, epochs });
    await row("baseline", baseline, "none", `${epochs} epochs, Adam ${lr}`, since);
    const copy = async () => {
      await baseline.save(fileHandler(`${dir}/copy`));
      return await loadModel(`${dir}/copy`);
    };
    const tuned = `+ ${fineTune} epochs, Adam ${fineTuneLr} cosine`;

    if (want("distill")) {
      since = performance.now();
      const { model: student } = await pruneChannels(baseline, { ratio });
      await fit(student, loader(), { ...tune, distill: { teacher: baseline, temperature, alpha } });
      await row(
        `distilled student (${percent} structured)`,
        student,
        "none",
        `${percent} structured ${tuned}, distilled T ${temperature} α ${alpha}`,
        since,
      );
      student.dispose();
    }
    if (want("structured")) {
      since = performance.now();
      const { model: slim } = await pruneChannels(baseline, { ratio });
      await fit(slim, loader(), tune);
      await row(
        `${percent} pruned (structured)`,
        slim,
        "none",
        `${percent} of filters ${tuned}`,
        since,
      );
      slim.dispose();
    }
    if (want("magnitude")) {
      since = performance.now();
      const pruned = await copy();
      const pruner = new MagnitudePruner(pruned, { sparsity: 0.5, epochs: fineTune });
      await fit(pruned, loader(), { ...tune, callbacks: pruner.callbacks() });
      pruner.dispose();
      await row("50% pruned (magnitude)", pruned, "none", `global, cubic ${tuned}`, since);
      pruned.dispose();
    }
    if (want("ptq")) {
      await row("PTQ int8", baseline, "uint8", "baseline, TF.js uint8 weights", performance.now());
    }
    if (want("qat")) {
      since = performance.now();
      const quantized = await copy();
      const qat = new QuantizationAwareTraining(quantized, { epochs: fineTune, weights: "tensor" });
      await fit(quantized, loader(), { ...tune, callbacks: qat.callbacks() });
      qat.bake();
      qat.dispose();
      await row("QAT int8", quantized, "uint8", `QAT ${tuned}, baked, TF.js uint8`, since);
      quantized.dispose();
    }
    if (want("onnx")) {
      // The same two in ONNX's QDQ format, run by ONNX Runtime: PTQ int8 weights (per channel), and
      // QAT with per-channel kernels whose observed activation ranges quantize each layer's input.
      const ptqOnnx = quantizeOnnxWeights(toOnnx(baseline)).bytes;
      onnx.push({
        model: "PTQ int8 (ONNX QDQ weights)",
        test_accuracy_ort: Math.round((await ortAccuracy(ptqOnnx)) * 10000) / 10000,
        bytes: ptqOnnx.length,
        how: "baseline, int8 per-channel weights, float activations",
      });
      console.error(JSON.stringify(onnx.at(-1)));
      const channel = await copy();
      const qatChannel = new QuantizationAwareTraining(channel, { epochs: fineTune });
      await fit(channel, loader(), { ...tune, callbacks: qatChannel.callbacks() });
      qatChannel.bake();
      const fakeQuant = (await evaluate(channel, test, { numClasses: 10 })).accuracy; // QAT still on
      const activations = qatChannel.ranges();
      qatChannel.dispose();
      const qatOnnx = quantizeOnnxWeights(toOnnx(channel), { activations }).bytes;
      onnx.push({
        model: "QAT int8 (ONNX QDQ weights + activations)",
        test_accuracy_ort: Math.round((await ortAccuracy(qatOnnx)) * 10000) / 10000,
        bytes: qatOnnx.length,
        how: `QAT per-channel ${tuned}; fake-quantized model in TF.js: ${
          (fakeQuant * 100).toFixed(2)
        }%`,
      });
      console.error(JSON.stringify(onnx.at(-1)));
      channel.dispose();
      await save();
    }
    if (want("control")) {
      since = performance.now();
      const longer = await copy();
      await fit(longer, loader(), tune);
      await row("baseline fine-tuned (control)", longer, "none", `no compression ${tuned}`, since);
      longer.dispose();
    }
    baseline.dispose();

    for (const s of spreadSeeds) {
      const other = make(s);
      await fit(other, loader(s), { ...recipe, seed: s, epochs });
      const result = await evaluate(other, test, { numClasses: 10 });
      spread.push({ seed: s, test_accuracy: Math.round(result.accuracy * 10000) / 10000 });
      console.error(JSON.stringify(spread.at(-1)));
      other.dispose();
      await save();
    }

    // Latencies last, the models taken in turn over rounds (fairer under load).
    const models = await Promise.all(rows.map((_, i) => loadModel(`${dir}/${i}`)));
    const rounds = flag("latency-rounds", values["latency-rounds"]);
    for (let round = 0; round < rounds; round++) {
      for (const [i, model] of models.entries()) {
        const r = rows[i];
        r.latency_ms_b1 = Math.min(
          r.latency_ms_b1,
          latency(model, 1, flag("b1-runs", values["b1-runs"])),
        );
        r.latency_ms_b32 = Math.min(
          r.latency_ms_b32,
          latency(model, 32, flag("b32-runs", values["b32-runs"])),
        );
      }
    }
    for (const r of rows) {
      r.latency_ms_b1 = Math.round(r.latency_ms_b1 * 100) / 100;
      r.latency_ms_b32 = Math.round(r.latency_ms_b32 * 100) / 100;
    }
    for (const model of models) model.dispose();
    await save();
    console.log(JSON.stringify(summary()));
    console.log(markdown(name, rows));
    for (const r of onnx) {
      console.log(
        `| ${name} | ${r.model} | ${(r.test_accuracy_ort * 100).toFixed(2)}% (ORT) | ${
          thousands(r.bytes)
        } B model | ${r.how} |`,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const thousands = (n: number) => n.toLocaleString("en-US");

/** The rows as BENCHMARKS.md's table. */
export function markdown(model: string, rows: Row[]): string {
  const lines = [
    "| model | row | test accuracy | params | zeros | weights.bin | gzip -9 | latency b1 | latency b32 | how |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  ];
  for (const r of rows) {
    lines.push(
      `| ${model} | ${r.model} | ${(r.test_accuracy * 100).toFixed(2)}% | ${
        thousands(r.params)
      } | ${Math.round(r.sparsity * 100)}% | ${thousands(r.weight_bytes)} B | ${
        thousands(r.gzip_bytes)
      } B | ${r.latency_ms_b1} ms | ${r.latency_ms_b32} ms | ${r.how} |`,
    );
  }
  return lines.join("\n");
}
