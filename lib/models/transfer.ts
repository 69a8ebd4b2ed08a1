/**
 * Model surgery for transfer learning: freeze a backbone (all but the head, or up to a named
 * layer) and replace the classifier for a new number of classes.
 *
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";

/** Options for {@linkcode freeze}. */
export interface FreezeOptions {
  /** Freeze layers up to and including this one; default: every layer but the last. */
  upTo?: string;
}

/**
 * Makes layers untrainable: their weights stop changing, and frozen batch-norm layers run in
 * inference mode (TF2 Keras semantics), so pretrained statistics are kept. Returns the number of
 * layers frozen.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { createModel } from "./registry.ts";
 * import "./lenet.ts";
 * import { freeze } from "./transfer.ts";
 * await useBackend("cpu");
 * const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10 });
 * freeze(model);
 * assert.equal(model.trainableWeights.length, 2); // the last dense layer's kernel and bias
 * model.dispose();
 * ```
 */
export function freeze(model: tfl.LayersModel, options: FreezeOptions = {}): number {
  const layers = model.layers;
  let last = layers.length - 2;
  if (options.upTo !== undefined) {
    last = layers.findIndex((layer) => layer.name === options.upTo);
    if (last < 0) {
      throw new RangeError(
        `no layer named '${options.upTo}'; layers: ${layers.map((l) => l.name).join(", ")}`,
      );
    }
  }
  for (let i = 0; i <= last; i++) {
    layers[i].trainable = false;
    inferenceWhenFrozen(layers[i]);
  }
  return last + 1;
}

const patched = new WeakSet<object>();

/**
 * tfjs-layers' BatchNormalization ignores `trainable`: in training mode a frozen one would still
 * normalise with batch statistics and overwrite its moving averages. Like TF2 Keras, a frozen
 * batch-norm layer runs in inference mode (its pretrained statistics stay as they are).
 */
function inferenceWhenFrozen(layer: tfl.layers.Layer) {
  if (layer.getClassName() !== "BatchNormalization" || patched.has(layer)) return;
  patched.add(layer);
  const call = layer.call.bind(layer);
  layer.call = (inputs, kwargs) =>
    call(inputs, layer.trainable ? kwargs : { ...kwargs, training: false });
}

/**
 * Makes every layer trainable again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { createModel } from "./registry.ts";
 * import "./lenet.ts";
 * import { freeze, unfreeze } from "./transfer.ts";
 * await useBackend("cpu");
 * const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10 });
 * freeze(model);
 * unfreeze(model);
 * assert.equal(model.trainableWeights.length, 8);
 * model.dispose();
 * ```
 */
export function unfreeze(model: tfl.LayersModel): void {
  for (const layer of model.layers) layer.trainable = true;
}

/** Options for {@linkcode replaceHead}. */
export interface ReplaceHeadOptions {
  /** The layer whose output feeds the new classifier; default: the one before the last. */
  from?: string;
  /** Dropout before the new classifier. Default: 0. */
  dropout?: number;
}

/**
 * A model sharing the backbone's layers (and weights) with a new classifier for `numClasses`
 * logits. Spatial features are globally average-pooled first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { createModel } from "./registry.ts";
 * import "./lenet.ts";
 * import { replaceHead } from "./transfer.ts";
 * await useBackend("cpu");
 * const backbone = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10 });
 * const model = replaceHead(backbone, 2);
 * assert.deepEqual(model.outputs[0].shape, [null, 2]);
 * model.dispose();
 * ```
 */
export function replaceHead(
  model: tfl.LayersModel,
  numClasses: number,
  options: ReplaceHeadOptions = {},
): tfl.LayersModel {
  const layers = model.layers;
  const source = options.from === undefined
    ? layers[layers.length - 2]
    : layers.find((layer) => layer.name === options.from);
  if (source === undefined) {
    throw new RangeError(
      `no layer named '${options.from}'; layers: ${layers.map((l) => l.name).join(", ")}`,
    );
  }
  let features = source.output as tfl.SymbolicTensor;
  if (features.shape.length === 4) {
    features = tfl.layers.globalAveragePooling2d({}).apply(features) as tfl.SymbolicTensor;
  } else if (features.shape.length !== 2) {
    features = tfl.layers.flatten().apply(features) as tfl.SymbolicTensor;
  }
  if (options.dropout) {
    features = tfl.layers.dropout({ rate: options.dropout }).apply(features) as tfl.SymbolicTensor;
  }
  const logits = tfl.layers.dense({ units: numClasses, name: `head_${numClasses}` })
    .apply(features) as tfl.SymbolicTensor;
  return tfl.model({ inputs: model.inputs, outputs: logits, name: `${model.name}_transfer` });
}
