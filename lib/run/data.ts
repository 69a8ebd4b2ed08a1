/**
 * Turns a run's dataset settings into train and validation datasets plus the transforms each
 * uses, the way torchvision scripts pair a dataset with its `transforms.Compose`.
 *
 * @module
 */
import { cifar10, cifar100 } from "../datasets/cifar.ts";
import { DatasetError } from "../datasets/errors.ts";
import { ImageFolder } from "../datasets/image_folder.ts";
import { fashionMnist, mnist } from "../datasets/mnist.ts";
import { shapes } from "../datasets/shapes.ts";
import { splitDataset } from "../datasets/subset.ts";
import type { Dataset } from "../datasets/types.ts";
import { join } from "../_internal/path.ts";
import { compose } from "../transforms/compose.ts";
import {
  centerCrop,
  randomCrop,
  randomHorizontalFlip,
  randomResizedCrop,
  resize,
} from "../transforms/geometry.ts";
import {
  CIFAR_MEAN,
  CIFAR_STD,
  IMAGENET_MEAN,
  IMAGENET_STD,
  MNIST_MEAN,
  MNIST_STD,
} from "../transforms/presets.ts";
import { normalize } from "../transforms/tensor.ts";
import type { Transform } from "../transforms/types.ts";
import type { AugmentName, TrainConfig } from "./config.ts";

/** The datasets and pipelines of a run. */
export interface RunData {
  /** Training split. */
  train: Dataset;
  /** Validation split. */
  validation: Dataset;
  /** Class names by label. */
  classes: readonly string[];
  /** [height, width, channels] the model sees. */
  inputShape: [number, number, number];
  /** Augmentation and normalisation for training. */
  trainTransform: Transform;
  /** Deterministic preprocessing for validation and prediction. */
  evalTransform: Transform;
  /** True for image folders (decoded from files, so the cache helps). */
  fromFiles: boolean;
}

/** Per-channel statistics for `normalize`. */
export interface Normalization {
  /** Per-channel mean, on the 0–1 scale. */
  mean: readonly number[];
  /** Per-channel standard deviation, on the 0–1 scale. */
  std: readonly number[];
}

/** Keras applications' MobileNet convention: pixels to [-1, 1]. */
export const INCEPTION_NORMALIZATION: Normalization = {
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
};

/**
 * The train and eval pipelines of an augmentation recipe at `side` pixels, ending in `normalize`.
 * `fixedSize` is false for image folders, whose photos need resizing even without augmentation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pipelines } from "./data.ts";
 * const { train, evalTransform } = pipelines("imagenet", 224, { mean: [0.5], std: [0.5] }, false);
 * const names = (t: { options: Record<string, unknown> }) =>
 *   (t.options.transforms as { name: string }[]).map((step) => step.name);
 * assert.deepEqual(names(train), ["randomResizedCrop", "randomHorizontalFlip", "normalize"]);
 * assert.deepEqual(names(evalTransform), ["resize", "centerCrop", "normalize"]);
 * ```
 */
export function pipelines(
  augment: AugmentName,
  side: number,
  stats: Normalization,
  fixedSize: boolean,
): { train: Transform; evalTransform: Transform } {
  const norm = normalize({ mean: stats.mean, std: stats.std });
  const evalGeometry = fixedSize ? [] : [resize(Math.round((side * 256) / 224)), centerCrop(side)];
  switch (augment) {
    case "cifar":
      return {
        train: compose([
          ...(fixedSize ? [] : [resize([side, side])]),
          randomCrop(side, { padding: Math.max(1, Math.round(side / 8)) }),
          randomHorizontalFlip(),
          norm,
        ]),
        evalTransform: compose(fixedSize ? [norm] : [resize([side, side]), norm]),
      };
    case "imagenet":
      return {
        train: compose([randomResizedCrop(side), randomHorizontalFlip(), norm]),
        evalTransform: compose([...evalGeometry, norm]),
      };
    default: // "mnist" and "none": no augmentation
      return {
        train: compose([...evalGeometry, norm]),
        evalTransform: compose([...evalGeometry, norm]),
      };
  }
}

async function folderData(config: TrainConfig, warn: (line: string) => void) {
  const root = config.dataset;
  const sub = async (name: string) => {
    try {
      return (await Deno.stat(join(root, name))).isDirectory;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  };
  const valName = await sub("val") ? "val" : await sub("test") ? "test" : null;
  if (valName !== null && await sub("train")) {
    const options = { onWarning: warn, strict: config.strict };
    const train = await ImageFolder.open(join(root, "train"), options);
    const validation = await ImageFolder.open(join(root, valName), options);
    if (validation.classes.join("\n") !== train.classes.join("\n")) {
      throw new DatasetError(
        join(root, valName),
        `has classes [${validation.classes.join(", ")}], train/ has [${train.classes.join(", ")}]`,
      );
    }
    return { train, validation, classes: train.classes };
  }
  const all = await ImageFolder.open(root, { onWarning: warn, strict: config.strict });
  const { train, validation } = splitDataset(all, {
    validationFraction: config.valSplit,
    seed: config.seed,
    stratify: true,
  });
  return { train, validation, classes: all.classes };
}

/** Options for {@linkcode openRunData}. */
export interface OpenRunDataOptions {
  /** Where dataset warnings go (skipped files). Default: `console.warn`. */
  warn?: (line: string) => void;
  /** Overrides the dataset's statistics (a pretrained backbone's convention). */
  normalization?: Normalization;
  /** Overrides `config.imgSize` (a pretrained backbone's input side). */
  inputSide?: number;
}

/**
 * Opens the run's datasets: the embedded `shapes`, a standard dataset under `root`, or an image
 * folder (with `train/` and `val/` or `test/`, or one folder split by `valSplit`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveTrainConfig } from "./config.ts";
 * import { openRunData } from "./data.ts";
 * const data = await openRunData(resolveTrainConfig({ dataset: "shapes" }));
 * assert.deepEqual(data.inputShape, [32, 32, 3]);
 * assert.equal(data.classes.length, 10);
 * ```
 */
export async function openRunData(
  config: TrainConfig,
  options: OpenRunDataOptions = {},
): Promise<RunData> {
  const { warn = (line: string) => console.warn(line), normalization, inputSide } = options;
  const download = { download: config.download };
  let train: Dataset, validation: Dataset;
  let inputShape: [number, number, number];
  let stats: Normalization;
  let fromFiles = false;
  switch (config.dataset) {
    case "shapes":
      [train, validation] = [shapes({ train: true }), shapes({ train: false })];
      inputShape = [32, 32, 3];
      stats = { mean: CIFAR_MEAN, std: CIFAR_STD };
      break;
    case "mnist":
    case "fashion-mnist": {
      const open = config.dataset === "mnist" ? mnist : fashionMnist;
      train = await open({ root: config.root, train: true, ...download });
      validation = await open({ root: config.root, train: false, ...download });
      inputShape = [28, 28, 1];
      stats = { mean: MNIST_MEAN, std: MNIST_STD };
      break;
    }
    case "cifar10":
    case "cifar100": {
      const open = config.dataset === "cifar10" ? cifar10 : cifar100;
      train = await open({ root: config.root, train: true, ...download });
      validation = await open({ root: config.root, train: false, ...download });
      inputShape = [32, 32, 3];
      stats = { mean: CIFAR_MEAN, std: CIFAR_STD };
      break;
    }
    default: {
      ({ train, validation } = await folderData(config, warn));
      const side = inputSide ?? config.imgSize;
      inputShape = [side, side, 3];
      stats = { mean: IMAGENET_MEAN, std: IMAGENET_STD };
      fromFiles = true;
    }
  }
  const classes = train.classes;
  if (normalization !== undefined) stats = normalization;
  if (inputSide !== undefined && !fromFiles && inputSide !== inputShape[0]) {
    throw new DatasetError(
      config.dataset,
      `images are ${inputShape[0]}×${inputShape[1]}, the model expects ${inputSide}×${inputSide}`,
    );
  }
  const channels = inputShape[2];
  const fit = (values: readonly number[]) =>
    values.length === channels
      ? values
      : Array.from({ length: channels }, (_, i) => values[i % values.length]);
  const { train: trainTransform, evalTransform } = pipelines(
    config.augment,
    inputShape[0],
    { mean: fit(stats.mean), std: fit(stats.std) },
    !fromFiles,
  );
  return { train, validation, classes, inputShape, trainTransform, evalTransform, fromFiles };
}
