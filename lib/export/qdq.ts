/**
 * Int8 weights for an exported ONNX model in the QDQ format: the float weight of every Conv and
 * Gemm becomes an int8 initializer with one symmetric scale per output channel and a
 * DequantizeLinear node (opset 13's `axis`), so the file is about four times smaller and
 * runtimes that fuse QDQ run integer kernels. Weights trained quantization-aware per channel
 * (`QuantizationAwareTraining`, `weights: "channel"`) are on this grid already, batch-norm
 * folding included, and come through exactly.
 *
 * With the activation ranges QAT observed (`QuantizationAwareTraining.ranges()`), the input of
 * each of those Conv and Gemm nodes is quantized too: a QuantizeLinear / DequantizeLinear pair per
 * tensor, uint8 with a zero point (ONNX's convention for activations), the scale and zero point
 * those of the fake quantization QAT trained with, so the file computes what the QAT model did.
 *
 * @module
 */
import { decodeModel, encodeModel } from "./_proto.ts";
import { OnnxExportError } from "./errors.ts";

const FLOAT = 1;
const UINT8 = 2;
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

/** An activation range QAT observed: the input of layer `layer` (a Conv or Gemm node's). */
export interface ActivationRange {
  /** The TF.js layer name (the ONNX node is named after it). */
  layer: string;
  /** Observed [min, max]; 0 is added to the range if it lies outside. */
  activation: readonly [number, number];
}

/** Options for {@linkcode quantizeOnnxWeights}. */
export interface QuantizeOnnxOptions {
  /**
   * Per-tensor ranges of the activations to quantize (each quantized layer's input); each must
   * name a Conv or Gemm node of the model. Default: none (weights only).
   */
  activations?: readonly ActivationRange[];
}

/** What {@linkcode quantizeOnnxWeights} did, per quantized activation. */
export interface QuantizedActivation {
  /** The layer whose input this is. */
  layer: string;
  /** The quantized tensor's name in the graph. */
  name: string;
  /** The uint8 scale (a float32). */
  scale: number;
  /** The uint8 zero point. */
  zeroPoint: number;
}

/**
 * The uint8 scale and zero point of an activation range, as ONNX's dynamic quantization and
 * PyTorch's observers compute them (and QAT's fake quantization): scale = (max − min) / 255 as a
 * float32, zero point = round(−min / scale), the range widened to hold 0.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uint8Quantization } from "./qdq.ts";
 * assert.deepEqual(uint8Quantization([0, 2.55]), { scale: Math.fround(0.01), zeroPoint: 0 });
 * ```
 */
export function uint8Quantization(
  range: readonly [number, number],
): { scale: number; zeroPoint: number } {
  const [min, max] = [Math.min(0, range[0]), Math.max(0, range[1])];
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    throw new OnnxExportError(`an activation range must be finite; got [${range.join(", ")}]`);
  }
  const scale = Math.fround(Math.max((max - min) / 255, 1e-8));
  const zeroPoint = Math.max(0, Math.min(255, Math.round(-min / scale)));
  return { scale, zeroPoint };
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
 * DequantizeLinear (QDQ), and with `activations` those nodes' inputs as per-tensor uint8
 * QuantizeLinear / DequantizeLinear pairs; returns the new bytes, each weight's scales and each
 * activation's scale and zero point.
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
  options: QuantizeOnnxOptions = {},
): { bytes: Uint8Array; weights: QuantizedWeight[]; activations: QuantizedActivation[] } {
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
  const activations: QuantizedActivation[] = [];
  const nodes: Node[] = [];
  const byLayer = new Map((options.activations ?? []).map((a) => [a.layer, a]));
  for (const node of graph.node ?? []) {
    const layer = [...byLayer.keys()].find((l) =>
      (node.op_type === "Conv" || node.op_type === "Gemm") && node.name === `${l}/${node.op_type}`
    );
    const source = node.input?.[0];
    if (layer !== undefined && source !== undefined) {
      const { scale, zeroPoint } = uint8Quantization(byLayer.get(layer)!.activation);
      const base = `${layer.replace(/[^A-Za-z0-9_.]/g, "_")}.input`;
      initializers.set(`${base}_scale`, {
        name: `${base}_scale`,
        dims: [],
        data_type: FLOAT,
        raw_data: new Uint8Array(Float32Array.of(scale).buffer),
      });
      initializers.set(`${base}_zero_point`, {
        name: `${base}_zero_point`,
        dims: [],
        data_type: UINT8,
        raw_data: Uint8Array.of(zeroPoint),
      });
      const params = [`${base}_scale`, `${base}_zero_point`];
      nodes.push(
        {
          op_type: "QuantizeLinear",
          name: `${base}_quantize`,
          input: [source, ...params],
          output: [`${base}_quantized`],
        },
        {
          op_type: "DequantizeLinear",
          name: `${base}_dequantize`,
          input: [`${base}_quantized`, ...params],
          output: [`${base}_dequantized`],
        },
      );
      node.input = [`${base}_dequantized`, ...(node.input ?? []).slice(1)];
      activations.push({ layer, name: source, scale, zeroPoint });
      byLayer.delete(layer);
    }
    nodes.push(node);
  }
  if (byLayer.size > 0) {
    throw new OnnxExportError(
      `activation ranges name no Conv or Gemm node of the model: ${[...byLayer.keys()].join(", ")}`,
    );
  }
  graph.node = [...dequantize, ...nodes];
  graph.initializer = [...initializers.values()];
  return { bytes: encodeModel(model), weights: [...done.values()], activations };
}
