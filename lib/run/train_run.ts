/**
 * A whole training run, as `deno task train` does it: datasets and loaders from the config, the
 * model (from the zoo, or a pretrained one with a new head), `fit` with checkpoints each epoch and
 * for the best validation loss, metrics.jsonl, TensorBoard scalars, the TF.js export and the HTML
 * report, all in one run directory.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { selectBackend, type SelectedBackend } from "../backend/select.ts";
import { defaultWasmThreads, describeWasmThreads, setWasmThreads } from "../backend/wasm.ts";
import { webGpuDeviceHandle } from "../backend/webgpu.ts";
import { TrainingDeviceLostError, WebGpuDeviceLostError } from "../backend/errors.ts";
import type { RawImage } from "../decode/decode.ts";
import { join } from "../_internal/path.ts";
import { recoverDir, writeFileAtomic } from "../io/_atomic.ts";
import { type CheckpointState, loadCheckpoint, saveCheckpoint } from "../io/checkpoint.ts";
import { fileHandler } from "../io/file_handler.ts";
import { renderReport, type ReportSample, type ReportSamples } from "../io/report.ts";
import { SummaryWriter } from "../io/tensorboard.ts";
import { exportOnnx } from "../export/onnx_file.ts";
import { onnxMetadata, originMetadata } from "../export/metadata.ts";
import { DataLoader } from "../loader/loader.ts";
import { createModel } from "../models/registry.ts";
import { freeze, replaceHead, unfreeze } from "../models/transfer.ts";
import "../models/mod.ts";
import {
  type Callbacks,
  type EpochLog,
  evaluate,
  type EvaluationResult,
  fit,
  type FitProgress,
  NonFiniteLossError,
} from "../train/fit.ts";
import { createOptimizer, type Optimizer } from "../train/optimizers.ts";
import {
  MemoryLimitError,
  type MicroBatchPlan,
  planMicroBatches,
  planWebGpuMicroBatches,
} from "../train/memory.ts";
import {
  cosineLR,
  type LrSchedule,
  multiStepLR,
  reduceLROnPlateau,
  stepLR,
} from "../train/schedules.ts";
import { withSeededMathRandom } from "../_internal/rng.ts";
import type { TransformSpec } from "../transforms/types.ts";
import type { TrainConfig } from "./config.ts";
import { runCompression, structuredModel, writeQdqOnnx } from "./_compress.ts";
import {
  misclassifiedOverlays,
  SampleTapLoader,
  thumbnail,
  trainingSamples,
} from "./_report_images.ts";
import { type RunBalance, runBalance } from "./_balance.ts";
import { openRunData, type RunData } from "./data.ts";
import { buildModel, pendingModel, withOrigin } from "./_model_source.ts";

/** What predict and eval need to preprocess images as training did (`model/preprocessing.json`). */
export interface Preprocessing {
  /** Class names by label. */
  classes: string[];
  /** [height, width, channels] the model takes. */
  inputShape: [number, number, number];
  /** The evaluation pipeline (resize, crop, normalize) as a transform spec. */
  transform: TransformSpec;
}

/** Options for {@linkcode trainRun}. */
export interface TrainRunOptions {
  /** Where downloaded PyTorch weights are kept (`--pretrained torchvision:…`). Default: `data/weights`. */
  weightsDir?: string;
  /** Informational lines (backend, run directory). Default: `console.log`. */
  log?: (line: string) => void;
  /** Warnings (skipped files, cache off). Default: `console.warn`. */
  warn?: (line: string) => void;
  /** Progress hooks (a progress bar); checkpoints and logs are handled here. */
  callbacks?: Pick<Callbacks, "onEpochBegin" | "onStep"> & {
    /** After the epoch's checkpoint; `best` when it has the lowest validation loss so far. */
    onEpochEnd?(log: EpochLog, info: { best: boolean }): void | Promise<void>;
  };
  /** Read the running loss back every this many steps (progress updates). Default: 20. */
  readEvery?: number;
  /** Aborting stops after the step in progress and saves a resumable checkpoint. */
  signal?: AbortSignal;
  /** Continue the run in `runDirOf(config)` from its last checkpoint. */
  resume?: boolean;
}

/** What a finished (or interrupted) run produced. */
export interface TrainRunResult {
  /** The run directory. */
  runDir: string;
  /** The backend that trained. */
  backend: string;
  /** Every epoch of the run, resumed ones included. */
  history: EpochLog[];
  /** Epoch (0-based) with the lowest validation loss. */
  bestEpoch: number | null;
  /** Whether early stopping ended the run. */
  stoppedEarly: boolean;
  /** Set when the signal stopped the run: where `--resume` continues. */
  interrupted?: { epoch: number; step: number };
  /** The final model on the validation set (absent when interrupted). */
  evaluation?: Pick<EvaluationResult, "loss" | "accuracy" | "topK" | "k" | "report">;
  /** Wall-clock seconds of this invocation. */
  seconds: number;
}

/** The run directory of a config: `out/name`. */
export function runDirOf(config: TrainConfig): string {
  if (config.name === null) throw new RangeError("the run has no name yet; call nameRun first");
  return join(config.out, config.name);
}

/**
 * Gives the config a run name if it has none: `YYYYMMDD-HHMMSS-<model>`, like a TensorBoard run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveTrainConfig } from "./config.ts";
 * import { nameRun } from "./train_run.ts";
 * const config = nameRun(resolveTrainConfig({}), new Date(Date.UTC(2026, 0, 2, 3, 4, 5)));
 * assert.equal(config.name, "20260102-030405-compact-cnn");
 * ```
 */
export function nameRun(config: TrainConfig, now: Date = new Date()): TrainConfig {
  if (config.name !== null) return config;
  const stamp = now.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
  const model = config.pretrained === null ? config.model : "finetune";
  return { ...config, name: `${stamp}-${model}` };
}

function scheduleFor(config: TrainConfig): LrSchedule | undefined {
  const { epochs } = config;
  switch (config.schedule) {
    case "step":
      return stepLR({ stepSize: Math.max(1, Math.round(epochs / 3)) });
    case "multistep":
      return multiStepLR({ milestones: [Math.round(epochs * 0.5), Math.round(epochs * 0.75)] });
    case "cosine":
      return cosineLR({ epochs, warmupEpochs: config.warmupEpochs });
    case "plateau":
      return reduceLROnPlateau({ patience: Math.max(1, Math.round(epochs / 10)) });
    default:
      return undefined;
  }
}

function prepareTransfer(model: LayersModel, config: TrainConfig, numClasses: number) {
  // The new head brings its own dropout: start from the features a trailing dropout would take.
  const before = model.layers[model.layers.length - 2];
  const from = before?.getClassName() === "Dropout"
    ? before.inboundNodes[0]?.inboundLayers[0]?.name
    : undefined;
  const withHead = replaceHead(model, numClasses, { dropout: 0.2, from });
  if (config.freeze === "none") return { model: withHead, frozen: 0 };
  const frozen = config.freeze === "backbone"
    ? freeze(withHead)
    : freeze(withHead, { upTo: config.freeze });
  return { model: withHead, frozen };
}

/**
 * Unfreezes the backbone and gives its variables a param group at `backboneLrScale` × lr, so the
 * head's optimizer state is untouched and the backbone moves gently (classic fine-tuning).
 */
function unfreezeBackbone(model: LayersModel, optimizer: Optimizer, config: TrainConfig) {
  const names = (weights: LayersModel["trainableWeights"]) =>
    weights.map((weight) => (weight.read() as tf.Variable).name);
  const head = new Set(names(model.trainableWeights));
  unfreeze(model);
  const backbone = names(model.trainableWeights).filter((name) => !head.has(name));
  optimizer.addParamGroup(backbone, config.backboneLrScale);
  return backbone.length;
}

/**
 * Micro-batches per step: `--accumulate` when given, else the fewest whose step fits the wasm
 * heap (measured on the model before the first epoch), said in one line when more than one. A run
 * that unfreezes its backbone later is measured unfrozen: its largest step is that one, and a plan
 * made on the frozen model ran the wasm heap out at the unfreeze.
 */
function chooseAccumulation(
  model: LayersModel,
  config: TrainConfig,
  inputShape: [number, number, number],
  numClasses: number,
  log: (line: string) => void,
  backendName: string,
): number {
  const batch = config.batchSize;
  if (config.accumulate > 0) {
    if (config.accumulate > 1) {
      log(
        `accumulating gradients over ${config.accumulate} micro-batches of ≤ ${
          Math.ceil(batch / config.accumulate)
        } images per step of ${batch}`,
      );
    }
    return config.accumulate;
  }
  const device = backendName === "webgpu" ? webGpuDeviceHandle()?.device : undefined;
  if (device !== undefined) {
    const limit = device.limits.maxStorageBufferBindingSize;
    const gpu = planWebGpuMicroBatches(model, batch, limit);
    if (gpu.accumulate > 1) {
      log(
        `batch ${batch}: a layer's output would be ${
          (gpu.largestBytes * batch / 2 ** 20).toFixed(0)
        } ` +
          `MB, more than the device binds (${(limit / 2 ** 20).toFixed(0)} MB): training ` +
          `micro-batches of ${gpu.microBatch}, gradients accumulated over ${gpu.accumulate} per ` +
          `step (--accumulate ${gpu.accumulate})`,
      );
    }
    return gpu.accumulate;
  }
  let plan: MicroBatchPlan | undefined;
  const trainable = model.layers.map((layer) => layer.trainable);
  if (config.unfreezeAt > 0) unfreeze(model);
  try {
    plan = planMicroBatches(model, { batchSize: batch, numClasses });
  } catch (error) {
    if (!(error instanceof MemoryLimitError)) throw error;
    // Activations grow with the pixels: the side whose one-image step would fit.
    const scale = Math.sqrt(error.budgetBytes / error.neededBytes);
    const side = Math.max(16, Math.floor((inputShape[0] * scale) / 16) * 16);
    error.message = `${config.model} at ${inputShape[0]} px: ${error.message}; try ` +
      `--img-size ${side} or --backend webgpu`;
    throw error;
  } finally {
    model.layers.forEach((layer, i) => layer.trainable = trainable[i]);
  }
  if (plan === undefined || plan.accumulate === 1) return 1;
  const gb = (bytes: number) => (bytes / 2 ** 30).toFixed(1);
  log(
    `batch ${batch} needs ~${gb(plan.batchBytes)} GB, more than the wasm heap's ` +
      `${gb(plan.limitBytes)} GB: training micro-batches of ${plan.microBatch}, gradients ` +
      `accumulated over ${plan.accumulate} per step (--accumulate ${plan.accumulate}; batch norm ` +
      `sees each micro-batch, as in PyTorch)`,
  );
  return plan.accumulate;
}

/**
 * The most confident mistakes with thumbnails; each gets a Grad-CAM overlay of its predicted
 * class (its thumbnail then shows the model's input, so the two line up) when the model allows.
 */
async function reportSamples(
  model: LayersModel,
  data: RunData,
  result: EvaluationResult,
  limit: number,
  warn: (line: string) => void,
): Promise<ReportSample[]> {
  const worst = [...result.misclassified].sort((a, b) => b.confidence - a.confidence)
    .slice(0, limit);
  const overlays = await misclassifiedOverlays(
    model,
    data.validation,
    data.evalTransform,
    data.inputShape,
    worst,
    warn,
  );
  const samples: ReportSample[] = [];
  for (const [i, m] of worst.entries()) {
    let image: RawImage | undefined = overlays[i]?.thumbnail;
    if (image === undefined) {
      try {
        image = thumbnail((await data.validation.get(m.index))[0]);
      } catch { /* unreadable now: the report shows the name without a picture */ }
    }
    samples.push({
      source: m.source ?? `#${m.index}`,
      truth: m.truth,
      predicted: m.predicted,
      confidence: m.confidence,
      thumbnail: image,
      overlay: overlays[i]?.overlay,
    });
  }
  return samples;
}

function metricsLine(log: EpochLog): string {
  return JSON.stringify({
    epoch: log.epoch + 1,
    loss: log.loss,
    accuracy: log.accuracy,
    val_loss: log.valLoss,
    val_accuracy: log.valAccuracy,
    lr: log.lr,
    images_per_s: Math.round(log.imagesPerSecond * 10) / 10,
    seconds: Math.round(log.seconds * 100) / 100,
  });
}

function loaders(
  config: TrainConfig,
  data: RunData,
  warn: (line: string) => void,
  balance?: RunBalance,
) {
  const workers = config.workers >= 0
    ? config.workers
    : data.fromFiles
    ? Math.max(1, (navigator.hardwareConcurrency ?? 2) - 1)
    : 0; // in-memory sets: transforms are cheaper than moving batches between threads
  const cache = data.fromFiles && config.cache
    ? { shorterSide: Math.round((data.inputShape[0] * 256) / 224) }
    : undefined;
  // The training loader keeps its first batch for the report's "Samples" grid.
  const train = new SampleTapLoader(data.train, {
    batchSize: config.batchSize,
    shuffle: balance?.sampler === undefined,
    sampler: balance?.sampler,
    seed: config.seed,
    transform: data.trainTransform,
    numWorkers: workers,
    cache,
    persistentWorkers: true,
    skipBadSamples: !config.strict,
    onWarning: warn,
  });
  const validation = new DataLoader(data.validation, {
    batchSize: config.batchSize,
    transform: data.evalTransform,
    numWorkers: workers,
    cache,
    persistentWorkers: true,
    skipBadSamples: !config.strict,
    onWarning: warn,
  });
  return { train, validation };
}

/** The model a run trains: a new head on pretrained weights, or a fresh zoo model. */
function runModel(
  config: TrainConfig,
  data: RunData,
  pretrained: LayersModel | null,
  backend: SelectedBackend,
  log: (line: string) => void,
): LayersModel {
  const numClasses = data.classes.length;
  const heavy = ["mobilenetv2", "resnet18", "vgg11-bn"].includes(config.model);
  if (backend.name !== "webgpu" && !pretrained && heavy && data.inputShape[0] >= 128) {
    log(
      `note: ${config.model} at ${data.inputShape[0]} px trains at a few images per second on ` +
        `the CPU; for a quick first run try --model compact-cnn --img-size 64, or fine-tune a ` +
        `pretrained model with --pretrained`,
    );
  }
  if (pretrained === null) {
    return createModel(config.model, {
      inputShape: data.inputShape,
      numClasses,
      seed: config.seed,
    });
  }
  const prepared = withSeededMathRandom(
    [config.seed, 0x4ead],
    () => prepareTransfer(pretrained, config, numClasses),
  );
  if (prepared.frozen > 0) log(`froze ${prepared.frozen} layers; training the new head`);
  return prepared.model;
}

/** Loads `checkpoints/last` into the model, optimizer and schedule; where fit resumes. */
async function resumeRun(
  runDir: string,
  model: LayersModel,
  optimizer: Optimizer,
  schedule: LrSchedule | undefined,
  log: (line: string) => void,
): Promise<{ resume?: FitProgress; initialEpoch: number }> {
  const checkpoints = join(runDir, "checkpoints");
  if (!await recoverDir(join(checkpoints, "last"), "state.json")) {
    log(
      `no checkpoint in ${checkpoints} yet (stopped during epoch 1): starting from the beginning`,
    );
    return { initialEpoch: 0 };
  }
  const state: CheckpointState = await loadCheckpoint(join(checkpoints, "last"), {
    model,
    optimizer,
  });
  if (state.schedule && schedule?.restore) schedule.restore(state.schedule);
  if (optimizer.paramGroups.length > 0) unfreeze(model); // the checkpoint came after unfreezing
  log(`resuming ${runDir} at epoch ${state.epoch + 1}, step ${state.progress?.step ?? 0}`);
  // initialEpoch serves a checkpoint saved without progress (by hand, with saveCheckpoint).
  return { resume: state.progress, initialEpoch: state.epoch };
}

/** What {@linkcode writeRunOutputs} needs to know about the run beyond its model and data. */
interface RunSummary {
  backend: string;
  history: EpochLog[];
  bestEpoch: number | null;
  started: number;
  fineTuned: boolean;
  warn: (line: string) => void;
  classDistribution?: { train: number[]; validation: number[] };
  /** Training images after augmentation, from the training loader's first batch. */
  samples?: ReportSamples;
}

/** model/ (TF.js + preprocessing.json) and, when asked, model.onnx and model.int8.onnx. */
async function saveRunModel(
  runDir: string,
  config: TrainConfig,
  model: LayersModel,
  data: RunData,
  warn: (line: string) => void,
) {
  const modelDir = join(runDir, "model");
  const origin = config.weights ?? undefined;
  // model.json says what it is too (architecture, weights), for a model/ folder copied alone.
  if (origin !== undefined) model.setUserDefinedMetadata(originMetadata(origin));
  await model.save(fileHandler(modelDir, { quantization: config.quantize }));
  const preprocessing: Preprocessing = {
    classes: [...data.classes],
    inputShape: data.inputShape,
    transform: { name: data.evalTransform.name, options: data.evalTransform.options },
  };
  await writeFileAtomic(
    join(modelDir, "preprocessing.json"),
    JSON.stringify(preprocessing, null, 2) + "\n",
  );
  if (!config.onnx) return;
  // model.onnx beside model/; a model the export cannot write is a warning, not a lost run.
  const metadata = onnxMetadata(preprocessing, origin);
  await exportOnnx(model, join(runDir, "model.onnx"), { metadata })
    .catch((error) => warn(`${error.message} (model/ is complete; --no-onnx skips this)`));
  if (config.qatEpochs > 0) {
    // After QAT, the int8 weights too (QDQ), on the grid the training learned.
    await writeQdqOnnx(model, join(runDir, "model.int8.onnx"), metadata)
      .catch((error) => warn(`model.int8.onnx: ${error.message}`));
  }
}

/** Where the starting weights came from, in words (the report's subtitle). */
function describeWeights(config: TrainConfig): string {
  const origin = config.weights;
  if (origin === null || origin.format === "none") return `random (seed ${config.seed})`;
  const torchvision = origin.torchvision ? `torchvision ${origin.torchvision}, ` : "";
  return `${origin.source} (${torchvision}${origin.format === "tfjs" ? "TF.js" : "PyTorch"})`;
}

/** report.html: curves, distribution, samples, confusion, per-class table, mistakes. */
async function writeReport(
  runDir: string,
  config: TrainConfig,
  model: LayersModel,
  data: RunData,
  evaluation: EvaluationResult,
  run: RunSummary,
) {
  const numClasses = data.classes.length;
  const html = renderReport({
    title: `${config.name}: ${config.model}${
      run.fineTuned ? " fine-tuned from " + config.pretrained : ""
    } on ${config.dataset}`,
    subtitle: [
      `model ${config.model}, weights ${describeWeights(config)}`,
      `${data.train.length.toLocaleString("en-US")} training and ${
        data.validation.length.toLocaleString("en-US")
      } validation images, ${numClasses} classes, input ${data.inputShape.join("×")}`,
      `backend ${run.backend}, ${run.history.length} epochs, ${
        ((performance.now() - run.started) / 1000).toFixed(0)
      } s`,
    ],
    history: run.history,
    bestEpoch: run.bestEpoch,
    classes: data.classes,
    confusion: evaluation.confusion,
    report: evaluation.report,
    loss: evaluation.loss,
    topK: evaluation.k < numClasses ? { k: evaluation.k, accuracy: evaluation.topK } : undefined,
    misclassified: await reportSamples(model, data, evaluation, 48, run.warn),
    config,
    classDistribution: run.classDistribution,
    samples: run.samples,
  });
  await writeFileAtomic(join(runDir, "report.html"), html);
}

/** What a finished run leaves: model/ with preprocessing.json, evaluation.json, report.html. */
async function writeRunOutputs(
  runDir: string,
  config: TrainConfig,
  model: LayersModel,
  data: RunData,
  validation: DataLoader,
  run: RunSummary,
) {
  await saveRunModel(runDir, config, model, data, run.warn);
  const evaluation = await evaluate(model, validation, {
    numClasses: data.classes.length,
    classes: data.classes,
  });
  validation.close();
  const summary = {
    loss: evaluation.loss,
    accuracy: evaluation.accuracy,
    topK: evaluation.topK,
    k: evaluation.k,
    report: evaluation.report,
  };
  await writeFileAtomic(
    join(runDir, "evaluation.json"),
    JSON.stringify(
      {
        model: config.model,
        weights: config.weights,
        ...summary,
        confusion: [...evaluation.confusion],
      },
      null,
      1,
    ) + "\n",
  );
  await writeReport(runDir, config, model, data, evaluation, run);
  return summary;
}

/** An epoch's scalars in the TensorBoard event file. */
async function recordEpoch(writer: SummaryWriter, entry: EpochLog) {
  writer.addScalars({
    "loss/train": entry.loss,
    "loss/val": entry.valLoss,
    "accuracy/train": entry.accuracy,
    "accuracy/val": entry.valAccuracy,
    "lr": entry.lr,
    "throughput/images_per_s": entry.imagesPerSecond,
  }, entry.epoch + 1);
  await writer.flush();
}

/** `checkpoints/last` after every epoch, and `checkpoints/best` when the epoch is the best. */
async function checkpointEpoch(
  checkpoints: string,
  model: LayersModel,
  optimizer: Optimizer,
  state: CheckpointState,
  best: boolean,
) {
  if (best) await saveCheckpoint(join(checkpoints, "best"), { model, optimizer, state });
  await saveCheckpoint(join(checkpoints, "last"), { model, optimizer, state });
}

/**
 * A lost WebGPU device (whatever error it surfaced as: ours, or a failed buffer read) told with
 * the checkpoint that holds the last finished epoch and the command that resumes from it.
 */
async function withDeviceLoss(
  error: unknown,
  backend: SelectedBackend,
  runDir: string,
  saved: number,
) {
  if (backend.name !== "webgpu") return error;
  const handle = webGpuDeviceHandle();
  if (!(error instanceof WebGpuDeviceLostError) && handle !== null && handle.lostError === null) {
    // A destroyed device's next operation can fail (an invalid buffer) before `device.lost`
    // settles: give it a moment to say whether this error was the loss.
    await Promise.race([handle.device.lost, new Promise((r) => setTimeout(r, 1000))]);
    await new Promise((r) => setTimeout(r, 0)); // let the factory's own `lost` handler run
  }
  const lost = error instanceof WebGpuDeviceLostError ? error : handle?.lostError;
  if (!lost) return error;
  return new TrainingDeviceLostError(runDir, saved, saved + 1, lost.reason);
}

/** A loss gone NaN, told with the checkpoint that still holds the last good epoch. */
function withLastGoodCheckpoint(error: unknown, epochsDone: number, checkpoints: string) {
  if (!(error instanceof NonFiniteLossError)) return error;
  return new NonFiniteLossError(
    error.epoch,
    error.step,
    NaN,
    NaN,
    `${error.message}. ${
      epochsDone > 0
        ? `${join(checkpoints, "last")} still holds epoch ${epochsDone}, the last good one`
        : "no checkpoint was saved before it"
    }`,
  );
}

/**
 * Runs training as configured and writes the run directory:
 * `config.json`, `metrics.jsonl`, TensorBoard event files, `checkpoints/{last,best}/`,
 * `model/` (TF.js LayersModel + `preprocessing.json`), `evaluation.json` and `report.html`.
 *
 * @example
 * ```ts ignore
 * import { nameRun, resolveTrainConfig, trainRun } from "./mod.ts";
 * const config = nameRun(resolveTrainConfig({ dataset: "shapes", epochs: 2 }));
 * const result = await trainRun(config);
 * console.log(result.runDir, result.evaluation?.accuracy);
 * ```
 */
export async function trainRun(
  config: TrainConfig,
  options: TrainRunOptions = {},
): Promise<TrainRunResult> {
  const started = performance.now();
  const log = options.log ?? ((line: string) => console.log(line));
  const warn = options.warn ?? ((line: string) => console.warn(line));
  const runDir = runDirOf(config);
  await Deno.mkdir(runDir, { recursive: true }); // a refused write fails before any work
  await setWasmThreads(config.threads > 0 ? config.threads : defaultWasmThreads());
  const backend: SelectedBackend = await selectBackend(config.backend, { log });
  if (backend.name === "wasm") log(`wasm: ${describeWasmThreads()}`);

  const pretrained = await buildModel(config, log, options.weightsDir);
  // From here on `model` is the architecture built (a torchvision .pth decides its own).
  config = withOrigin(config, pretrained.origin);
  const data = await openRunData(config, {
    warn,
    inputSide: pretrained.inputSide,
    normalization: pretrained.normalization,
  });
  if (pretrained.pending) {
    pretrained.model = pendingModel(config, pretrained.pending, data.inputShape);
  }
  const numClasses = data.classes.length;
  const model = await structuredModel(
    runModel(config, data, pretrained.model, backend, log),
    config,
    log,
  );
  const compression = await runCompression(config, model, numClasses, log);
  const accumulate = chooseAccumulation(
    model,
    config,
    data.inputShape,
    numClasses,
    log,
    backend.name,
  );
  const optimizer: Optimizer = createOptimizer({
    name: config.optimizer,
    lr: config.lr,
    ...(config.optimizer === "sgd" ? { momentum: config.momentum } : {}),
    ...(config.weightDecay > 0 ? { weightDecay: config.weightDecay } : {}),
  });
  const schedule = scheduleFor(config);
  const balance = runBalance(config, data, log);
  const { train, validation } = loaders(config, data, warn, balance);
  const checkpoints = join(runDir, "checkpoints");

  const { resume, initialEpoch } = options.resume
    ? await resumeRun(runDir, model, optimizer, schedule, log)
    : { resume: undefined, initialEpoch: 0 };
  // The input size actually used (a standard dataset's own, not the folder default).
  config = { ...config, imgSize: data.inputShape[0] };
  await writeFileAtomic(join(runDir, "config.json"), JSON.stringify(config, null, 2) + "\n");
  const writer = await SummaryWriter.open(runDir);
  const history: EpochLog[] = [...(resume?.history ?? [])];
  const writeMetrics = () =>
    writeFileAtomic(
      join(runDir, "metrics.jsonl"),
      history.map((entry) => metricsLine(entry) + "\n").join(""),
    );

  let result;
  try {
    result = await fit(model, train, {
      epochs: config.epochs,
      numClasses,
      optimizer,
      loss: { labelSmoothing: config.labelSmoothing, classWeights: balance.classWeights },
      schedule,
      validation,
      earlyStopping: config.earlyStop > 0
        ? { monitor: "val_loss", patience: config.earlyStop, restoreBestWeights: true }
        : { monitor: "val_loss", patience: Infinity },
      clipNorm: config.clipNorm > 0 ? config.clipNorm : undefined,
      accumulate,
      mixupAlpha: config.mixup > 0 ? config.mixup : undefined,
      cutmixAlpha: config.cutmix > 0 ? config.cutmix : undefined,
      distill: compression.distill,
      seed: config.seed,
      signal: options.signal,
      readEvery: options.readEvery,
      resume,
      initialEpoch,
      callbacks: {
        onEpochBegin: async (epoch) => {
          compression.onEpochBegin(epoch);
          if (pretrained.model && config.unfreezeAt > 0 && epoch === config.unfreezeAt) {
            const count = unfreezeBackbone(model, optimizer, config);
            log(
              `epoch ${
                epoch + 1
              }: unfroze the backbone (${count} variables at lr × ${config.backboneLrScale})`,
            );
          }
          await options.callbacks?.onEpochBegin?.(epoch);
        },
        onStep: options.callbacks?.onStep,
        onBatchEnd: compression.onBatchEnd,
        onEpochEnd: async (entry, progress) => {
          history.push(entry);
          await writeMetrics();
          await recordEpoch(writer, entry);
          await checkpointEpoch(checkpoints, model, optimizer, {
            epoch: progress.epoch,
            config,
            metrics: { loss: entry.loss, val_loss: entry.valLoss, val_accuracy: entry.valAccuracy },
            schedule: schedule?.state?.(),
            progress,
          }, progress.stopping.bestEpoch === entry.epoch);
          await options.callbacks?.onEpochEnd?.(entry, {
            best: progress.stopping.bestEpoch === entry.epoch,
          });
        },
      },
    }).catch(async (error) => {
      const told = withLastGoodCheckpoint(error, history.length, checkpoints);
      throw await withDeviceLoss(told, backend, runDir, history.length);
    });
    if (result.interrupted) {
      await saveCheckpoint(join(checkpoints, "last"), {
        model,
        optimizer,
        state: {
          epoch: result.interrupted.epoch,
          config,
          schedule: schedule?.state?.(),
          progress: result.interrupted,
        },
      });
      return {
        runDir,
        backend: backend.name,
        history: result.history,
        bestEpoch: result.bestEpoch,
        stoppedEarly: false,
        interrupted: { epoch: result.interrupted.epoch, step: result.interrupted.step },
        seconds: (performance.now() - started) / 1000,
      };
    }
    train.close();
    compression.finish();
    const evaluation = await writeRunOutputs(runDir, config, model, data, validation, {
      backend: backend.name,
      history: result.history,
      bestEpoch: result.bestEpoch,
      started,
      fineTuned: pretrained.model !== null,
      warn,
      classDistribution: balance.counts,
      samples: train.first && trainingSamples(train.first, data.trainTransform, [
        ...(config.mixup > 0 ? ["mixup"] : []),
        ...(config.cutmix > 0 ? ["cutmix"] : []),
      ]),
    });
    return {
      runDir,
      backend: backend.name,
      history: result.history,
      bestEpoch: result.bestEpoch,
      stoppedEarly: result.stoppedEarly,
      evaluation,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    train.close();
    validation.close();
    await writer.close();
    optimizer.dispose();
    model.dispose();
  }
}
