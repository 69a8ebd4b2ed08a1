/**
 * `fit` and `evaluate`: the training loop fed by a DataLoader (streaming; never the whole dataset
 * as one tensor), with PyTorch-like control — losses, optimizers, schedules, gradient clipping,
 * MixUp/CutMix, early stopping and callbacks — and evaluation with top-k, per-class metrics,
 * the confusion matrix and the misclassified samples.
 *
 * @module
 */
import { useLeanTraining } from "./_lean.ts";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { type FrozenSplit, splitFrozen } from "../models/transfer.ts";
import { batchStep, type BatchStepContext } from "./_batch_step.ts";
import type { Batch, BatchLoader } from "../loader/batch_loader.ts";
import {
  type ClassificationReport,
  classificationReport,
  confusionMatrix,
  topKAccuracy,
} from "../metrics/classification.ts";
import {
  crossEntropy,
  type CrossEntropyOptions,
  focalLoss,
  type FocalLossOptions,
} from "./losses.ts";
import { createOptimizer, Optimizer, type OptimizerOptions } from "./optimizers.ts";
import type { LrSchedule } from "./schedules.ts";
import { createDistiller, type DistillOptions } from "./_distill.ts";

export { DistillationError, distillationLoss, type DistillOptions } from "./_distill.ts";

/** Which loss to train with. */
export interface LossOptions extends CrossEntropyOptions {
  /** Default: `cross-entropy`. */
  kind?: "cross-entropy" | "focal";
  /** Focal loss settings (with `kind: "focal"`). */
  focal?: FocalLossOptions;
}

/** Early stopping, Keras' semantics and defaults. */
export interface EarlyStoppingOptions {
  /** Default: `val_loss` (or `loss` without validation). */
  monitor?: "val_loss" | "val_accuracy" | "loss" | "accuracy";
  /** Epochs without improvement before stopping. Default: 0. */
  patience?: number;
  /** Smallest change that counts as improvement. Default: 0. */
  minDelta?: number;
  /** Put back the weights of the best epoch when stopping or finishing. Default: false. */
  restoreBestWeights?: boolean;
}

/** One epoch's figures. */
export interface EpochLog {
  /** Epoch index, from 0. */
  epoch: number;
  /** Mean training loss over the epoch. */
  loss: number;
  /** Training accuracy over the epoch (against the unmixed labels). */
  accuracy: number;
  /** Validation loss, when a validation loader is given. */
  valLoss?: number;
  /** Validation accuracy, when a validation loader is given. */
  valAccuracy?: number;
  /** Learning rate at the end of the epoch. */
  lr: number;
  /** Training throughput. */
  imagesPerSecond: number;
  /** Seconds of training in the epoch (validation excluded). */
  seconds: number;
}

/** Progress within an epoch, every `readEvery` steps. */
export interface StepInfo {
  /** Epoch index, from 0. */
  epoch: number;
  /** Steps done in the epoch. */
  step: number;
  /** Steps in the epoch. */
  steps: number;
  /** Mean loss of the epoch so far. */
  loss: number;
  /** Accuracy of the epoch so far. */
  accuracy: number;
  /** Throughput of the epoch so far. */
  imagesPerSecond: number;
  /** Current learning rate. */
  lr: number;
}

/**
 * The loss became NaN or infinite: training stops at the first read that sees it (the loss is
 * read every `readEvery` steps), since every later step would only spread the damage.
 */
export class NonFiniteLossError extends Error {
  /** Always `NonFiniteLossError`. */
  override name = "NonFiniteLossError";
  /** Epoch (from 0) and step at which it was seen. */
  readonly epoch: number;
  /** Steps done in the epoch when the loss was read. */
  readonly step: number;

  /** Describes where the loss went bad and what to try (or takes a full `message`). */
  constructor(epoch: number, step: number, readEvery: number, value: number, message?: string) {
    super(
      message ??
        `the training loss became ${value} in epoch ${
            epoch + 1
          } by step ${step} (read every ${readEvery} steps); ` +
          "lower the learning rate, or clip gradients (clipNorm / --clip-norm)",
    );
    this.epoch = epoch;
    this.step = step;
  }
}

/** Early stopping's running state. */
export interface StoppingState {
  /** Best monitored value so far. */
  best: number;
  /** Epoch of the best monitored value, or null before the first. */
  bestEpoch: number | null;
  /** Epochs since the best one. */
  wait: number;
}

/**
 * Where a run stands: enough to continue it exactly. `step` batches of `epoch` are done, with
 * the running sums of that epoch; `step` is 0 at an epoch boundary. Plain numbers, so it goes
 * into a checkpoint's JSON as is.
 */
export interface FitProgress {
  /** Epoch in progress, or the next one at a boundary. */
  epoch: number;
  /** Steps done in that epoch. */
  step: number;
  /** Sum of per-sample losses over the epoch's finished steps. */
  lossSum: number;
  /** Correct predictions over the epoch's finished steps. */
  correct: number;
  /** Samples seen in the epoch's finished steps. */
  seen: number;
  /** Seconds spent in the epoch's finished steps. */
  seconds: number;
  /** Logs of the finished epochs. */
  history: EpochLog[];
  /** Early stopping's state. */
  stopping: StoppingState;
}

/** Hooks for progress bars, logs and checkpoints. Returning `"stop"` ends training. */
export interface Callbacks {
  /** Before an epoch's first step. */
  onEpochBegin?(epoch: number): void | Promise<void>;
  /** Every `readEvery` steps and at the epoch's last step. */
  onStep?(info: StepInfo): void | Promise<void>;
  /**
   * After every optimizer step, synchronously (no read-back): where pruning re-applies its masks
   * and compression hooks keep their state in step with the weights.
   */
  onBatchEnd?(epoch: number, step: number): void;
  /** After each epoch; `progress` is where a checkpoint taken now would resume. */
  onEpochEnd?(log: EpochLog, progress: FitProgress): void | "stop" | Promise<void | "stop">;
}

/** Options for {@linkcode fit}. */
export interface FitOptions {
  /** Train until this many epochs are done. */
  epochs: number;
  /** Classes of the labels. */
  numClasses: number;
  /** An optimizer, or the options to create one (disposed at the end). */
  optimizer: Optimizer | OptimizerOptions;
  /** The loss. Default: cross-entropy on logits. */
  loss?: LossOptions;
  /** Learning-rate schedule. Default: constant. */
  schedule?: LrSchedule;
  /** Evaluated after each epoch (val_loss, val_accuracy). */
  validation?: BatchLoader;
  /** Stop when the monitored value stops improving. */
  earlyStopping?: EarlyStoppingOptions;
  /** Clip gradients to this global L2 norm. */
  clipNorm?: number;
  /**
   * Split each batch into this many micro-batches and sum their gradients before one update
   * (gradient accumulation: the batch's update with a micro-batch's memory). Batch norm then
   * normalises each micro-batch with its own statistics, as in PyTorch. Default: 1.
   */
  accumulate?: number;
  /** MixUp with Beta(α, α). */
  mixupAlpha?: number;
  /** CutMix with Beta(α, α); with MixUp too, each batch picks one at random. */
  cutmixAlpha?: number;
  /** Read the loss back every this many steps (and at the end of the epoch). Default: 20. */
  readEvery?: number;
  /** Applied to each batch on the backend, e.g. scaling uint8 images. Default: cast to float. */
  inputTransform?: (images: tf.Tensor4D) => tf.Tensor4D;
  /** First epoch to run (for resuming). Default: 0. */
  initialEpoch?: number;
  /** Seeds MixUp/CutMix. Default: 0. */
  seed?: number;
  /** Progress, logging and checkpoint hooks. */
  callbacks?: Callbacks;
  /**
   * Knowledge distillation from a teacher (run in inference mode, outside the tape): the loss
   * becomes α·T²·KL(teacher ‖ student at T) + (1 − α)·`loss`.
   */
  distill?: DistillOptions;
  /**
   * Stops after the step in progress when aborted (Ctrl-C): the result's `interrupted` says
   * where, for a checkpoint that resumes mid-epoch.
   */
  signal?: AbortSignal;
  /** Continue from a checkpoint's progress (exact resume, mid-epoch included). */
  resume?: FitProgress & {
    /** The best epoch's weights, when early stopping restores them. */
    bestWeights?: tf.Tensor[];
  };
}

/** What {@linkcode fit} returns. */
export interface FitResult {
  /** One log per finished epoch. */
  history: EpochLog[];
  /** Epoch with the best monitored value (with early stopping). */
  bestEpoch: number | null;
  /** Whether early stopping ended training. */
  stoppedEarly: boolean;
  /** Set when `signal` stopped training: where to resume. */
  interrupted?: FitProgress;
}

/** Reused for byte batches on wasm, whose tensors copy their values at once. */
let int32Scratch = new Int32Array(0);

/**
 * Bytes as int32 values for a tensor. tfjs checks and converts a Uint8Array for an int32 tensor
 * element by element (0.59 ms for a batch of 64 MNIST digits, a tenth of a LeNet step); a
 * typed-array copy is far cheaper, and cheaper again into a buffer kept from the last batch
 * (a new 200 KB array each step cost ~0.2 ms in allocation). Only the wasm backend copies a
 * new tensor's values at once; the others keep the array, so they get a new one.
 */
function int32Values(bytes: Uint8Array): Int32Array {
  if (tf.getBackend() !== "wasm") return new Int32Array(bytes);
  if (int32Scratch.length < bytes.length) int32Scratch = new Int32Array(bytes.length);
  const values = int32Scratch.subarray(0, bytes.length);
  values.set(bytes);
  return values;
}

function toTensors(batch: Batch, inputTransform?: (x: tf.Tensor4D) => tf.Tensor4D) {
  return tf.tidy(() => {
    const raw = batch.images instanceof Uint8Array
      ? tf.tensor4d(int32Values(batch.images), batch.shape, "int32")
      : tf.tensor4d(batch.images, batch.shape, "float32");
    const images = inputTransform ? inputTransform(raw) : tf.cast(raw, "float32") as tf.Tensor4D;
    return { images, labels: tf.tensor1d(batch.labels, "int32") };
  });
}

function lossFor(options: LossOptions | undefined) {
  return (logits: tf.Tensor2D, targets: tf.Tensor1D | tf.Tensor2D) =>
    options?.kind === "focal"
      ? focalLoss(logits, targets as tf.Tensor1D, options.focal)
      : crossEntropy(logits, targets, options);
}

/**
 * Trains `model` on the batches of `train` for `options.epochs` epochs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { shapes } from "../datasets/mod.ts";
 * import { DataLoader } from "../loader/mod.ts";
 * import { createModel } from "../models/mod.ts";
 * import { normalize } from "../transforms/mod.ts";
 * import { fit } from "./fit.ts";
 * await useBackend("wasm");
 * const transform = normalize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
 * const train = new DataLoader(shapes({ size: 64 }), { batchSize: 16, numWorkers: 0, transform });
 * const model = createModel("cifar-cnn", { inputShape: [32, 32, 3], numClasses: 10 });
 * const { history } = await fit(model, train, {
 *   epochs: 1,
 *   numClasses: 10,
 *   optimizer: { name: "adam", lr: 1e-3 },
 * });
 * assert.equal(history.length, 1);
 * model.dispose();
 * ```
 */
export async function fit(
  model: LayersModel,
  train: BatchLoader,
  options: FitOptions,
): Promise<FitResult> {
  useLeanTraining();
  const optimizer = options.optimizer instanceof Optimizer
    ? options.optimizer
    : createOptimizer(options.optimizer);
  const baseLr = optimizer.lr;
  const hardLoss = lossFor(options.loss);
  const distiller = options.distill
    ? createDistiller(
      options.distill,
      hardLoss,
      options.mixupAlpha !== undefined || options.cutmixAlpha !== undefined,
    )
    : null;
  const loss = distiller?.loss ?? hardLoss;
  const readEvery = options.readEvery ?? 20;
  const seed = options.seed ?? 0;
  const resume = options.resume;
  const history: EpochLog[] = [...(resume?.history ?? [])];
  const stopping = options.earlyStopping;
  const monitor = stopping?.monitor ?? (options.validation ? "val_loss" : "loss");
  const maximize = monitor.endsWith("accuracy");
  const state: StoppingState = resume
    ? { ...resume.stopping }
    : { best: maximize ? -Infinity : Infinity, bestEpoch: null, wait: 0 };
  let bestWeights: tf.Tensor[] | null = resume?.bestWeights?.map((w) => tf.keep(tf.clone(w))) ??
    null;
  let stoppedEarly = false;
  let interrupted: FitProgress | undefined;
  const steps = train.length;
  let frozenSplit: FrozenSplit | null = null;
  const stepContext: BatchStepContext = {
    model,
    optimizer,
    numClasses: options.numClasses,
    loss,
    seed,
    mixupAlpha: options.mixupAlpha,
    cutmixAlpha: options.cutmixAlpha,
    clipNorm: options.clipNorm,
    accumulate: Math.max(1, Math.floor(options.accumulate ?? 1)),
    split: null,
  };
  const boundary = (epoch: number): FitProgress => ({
    epoch,
    step: 0,
    lossSum: 0,
    correct: 0,
    seen: 0,
    seconds: 0,
    history: [...history],
    stopping: { ...state },
  });

  try {
    for (let epoch = resume?.epoch ?? options.initialEpoch ?? 0; epoch < options.epochs; epoch++) {
      const partial = resume !== undefined && epoch === resume.epoch && resume.step > 0
        ? resume
        : undefined;
      if (partial === undefined) await options.callbacks?.onEpochBegin?.(epoch);
      frozenSplit = splitFrozen(model); // after onEpochBegin, which may unfreeze
      const start = performance.now() - (partial?.seconds ?? 0) * 1000;
      let lossSum = tf.keep(tf.scalar(partial?.lossSum ?? 0));
      let correctSum = tf.keep(tf.scalar(partial?.correct ?? 0));
      let seen = partial?.seen ?? 0;
      let step = partial?.step ?? 0;
      for await (const batch of train.batches(epoch, { skip: step })) {
        if (batch.labels.length === 0) { // every file of the batch was bad (the loader warned)
          step++;
          continue;
        }
        optimizer.lr = options.schedule?.lr(baseLr, epoch, step, steps) ?? baseLr;
        const { images, labels } = toTensors(batch, options.inputTransform);
        distiller?.begin(images);
        const result = batchStep(
          { ...stepContext, split: frozenSplit },
          images,
          labels,
          epoch,
          step,
        );
        distiller?.end();
        options.callbacks?.onBatchEnd?.(epoch, step);
        const [nextLoss, nextCorrect] = tf.tidy(() => [
          tf.add(lossSum, tf.mul(result.loss, batch.labels.length)),
          tf.add(correctSum, result.correct),
        ]);
        tf.dispose([lossSum, correctSum, images, labels, result.loss, result.correct]);
        [lossSum, correctSum] = [nextLoss, nextCorrect];
        seen += batch.labels.length;
        step++;
        if (step % readEvery === 0 || step === steps) {
          // One asynchronous read every `readEvery` steps: no GPU sync per step.
          const [l, c] = await Promise.all([lossSum.data(), correctSum.data()]);
          if (!Number.isFinite(l[0])) throw new NonFiniteLossError(epoch, step, readEvery, l[0]);
          await options.callbacks?.onStep?.({
            epoch,
            step,
            steps,
            loss: l[0] / seen,
            accuracy: c[0] / seen,
            imagesPerSecond: seen / ((performance.now() - start) / 1000),
            lr: optimizer.lr,
          });
        }
        if (options.signal?.aborted && step < steps) break;
      }
      const [l, c] = await Promise.all([lossSum.data(), correctSum.data()]);
      tf.dispose([lossSum, correctSum]);
      const seconds = (performance.now() - start) / 1000;
      if (step < steps) {
        interrupted = {
          epoch,
          step,
          lossSum: l[0],
          correct: c[0],
          seen,
          seconds,
          history: [...history],
          stopping: { ...state },
        };
        break;
      }
      const log: EpochLog = {
        epoch,
        loss: l[0] / seen,
        accuracy: c[0] / seen,
        lr: optimizer.lr,
        imagesPerSecond: seen / seconds,
        seconds,
      };
      if (options.validation) {
        const result = await evaluate(model, options.validation, {
          numClasses: options.numClasses,
          loss: options.loss,
          inputTransform: options.inputTransform,
        });
        log.valLoss = result.loss;
        log.valAccuracy = result.accuracy;
      }
      history.push(log);
      const current = {
        loss: log.loss,
        accuracy: log.accuracy,
        val_loss: log.valLoss,
        val_accuracy: log.valAccuracy,
      }[monitor] ?? log.loss;
      options.schedule?.observe?.(log.valLoss ?? log.loss);
      const delta = stopping?.minDelta ?? 0;
      if (maximize ? current > state.best + delta : current < state.best - delta) {
        state.best = current;
        state.bestEpoch = epoch;
        state.wait = 0;
        if (stopping?.restoreBestWeights) {
          tf.dispose(bestWeights ?? []);
          bestWeights = model.getWeights().map((w) => tf.keep(tf.clone(w)));
        }
      } else {
        state.wait++;
      }
      const verdict = await options.callbacks?.onEpochEnd?.(log, boundary(epoch + 1));
      if (verdict === "stop") break;
      if (stopping && state.wait > (stopping.patience ?? 0)) {
        stoppedEarly = true;
        break;
      }
      if (options.signal?.aborted && epoch + 1 < options.epochs) {
        interrupted = boundary(epoch + 1);
        break;
      }
    }
    if (stopping?.restoreBestWeights && bestWeights && !interrupted) model.setWeights(bestWeights);
  } finally {
    tf.dispose(bestWeights ?? []);
    if (!(options.optimizer instanceof Optimizer)) optimizer.dispose();
  }
  return {
    history,
    bestEpoch: stopping ? state.bestEpoch : null,
    stoppedEarly,
    ...(interrupted ? { interrupted } : {}),
  };
}

/** Options for {@linkcode evaluate}. */
export interface EvaluateOptions {
  /** Classes of the labels. */
  numClasses: number;
  /** Class names for the report. Default: the loader's dataset classes. */
  classes?: readonly string[];
  /** The loss reported. Default: cross-entropy. */
  loss?: LossOptions;
  /** k of the top-k accuracy. Default: 5. */
  topK?: number;
  /** Applied to each batch of images before the model (e.g. scaling). */
  inputTransform?: (images: tf.Tensor4D) => tf.Tensor4D;
  /** A batch's logits (e.g. test-time augmentation). Default: the model in inference mode. */
  forward?: (images: tf.Tensor4D) => tf.Tensor2D;
}

/** A sample the model got wrong. */
export interface Misclassified {
  /** Index in the loader's dataset. */
  index: number;
  /** True class. */
  truth: number;
  /** Predicted class. */
  predicted: number;
  /** Softmax probability of the predicted class. */
  confidence: number;
  /** The sample's file, when the dataset knows it (image folders). */
  source?: string;
}

/** What {@linkcode evaluate} returns. */
export interface EvaluationResult {
  /** Mean loss. */
  loss: number;
  /** Top-1 accuracy. */
  accuracy: number;
  /** Top-k accuracy. */
  topK: number;
  /** The k of `topK`. */
  k: number;
  /** Counts, `confusion[truth * numClasses + predicted]`. */
  confusion: Int32Array;
  /** Per-class precision, recall and F1 with averages. */
  report: ClassificationReport;
  /** Every misclassified sample, in loader order. */
  misclassified: Misclassified[];
}

/**
 * Evaluates `model` on every batch of `loader` (inference mode).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { shapes } from "../datasets/mod.ts";
 * import { DataLoader } from "../loader/mod.ts";
 * import { createModel } from "../models/mod.ts";
 * import { evaluate } from "./fit.ts";
 * await useBackend("wasm");
 * const loader = new DataLoader(shapes({ size: 20, train: false }), { batchSize: 8, numWorkers: 0 });
 * const model = createModel("cifar-cnn", { inputShape: [32, 32, 3], numClasses: 10 });
 * const result = await evaluate(model, loader, { numClasses: 10 });
 * assert.equal(result.confusion.reduce((a, b) => a + b, 0), 20);
 * model.dispose();
 * ```
 */
export async function evaluate(
  model: LayersModel,
  loader: BatchLoader,
  options: EvaluateOptions,
): Promise<EvaluationResult> {
  const k = Math.min(options.topK ?? 5, options.numClasses);
  const loss = lossFor(options.loss);
  const truth: number[] = [];
  const predicted: number[] = [];
  let lossSum = 0;
  let topHits = 0;
  const misclassified: Misclassified[] = [];
  for await (const batch of loader) {
    if (batch.labels.length === 0) continue;
    const { images, labels } = toTensors(batch, options.inputTransform);
    const [batchLoss, probabilities] = tf.tidy(() => {
      const logits = options.forward?.(images) ??
        model.apply(images, { training: false }) as tf.Tensor2D;
      return [loss(logits, labels), tf.softmax(logits)];
    });
    const [l, p] = await Promise.all([batchLoss.data(), probabilities.data()]);
    tf.dispose([images, labels, batchLoss, probabilities]);
    const n = batch.labels.length;
    lossSum += l[0] * n;
    topHits += topKAccuracy(p, batch.labels, options.numClasses, k) * n;
    for (let row = 0; row < n; row++) {
      let arg = 0;
      for (let c = 1; c < options.numClasses; c++) {
        if (p[row * options.numClasses + c] > p[row * options.numClasses + arg]) arg = c;
      }
      truth.push(batch.labels[row]);
      predicted.push(arg);
      if (arg !== batch.labels[row]) {
        const index = batch.indices[row];
        const source = loader.dataset.sourceOf?.(index);
        misclassified.push({
          index,
          truth: batch.labels[row],
          predicted: arg,
          confidence: p[row * options.numClasses + arg],
          ...(source === undefined ? {} : { source }),
        });
      }
    }
  }
  const confusion = confusionMatrix(truth, predicted, options.numClasses);
  const classes = options.classes ?? loader.dataset.classes;
  const report = classificationReport(confusion, classes);
  return {
    loss: lossSum / truth.length,
    accuracy: report.accuracy,
    topK: topHits / truth.length,
    k,
    confusion,
    report,
    misclassified,
  };
}
