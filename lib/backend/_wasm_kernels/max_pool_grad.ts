// Internal: MaxPoolGrad for the wasm backend, in TypeScript over the wasm heap. tfjs-backend-wasm
// 4.22's kernel was the largest single cost of a LeNet training step (8.5 of 32 ms on our 2-core
// machine) and, like its MaxPoolWithArgmax, sends the gradient of a tie or an all-negative
// window to the wrong element; this one picks the first maximum, as the cpu backend and PyTorch
// do, in one pass over each window with the channels innermost (NHWC).
import { backend_util, MaxPoolGrad } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, MaxPoolGradAttrs, TensorInfo } from "@tensorflow/tfjs-core";

/** The parts of the wasm backend this kernel uses. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

const maxPoolGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, input } = inputs as Record<"dy" | "input", TensorInfo>;
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as MaxPoolGradAttrs;
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    filterSize,
    strides,
    1,
    pad,
    dimRoundingMode,
  );
  const heap = backend as unknown as WasmHeapBackend;
  const dx = heap.makeOutput(input.shape, "float32");
  const x = heap.typedArrayFromHeap(input);
  const g = heap.typedArrayFromHeap(dy);
  const out = heap.typedArrayFromHeap(dx);
  out.fill(0);
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  const best = new Float32Array(channels);
  const where = new Int32Array(channels);
  for (let b = 0; b < batchSize; b++) {
    const inBase = b * inHeight * inWidth * channels;
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * strideHeight - top;
      const hStart = Math.max(0, h0);
      const hEnd = Math.min(inHeight, h0 + filterHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const w0 = ow * strideWidth - left;
        const wStart = Math.max(0, w0);
        const wEnd = Math.min(inWidth, w0 + filterWidth);
        best.fill(-Infinity);
        where.fill(-1);
        for (let h = hStart; h < hEnd; h++) {
          for (let w = wStart; w < wEnd; w++) {
            const at = inBase + (h * inWidth + w) * channels;
            for (let c = 0; c < channels; c++) {
              const v = x[at + c];
              if (v > best[c]) { // strictly greater: the first maximum wins
                best[c] = v;
                where[c] = at + c;
              }
            }
          }
        }
        const gAt = ((b * outHeight + oh) * outWidth + ow) * channels;
        for (let c = 0; c < channels; c++) {
          if (where[c] >= 0) out[where[c]] += g[gAt + c];
        }
      }
    }
  }
  return dx;
};

/** Registered on the wasm backend in place of its own MaxPoolGrad. */
export const maxPoolGradConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: "wasm",
  kernelFunc: maxPoolGrad,
};
