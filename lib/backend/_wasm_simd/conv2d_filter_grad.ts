// Internal: the filter gradient of small convolutions in our own WebAssembly SIMD kernel
// (conv2d_filter_grad.c), run on tfjs-backend-wasm's shared memory, in place on its tensors.
//
// Why: the XNNPACK path (conv2d_backprop_filter.ts) makes the output gradient the "filter" of a
// convolution; it is a new tensor every step, so tfjs-backend-wasm transposes it element by
// element and XNNPACK repacks it on every call. Where a layer has few multiply-adds per output
// pixel (Cin·kh·kw·Cout), that dominates: `compact-cnn`'s first layer spent 4.4 of its 8 ms on it.
// This kernel reads x and dy where they are, with relaxed-SIMD FMA. On the threaded build with
// 2 threads or more it cuts dW's rows (taps) into one range per thread of the backend, whole
// tiles each, run by the calling thread and a pool of helpers (_helper_thread.ts); each tap is
// summed in the same order whichever thread runs it and however the taps are cut, and the
// single-threaded build runs the same code on its own memory, so results do not depend on the
// thread count. Layers above SIMD_FILTER_GRADIENT_LIMIT stay on XNNPACK's pool.
import type { backend_util, KernelBackend, TensorInfo } from "@tensorflow/tfjs-core";
import { withScratch } from "../_wasm_kernels/_scratch.ts";
import { CONV2D_FILTER_GRAD_PLAIN, CONV2D_FILTER_GRAD_SHARED } from "./conv2d_filter_grad_wasm.ts";
import { runRanges } from "./_helper_thread.ts";
import { heapOffset, simdModule, type SimdModuleSource } from "./_module.ts";

/**
 * Multiply-adds per output pixel (Cin·kh·kw·Cout) up to which this kernel runs, above it the
 * XNNPACK path. One limit whatever the thread count, so that a layer takes the same path (and
 * gives the same numbers) on 1 thread and on many. Measured on 2 threads (2-core VM, median of 7,
 * batch 32, ResNet-18's CIFAR-stem layers, ms here / on XNNPACK): 3×3×64×64 at 32×32 30 / 71,
 * 3×3×64×128 s2 16 / 62, 1×1×64×128 s2 2.1 / 29, 3×3×128×128 at 16×16 30 / 58, 1×1×128×256 s2
 * 2.0 / 10, 3×3×128×256 s2 15 / 25, 3×3×256×256 at 8×8 30 / 41, 1×1×256×512 s2 1.8 / 5.5,
 * 3×3×512×512 at 4×4 31 / 39. `prof.ts resnet18 32 3 32 2` (medians of 3, the machine shared):
 * filter gradients 1,080 ms a step at the old limit (20,000) against 447 with every layer here,
 * the step 2,291 against 1,671 ms. So it takes every layer up to ResNet's largest, 3×3×512×512 =
 * 2,359,296; above that it is unmeasured. On more than 2 cores this kernel uses as many threads as
 * XNNPACK's pool; how the two compare there is unmeasured.
 */
export const SIMD_FILTER_GRADIENT_LIMIT = 2_400_000;

/** Output rows per accumulation chunk are chosen for about this many output pixels. */
const CHUNK_PIXELS = 256;

interface Kernel {
  pad_nhwc(...args: number[]): void;
  pad_channels(...args: number[]): void;
  dw_prepare(...args: number[]): void;
  dw_2x4(...args: number[]): void;
  dw_3x3(...args: number[]): void;
  dw_4x2(...args: number[]): void;
}

/** Register tiles: taps × output channels (4 per vector), as the kernel's exports name them. */
type Tile = "2x4" | "3x3" | "4x2";

/**
 * The tile for a layer: the least padded work (taps rounded up to the tile's, channels to its
 * lanes), ties to the first of 3×12, 2×16, 4×8. Measured on one thread: `compact-cnn`'s layers
 * (16, 32, 64 channels) 2×16 ≈ 4×8 < 3×12; LeNet's (10, 20) 3×12 < 2×16 and 4×8; 4×8 wins where
 * it pads least (5 to 8 channels).
 */
function tileFor(taps: number, outChannels: number): [Tile, number, number] {
  let best: [Tile, number, number] | undefined;
  let bestWork = Infinity;
  for (const tile of ["3x3", "2x4", "4x2"] as const) {
    const [tapsPerTile, vectors] = tile.split("x").map(Number);
    const lanes = 4 * vectors;
    const work = Math.ceil(taps / tapsPerTile) * tapsPerTile *
      Math.ceil(outChannels / lanes) * lanes;
    if (work < bestWork) [best, bestWork] = [[tile, tapsPerTile, lanes], work];
  }
  return best!;
}

/** The kernel's module (both builds). */
export const SOURCE: SimdModuleSource = {
  shared: CONV2D_FILTER_GRAD_SHARED,
  plain: CONV2D_FILTER_GRAD_PLAIN,
};

/**
 * dW for `x`, `dy` and the forward convolution `info` (NHWC, no dilation) by our SIMD kernel, or
 * undefined where it does not apply (a large layer, no wasm SIMD): the caller then runs the
 * XNNPACK path.
 */
export function simdFilterGradient(
  backend: unknown,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo | undefined {
  const { inChannels, outChannels, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  if (inChannels * filterHeight * filterWidth * outChannels > SIMD_FILTER_GRADIENT_LIMIT) {
    return undefined;
  }
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  if (x.dtype !== "float32" || dy.dtype !== "float32") return undefined;
  const kernel = simdModule<Kernel>(backend, SOURCE);
  if (kernel === null) return undefined;

  const { batchSize, inHeight, inWidth, outHeight, outWidth } = info;
  const paddedHeight = (outHeight - 1) * strideHeight + filterHeight;
  const paddedWidth = (outWidth - 1) * strideWidth + filterWidth;
  const taps = filterHeight * filterWidth * inChannels;
  const [tile, tapsPerTile, lanes] = tileFor(taps, outChannels);
  const paddedChannels = Math.ceil(outChannels / lanes) * lanes;
  const paddedTaps = Math.ceil(taps / tapsPerTile) * tapsPerTile;

  // x itself where no padding is read (rows or columns past the reach are never read).
  const { top, left } = info.padInfo;
  const direct = top === 0 && left === 0 && paddedHeight <= inHeight && paddedWidth <= inWidth;
  const [xHeight, xWidth] = direct ? [inHeight, inWidth] : [paddedHeight, paddedWidth];

  return withScratch(backend as KernelBackend, (scratch) => {
    const xPadded = direct ? x : scratch.make([batchSize, paddedHeight, paddedWidth, inChannels]);
    const pixels = batchSize * outHeight * outWidth;
    // dy read in place unless its last block of channels has fewer than 4 (a vector would
    // reach into the block before: see the module): then padded to the tile's lanes.
    const tail = outChannels % lanes;
    const inPlace = outChannels >= 4 && (tail === 0 || tail >= 4);
    const dyPadded = inPlace ? dy : scratch.make([pixels, paddedChannels]);
    const dyStride = inPlace ? outChannels : paddedChannels;
    const accumulators = scratch.make([paddedTaps * paddedChannels]);
    const offsets = scratch.make([paddedTaps], "int32");
    const dw = scratch.make([filterHeight, filterWidth, inChannels, outChannels]);
    // Heap addresses: stable for a tensor's life, and the kernel sees the memory as it grows.
    const at = (t: TensorInfo) => heapOffset(backend, t);
    if (!direct) {
      kernel.pad_nhwc(
        at(x),
        at(xPadded),
        batchSize,
        inHeight,
        inWidth,
        inChannels,
        paddedHeight,
        paddedWidth,
        top,
        left,
      );
    }
    if (dyPadded !== dy) {
      // Rows of dy, one range per thread.
      const args = [at(dy), at(dyPadded), outChannels, paddedChannels];
      runRanges(backend, SOURCE, "pad_channels", args, pixels, { work: pixels * paddedChannels });
    }
    kernel.dw_prepare(
      at(offsets),
      xWidth,
      inChannels,
      filterHeight,
      filterWidth,
      tapsPerTile,
    );
    const args = [
      at(xPadded),
      at(dyPadded),
      at(accumulators),
      at(offsets),
      at(dw),
      batchSize,
      xHeight,
      xWidth,
      inChannels,
      outHeight,
      outWidth,
      outChannels,
      paddedChannels,
      taps,
      strideHeight,
      strideWidth,
      Math.max(1, Math.floor(CHUNK_PIXELS / outWidth)),
      dyStride,
      dyStride - 4, // where the last vector of a pixel's channels starts
    ];
    // One range of taps per thread (the first here, the others on helpers, or here after where
    // one cannot take it): a whole number of tiles each, every tap summed in the same order
    // however many ranges.
    const work = pixels * taps * outChannels;
    runRanges(backend, SOURCE, `dw_${tile}`, args, taps, { step: tapsPerTile, work });
    return dw;
  });
}
