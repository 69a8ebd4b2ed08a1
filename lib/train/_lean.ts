// Internal: training with less memory under tfjs's tape, where every tensor made during a step
// lives until the step's gradients are done. Three changes, none of them numerical:
//
// 1. Batch norm in training mode is one fused op with its own gradient. tfjs-layers builds it from
//    moments (a full-size squared difference), a normalisation and, on the way back, a dozen more
//    full-size tensors; the fused op keeps its input and output and the per-channel statistics.
// 2. A ReLU with a cap (ReLU6, the hard-sigmoid's clip) is one clip instead of relu then clip, and
//    a ReLU that is a batch norm's or a residual add's only consumer is fused into it (PyTorch's
//    in-place ReLU, in effect): the pre-activation tensor is never kept.
// 3. The gradient flowing into each op (its `dy`) is released once the op's own input gradients
//    are made, and so are the tensors the op saved for its gradient (the tape's own references):
//    tfjs keeps every one of them until the whole backward pass ends. With the forward pass in its
//    own tidy (`leanForward`), an activation then lives only as long as some op that saved it
//    has not run its gradient, as in PyTorch's autograd: ResNet-18's backward pass at 224 px,
//    batch 8, peaked 417 MB above the weights before, 257 MB after (its wasm heap 654 → 454 MB).
// 4. A convolution with a bias and a ReLU runs as one fused kernel in training too (tfjs splits it
//    into convolution, broadcast add and ReLU whenever a gradient is taken), with a gradient
//    that masks dy by the output and sums the bias gradient in one pass. Without an activation,
//    the same gradient lets the tape skip the input gradient nothing needs (the first layer's),
//    which tfjs's fused op, a custom gradient, always computes.
//
// 5. In inference (useLeanInference; openTrainedModel calls it), with no tape: a batch norm whose
//    only consumer is a ReLU layer runs with it as one kernel (wasm), and a zero padding whose
//    only consumer is a convolution becomes that convolution's explicit padding (no copy).
//
// Measured on MobileNetV2 at 224 px, wasm (BENCHMARKS.md, "Training memory", "Inference").
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import {
  ADD_RELU_GRAD,
  BATCH_NORM_TRAIN,
  BATCH_NORM_TRAIN_GRAD,
  MOVING_AVERAGES,
} from "../backend/_wasm_kernels/batch_norm_train.ts";
import { RELU_BIAS_GRAD } from "../backend/_wasm_kernels/relu_bias_grad.ts";
import { CONV_RELU_POOL, POOL_RELU_BIAS_GRAD } from "../backend/_wasm_kernels/conv_relu_pool.ts";
import {
  POOL_ROUTE,
  ROUTED_FILTER_GRAD,
  ROUTED_INPUT_GRAD,
  routedGradientApplies,
} from "../backend/_wasm_kernels/pool_routed_grad.ts";
import { BATCH_NORM_POOL, BATCH_NORM_POOL_GRAD } from "../backend/_wasm_kernels/batch_norm_pool.ts";
import { BATCH_NORM_INFER } from "../backend/_wasm_kernels/batch_norm_infer.ts";
import { MEAN_GRAD, middleAxes } from "../backend/_wasm_kernels/mean.ts";

type Kwargs = Record<string, unknown>;
type LayerCall = (inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs) => tf.Tensor | tf.Tensor[];

interface BatchNormInternals {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: tfl.LayerVariable | null;
  beta: tfl.LayerVariable | null;
  movingMean: tfl.LayerVariable;
  movingVariance: tfl.LayerVariable;
}

/**
 * The mask of an activation's gradient, from its input `z`: ReLU's (z > 0), or a capped ReLU's
 * clip (0 ≤ z ≤ cap), exactly as tfjs' own relu and clipByValue gradients pass `dy`.
 */
function activationMask(z: tf.Tensor, cap: number): tf.Tensor {
  return cap === Infinity
    ? tf.greater(z, 0)
    : tf.logicalAnd(tf.greaterEqual(z, 0), tf.lessEqual(z, cap));
}

/**
 * Whether the active backend has our kernel `name` (the wasm backend's batch norm and add + ReLU
 * gradient, in TypeScript over its heap); elsewhere the ops below compose the same numbers.
 */
function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** `relu(z)` or, with a cap, `clip(z, 0, cap)`. */
function activate(z: tf.Tensor, cap: number): tf.Tensor {
  return cap === Infinity ? tf.relu(z) : tf.clipByValue(z, 0, cap);
}

/**
 * y = γ·(x − μ)/√(σ² + ε) + β over every axis but the last, with its gradient written out, and
 * with `cap` the ReLU that follows fused in (`undefined`: none). Only x and per-channel values
 * are kept for the backward pass; it recomputes the normalised input. With `pool` (a plain ReLU,
 * the wasm backend's BATCH_NORM_POOL), y is the 2×2, stride-2 max pool of that ReLU's output.
 */
function fusedBatchNorm(
  epsilon: number,
  cap: number | undefined,
  onStats: (mean: tf.Tensor, variance: tf.Tensor) => void,
  pool = false,
) {
  const op = tf.customGrad((...args: unknown[]) => {
    const [x, gamma, beta] = args as tf.Tensor[];
    const save = args[3] as (tensors: tf.Tensor[]) => void;
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
    const attrs = { epsilon, activation: cap !== undefined, cap: cap ?? Infinity };
    const kernel = hasKernel(BATCH_NORM_TRAIN);
    const [y, mean, variance, invStd] = pool
      ? tf.engine().runKernel(BATCH_NORM_POOL, { x, gamma, beta }, { epsilon }) as tf.Tensor[]
      : kernel
      ? tf.engine().runKernel(BATCH_NORM_TRAIN, { x, gamma, beta }, attrs) as tf.Tensor[]
      : tf.tidy(() => {
        const mean = tf.mean(x, axes);
        const variance = tf.mean(tf.squaredDifference(x, mean), axes);
        const invStd = tf.rsqrt(tf.add(variance, epsilon));
        const z = tf.add(tf.mul(tf.mul(tf.sub(x, mean), invStd), gamma), beta);
        return [cap === undefined ? z : activate(z, cap), mean, variance, invStd];
      });
    // Inside the op's forward pass the tape is off: the moving averages' update records no
    // gradient nodes (nor the tape's copies of their inputs). The op disposes what it does not
    // return or save.
    onStats(mean, variance);
    save([x, mean, invStd, gamma, beta]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        // A custom gradient: the registry's wrapper (releaseUsedGradients) does not see it.
        releaseAfterThisGradient(dy, saved);
        return tf.tidy(() => {
          const [x, mean, invStd, gamma, beta] = saved;
          if (pool) {
            const inputs = { dy: dy as tf.Tensor, x, mean, invStd, gamma, beta };
            return tf.engine().runKernel(BATCH_NORM_POOL_GRAD, inputs, {}) as tf.Tensor[];
          }
          if (kernel) {
            const inputs = { dy: dy as tf.Tensor, x, mean, invStd, gamma, beta };
            return tf.engine().runKernel(BATCH_NORM_TRAIN_GRAD, inputs, attrs) as tf.Tensor[];
          }
          const n = x.size / mean.size;
          const xHat = tf.mul(tf.sub(x, mean), invStd);
          const gradient = cap === undefined ? dy as tf.Tensor : tf.where(
            activationMask(tf.add(tf.mul(xHat, gamma), beta), cap),
            dy as tf.Tensor,
            tf.zerosLike(dy as tf.Tensor),
          );
          const dBeta = tf.sum(gradient, axes);
          const dGamma = tf.sum(tf.mul(gradient, xHat), axes);
          // dx = γ/(n·σ) · (n·dy − Σdy − x̂·Σ(dy·x̂))
          const inner = tf.sub(tf.sub(tf.mul(gradient, n), dBeta), tf.mul(xHat, dGamma));
          const dx = tf.mul(inner, tf.div(tf.mul(gamma, invStd), n));
          return [dx, dGamma, dBeta];
        });
      },
    };
  });
  return op as (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor;
}

/** relu(a + b) (or the capped ReLU) as one op; the gradient recomputes a + b for its mask. */
function fusedAddRelu(cap: number) {
  return tf.customGrad((...args: unknown[]) => {
    const [a, b] = args as tf.Tensor[];
    const save = args[2] as (tensors: tf.Tensor[]) => void;
    save([a, b]);
    return {
      value: tf.tidy(() => activate(tf.add(a, b), cap)),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        releaseAfterThisGradient(dy, saved);
        return tf.tidy(() => {
          const g = dy as tf.Tensor;
          const masked = hasKernel(ADD_RELU_GRAD)
            ? tf.engine().runKernel(ADD_RELU_GRAD, { dy: g, a: saved[0], b: saved[1] }, {
              activation: true,
              cap,
            }) as tf.Tensor
            : tf.where(
              activationMask(tf.add(saved[0], saved[1]), cap),
              g,
              tf.zerosLike(g),
            );
          return [masked, tf.clone(masked)];
        });
      },
    };
  }) as (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;
}

/**
 * Outputs already passed through the ReLU layer that is their producer's only consumer: that
 * layer hands them on as they are. (Were the mark lost, it would apply itself again, which a ReLU
 * does to its own output without change.)
 */
const activated = new WeakSet<tf.Tensor>();

/** The one layer that is all of `layer`'s consumers, if there is one. */
function soleConsumer(layer: tfl.layers.Layer): tfl.layers.Layer | undefined {
  const consumers = new Set(layer.outboundNodes.map((node) => node.outboundLayer));
  return consumers.size === 1 ? [...consumers][0] : undefined;
}

/** The cap (Infinity: none) of the ReLU layer that is all of `layer`'s consumers, if it is one. */
function soleReluConsumer(layer: tfl.layers.Layer): number | undefined {
  if (!fuseActivations) return undefined;
  const next = soleConsumer(layer);
  if (next === undefined || next.getClassName() !== "ReLU") return undefined;
  const { maxValue } = next as unknown as { maxValue: number | null | undefined };
  return maxValue === null || maxValue === undefined ? Infinity : maxValue;
}

/** Whether a gradient is being taken (tfjs' tape records the ops run now). */
function tapeOn(): boolean {
  return (tf.engine() as unknown as EngineInternals).isTapeOn();
}

/**
 * Batch norm in inference mode over the last axis, with γ and β, and the ReLU layer that is its
 * only consumer fused in, as one kernel (wasm), that ReLU handing its output on: MobileNetV2's
 * ReLU6s were two more passes over every activation (tfjs-layers applies relu, then clipByValue).
 * Undefined where this does not apply: no such ReLU, another backend, or a gradient being taken
 * (the tape is on, as for Grad-CAM: the kernel has no gradient).
 */
function inferenceBatchNorm(self: tfl.layers.Layer, input: tf.Tensor): tf.Tensor | undefined {
  const layer = self as unknown as BatchNormInternals;
  if (input.dtype !== "float32" || !hasKernel(BATCH_NORM_INFER) || tapeOn()) return undefined;
  const cap = soleReluConsumer(self);
  if (cap === undefined) return undefined;
  const inputs = {
    x: input,
    mean: layer.movingMean.read(),
    variance: layer.movingVariance.read(),
    offset: layer.beta!.read(),
    scale: layer.gamma!.read(),
  };
  const attrs = { epsilon: layer.epsilon, activation: true, cap };
  const output = tf.engine().runKernel(BATCH_NORM_INFER, inputs, attrs) as tf.Tensor;
  activated.add(output);
  return output;
}

function leanBatchNormCall(original: LayerCall): LayerCall {
  return function (this: tfl.layers.Layer, inputs, kwargs) {
    const layer = this as unknown as BatchNormInternals;
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const lastAxis = layer.axis === -1 || layer.axis === input.rank - 1;
    if (!lastAxis || layer.gamma === null || layer.beta === null) {
      return original.call(this, inputs, kwargs);
    }
    if (!kwargs?.training) {
      return inferenceBatchNorm(this, input) ?? original.call(this, inputs, kwargs);
    }
    const cap = soleReluConsumer(this);
    // The moving averages as tfjs-layers updates them: v ← v − (v − value)·(1 − momentum).
    const updateMovingAverages = (mean: tf.Tensor, variance: tf.Tensor) => {
      if (hasKernel(MOVING_AVERAGES)) {
        // One kernel for both, instead of three each.
        tf.tidy(() => {
          const [movingMean, movingVariance] = [layer.movingMean, layer.movingVariance];
          const [newMean, newVariance] = tf.engine().runKernel(MOVING_AVERAGES, {
            mean,
            variance,
            movingMean: movingMean.read(),
            movingVariance: movingVariance.read(),
          }, { momentum: layer.momentum }) as tf.Tensor[];
          movingMean.write(newMean);
          movingVariance.write(newVariance);
        });
        return;
      }
      for (
        const [variable, value] of [[layer.movingMean, mean], [layer.movingVariance, variance]]
      ) {
        tf.tidy(() => {
          const current = (variable as tfl.LayerVariable).read();
          (variable as tfl.LayerVariable).write(
            tf.sub(current, tf.mul(tf.sub(current, value as tf.Tensor), 1 - layer.momentum)),
          );
        });
      }
    };
    // A plain ReLU whose only consumer is a 2×2 max pool: batch norm, ReLU and pool as one op
    // (wasm), the ReLU and pool layers handing its output on.
    const relu = cap === Infinity ? soleConsumer(this) : undefined;
    const pool = relu !== undefined && hasKernel(BATCH_NORM_POOL) && input.rank === 4 &&
      input.shape[1]! % 2 === 0 && input.shape[2]! % 2 === 0 && soleMaxPoolConsumer(relu);
    const output = fusedBatchNorm(layer.epsilon, cap, updateMovingAverages, pool)(
      input,
      layer.gamma!.read(),
      layer.beta!.read(),
    );
    if (cap !== undefined) activated.add(output);
    if (pool) pooledOutputs.add(output);
    return output;
  };
}

function leanAddCall(original: LayerCall): LayerCall {
  return function (this: tfl.layers.Layer, inputs, kwargs) {
    const cap = kwargs?.training && Array.isArray(inputs) && inputs.length === 2 &&
        inputs[0].shape.join() === inputs[1].shape.join()
      ? soleReluConsumer(this)
      : undefined;
    if (cap === undefined) return original.call(this, inputs, kwargs);
    const [a, b] = inputs as tf.Tensor[];
    const output = fusedAddRelu(cap)(a, b);
    activated.add(output);
    return output;
  };
}

interface ConvInternals {
  rank: number;
  kernel: tfl.LayerVariable;
  bias: tfl.LayerVariable | null;
  strides: number[];
  padding: string;
  dataFormat: string;
  dilationRate: number | number[];
  activation: { getClassName(): string } | null;
}

/** Tensors the next gradient releases (see `releaseUsedGradients`). */
let released: tf.Tensor[] = [];

/**
 * Called as an op's gradient starts: releases the previous op's `dy` and saved tensors, and
 * marks this op's for release when the next gradient starts. The tape made `saved` for this op
 * alone (clones sharing the data), and it makes every input gradient of an op before the next
 * op's gradient starts; no gradient here hands `dy` itself on as an input gradient.
 */
function releaseAfterThisGradient(
  dy: tf.Tensor | (tf.Tensor | null)[],
  saved: tf.Tensor[],
): void {
  for (const tensor of released) tensor.dispose();
  // An output no gradient reached has a null dy.
  const dys = Array.isArray(dy) ? dy.filter((d): d is tf.Tensor => d !== null) : [dy];
  released = [...dys, ...saved];
}

/**
 * dz = dy·(y > 0) through a ReLU whose output is `y`, and the bias's gradient (dz summed over every
 * axis but the last, channels): one pass where the backend has our kernel. Both live until the
 * next op's gradient starts.
 */
function reluBiasGradient(dy: tf.Tensor, y: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const [dz, db] = hasKernel(RELU_BIAS_GRAD)
    ? tf.engine().runKernel(RELU_BIAS_GRAD, { dy, y }, {}) as tf.Tensor[]
    : tf.tidy(() => {
      const masked = tf.mul(dy, tf.step(y));
      return [masked, tf.sum(masked, Array.from({ length: y.rank - 1 }, (_, i) => i))];
    });
  released.push(dz, db);
  return [dz, db];
}

/**
 * The gradient of FusedConv2D run by the lean conv path (ReLU or none, optional bias, no
 * dilation): tfjs registers none, since its own fused op is a custom gradient. dz = dy·(y > 0) is
 * made once for the three input gradients; the tape only asks for those it needs (none for the
 * model's input).
 */
const fusedConvReluGrad = {
  kernelName: "FusedConv2D",
  inputsToSave: ["x", "filter"], // the bias's gradient needs no value of it
  outputsToSave: [true],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const [x, filter, y] = saved;
    const { activation } = attrs as unknown as { activation: string };
    if (activation !== "relu" && activation !== "linear") {
      throw new Error(
        `the lean FusedConv2D gradient handles 'relu' and 'linear', not '${activation}'`,
      );
    }
    const [dz, db] = activation === "relu"
      ? reluBiasGradient(dy as tf.Tensor, y)
      : [dy as tf.Tensor, undefined];
    return convInputGradients(dz, db, x, filter, attrs);
  },
};

/** The windows a ReLU and a 2×2 max pool pass a gradient through (POOL_ROUTE's lists). */
interface RoutedLists {
  g: tf.Tensor;
  off: tf.Tensor;
  count: tf.Tensor;
}

/**
 * The input gradients of a convolution from the gradient at its output: dz itself, or the routed
 * lists of its non-zero part (pool_routed_grad.ts); the bias's is `db` (or dz's sum).
 */
function convInputGradients(
  dz: tf.Tensor | RoutedLists,
  db: tf.Tensor | undefined,
  x: tf.Tensor,
  filter: tf.Tensor,
  attrs: tf.NamedAttrMap,
) {
  const { strides, pad, dimRoundingMode } = attrs as unknown as {
    strides: [number, number];
    pad: "same" | "valid";
    dimRoundingMode?: "floor" | "round" | "ceil";
  };
  const common: tf.NamedAttrMap = { strides, pad, dataFormat: "NHWC" };
  if (dimRoundingMode !== undefined) common.dimRoundingMode = dimRoundingMode;
  const [dense, lists] = dz instanceof tf.Tensor ? [dz, undefined] : [undefined, dz];
  const run = (name: string, inputs: tf.NamedTensorMap, shape: tf.NamedAttrMap) =>
    tf.engine().runKernel(name, inputs, { ...common, ...shape }) as tf.Tensor;
  // The tape asks for the inputs the kernel had: `bias` only where there was one.
  return {
    x: () =>
      lists === undefined
        ? run("Conv2DBackpropInput", { dy: dense!, filter }, { inputShape: x.shape })
        : run(ROUTED_INPUT_GRAD, { ...lists, filter }, { inputShape: x.shape }),
    filter: () =>
      lists === undefined
        ? run("Conv2DBackpropFilter", { x, dy: dense! }, { filterShape: filter.shape })
        : run(ROUTED_FILTER_GRAD, { x, ...lists }, { filterShape: filter.shape }),
    bias: () => db === undefined ? tf.sum(dense!, [0, 1, 2]) : tf.clone(db),
  };
}

/**
 * The gradient of the fused convolution + bias + ReLU + 2×2 max pool: the pool's and the ReLU's
 * gradients and the bias's in one kernel, then the convolution's input gradients from dz.
 */
const convReluPoolGrad = {
  kernelName: CONV_RELU_POOL,
  inputsToSave: ["x", "filter"],
  outputsToSave: [false, true], // y, the ReLU's output before the pool
  gradFunc: (dys: tf.Tensor | (tf.Tensor | null)[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const [x, filter, y] = saved;
    const dy = Array.isArray(dys) ? dys[0] : dys;
    if (dy === null) throw new Error(`${CONV_RELU_POOL}: no gradient reached the pooled output`);
    if (
      hasKernel(POOL_ROUTE) &&
      routedGradientApplies(tf.backend(), x, filter, attrs.strides as [number, number])
    ) {
      return routedGradients(dy, y, x, filter, attrs);
    }
    const [dz, db] = tf.engine().runKernel(POOL_RELU_BIAS_GRAD, { dy, y }, {}) as tf.Tensor[];
    released.push(dz, db); // both live until the next op's gradient starts
    return convInputGradients(dz, db, x, filter, attrs);
  },
};

/**
 * The convolution's gradients from the windows the pool and the ReLU let through only
 * (pool_routed_grad.ts): the lists, then each input's gradient from them.
 */
function routedGradients(
  dy: tf.Tensor,
  y: tf.Tensor,
  x: tf.Tensor,
  filter: tf.Tensor,
  attrs: tf.NamedAttrMap,
) {
  const gridWidth = (y.shape[2] as number) + (filter.shape[1] as number) - 1;
  const [g, off, count, db] = tf.engine().runKernel(POOL_ROUTE, { dy, y }, {
    gridWidth,
  }) as tf.Tensor[];
  released.push(g, off, count, db); // all live until the next op's gradient starts
  return convInputGradients({ g, off, count }, db, x, filter, attrs);
}

/** Outputs already pooled by the convolution before the pool layer that is its only consumer. */
const pooled = new WeakSet<object>();
const pooledOutputs = {
  /** Marks `tensor` (by its data: tfjs-layers clones an output that a layer hands on as is). */
  add: (tensor: tf.Tensor) => pooled.add(tensor.dataId),
  has: (tensor: tf.Tensor) => pooled.has(tensor.dataId),
};

/** Whether all of `layer`'s consumers are one 2×2, stride-2, unpadded NHWC max-pool layer. */
function soleMaxPoolConsumer(layer: tfl.layers.Layer): boolean {
  if (!fuseActivations) return false;
  const consumers = new Set(layer.outboundNodes.map((node) => node.outboundLayer));
  if (consumers.size !== 1) return false;
  const [next] = consumers;
  if (next === undefined || next.getClassName() !== "MaxPooling2D") return false;
  const pool = next as unknown as {
    poolSize: number[];
    strides: number[];
    padding: string;
    dataFormat: string;
  };
  return pool.poolSize.join() === "2,2" && pool.strides.join() === "2,2" &&
    pool.padding === "valid" && pool.dataFormat === "channelsLast";
}

/**
 * The padding a ZeroPadding2D layer left to the convolution that is its only consumer, in
 * inference, by the tensor it handed on unpadded: [[top, bottom], [left, right]].
 */
const deferredPadding = new WeakMap<tf.Tensor, [[number, number], [number, number]]>();

/**
 * Whether `layer` can take a zero padding as its own explicit padding: a 2-D or depthwise
 * convolution with "valid" padding, NHWC, no dilation, a linear or ReLU activation.
 */
function takesPadding(layer: tfl.layers.Layer): boolean {
  const name = layer.getClassName();
  const conv = layer as unknown as ConvInternals & { depthMultiplier?: number };
  const activation = conv.activation?.getClassName() ?? "linear";
  return (name === "Conv2D" || (name === "DepthwiseConv2D" && conv.depthMultiplier === 1)) &&
    conv.padding === "valid" && conv.dataFormat === "channelsLast" &&
    [conv.dilationRate].flat().every((d) => d === 1) &&
    (activation === "linear" || activation === "relu");
}

/**
 * A ZeroPadding2D layer in inference (the tape off) whose only consumer takes the padding as its
 * own: x handed on as it is (a shared copy), its padding left to that layer. MobileNetV2's five
 * (before its stride-2 convolutions) copied 265 MB a batch of 32 at 224 px.
 */
function leanZeroPaddingCall(original: LayerCall): LayerCall {
  return function (this: tfl.layers.Layer, inputs, kwargs) {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const layer = this as unknown as {
      padding: [[number, number], [number, number]];
      dataFormat: string;
    };
    const next = soleConsumer(this);
    if (
      kwargs?.training || tapeOn() || input.rank !== 4 ||
      layer.dataFormat !== "channelsLast" || next === undefined || !takesPadding(next)
    ) {
      return original.call(this, inputs, kwargs);
    }
    const output = sharedCopy(input);
    if (output === undefined) return original.call(this, inputs, kwargs);
    deferredPadding.set(output, layer.padding);
    return output;
  };
}

/**
 * `layer`'s convolution of `input` with the padding left to it: act(conv + bias), explicit pads.
 */
function paddedConvolution(
  layer: tfl.layers.Layer,
  input: tf.Tensor,
  [rows, cols]: [[number, number], [number, number]],
): tf.Tensor {
  const conv = layer as unknown as ConvInternals & { depthwiseKernel?: tfl.LayerVariable };
  const pad = [[0, 0], rows, cols, [0, 0]] as tf.backend_util.ExplicitPadding;
  const activation = conv.activation?.getClassName() === "relu" ? "relu" : "linear";
  const bias = conv.bias?.read();
  const x = input as tf.Tensor4D;
  const strides = conv.strides as [number, number];
  if (conv.depthwiseKernel !== undefined) {
    // tfjs' fused depthwise op takes no explicit padding: the plain one, then bias and ReLU.
    const filter = conv.depthwiseKernel.read() as tf.Tensor4D;
    return tf.tidy(() => {
      const y = tf.depthwiseConv2d(x, filter, strides, pad);
      const biased = bias === undefined ? y : tf.add(y, bias);
      return activation === "relu" ? tf.relu(biased) : biased;
    });
  }
  const filter = conv.kernel.read() as tf.Tensor4D;
  return tf.fused.conv2d({ x, filter, strides, pad, bias, activation });
}

/** A depthwise convolution's call, taking a padding left to it (see leanZeroPaddingCall). */
function leanDepthwiseCall(original: LayerCall): LayerCall {
  return function (this: tfl.layers.Layer, inputs, kwargs) {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const padding = deferredPadding.get(input);
    if (padding === undefined) return original.call(this, inputs, kwargs);
    return paddedConvolution(this, input, padding);
  };
}

function leanConvCall(original: LayerCall): LayerCall {
  return function (this: tfl.layers.Layer, inputs, kwargs) {
    const conv = this as unknown as ConvInternals;
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const padding = deferredPadding.get(input);
    if (padding !== undefined) return paddedConvolution(this, input, padding);
    const dilations = [conv.dilationRate].flat();
    const activation = conv.activation?.getClassName() ?? "linear";
    if (
      !kwargs?.training || conv.rank !== 2 || input.rank !== 4 ||
      conv.dataFormat !== "channelsLast" || !["relu", "linear"].includes(activation) ||
      dilations.some((d) => d !== 1) || (conv.padding !== "same" && conv.padding !== "valid")
    ) {
      return original.call(this, inputs, kwargs);
    }
    const kernelInputs: tf.NamedTensorMap = { x: input, filter: conv.kernel.read() };
    if (conv.bias !== null) kernelInputs.bias = conv.bias.read();
    const attrs = {
      strides: conv.strides,
      pad: conv.padding,
      dataFormat: "NHWC",
      dilations: [1, 1],
      activation,
    } as unknown as tf.NamedAttrMap;
    if (activation === "relu" && hasKernel(CONV_RELU_POOL) && soleMaxPoolConsumer(this)) {
      const { outHeight, outWidth } = tf.backend_util.computeConv2DInfo(
        input.shape as [number, number, number, number],
        kernelInputs.filter.shape as [number, number, number, number],
        conv.strides as [number, number],
        1,
        conv.padding as "same" | "valid",
      );
      if (outHeight % 2 === 0 && outWidth % 2 === 0) {
        const [pooledOutput] = tf.engine().runKernel(
          CONV_RELU_POOL,
          kernelInputs,
          attrs,
        ) as tf.Tensor[];
        pooledOutputs.add(pooledOutput);
        return pooledOutput;
      }
    }
    return tf.engine().runKernel("FusedConv2D", kernelInputs, attrs) as tf.Tensor;
  };
}

interface DenseInternals {
  kernel: tfl.LayerVariable;
  bias: tfl.LayerVariable | null;
  activation: { getClassName(): string } | null;
  invokeCallHook(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): void;
}

/**
 * The gradient of _FusedMatMul as the lean dense path runs it (a 2-D input, no transposes, a
 * ReLU or none, an optional bias): dz = dy·(y > 0) and the bias's gradient in one pass where the
 * backend has the kernel, then dx = dz·Wᵀ and dW = xᵀ·dz. tfjs registers none (its fused op is
 * a custom gradient, which splits a ReLU layer into matMul, add and relu while training).
 */
const fusedMatMulGrad = {
  kernelName: "_FusedMatMul",
  inputsToSave: ["a", "b"],
  outputsToSave: [true],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const [a, b, y] = saved;
    const { activation, transposeA, transposeB } = attrs as unknown as {
      activation: string;
      transposeA: boolean;
      transposeB: boolean;
    };
    if ((activation !== "relu" && activation !== "linear") || transposeA || transposeB) {
      throw new Error(`the lean _FusedMatMul gradient handles a plain 'relu' or 'linear' product`);
    }
    const [dz, db] = activation === "relu"
      ? reluBiasGradient(dy as tf.Tensor, y)
      : [dy as tf.Tensor, undefined];
    return {
      a: () => tf.matMul(dz, b, false, true),
      b: () => tf.matMul(a, dz, true, false),
      bias: () => db === undefined ? tf.sum(dz, 0) : tf.clone(db),
    };
  },
};

/**
 * A dense layer with a ReLU (or none) as one _FusedMatMul in training too: tfjs-core splits a
 * fused product with an activation into matMul, add and relu whenever a gradient is taken, and
 * its gradient into a step, a multiply, a sum and reshapes.
 */
function leanDenseCall(original: LayerCall): LayerCall {
  return function (this: tfl.layers.Layer, inputs, kwargs) {
    const dense = this as unknown as DenseInternals;
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const activation = dense.activation?.getClassName() ?? "linear";
    // On wasm (our kernels take 2-D products; elsewhere tfjs' own path stays).
    if (
      !kwargs?.training || !fuseActivations || input.rank !== 2 || !hasKernel(RELU_BIAS_GRAD) ||
      (activation !== "relu" && activation !== "linear") || input.dtype !== "float32"
    ) {
      return original.call(this, inputs, kwargs);
    }
    dense.invokeCallHook(inputs, kwargs);
    const kernelInputs: tf.NamedTensorMap = { a: input, b: dense.kernel.read() };
    if (dense.bias !== null) kernelInputs.bias = dense.bias.read();
    return tf.engine().runKernel("_FusedMatMul", kernelInputs, {
      transposeA: false,
      transposeB: false,
      activation,
    }) as tf.Tensor;
  };
}

function leanReluCall(original: LayerCall): LayerCall {
  return function (this: tfl.layers.Layer, inputs, kwargs) {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    if (activated.has(input)) return passThrough(input); // its producer applied this ReLU already
    const maxValue = (this as unknown as { maxValue: number | null }).maxValue;
    if (maxValue === null || maxValue === undefined) return original.call(this, inputs, kwargs);
    return tf.clipByValue(input, 0, maxValue);
  };
}

function leanPoolCall(original: LayerCall): LayerCall {
  return function (this: tfl.layers.Layer, inputs, kwargs) {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    // Its producer pooled already (and only this layer consumes it).
    if (pooledOutputs.has(input)) return passThrough(input);
    return original.call(this, inputs, kwargs);
  };
}

let enabled = true;
let fuseActivations = true;

/** Turns the lean path, or only its fused activations, off and on (for tests). */
export function setLeanTraining(on: boolean, options: { fuseActivations?: boolean } = {}): void {
  enabled = on;
  fuseActivations = options.fuseActivations ?? true;
}

interface TapeNode {
  kernelName: string;
  gradient?: (dys: (tf.Tensor | null)[]) => unknown;
}

interface EngineInternals {
  saveTensorsForBackwardMode(tensors: tf.Tensor[]): tf.Tensor[];
  addTapeNode(
    kernelName: string,
    inputs: tf.NamedTensorMap,
    outputs: tf.Tensor[],
    gradientsFunc: unknown,
    saved: tf.Tensor[],
    attrs: tf.NamedAttrMap,
  ): void;
  keep<T extends tf.Tensor>(tensor: T): T;
  clone(tensor: tf.Tensor): tf.Tensor;
  isTapeOn(): boolean;
  backendName: string;
  makeTensorFromTensorInfo(info: tf.TensorInfo, backend: tf.KernelBackend): tf.Tensor;
  state: {
    tensorInfo: WeakMap<object, { backend: tf.KernelBackend }>;
    activeTape: TapeNode[] | null;
  };
}

/**
 * Ops of ours with an output no later op uses (CONV_RELU_POOL's y, kept for its gradient only):
 * their gradient takes a null dy for it. tfjs' tape would make a zero-filled tensor of its size
 * in JavaScript and upload it on every backward pass: with LeNet at a batch of 64, that was a
 * fifth of the step.
 */
const NULL_DY_KERNELS = new Set([CONV_RELU_POOL]);

/** Records the tape node of a NULL_DY_KERNELS op with a gradient that passes null dys on. */
function patchTapeNodes() {
  const engine = tf.engine() as unknown as EngineInternals;
  const original = engine.addTapeNode;
  engine.addTapeNode = function (this: EngineInternals, kernelName, inputs, outputs, ...rest) {
    original.call(this, kernelName, inputs, outputs, ...rest);
    const tape = this.state.activeTape;
    const node = tape?.[tape.length - 1];
    if (!enabled || !NULL_DY_KERNELS.has(kernelName) || node?.kernelName !== kernelName) return;
    const config = tf.getGradient(kernelName);
    if (config === undefined) return;
    const [, saved, attrs] = rest;
    node.gradient = (dys) => config.gradFunc(dys as tf.Tensor[], saved, attrs);
  };
}

/**
 * Saves the tensors an op's gradient needs as new tensors sharing their data (a counted
 * reference), as tfjs's own clone through Identity does on the cpu and wasm backends, but
 * without running a kernel and recording a tape node for each: a LeNet step saved 23 tensors,
 * each a full op. (The tape node of a clone only matters for a gradient of a gradient, which the
 * lean path does not support anyway: it releases saved tensors early.) On other backends than
 * wasm and cpu, tfjs's clone runs.
 */
function patchSavedTensors() {
  const engine = tf.engine() as unknown as EngineInternals;
  const original = engine.saveTensorsForBackwardMode;
  engine.saveTensorsForBackwardMode = function (this: EngineInternals, tensors: tf.Tensor[]) {
    if (!enabled) return original.call(this, tensors);
    return tensors.map((tensor) => {
      const copy = sharedCopy(tensor);
      return copy === undefined ? original.call(this, [tensor])[0] : this.keep(copy);
    });
  };
  // A custom gradient's `save` (the lean path's batch norm, convolutions and loss: 16 tensors a
  // `compact-cnn` step) clones through Engine.clone, an Identity kernel and a tape node each.
  const clone = engine.clone;
  engine.clone = function (this: EngineInternals, tensor: tf.Tensor) {
    return (enabled ? sharedCopy(tensor) : undefined) ?? clone.call(this, tensor);
  };
}

/**
 * A new tensor sharing `tensor`'s data (a counted reference, as the backend's own Identity
 * makes), with no kernel run and no tape node; undefined on other backends than wasm and cpu
 * (WebGPU's buffers), where tfjs' clone must run.
 */
function sharedCopy(tensor: tf.Tensor): tf.Tensor | undefined {
  const engine = tf.engine() as unknown as EngineInternals;
  const backend = engine.state.tensorInfo.get(tensor.dataId)?.backend as
    | (tf.KernelBackend & { incRef?: (dataId: object) => void })
    | undefined;
  const name = engine.backendName;
  if (backend?.incRef === undefined || (name !== "wasm" && name !== "cpu")) return undefined;
  backend.incRef(tensor.dataId);
  const { dataId, shape, dtype } = tensor;
  return engine.makeTensorFromTensorInfo({ dataId, shape, dtype }, backend);
}

/** The tape's name for {@linkcode passThrough}'s nodes (no gradient registered under it). */
const PASS_THROUGH = "DenovisionPassThrough";

/**
 * `x` handed on by a layer the lean path fused into its producer (a ReLU or a max pool): a new
 * tensor sharing x's data, whose tape node passes dy on as a shared copy too. tfjs-layers' own
 * copy of a layer's unchanged input costs an Identity op forward and a Cast op backward, each
 * with its engine bookkeeping (12 ops a `compact-cnn` step). Elsewhere than wasm and cpu, x's
 * clone.
 */
function passThrough(x: tf.Tensor): tf.Tensor {
  const y = sharedCopy(x);
  if (y === undefined) return x.clone();
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.isTapeOn()) {
    const gradient = (dy: tf.Tensor) => {
      // Not in the registry, so not wrapped by releaseUsedGradients: release as it would.
      releaseAfterThisGradient(dy, []);
      return { x: () => sharedCopy(dy) ?? dy.clone() };
    };
    engine.addTapeNode(PASS_THROUGH, { x }, [y], gradient, [], {});
  }
  return y;
}

let layersPatched = false;

function patchLayers() {
  if (layersPatched) return;
  layersPatched = true;
  const patch = (layer: tfl.layers.Layer, lean: (original: LayerCall) => LayerCall) => {
    const prototype = Object.getPrototypeOf(layer) as { call: LayerCall };
    const original = prototype.call;
    const leaner = lean(original);
    prototype.call = function (this: tfl.layers.Layer, inputs, kwargs) {
      return (enabled ? leaner : original).call(this, inputs, kwargs);
    };
  };
  patch(tfl.layers.batchNormalization({}), leanBatchNormCall);
  patch(tfl.layers.reLU({}), leanReluCall);
  patch(tfl.layers.add({}), leanAddCall);
  patch(tfl.layers.conv2d({ filters: 1, kernelSize: 1 }), leanConvCall);
  patch(tfl.layers.depthwiseConv2d({ kernelSize: 1 }), leanDepthwiseCall);
  patch(tfl.layers.zeroPadding2d({}), leanZeroPaddingCall);
  patch(tfl.layers.maxPooling2d({ poolSize: 2 }), leanPoolCall);
  patch(tfl.layers.dense({ units: 1 }), leanDenseCall);
  tf.registerGradient(fusedConvReluGrad as unknown as tf.GradConfig);
  tf.registerGradient(convReluPoolGrad as unknown as tf.GradConfig);
  tf.registerGradient(fusedMatMulGrad as unknown as tf.GradConfig);
  patchSavedTensors();
  patchTapeNodes();
  patchMeanGradient();
}

/**
 * Mean's gradient over middle axes (global average pooling) as one kernel where the backend has
 * ours: dy / count written across the reduced axes. tfjs' own fills a tensor of ones of the
 * input's size in JavaScript, then multiplies and divides (the same values).
 */
function patchMeanGradient() {
  const config = tf.getGradient("Mean") as GradConfig | undefined;
  if (config === undefined) return;
  const original = config.gradFunc;
  config.gradFunc = (dy, saved, attrs) => {
    const [x] = saved;
    const { axis } = attrs as { axis: number | number[] };
    const axes = Array.isArray(axis) ? axis : [axis];
    if (
      !enabled || Array.isArray(dy) || x.dtype !== "float32" || !hasKernel(MEAN_GRAD) ||
      middleAxes(x.shape, axes) === undefined
    ) {
      return original(dy, saved, attrs);
    }
    return { x: () => tf.engine().runKernel(MEAN_GRAD, { dy }, { shape: x.shape, axes }) };
  };
}

type GradConfig = {
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: unknown) => unknown;
};
const wrapped = new WeakSet<GradConfig>();

/**
 * Wraps every registered gradient so that the `dy` of the op the tape processed last is released
 * when the next op's gradient starts: by then the tape has made every input gradient of that op
 * (it runs them at once, in reverse order), and tfjs-core's gradients never hand `dy` itself
 * on as an input gradient. Gradients registered later (another tfjs package loading) are wrapped
 * on the next call.
 */
function releaseUsedGradients() {
  const globals = (globalThis as { _tfGlobals?: Map<string, unknown> })._tfGlobals;
  const registry = globals?.get("gradRegistry") as Map<string, GradConfig> | undefined;
  if (registry === undefined) return;
  for (const config of registry.values()) {
    if (wrapped.has(config)) continue;
    const original = config.gradFunc;
    config.gradFunc = (dy, saved, attrs) => {
      if (!enabled) return original(dy, saved, attrs);
      releaseAfterThisGradient(dy, saved);
      return original(dy, saved, attrs);
    };
    wrapped.add(config);
  }
}

/**
 * Runs a training forward pass (inside `tf.variableGrads` or `optimizer.minimize`) in its own
 * tidy when the lean path is on, so that its intermediate tensors are freed when it returns and
 * each activation lives only through the tape's saved references (see 3. above). Returns `f`'s
 * result, kept.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../backend/mod.ts";
 * import { leanForward } from "./_lean.ts";
 * await useBackend("wasm");
 * const x = tf.variable(tf.ones([2]));
 * const { grads } = tf.variableGrads(() => tf.sum(leanForward(() => tf.square(tf.mul(x, 3)))));
 * assert.equal(grads[x.name].dataSync()[0], 18);
 * ```
 */
export function leanForward<T extends tf.TensorContainer>(f: () => T): T {
  return enabled ? tf.tidy(f) : f();
}

/**
 * Makes inference lean too (idempotent): a batch norm and the ReLU after it run as one kernel
 * (wasm), a capped ReLU as one clip, a zero padding as its convolution's own. Training steps
 * ({@linkcode useLeanTraining}) turn it on as well.
 *
 * @example
 * ```ts ignore
 * useLeanInference();
 * const logits = model.predict(images);
 * ```
 */
export function useLeanInference(): void {
  patchLayers();
}

/** Makes training steps lean (idempotent): call before a step is taken. */
export function useLeanTraining(): void {
  patchLayers();
  releaseUsedGradients();
}
