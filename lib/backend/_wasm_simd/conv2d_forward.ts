// Internal: the forward convolution (with an optional bias and a linear or ReLU activation) of
// small layers in our own WebAssembly SIMD kernel (conv2d_forward.c), run on tfjs-backend-wasm's
// shared memory, in place on its tensors.
//
// Why: tfjs-backend-wasm's FusedConv2D calls XNNPACK, which caches its packed operator by the
// filter tensor's id; while training, the weights are a new tensor every step, so it re-creates
// and repacks the operator on every call, and it handles few input channels poorly (LeNet's first
// layer ran at ~6 GMAC/s). This kernel copies the filter into a channel-padded scratch per call
// (cheap for small filters) and computes register tiles of output pixels × vectors of output
// channels with relaxed-SIMD FMA. On the threaded build it cuts the output rows (over the whole
// batch) into one range per thread of the backend (_helper_thread.ts); each output is summed in
// the same order however the rows are cut, so results do not depend on the thread count.
import type { backend_util, KernelBackend, TensorInfo } from "@tensorflow/tfjs-core";
import { withScratch } from "../_wasm_kernels/_scratch.ts";
import { CONV2D_FORWARD_PLAIN, CONV2D_FORWARD_SHARED } from "./conv2d_forward_wasm.ts";
import { runRanges } from "./_helper_thread.ts";
import { heapOffset, simdModule, type SimdModuleSource } from "./_module.ts";
import { winogradForward } from "./winograd.ts";

interface Kernel {
  fw_prepare_filter(...args: number[]): void;
  fw_pad_rows(...args: number[]): void;
  fw_conv(...args: number[]): void;
}

/** The kernel's module (both builds). */
export const SOURCE: SimdModuleSource = {
  shared: CONV2D_FORWARD_SHARED,
  plain: CONV2D_FORWARD_PLAIN,
};

/** Activations the kernel applies itself. */
export type SimdActivation = "linear" | "relu";

/**
 * Whether our kernel can compute the convolution `info` at all: NHWC, strides 1 or 2 (the same
 * along both axes), no dilation, a non-empty output (the size rule of where it is used is the caller's).
 */
export function simdForwardSupports(info: backend_util.Conv2DInfo): boolean {
  return info.dataFormat === "channelsLast" && [1, 2].includes(info.strideHeight) &&
    info.strideWidth === info.strideHeight && info.dilationHeight === 1 &&
    info.dilationWidth === 1 && info.outHeight > 0 && info.outWidth > 0 && info.batchSize > 0;
}

/**
 * act(conv(x, filter) + bias) for `x` (NHWC), `filter` (HWIO), an optional `bias` of
 * `info.outChannels` floats and the convolution `info` by our SIMD kernel, or undefined where it
 * does not run (another dtype, an unsupported convolution, no wasm SIMD): the caller then runs
 * the built-in kernel.
 */
export function simdConvForward(
  backend: unknown,
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | undefined,
  info: backend_util.Conv2DInfo,
  activation: SimdActivation,
): TensorInfo | undefined {
  return winogradForward(backend, x, filter, bias, info, activation) ??
    convForward(backend, x, filter, bias, info, activation, false)?.[0];
}

/**
 * The same convolution followed by a 2×2, stride-2 max pool, in one call per thread (each pair
 * of output rows is pooled right after it is computed): `[pooled, out]`, or undefined where the
 * kernel does not run or the output's height or width is odd.
 */
export function simdConvPoolForward(
  backend: unknown,
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | undefined,
  info: backend_util.Conv2DInfo,
  activation: SimdActivation,
): [TensorInfo, TensorInfo] | undefined {
  if (info.outHeight % 2 !== 0 || info.outWidth % 2 !== 0) return undefined;
  const out = winogradForward(backend, x, filter, bias, info, activation);
  if (out === undefined) {
    return convForward(backend, x, filter, bias, info, activation, true) as [
      TensorInfo,
      TensorInfo,
    ];
  }
  // A 3×3 layer on the Winograd kernel, then the pool fw_conv_pool applies.
  const pooled = maxPool2x2(backend, out);
  return [pooled, out];
}

/**
 * The 2×2, stride-2 max pool of `y` (NHWC, even height and width) by conv2d_forward.c's
 * max_pool_2x2 (the pool fw_conv_pool applies), its window rows cut among the threads: a new
 * tensor on the wasm heap.
 */
export function maxPool2x2(backend: unknown, y: TensorInfo): TensorInfo {
  const [batch, height, width, channels] = y.shape;
  const pooled = (backend as unknown as {
    makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  }).makeOutput([batch, height / 2, width / 2, channels], "float32");
  const at = (t: TensorInfo) => heapOffset(backend, t);
  runRanges(
    backend,
    SOURCE,
    "max_pool_2x2",
    [at(y), at(pooled), height / 2, width / 2, channels],
    (batch * height) / 2,
    { work: batch * height * width * channels },
  );
  return pooled;
}

function convForward(
  backend: unknown,
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | undefined,
  info: backend_util.Conv2DInfo,
  activation: SimdActivation,
  pool: boolean,
): TensorInfo[] | undefined {
  if (!simdForwardSupports(info)) return undefined;
  if (x.dtype !== "float32" || filter.dtype !== "float32") return undefined;
  if (bias !== undefined && bias.dtype !== "float32") return undefined;
  const kernel = simdModule<Kernel>(backend, SOURCE);
  if (kernel === null) return undefined;

  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const { top, left } = info.padInfo;
  const paddedChannels = Math.ceil(outChannels / 4) * 4;
  // The input rows and columns the output reaches, from (−top, −left).
  const paddedHeight = (outHeight - 1) * strideHeight + filterHeight;
  const paddedWidth = (outWidth - 1) * strideWidth + filterWidth;
  // x itself where no padding is read (rows or columns past the reach are never read).
  const direct = top === 0 && left === 0 && paddedHeight <= inHeight && paddedWidth <= inWidth;
  const [xHeight, xWidth] = direct ? [inHeight, inWidth] : [paddedHeight, paddedWidth];
  const taps = filterHeight * filterWidth * inChannels;

  const outputs: TensorInfo[] = [];
  withScratch(backend as KernelBackend, (scratch) => {
    const transposed = scratch.make([taps + 1, paddedChannels]);
    const out = scratch.make([batchSize, outHeight, outWidth, outChannels]);
    const pooled = pool
      ? scratch.make([batchSize, outHeight / 2, outWidth / 2, outChannels])
      : undefined;
    const at = (t: TensorInfo) => heapOffset(backend, t);
    kernel.fw_prepare_filter(
      at(filter),
      bias === undefined ? 0 : at(bias),
      at(transposed),
      taps,
      outChannels,
      paddedChannels,
    );
    let input = x;
    if (!direct) {
      input = scratch.make([batchSize, paddedHeight, paddedWidth, inChannels]);
      const args = [at(x), at(input), inHeight, inWidth, inChannels, paddedHeight, paddedWidth];
      const rows = batchSize * paddedHeight;
      const work = rows * paddedWidth * inChannels;
      runRanges(backend, SOURCE, "fw_pad_rows", [...args, top, left], rows, { work });
    }
    const shape = [xHeight, xWidth, inChannels, filterHeight, filterWidth, strideHeight];
    const rest = [outHeight, outWidth, outChannels, paddedChannels, activation === "relu" ? 1 : 0];
    // One range of output rows (pairs of them, pooling) per thread; each output is computed
    // alike however many ranges.
    const work = batchSize * outHeight * outWidth * taps * outChannels;
    if (pooled === undefined) {
      runRanges(
        backend,
        SOURCE,
        "fw_conv",
        [at(input), at(transposed), at(out), ...shape, ...rest],
        batchSize * outHeight,
        { work, share: true },
      );
    } else {
      const args = [at(input), at(transposed), at(out), at(pooled), ...shape, ...rest];
      runRanges(backend, SOURCE, "fw_conv_pool", args, batchSize * outHeight / 2, {
        work,
        share: true,
      });
    }
    // The outputs are the engine's from here: kept out of the scratch's release.
    outputs.push(...(pooled === undefined ? [out] : [pooled, out]));
    for (const output of outputs) scratch.keep(output);
    return out;
  });
  return outputs;
}
