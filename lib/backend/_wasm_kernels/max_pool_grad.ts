// Internal: MaxPoolGrad for the wasm backend, in TypeScript over the wasm heap. tfjs-backend-wasm
// 4.22's kernel was the largest single cost of a LeNet training step (8.5 of 32 ms on our 2-core
// machine) and, like its MaxPoolWithArgmax, sends the gradient of a tie or an all-negative
// window to the wrong element; this one picks the first maximum, as the cpu backend and PyTorch
// do, in one pass over each window with the channels innermost (NHWC).
import { backend_util, MaxPoolGrad } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, MaxPoolGradAttrs, TensorInfo } from "@tensorflow/tfjs-core";
import { heapOffset, simdModule } from "../_wasm_simd/_module.ts";
import { runRanges } from "../_wasm_simd/_helper_thread.ts";
import { MAX_POOL_PLAIN, MAX_POOL_SHARED } from "../_wasm_simd/max_pool_wasm.ts";

/** Our SIMD module (max_pool.c): the 2×2 path below, four channels a vector, bit for bit. */
export const MAX_POOL_SOURCE = { shared: MAX_POOL_SHARED, plain: MAX_POOL_PLAIN };
const SIMD = MAX_POOL_SOURCE;

interface MaxPoolSimd {
  max_pool_2x2_grad(...args: number[]): void;
}

let useSimd = true;

/**
 * Turns the SIMD module off (false) or back on: the tests compare it with the TypeScript loops.
 *
 * @example
 * ```ts
 * import { setMaxPoolGradSimd } from "./max_pool_grad.ts";
 * setMaxPoolGradSimd(false);
 * setMaxPoolGradSimd(true);
 * ```
 */
export function setMaxPoolGradSimd(enabled: boolean): void {
  useSimd = enabled;
}

type PoolInfo = ReturnType<typeof backend_util.computePool2DInfo>;

/** The parts of the wasm backend this kernel uses. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

/**
 * The common CNN pool (2×2, stride 2, no padding). Each window's four elements are written once,
 * dy at the first maximum and 0 elsewhere, with the winner found by six comparisons turned into
 * 0/1 factors, not branches: which of four activations is largest is a coin toss that a branch
 * predictor loses. Window order (0,0), (0,1), (1,0), (1,1), as the general path.
 */
function pool2x2Grad(
  out: Float32Array,
  x: Float32Array,
  g: Float32Array,
  { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth }: PoolInfo,
): void {
  const rowStride = inWidth * channels;
  for (let b = 0; b < batchSize; b++) {
    const inBase = b * inHeight * rowStride;
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const p00 = inBase + (oh * 2 * inWidth + ow * 2) * channels;
        const p01 = p00 + channels;
        const p10 = p00 + rowStride;
        const p11 = p10 + channels;
        const gAt = ((b * outHeight + oh) * outWidth + ow) * channels;
        for (let c = 0; c < channels; c++) {
          const v0 = x[p00 + c];
          const v1 = x[p01 + c];
          const v2 = x[p10 + c];
          const v3 = x[p11 + c];
          const gt10 = +(v1 > v0);
          const gt20 = +(v2 > v0);
          const gt30 = +(v3 > v0);
          const gt21 = +(v2 > v1);
          const gt31 = +(v3 > v1);
          const gt32 = +(v3 > v2);
          const d = g[gAt + c];
          // A later element wins only where it beats every earlier one strictly (ties: first).
          // "+ 0" turns the −0 of a negative dy times 0 into the 0 the other kernels write.
          out[p00 + c] = d * ((1 - gt10) * (1 - gt20) * (1 - gt30)) + 0;
          out[p01 + c] = d * (gt10 * (1 - gt21) * (1 - gt31)) + 0;
          out[p10 + c] = d * (gt20 * gt21 * (1 - gt32)) + 0;
          out[p11 + c] = d * (gt30 * gt31 * gt32) + 0;
        }
      }
    }
  }
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
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  if (
    filterHeight === 2 && filterWidth === 2 && strideHeight === 2 && strideWidth === 2 &&
    top === 0 && left === 0 && outHeight * 2 <= inHeight && outWidth * 2 <= inWidth
  ) {
    // Rows and columns past the last window (odd sizes) get no gradient.
    if (outHeight * 2 < inHeight || outWidth * 2 < inWidth) out.fill(0);
    const simd = useSimd ? simdModule<MaxPoolSimd>(backend, SIMD) : null;
    if (simd === null) pool2x2Grad(out, x, g, info);
    else {
      const at = (t: TensorInfo) => heapOffset(backend, t);
      // Window rows over the whole batch, one range per thread: each writes only its own rows.
      const args = [at(input), at(dy), at(dx), inHeight, inWidth, channels, outHeight, outWidth];
      runRanges(backend, SIMD, "max_pool_2x2_grad", args, batchSize * outHeight, {
        work: input.shape.reduce((a, b) => a * b, 1),
      });
    }
    return dx;
  }
  out.fill(0);
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
