/**
 * `trainInMemory`: a whole training run on decoded images in memory, as the page of
 * `deno task web` runs it: a model from the registry (or one already built, e.g. with PyTorch
 * weights), seeded {@linkcode MemoryLoader}s with flip augmentation and normalisation, `fit`
 * with a loss read at every step, then `evaluate`. It needs no Deno API, so Deno runs the same
 * function on the same seed, which is how the browser test holds the page to Deno's losses.
 *
 * @module
 */
import type { LayersModel } from "@tensorflow/tfjs-layers";
import type { Dataset } from "../datasets/types.ts";
import { MemoryLoader } from "../loader/memory_loader.ts";
import { createModel } from "../models/registry.ts";
import "../models/mod.ts";
import { compose } from "../transforms/compose.ts";
import { randomHorizontalFlip } from "../transforms/geometry.ts";
import { normalize } from "../transforms/tensor.ts";
import type { Transform } from "../transforms/types.ts";
import {
  type EpochLog,
  evaluate,
  type EvaluationResult,
  fit,
  type StepInfo,
} from "../train/fit.ts";
import type { OptimizerName } from "../train/optimizers.ts";

/** Options for {@linkcode trainInMemory}. */
export interface InMemoryTrainOptions {
  /** A registry name (`cifar-cnn`, `mobilenetv2`, …) or a model already built. */
  model: string | LayersModel;
  /** Epochs. Default: 3. */
  epochs?: number;
  /** Samples per batch. Default: 32. */
  batchSize?: number;
  /** Learning rate. Default: 1e-3. */
  lr?: number;
  /** Optimizer. Default: `adam`. */
  optimizer?: OptimizerName;
  /** Seeds the model's initialisation, the shuffle and the augmentation. Default: 0. */
  seed?: number;
  /** Per-channel mean and std of the normalisation. Default: ImageNet's. */
  normalization?: { mean: number[]; std: number[] };
  /** Random horizontal flips while training. Default: true. */
  flip?: boolean;
  /** Stop after this many steps (for quick checks); the epoch's log then covers those. */
  maxSteps?: number;
  /** Every step: the epoch's mean loss so far (its `loss`) and accuracy. */
  onStep?: (info: StepInfo) => void | Promise<void>;
  /** After each epoch, with validation figures when there is a validation set. */
  onEpoch?: (log: EpochLog) => void | Promise<void>;
  /** Stops training at the next step. */
  signal?: AbortSignal;
}

/** What {@linkcode trainInMemory} returns. */
export interface InMemoryTrainResult {
  /** The trained model (the caller disposes it). */
  model: LayersModel;
  /** One log per epoch. */
  history: EpochLog[];
  /** The epoch's running mean loss after each step, epochs one after another. */
  stepLosses: number[];
  /** The validation set's confusion matrix, report and mistakes (when given one). */
  evaluation?: EvaluationResult;
  /** The transform validation and prediction use (normalisation, no augmentation). */
  evalTransform: Transform;
}

const IMAGENET = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };

/**
 * Trains a classifier on `train` (and measures it on `validation` after each epoch and at the
 * end), on whichever tfjs backend is active.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { shapes } from "../datasets/shapes.ts";
 * import { trainInMemory } from "./train.ts";
 * await useBackend("wasm");
 * const result = await trainInMemory(shapes({ size: 64 }), shapes({ size: 32, train: false }), {
 *   model: "cifar-cnn",
 *   epochs: 1,
 *   batchSize: 16,
 * });
 * assert.equal(result.stepLosses.length, 4);
 * assert.equal(result.evaluation?.confusion.length, 10 * 10); // true × predicted, flat
 * result.model.dispose();
 * ```
 */
export async function trainInMemory(
  train: Dataset,
  validation: Dataset | undefined,
  options: InMemoryTrainOptions,
): Promise<InMemoryTrainResult> {
  const seed = options.seed ?? 0;
  const batchSize = options.batchSize ?? 32;
  const numClasses = train.classes.length;
  const norm = normalize(options.normalization ?? IMAGENET);
  const trainTransform = options.flip === false ? norm : compose([randomHorizontalFlip(), norm]);
  const trainLoader = new MemoryLoader(train, {
    batchSize,
    shuffle: true,
    seed,
    transform: trainTransform,
  });
  const valLoader = validation === undefined
    ? undefined
    : new MemoryLoader(validation, { batchSize, transform: norm });
  let model: LayersModel;
  if (typeof options.model === "string") {
    const [sample] = await train.get(0);
    model = createModel(options.model, {
      inputShape: [sample.height, sample.width, sample.channels],
      numClasses,
      seed,
    });
  } else {
    model = options.model;
  }
  const stepLosses: number[] = [];
  const stop = new AbortController();
  options.signal?.addEventListener("abort", () => stop.abort());
  try {
    const { history } = await fit(model, trainLoader, {
      epochs: options.epochs ?? 3,
      numClasses,
      optimizer: { name: options.optimizer ?? "adam", lr: options.lr ?? 1e-3 },
      validation: valLoader,
      readEvery: 1,
      seed,
      signal: stop.signal,
      callbacks: {
        onStep: async (info) => {
          stepLosses.push(info.loss);
          await options.onStep?.(info);
          if (options.maxSteps !== undefined && stepLosses.length >= options.maxSteps) {
            stop.abort();
          }
        },
        onEpochEnd: async (log) => {
          await options.onEpoch?.(log);
        },
      },
    });
    const evaluation = valLoader === undefined
      ? undefined
      : await evaluate(model, valLoader, { numClasses, topK: Math.min(5, numClasses) });
    return { model, history, stepLosses, evaluation, evalTransform: norm };
  } catch (error) {
    if (typeof options.model === "string") model.dispose();
    throw error;
  }
}
