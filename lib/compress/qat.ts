/**
 * Quantization-aware training: the kernels of convolutions and dense layers are fake-quantized
 * to 8 bits in the forward pass (per output channel, or per tensor with TF.js's own uint8
 * scheme so the learned grid survives the TF.js export exactly), and the activations they read
 * (their inputs) per tensor on a uint8 grid over ranges observed during training (an exponential
 * moving average of min and max), as ONNX's QDQ format runs them after export.
 * Gradients pass straight through (clipped to the range for activations), as in
 * `torch.ao.quantization` and TF MOT's `quantize_model`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import type { Callbacks } from "../train/mod.ts";

/** A quantization-aware-training setting that cannot work; the message names it. */
export class QuantizationError extends Error {
  /** Always `QuantizationError`. */
  override name = "QuantizationError";
}

/**
 * 8-bit fake quantization of `x`, the gradient the identity (straight-through). Per tensor it is
 * affine over [min, max] (256 levels, min and max on the grid, as TF.js's uint8 weights:
 * q = round((x − min) / scale), x' = q·scale + min); with `perChannel`, one symmetric int8 scale
 * per slice along the last axis (PyTorch's `per_channel_symmetric`: scale = max|x| / 127,
 * q in [−127, 127], zero point 0), which survives batch-norm folding and ONNX's QDQ format.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../backend/mod.ts";
 * import { fakeQuantize } from "./qat.ts";
 * await useBackend("cpu");
 * const x = tf.tensor1d([0, 0.1, 1, 2.55]);
 * const q = fakeQuantize(x);
 * assert.deepEqual(Array.from(q.dataSync(), (v) => Math.round(v * 100) / 100), [0, 0.1, 1, 2.55]);
 * tf.dispose([x, q]);
 * ```
 */
export function fakeQuantize(x: tf.Tensor, options: { perChannel?: boolean } = {}): tf.Tensor {
  const quantize = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const value = tf.tidy(() => {
      const v = input;
      if (options.perChannel) {
        const axes = [...Array(v.rank - 1).keys()];
        const step = tf.maximum(tf.div(tf.max(tf.abs(v), axes, true), 127), 1e-12);
        return tf.mul(tf.clipByValue(tf.round(tf.div(v, step)), -127, 127), step);
      }
      const axes = undefined;
      const min = tf.min(v, axes, true);
      const max = tf.max(v, axes, true);
      const scale = tf.maximum(tf.div(tf.sub(max, min), 255), 1e-12);
      return tf.add(tf.mul(tf.round(tf.div(tf.sub(v, min), scale)), scale), min);
    });
    save([]);
    return { value, gradFunc: (dy: tf.Tensor) => tf.clone(dy) };
  });
  return quantize(x);
}

/**
 * The uint8 affine quantization of an activation range [min, max] (which holds 0), as ONNX's
 * QuantizeLinear and PyTorch's per-tensor observers compute it: scale = (max − min) / 255 as a
 * float32, zero point = round(−min / scale), so 0 is exactly representable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { activationQuantization } from "./qat.ts";
 * const { scale, zeroPoint } = activationQuantization([-1, 3]);
 * assert.equal(zeroPoint, 64);
 * assert.equal(scale, Math.fround(4 / 255));
 * ```
 */
export function activationQuantization(
  range: readonly [number, number],
): { scale: number; zeroPoint: number } {
  const [min, max] = [Math.min(0, range[0]), Math.max(0, range[1])];
  const scale = Math.fround(Math.max((max - min) / 255, 1e-8));
  const zeroPoint = Math.max(0, Math.min(255, Math.round(-min / scale)));
  return { scale, zeroPoint };
}

/**
 * Fake quantization on the uint8 grid of {@linkcode activationQuantization}: x' = (clip(round(x /
 * scale) + zero point, 0, 255) − zero point) · scale, what ONNX's QuantizeLinear then
 * DequantizeLinear compute; the gradient passes inside the grid's range and is zero outside.
 */
function fakeQuantizeRange(x: tf.Tensor, range: [number, number]): tf.Tensor {
  const { scale, zeroPoint } = activationQuantization(range);
  const [lo, hi] = [-zeroPoint * scale, (255 - zeroPoint) * scale];
  const quantize = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const v = input;
    const value = tf.tidy(() =>
      tf.mul(
        tf.sub(tf.clipByValue(tf.add(tf.round(tf.div(v, scale)), zeroPoint), 0, 255), zeroPoint),
        scale,
      )
    );
    save([v]);
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const inside = tf.logicalAnd(tf.greaterEqual(saved[0], lo), tf.lessEqual(saved[0], hi));
          return tf.mul(dy, tf.cast(inside, "float32"));
        }),
    };
  });
  return quantize(x);
}

/** Options for {@linkcode QuantizationAwareTraining}. */
export interface QatOptions {
  /** Epochs of the run. */
  epochs: number;
  /** Fake-quantize during the last this many epochs. Default: all of them. */
  lastEpochs?: number;
  /**
   * `channel` (symmetric int8 per output channel, the default, kept exactly by the ONNX QDQ
   * export) or `tensor` (affine uint8 per tensor: TF.js's uint8 weight format, whose export then
   * holds exactly the trained weights).
   */
  weights?: "channel" | "tensor";
  /** Moving-average momentum of the observed activation ranges. Default: 0.9. */
  momentum?: number;
}

/** The learned quantization of one layer. */
export interface LayerQuantization {
  /** Layer name. */
  layer: string;
  /**
   * Observed range [min, max] of the layer's input (per tensor, 0 included), the activation the
   * quantized layer reads; {@linkcode activationQuantization} turns it into scale and zero point.
   */
  activation: [number, number];
}

type Call = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor;
type Quantized = tfl.layers.Layer & { call: Call };

/**
 * Makes a model quantization-aware: while enabled (the last `lastEpochs` epochs, through
 * {@linkcode QuantizationAwareTraining.callbacks}), its convolutions and dense layers compute
 * with fake-quantized kernels and inputs. {@linkcode QuantizationAwareTraining.bake} writes the
 * quantized kernels into the model for export.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { QuantizationAwareTraining } from "./qat.ts";
 * await useBackend("cpu");
 * const model = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [4], units: 3 })] });
 * const qat = new QuantizationAwareTraining(model, { epochs: 1 });
 * qat.enabled = true;
 * const y = model.apply(tf.ones([2, 4]), { training: true }) as tf.Tensor;
 * assert.equal(qat.ranges().length, 1);
 * tf.dispose(y);
 * qat.dispose();
 * model.dispose();
 * ```
 */
export class QuantizationAwareTraining {
  /** Whether the forward pass fake-quantizes now. */
  enabled = false;
  readonly #options: QatOptions;
  readonly #layers: { layer: Quantized; key: "kernel" | "depthwiseKernel"; call: Call }[] = [];
  readonly #ranges = new Map<string, [number, number]>();

  /** Wraps the convolutions and dense layers of `model`. */
  constructor(model: tfl.LayersModel, options: QatOptions) {
    if (!(options.epochs >= 1)) {
      throw new QuantizationError(`QAT needs epochs ≥ 1, got ${options.epochs}`);
    }
    if (options.lastEpochs !== undefined && !(options.lastEpochs >= 1)) {
      throw new QuantizationError(`QAT epochs must be ≥ 1, got ${options.lastEpochs}`);
    }
    this.#options = options;
    for (const layer of model.layers as Quantized[]) {
      const name = layer.getClassName();
      const key = name === "DepthwiseConv2D" ? "depthwiseKernel" : "kernel";
      if (!["Conv2D", "Dense", "DepthwiseConv2D"].includes(name)) continue;
      const original = layer.call;
      this.#layers.push({ layer, key, call: original });
      layer.call = (inputs, kwargs) => this.#call(layer, key, original, inputs, kwargs);
    }
    if (this.#layers.length === 0) {
      throw new QuantizationError("the model has no convolutions or dense layers to quantize");
    }
  }

  #call(
    layer: Quantized,
    key: "kernel" | "depthwiseKernel",
    original: Call,
    inputs: tf.Tensor | tf.Tensor[],
    kwargs: Record<string, unknown>,
  ): tf.Tensor {
    if (!this.enabled) return original.call(layer, inputs, kwargs);
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const training = kwargs?.training === true;
    let range = this.#ranges.get(layer.name);
    if (training || range === undefined) {
      // The observed range: one small read per layer and step (the ranges live on the host).
      const [lo, hi] = tf.tidy(() => [tf.min(input), tf.max(input)]);
      const seen: [number, number] = [
        Math.min(0, lo.dataSync()[0]),
        Math.max(0, hi.dataSync()[0]),
      ];
      tf.dispose([lo, hi]);
      const m = this.#options.momentum ?? 0.9;
      range = range === undefined
        ? seen
        : [m * range[0] + (1 - m) * seen[0], m * range[1] + (1 - m) * seen[1]];
      this.#ranges.set(layer.name, range);
    }
    const quantized = fakeQuantizeRange(input, range);
    const holder = layer as unknown as Record<string, { read(): tf.Tensor }>;
    const kernel = holder[key];
    const perChannel = this.#options.weights !== "tensor";
    holder[key] = { read: () => fakeQuantize(kernel.read(), { perChannel }) };
    try {
      return original.call(layer, Array.isArray(inputs) ? [quantized] : quantized, kwargs);
    } finally {
      holder[key] = kernel;
    }
  }

  /** Whether `epoch` is one of the quantization-aware epochs. */
  activeAt(epoch: number): boolean {
    return epoch >= this.#options.epochs - (this.#options.lastEpochs ?? this.#options.epochs);
  }

  /** Hooks for `fit`: fake quantization switched on for the last epochs. */
  callbacks(): Required<Pick<Callbacks, "onEpochBegin" | "onBatchEnd">> {
    return {
      onEpochBegin: (epoch) => void (this.enabled = this.activeAt(epoch)),
      onBatchEnd: (epoch) => void (this.enabled = this.activeAt(epoch)), // resumed mid-epoch
    };
  }

  /** The observed activation ranges, per layer. */
  ranges(): LayerQuantization[] {
    return [...this.#ranges].map(([layer, activation]) => ({ layer, activation }));
  }

  /**
   * Writes the fake-quantized kernels into the model (the float model then computes what the
   * quantized one does with its weights); with `weights: "tensor"` TF.js's uint8 export keeps them
   * exactly.
   */
  bake(): void {
    const perChannel = this.#options.weights !== "tensor";
    tf.tidy(() => {
      for (const { layer, key } of this.#layers) {
        const variable = (layer as unknown as Record<string, { read(): tf.Variable }>)[key].read();
        variable.assign(fakeQuantize(variable, { perChannel }));
      }
    });
  }

  /** Puts the layers' own forward passes back. */
  dispose(): void {
    for (const { layer, call } of this.#layers) layer.call = call;
    this.#layers.length = 0;
    this.enabled = false;
  }
}
