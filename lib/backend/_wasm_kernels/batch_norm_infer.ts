// Internal: batch norm in inference mode (from the moving statistics) on the wasm backend, on our
// threaded SIMD kernel: FusedBatchNorm for float32 tensors normalised over their last axis (NHWC,
// every batch norm of the zoo) with both γ and β, every other case going to the built-in kernel,
// which it wraps; and DenovisionBatchNormInfer, the same with the ReLU or ReLU6 that follows
// fused in (the lean path's layers use it where a ReLU layer is a batch norm's only consumer).
//
// tfjs-backend-wasm 4.22's kernel works out every element's index in each of its five inputs, one
// element at a time, on one thread: batched MobileNetV2 inference (32 images at 224 px, 2
// threads) spent 1.07 of its 2.16 s in its 52 batch norms. Here y = x·scale + shift runs on
// batch_norm.c's `bn_infer` (float32, one pass, four channels a vector) by ranges of pixels on
// every thread, the per-channel scale and shift worked out here: the 35 with their ReLU6 fused in
// took 69–86 ms, against 180 ms on the training pass's float64 pairs of channels (bn_apply).
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { runRanges } from "../_wasm_simd/_helper_thread.ts";
import { heapOffset } from "../_wasm_simd/_module.ts";
import { type FusedActivationAttrs, simdKernels, SOURCE } from "./batch_norm_train.ts";

/**
 * Kernel name of batch norm in inference mode with an activation: x, mean, variance, offset (β),
 * scale (γ), all but x one value per channel of x's last axis → y (attrs: FusedActivationAttrs).
 */
export const BATCH_NORM_INFER = "DenovisionBatchNormInfer";

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  disposeData(dataId: object): void;
}

/** Whether `t` is a float32 vector of `channels` values (any leading axes of size 1). */
function perChannel(t: TensorInfo | undefined, channels: number): t is TensorInfo {
  return t !== undefined && t.dtype === "float32" && t.shape.length >= 1 &&
    t.shape.every((d, i, shape) => d === (i === shape.length - 1 ? channels : 1));
}

/** The float32 bits of `value`, as an int (helper threads take int arguments only). */
function floatBits(value: number): number {
  const bits = new Int32Array(1);
  new Float32Array(bits.buffer)[0] = value;
  return bits[0];
}

/** y = act(fround(fround(x·scale) + shift)), as bn_infer computes it (the module's fallback). */
function inferLoops(
  xs: Float32Array,
  y: Float32Array,
  scaleShift: Float32Array,
  channels: number,
  { activation, cap }: FusedActivationAttrs,
): void {
  const scale = scaleShift.subarray(0, channels), shift = scaleShift.subarray(channels);
  const high = activation ? Math.fround(cap) : Infinity;
  const low = activation ? 0 : -Infinity;
  for (let at = 0; at < xs.length; at += channels) {
    for (let c = 0; c < channels; c++) {
      const z = Math.fround(Math.fround(xs[at + c] * scale[c]) + shift[c]);
      const v = z < low ? low : z; // a NaN passes
      y[at + c] = v > high ? high : v;
    }
  }
}

/**
 * y = act(x·scale + shift) per channel: scale = γ/√(σ² + ε) and shift = β − μ·scale worked out
 * in float64 and rounded to float32 once, then one float32 multiply and add per element.
 */
function batchNormInfer(
  backend: unknown,
  { x, mean, variance, offset, scale }: Record<string, TensorInfo>,
  attrs: FusedActivationAttrs,
): TensorInfo {
  const heap = backend as WasmHeapBackend;
  const channels = x.shape[x.shape.length - 1];
  const y = heap.makeOutput([...x.shape], "float32");
  const constants = heap.makeOutput([2 * channels], "float32");
  try {
    // Views after every allocation: a new buffer may grow the heap and detach older ones.
    const [xs, m, v, b, g, out, scaleShift] = [x, mean, variance, offset, scale, y, constants]
      .map((t) => heap.typedArrayFromHeap(t));
    for (let c = 0; c < channels; c++) {
      const factor = Math.fround(g[c] / Math.sqrt(v[c] + attrs.epsilon!));
      scaleShift[c] = factor;
      scaleShift[channels + c] = b[c] - m[c] * factor;
    }
    if (simdKernels(backend) === null) {
      inferLoops(xs, out, scaleShift, channels, attrs);
    } else {
      const mode = !attrs.activation ? 0 : attrs.cap === Infinity ? 1 : 2;
      const at = (t: TensorInfo) => heapOffset(heap, t);
      const args = [at(x), at(constants), at(y), channels, mode, floatBits(attrs.cap)];
      const size = xs.length;
      runRanges(backend, SOURCE, "bn_infer", args, size / channels, { work: size });
    }
  } finally {
    heap.disposeData(constants.dataId);
  }
  return y;
}

/** Whether the inputs are batch norm's over x's last axis, all float32 (our kernels' case). */
function takes(inputs: Record<string, TensorInfo | undefined>): boolean {
  const { x, mean, variance, offset, scale } = inputs;
  const channels = x?.shape[x.shape.length - 1] ?? 0;
  return x !== undefined && x.dtype === "float32" && channels > 0 &&
    [mean, variance, offset, scale].every((t) => perChannel(t, channels));
}

/** The FusedBatchNorm kernel with our SIMD fast path in front of `builtIn`. */
export function fusedBatchNormConfig(builtIn: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const inputs = args.inputs as Record<string, TensorInfo>;
    if (!takes(inputs) || simdKernels(args.backend) === null) return builtIn.kernelFunc(args);
    const { varianceEpsilon } = args.attrs as { varianceEpsilon: number };
    return batchNormInfer(args.backend, inputs, {
      epsilon: varianceEpsilon,
      activation: false,
      cap: Infinity,
    });
  };
  return { ...builtIn, kernelFunc };
}

const batchNormInferActivated: KernelFunc = ({ inputs, backend, attrs }) => {
  const named = inputs as Record<string, TensorInfo>;
  if (!takes(named)) {
    throw new Error(`${BATCH_NORM_INFER}: x float32, then one float32 value per channel`);
  }
  return batchNormInfer(backend, named, attrs as unknown as FusedActivationAttrs);
};

/** Batch norm in inference mode with its activation fused in (SIMD, or the same loops in TS). */
export const batchNormInferConfig: KernelConfig = {
  kernelName: BATCH_NORM_INFER,
  backendName: "wasm",
  kernelFunc: batchNormInferActivated,
};
