// Internal: what PyTorch calls each TF.js weight, and the layout arithmetic shared by loading
// state dicts (PyTorch → TF.js) and writing them (TF.js → PyTorch).
import type * as tfl from "@tensorflow/tfjs-layers";

/** The torch parameter behind each TF.js weight, per layer class. */
export const TORCH_PARAMS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
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

/** A weight's own name (`kernel`, `moving_mean`…) without its layer's prefix. */
export function weightName(variable: tfl.LayerVariable): string {
  const name = variable.originalName;
  return name.slice(name.lastIndexOf("/") + 1);
}

/** Row-major transpose: result axis i is input axis `order[i]`. */
export function permute(
  data: Float32Array,
  shape: readonly number[],
  order: readonly number[],
): Float32Array {
  const rank = shape.length;
  const outShape = order.map((axis) => shape[axis]);
  const inStrides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; s *= shape[i], i--) inStrides[i] = s;
  const strides = order.map((axis) => inStrides[axis]);
  const out = new Float32Array(data.length);
  const index = new Array<number>(rank).fill(0);
  let from = 0;
  for (let to = 0; to < out.length; to++) {
    out[to] = data[from];
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]++;
      from += strides[axis];
      if (index[axis] < outShape[axis]) break;
      from -= strides[axis] * outShape[axis];
      index[axis] = 0;
    }
  }
  return out;
}

/**
 * [height, width, channels] when the layer's input is a Flatten of a spatial map: PyTorch
 * flattens (C, H, W), we flatten (H, W, C), so such a linear's inputs are reordered.
 */
export function flattenedFrom(layer: tfl.layers.Layer): [number, number, number] | null {
  const inbound = layer.inboundNodes[0]?.inboundLayers[0];
  if (inbound === undefined || inbound.getClassName() !== "Flatten") return null;
  const shape = inbound.inboundNodes[0]?.inputShapes;
  const input = (Array.isArray(shape?.[0]) ? shape[0] : shape) as number[] | undefined;
  if (input === undefined || input.length !== 4 || (input[1] === 1 && input[2] === 1)) return null;
  return [input[1], input[2], input[3]];
}
