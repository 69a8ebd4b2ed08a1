// Compression on compact-cnn / shapes (32×32, 10 classes), one seed, wasm backend: baseline,
// 50% magnitude-pruned, 80% structured-pruned, the same 80% student distilled from the baseline,
// post-training uint8 and quantization-aware uint8. Accuracy on the test split, exported weights.bin bytes (and gzip),
// single-image and batch-32 inference latency (median of 30 after warm-up).
// Run: deno run --allow-read=. --allow-write=data bench/compress.ts [--train 3000] [--epochs 4]
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { parseArgs } from "node:util";
import { gzipSync } from "fflate";
import {
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
  shapes,
  sparsityOf,
  useBackend,
} from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    train: { type: "string", default: "3000" },
    test: { type: "string", default: "1000" },
    epochs: { type: "string", default: "4" },
    "fine-tune": { type: "string", default: "2" },
    seed: { type: "string", default: "1" },
  },
});
const epochs = Number(values.epochs), fineTune = Number(values["fine-tune"]);
const seed = Number(values.seed);
await useBackend("wasm");
const transform = normalize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
const trainSet = shapes({ size: Number(values.train), seed });
const testSet = shapes({ size: Number(values.test), train: false, seed });
const loader = () =>
  new DataLoader(trainSet, { batchSize: 64, shuffle: true, seed, numWorkers: 0, transform });
const test = new DataLoader(testSet, { batchSize: 250, numWorkers: 0, transform });
const options = { numClasses: 10, optimizer: { name: "adam" as const, lr: 3e-3 }, seed };
const make = (name = "compact-cnn") =>
  createModel(name, { inputShape: [32, 32, 3], numClasses: 10, seed });

/** The fastest of `runs` predictions (the machine is shared: the minimum is the least disturbed). */
function latency(model: LayersModel, batch: number, runs: number): number {
  const x = tf.randomUniform([batch, 32, 32, 3], 0, 1, "float32", 7);
  let best = Infinity;
  for (let i = 0; i < runs + 2; i++) {
    const start = performance.now();
    const y = model.predict(x) as tf.Tensor;
    y.dataSync();
    y.dispose();
    if (i >= 2) best = Math.min(best, performance.now() - start);
  }
  x.dispose();
  return best;
}

const dir = await Deno.makeTempDir({ dir: "data", prefix: ".compress-" });
const rows: Record<string, unknown>[] = [];
async function row(name: string, model: LayersModel, quantization: "none" | "uint8", note: string) {
  const path = `${dir}/${rows.length}`;
  await model.save(fileHandler(path, { quantization }));
  const exported = await loadModel(path); // what a user of the export gets
  const weights = await Deno.readFile(`${path}/weights.bin`);
  const result = await evaluate(exported, test, { numClasses: 10 });
  rows.push({
    model: name,
    test_accuracy: Math.round(result.accuracy * 10000) / 10000,
    params: exported.countParams(),
    sparsity: Math.round(sparsityOf(exported) * 1000) / 1000,
    weight_bytes: weights.length,
    gzip_bytes: gzipSync(weights, { level: 9 }).length,
    latency_ms_b1: Infinity,
    latency_ms_b32: Infinity,
    note,
  });
  console.error(JSON.stringify(rows.at(-1)));
  exported.dispose();
}

/** Latencies at the end, the models taken in turn over several rounds (fair under load). */
async function measureLatencies() {
  const models = await Promise.all(rows.map((_, i) => loadModel(`${dir}/${i}`)));
  for (let round = 0; round < 5; round++) {
    for (const [i, model] of models.entries()) {
      const row = rows[i] as { latency_ms_b1: number; latency_ms_b32: number };
      row.latency_ms_b1 = Math.min(row.latency_ms_b1, latency(model, 1, 20));
      row.latency_ms_b32 = Math.min(row.latency_ms_b32, latency(model, 32, 4));
    }
  }
  for (const row of rows as { latency_ms_b1: number; latency_ms_b32: number }[]) {
    row.latency_ms_b1 = Math.round(row.latency_ms_b1 * 100) / 100;
    row.latency_ms_b32 = Math.round(row.latency_ms_b32 * 100) / 100;
  }
  for (const model of models) model.dispose();
}

try {
  const started = performance.now();
  const baseline = make();
  await fit(baseline, loader(), { ...options, epochs });
  await row("baseline", baseline, "none", `${epochs} epochs`);

  const copy = async () => {
    const path = `${dir}/copy`;
    await baseline.save(fileHandler(path));
    return await loadModel(path);
  };
  const pruned = await copy();
  const pruner = new MagnitudePruner(pruned, { sparsity: 0.5, epochs: fineTune });
  await fit(pruned, loader(), { ...options, epochs: fineTune, callbacks: pruner.callbacks() });
  pruner.dispose();
  await row("50% pruned (magnitude)", pruned, "none", `baseline + ${fineTune} epochs, cubic`);
  pruned.dispose();

  const { model: slim } = await pruneChannels(baseline, { ratio: 0.8 });
  await fit(slim, loader(), { ...options, epochs: fineTune });
  await row("80% pruned (structured)", slim, "none", `baseline + ${fineTune} epochs`);
  slim.dispose();

  // The same 80%-structured student, fine-tuned as long with the baseline as its teacher.
  const { model: student } = await pruneChannels(baseline, { ratio: 0.8 });
  await fit(student, loader(), {
    ...options,
    epochs: fineTune,
    distill: { teacher: baseline, temperature: 4, alpha: 0.7 },
  });
  await row(
    "distilled student (80% structured)",
    student,
    "none",
    `baseline + ${fineTune} epochs distilled from it, T 4, α 0.7`,
  );
  student.dispose();

  await row("PTQ uint8", baseline, "uint8", "baseline exported uint8");

  // Controls: the baseline trained as much longer as the fine-tuned rows were.
  for (const extra of [...new Set([1, fineTune])].sort()) {
    const longer = await copy();
    await fit(longer, loader(), { ...options, epochs: extra });
    await row(`baseline + ${extra} epochs (control)`, longer, "none", "no compression");
    longer.dispose();
  }

  const quantized = await copy();
  const qat = new QuantizationAwareTraining(quantized, { epochs: 1, weights: "tensor" });
  await fit(quantized, loader(), {
    ...options,
    optimizer: { name: "adam", lr: 3e-4 },
    epochs: 1,
    callbacks: qat.callbacks(),
  });
  qat.bake();
  qat.dispose();
  await row("QAT uint8", quantized, "uint8", "baseline + 1 QAT epoch, baked, exported uint8");
  quantized.dispose();
  baseline.dispose();
  await measureLatencies();
  console.log(JSON.stringify({
    rows,
    seconds: Math.round((performance.now() - started) / 1000),
    train: trainSet.length,
    test: testSet.length,
    seed,
  }));
} finally {
  await Deno.remove(dir, { recursive: true });
}
