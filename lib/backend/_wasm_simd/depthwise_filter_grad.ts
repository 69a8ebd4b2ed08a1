// Internal: the filter gradient of depthwise convolutions (channel multiplier 1) in our own
// WebAssembly SIMD kernel (depthwise_filter_grad.c), run on tfjs-backend-wasm's memory, in place
// on its tensors.
//
// Why: the composed path (depthwise_backprop_filter.ts) makes dy the "filter" of a depthwise
// convolution over the batch folded into channels; XNNPACK packs that filter and builds an
// indirection buffer over it on every call. On MobileNetV2 at 224 px, batch 8, its 17 calls took
// ~530 ms of a ~1.6 s training step and raised the heap by hundreds of MB. This kernel reads x and
// dy where they are (channels padded to a multiple of 4 only where they are not one already) and
// fuses one dy vector with a row of filter taps per pixel, with relaxed-SIMD FMA. On the threaded
// build with 2 threads or more it cuts the channels into one range per thread of the backend
// (multiples of 4, run by the calling thread and a pool of helpers, _helper_thread.ts); each
// element of dW is summed by one thread in the same order however the channels are cut, and the
// single-threaded build runs the same code on its own memory, so results do not depend on the
// thread count.
import type { backend_util, KernelBackend, TensorInfo } from "@tensorflow/tfjs-core";
import { withScratch } from "../_wasm_kernels/_scratch.ts";
import {
  DEPTHWISE_FILTER_GRAD_PLAIN,
  DEPTHWISE_FILTER_GRAD_SHARED,
} from "./depthwise_filter_grad_wasm.ts";
import { runRanges } from "./_helper_thread.ts";
import { heapOffset, simdModule, type SimdModuleSource } from "./_module.ts";

/**
 * Bytes of x and dy one chunk of output rows reads: the tiles of each tap row and channel group go
 * over a chunk in turn, so it should stay in a core's cache.
 */
const CHUNK_BYTES = 256 * 1024;

interface Kernel {
  dwf_repitch(...args: number[]): void;
  dwf(...args: number[]): void;
}

/** The kernel's module (both builds). */
export const SOURCE: SimdModuleSource = {
  shared: DEPTHWISE_FILTER_GRAD_SHARED,
  plain: DEPTHWISE_FILTER_GRAD_PLAIN,
};

/**
 * Whether our kernel computes the depthwise filter gradient of `info` (computeConv2DInfo's, with
 * `depthwise` true): NHWC, channel multiplier 1, no dilation, any kernel size, stride and
 * padding.
 */
export function simdDepthwiseFilterGradientSupports(info: backend_util.Conv2DInfo): boolean {
  return info.dataFormat === "channelsLast" && info.outChannels === info.inChannels &&
    info.inChannels > 0 && info.dilationHeight === 1 && info.dilationWidth === 1 &&
    info.strideHeight >= 1 && info.strideWidth >= 1;
}

/**
 * dW [kh, kw, C, 1] for `x` [N, H, W, C], `dy` [N, Ho, Wo, C] and the forward depthwise
 * convolution `info` by our SIMD kernel, or undefined where it does not apply (see
 * {@linkcode simdDepthwiseFilterGradientSupports}, another dtype, no wasm SIMD, the "stock"
 * kernels): the caller then runs the composed path. `parts` overrides how many channel ranges
 * the work is cut into (tests; by default one per thread of the backend): the result is the same
 * for any.
 */
export function simdDepthwiseFilterGradient(
  backend: unknown,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
  parts?: number,
): TensorInfo | undefined {
  if (!simdDepthwiseFilterGradientSupports(info)) return undefined;
  if (x.dtype !== "float32" || dy.dtype !== "float32") return undefined;
  const kernel = simdModule<Kernel>(backend, SOURCE);
  if (kernel === null) return undefined;

  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const channels = inChannels;
  const pitch = Math.ceil(channels / 4) * 4;
  const taps = filterHeight * filterWidth;

  return withScratch(backend as KernelBackend, (scratch) => {
    const dw = scratch.make([filterHeight, filterWidth, channels, 1]);
    // Heap addresses: stable for a tensor's life, and the kernel sees the memory as it grows.
    const at = (t: TensorInfo) => heapOffset(backend, t);
    // Channels padded to whole vectors where they are not: copies of x and dy, and a dW to
    // compact after.
    let [xs, dys, dws] = [x, dy, dw];
    if (pitch !== channels) {
      const inPixels = batchSize * inHeight * inWidth;
      const outPixels = batchSize * outHeight * outWidth;
      xs = scratch.make([inPixels, pitch]);
      dys = scratch.make([outPixels, pitch]);
      dws = scratch.make([taps, pitch]);
      kernel.dwf_repitch(at(x), at(xs), inPixels, channels, channels, pitch);
      kernel.dwf_repitch(at(dy), at(dys), outPixels, channels, channels, pitch);
    }
    const rowBytes = (outWidth + strideHeight * inWidth) * pitch * 4;
    const args = [
      at(xs),
      at(dys),
      at(dws),
      batchSize,
      inHeight,
      inWidth,
      pitch,
      outHeight,
      outWidth,
      filterHeight,
      filterWidth,
      strideHeight,
      strideWidth,
      info.padInfo.top,
      info.padInfo.left,
      Math.max(1, Math.floor(CHUNK_BYTES / rowBytes)),
    ];
    // One range of channels per thread (the first here, the others on helpers, or here after
    // where one cannot take it): whole vectors each, every element summed in the same order
    // however many ranges.
    runRanges(backend, SOURCE, "dwf", args, pitch, { step: 4, parts });
    if (dws !== dw) kernel.dwf_repitch(at(dws), at(dw), taps, channels, pitch, channels);
    return dw;
  });
}
