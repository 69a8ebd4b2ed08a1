/**
 * ONNX export of TF.js LayersModels: the graph PyTorch's `torch.onnx.export` would write for the
 * same network (NCHW float32 input `input` with a dynamic batch, output `logits`, opset 13), with
 * batch norms folded into the convolutions and the preprocessing in the metadata.
 *
 * @module
 */
import * as tfl from "@tensorflow/tfjs-layers";
import { convertModel, type Value, withWeightValues } from "./_convert.ts";
import { FLOAT, GraphBuilder } from "./_graph.ts";
import { decodeModel, encodeModel } from "./_proto.ts";
import { OnnxExportError } from "./errors.ts";

/** The ONNX operator set the export writes. */
export const ONNX_OPSET = 13;

/**
 * Options of {@linkcode toOnnx} and {@linkcode exportOnnx}.
 *
 * @example
 * ```ts
 * import type { OnnxExportOptions } from "./onnx.ts";
 * const options: OnnxExportOptions = { float16: true, metadata: { classes: '["ant","bee"]' } };
 * ```
 */
export interface OnnxExportOptions {
  /**
   * Store weights as float16 (half the file), each cast back to float32 by a Cast node, so the
   * graph still takes and returns float32. Default: false.
   */
  float16?: boolean;
  /**
   * Key/value pairs for the model's `metadata_props`, such as {@linkcode onnxMetadata}'s
   * preprocessing. Default: none.
   */
  metadata?: Record<string, string>;
  /** The graph's name. Default: the model's name. */
  graphName?: string;
}

function valueInfo(name: string, dims: (number | string)[]) {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: FLOAT,
        shape: {
          dim: dims.map((dim) => typeof dim === "string" ? { dim_param: dim } : { dim_value: dim }),
        },
      },
    },
  };
}

/** A tfjs (batch-first, NHWC when 4-D) shape as the graph's NCHW dims with a named batch. */
function graphDims(value: Value): (number | string)[] {
  const dims = value.shape.map((dim, i) => i === 0 ? "batch" : dim);
  if (dims.slice(1).some((dim) => dim === null)) {
    throw new OnnxExportError(`tensor '${value.name}': shape [${value.shape}] is not static`);
  }
  return dims.length === 4 ? [dims[0], dims[3], dims[1], dims[2]] as (number | string)[] : dims as (
    | number
    | string
  )[];
}

/**
 * The ONNX protobuf of `model`: NCHW float32 input `input` with a dynamic batch dimension, output
 * `logits` (the softmax's probabilities if the model ends in one), opset 13. Batch norms after
 * convolutions are folded into them, depthwise convolutions are grouped Convs and dropout is
 * dropped; a layer it cannot write throws an {@linkcode OnnxExportError} naming its class and name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { readOnnxModel, toOnnx } from "./onnx.ts";
 * await useBackend("cpu");
 * const model = tfl.sequential({ layers: [
 *   tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: "same" }),
 *   tfl.layers.globalAveragePooling2d({}),
 *   tfl.layers.dense({ units: 2 }),
 * ] });
 * const bytes = toOnnx(model, { metadata: { classes: '["ant","bee"]' } });
 * const onnx = readOnnxModel(bytes);
 * assert.deepEqual(onnx.inputs, [{ name: "input", dims: ["batch", 3, 8, 8] }]);
 * assert.deepEqual(onnx.outputs, [{ name: "logits", dims: ["batch", 2] }]);
 * assert.equal(onnx.metadata.classes, '["ant","bee"]');
 * model.dispose();
 * ```
 */
export function toOnnx(model: tfl.LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  const graph = new GraphBuilder({ float16: options.float16 ?? false });
  const { input, outputs } = convertModel(model, graph, "input");
  const names = outputs.map((_, i) => i === 0 ? "logits" : `output_${i}`);
  const renamed = new Map<string, string>();
  outputs.forEach((value, i) => {
    graph.reserve(names[i]);
    // A tensor that is the input or an earlier output too gets an Identity of its own.
    const earlier = renamed.get(value.name);
    if (earlier !== undefined || !graph.renameOutput(value.name, names[i])) {
      graph.node("Identity", [earlier ?? value.name], names[i], {}, { exact: true });
    } else {
      renamed.set(value.name, names[i]);
    }
  });
  return encodeModel({
    ir_version: 8,
    producer_name: "denovision",
    producer_version: `tfjs-layers ${tfl.version_layers}`,
    model_version: 1,
    doc_string: `${model.name}, exported from TF.js`,
    opset_import: [{ domain: "", version: ONNX_OPSET }],
    graph: {
      name: options.graphName ?? model.name,
      node: graph.nodes,
      initializer: graph.initializers,
      input: [valueInfo(input.name, graphDims(input))],
      output: outputs.map((value, i) => valueInfo(names[i], graphDims(value))),
    },
    metadata_props: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
}

/**
 * {@linkcode toOnnx}, with the weights read asynchronously first: the form to use on a browser's
 * WebGPU backend, where a synchronous read goes through a canvas and can lose the device.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { toOnnx, toOnnxAsync } from "./onnx.ts";
 * await useBackend("cpu");
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 2 })] });
 * assert.deepEqual(await toOnnxAsync(model), toOnnx(model));
 * model.dispose();
 * ```
 */
export async function toOnnxAsync(
  model: tfl.LayersModel,
  options: OnnxExportOptions = {},
): Promise<Uint8Array> {
  const values = new Map<number, Float32Array>();
  for (const variable of model.weights) {
    const data = await variable.read().data();
    values.set(
      variable.id,
      data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>),
    );
  }
  return withWeightValues(values, () => toOnnx(model, options));
}

/**
 * A summary of an ONNX file's interface: its inputs and outputs (symbolic dims as strings), its
 * opset and its `metadata_props`.
 *
 * @example
 * ```ts
 * import type { OnnxModelInfo } from "./onnx.ts";
 * const info: OnnxModelInfo = {
 *   inputs: [{ name: "input", dims: ["batch", 3, 32, 32] }],
 *   outputs: [{ name: "logits", dims: ["batch", 10] }],
 *   opset: 13,
 *   metadata: {},
 *   nodes: 12,
 * };
 * ```
 */
export interface OnnxModelInfo {
  /** Graph inputs (initializers excluded). */
  inputs: { name: string; dims: (number | string)[] }[];
  /** Graph outputs. */
  outputs: { name: string; dims: (number | string)[] }[];
  /** The default domain's opset version. */
  opset: number;
  /** `metadata_props` as an object. */
  metadata: Record<string, string>;
  /** Number of nodes in the graph. */
  nodes: number;
}

/**
 * Reads the interface of an ONNX protobuf (inputs, outputs, opset, metadata) without running it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { readOnnxModel, toOnnx } from "./onnx.ts";
 * await useBackend("cpu");
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 2 })] });
 * assert.equal(readOnnxModel(toOnnx(model)).opset, 13);
 * model.dispose();
 * ```
 */
export function readOnnxModel(bytes: Uint8Array): OnnxModelInfo {
  let model: Record<string, unknown>;
  try {
    model = decodeModel(bytes);
  } catch (error) {
    throw new OnnxExportError(`not an ONNX model: ${(error as Error).message}`);
  }
  type Info = { name: string; type?: { tensor_type?: { shape?: { dim?: Dim[] } } } };
  type Dim = { dim_value?: number; dim_param?: string };
  const graph = (model.graph ?? {}) as {
    input?: Info[];
    output?: Info[];
    initializer?: { name: string }[];
    node?: unknown[];
  };
  const initializers = new Set((graph.initializer ?? []).map((tensor) => tensor.name));
  const describe = (info: Info) => ({
    name: info.name,
    dims: (info.type?.tensor_type?.shape?.dim ?? []).map((dim) =>
      dim.dim_param ?? dim.dim_value ?? 0
    ),
  });
  const opsets = (model.opset_import ?? []) as { domain?: string; version: number }[];
  return {
    inputs: (graph.input ?? []).filter((info) => !initializers.has(info.name)).map(describe),
    outputs: (graph.output ?? []).map(describe),
    opset: opsets.find((opset) => (opset.domain ?? "") === "")?.version ?? 0,
    metadata: Object.fromEntries(
      ((model.metadata_props ?? []) as { key: string; value: string }[]).map((
        { key, value },
      ) => [key, value]),
    ),
    nodes: (graph.node ?? []).length,
  };
}
