/**
 * The preprocessing a run stores (classes, input shape, evaluation pipeline) as an ONNX model's
 * `metadata_props`, so a consumer of the file needs nothing else.
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
 * whole spec as JSON, as `preprocessing.json` holds it).
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
export function onnxMetadata(preprocessing: ModelPreprocessing): Record<string, string> {
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
  return metadata;
}
