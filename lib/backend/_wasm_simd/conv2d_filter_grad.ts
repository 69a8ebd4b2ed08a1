// Internal: the filter gradient of small convolutions in our own WebAssembly SIMD kernel
// (conv2d_filter_grad.c), run on tfjs-backend-wasm's shared memory, in place on its tensors.
//
// Why: the XNNPACK path (conv2d_backprop_filter.ts) makes the output gradient the "filter" of a
// convolution; it is a new tensor every step, so tfjs-backend-wasm transposes it element by
// element and XNNPACK repacks it on every call. Where a layer has few multiply-adds per output
// pixel (Cin·kh·kw·Cout), that dominates: `compact-cnn`'s first layer spent 4.4 of its 8 ms on it.
// This kernel reads x and dy where they are. It runs on the calling thread only, so large layers
// (ResNet's) stay on XNNPACK's pool. It runs on the threaded build's shared memory and on the
// single-threaded build's own, so that results do not depend on the thread count.
import type { backend_util, TensorInfo } from "@tensorflow/tfjs-core";
import { CONV2D_FILTER_GRAD_PLAIN, CONV2D_FILTER_GRAD_SHARED } from "./conv2d_filter_grad_wasm.ts";
import {
  heapOffset,
  simdModule,
  type SimdModuleSource,
  type WasmBackendInternals,
} from "./_module.ts";

/**
 * Multiply-adds per output pixel (Cin·kh·kw·Cout) up to which this kernel runs: above it,
 * XNNPACK on every core wins (measured: `compact-cnn`'s 18,432 and LeNet's 5,000 are faster here,
 * ResNet-18's 36,864 and up on XNNPACK's pool).
 */
export const SIMD_FILTER_GRADIENT_LIMIT = 20_000;

/** Output rows per accumulation chunk are chosen for about this many output pixels. */
const CHUNK_PIXELS = 256;

interface Kernel {
  pad_nhwc(...args: number[]): void;
  pad_channels(...args: number[]): void;
  dw_prepare(...args: number[]): void;
  dw_finish(...args: number[]): void;
  dw_2x4(...args: number[]): void;
  dw_3x3(...args: number[]): void;
}

const SOURCE: SimdModuleSource = {
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
  const heap = backend as WasmBackendInternals;
  const kernel = simdModule<Kernel>(backend, SOURCE);
  if (kernel === null) return undefined;

  const { batchSize, inHeight, inWidth, outHeight, outWidth } = info;
  const paddedHeight = (outHeight - 1) * strideHeight + filterHeight;
  const paddedWidth = (outWidth - 1) * strideWidth + filterWidth;
  // 2 taps × 16 channels where the channels come in sixteens, else 3 taps × 12.
  const [tapsPerTile, lanes] = outChannels % 16 === 0 ? [2, 16] : [3, 12];
  const paddedChannels = Math.ceil(outChannels / lanes) * lanes;
  const taps = filterHeight * filterWidth * inChannels;
  const paddedTaps = Math.ceil(taps / tapsPerTile) * tapsPerTile;

  const scratch: TensorInfo[] = [];
  const make = (shape: number[], dtype: "float32" | "int32" = "float32") => {
    const info = heap.makeOutput(shape, dtype);
    scratch.push(info);
    return info;
  };
  try {
    const xPadded = make([batchSize, paddedHeight, paddedWidth, inChannels]);
    const pixels = batchSize * outHeight * outWidth;
    const dyPadded = paddedChannels === outChannels ? dy : make([pixels, paddedChannels]);
    const accumulators = make([paddedTaps * paddedChannels]);
    const offsets = make([paddedTaps], "int32");
    const dw = heap.makeOutput([filterHeight, filterWidth, inChannels, outChannels], "float32");
    // Heap addresses: stable for a tensor's life, and the kernel sees the memory as it grows.
    const at = (t: TensorInfo) => heapOffset(backend, t);
    kernel.pad_nhwc(
      at(x),
      at(xPadded),
      batchSize,
      inHeight,
      inWidth,
      inChannels,
      paddedHeight,
      paddedWidth,
      info.padInfo.top,
      info.padInfo.left,
    );
    if (dyPadded !== dy) {
      kernel.pad_channels(at(dy), at(dyPadded), pixels, outChannels, paddedChannels);
    }
    kernel.dw_prepare(
      at(offsets),
      at(accumulators),
      paddedWidth,
      inChannels,
      filterHeight,
      filterWidth,
      tapsPerTile,
      paddedChannels,
    );
    const accumulate = tapsPerTile === 2 ? kernel.dw_2x4 : kernel.dw_3x3;
    accumulate(
      at(xPadded),
      at(dyPadded),
      at(accumulators),
      at(offsets),
      batchSize,
      paddedHeight,
      paddedWidth,
      inChannels,
      outHeight,
      outWidth,
      paddedChannels,
      taps,
      strideHeight,
      strideWidth,
      Math.max(1, Math.floor(CHUNK_PIXELS / outWidth)),
    );
    kernel.dw_finish(at(accumulators), at(dw), taps, outChannels, paddedChannels);
    return dw;
  } finally {
    for (const info of scratch) heap.disposeData(info.dataId);
  }
}
