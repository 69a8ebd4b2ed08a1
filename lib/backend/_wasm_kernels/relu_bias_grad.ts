// Internal: the gradient through a fused convolution's bias and ReLU, for the wasm backend, in
// TypeScript over the heap. tfjs builds it from Step, Multiply and a Sum over the batch and
// spatial axes (which tfjs-backend-wasm transposes innermost first); this is one pass, in
// WebAssembly SIMD (batch_norm.c's relu_bias_grad) where the engine has it, else the loop below.
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { heapOffset } from "../_wasm_simd/_module.ts";
import { runByRanges, simdKernels } from "./batch_norm_train.ts";

/** Kernel name: dy, y (the ReLU's output) → dz = dy where y > 0 else 0, and Σdz per channel. */
export const RELU_BIAS_GRAD = "DenovisionReluBiasGrad";

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

/** dz = dy·(y > 0), and its sums per channel (channels innermost) into `sums`. */
function maskAndSum(dz: Float32Array, dy: Float32Array, y: Float32Array, sums: Float64Array) {
  const channels = sums.length;
  for (let at = 0; at < dz.length; at += channels) {
    for (let c = 0; c < channels; c++) {
      // Arithmetic, not a branch: a ReLU's sign is a coin toss the branch predictor loses.
      const d = dy[at + c] * +(y[at + c] > 0);
      dz[at + c] = d;
      sums[c] += d;
    }
  }
}

const reluBiasGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, y } = inputs as Record<"dy" | "y", TensorInfo>;
  const heap = backend as unknown as WasmHeapBackend;
  const channels = y.shape[y.shape.length - 1];
  const outputs = [
    heap.makeOutput([...y.shape], "float32"),
    heap.makeOutput([channels], "float32"),
  ];
  const simd = simdKernels(backend);
  if (simd !== null) { // batch_norm.c: the same arithmetic, bit for bit
    const [dz, bias] = outputs;
    const at = (t: TensorInfo) => heapOffset(backend, t);
    const pixels = y.shape.reduce((a, b) => a * b, 1) / channels;
    // Ranges of channels, one per thread: each channel summed alike in any range.
    runByRanges(
      backend,
      "relu_bias_grad",
      [at(dy), at(y), at(dz), at(bias), pixels, channels],
      channels,
      pixels * channels,
    );
    return outputs;
  }
  const [dys, ys, dz, bias] = [dy, y, ...outputs].map((t) => heap.typedArrayFromHeap(t));
  const sums = new Float64Array(channels);
  maskAndSum(dz, dys, ys, sums);
  bias.set(sums);
  return outputs;
};

/** Kernel registration for the ReLU-and-bias gradient on `wasm`. */
export const reluBiasGradConfig: KernelConfig = {
  kernelName: RELU_BIAS_GRAD,
  backendName: "wasm",
  kernelFunc: reluBiasGrad,
};
