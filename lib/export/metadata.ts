/**
 * The preprocessing a run stores (classes, input shape, evaluation pipeline) and what the model
 * is (its architecture, where its weights came from) as an ONNX model's `metadata_props` or a
 * TF.js model's `userDefinedMetadata`, so a consumer of the file needs nothing else.
 *
 * @module
 */
import type { TransformSpec } from "../transforms/types.ts";

/**
 * What a model needs to see images as in training: a run's `preprocessing.json`.
 *
 * @example
 * ```ts
 * import type { ModelPreprocessing } from "./metadata.ts";
 * const preprocessing: ModelPreprocessing = {
 *   classes: ["ants", "bees"],
 *   inputShape: [224, 224, 3],
 *   transform: { name: "normalize", options: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } },
 * };
 * ```
 */
export interface ModelPreprocessing {
  /** Class names by output index. */
  classes: string[];
  /** [height, width, channels] the model takes. */
  inputShape: [number, number, number];
  /** The evaluation pipeline as a transform spec (`compose` of resize, centerCrop, normalize). */
  transform: TransformSpec;
}

/**
 * What a model is and where its starting weights came from: a run's `config.json` `weights`.
 *
 * @example
 * ```ts
 * import type { WeightsOrigin } from "./metadata.ts";
 * const finetuned: WeightsOrigin = {
 *   architecture: "resnet18",
 *   source: "weights/resnet18.pth",
 *   format: "pytorch",
 *   torchvision: "resnet18",
 * };
 * const fresh: WeightsOrigin = { architecture: "compact-cnn", source: "none", format: "none" };
 * ```
 */
export interface WeightsOrigin {
  /** The architecture built: the zoo's registry name (`resnet18`), or a TF.js model's name. */
  architecture: string;
  /**
   * Where the starting weights came from, as `--pretrained` named them: a `.pth`/`.safetensors`
   * path or URL, `torchvision:<name>`, a TF.js model (folder, model.json, URL, run directory);
   * `none` for a random (seeded) initialisation.
   */
  source: string;
  /** `pytorch` (a state dict), `tfjs` (a LayersModel) or `none` (random initialisation). */
  format: "pytorch" | "tfjs" | "none";
  /** torchvision's name of the architecture (`mobilenet_v2`) when the weights are in its layout. */
  torchvision?: string;
}

/**
 * A model's origin as flat string metadata (`architecture`, `weights`, `weights_format`, and
 * `torchvision` when known): ONNX `metadata_props` and TF.js `userDefinedMetadata` both carry it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { originMetadata } from "./metadata.ts";
 * const metadata = originMetadata({ architecture: "resnet18", source: "r18.pth", format: "pytorch" });
 * assert.deepEqual(metadata, { architecture: "resnet18", weights: "r18.pth", weights_format: "pytorch" });
 * ```
 */
export function originMetadata(origin: WeightsOrigin): Record<string, string> {
  return {
    architecture: origin.architecture,
    weights: origin.source,
    weights_format: origin.format,
    ...(origin.torchvision === undefined ? {} : { torchvision: origin.torchvision }),
  };
}

/**
 * Reads {@linkcode originMetadata}'s keys back (from a TF.js model's `userDefinedMetadata`, say);
 * undefined when they are not there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { originFromMetadata, originMetadata } from "./metadata.ts";
 * const origin = { architecture: "lenet", source: "lenet.pth", format: "pytorch" } as const;
 * assert.deepEqual(originFromMetadata(originMetadata(origin)), origin);
 * assert.equal(originFromMetadata({}), undefined);
 * ```
 */
export function originFromMetadata(metadata: unknown): WeightsOrigin | undefined {
  const record = (metadata ?? {}) as Record<string, unknown>;
  const { architecture, weights, weights_format: format, torchvision } = record;
  if (typeof architecture !== "string" || typeof weights !== "string") return undefined;
  if (format !== "pytorch" && format !== "tfjs" && format !== "none") return undefined;
  return {
    architecture,
    source: weights,
    format,
    ...(typeof torchvision === "string" ? { torchvision } : {}),
  };
}

/** The specs of a pipeline, `compose`s flattened. */
function steps(spec: TransformSpec): TransformSpec[] {
  if (spec.name !== "compose") return [spec];
  return ((spec.options.transforms ?? []) as TransformSpec[]).flatMap(steps);
}

/**
 * `metadata_props` for an ONNX export: `classes` (JSON array), `input_shape` (JSON [C, H, W], the
 * NCHW input without its batch), `input_layout` ("NCHW"), `mean` and `std` (JSON arrays on the
 * 0–1 scale: the input is `(pixel / 255 − mean) / std`), `resize` and `center_crop` when the
 * pipeline has them (torchvision's sizes), `normalization` in words, and `preprocessing` (the
 * whole spec as JSON, as `preprocessing.json` holds it); with `origin`, also
 * {@linkcode originMetadata}'s `architecture` and `weights`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { onnxMetadata } from "./metadata.ts";
 * const metadata = onnxMetadata({
 *   classes: ["ants", "bees"],
 *   inputShape: [224, 224, 3],
 *   transform: { name: "compose", options: { transforms: [
 *     { name: "resize", options: { size: 256 } },
 *     { name: "centerCrop", options: { size: 224 } },
 *     { name: "normalize", options: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } },
 *   ] } },
 * });
 * assert.equal(metadata.input_shape, "[3,224,224]");
 * assert.deepEqual(JSON.parse(metadata.mean), [0.485, 0.456, 0.406]);
 * assert.equal(metadata.center_crop, "224");
 * ```
 */
export function onnxMetadata(
  preprocessing: ModelPreprocessing,
  origin?: WeightsOrigin,
): Record<string, string> {
  const [height, width, channels] = preprocessing.inputShape;
  const pipeline = steps(preprocessing.transform);
  const normalize = pipeline.find((spec) => spec.name === "normalize");
  const toFloat = pipeline.some((spec) => spec.name === "toFloat");
  const metadata: Record<string, string> = {
    classes: JSON.stringify(preprocessing.classes),
    input_shape: JSON.stringify([channels, height, width]),
    input_layout: "NCHW",
  };
  if (normalize !== undefined) {
    metadata.mean = JSON.stringify(normalize.options.mean);
    metadata.std = JSON.stringify(normalize.options.std);
    metadata.normalization = "input = (pixel / 255 - mean) / std per channel, RGB order";
  } else if (toFloat) {
    metadata.normalization = "input = pixel / 255";
  } else {
    metadata.normalization = "input = pixel (0-255, not rescaled)";
  }
  const resize = pipeline.find((spec) => spec.name === "resize");
  if (resize !== undefined) metadata.resize = JSON.stringify(resize.options.size);
  const crop = pipeline.find((spec) => spec.name === "centerCrop");
  if (crop !== undefined) metadata.center_crop = JSON.stringify(crop.options.size);
  metadata.preprocessing = JSON.stringify(preprocessing);
  return origin === undefined ? metadata : { ...metadata, ...originMetadata(origin) };
}
