/**
 * Copies a PyTorch state dict into a TF.js LayersModel: by module name when the model's layers
 * are named like the PyTorch modules (the zoo's torchvision architectures), else by order (the
 * seeds' own `nn.Module`s, whose layers are plain convolutions and linears). Layouts are
 * converted on the way: convolutions OIHW → HWIO, depthwise (C,1,kh,kw) → (kh,kw,C,1), linears
 * transposed, and the first linear after a flatten has its inputs permuted from PyTorch's CHW
 * order to our HWC order.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import type { StateDict, TorchTensor } from "./checkpoint/mod.ts";
import { flattenedFrom, permute, TORCH_PARAMS, weightName } from "./_layout.ts";

/** A state dict that does not fit the model: the message names the parameter. */
export class StateDictError extends Error {
  /** Always `StateDictError`. */
  override name = "StateDictError";
}

/** Options for {@linkcode loadStateDict}. */
export interface LoadStateDictOptions {
  /** Names the weights' file in error messages. Default: `state dict`. */
  source?: string;
  /**
   * `names`: torch key `P.weight` goes to the layer named `P`; `order`: the n-th PyTorch module
   * with parameters goes to the n-th layer with weights; `auto` (default): names when every
   * module of the state dict names a layer, else order.
   */
  mapping?: "auto" | "names" | "order";
  /**
   * Module prefixes whose tensors are not loaded, and layers under them keep their own weights
   * (a new classifier: `["fc"]`). Default: none.
   */
  exclude?: readonly string[];
}

/** What {@linkcode loadStateDict} did. */
export interface LoadStateDictResult {
  /** How modules were matched to layers. */
  mapping: "names" | "order";
  /** The layers that received weights. */
  loaded: number;
  /** Tensors read but not needed by the model (BatchNorm's `num_batches_tracked`). */
  ignored: string[];
}

/** Buffers PyTorch keeps that have no TF.js counterpart. */
const IGNORED_SUFFIXES = ["num_batches_tracked"];

interface Module {
  prefix: string;
  tensors: Map<string, TorchTensor>; // by parameter name: weight, bias, running_mean…
}

/** Groups `a.b.weight`, `a.b.bias` into module `a.b`, keeping the state dict's order. */
function modulesOf(stateDict: StateDict, exclude: readonly string[]): {
  modules: Module[];
  ignored: string[];
} {
  const byPrefix = new Map<string, Module>();
  const ignored: string[] = [];
  for (const [key, tensor] of stateDict) {
    const dot = key.lastIndexOf(".");
    const prefix = dot < 0 ? "" : key.slice(0, dot);
    const param = key.slice(dot + 1);
    if (IGNORED_SUFFIXES.includes(param)) {
      ignored.push(key);
      continue;
    }
    if (exclude.some((p) => prefix === p || prefix.startsWith(`${p}.`))) continue;
    let module = byPrefix.get(prefix);
    if (module === undefined) byPrefix.set(prefix, module = { prefix, tensors: new Map() });
    module.tensors.set(param, tensor);
  }
  return { modules: [...byPrefix.values()], ignored };
}

/** The layers that hold weights, in model order. */
function weightedLayers(model: tfl.LayersModel): tfl.layers.Layer[] {
  return model.layers.filter((layer) => layer.weights.length > 0);
}

/** The TF.js value for one torch tensor, converted to the layer's layout. */
function convert(
  layer: tfl.layers.Layer,
  weight: string,
  tensor: TorchTensor,
  key: string,
  source: string,
): Float32Array {
  const { shape, data } = tensor;
  const kind = layer.getClassName();
  if (kind === "Conv2D" && weight === "kernel" && shape.length === 4) {
    return permute(data, shape, [2, 3, 1, 0]); // OIHW → HWIO
  }
  if (kind === "DepthwiseConv2D" && weight === "depthwise_kernel" && shape.length === 4) {
    if (shape[1] !== 1) {
      throw new StateDictError(
        `${source}: ${key} has shape [${shape}]; a depthwise convolution needs [C, 1, kh, kw]`,
      );
    }
    return permute(data, shape, [2, 3, 0, 1]); // (C,1,kh,kw) → (kh,kw,C,1)
  }
  if (kind === "Dense" && weight === "kernel" && shape.length === 2) {
    const [out, inFeatures] = shape;
    const flat = flattenedFrom(layer);
    if (flat !== null && flat[0] * flat[1] * flat[2] === inFeatures) {
      // torch flattens (C,H,W); we flatten (H,W,C): reorder the columns, then transpose.
      const [h, w, c] = flat;
      const reordered = permute(data, [out, c, h, w], [0, 2, 3, 1]);
      return permute(reordered, [out, inFeatures], [1, 0]);
    }
    return permute(data, shape, [1, 0]);
  }
  return data;
}

/** Values for every weight of `layer` from `module`, checked against the layer's shapes. */
function valuesFor(layer: tfl.layers.Layer, module: Module, source: string): tf.Tensor[] {
  const names = TORCH_PARAMS[layer.getClassName()];
  if (names === undefined) {
    throw new StateDictError(
      `${source}: layer '${layer.name}' (${layer.getClassName()}) has weights this loader ` +
        `cannot fill from PyTorch tensors`,
    );
  }
  const used = new Set<string>();
  const values: tf.Tensor[] = [];
  try {
    for (const variable of layer.weights) values.push(valueFor(variable));
  } catch (error) {
    tf.dispose(values);
    throw error;
  }
  function valueFor(variable: tfl.LayerVariable): tf.Tensor {
    const param = names[weightName(variable)];
    const key = `${module.prefix}.${param}`;
    const tensor = param === undefined ? undefined : module.tensors.get(param);
    if (tensor === undefined) {
      throw new StateDictError(
        `${source}: missing parameter ${key} for layer '${layer.name}' (${layer.getClassName()})`,
      );
    }
    used.add(param);
    const data = convert(layer, weightName(variable), tensor, key, source);
    const expected = variable.shape as number[];
    const size = expected.reduce((a, b) => a * b, 1);
    const wanted = torchShape(layer, weightName(variable), expected);
    if (data.length !== size || wanted.join() !== tensor.shape.join()) {
      const layout = tensor.shape.length === 4 || wanted.length === 2
        ? LAYOUT[layer.getClassName()] ?? ""
        : "";
      throw new StateDictError(
        `${source}: ${key} has shape [${tensor.shape}], layer '${layer.name}' needs ` +
          `[${wanted}]${layout}`,
      );
    }
    return tf.tensor(data, expected);
  }
  for (const param of module.tensors.keys()) {
    if (!used.has(param)) {
      tf.dispose(values);
      throw new StateDictError(
        `${source}: unexpected parameter ${module.prefix}.${param}: layer '${layer.name}' ` +
          `(${layer.getClassName()}) has no such weight`,
      );
    }
  }
  return values;
}

/** The torch shape a TF.js weight corresponds to. */
function torchShape(layer: tfl.layers.Layer, weight: string, shape: readonly number[]): number[] {
  const kind = layer.getClassName();
  if (kind === "Conv2D" && weight === "kernel") return [shape[3], shape[2], shape[0], shape[1]];
  if (kind === "DepthwiseConv2D" && weight === "depthwise_kernel") {
    return [shape[2] * shape[3], 1, shape[0], shape[1]];
  }
  if (kind === "Dense" && weight === "kernel") return [shape[1], shape[0]];
  return [...shape];
}

const LAYOUT: Record<string, string> = {
  Conv2D: " (out, in, kh, kw)",
  DepthwiseConv2D: " (channels, 1, kh, kw)",
  Dense: " (out, in)",
};

function pairByNames(
  model: tfl.LayersModel,
  modules: Module[],
  exclude: readonly string[],
  source: string,
): [tfl.layers.Layer, Module][] {
  const byName = new Map(model.layers.map((layer) => [layer.name, layer]));
  const pairs: [tfl.layers.Layer, Module][] = [];
  const seen = new Set<string>();
  for (const module of modules) {
    const layer = byName.get(module.prefix);
    if (layer === undefined || layer.weights.length === 0) {
      const first = module.tensors.keys().next().value;
      throw new StateDictError(
        `${source}: unexpected parameter ${module.prefix}.${first}: the model has no layer ` +
          `'${module.prefix}' with weights`,
      );
    }
    pairs.push([layer, module]);
    seen.add(layer.name);
  }
  const excluded = (name: string) => exclude.some((p) => name === p || name.startsWith(`${p}.`));
  const missing = weightedLayers(model).find((layer) =>
    !seen.has(layer.name) && !excluded(layer.name)
  );
  if (missing !== undefined) {
    const param = Object.values(TORCH_PARAMS[missing.getClassName()] ?? { weight: "weight" })[0];
    throw new StateDictError(
      `${source}: missing parameter ${missing.name}.${param} for layer '${missing.name}' ` +
        `(${missing.getClassName()})`,
    );
  }
  return pairs;
}

function pairByOrder(
  model: tfl.LayersModel,
  modules: Module[],
  source: string,
): [tfl.layers.Layer, Module][] {
  const layers = weightedLayers(model);
  if (layers.length !== modules.length) {
    throw new StateDictError(
      `${source}: ${modules.length} PyTorch modules with parameters ` +
        `(${modules.map((m) => m.prefix).join(", ")}) for ${layers.length} layers with weights ` +
        `(${layers.map((l) => l.name).join(", ")}); the architectures differ`,
    );
  }
  return layers.map((layer, i) => [layer, modules[i]]);
}

/**
 * Loads `stateDict` (from {@linkcode readStateDict}) into `model`'s weights. Every weight of the
 * model is filled, or nothing changes: a missing, extra or wrongly shaped tensor throws a
 * {@linkcode StateDictError} naming the parameter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { loadStateDict } from "./state_dict.ts";
 * await useBackend("cpu");
 * // nn.Linear(2, 3) named "fc": weight (out, in) = [[1, 2], [3, 4], [5, 6]], bias [0, 0, 1].
 * const model = tfl.sequential({
 *   layers: [tfl.layers.dense({ inputShape: [2], units: 3, name: "fc" })],
 * });
 * const stateDict = new Map([
 *   ["fc.weight", { dtype: "float32", shape: [3, 2], data: new Float32Array([1, 2, 3, 4, 5, 6]) }],
 *   ["fc.bias", { dtype: "float32", shape: [3], data: new Float32Array([0, 0, 1]) }],
 * ]);
 * loadStateDict(model, stateDict);
 * assert.deepEqual(Array.from(model.layers[0].getWeights()[0].dataSync()), [1, 3, 5, 2, 4, 6]);
 * model.dispose();
 * ```
 */
export function loadStateDict(
  model: tfl.LayersModel,
  stateDict: StateDict,
  options: LoadStateDictOptions = {},
): LoadStateDictResult {
  const source = options.source ?? "state dict";
  const exclude = options.exclude ?? [];
  const { modules, ignored } = modulesOf(stateDict, exclude);
  if (modules.length === 0) {
    throw new StateDictError(`${source}: holds no parameters to load`);
  }
  const names = new Set(model.layers.map((layer) => layer.name));
  const mapping = options.mapping === "names" || options.mapping === "order"
    ? options.mapping
    : modules.every((module) => names.has(module.prefix))
    ? "names"
    : "order";
  const pairs = mapping === "names"
    ? pairByNames(model, modules, exclude, source)
    : pairByOrder(model, modules, source);
  // Convert and check everything first, then assign: a bad tensor leaves the model untouched.
  const updates: [tfl.layers.Layer, tf.Tensor[]][] = [];
  try {
    for (const [layer, module] of pairs) updates.push([layer, valuesFor(layer, module, source)]);
    for (const [layer, values] of updates) layer.setWeights(values);
  } finally {
    for (const [, values] of updates) tf.dispose(values);
  }
  return { mapping, loaded: pairs.length, ignored };
}
