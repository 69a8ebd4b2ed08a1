// Internal: batch norm in inference mode (from the moving statistics) on the wasm backend, on our
// threaded SIMD kernel: FusedBatchNorm for float32 tensors normalised over their last axis (NHWC,
// every batch norm of the zoo) with both γ and β, every other case going to the built-in kernel,
// which it wraps; and DenovisionBatchNormInfer, the same with the ReLU or ReLU6 that follows
// fused in (the lean path's layers use it where a ReLU layer is a batch norm's only consumer).
//
// tfjs-backend-wasm 4.22's kernel works out every element's index in each of its five inputs, one
// element at a time, on one thread: batched MobileNetV2 inference (32 images at 224 px, 2
// threads) spent 1.07 of its 2.16 s in its 52 batch norms. Here y = x·scale + shift per channel
// runs on batch_norm.c's `bn_apply` (the training forward pass's last step, normalizeInto) by
// ranges of pixels on every thread, with 1/√(σ² + ε) worked out per channel as in training.
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { type FusedActivationAttrs, normalizeInto, simdKernels } from "./batch_norm_train.ts";

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

/** y = activation((x − mean)/√(variance + ε)·scale + offset), per channel. */
function batchNormInfer(
  backend: unknown,
  { x, mean, variance, offset, scale }: Record<string, TensorInfo>,
  attrs: FusedActivationAttrs,
): TensorInfo {
  const heap = backend as WasmHeapBackend;
  const channels = x.shape[x.shape.length - 1];
  const y = heap.makeOutput([...x.shape], "float32");
  const invStd = heap.makeOutput([channels], "float32");
  try {
    // Views after every allocation: a new buffer may grow the heap and detach older ones.
    const variances = heap.typedArrayFromHeap(variance);
    const inverse = heap.typedArrayFromHeap(invStd);
    for (let c = 0; c < channels; c++) inverse[c] = 1 / Math.sqrt(variances[c] + attrs.epsilon!);
    normalizeInto(backend, { x, gamma: scale, beta: offset, mean, invStd, y }, attrs);
  } finally {
    heap.disposeData(invStd.dataId);
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
