/**
 * torchvision's ImageNet architectures and their preprocessing, and a model built from a state
 * dict in memory. No file or network access: the page of `deno task web` loads PyTorch weights
 * through it, and torchvision.ts adds the paths, URLs and downloads of Deno.
 *
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { createModel } from "../models/registry.ts";
import "../models/mod.ts";
import { compose } from "../transforms/compose.ts";
import { centerCrop, resize } from "../transforms/geometry.ts";
import { normalize } from "../transforms/tensor.ts";
import type { Transform } from "../transforms/types.ts";
import type { StateDict } from "./checkpoint/mod.ts";
import { loadStateDict } from "./state_dict.ts";

/** How torchvision preprocesses images for a set of weights (`weights.transforms()`). */
export interface TorchvisionPreprocessing {
  /** Resize the shorter side to this. */
  resize: number;
  /** Then center-crop a square of this side: the model's input side. */
  crop: number;
  /** Resampling filter of the resize. */
  interpolation: "bilinear" | "bicubic";
  /** Per-channel mean (ImageNet's). */
  mean: readonly number[];
  /** Per-channel standard deviation (ImageNet's). */
  std: readonly number[];
}

/** One torchvision architecture with its default (IMAGENET1K_V1) weights. */
export interface TorchvisionModel {
  /** torchvision's name: `torchvision.models.<name>`. */
  name: string;
  /** The zoo's registry name of the same architecture. */
  model: string;
  /** The module prefix of the final Linear (replaced for another number of classes). */
  classifier: string;
  /** The weights' file name, `<name>-<sha256 prefix>.pth`. */
  file: string;
  /** torchvision's official URL for the file. */
  url: string;
  /** The preprocessing the weights were trained with. */
  preprocessing: TorchvisionPreprocessing;
  /** ImageNet-1k top-1 accuracy torchvision reports for these weights (%). */
  top1: number;
}

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
const BASE = "https://download.pytorch.org/models/";

function entry(
  name: string,
  model: string,
  classifier: string,
  file: string,
  top1: number,
  interpolation: "bilinear" | "bicubic" = "bilinear",
): TorchvisionModel {
  return {
    name,
    model,
    classifier,
    file,
    url: BASE + file,
    preprocessing: { resize: 256, crop: 224, interpolation, mean: MEAN, std: STD },
    top1,
  };
}

/**
 * The torchvision architectures that load into the zoo, by torchvision's name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TORCHVISION_MODELS } from "./torchvision_models.ts";
 * assert.equal(TORCHVISION_MODELS.resnet18.file, "resnet18-f37072fd.pth");
 * ```
 */
export const TORCHVISION_MODELS: Readonly<Record<string, TorchvisionModel>> = Object.freeze({
  resnet18: entry("resnet18", "resnet18", "fc", "resnet18-f37072fd.pth", 69.758),
  resnet50: entry("resnet50", "resnet50", "fc", "resnet50-0676ba61.pth", 76.13),
  mobilenet_v2: entry(
    "mobilenet_v2",
    "mobilenetv2",
    "classifier.1",
    "mobilenet_v2-b0353104.pth",
    71.878,
  ),
  mobilenet_v3_large: entry(
    "mobilenet_v3_large",
    "mobilenetv3-large",
    "classifier.3",
    "mobilenet_v3_large-8738ca79.pth",
    74.042,
  ),
  efficientnet_b0: entry(
    "efficientnet_b0",
    "efficientnet-b0",
    "classifier.1",
    "efficientnet_b0_rwightman-3dd342df.pth",
    77.692,
    "bicubic",
  ),
});

/**
 * The torchvision entry for a torchvision name (`mobilenet_v2`) or the zoo's name of the same
 * architecture (`mobilenetv2`); throws a RangeError listing the names otherwise.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { torchvisionModel } from "./torchvision_models.ts";
 * assert.equal(torchvisionModel("mobilenetv2").name, "mobilenet_v2");
 * assert.throws(() => torchvisionModel("alexnet"), /resnet18/);
 * ```
 */
export function torchvisionModel(name: string): TorchvisionModel {
  const found = TORCHVISION_MODELS[name] ??
    Object.values(TORCHVISION_MODELS).find((entry) => entry.model === name);
  if (found === undefined) {
    throw new RangeError(
      `no torchvision weights for '${name}'; available: ${
        Object.keys(TORCHVISION_MODELS).join(", ")
      }`,
    );
  }
  return found;
}

/**
 * The evaluation transform of torchvision's weights for `name` (`weights.transforms()`): resize the
 * shorter side, center-crop, scale to [0, 1] and normalise with ImageNet's mean and std.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { torchvisionTransform } from "./torchvision_models.ts";
 * const steps = torchvisionTransform("efficientnet_b0").options.transforms as { name: string }[];
 * assert.deepEqual(steps.map((step) => step.name), ["resize", "centerCrop", "normalize"]);
 * ```
 */
export function torchvisionTransform(name: string): Transform {
  const { resize: side, crop, interpolation, mean, std } = torchvisionModel(name).preprocessing;
  return compose([resize(side, { interpolation }), centerCrop(crop), normalize({ mean, std })]);
}

/** Options for {@linkcode loadTorchvision} and {@linkcode torchvisionFromStateDict}. */
export interface LoadTorchvisionOptions {
  /**
   * Logits out. The checkpoint's own classifier is loaded when it has this many outputs; any
   * other number gets a new, seeded classifier. Default: the checkpoint's (1000 for ImageNet).
   */
  numClasses?: number;
  /** Seeds the new classifier (with `numClasses`), as `createModel`'s seed does. Default: 0. */
  seed?: number;
  /** Input side in pixels. Default: the weights' crop (224). */
  inputSize?: number;
  /** The fetch for URLs (tests pass their own). Default: global `fetch`. */
  fetch?: typeof fetch;
}

/**
 * Builds torchvision's `name` and fills it from a state dict already read (`source` names it in
 * errors): the part of `loadTorchvision` that needs no file or network.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { torchvisionFromStateDict } from "./torchvision_models.ts";
 * await useBackend("cpu");
 * assert.throws(() => torchvisionFromStateDict("resnet18", new Map(), "empty.pth"), /empty\.pth/);
 * ```
 */
export function torchvisionFromStateDict(
  name: string,
  stateDict: StateDict,
  source: string,
  options: LoadTorchvisionOptions = {},
): tfl.LayersModel {
  const spec = torchvisionModel(name);
  const head = stateDict.get(`${spec.classifier}.weight`)?.shape[0];
  const numClasses = options.numClasses ?? head ?? 1000;
  const side = options.inputSize ?? spec.preprocessing.crop;
  // Every pretrained weight is overwritten; only a new classifier keeps its (seeded) init.
  const model = createModel(spec.model, {
    inputShape: [side, side, 3],
    numClasses,
    seed: options.seed ?? 0,
    stem: "imagenet",
  });
  try {
    loadStateDict(model, stateDict, {
      source,
      mapping: "names",
      exclude: numClasses === head ? [] : [spec.classifier],
    });
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}
