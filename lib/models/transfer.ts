/**
 * Model surgery for transfer learning: freeze a backbone (all but the head, or up to a named
 * layer) and replace the classifier for a new number of classes.
 *
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { withSeededMathRandom } from "../_internal/rng.ts";

/**
 * Options for {@linkcode freeze}.
 *
 * @example
 * ```ts
 * import type { FreezeOptions } from "./transfer.ts";
 * const options: FreezeOptions = { upTo: "layer3.1.bn2" }; // ResNet-18 up to its third stage
 * ```
 */
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

/**
 * Options for {@linkcode replaceHead}.
 *
 * @example
 * ```ts
 * import type { ReplaceHeadOptions } from "./transfer.ts";
 * const options: ReplaceHeadOptions = { dropout: 0.2, seed: 1 };
 * ```
 */
export interface ReplaceHeadOptions {
  /** The layer whose output feeds the new classifier; default: the one before the last. */
  from?: string;
  /** Dropout before the new classifier. Default: 0. */
  dropout?: number;
  /** Seeds the new classifier's initial weights, as `createModel`'s seed does. Default: unseeded. */
  seed?: number;
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
  // Keras-style layers draw their initial weights when applied, so the seed covers `apply`.
  const head = () =>
    tfl.layers.dense({ units: numClasses, name: `head_${numClasses}` })
      .apply(features) as tfl.SymbolicTensor;
  const logits = options.seed === undefined
    ? head()
    : withSeededMathRandom([options.seed, 0x4ead], head);
  return tfl.model({ inputs: model.inputs, outputs: logits, name: `${model.name}_transfer` });
}

/**
 * A model cut in two where everything before the cut is frozen.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { createModel } from "./registry.ts";
 * import "./lenet.ts";
 * import { freeze, type FrozenSplit, splitFrozen } from "./transfer.ts";
 * await useBackend("cpu");
 * const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10 });
 * freeze(model);
 * const split: FrozenSplit = splitFrozen(model)!;
 * assert.equal(split.features.trainableWeights.length, 0);
 * model.dispose();
 * ```
 */
export interface FrozenSplit {
  /** The frozen prefix: input → the cut (runs in inference mode). */
  features: tfl.LayersModel;
  /** The rest, from the cut's output to the logits (shares the original layers and weights). */
  head: tfl.LayersModel;
}

/** Layers that act differently in training, so they cannot sit in an inference-mode prefix. */
const TRAINING_BEHAVIOUR = new Set([
  "Dropout",
  "SpatialDropout1D",
  "SpatialDropout2D",
  "GaussianNoise",
  "GaussianDropout",
  "AlphaDropout",
]);

/**
 * Splits a (partly frozen) model at the last point before anything that trains: the frozen prefix
 * can then run outside the gradient tape, in inference mode, so training neither keeps its
 * activations nor pays for them twice. Returns null when nothing is frozen or when the layers after
 * the cut are not a simple chain (the model then trains whole, which is always correct).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { createModel } from "./registry.ts";
 * import "./lenet.ts";
 * import { freeze, splitFrozen } from "./transfer.ts";
 * await useBackend("cpu");
 * const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10 });
 * freeze(model);
 * const split = splitFrozen(model)!;
 * assert.equal(split.head.trainableWeights.length, 2);
 * assert.deepEqual(split.head.outputs[0].shape, [null, 10]);
 * model.dispose();
 * ```
 */
export function splitFrozen(model: tfl.LayersModel): FrozenSplit | null {
  const layers = model.layers;
  const first = layers.findIndex((layer) =>
    (layer.trainable && layer.trainableWeights.length > 0) ||
    TRAINING_BEHAVIOUR.has(layer.getClassName())
  );
  // The cut is the output of the layer before `first`; the input layer alone is no prefix.
  if (first <= 1) return null;
  const cached = splits.get(model);
  if (cached?.first === first) return cached.split;
  const split = buildSplit(model, first);
  splits.set(model, { first, split });
  return split;
}

const splits = new WeakMap<tfl.LayersModel, { first: number; split: FrozenSplit | null }>();

function buildSplit(model: tfl.LayersModel, first: number): FrozenSplit | null {
  const layers = model.layers;
  const cut = layers[first - 1];
  const chain = layers.slice(first);
  let previous = cut;
  for (const layer of chain) {
    // The layer's first inbound node is its place in this model's own graph (a split made
    // earlier re-applies the chain and adds later nodes).
    const node = layer.inboundNodes[0];
    if (node === undefined || node.inboundLayers.length !== 1) return null;
    if (node.inboundLayers[0] !== previous) return null;
    previous = layer;
  }
  if (previous !== layers[layers.length - 1] || model.outputs.length !== 1) return null;
  if (model.outputs[0] !== previous.output) return null;
  const features = tfl.model({ inputs: model.inputs, outputs: cut.output as tfl.SymbolicTensor });
  const input = tfl.input({ shape: (cut.outputShape as number[]).slice(1) });
  let x: tfl.SymbolicTensor = input;
  for (const layer of chain) x = layer.apply(x) as tfl.SymbolicTensor;
  return { features, head: tfl.model({ inputs: input, outputs: x }) };
}
