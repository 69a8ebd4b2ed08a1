// Internal: FusedBatchNorm (batch norm in inference mode, from the moving statistics) on the wasm
// backend, on our threaded SIMD kernel for float32 tensors normalised over their last axis (NHWC,
// every batch norm of the zoo), with both γ and β. Every other case goes to the built-in kernel,
// which this one wraps.
//
// tfjs-backend-wasm 4.22's kernel works out every element's index in each of its five inputs, one
// element at a time, on one thread: batched MobileNetV2 inference (32 images at 224 px, 2
// threads) spent 1.07 of its 2.16 s in its 52 batch norms. Here y = x·scale + shift per channel
// runs on batch_norm.c's `bn_apply` (the training forward pass's last step) by ranges of pixels on
// every thread, with 1/√(σ² + ε) worked out per channel as the training kernel does.
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { runRanges } from "../_wasm_simd/_helper_thread.ts";
import { heapOffset } from "../_wasm_simd/_module.ts";
import { simdKernels, SOURCE, withF64Params } from "./batch_norm_train.ts";

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  disposeData(dataId: object): void;
}

/** Whether `t` is a float32 vector of `channels` values (any leading axes of size 1). */
function perChannel(t: TensorInfo | undefined, channels: number): t is TensorInfo {
  return t !== undefined && t.dtype === "float32" && t.shape.length >= 1 &&
    t.shape[t.shape.length - 1] === channels &&
    t.shape.every((d, i, s) => i === s.length - 1 || d === 1);
}

/** The FusedBatchNorm kernel with our SIMD fast path in front of `builtIn`. */
export function fusedBatchNormConfig(builtIn: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x, mean, variance, offset, scale } = args.inputs as Record<
      string,
      TensorInfo | undefined
    >;
    const { varianceEpsilon } = args.attrs as { varianceEpsilon: number };
    const channels = x?.shape[x.shape.length - 1] ?? 0;
    const kernel = simdKernels(args.backend);
    if (
      x === undefined || x.dtype !== "float32" || channels === 0 ||
      kernel === null ||
      ![mean, variance, offset, scale].every((t) => perChannel(t, channels))
    ) {
      return builtIn.kernelFunc(args);
    }
    const heap = args.backend as unknown as WasmHeapBackend;
    const y = heap.makeOutput([...x.shape], "float32");
    const invStd = heap.makeOutput([channels], "float32");
    try {
      // After every allocation: a new buffer may grow the heap and detach older views.
      const variances = heap.typedArrayFromHeap(variance!);
      const inverse = heap.typedArrayFromHeap(invStd);
      for (let c = 0; c < channels; c++) inverse[c] = 1 / Math.sqrt(variances[c] + varianceEpsilon);
      const size = x.shape.reduce((a, b) => a * b, 1);
      const at = (t: TensorInfo) => heapOffset(heap, t);
      withF64Params(args.backend, [varianceEpsilon, Infinity], (params) => {
        const applyArgs = [
          at(x),
          at(scale!),
          at(offset!),
          at(y),
          at(mean!),
          at(invStd),
          channels,
          params,
          0, // no activation
        ];
        runRanges(args.backend, SOURCE, "bn_apply", applyArgs, size / channels, { work: size });
      });
    } finally {
      heap.disposeData(invStd.dataId);
    }
    return y;
  };
  return { ...builtIn, kernelFunc };
}
