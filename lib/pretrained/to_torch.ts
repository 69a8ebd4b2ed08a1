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
import { flattenedFrom, permute, TORCH_PARAMS, weightName } from "./_layout.ts";

function toTorch(layer: tfl.layers.Layer, weight: string, value: Float32Array, shape: number[]) {
  const kind = layer.getClassName();
  if (kind === "Conv2D" && weight === "kernel") {
    return { data: permute(value, shape, [3, 2, 0, 1]), shape: [3, 2, 0, 1].map((a) => shape[a]) };
  }
  if (kind === "DepthwiseConv2D" && weight === "depthwise_kernel") {
    const [kh, kw, c, m] = shape; // → (c·m, 1, kh, kw)
    return { data: permute(value, shape, [2, 3, 0, 1]), shape: [c * m, 1, kh, kw] };
  }
  if (kind === "Dense" && weight === "kernel") {
    const [inFeatures, out] = shape;
    const transposed = permute(value, shape, [1, 0]); // (out, in) with our HWC input order
    const flat = flattenedFrom(layer);
    if (flat === null) return { data: transposed, shape: [out, inFeatures] };
    const [h, w, c] = flat;
    return { data: permute(transposed, [out, h, w, c], [0, 3, 1, 2]), shape: [out, inFeatures] };
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
    const params = TORCH_PARAMS[layer.getClassName()];
    if (layer.weights.length === 0) continue;
    if (params === undefined) {
      throw new RangeError(
        `layer '${layer.name}' (${layer.getClassName()}) has no PyTorch counterpart here`,
      );
    }
    const values = layer.getWeights();
    layer.weights.forEach((variable, i) => {
      const weight = weightName(variable);
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
