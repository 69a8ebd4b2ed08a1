/**
 * Explanations of a trained run's predictions: an image through the run's own evaluation
 * pipeline, its Grad-CAM heatmap and top-k labels drawn into one picture. It lives in lib/run
 * (not lib/explain) because it needs a {@linkcode TrainedModel}: lib/explain is run-independent
 * and sits below lib/run, which uses it for the report's Grad-CAM overlays.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { RawImage } from "../decode/decode.ts";
import { type Prediction, preprocessImage, topClasses, type TrainedModel } from "./trained.ts";
import {
  ExplainError,
  type FeatureMaps,
  featureMaps,
  gradCam,
  type GradCamResult,
} from "../explain/gradcam.ts";
import { displayImage, explanationImage, findNormalization } from "../explain/render.ts";

/** Options for {@linkcode explainImage}. */
export interface ExplainOptions {
  /** The class to explain, by name. Default: the predicted class. */
  className?: string;
  /** The layer to look at (name or `/` path). Default: the last spatial layer. */
  layer?: string;
  /** Labels listed under the picture. Default: 3. */
  topK?: number;
  /** Heatmap opacity. Default: 0.5. */
  alpha?: number;
  /** Smallest side of the picture in pixels. Default: 224. */
  minSide?: number;
  /** Also capture this layer's feature maps. */
  featureLayer?: string;
}

/** What {@linkcode explainImage} found and drew. */
export interface Explanation {
  /** The Grad-CAM result (heatmap at the model's input size). */
  gradCam: GradCamResult;
  /** The most probable classes, most probable first. */
  top: Prediction["top"];
  /** The image as the model saw it, heatmap blended over it, labels below. */
  picture: RawImage;
  /** The feature maps of `featureLayer`, when asked for. */
  features?: FeatureMaps;
}

/**
 * Explains `trained`'s prediction for one decoded image: the run's preprocessing, Grad-CAM of
 * the predicted class (or `className`) and a picture with the top-k labels, the explained class
 * marked with `*`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { normalize } from "../transforms/mod.ts";
 * import type { TrainedModel } from "./mod.ts";
 * import { explainImage } from "./explain.ts";
 * await useBackend("wasm");
 * const model = tfl.sequential({ layers: [
 *   tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, name: "conv" }),
 *   tfl.layers.globalAveragePooling2d({}),
 *   tfl.layers.dense({ units: 2 }),
 * ] });
 * const transform = normalize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
 * const trained = {
 *   model, transform, modelDir: ".",
 *   preprocessing: { classes: ["ant", "bee"], inputShape: [8, 8, 3], transform },
 * } as unknown as TrainedModel;
 * const image = { width: 8, height: 8, channels: 3 as const, data: new Uint8Array(192).fill(90) };
 * const { picture, top } = await explainImage(trained, image, { className: "bee", minSide: 16 });
 * assert.equal(top.length, 2);
 * assert.equal(picture.channels, 3);
 * model.dispose();
 * ```
 */
export async function explainImage(
  trained: TrainedModel,
  image: RawImage,
  options: ExplainOptions = {},
): Promise<Explanation> {
  const { classes, inputShape } = trained.preprocessing;
  let classIndex: number | undefined;
  if (options.className !== undefined) {
    classIndex = classes.indexOf(options.className);
    if (classIndex < 0) {
      throw new ExplainError(
        `${trained.modelDir}: no class '${options.className}'; classes: ${
          classes.slice(0, 20).join(", ")
        }${classes.length > 20 ? ", …" : ""}`,
      );
    }
  }
  const pixels = preprocessImage(trained, image);
  const input = tf.tensor3d(pixels, inputShape as [number, number, number]);
  let result: GradCamResult;
  let features: FeatureMaps | undefined;
  try {
    result = await gradCam(trained.model, input, { classIndex, layer: options.layer });
    if (options.featureLayer !== undefined) {
      features = await featureMaps(trained.model, input, options.featureLayer);
    }
  } finally {
    input.dispose();
  }
  const max = Math.max(...result.scores);
  const exp = Array.from(result.scores, (s) => Math.exp(s - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  const top = topClasses(exp.map((e) => e / sum), classes, options.topK ?? 3);
  const labels = top.map((t) =>
    `${t.index === result.classIndex ? "*" : " "} ${t.label} ${(t.probability * 100).toFixed(1)}%`
  );
  if (!top.some((t) => t.index === result.classIndex)) {
    labels.push(`* ${classes[result.classIndex]} (explained)`);
  }
  const photo = displayImage(
    pixels,
    inputShape,
    findNormalization(trained.preprocessing.transform),
  );
  const picture = explanationImage(photo, result.heatmap, labels, {
    alpha: options.alpha,
    minSide: options.minSide,
  });
  return { gradCam: result, top, picture, features };
}
