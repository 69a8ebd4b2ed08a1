// Internal: the input gradient of stride-1 convolutions in our own WebAssembly SIMD kernel
// (conv2d_input_grad.c), run on tfjs-backend-wasm's shared memory, in place on its tensors.
//
// Why: the XNNPACK path (conv2d_backprop_input.ts) correlates dy, zero-padded by k − 1 on each
// side, with the reversed filter: for a small dy (LeNet's second layer: 8×8, 5×5 taps) most of
// its multiply-adds are on the zero border (2.25× the needed work), and tfjs and XNNPACK repack
// the filter on every call. This kernel builds each row of dx from the dy rows that reach it,
// scattering their pixels through the taps (no wasted multiply-adds), with relaxed-SIMD FMA. On
// the threaded build with 2 threads or more it cuts dx's rows (over the whole batch, so one image
// too) into one range per thread of the backend, run by the calling thread and a pool of helpers
// (_helper_thread.ts); each row is summed in the same order whichever thread runs it and however
// the rows are cut, and the single-threaded build runs the same code on its own memory, so
// results do not depend on the thread count. It beat XNNPACK on every stride-1 layer measured, padding or
// not (XNNPACK also transposes and repacks the filter per call); larger layers stay there
// (SIMD_INPUT_GRADIENT_LIMIT), strided ones on the phased XNNPACK path.
import type { backend_util, KernelBackend, TensorInfo } from "@tensorflow/tfjs-core";
import { withScratch } from "../_wasm_kernels/_scratch.ts";
import { CONV2D_INPUT_GRAD_PLAIN, CONV2D_INPUT_GRAD_SHARED } from "./conv2d_input_grad_wasm.ts";
import { runRanges } from "./_helper_thread.ts";
import { heapOffset, simdModule, type SimdModuleSource } from "./_module.ts";

/**
 * Multiply-adds per dy pixel (Cin·kh·kw·Cout) up to which this kernel runs: ResNet-18's largest
 * layer (3×3×512×512). Measured against XNNPACK (2 threads, 2 cores, Deno 2.9): LeNet's second
 * layer 1.3 vs 3.8 ms, `compact-cnn`'s 3×3 layers 3.1 vs 3.8 and 2.8 vs 3.8 ms, ResNet-18's
 * 3×3×64×64 at 32 px 92 vs 111 ms, its 3×3×512×512 at 4 px 22 vs 47 ms (a batch of 16), 1×1
 * layers too; no layer measured was faster on XNNPACK. Larger ones are untested: they stay there.
 */
export const SIMD_INPUT_GRADIENT_LIMIT = 3 * 3 * 512 * 512;

interface Kernel {
  dx_prepare_filter(...args: number[]): void;
  dx_8x1(...args: number[]): void;
  dx_4x2(...args: number[]): void;
  dx_3x3(...args: number[]): void;
}

/** Register tiles: dy pixels × input-channel vectors, as the kernel's exports name them. */
type Tile = "8x1" | "4x2" | "3x3";

/**
 * The tile for `paddedChannels` (a multiple of 4). Measured on one thread: 16 to 64 channels
 * 4×8 ≈ 2×16 (3×16 and 6×8 spill and run 1.6 to 1.9 times slower); LeNet's 12 (10 padded)
 * 3×12 ≈ 2×12, 4×12 1.5 times slower; 4 channels 8×4 < 4×4.
 */
function tileFor(paddedChannels: number): Tile {
  if (paddedChannels % 8 === 0) return "4x2";
  if (paddedChannels % 12 === 0) return "3x3";
  return "8x1";
}

/** The kernel's module (both builds). */
export const SOURCE: SimdModuleSource = {
  shared: CONV2D_INPUT_GRAD_SHARED,
  plain: CONV2D_INPUT_GRAD_PLAIN,
};

/**
 * Whether our SIMD kernel takes the input gradient of the forward convolution `info`: stride 1,
 * no dilation, up to SIMD_INPUT_GRADIENT_LIMIT multiply-adds per dy pixel.
 */
export function simdInputGradientApplies(info: backend_util.Conv2DInfo): boolean {
  const { inChannels, outChannels, filterHeight, filterWidth } = info;
  return info.strideHeight === 1 && info.strideWidth === 1 && info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    inChannels * filterHeight * filterWidth * outChannels <= SIMD_INPUT_GRADIENT_LIMIT;
}

/**
 * dx for `dy`, `filter` (HWIO) and the forward convolution `info` (NHWC, stride 1, no dilation)
 * by our SIMD kernel, or undefined where it does not run (another dtype, no wasm SIMD): the
 * caller then runs the XNNPACK path. `force` skips the size limits (for tests).
 */
export function simdInputGradient(
  backend: unknown,
  dy: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
  force = false,
): TensorInfo | undefined {
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return undefined;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  if (!force && !simdInputGradientApplies(info)) return undefined;
  if (dy.dtype !== "float32" || filter.dtype !== "float32") return undefined;
  const kernel = simdModule<Kernel>(backend, SOURCE);
  if (kernel === null) return undefined;

  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth } = info;
  const { top, left } = info.padInfo;
  const rows = batchSize * inHeight;
  const paddedChannels = Math.ceil(inChannels / 4) * 4;
  const paddedWidth = outWidth + filterWidth - 1;
  // Every target column inside dx and no channel padding: accumulate in dx itself.
  const direct = left === 0 && paddedWidth === inWidth && paddedChannels === inChannels;

  return withScratch(backend as KernelBackend, (scratch) => {
    const transposed = scratch.make([filterHeight, filterWidth, outChannels, paddedChannels]);
    const dx = scratch.make([batchSize, inHeight, inWidth, inChannels]);
    const accumulated = direct ? dx : scratch.make([rows, paddedWidth, paddedChannels]);
    // Heap addresses: stable for a tensor's life, and the kernel sees the memory as it grows.
    const at = (t: TensorInfo) => heapOffset(backend, t);
    kernel.dx_prepare_filter(
      at(filter),
      at(transposed),
      filterHeight,
      filterWidth,
      inChannels,
      outChannels,
      paddedChannels,
    );
    const args = [
      at(dy),
      at(transposed),
      at(accumulated),
      at(dx),
      outHeight,
      outWidth,
      outChannels,
      filterHeight,
      filterWidth,
      paddedChannels,
      inHeight,
      inWidth,
      inChannels,
      top,
      left,
    ];
    // One range of dx rows per thread (the first here, the others on helpers, or here after
    // where one cannot take it); each row is computed alike however many ranges.
    const work = batchSize * outHeight * outWidth * filterHeight * filterWidth * outChannels *
      inChannels;
    runRanges(backend, SOURCE, `dx_${tileFor(paddedChannels)}`, args, rows, { work });
    return dx;
  });
}
