/**
 * A training run's configuration: every setting `deno task train` takes, with defaults that
 * depend on the dataset, checked in one place so a bad value fails before any work starts.
 *
 * @module
 */
import type { BackendChoice } from "../backend/select.ts";
import type { Quantization } from "../io/file_handler.ts";
import type { OptimizerName } from "../train/optimizers.ts";
import type { WeightsOrigin } from "../export/metadata.ts";

/** The built-in datasets by name; anything else is a path to an image folder. */
export const BUILTIN_DATASETS = [
  "shapes",
  "mnist",
  "fashion-mnist",
  "cifar10",
  "cifar100",
] as const;

/** Augmentation recipes (geometry only; normalisation follows the dataset or the backbone). */
export type AugmentName = "auto" | "none" | "mnist" | "cifar" | "imagenet";

/**
 * Imbalanced classes: `oversample` (class-balanced sampling with replacement), `undersample`
 * (each epoch as many of every class as the rarest has), `weights` (cross-entropy weighted by
 * inverse class frequency), or `none`.
 */
export type BalanceName = "none" | "oversample" | "undersample" | "weights";

/** Learning-rate schedules by name. */
export type ScheduleName = "none" | "step" | "multistep" | "cosine" | "plateau";

/** Everything a training run needs; `resolveTrainConfig` fills the gaps. */
export interface TrainConfig {
  /** `shapes` (embedded), `mnist`, `fashion-mnist`, `cifar10`, `cifar100`, or a folder path. */
  dataset: string;
  /** Where standard datasets live (torchvision's `root`). Default: `data`. */
  root: string;
  /** Fetch a missing standard dataset. */
  download: boolean;
  /** Stop at the first bad image file instead of skipping it with a warning. */
  strict: boolean;
  /** Validation fraction for a folder without `val/`. */
  valSplit: number;
  /**
   * Registry name (see `listModels()`). With `pretrained` it is ignored for TF.js models and
   * torchvision weights, and names the architecture of other PyTorch weights (`lenet`…). A run's
   * `config.json` holds the architecture actually built (`resnet18` for a ResNet-18 `.pth`).
   */
  model: string;
  /** Epochs to train. */
  epochs: number;
  /** Images per step. */
  batchSize: number;
  /** Base learning rate; `auto` (the default) is the dataset's recipe. */
  lr: number;
  /** `adam`, `adamw` or `sgd`. */
  optimizer: OptimizerName;
  /** SGD momentum. */
  momentum: number;
  /** L2 penalty (sgd, adam) or decoupled decay (adamw). */
  weightDecay: number;
  /** Learning-rate schedule. */
  schedule: ScheduleName;
  /** Linear warm-up epochs for the cosine schedule. */
  warmupEpochs: number;
  /** Augmentation recipe; `auto` picks one for the dataset. */
  augment: AugmentName;
  /** Model input side for image folders (pixels). */
  imgSize: number;
  /** MixUp α; 0 turns it off. */
  mixup: number;
  /** CutMix α; 0 turns it off. */
  cutmix: number;
  /** Label smoothing of the cross-entropy. */
  labelSmoothing: number;
  /** How the training split's class imbalance is handled (see {@linkcode BalanceName}). */
  balance: BalanceName;
  /** Early-stopping patience in epochs on val_loss; 0 turns it off. */
  earlyStop: number;
  /** Global-norm gradient clipping; 0 turns it off. */
  clipNorm: number;
  /**
   * Micro-batches per step, gradients accumulated (PyTorch's several `backward()` before one
   * `step()`); 0 (the default) finds the fewest that fit the wasm heap before the first epoch.
   */
  accumulate: number;
  /** Seeds initialisation, shuffles, augmentation and MixUp. */
  seed: number;
  /** `auto`, `webgpu`, `wasm` or `cpu`. */
  backend: BackendChoice;
  /**
   * Threads the wasm backend computes with (XNNPACK's pool); 0 (the default) means every core,
   * at most 8. Results are the same for any count.
   */
  threads: number;
  /** Loader workers; -1 means CPU cores − 1. */
  workers: number;
  /** Decoded-sample cache for image folders. */
  cache: boolean;
  /**
   * Weights to fine-tune: a TF.js LayersModel (folder, model.json, URL or run directory), or
   * PyTorch weights: `torchvision:<name>`, or a `.pth`/`.pt`/`.safetensors` path or URL.
   */
  pretrained: string | null;
  /**
   * Set by the run, not by the user: the architecture built and where its starting weights came
   * from (`pretrained`, or `none`). Null until the model is built.
   */
  weights: WeightsOrigin | null;
  /** With `pretrained`: `backbone` (all but the new head), `none`, or a layer name to freeze up to. */
  freeze: string;
  /** With `pretrained`: unfreeze the backbone at this epoch (0: never). */
  unfreezeAt: number;
  /** Backbone learning rate as a fraction of `lr` once unfrozen. */
  backboneLrScale: number;
  /**
   * A teacher to distil from: a run directory, a TF.js model folder or `torchvision:<name>`,
   * with the dataset's classes and input; null: no distillation.
   */
  teacher: string | null;
  /** Distillation temperature T. */
  distillT: number;
  /** Distillation weight α of the soft term (the hard labels get 1 − α). */
  distillAlpha: number;
  /** Target sparsity of magnitude pruning (or fraction of filters removed); 0 turns it off. */
  prune: number;
  /** With `prune`: remove whole filters before training (a smaller, faster model). */
  pruneStructured: boolean;
  /**
   * Quantization-aware training in the last this many epochs (0: off); the exported kernels are
   * the fake-quantized ones (on TF.js's uint8 grid with `quantize: "uint8"`).
   */
  qatEpochs: number;
  /** Weight quantization of the exported model. */
  quantize: Quantization;
  /** Also write `model.onnx` beside `model/` (a failed export warns; the run goes on). */
  onnx: boolean;
  /** Parent folder of run directories. */
  out: string;
  /** Run directory name; default: a timestamp with the model name. */
  name: string | null;
}

/**
 * The defaults. `model`, `augment` and `lr` are `"auto"`: {@linkcode resolveTrainConfig} fills
 * them from the dataset's recipe.
 */
export const DEFAULT_TRAIN_CONFIG: Readonly<Omit<TrainConfig, "lr"> & { lr: number | "auto" }> = {
  dataset: "shapes",
  root: "data",
  download: false,
  strict: false,
  valSplit: 0.2,
  model: "auto",
  epochs: 5,
  batchSize: 64,
  lr: "auto",
  optimizer: "adam",
  momentum: 0.9,
  weightDecay: 0,
  schedule: "none",
  warmupEpochs: 0,
  augment: "auto",
  imgSize: 224,
  mixup: 0,
  cutmix: 0,
  labelSmoothing: 0,
  balance: "none",
  earlyStop: 0,
  clipNorm: 0,
  accumulate: 0,
  seed: 0,
  backend: "auto",
  threads: 0,
  workers: -1,
  cache: true,
  pretrained: null,
  weights: null,
  freeze: "backbone",
  unfreezeAt: 0,
  backboneLrScale: 0.1,
  teacher: null,
  distillT: 4,
  distillAlpha: 0.7,
  prune: 0,
  pruneStructured: false,
  qatEpochs: 0,
  quantize: "none",
  onnx: true,
  out: "runs",
  name: null,
};

/** A configuration value that cannot work; the message names the setting. */
export class ConfigError extends Error {
  /** Always `ConfigError`. */
  override name = "ConfigError";
}

const isBuiltin = (dataset: string) => (BUILTIN_DATASETS as readonly string[]).includes(dataset);

/** The model a dataset trains by default. */
function defaultModel(dataset: string): string {
  if (dataset === "mnist" || dataset === "fashion-mnist") return "lenet";
  if (dataset === "cifar10" || dataset === "cifar100") return "resnet18";
  if (dataset === "shapes") return "compact-cnn";
  return "mobilenetv2";
}

/**
 * Adam at 1e-3 (PyTorch's default) except the embedded set's batch-norm CNN, which reaches ~90%
 * in 5 epochs at 3e-3 where 1e-3 stops near 76% (BENCHMARKS.md).
 */
function defaultLr(dataset: string): number {
  return dataset === "shapes" ? 3e-3 : 1e-3;
}

function defaultAugment(dataset: string): AugmentName {
  if (dataset === "mnist" || dataset === "fashion-mnist") return "mnist";
  if (dataset === "shapes") return "none"; // drawn at random places, sizes and angles already
  if (isBuiltin(dataset)) return "cifar";
  return "imagenet";
}

function oneOf<T extends string>(key: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string" || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(`${key} must be one of ${allowed.join(", ")}; got ${String(value)}`);
  }
  return value as T;
}

function number(
  key: string,
  value: unknown,
  { min, max, integer = false }: { min?: number; max?: number; integer?: boolean },
): number {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  const ok = typeof n === "number" && Number.isFinite(n) && (!integer || Number.isInteger(n)) &&
    (min === undefined || n >= min) && (max === undefined || n <= max);
  if (!ok) {
    const kind = integer ? "an integer" : "a number";
    const range = min !== undefined && max !== undefined
      ? ` in [${min}, ${max}]`
      : min !== undefined
      ? ` ≥ ${min}`
      : "";
    throw new ConfigError(`${key} must be ${kind}${range}; got ${JSON.stringify(value)}`);
  }
  return n as number;
}

function boolean(key: string, value: unknown): boolean {
  if (typeof value === "boolean") return value;
  if (value === "true" || value === "false") return value === "true";
  throw new ConfigError(`${key} must be true or false; got ${JSON.stringify(value)}`);
}

/** config.json's `weights` read back (a resumed run's); null or absent: not built yet. */
function weightsOrigin(value: unknown): WeightsOrigin | null {
  if (value === null || value === undefined) return null;
  const origin = value as Partial<Record<keyof WeightsOrigin, unknown>>;
  const ok = typeof value === "object" && !Array.isArray(value) &&
    typeof origin.architecture === "string" && typeof origin.source === "string" &&
    ["pytorch", "tfjs", "none"].includes(origin.format as string) &&
    (origin.torchvision === undefined || typeof origin.torchvision === "string");
  if (!ok) {
    throw new ConfigError(
      `weights must be null or { architecture, source, format: pytorch|tfjs|none }; got ${
        JSON.stringify(value)
      }`,
    );
  }
  return value as WeightsOrigin;
}

function text(key: string, value: unknown): string {
  if (typeof value !== "string" || value === "") {
    throw new ConfigError(`${key} must be a non-empty string; got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Merges `overrides` over the defaults, fills the dataset-dependent settings and checks every
 * value; unknown keys are an error with a suggestion-free list of the known ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveTrainConfig } from "./config.ts";
 * const config = resolveTrainConfig({ dataset: "mnist", epochs: 3 });
 * assert.equal(config.model, "lenet");
 * assert.equal(config.augment, "mnist");
 * assert.throws(() => resolveTrainConfig({ epochs: 0 }), /epochs must be an integer ≥ 1/);
 * ```
 */
export function resolveTrainConfig(
  overrides: Partial<Record<keyof TrainConfig, unknown>> = {},
): TrainConfig {
  for (const key of Object.keys(overrides)) {
    if (!(key in DEFAULT_TRAIN_CONFIG)) {
      throw new ConfigError(
        `unknown setting '${key}'; known: ${Object.keys(DEFAULT_TRAIN_CONFIG).join(", ")}`,
      );
    }
  }
  const raw = { ...DEFAULT_TRAIN_CONFIG, ...overrides } as Record<keyof TrainConfig, unknown>;
  const dataset = text("dataset", raw.dataset);
  const nullableText = (key: keyof TrainConfig) =>
    raw[key] === null || raw[key] === undefined || raw[key] === "" ? null : text(key, raw[key]);
  const config: TrainConfig = {
    dataset,
    root: text("root", raw.root),
    download: boolean("download", raw.download),
    strict: boolean("strict", raw.strict),
    valSplit: number("valSplit", raw.valSplit, { min: 0.01, max: 0.9 }),
    model: raw.model === "auto" ? defaultModel(dataset) : text("model", raw.model),
    epochs: number("epochs", raw.epochs, { min: 1, integer: true }),
    batchSize: number("batchSize", raw.batchSize, { min: 1, integer: true }),
    lr: raw.lr === "auto" ? defaultLr(dataset) : number("lr", raw.lr, { min: 0 }),
    optimizer: oneOf("optimizer", raw.optimizer, ["adam", "adamw", "sgd"] as const),
    momentum: number("momentum", raw.momentum, { min: 0, max: 1 }),
    weightDecay: number("weightDecay", raw.weightDecay, { min: 0 }),
    schedule: oneOf(
      "schedule",
      raw.schedule,
      ["none", "step", "multistep", "cosine", "plateau"] as const,
    ),
    warmupEpochs: number("warmupEpochs", raw.warmupEpochs, { min: 0, integer: true }),
    augment: raw.augment === "auto"
      ? defaultAugment(dataset)
      : oneOf("augment", raw.augment, ["none", "mnist", "cifar", "imagenet"] as const),
    imgSize: number("imgSize", raw.imgSize, { min: 8, max: 1024, integer: true }),
    mixup: number("mixup", raw.mixup, { min: 0 }),
    cutmix: number("cutmix", raw.cutmix, { min: 0 }),
    labelSmoothing: number("labelSmoothing", raw.labelSmoothing, { min: 0, max: 0.99 }),
    balance: oneOf(
      "balance",
      raw.balance ?? "none", // configs saved before the setting existed
      ["none", "oversample", "undersample", "weights"] as const,
    ),
    earlyStop: number("earlyStop", raw.earlyStop, { min: 0, integer: true }),
    clipNorm: number("clipNorm", raw.clipNorm, { min: 0 }),
    accumulate: number("accumulate", raw.accumulate, { min: 0, integer: true }),
    seed: number("seed", raw.seed, { min: 0, integer: true }),
    backend: oneOf("backend", raw.backend, ["auto", "webgpu", "wasm", "cpu"] as const),
    threads: number("threads", raw.threads ?? 0, { min: 0, max: 8, integer: true }),
    workers: number("workers", raw.workers, { min: -1, integer: true }),
    cache: boolean("cache", raw.cache),
    pretrained: nullableText("pretrained"),
    weights: weightsOrigin(raw.weights), // configs saved before the setting existed have none
    freeze: text("freeze", raw.freeze),
    unfreezeAt: number("unfreezeAt", raw.unfreezeAt, { min: 0, integer: true }),
    backboneLrScale: number("backboneLrScale", raw.backboneLrScale, { min: 0, max: 1 }),
    // Configs saved before compression existed have none of these.
    teacher: nullableText("teacher"),
    distillT: number("distillT", raw.distillT ?? 4, { min: 0.01 }),
    distillAlpha: number("distillAlpha", raw.distillAlpha ?? 0.7, { min: 0, max: 1 }),
    prune: number("prune", raw.prune ?? 0, { min: 0, max: 0.99 }),
    pruneStructured: boolean("pruneStructured", raw.pruneStructured ?? false),
    qatEpochs: number("qatEpochs", raw.qatEpochs ?? 0, { min: 0, integer: true }),
    quantize: oneOf("quantize", raw.quantize, ["none", "float16", "uint8"] as const),
    onnx: boolean("onnx", raw.onnx),
    out: text("out", raw.out),
    name: nullableText("name"),
  };
  return config;
}
