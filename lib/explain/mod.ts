/**
 * Explanations of a classifier's decisions: Grad-CAM heatmaps, a layer's feature maps and the
 * first convolution's kernels, for any LayersModel (zoo, transfer, loaded TF.js or torchvision),
 * and their rendering as PNG images.
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
export * from "./explain.ts";
