/**
 * torchvision's ImageNet classifiers in TF.js: `loadTorchvision("resnet18", weights)` builds the
 * zoo's architecture with torchvision's layer names and fills it from a `torch.save` state dict or
 * a `.safetensors` file. `torchvisionWeights` fetches torchvision's own files into `data/weights/`
 * with the checked, resumable download (the sha256 prefix in the file name, as torch.hub checks).
 *
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { basename, join } from "../_internal/path.ts";
import { pathExists } from "../_internal/fs.ts";
import { type DownloadOptions, downloadResource } from "../datasets/download.ts";
import { createModel } from "../models/registry.ts";
import "../models/mod.ts";
import { compose } from "../transforms/compose.ts";
import { centerCrop, resize } from "../transforms/geometry.ts";
import { normalize } from "../transforms/tensor.ts";
import type { Transform } from "../transforms/types.ts";
import { CheckpointError, readStateDict, type StateDict } from "./checkpoint/mod.ts";
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
 * import { TORCHVISION_MODELS } from "./torchvision.ts";
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
 * import { torchvisionModel } from "./torchvision.ts";
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
 * import { torchvisionTransform } from "./torchvision.ts";
 * const steps = torchvisionTransform("efficientnet_b0").options.transforms as { name: string }[];
 * assert.deepEqual(steps.map((step) => step.name), ["resize", "centerCrop", "normalize"]);
 * ```
 */
export function torchvisionTransform(name: string): Transform {
  const { resize: side, crop, interpolation, mean, std } = torchvisionModel(name).preprocessing;
  return compose([resize(side, { interpolation }), centerCrop(crop), normalize({ mean, std })]);
}

/** Options for {@linkcode torchvisionWeights}. */
export interface TorchvisionWeightsOptions extends DownloadOptions {
  /** Where weights are kept. Default: `data/weights`. */
  dir?: string;
  /** Base URL to fetch from instead of `https://download.pytorch.org/models/`. */
  mirror?: string;
}

/**
 * The local path of torchvision's weights for `name`, downloaded into `data/weights/` on first
 * use and checked against the sha256 prefix in the file name. A refused network permission is a
 * one-line error naming the `--allow-net` host to add.
 *
 * @example
 * ```ts ignore
 * import { torchvisionWeights } from "./torchvision.ts";
 * const path = await torchvisionWeights("resnet18"); // data/weights/resnet18-f37072fd.pth
 * ```
 */
export async function torchvisionWeights(
  name: string,
  options: TorchvisionWeightsOptions = {},
): Promise<string> {
  const spec = torchvisionModel(name);
  const dest = join(options.dir ?? join("data", "weights"), spec.file);
  if (await pathExists(dest)) return dest;
  const url = options.mirror === undefined
    ? spec.url
    : options.mirror.replace(/\/*$/, "/") + spec.file;
  try {
    await downloadResource([url], dest, `sha256:${hashPrefix(spec.file)}`, options);
  } catch (error) {
    if (!(error instanceof Error) || /checksum mismatch/.test(error.message)) throw error;
    error.message += `; without network, copy ${spec.file} from a machine that has it to ${dest}`;
    throw error;
  }
  return dest;
}

/**
 * The sha256 prefix in a torch.hub file name (`resnet18-f37072fd.pth` → `f37072fd`), or
 * undefined when the name carries none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hashPrefix } from "./torchvision.ts";
 * assert.equal(hashPrefix("efficientnet_b0_rwightman-3dd342df.pth"), "3dd342df");
 * assert.equal(hashPrefix("my_model.pth"), undefined);
 * ```
 */
export function hashPrefix(file: string): string | undefined {
  // torch.hub's HASH_REGEX: the first "-<hex>." in the name.
  return /-([a-f0-9]{6,})\./.exec(basename(file))?.[1];
}

/**
 * Where `loadTorchvision` takes weights from: a path, an http(s) URL, the file's bytes, or a state
 * dict already read.
 */
export type WeightsSource = string | URL | Uint8Array | StateDict;

/** Options for {@linkcode loadTorchvision}. */
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

/** Reads a weights file, URL or bytes; the second value names it for messages. */
async function readWeights(
  weights: string | URL | Uint8Array,
  fetcher: typeof fetch = fetch,
): Promise<[Uint8Array, string]> {
  if (weights instanceof Uint8Array) return [weights, "weights"];
  const text = String(weights);
  if (/^https?:\/\//.test(text)) {
    let response: Response;
    try {
      response = await fetcher(text);
    } catch (error) {
      if (
        error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied
      ) {
        throw new CheckpointError(
          `${text}: network access refused by Deno's permissions; allow it with ` +
            `--allow-net=${new URL(text).host}`,
        );
      }
      throw new CheckpointError(`${text}: ${error instanceof Error ? error.message : error}`);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new CheckpointError(`${text}: HTTP ${response.status} ${response.statusText}`);
    }
    return [new Uint8Array(await response.arrayBuffer()), basename(new URL(text).pathname)];
  }
  try {
    return [await Deno.readFile(text), text];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new CheckpointError(`${text}: not found`);
    throw error;
  }
}

/**
 * Reads the state dict behind a weights path, URL or bytes, with the name errors should give.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readTorchWeights } from "./torchvision.ts";
 * await assert.rejects(readTorchWeights("missing.pth"), /missing\.pth: not found/);
 * ```
 */
export async function readTorchWeights(
  weights: WeightsSource,
  fetcher?: typeof fetch,
): Promise<{ stateDict: StateDict; source: string }> {
  if (weights instanceof Map) return { stateDict: weights, source: "state dict" };
  const [bytes, source] = await readWeights(weights, fetcher);
  return { stateDict: readStateDict(bytes, { source }), source };
}

/**
 * Builds torchvision's `name` (`resnet18`, `resnet50`, `mobilenet_v2`, `mobilenet_v3_large`,
 * `efficientnet_b0`) and loads PyTorch weights into it: a `torch.save` state dict (or a whole
 * checkpoint holding one) or a `.safetensors` file, from a path, a URL or bytes. The model takes
 * NHWC float32 images normalised the torchvision way (see {@linkcode TORCHVISION_MODELS}'
 * `preprocessing`) and returns 1000 ImageNet logits, or `numClasses` logits from a new seeded
 * classifier. A missing, extra or wrongly shaped tensor throws an error naming the parameter.
 *
 * @example
 * ```ts ignore
 * import { loadTorchvision, torchvisionWeights } from "../../mod.ts";
 * const model = await loadTorchvision("resnet18", await torchvisionWeights("resnet18"));
 * ```
 */
export async function loadTorchvision(
  name: string,
  weights: WeightsSource,
  options: LoadTorchvisionOptions = {},
): Promise<tfl.LayersModel> {
  const spec = torchvisionModel(name);
  const { stateDict, source } = await readTorchWeights(weights, options.fetch);
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
