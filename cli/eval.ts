// `deno task eval`: a trained run's model on a dataset split → metrics, confusion matrix, report.
import {
  classCounts,
  DataLoader,
  evaluate,
  openRunData,
  openTrainedModel,
  parseTtaMode,
  renderReport,
  resolveTrainConfig,
  selectBackend,
  ttaLogits,
} from "../mod.ts";
import { writeFileAtomic } from "../lib/io/_atomic.ts";
import { type FlagSpecs, formatHelp, parseArgs, UsageError } from "./_args.ts";
import { ADAPTER_FLAG, adapterFlag, backendFlag } from "./_adapter.ts";
import { applyThreads, THREADS_FLAG } from "./_threads.ts";

const FLAGS: FlagSpecs = {
  run: { type: "string", description: "run directory (or its model/ folder)" },
  dataset: { type: "string", description: "dataset to evaluate on (default: the run's)" },
  root: { type: "string", description: "where standard datasets live (default: the run's)" },
  split: { type: "string", description: "val or train", default: "val" },
  "batch-size": { type: "string", description: "images per batch", default: "64" },
  "top-k": { type: "string", description: "k of the top-k accuracy", default: "5" },
  workers: { type: "string", description: "loader workers", default: "0" },
  tta: {
    type: "string",
    description: "test-time augmentation, logits averaged: none, hflip or five-crop",
    default: "none",
  },
  backend: { type: "string", description: "auto, webgpu, wasm or cpu", default: "auto" },
  adapter: ADAPTER_FLAG,
  threads: THREADS_FLAG,
  report: { type: "string", description: "also write an HTML report to this path" },
  json: { type: "boolean", description: "print one JSON object as the last stdout line" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

const HELP = formatHelp(
  "deno task eval --run <run dir> [options]",
  "Evaluates a trained model with the run's preprocessing: loss, top-1 and top-k accuracy,\n" +
    "per-class precision/recall/F1 (macro and weighted), the confusion matrix and the most\n" +
    "confident mistakes.",
  FLAGS,
  [
    "deno task eval --run runs/20261122-101500-compact-cnn",
    "deno task eval --run runs/digits --split train --json",
    "deno task eval --run runs/ants-bees --report runs/ants-bees/eval.html",
    "deno task eval --run runs/ants-bees --tta hflip           # mirror views, logits averaged",
  ],
);

const positiveInt = (name: string, value: unknown) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be an integer ≥ 0`);
  return n;
};

const labelsOf = (dataset: { length: number; labelOf(index: number): number }) =>
  Array.from({ length: dataset.length }, (_, i) => dataset.labelOf(i));

/** Runs the eval command; returns the process exit code. */
export async function evalCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs(args, FLAGS);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.run === undefined) throw new UsageError("--run <run directory> is required");
  let tta;
  try {
    tta = parseTtaMode(String(values.tta ?? "none"));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  if (values.split !== "val" && values.split !== "train") {
    throw new UsageError(`--split must be val or train, got '${values.split}'`);
  }
  await applyThreads(values.threads);
  const backend = await selectBackend(backendFlag(values.backend), {
    adapter: adapterFlag(values.adapter),
    log: (line) => console.error(line),
  });
  const trained = await openTrainedModel(values.run as string);
  const base = trained.config ?? {};
  if (trained.config === undefined && values.dataset === undefined) {
    throw new UsageError(`${values.run} has no config.json; name the data with --dataset`);
  }
  const config = resolveTrainConfig({
    ...base,
    ...(values.dataset !== undefined ? { dataset: values.dataset } : {}),
    ...(values.root !== undefined ? { root: values.root } : {}),
  });
  const data = await openRunData(config, {
    warn: (line) => console.error(line),
    inputSide: trained.preprocessing.inputShape[0],
  });
  const expected = trained.preprocessing.classes;
  if (data.classes.join("\n") !== expected.join("\n")) {
    throw new Error(
      `${config.dataset}: classes [${data.classes.join(", ")}] differ from the model's [${
        expected.join(", ")
      }]`,
    );
  }
  const dataset = values.split === "train" ? data.train : data.validation;
  const loader = new DataLoader(dataset, {
    batchSize: positiveInt("batch-size", values["batch-size"]) || 64,
    transform: trained.transform,
    numWorkers: positiveInt("workers", values.workers),
  });
  const started = performance.now();
  const result = await evaluate(trained.model, loader, {
    numClasses: expected.length,
    classes: expected,
    topK: positiveInt("top-k", values["top-k"]) || 5,
    ...(tta === "none" ? {} : { forward: (images) => ttaLogits(trained.model, images, tta) }),
  });
  const seconds = (performance.now() - started) / 1000;
  loader.close();
  trained.model.dispose();

  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  console.log(
    `${config.dataset} (${values.split}, ${dataset.length} images) on ${backend.name}: ` +
      `accuracy ${pct(result.accuracy)}${
        result.k < expected.length ? `, top-${result.k} ${pct(result.topK)}` : ""
      }, balanced ${pct(result.report.balancedAccuracy)}, loss ${result.loss.toFixed(4)}${
        tta === "none" ? "" : `, TTA ${tta}`
      } (${seconds.toFixed(1)} s)`,
  );
  const nameWidth = Math.max(12, ...expected.map((c) => c.length));
  console.log(`\n${"class".padEnd(nameWidth)}  precision  recall     f1  support`);
  for (const c of result.report.perClass) {
    console.log(
      `${c.name.padEnd(nameWidth)}  ${pct(c.precision).padStart(9)}  ${pct(c.recall).padStart(6)} ${
        pct(c.f1).padStart(6)
      }  ${String(c.support).padStart(7)}`,
    );
  }
  for (
    const [name, avg] of [["macro avg", result.report.macro], [
      "weighted avg",
      result.report.weighted,
    ]] as const
  ) {
    console.log(
      `${name.padEnd(nameWidth)}  ${pct(avg.precision).padStart(9)}  ${
        pct(avg.recall).padStart(6)
      } ${pct(avg.f1).padStart(6)}  ${String(dataset.length).padStart(7)}`,
    );
  }
  const n = expected.length;
  if (n <= 20) {
    console.log(`\nConfusion matrix (rows: true, columns: predicted)`);
    const cell = Math.max(5, ...Array.from(result.confusion, (v) => String(v).length + 1));
    console.log(" ".repeat(nameWidth) + expected.map((_, i) => String(i).padStart(cell)).join(""));
    for (let t = 0; t < n; t++) {
      const row = Array.from(
        result.confusion.subarray(t * n, (t + 1) * n),
        (v) => String(v).padStart(cell),
      );
      console.log(`${`${t} ${expected[t]}`.padEnd(nameWidth)}${row.join("")}`);
    }
  }
  const worst = [...result.misclassified].sort((a, b) => b.confidence - a.confidence).slice(0, 10);
  if (worst.length > 0) {
    console.log(`\nMost confident mistakes (${result.misclassified.length} in all):`);
    for (const m of worst) {
      console.log(
        `  ${m.source ?? `#${m.index}`}: ${expected[m.truth]} → ${expected[m.predicted]} (${
          pct(m.confidence)
        })`,
      );
    }
  }
  if (values.report !== undefined) {
    const html = renderReport({
      title: `Evaluation of ${values.run} on ${config.dataset} (${values.split})`,
      subtitle: [`${dataset.length} images, backend ${backend.name}`],
      history: [],
      classes: expected,
      confusion: result.confusion,
      report: result.report,
      loss: result.loss,
      topK: { k: result.k, accuracy: result.topK },
      misclassified: worst.map((m) => ({ ...m, source: m.source ?? `#${m.index}` })),
      classDistribution: {
        train: classCounts(labelsOf(data.train), n),
        validation: classCounts(labelsOf(data.validation), n),
      },
    });
    await writeFileAtomic(values.report as string, html);
    console.log(`\nReport: ${values.report}`);
  }
  if (values.json) {
    console.log(JSON.stringify({
      dataset: config.dataset,
      split: values.split,
      images: dataset.length,
      backend: backend.name,
      loss: result.loss,
      accuracy: result.accuracy,
      balanced_accuracy: result.report.balancedAccuracy,
      tta,
      top_k: result.topK,
      k: result.k,
      macro: result.report.macro,
      weighted: result.report.weighted,
      per_class: result.report.perClass,
      confusion: [...result.confusion],
      misclassified: result.misclassified.length,
      seconds: Math.round(seconds * 100) / 100,
    }));
  }
  return 0;
}
