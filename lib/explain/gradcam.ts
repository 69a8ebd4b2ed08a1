/**
 * Grad-CAM and feature maps for any LayersModel: the target layer's activation is reached by
 * wrapping that layer's `call` for one forward pass, so skip connections, nested (transfer)
 * models and loaded TF.js or torchvision graphs all work without splitting the model.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";

/** Raised when a layer cannot be found or is not spatial, or the image does not fit the model. */
export class ExplainError extends Error {
  /** Always `ExplainError`. */
  override name = "ExplainError";
}

/** A layer of a model, possibly inside a nested model, with the path of names leading to it. */
export interface LayerRef {
  /** The layer itself. */
  layer: LayerLike;
  /** Names from the outer model down, joined by `/` (e.g. `mobilenetv2/block_16_project`). */
  path: string;
}

/** The part of a tfjs-layers Layer this module uses. */
export interface LayerLike {
  /** The layer's name. */
  name: string;
  /** Output shape with a null batch dimension. */
  outputShape: (number | null)[] | (number | null)[][];
  /** The forward computation. */
  call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[];
  /** Nested models expose their layers. */
  layers?: LayerLike[];
  /** Weights, for convolution kernels. */
  getWeights?(): tf.Tensor[];
  /** The layer's class name (`Conv2D`, `InputLayer`…). */
  getClassName(): string;
}

/**
 * Every layer of `model` in graph order, nested models expanded (the nested model itself is
 * left out: its layers stand for it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { listLayers } from "./gradcam.ts";
 * await useBackend("wasm");
 * const inner = tfl.sequential({ name: "base", layers: [
 *   tfl.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 3, name: "c" }),
 * ] });
 * const model = tfl.sequential({ layers: [inner, tfl.layers.flatten({ name: "f" })] });
 * assert.deepEqual(listLayers(model).map((l) => l.path), ["base/c", "f"]);
 * model.dispose();
 * ```
 */
export function listLayers(model: LayersModel): LayerRef[] {
  const out: LayerRef[] = [];
  const walk = (layers: LayerLike[], prefix: string) => {
    for (const layer of layers) {
      if (layer.getClassName() === "InputLayer") continue;
      if (Array.isArray(layer.layers)) walk(layer.layers, `${prefix}${layer.name}/`);
      else out.push({ layer, path: `${prefix}${layer.name}` });
    }
  };
  walk(model.layers as unknown as LayerLike[], "");
  return out;
}

function spatialShape(layer: LayerLike): [number, number, number] | null {
  const shape = layer.outputShape;
  if (!Array.isArray(shape) || Array.isArray(shape[0]) || shape.length !== 4) return null;
  const [, h, w, c] = shape as (number | null)[];
  return h === null || w === null || c === null ? null : [h, w, c];
}

/**
 * The layer Grad-CAM looks at: `name` (a layer's name or its `/` path) when given, else the last
 * layer, pooling layers aside, with a height × width × channels output larger than 1 × 1 (the
 * last one of any size when there is none).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { findLayer } from "./gradcam.ts";
 * await useBackend("wasm");
 * const model = tfl.sequential({ layers: [
 *   tfl.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, name: "conv" }),
 *   tfl.layers.maxPooling2d({ poolSize: 2, name: "max" }),
 *   tfl.layers.globalAveragePooling2d({ name: "pool" }),
 *   tfl.layers.dense({ units: 2, name: "fc" }),
 * ] });
 * assert.equal(findLayer(model).path, "conv");
 * model.dispose();
 * ```
 */
export function findLayer(model: LayersModel, name?: string): LayerRef {
  const layers = listLayers(model);
  if (name !== undefined) {
    const found = layers.find((l) => l.path === name || l.layer.name === name);
    if (found === undefined) {
      throw new ExplainError(
        `${model.name}: no layer '${name}'; spatial layers: ${
          layers.filter((l) => spatialShape(l.layer) !== null).map((l) => l.path).join(", ")
        }`,
      );
    }
    return found;
  }
  const spatial = layers.filter((l) => spatialShape(l.layer) !== null);
  const larger = spatial.filter((l) => {
    const [h, w] = spatialShape(l.layer)!;
    return h * w > 1;
  });
  // A pooling layer only coarsens the map the layer before it gives (compact-cnn's last pool is
  // 4 × 4 where its last ReLU is 8 × 8), so the layer before it is taken.
  const unpooled = larger.filter((l) => !/Pooling/.test(l.layer.getClassName()));
  const found = unpooled.at(-1) ?? larger.at(-1) ?? spatial.at(-1);
  if (found === undefined) {
    throw new ExplainError(`${model.name}: no layer with a height × width × channels output`);
  }
  return found;
}

/**
 * Runs `body` with `layer.call` wrapped by `wrap`, restoring it afterwards.
 */
function withWrappedCall<T>(
  layer: LayerLike,
  wrap: (output: tf.Tensor) => tf.Tensor,
  body: () => T,
): T {
  const own = Object.prototype.hasOwnProperty.call(layer, "call");
  const original = layer.call;
  layer.call = (inputs, kwargs) => {
    const output = original.call(layer, inputs, kwargs);
    if (Array.isArray(output)) throw new ExplainError(`${layer.name}: has several outputs`);
    return wrap(output);
  };
  try {
    return body();
  } finally {
    if (own) layer.call = original;
    else delete (layer as { call?: unknown }).call;
  }
}

function batchOf(model: LayersModel, image: tf.Tensor): tf.Tensor4D {
  const input = model.inputs[0].shape;
  const batched = image.rank === 3 ? tf.expandDims(image, 0) : image;
  if (batched.rank !== 4 || batched.shape[0] !== 1) {
    throw new ExplainError(
      `${model.name}: expected one height × width × channels image, got shape [${image.shape}]`,
    );
  }
  for (let axis = 1; axis < 4; axis++) {
    if (input[axis] !== null && input[axis] !== batched.shape[axis]) {
      throw new ExplainError(
        `${model.name}: the image's shape [${image.shape}] does not fit the input [${
          input.slice(1)
        }]`,
      );
    }
  }
  return batched as tf.Tensor4D;
}

/**
 * One inference-mode forward and backward pass of `images`: the activation of `ref`'s layer, the
 * gradient of the score `target` picks from the logits with respect to it, and the logits, all
 * kept for the caller to dispose. A zero added to the layer's output is what the gradient is
 * taken against, so the model's own weights stay out of it.
 */
function camPass(
  model: LayersModel,
  ref: LayerRef,
  shape: [number, number, number],
  images: tf.Tensor4D,
  target: (logits: tf.Tensor) => tf.Tensor,
): { activation: tf.Tensor; gradient: tf.Tensor; scores: tf.Tensor } {
  let activation: tf.Tensor | undefined;
  let scores: tf.Tensor | undefined;
  const delta = tf.zeros([images.shape[0], ...shape]);
  try {
    const gradient = withWrappedCall(ref.layer, (output) => {
      activation?.dispose();
      activation = tf.keep(tf.clone(output));
      return tf.add(output, delta);
    }, () =>
      tf.grad((d: tf.Tensor) => {
        void d;
        const out = model.apply(images, { training: false }) as tf.Tensor;
        if (out.rank !== 2) {
          throw new ExplainError(
            `${model.name}: output shape [${out.shape}] is not [${images.shape[0]}, classes]`,
          );
        }
        scores?.dispose();
        scores = tf.keep(tf.clone(out));
        return target(out);
      })(delta));
    return { activation: activation!, gradient, scores: scores! };
  } catch (error) {
    activation?.dispose();
    scores?.dispose();
    throw error;
  } finally {
    delta.dispose();
  }
}

/** An activation as height × width × channels values. */
export interface FeatureMaps {
  /** The layer's `/` path. */
  layer: string;
  /** Rows. */
  height: number;
  /** Columns. */
  width: number;
  /** Channels. */
  channels: number;
  /** Height × width × channels values, channels last. */
  data: Float32Array;
}

/**
 * The activation of `layer` (a name or `/` path) for one preprocessed image (height × width ×
 * channels, or a batch of one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { featureMaps } from "./gradcam.ts";
 * await useBackend("wasm");
 * const model = tfl.sequential({ layers: [
 *   tfl.layers.conv2d({ inputShape: [4, 4, 1], filters: 3, kernelSize: 1, name: "conv" }),
 *   tfl.layers.flatten(),
 * ] });
 * const image = tf.ones([4, 4, 1]);
 * const maps = await featureMaps(model, image, "conv");
 * assert.deepEqual([maps.height, maps.width, maps.channels], [4, 4, 3]);
 * image.dispose();
 * model.dispose();
 * ```
 */
export async function featureMaps(
  model: LayersModel,
  image: tf.Tensor,
  layer: string,
): Promise<FeatureMaps> {
  const ref = findLayer(model, layer);
  let captured: tf.Tensor | undefined;
  const x = batchOf(model, image);
  try {
    withWrappedCall(ref.layer, (output) => {
      captured?.dispose();
      captured = tf.keep(tf.clone(output));
      return output;
    }, () => tf.tidy(() => model.apply(x, { training: false }) as tf.Tensor));
  } finally {
    if (x !== image) x.dispose();
  }
  if (captured === undefined) throw new ExplainError(`${ref.path}: not reached by the model`);
  const activation = captured;
  try {
    if (activation.rank !== 4) {
      throw new ExplainError(`${ref.path}: output has shape [${activation.shape}], not spatial`);
    }
    const [, height, width, channels] = activation.shape;
    const data = await activation.data() as Float32Array;
    return { layer: ref.path, height, width, channels, data };
  } finally {
    activation.dispose();
  }
}

/** Options for {@linkcode gradCam}. */
export interface GradCamOptions {
  /** The class whose score is explained. Default: the predicted (highest-scoring) class. */
  classIndex?: number;
  /** The layer to look at, a name or `/` path. Default: {@linkcode findLayer}'s choice. */
  layer?: string;
}

/** A Grad-CAM heatmap with what it was computed from. */
export interface GradCamResult {
  /** The layer looked at (`/` path). */
  layer: string;
  /** The class explained. */
  classIndex: number;
  /** The model's outputs for the image (logits, or whatever its last layer gives). */
  scores: Float32Array;
  /** The heatmap at the image's size, rows × columns, in [0, 1]. */
  heatmap: Float32Array;
  /** Image rows. */
  height: number;
  /** Image columns. */
  width: number;
  /** The heatmap at the layer's resolution before upsampling, ReLU applied, unnormalized. */
  cam: FeatureMaps;
}

/**
 * Grad-CAM (Selvaraju et al.) for one preprocessed image: the channels of the target layer's
 * activation A weighted by the spatial mean of d score / d A, summed, ReLU'd, upsampled
 * bilinearly (half-pixel centres, as PyTorch's `align_corners=False`) to the image and scaled to
 * [0, 1] by its maximum.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { gradCam } from "./gradcam.ts";
 * await useBackend("wasm");
 * const model = tfl.sequential({ layers: [
 *   tfl.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 1, name: "conv" }),
 *   tfl.layers.globalAveragePooling2d({}),
 *   tfl.layers.dense({ units: 2 }),
 * ] });
 * const image = tf.randomUniform([4, 4, 1]);
 * const result = await gradCam(model, image, { classIndex: 1 });
 * assert.equal(result.heatmap.length, 16);
 * assert.ok(result.heatmap.every((v) => v >= 0 && v <= 1));
 * image.dispose();
 * model.dispose();
 * ```
 */
export async function gradCam(
  model: LayersModel,
  image: tf.Tensor,
  options: GradCamOptions = {},
): Promise<GradCamResult> {
  const ref = findLayer(model, options.layer);
  const shape = spatialShape(ref.layer);
  if (shape === null) {
    throw new ExplainError(`${ref.path}: output shape [${ref.layer.outputShape}] is not spatial`);
  }
  const x = batchOf(model, image);
  let classIndex = options.classIndex;
  let pass: ReturnType<typeof camPass>;
  try {
    pass = camPass(model, ref, shape, x, (out) => {
      const classes = out.shape[1]!;
      classIndex ??= tf.argMax(out, 1).dataSync()[0];
      if (!Number.isInteger(classIndex) || classIndex < 0 || classIndex >= classes) {
        throw new ExplainError(`${model.name}: class ${classIndex} is not in 0..${classes - 1}`);
      }
      return tf.sum(tf.slice(out, [0, classIndex], [1, 1]));
    });
  } finally {
    if (x !== image) x.dispose();
  }
  const { activation, gradient, scores } = pass;
  const [height, width] = [x.shape[1], x.shape[2]];
  const [cam, heatmap] = tf.tidy(() => {
    const weights = tf.mean(gradient, [1, 2], true); // [1, 1, 1, C]
    const cam = tf.relu(tf.sum(tf.mul(activation, weights), 3, true)) as tf.Tensor4D;
    const up = tf.image.resizeBilinear(cam, [height, width], false, true);
    const max = tf.max(up);
    const normalized = tf.where(tf.greater(max, 0), tf.div(up, max), tf.zerosLike(up));
    return [tf.reshape(cam, [shape[0], shape[1]]), tf.reshape(normalized, [height, width])];
  });
  gradient.dispose();
  activation.dispose();
  try {
    return {
      layer: ref.path,
      classIndex: classIndex!,
      scores: await scores.data() as Float32Array,
      heatmap: await heatmap.data() as Float32Array,
      height,
      width,
      cam: {
        layer: ref.path,
        height: shape[0],
        width: shape[1],
        channels: 1,
        data: await cam.data() as Float32Array,
      },
    };
  } finally {
    scores.dispose();
    cam.dispose();
    heatmap.dispose();
  }
}

/** Options for {@linkcode gradCamBatch}. */
export interface GradCamBatchOptions {
  /** The class explained for each image. Default: each image's predicted class. */
  classIndices?: readonly number[];
  /** The layer to look at, a name or `/` path. Default: {@linkcode findLayer}'s choice. */
  layer?: string;
}

/** Grad-CAM heatmaps of a batch, with the layer and classes they explain. */
export interface GradCamBatchResult {
  /** The layer looked at (`/` path). */
  layer: string;
  /** The class explained, per image. */
  classIndices: number[];
  /** Per image: the heatmap at the image's size, rows × columns, in [0, 1]. */
  heatmaps: Float32Array[];
}

/**
 * Grad-CAM of a whole batch (`[n, height, width, channels]`, preprocessed) in one forward and
 * one backward pass: each image's heatmap is that of {@linkcode gradCam} (inference mode keeps
 * the images independent), at a fraction of n separate passes' cost. No tensor outlives it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { gradCamBatch } from "./gradcam.ts";
 * await useBackend("wasm");
 * const model = tfl.sequential({ layers: [
 *   tfl.layers.conv2d({ inputShape: [4, 4, 1], filters: 2, kernelSize: 1, name: "conv" }),
 *   tfl.layers.globalAveragePooling2d({}),
 *   tfl.layers.dense({ units: 2 }),
 * ] });
 * const images = tf.randomUniform([3, 4, 4, 1]) as tf.Tensor4D;
 * const { heatmaps, layer } = await gradCamBatch(model, images, { classIndices: [0, 1, 1] });
 * assert.equal(layer, "conv");
 * assert.equal(heatmaps.length, 3);
 * assert.ok(heatmaps.every((h) => h.length === 16 && h.every((v) => v >= 0 && v <= 1)));
 * images.dispose();
 * model.dispose();
 * ```
 */
export async function gradCamBatch(
  model: LayersModel,
  images: tf.Tensor4D,
  options: GradCamBatchOptions = {},
): Promise<GradCamBatchResult> {
  const ref = findLayer(model, options.layer);
  const shape = spatialShape(ref.layer);
  if (shape === null) {
    throw new ExplainError(`${ref.path}: output shape [${ref.layer.outputShape}] is not spatial`);
  }
  const input = model.inputs[0].shape;
  const n = images.shape[0];
  for (let axis = 1; axis < 4; axis++) {
    if (images.rank !== 4 || (input[axis] !== null && input[axis] !== images.shape[axis])) {
      throw new ExplainError(
        `${model.name}: the batch's shape [${images.shape}] does not fit the input [${
          input.slice(1)
        }]`,
      );
    }
  }
  if (options.classIndices !== undefined && options.classIndices.length !== n) {
    throw new ExplainError(`${options.classIndices.length} classes for a batch of ${n}`);
  }
  let classIndices = options.classIndices ? [...options.classIndices] : undefined;
  const { activation, gradient, scores } = camPass(model, ref, shape, images, (out) => {
    const classes = out.shape[1]!;
    classIndices ??= [...tf.argMax(out, 1).dataSync()];
    if (classIndices.some((c) => !Number.isInteger(c) || c < 0 || c >= classes)) {
      throw new ExplainError(
        `${model.name}: classes [${classIndices}] not all in 0..${classes - 1}`,
      );
    }
    const pick = tf.oneHot(tf.tensor1d(classIndices, "int32"), classes);
    return tf.sum(tf.mul(out, pick));
  });
  scores.dispose();
  const [height, width] = [images.shape[1], images.shape[2]];
  const heatmap = tf.tidy(() => {
    const weights = tf.mean(gradient, [1, 2], true); // [n, 1, 1, C]
    const cam = tf.relu(tf.sum(tf.mul(activation, weights), 3, true)) as tf.Tensor4D;
    const up = tf.image.resizeBilinear(cam, [height, width], false, true);
    const max = tf.max(up, [1, 2, 3], true);
    return tf.where(tf.greater(max, 0), tf.div(up, tf.maximum(max, 1e-12)), tf.zerosLike(up));
  });
  gradient.dispose();
  activation.dispose();
  try {
    const data = await heatmap.data() as Float32Array;
    const size = height * width;
    return {
      layer: ref.path,
      classIndices: classIndices!,
      heatmaps: Array.from({ length: n }, (_, i) => data.slice(i * size, (i + 1) * size)),
    };
  } finally {
    heatmap.dispose();
  }
}
