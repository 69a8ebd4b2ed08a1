/**
 * Int8 weights for an exported ONNX model in the QDQ format: the float weight of every Conv and
 * Gemm becomes an int8 initializer with one symmetric scale per output channel and a
 * DequantizeLinear node (opset 13's `axis`), so the file is about four times smaller and
 * runtimes that fuse QDQ run integer kernels. Weights trained quantization-aware per channel
 * (`QuantizationAwareTraining`, `weights: "channel"`) are on this grid already, batch-norm
 * folding included, and come through exactly.
 *
 * @module
 */
import { decodeModel, encodeModel } from "./_proto.ts";
import { OnnxExportError } from "./errors.ts";

const FLOAT = 1;
const INT8 = 3;

type Initializer = {
  name: string;
  dims?: number[];
  data_type?: number;
  raw_data?: Uint8Array;
  float_data?: number[];
};
type Node = { op_type?: string; input?: string[]; output?: string[]; name?: string };

/** What {@linkcode quantizeOnnxWeights} did, per weight. */
export interface QuantizedWeight {
  /** The initializer's name (now DequantizeLinear's output). */
  name: string;
  /** The output-channel axis the scales run along. */
  axis: number;
  /** One scale per output channel. */
  scales: Float32Array;
}

function floats(init: Initializer): Float32Array {
  if (init.raw_data !== undefined) {
    const bytes = new Uint8Array(init.raw_data); // a copy: protobufjs may hand out a Buffer view
    return new Float32Array(bytes.buffer, 0, bytes.byteLength / 4);
  }
  return Float32Array.from(init.float_data ?? []);
}

/**
 * Rewrites an ONNX model's Conv and Gemm weights as symmetric per-channel int8 with
 * DequantizeLinear (QDQ); returns the new bytes and each weight's scales.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { quantizeOnnxWeights, toOnnx } from "./mod.ts";
 * await useBackend("cpu");
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [64], units: 32 })] });
 * const float = toOnnx(model);
 * const { bytes, weights } = quantizeOnnxWeights(float);
 * assert.equal(weights.length, 1);
 * assert.ok(bytes.length < float.length / 2);
 * model.dispose();
 * ```
 */
export function quantizeOnnxWeights(
  bytes: Uint8Array,
): { bytes: Uint8Array; weights: QuantizedWeight[] } {
  const model = decodeModel(bytes) as Record<string, unknown> & {
    graph?: { node?: Node[]; initializer?: Initializer[] };
  };
  const graph = model.graph;
  if (graph === undefined) throw new OnnxExportError("the ONNX model has no graph");
  const initializers = new Map((graph.initializer ?? []).map((init) => [init.name, init]));
  const done = new Map<string, QuantizedWeight>();
  const dequantize: Node[] = [];
  for (const node of graph.node ?? []) {
    const axis = node.op_type === "Conv" ? 0 : node.op_type === "Gemm" ? 1 : -1;
    const name = node.input?.[1];
    if (axis < 0 || name === undefined || done.has(name)) continue;
    const init = initializers.get(name);
    if (init === undefined || (init.data_type ?? FLOAT) !== FLOAT) continue;
    const dims = (init.dims ?? []).map(Number);
    const values = floats(init);
    const channels = dims[axis];
    const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
    const channelOf = (i: number) => Math.floor(i / inner) % channels;
    const scales = new Float32Array(channels);
    for (let i = 0; i < values.length; i++) {
      const c = channelOf(i);
      scales[c] = Math.max(scales[c], Math.abs(values[i]));
    }
    for (let c = 0; c < channels; c++) scales[c] = scales[c] > 0 ? scales[c] / 127 : 1;
    const q = new Int8Array(values.length);
    for (let i = 0; i < values.length; i++) {
      q[i] = Math.max(-127, Math.min(127, Math.round(values[i] / scales[channelOf(i)])));
    }
    const base = name.replace(/[^A-Za-z0-9_.]/g, "_");
    initializers.delete(name);
    initializers.set(`${base}_quantized`, {
      name: `${base}_quantized`,
      dims,
      data_type: INT8,
      raw_data: new Uint8Array(q.buffer),
    });
    initializers.set(`${base}_scale`, {
      name: `${base}_scale`,
      dims: [channels],
      data_type: FLOAT,
      raw_data: new Uint8Array(scales.slice().buffer),
    });
    initializers.set(`${base}_zero_point`, {
      name: `${base}_zero_point`,
      dims: [channels],
      data_type: INT8,
      raw_data: new Uint8Array(channels),
    });
    dequantize.push({
      op_type: "DequantizeLinear",
      name: `${base}_dequantize`,
      input: [`${base}_quantized`, `${base}_scale`, `${base}_zero_point`],
      output: [name],
      attribute: [{ name: "axis", type: 2, i: axis }],
    } as Node);
    done.set(name, { name, axis, scales });
  }
  graph.node = [...dequantize, ...(graph.node ?? [])];
  graph.initializer = [...initializers.values()];
  return { bytes: encodeModel(model), weights: [...done.values()] };
}
