/**
 * The seeds' recipes as named presets (train and eval pipelines).
 *
 * @module
 */
import { compose } from "./compose.ts";
import {
  centerCrop,
  randomCrop,
  randomHorizontalFlip,
  randomResizedCrop,
  resize,
} from "./geometry.ts";
import { normalize } from "./tensor.ts";
import type { Transform } from "./types.ts";

/** ImageNet's per-channel mean (torchvision's pretrained models). */
export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
/** ImageNet's per-channel standard deviation. */
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];
/** MNIST's mean, 0.1307. */
export const MNIST_MEAN: readonly number[] = [0.1307];
/** MNIST's standard deviation, 0.3081. */
export const MNIST_STD: readonly number[] = [0.3081];
/** CIFAR-10's per-channel mean. */
export const CIFAR_MEAN: readonly number[] = [0.4914, 0.4822, 0.4465];
/** CIFAR-10's per-channel standard deviation. */
export const CIFAR_STD: readonly number[] = [0.2470, 0.2435, 0.2616];

/** A named recipe: what training and evaluation apply. */
export interface Preset {
  /** The training pipeline (with augmentation). */
  train: Transform;
  /** The evaluation pipeline (deterministic). */
  eval: Transform;
}

/** The preset names. */
export type PresetName = "mnist" | "cifar" | "imagenet" | "none";

/**
 * The pipelines of a named recipe; `size` is the model's input side (imagenet: 224).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { preset } from "./presets.ts";
 * const { train } = preset("cifar");
 * const steps = train.options.transforms as { name: string }[];
 * assert.deepEqual(steps.map((step) => step.name), [
 *   "randomCrop",
 *   "randomHorizontalFlip",
 *   "normalize",
 * ]);
 * ```
 */
export function preset(name: PresetName, size?: number): Preset {
  switch (name) {
    case "mnist": {
      const norm = normalize({ mean: MNIST_MEAN, std: MNIST_STD });
      return { train: compose([norm]), eval: compose([norm]) };
    }
    case "cifar": {
      const norm = normalize({ mean: CIFAR_MEAN, std: CIFAR_STD });
      const side = size ?? 32;
      return {
        train: compose([randomCrop(side, { padding: 4 }), randomHorizontalFlip(), norm]),
        eval: compose([norm]),
      };
    }
    case "imagenet": {
      const side = size ?? 224;
      const norm = normalize({ mean: IMAGENET_MEAN, std: IMAGENET_STD });
      return {
        train: compose([randomResizedCrop(side), randomHorizontalFlip(), norm]),
        eval: compose([resize(Math.round((side * 256) / 224)), centerCrop(side), norm]),
      };
    }
    case "none":
      return { train: compose([]), eval: compose([]) };
    default:
      throw new RangeError(`unknown preset '${name}': expected mnist, cifar, imagenet or none`);
  }
}
