// Internal: a TF.js LayersModel as an ONNX graph. Four-dimensional tensors run NCHW, as PyTorch's
// exports do: conv kernels go HWIO → OIHW, 'same' padding becomes the explicit (possibly
// asymmetric) pads tfjs uses, a Flatten of a feature map transposes back to NHWC first so the
// Dense after it keeps its weights, and channel axes move from last to 1. Batch norms that follow
// a linear conv are folded into it; dropout and noise layers vanish.
import type * as tfl from "@tensorflow/tfjs-layers";
import { OnnxExportError } from "./errors.ts";
import type { AttributeValue, GraphBuilder } from "./_graph.ts";

type Layer = tfl.layers.Layer;
type Symbolic = tfl.SymbolicTensor;
type Config = Record<string, unknown>;

/** A converted tensor: its ONNX name and its tfjs shape (NHWC when 4-D; the batch is null). */
export interface Value {
  name: string;
  shape: (number | null)[];
}

/** One application of a layer in the model's graph. */
interface Step {
  layer: Layer;
  inputs: Symbolic[];
  outputs: Symbolic[];
}

/** The layers of `model`'s graph in topological order, from its outputs back to its inputs. */
export function modelSteps(model: tfl.LayersModel): Step[] {
  const steps: Step[] = [];
  const seen = new Set<object>();
  const visit = (tensor: Symbolic) => {
    const layer = tensor.sourceLayer;
    const node = layer.inboundNodes[tensor.nodeIndex];
    if (node === undefined || seen.has(node)) return;
    seen.add(node);
    for (const input of node.inputTensors) visit(input);
    steps.push({ layer, inputs: [...node.inputTensors], outputs: [...node.outputTensors] });
  };
  for (const output of model.outputs) visit(output);
  return steps;
}

const IGNORED = new Set([
  "Dropout",
  "SpatialDropout1D",
  "SpatialDropout2D",
  "GaussianNoise",
  "GaussianDropout",
  "AlphaDropout",
]);

/** The layer classes the export converts (the error for any other lists them). */
export const SUPPORTED_LAYERS: readonly string[] = [
  "InputLayer",
  "Conv2D",
  "DepthwiseConv2D",
  "SeparableConv2D",
  "BatchNormalization",
  "Dense",
  "Activation",
  "ReLU",
  "LeakyReLU",
  "ELU",
  "Softmax",
  "Rescaling",
  "MaxPooling2D",
  "AveragePooling2D",
  "GlobalAveragePooling2D",
  "GlobalMaxPooling2D",
  "Flatten",
  "Reshape",
  "ZeroPadding2D",
  "Add",
  "Multiply",
  "Average",
  "Maximum",
  "Minimum",
  "Concatenate",
  ...IGNORED,
];

function describe(layer: Layer): string {
  return `${layer.getClassName()} layer '${layer.name}'`;
}

function fail(layer: Layer, problem: string): never {
  throw new OnnxExportError(`${describe(layer)}: ${problem}`);
}

/** Weight values read ahead (asynchronously), by variable id, while a conversion runs. */
let readAhead: ReadonlyMap<number, Float32Array> | undefined;

/**
 * Runs `convert` with weight values read beforehand, so that it reads nothing from the backend
 * synchronously (on a browser's WebGPU a synchronous read goes through a canvas and can lose the
 * device).
 */
export function withWeightValues<T>(
  values: ReadonlyMap<number, Float32Array>,
  convert: () => T,
): T {
  readAhead = values;
  try {
    return convert();
  } finally {
    readAhead = undefined;
  }
}

/** The layer's weights by their short name (`kernel`, `bias`, `gamma`, `moving_mean`...). */
function weightsOf(layer: Layer): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  const values = layer.getWeights();
  layer.weights.forEach((variable, i) => {
    const short = variable.originalName.split("/").pop() as string;
    const data = readAhead?.get(variable.id) ?? Float32Array.from(values[i].dataSync());
    out.set(short, { shape: [...values[i].shape], data });
  });
  return out;
}

function required(
  layer: Layer,
  weights: Map<string, { shape: number[]; data: Float32Array }>,
  name: string,
): { shape: number[]; data: Float32Array } {
  const weight = weights.get(name);
  if (weight === undefined) fail(layer, `has no '${name}' weight`);
  return weight;
}

/** `data` of `shape` with its axes permuted by `perm` (as numpy's transpose). */
export function permute(data: Float32Array, shape: number[], perm: number[]): Float32Array {
  const rank = shape.length;
  const outShape = perm.map((axis) => shape[axis]);
  const inStrides = new Array<number>(rank);
  inStrides[rank - 1] = 1;
  for (let i = rank - 2; i >= 0; i--) inStrides[i] = inStrides[i + 1] * shape[i + 1];
  const strides = perm.map((axis) => inStrides[axis]);
  const out = new Float32Array(data.length);
  const index = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let source = 0;
    for (let i = 0; i < rank; i++) source += index[i] * strides[i];
    out[o] = data[source];
    for (let i = rank - 1; i >= 0; i--) {
      if (++index[i] < outShape[i]) break;
      index[i] = 0;
    }
  }
  return out;
}

const NON_NEGATIVE = new Set(["relu", "relu6", "sigmoid", "softplus", "hardSigmoid", "softmax"]);

/** Whether `tensor` is never negative (a ReLU's or sigmoid's output), so 0 and −∞ pads agree. */
function nonNegative(tensor: Symbolic): boolean {
  const source = tensor.sourceLayer;
  const className = source.getClassName();
  if (className === "ReLU" || className === "Softmax") return true;
  const config = source.getConfig() as Config;
  if (className === "ZeroPadding2D" || className.endsWith("Pooling2D")) {
    const node = source.inboundNodes[tensor.nodeIndex];
    return node !== undefined && nonNegative(node.inputTensors[0]);
  }
  return NON_NEGATIVE.has(config.activation as string);
}

/**
 * For each output position of a max pool over a zero-padded input: 0 where the window reaches
 * into the zeros, the lowest float elsewhere. `pads` are the pool's own, `zeros` the padding's
 * ([top, left, bottom, right]); `input` is the padded NHWC shape.
 */
function zeroWindowMask(
  input: (number | null)[],
  output: (number | null)[],
  [kh, kw]: [number, number],
  [sh, sw]: [number, number],
  pads: number[],
  zeros: number[],
): number[] {
  const [height, width] = [input[1] as number, input[2] as number];
  const touches = (start: number, size: number, extent: number, before: number, after: number) => {
    for (let r = Math.max(start, 0); r < Math.min(start + size, extent); r++) {
      if (r < before || r >= extent - after) return true;
    }
    return false;
  };
  const mask: number[] = [];
  for (let i = 0; i < (output[1] as number); i++) {
    for (let j = 0; j < (output[2] as number); j++) {
      const rows = touches(i * sh - pads[0], kh, height, zeros[0], zeros[2]);
      const cols = touches(j * sw - pads[1], kw, width, zeros[1], zeros[3]);
      mask.push(rows || cols ? 0 : -3.4e38);
    }
  }
  return mask;
}

/** tfjs' padding of one spatial axis: [before, after]. */
function axisPads(
  layer: Layer,
  padding: string,
  size: number | null,
  kernel: number,
  stride: number,
): [number, number] {
  if (padding === "valid") return [0, 0];
  if (padding !== "same") fail(layer, `padding '${padding}' is not supported`);
  if (size === null) fail(layer, "'same' padding needs a static input size");
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + kernel - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function pair(value: unknown): [number, number] {
  return Array.isArray(value) ? [value[0], value[1]] : [value as number, value as number];
}

/** Converts `model`'s graph into `graph`; returns the values of the model's outputs. */
export function convertModel(
  model: tfl.LayersModel,
  graph: GraphBuilder,
  inputName: string,
): { input: Value; outputs: Value[] } {
  const steps = modelSteps(model);
  const values = new Map<number, Value>();
  const consumers = new Map<number, Step[]>();
  for (const step of steps) {
    for (const input of step.inputs) {
      consumers.set(input.id, [...consumers.get(input.id) ?? [], step]);
    }
  }
  const outputIds = new Set(model.outputs.map((output) => output.id));
  /** The single layer that consumes `tensor`, if exactly one does and it is not an output. */
  const soleConsumer = (tensor: Symbolic): Step | undefined => {
    const users = consumers.get(tensor.id) ?? [];
    return users.length === 1 && !outputIds.has(tensor.id) ? users[0] : undefined;
  };
  const folded = new Set<Layer>();
  /** Zero padding waiting to become a conv's pads: [top, left, bottom, right]. */
  const pendingPads = new Map<number, number[]>();
  let input: Value | undefined;

  for (const step of steps) {
    const { layer } = step;
    const className = layer.getClassName();
    const config = layer.getConfig() as Config;
    const output = step.outputs[0];
    const shape = [...output.shape];
    const base = layer.name;
    const set = (name: string) => values.set(output.id, { name, shape });
    if (config.dataFormat === "channelsFirst") fail(layer, "channelsFirst data is not supported");

    if (className === "InputLayer") {
      if (input !== undefined) fail(layer, "models with several inputs are not supported");
      if (output.dtype !== "float32") fail(layer, `a ${output.dtype} input is not supported`);
      graph.reserve(inputName);
      input = { name: inputName, shape };
      values.set(output.id, input);
      continue;
    }
    const ins = step.inputs.map((tensor) => {
      const value = values.get(tensor.id);
      if (value === undefined) fail(layer, "an input was not converted");
      return value;
    });
    if (folded.has(layer)) {
      // A batch norm folded into the conv before it: the conv's output already is its output.
      values.set(output.id, { ...ins[0], shape });
      continue;
    }
    if (IGNORED.has(className)) {
      values.set(output.id, { ...ins[0], shape });
      continue;
    }
    const x = ins[0];
    switch (className) {
      case "Conv2D":
      case "DepthwiseConv2D":
      case "SeparableConv2D": {
        const weights = weightsOf(layer);
        const kernelSize = pair(config.kernelSize);
        const strides = pair(config.strides);
        const dilations = pair(config.dilationRate ?? 1);
        const pads = convPads(layer, config, x, kernelSize, strides, dilations);
        const extra = pendingPads.get(step.inputs[0].id);
        if (extra !== undefined) { for (let i = 0; i < 4; i++) pads[i] += extra[i]; }
        const spatial = {
          kernel_shape: { ints: kernelSize },
          strides: { ints: strides },
          dilations: { ints: dilations },
          pads: { ints: pads },
        };
        let kernel: Kernel;
        let attributes: Record<string, AttributeValue>;
        let source = x.name;
        if (className === "Conv2D") {
          kernel = ohwiKernel(required(layer, weights, "kernel"));
          attributes = { ...spatial, group: { i: 1 } };
        } else {
          const depthwise = depthwiseKernel(required(layer, weights, "depthwise_kernel"));
          const group = { i: x.shape[3] as number };
          if (className === "DepthwiseConv2D") {
            kernel = depthwise;
            attributes = { ...spatial, group };
          } else {
            // The depthwise half has no bias; the pointwise 1×1 conv after it has the layer's.
            const w = graph.weight(`${base}.depthwise.weight`, depthwise.dims, depthwise.data);
            source = graph.node("Conv", [source, w], `${base}.depthwise`, { ...spatial, group })[0];
            kernel = ohwiKernel(required(layer, weights, "pointwise_kernel"));
            attributes = { kernel_shape: { ints: [1, 1] }, group: { i: 1 } };
          }
        }
        let bias = weights.get("bias")?.data;
        const activation = (config.activation as string | undefined) ?? "linear";
        const next = activation === "linear" ? soleConsumer(output) : undefined;
        if (next?.layer.getClassName() === "BatchNormalization" && channelAxis(next.layer, 4)) {
          const folding = foldBatchNorm(next.layer, kernel.data, kernel.dims[0], bias);
          kernel = { dims: kernel.dims, data: folding.weight };
          bias = folding.bias;
          folded.add(next.layer);
        }
        const inputs = [source, graph.weight(`${base}.weight`, kernel.dims, kernel.data)];
        if (bias !== undefined) inputs.push(graph.weight(`${base}.bias`, [bias.length], bias));
        const y = graph.node("Conv", inputs, base, attributes)[0];
        set(activate(graph, layer, activation, y, 4));
        break;
      }
      case "BatchNormalization": {
        if (!channelAxis(layer, x.shape.length)) fail(layer, "only the last axis is supported");
        const { scale, shift } = batchNormAffine(layer);
        const dims = x.shape.length === 4 ? [scale.length, 1, 1] : [scale.length];
        const s = graph.weight(`${base}.scale`, dims, scale);
        const b = graph.weight(`${base}.shift`, dims, shift);
        const y = graph.node("Mul", [x.name, s], `${base}.mul`)[0];
        set(graph.node("Add", [y, b], base)[0]);
        break;
      }
      case "Dense": {
        if (x.shape.length !== 2) fail(layer, `a rank-${x.shape.length} input is not supported`);
        const weights = weightsOf(layer);
        const kernel = required(layer, weights, "kernel");
        const inputs = [x.name, graph.weight(`${base}.weight`, kernel.shape, kernel.data)];
        const bias = weights.get("bias");
        if (bias !== undefined) {
          inputs.push(graph.weight(`${base}.bias`, bias.shape, bias.data));
        }
        const y = graph.node("Gemm", inputs, base)[0];
        set(activate(graph, layer, (config.activation as string) ?? "linear", y, 2));
        break;
      }
      case "Activation":
        set(activate(graph, layer, config.activation as string, x.name, x.shape.length, true));
        break;
      case "ReLU": {
        if (config.maxValue === null || config.maxValue === undefined) {
          set(graph.node("Relu", [x.name], base)[0]);
        } else {
          set(clip(graph, base, x.name, 0, config.maxValue as number));
        }
        break;
      }
      case "LeakyReLU":
        set(graph.node("LeakyRelu", [x.name], base, { alpha: { f: config.alpha as number } })[0]);
        break;
      case "ELU":
        set(graph.node("Elu", [x.name], base, { alpha: { f: config.alpha as number } })[0]);
        break;
      case "Softmax": {
        const axis = moveAxis(layer, config.axis as number, x.shape.length);
        set(graph.node("Softmax", [x.name], base, { axis: { i: axis } })[0]);
        break;
      }
      case "Rescaling": {
        const scale = graph.floatConstant(`${base}.scale`, [], [config.scale as number]);
        const offset = graph.floatConstant(`${base}.offset`, [], [config.offset as number]);
        const y = graph.node("Mul", [x.name, scale], `${base}.mul`)[0];
        set(graph.node("Add", [y, offset], base)[0]);
        break;
      }
      case "MaxPooling2D":
      case "AveragePooling2D": {
        const poolSize = pair(config.poolSize);
        const strides = pair(config.strides ?? config.poolSize);
        const padding = config.padding as string;
        const [top, bottom] = axisPads(layer, padding, x.shape[1], poolSize[0], strides[0]);
        const [left, right] = axisPads(layer, padding, x.shape[2], poolSize[1], strides[1]);
        const pads = [top, left, bottom, right];
        const zeros = pendingPads.get(step.inputs[0].id) ?? [0, 0, 0, 0];
        const total = pads.map((pad, i) => pad + zeros[i]);
        if (total.some((pad, i) => pad >= poolSize[i % 2])) {
          fail(layer, `padding [${total}] is not smaller than the ${poolSize.join("×")} window`);
        }
        const attributes: Record<string, AttributeValue> = {
          kernel_shape: { ints: poolSize },
          strides: { ints: strides },
          pads: { ints: total },
        };
        const op = className === "MaxPooling2D" ? "MaxPool" : "AveragePool";
        if (op === "AveragePool") {
          // tfjs averages 'same' windows over the values inside the image only; zeros of a
          // ZeroPadding2D before a 'valid' pool count (a 'same' pool after one is refused).
          const zeroPadded = zeros.some((pad) => pad > 0);
          if (zeroPadded && padding !== "valid") fail(layer, "'same' after ZeroPadding2D");
          attributes.count_include_pad = { i: zeroPadded ? 1 : 0 };
        }
        if (
          op === "AveragePool" || zeros.every((pad) => pad === 0) || nonNegative(step.inputs[0])
        ) {
          set(graph.node(op, [x.name], base, attributes)[0]);
          break;
        }
        // ONNX pads a max pool with −∞, tfjs' ZeroPadding2D with 0: the windows that reach into
        // the zeros take max(·, 0) through a constant mask (0 there, −3.4e38 elsewhere).
        const pooled = graph.node(op, [x.name], `${base}.pool`, attributes)[0];
        const mask = graph.floatConstant(
          `${base}.zero_pad_mask`,
          [1, 1, shape[1] as number, shape[2] as number],
          zeroWindowMask(x.shape, shape, poolSize, strides, pads, zeros),
        );
        const y = graph.node("Max", [pooled, mask], base)[0];
        set(y);
        break;
      }
      case "GlobalAveragePooling2D":
      case "GlobalMaxPooling2D": {
        const op = className === "GlobalAveragePooling2D" ? "GlobalAveragePool" : "GlobalMaxPool";
        const pooled = graph.node(op, [x.name], `${base}.pool`)[0];
        set(graph.node("Flatten", [pooled], base, { axis: { i: 1 } })[0]);
        break;
      }
      case "Flatten": {
        let source = x.name;
        if (x.shape.length === 4 && !(x.shape[1] === 1 && x.shape[2] === 1)) {
          // tfjs flattens H, W, C in that order.
          source =
            graph.node("Transpose", [source], `${base}.nhwc`, { perm: { ints: [0, 2, 3, 1] } })[0];
        }
        set(
          x.shape.length === 2
            ? source
            : graph.node("Flatten", [source], base, { axis: { i: 1 } })[0],
        );
        break;
      }
      case "Reshape":
        set(reshape(graph, layer, x, shape));
        break;
      case "ZeroPadding2D": {
        const [[top, bottom], [left, right]] = config.padding as [
          [number, number],
          [number, number],
        ];
        const next = soleConsumer(output);
        const nextClass = next?.layer.getClassName() ?? "";
        const nextPadding = (next?.layer.getConfig() as Config | undefined)?.padding;
        const conv = ["Conv2D", "DepthwiseConv2D", "SeparableConv2D"].includes(nextClass) &&
          nextPadding === "valid";
        if (conv || nextClass === "MaxPooling2D" || nextClass === "AveragePooling2D") {
          // Folded into the conv's or pool's own pads, as torch.onnx.export writes a padded
          // conv (ONNX Runtime would fuse a Pad into a max pool, padding it with −∞, not 0).
          pendingPads.set(output.id, [top, left, bottom, right]);
          values.set(output.id, { name: x.name, shape }); // the padded shape
          break;
        }
        const pads = graph.int64Constant(`${base}.pads`, [0, 0, top, left, 0, 0, bottom, right]);
        set(graph.node("Pad", [x.name, pads], base)[0]);
        break;
      }
      case "Add":
      case "Multiply":
      case "Maximum":
      case "Minimum":
      case "Average": {
        if (ins.some((value) => value.shape.length !== x.shape.length)) {
          fail(layer, "inputs of different ranks are not supported");
        }
        const ops: Record<string, string> = {
          Add: "Add",
          Multiply: "Mul",
          Maximum: "Max",
          Minimum: "Min",
          Average: "Add",
        };
        const op = ops[className];
        let y = ins[0].name;
        for (let i = 1; i < ins.length; i++) {
          y = graph.node(
            op,
            [y, ins[i].name],
            i === ins.length - 1 && className !== "Average" ? base : `${base}.${i}`,
          )[0];
        }
        if (className === "Average") {
          const n = graph.floatConstant(`${base}.count`, [], [1 / ins.length]);
          y = graph.node("Mul", [y, n], base)[0];
        }
        set(y);
        break;
      }
      case "Concatenate": {
        const axis = moveAxis(layer, config.axis as number, x.shape.length);
        set(graph.node("Concat", ins.map((value) => value.name), base, { axis: { i: axis } })[0]);
        break;
      }
      default:
        throw new OnnxExportError(
          `${describe(layer)}: no ONNX form for this layer class; supported: ${
            SUPPORTED_LAYERS.join(", ")
          }`,
        );
    }
  }
  if (input === undefined) throw new OnnxExportError(`model '${model.name}': no input layer`);
  return {
    input,
    outputs: model.outputs.map((output) => {
      const value = values.get(output.id);
      if (value === undefined) {
        throw new OnnxExportError(`model '${model.name}': unconverted output`);
      }
      return value;
    }),
  };
}

interface Kernel {
  dims: number[];
  data: Float32Array;
}

/** A tfjs (kh, kw, in, out) conv kernel as ONNX's (out, in, kh, kw) weight. */
function ohwiKernel(k: { shape: number[]; data: Float32Array }): Kernel {
  const [kh, kw, cin, cout] = k.shape;
  return { dims: [cout, cin, kh, kw], data: permute(k.data, k.shape, [3, 2, 0, 1]) };
}

/** tfjs' (kh, kw, C, M) depthwise kernel as a grouped conv's (C·M, 1, kh, kw) weight. */
function depthwiseKernel(k: { shape: number[]; data: Float32Array }): Kernel {
  const [kh, kw, channels, multiplier] = k.shape;
  return { dims: [channels * multiplier, 1, kh, kw], data: permute(k.data, k.shape, [2, 3, 0, 1]) };
}

function convPads(
  layer: Layer,
  config: Config,
  x: Value,
  [kh, kw]: [number, number],
  strides: [number, number],
  dilations: [number, number],
): number[] {
  const padding = config.padding as string;
  const [top, bottom] = axisPads(
    layer,
    padding,
    x.shape[1],
    (kh - 1) * dilations[0] + 1,
    strides[0],
  );
  const [left, right] = axisPads(
    layer,
    padding,
    x.shape[2],
    (kw - 1) * dilations[1] + 1,
    strides[1],
  );
  return [top, left, bottom, right];
}

function channelAxis(layer: Layer, rank: number): boolean {
  const axis = (layer.getConfig() as Config).axis as number;
  return axis === -1 || axis === rank - 1;
}

/** A batch norm as y = scale · x + shift per channel, computed in float64. */
function batchNormAffine(layer: Layer): { scale: Float32Array; shift: Float32Array } {
  const weights = weightsOf(layer);
  const epsilon = (layer.getConfig() as Config).epsilon as number;
  const mean = required(layer, weights, "moving_mean").data;
  const variance = required(layer, weights, "moving_variance").data;
  const gamma = weights.get("gamma")?.data;
  const beta = weights.get("beta")?.data;
  const scale = new Float32Array(mean.length);
  const shift = new Float32Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    const s = (gamma?.[c] ?? 1) / Math.sqrt(variance[c] + epsilon);
    scale[c] = s;
    shift[c] = (beta?.[c] ?? 0) - mean[c] * s;
  }
  return { scale, shift };
}

/** Folds a batch norm into the (O, …) conv weight and bias before it. */
function foldBatchNorm(
  layer: Layer,
  weight: Float32Array,
  outChannels: number,
  bias: Float32Array | undefined,
): { weight: Float32Array; bias: Float32Array } {
  const weights = weightsOf(layer);
  const epsilon = (layer.getConfig() as Config).epsilon as number;
  const mean = required(layer, weights, "moving_mean").data;
  const variance = required(layer, weights, "moving_variance").data;
  const gamma = weights.get("gamma")?.data;
  const beta = weights.get("beta")?.data;
  if (mean.length !== outChannels) {
    fail(layer, `${mean.length} channels after a ${outChannels}-channel conv`);
  }
  const per = weight.length / outChannels;
  const folded = new Float32Array(weight.length);
  const newBias = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    const s = (gamma?.[o] ?? 1) / Math.sqrt(variance[o] + epsilon);
    for (let i = 0; i < per; i++) folded[o * per + i] = weight[o * per + i] * s;
    newBias[o] = ((bias?.[o] ?? 0) - mean[o]) * s + (beta?.[o] ?? 0);
  }
  return { weight: folded, bias: newBias };
}

function clip(graph: GraphBuilder, base: string, x: string, min: number, max: number): string {
  const lo = graph.floatConstant(`${base}.min`, [], [min]);
  const hi = graph.floatConstant(`${base}.max`, [], [max]);
  return graph.node("Clip", [x, lo, hi], base)[0];
}

/** tfjs' axis `axis` of a rank-`rank` tensor, as an axis of the NCHW tensor here. */
function moveAxis(layer: Layer, axis: number, rank: number): number {
  const positive = axis < 0 ? axis + rank : axis;
  if (positive < 0 || positive >= rank) fail(layer, `axis ${axis} is out of range`);
  if (rank !== 4) return positive;
  return [0, 2, 3, 1][positive];
}

/** Applies a Keras activation by name; the last node is named after the layer. */
function activate(
  graph: GraphBuilder,
  layer: Layer,
  activation: string,
  x: string,
  rank: number,
  standalone = false,
): string {
  const base = standalone ? layer.name : `${layer.name}.${activation}`;
  const op = (type: string, attributes = {}) => graph.node(type, [x], base, attributes)[0];
  switch (activation) {
    case "linear":
      return standalone ? graph.node("Identity", [x], base)[0] : x;
    case "relu":
      return op("Relu");
    case "relu6":
      return clip(graph, base, x, 0, 6);
    case "sigmoid":
      return op("Sigmoid");
    case "tanh":
      return op("Tanh");
    case "elu":
      return op("Elu", { alpha: { f: 1 } });
    case "selu":
      return op("Selu");
    case "softplus":
      return op("Softplus");
    case "softsign":
      return op("Softsign");
    case "hardSigmoid":
      return op("HardSigmoid", { alpha: { f: 0.2 }, beta: { f: 0.5 } });
    case "softmax":
      return op("Softmax", { axis: { i: rank === 4 ? 1 : rank - 1 } });
    case "swish": {
      const gate = graph.node("Sigmoid", [x], `${base}.sigmoid`)[0];
      return graph.node("Mul", [x, gate], base)[0];
    }
    case "mish": {
      const soft = graph.node("Softplus", [x], `${base}.softplus`)[0];
      const tanh = graph.node("Tanh", [soft], `${base}.tanh`)[0];
      return graph.node("Mul", [x, tanh], base)[0];
    }
    default:
      fail(layer, `activation '${activation}' is not supported`);
  }
}

/** tfjs' Reshape (on the NHWC view), with the transposes skipped where H = W = 1. */
function reshape(graph: GraphBuilder, layer: Layer, x: Value, shape: (number | null)[]): string {
  const base = layer.name;
  if (shape.slice(1).some((dim) => dim === null)) fail(layer, "needs a static output shape");
  const dims = shape.slice(1) as number[];
  let source = x.name;
  if (x.shape.length === 4 && !(x.shape[1] === 1 && x.shape[2] === 1)) {
    source = graph.node("Transpose", [source], `${base}.nhwc`, { perm: { ints: [0, 2, 3, 1] } })[0];
  }
  if (dims.length === 3 && dims[0] === 1 && dims[1] === 1) {
    const target = graph.int64Constant(`${base}.shape`, [-1, dims[2], 1, 1]);
    return graph.node("Reshape", [source, target], base)[0];
  }
  const target = graph.int64Constant(`${base}.shape`, [-1, ...dims]);
  if (dims.length !== 3) return graph.node("Reshape", [source, target], base)[0];
  const nhwc = graph.node("Reshape", [source, target], `${base}.nhwc_out`)[0];
  return graph.node("Transpose", [nhwc], base, { perm: { ints: [0, 3, 1, 2] } })[0];
}
