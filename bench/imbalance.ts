// Imbalanced `shapes`: the default run's data, model and recipe (compact-cnn, Adam 3e-3, batch 64,
// no augmentation, CIFAR normalisation) on a training subset where one class is 5% of the images,
// trained once per `--balance` mode with the same seed; the balanced 2,000-image test split
// measures each class's recall. Prints a table and one JSON object as the last stdout line.
// Run: deno run --allow-read=. --allow-env=XDG_RUNTIME_DIR bench/imbalance.ts
//   [--modes none,oversample,undersample,weights] [--epochs 4] [--per-class 400] [--rare circle]
//   [--share 0.05] [--seed 0] [--threads 2]
import { parseArgs } from "node:util";
import {
  CIFAR_MEAN,
  CIFAR_STD,
  classBalancedSampler,
  classCounts,
  createModel,
  DataLoader,
  evaluate,
  fit,
  inverseFrequencyWeights,
  normalize,
  selectBackend,
  setWasmThreads,
  shapes,
  Subset,
} from "../mod.ts";

type Mode = "none" | "oversample" | "undersample" | "weights";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    modes: { type: "string", default: "none,oversample,undersample,weights" },
    epochs: { type: "string", default: "4" },
    "per-class": { type: "string", default: "400" },
    rare: { type: "string", default: "circle" },
    share: { type: "string", default: "0.05" },
    seed: { type: "string", default: "0" },
    threads: { type: "string" },
  },
});
if (values.threads !== undefined) await setWasmThreads(Number(values.threads));
const backend = await selectBackend("wasm");
const epochs = Number(values.epochs);
const perClass = Number(values["per-class"]);
const share = Number(values.share);
const seed = Number(values.seed);

const full = shapes({ train: true });
const rare = full.classes.indexOf(values.rare!);
if (rare < 0) throw new Error(`--rare must be one of ${full.classes.join(", ")}`);
// The rare class is `share` of the subset: n / (n + (K − 1)·perClass) = share.
const rareCount = Math.round((share * (full.classes.length - 1) * perClass) / (1 - share));
const taken = new Array<number>(full.classes.length).fill(0);
const keep: number[] = [];
for (let i = 0; i < full.length; i++) {
  const label = full.labelOf(i);
  if (taken[label] < (label === rare ? rareCount : perClass)) {
    taken[label]++;
    keep.push(i);
  }
}
const train = new Subset(full, keep);
const test = shapes({ train: false });
const labels = keep.map((i) => full.labelOf(i));
const counts = classCounts(labels, full.classes.length);
const transform = normalize({ mean: CIFAR_MEAN, std: CIFAR_STD });
console.log(
  `train: ${train.length} images, ${full.classes[rare]} ${counts[rare]} (${
    ((counts[rare] / train.length) * 100).toFixed(1)
  }%), others ${perClass} each; test: ${test.length} balanced; ${epochs} epochs on ${backend.name}`,
);

const results: Record<string, unknown>[] = [];
for (const mode of values.modes!.split(",") as Mode[]) {
  const sampler = mode === "oversample" || mode === "undersample"
    ? classBalancedSampler(labels, { mode, seed })
    : undefined;
  const classWeights = mode === "weights" ? inverseFrequencyWeights(counts) : undefined;
  const loader = new DataLoader(train, {
    batchSize: 64,
    shuffle: sampler === undefined,
    sampler,
    seed,
    transform,
    numWorkers: 0,
  });
  const evalLoader = new DataLoader(test, { batchSize: 256, transform, numWorkers: 0 });
  const model = createModel("compact-cnn", { inputShape: [32, 32, 3], numClasses: 10, seed });
  const started = performance.now();
  await fit(model, loader, {
    epochs,
    numClasses: 10,
    optimizer: { name: "adam", lr: 3e-3 },
    loss: { classWeights },
    seed,
  });
  const seconds = (performance.now() - started) / 1000;
  const result = await evaluate(model, evalLoader, { numClasses: 10 });
  model.dispose();
  loader.close();
  evalLoader.close();
  const recall = result.report.perClass.map((c) => c.recall);
  const row = {
    mode,
    rare_recall: recall[rare],
    accuracy: result.accuracy,
    balanced_accuracy: result.report.balancedAccuracy,
    min_other_recall: Math.min(...recall.filter((_, c) => c !== rare)),
    samples_per_epoch: loader.sampler?.length ?? train.length,
    train_seconds: Math.round(seconds),
  };
  results.push(row);
  const pct = (v: number) => `${(v * 100).toFixed(1)}%`;
  console.log(
    `${mode.padEnd(11)} ${full.classes[rare]} recall ${pct(row.rare_recall)}  accuracy ${
      pct(row.accuracy)
    }  balanced ${
      pct(row.balanced_accuracy)
    }  (${row.samples_per_epoch} samples/epoch, ${row.train_seconds} s)`,
  );
}
console.log(JSON.stringify({
  rare: full.classes[rare],
  rare_share: counts[rare] / train.length,
  train_images: train.length,
  epochs,
  seed,
  results,
}));
