/**
 * Explanations of a classifier's decisions: Grad-CAM heatmaps, a layer's feature maps and the
 * first convolution's kernels, for any LayersModel (zoo, transfer, loaded TF.js or torchvision),
 * and their rendering as PNG images.
 *
 * Layering: nothing here imports lib/run. Grad-CAM and its pictures only need a model and
 * preprocessed pixels, so lib/explain sits below lib/run, which uses it for the training report's
 * overlays; the run-aware `explainImage` (a trained run's preprocessing and labels) lives in
 * lib/run/explain.ts and is exported from lib/run/mod.ts (and the root mod.ts, as before).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { gradCam } from "./mod.ts";
 * await useBackend("wasm");
 * const model = tfl.sequential({ layers: [
 *   tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, name: "conv" }),
 *   tfl.layers.globalAveragePooling2d({}),
 *   tfl.layers.dense({ units: 2 }),
 * ] });
 * const image = tf.randomUniform([8, 8, 3]);
 * const { heatmap, layer } = await gradCam(model, image);
 * assert.equal(layer, "conv");
 * assert.equal(heatmap.length, 64);
 * image.dispose();
 * model.dispose();
 * ```
 *
 * @module
 */
export * from "./gradcam.ts";
export * from "./render.ts";
