// `deno task train`: a thin layer over resolveTrainConfig + trainRun, with a progress bar,
// Ctrl-C handling (finish the step, save, print the resume command, exit 130) and --json.
import {
  DEFAULT_TRAIN_CONFIG,
  listModels,
  nameRun,
  resolveTrainConfig,
  runDirOf,
  type TrainConfig,
  trainRun,
} from "../mod.ts";
import { type FlagSpecs, formatHelp, parseArgs, UsageError } from "./_args.ts";
import { readConfigFile, toConfigOverrides } from "./_config.ts";
import { ADAPTER_FLAG, adapterFlag, applyAdapter } from "./_adapter.ts";
import { ProgressBar, sinkFor } from "./_progress.ts";

const d = DEFAULT_TRAIN_CONFIG;

/** Flags that map one to one onto TrainConfig keys (kebab-case → camelCase). */
export const TRAIN_FLAGS: FlagSpecs = {
  dataset: {
    type: "string",
    description: "shapes (embedded), mnist, fashion-mnist, cifar10, cifar100, or an image folder",
    default: d.dataset,
  },
  root: { type: "string", description: "where standard datasets live", default: d.root },
  download: { type: "boolean", description: "fetch a missing standard dataset (needs network)" },
  strict: { type: "boolean", description: "stop at the first bad image instead of skipping it" },
  "val-split": {
    type: "string",
    description: "validation fraction for a folder without val/",
    default: String(d.valSplit),
  },
  model: {
    type: "string",
    description: "model name (--list-models); default by dataset",
    default: "auto",
  },
  epochs: { type: "string", description: "epochs to train", default: String(d.epochs) },
  "batch-size": { type: "string", description: "images per step", default: String(d.batchSize) },
  lr: { type: "string", description: "learning rate; default by dataset", default: "auto" },
  optimizer: { type: "string", description: "adam, adamw or sgd", default: d.optimizer },
  momentum: { type: "string", description: "SGD momentum", default: String(d.momentum) },
  "weight-decay": {
    type: "string",
    description: "L2 (sgd, adam) or decoupled (adamw)",
    default: String(d.weightDecay),
  },
  schedule: {
    type: "string",
    description: "none, step, multistep, cosine or plateau",
    default: d.schedule,
  },
  "warmup-epochs": {
    type: "string",
    description: "linear warm-up for cosine",
    default: String(d.warmupEpochs),
  },
  augment: {
    type: "string",
    description: "none, mnist, cifar or imagenet; default by dataset",
    default: "auto",
  },
  "img-size": {
    type: "string",
    description: "input side for image folders",
    default: String(d.imgSize),
  },
  mixup: { type: "string", description: "MixUp alpha (0: off)", default: String(d.mixup) },
  cutmix: { type: "string", description: "CutMix alpha (0: off)", default: String(d.cutmix) },
  "label-smoothing": {
    type: "string",
    description: "label smoothing",
    default: String(d.labelSmoothing),
  },
  balance: {
    type: "string",
    description:
      "imbalanced classes: none, oversample, undersample or weights (inverse-frequency " +
      "class-weighted loss)",
    default: d.balance,
  },
  "early-stop": {
    type: "string",
    description: "patience in epochs on val_loss (0: off)",
    default: String(d.earlyStop),
  },
  "clip-norm": {
    type: "string",
    description: "clip gradients to this global norm (0: off)",
    default: String(d.clipNorm),
  },
  accumulate: {
    type: "string",
    description: "micro-batches per step, gradients accumulated (0: as few as fit in memory)",
    default: String(d.accumulate),
  },
  seed: { type: "string", description: "seed for init, shuffle, augmentation", default: "0" },
  backend: { type: "string", description: "auto, webgpu, wasm or cpu", default: d.backend },
  threads: {
    type: "string",
    description: "threads for the wasm backend (0: every core, at most 8)",
    default: String(d.threads),
  },
  workers: {
    type: "string",
    description: "loader workers (-1: cores − 1 for folders, 0 for in-memory sets)",
    default: String(d.workers),
  },
  cache: { type: "boolean", description: "cache decoded images under data/cache (the default)" },
  "no-cache": { type: "boolean", description: "do not cache decoded images" },
  pretrained: {
    type: "string",
    description: "weights to fine-tune: torchvision:<name>, a .pth/.safetensors file or URL, " +
      "or a TF.js model (folder, model.json, URL or run dir)",
  },
  freeze: {
    type: "string",
    description: "with --pretrained: backbone, none, or a layer to freeze up to",
    default: d.freeze,
  },
  "unfreeze-at": {
    type: "string",
    description: "with --pretrained: unfreeze the backbone at this epoch (0: never)",
    default: String(d.unfreezeAt),
  },
  "backbone-lr-scale": {
    type: "string",
    description: "backbone lr as a fraction of --lr once unfrozen",
    default: String(d.backboneLrScale),
  },
  teacher: {
    type: "string",
    description: "distil from this teacher: a run directory, a TF.js model or torchvision:<name>",
  },
  "distill-t": {
    type: "string",
    description: "distillation temperature T",
    default: String(d.distillT),
  },
  "distill-alpha": {
    type: "string",
    description: "weight of the soft (teacher) term; the labels get 1 - alpha",
    default: String(d.distillAlpha),
  },
  prune: {
    type: "string",
    description: "magnitude pruning to this sparsity on a cubic schedule (0: off)",
    default: String(d.prune),
  },
  "prune-structured": {
    type: "boolean",
    description: "with --prune: remove that fraction of each convolution's filters instead",
  },
  "qat-epochs": {
    type: "string",
    description:
      "quantization-aware training in the last N epochs (0: off); pair with --quantize uint8",
    default: String(d.qatEpochs),
  },
  quantize: {
    type: "string",
    description: "exported weights: none, float16 or uint8",
    default: d.quantize,
  },
  onnx: { type: "boolean", description: "also write model.onnx beside model/ (the default)" },
  "no-onnx": { type: "boolean", description: "do not write model.onnx" },
  out: { type: "string", description: "parent folder of run directories", default: d.out },
  name: { type: "string", description: "run directory name (default: time-model)" },
};

const FLAGS: FlagSpecs = {
  ...TRAIN_FLAGS,
  config: { type: "string", description: "JSON file of settings; flags override it" },
  resume: { type: "string", description: "continue a run directory from its last checkpoint" },
  adapter: ADAPTER_FLAG,
  "list-models": { type: "boolean", description: "list the model zoo and exit" },
  json: { type: "boolean", description: "print one JSON object as the last stdout line" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

const HELP = formatHelp(
  "deno task train [options]",
  "Trains an image classifier and writes runs/<name>/: config.json, metrics.jsonl, TensorBoard\n" +
    "events, checkpoints/{last,best}, model/ (TF.js), model.onnx, evaluation.json, report.html.\n" +
    "Ctrl-C finishes the step, saves a checkpoint and prints the command that resumes.",
  FLAGS,
  [
    "deno task train                                   # embedded shapes set, no download",
    "deno task train --dataset mnist --download --epochs 5",
    "deno task train --dataset ./photos --img-size 128 --model resnet18",
    "deno task train --dataset ./photos --pretrained torchvision:resnet18 --epochs 5",
    "deno task train --dataset ./photos --pretrained ./my_resnet50.pth --freeze none",
    "deno task train --dataset mnist --pretrained ./lenet.pth --model lenet --freeze none",
    "deno task train --dataset ./photos --pretrained ./mobilenet/model.json --epochs 5",
    "deno task train --config recipe.json --lr 3e-4",
    "deno task train --teacher runs/big --model compact-cnn --distill-t 4 --distill-alpha 0.7",
    "deno task train --prune 0.5 --epochs 5     # half the kernel weights zero at the end",
    "deno task train --dataset ./photos --balance oversample     # rare classes drawn as often",
    "deno task train --resume runs/20261122-101500-small-cnn",
    "deno task train --backend webgpu --adapter software --epochs 1   # deno task info lists adapters",
  ],
);

function printConfig(config: TrainConfig, write: (line: string) => void) {
  // `weights` is the run's record of what it built, not a setting (null until it is built).
  const entries = Object.entries(config).filter(([key, value]) => key !== "weights" || value)
    .map(([key, value]) => `${key}=${JSON.stringify(value)}`);
  const lines: string[] = [];
  let line = "Config:";
  for (const entry of entries) {
    if (line.length + entry.length + 1 > 100) {
      lines.push(line);
      line = "  ";
    }
    line += ` ${entry}`;
  }
  lines.push(line);
  for (const text of lines) write(text);
}

/** Runs the train command; returns the process exit code. */
export async function trainCommand(args: string[]): Promise<number> {
  const parsed = parseArgs(args, FLAGS);
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values["list-models"]) {
    for (const { name, description } of listModels()) {
      console.log(`${name.padEnd(14)} ${description}`);
    }
    return 0;
  }
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument '${positionals[0]}'; options start with --`);
  }
  const json = values.json === true;
  const out = json ? sinkFor(Deno.stderr) : sinkFor(Deno.stdout);
  const say = (line: string) => out.write(`${line}\n`);

  const flags = toConfigOverrides(parsed, TRAIN_FLAGS);
  let base: Record<string, unknown> = {};
  const resumeDir = values.resume as string | undefined;
  if (resumeDir !== undefined) {
    base = await readConfigFile(`${resumeDir}/config.json`);
  } else if (values.config !== undefined) {
    base = await readConfigFile(values.config as string);
  }
  let config: TrainConfig;
  try {
    config = nameRun(resolveTrainConfig({ ...base, ...flags }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  config = { ...config, backend: applyAdapter(config.backend, adapterFlag(values.adapter)) };
  if (resumeDir !== undefined && runDirOf(config) !== resumeDir.replace(/\/+$/, "")) {
    // A run moved or renamed: keep writing where it is now.
    const parts = resumeDir.replace(/\/+$/, "").split("/");
    config = { ...config, name: parts.pop()!, out: parts.join("/") || "." };
  }
  printConfig(config, say);

  const controller = new AbortController();
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts++;
    if (interrupts > 1) Deno.exit(130);
    progress.clear();
    say("Interrupted: finishing the step and saving a checkpoint (Ctrl-C again quits now)");
    controller.abort();
  };
  const progress = new ProgressBar(out, config.epochs);
  Deno.addSignalListener("SIGINT", onInterrupt);
  let result;
  try {
    result = await trainRun(config, {
      log: (line) => {
        progress.clear();
        say(line);
      },
      warn: (line) => {
        progress.clear();
        console.error(line);
      },
      resume: resumeDir !== undefined,
      signal: controller.signal,
      readEvery: out.isTerminal ? 5 : 20,
      callbacks: {
        onEpochBegin: (epoch) => progress.begin(epoch),
        onStep: (info) => progress.step(info),
        onEpochEnd: (log, { best }) => progress.end(log, best),
      },
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }
  const runDir = result.runDir;
  if (result.interrupted) {
    say(
      `Saved ${runDir}/checkpoints/last at epoch ${
        result.interrupted.epoch + 1
      }, step ${result.interrupted.step}.`,
    );
    say(`Resume with: deno task train --resume ${runDir}`);
    if (json) console.log(JSON.stringify({ run_dir: runDir, interrupted: result.interrupted }));
    return 130;
  }
  const best = result.bestEpoch === null
    ? undefined
    : result.history[result.bestEpoch - (result.history[0]?.epoch ?? 0)];
  const evaluation = result.evaluation!;
  // Top-k says something only when k is below the class count (top-2 of 2 classes is 100%).
  const topK = evaluation.k < evaluation.report.perClass.length
    ? ` (top-${evaluation.k} ${(evaluation.topK * 100).toFixed(2)}%)`
    : "";
  say(
    `Done in ${result.seconds.toFixed(0)} s on ${result.backend}: val accuracy ${
      (evaluation.accuracy * 100).toFixed(2)
    }%${topK}, balanced ${(evaluation.report.balancedAccuracy * 100).toFixed(2)}%, val loss ${
      evaluation.loss.toFixed(4)
    }` +
      (result.stoppedEarly ? ", stopped early" : ""),
  );
  if (best) {
    say(
      `Best epoch ${best.epoch + 1}: val_loss ${best.valLoss?.toFixed(4)}, val_acc ${
        ((best.valAccuracy ?? 0) * 100).toFixed(2)
      }% (checkpoints/best)`,
    );
  }
  say(`Run directory: ${runDir}/`);
  say(
    `  report.html  metrics.jsonl  config.json  evaluation.json  checkpoints/  model/${
      config.onnx ? "  model.onnx" : ""
    }`,
  );
  say(`  tensorboard --logdir ${config.out}    deno task eval --run ${runDir}`);
  if (json) {
    console.log(JSON.stringify({
      run_dir: runDir,
      backend: result.backend,
      epochs: result.history.length,
      best_epoch: result.bestEpoch === null ? null : result.bestEpoch + 1,
      stopped_early: result.stoppedEarly,
      val_accuracy: evaluation.accuracy,
      val_top_k: evaluation.topK,
      k: evaluation.k,
      val_loss: evaluation.loss,
      macro_f1: evaluation.report.macro.f1,
      balanced_accuracy: evaluation.report.balancedAccuracy,
      train_images_per_s: result.history.at(-1)?.imagesPerSecond,
      seconds: Math.round(result.seconds * 10) / 10,
    }));
  }
  return 0;
}
