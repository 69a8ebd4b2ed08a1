/**
 * The way back to PyTorch: a model's weights as a state dict under its layers' names (torchvision's
 * parameter names for the zoo's torchvision architectures), in PyTorch's layouts, and written as a
 * `.safetensors` file that `safetensors.torch.load_file` and `model.load_state_dict` take.
 *
 * @module
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { writeFileAtomic } from "../io/_atomic.ts";
import type { StateDict, TorchTensor } from "./checkpoint/mod.ts";

// TF.js weight → torch parameter, per layer class (the inverse of loadStateDict's table).
const PARAMS: Record<string, Record<string, string>> = {
  Conv2D: { kernel: "weight", bias: "bias" },
  DepthwiseConv2D: { depthwise_kernel: "weight", bias: "bias" },
  Dense: { kernel: "weight", bias: "bias" },
  BatchNormalization: {
    gamma: "weight",
    beta: "bias",
    moving_mean: "running_mean",
    moving_variance: "running_var",
  },
};

/** Row-major transpose of `data` (shape `shape`) so that result axis i is input axis order[i]. */
function transpose(data: Float32Array, shape: readonly number[], order: readonly number[]) {
  const outShape = order.map((axis) => shape[axis]);
  const inStrides: number[] = [];
  for (let i = shape.length - 1, s = 1; i >= 0; s *= shape[i], i--) inStrides[i] = s;
  const out = new Float32Array(data.length);
  const index = new Array<number>(shape.length).fill(0);
  for (let to = 0; to < out.length; to++) {
    let from = 0;
    for (let axis = 0; axis < order.length; axis++) from += index[axis] * inStrides[order[axis]];
    out[to] = data[from];
    for (let axis = order.length - 1; axis >= 0; axis--) {
      if (++index[axis] < outShape[axis]) break;
      index[axis] = 0;
    }
  }
  return { data: out, shape: outShape };
}

/** [h, w, c] when the layer's input is a Flatten of a spatial map (PyTorch flattens CHW). */
function flattenedFrom(layer: tfl.layers.Layer): [number, number, number] | null {
  const inbound = layer.inboundNodes[0]?.inboundLayers[0];
  if (inbound === undefined || inbound.getClassName() !== "Flatten") return null;
  const shape = inbound.inboundNodes[0]?.inputShapes;
  const input = (Array.isArray(shape?.[0]) ? shape[0] : shape) as number[] | undefined;
  if (input === undefined || input.length !== 4 || (input[1] === 1 && input[2] === 1)) return null;
  return [input[1], input[2], input[3]];
}

function toTorch(layer: tfl.layers.Layer, weight: string, value: Float32Array, shape: number[]) {
  const kind = layer.getClassName();
  if (kind === "Conv2D" && weight === "kernel") return transpose(value, shape, [3, 2, 0, 1]);
  if (kind === "DepthwiseConv2D" && weight === "depthwise_kernel") {
    const [kh, kw, c, m] = shape;
    const t = transpose(value, shape, [2, 3, 0, 1]); // (c, m, kh, kw)
    return { data: t.data, shape: [c * m, 1, kh, kw] };
  }
  if (kind === "Dense" && weight === "kernel") {
    const t = transpose(value, shape, [1, 0]); // (out, in) with our HWC input order
    const flat = flattenedFrom(layer);
    if (flat === null) return t;
    const [h, w, c] = flat;
    const chw = transpose(t.data, [shape[1], h, w, c], [0, 3, 1, 2]);
    return { data: chw.data, shape: t.shape };
  }
  return { data: value, shape };
}

/**
 * A model's weights as a PyTorch state dict: keys `<layer name>.<weight|bias|running_mean|
 * running_var>` in layer order, values in PyTorch's layouts (OIHW convolutions, (out, in)
 * linears, CHW-ordered inputs after a flatten). The inverse of {@linkcode loadStateDict} by names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { toStateDict } from "./to_torch.ts";
 * await useBackend("cpu");
 * const model = tfl.sequential({
 *   layers: [tfl.layers.dense({ inputShape: [2], units: 3, name: "fc" })],
 * });
 * const stateDict = toStateDict(model);
 * assert.deepEqual([...stateDict.keys()], ["fc.weight", "fc.bias"]);
 * assert.deepEqual(stateDict.get("fc.weight")!.shape, [3, 2]);
 * model.dispose();
 * ```
 */
export function toStateDict(model: tfl.LayersModel): StateDict {
  const stateDict: StateDict = new Map();
  for (const layer of model.layers) {
    const params = PARAMS[layer.getClassName()];
    if (layer.weights.length === 0) continue;
    if (params === undefined) {
      throw new RangeError(
        `layer '${layer.name}' (${layer.getClassName()}) has no PyTorch counterpart here`,
      );
    }
    const values = layer.getWeights();
    layer.weights.forEach((variable, i) => {
      const weight = variable.originalName.slice(variable.originalName.lastIndexOf("/") + 1);
      const { data, shape } = toTorch(
        layer,
        weight,
        values[i].dataSync() as Float32Array,
        variable.shape as number[],
      );
      stateDict.set(`${layer.name}.${params[weight]}`, { dtype: "float32", shape, data });
    });
    // getWeights() reads the variables (no copies to dispose).
  }
  return stateDict;
}

const LITTLE_ENDIAN = new Uint8Array(new Float32Array([1]).buffer)[3] === 0x3f;

/**
 * Encodes float32 tensors as a `.safetensors` file: an 8-byte little-endian header length, a
 * JSON header of dtypes, shapes and byte ranges, then the raw little-endian data.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeSafetensors } from "./to_torch.ts";
 * import { readSafetensors } from "./checkpoint/mod.ts";
 * const tensor = { dtype: "float32", shape: [2], data: new Float32Array([1.5, -2]) };
 * const bytes = encodeSafetensors(new Map([["w", tensor]]));
 * assert.deepEqual(Array.from(readSafetensors(bytes).get("w")!.data), [1.5, -2]);
 * ```
 */
export function encodeSafetensors(
  stateDict: ReadonlyMap<string, TorchTensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: "pt", ...metadata } };
  let offset = 0;
  for (const [name, tensor] of stateDict) {
    const bytes = tensor.data.length * 4;
    header[name] = { dtype: "F32", shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8); // keeps the data 8-byte aligned
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  const view = new DataView(out.buffer);
  for (const { data } of stateDict.values()) {
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
      at += data.byteLength;
    } else {
      for (let i = 0; i < data.length; i++, at += 4) view.setFloat32(at, data[i], true);
    }
  }
  return out;
}

/**
 * Writes a model's weights as a `.safetensors` state dict (atomically): PyTorch loads it with
 * `model.load_state_dict(safetensors.torch.load_file(path))` when the architectures match (the
 * zoo's torchvision models and the seeds' models named like their modules).
 *
 * @example
 * ```ts ignore
 * import { createModel, saveSafetensors } from "../../mod.ts";
 * const model = createModel("resnet18", { inputShape: [224, 224, 3], numClasses: 1000 });
 * await saveSafetensors(model, "resnet18.safetensors");
 * ```
 */
export async function saveSafetensors(model: tfl.LayersModel, path: string): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(toStateDict(model)));
}
