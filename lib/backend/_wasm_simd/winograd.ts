// Internal: 3×3, stride-1 convolutions by Winograd's minimal filtering in our WebAssembly SIMD
// kernel (winograd.c): the forward pass and the input gradient by F(4×4, 3×3) or F(2×2, 3×3),
// the filter gradient by F(2×2, 3×3), on tfjs-backend-wasm's shared memory, in place on its
// tensors.
//
// Why: a 3×3 layer's multiply-adds are most of a small CNN's step (`compact-cnn`, ResNet-18), and
// our direct kernels already run near 4-wide SIMD's peak. F(2×2, 3×3) computes each 2×2 block of
// outputs with 16 multiply-adds per channel pair instead of 36, in 16 matrix products over the
// channels, plus transforms that are additions only; F(4×4, 3×3) each 4×4 block with 36 instead
// of 144 (useLargeTiles says where); the input gradient of such a layer is the
// same computation with the filter turned round, and the filter gradient is its adjoint. Results
// differ from the direct sums by rounding (the transforms add before they multiply): the tests hold
// them to tfjs' cpu backend within float32 tolerances. Work is cut into one range per thread of the
// backend: tile rows over the batch forward, output channels for the filter gradient,
// each computed alike in any range, so results do not depend on the thread count.
import type { backend_util, KernelBackend, TensorInfo } from "@tensorflow/tfjs-core";
import { withScratch } from "../_wasm_kernels/_scratch.ts";
import { WINOGRAD_PLAIN, WINOGRAD_SHARED } from "./winograd_wasm.ts";
import { runRanges, threadsFor } from "./_helper_thread.ts";
import { heapOffset, simdModule, type SimdModuleSource } from "./_module.ts";

interface Kernel {
  wg_filter(...args: number[]): void;
  wg4_filter(...args: number[]): void;
  wg_filter_out(...args: number[]): void;
  wg_conv(...args: number[]): void;
  wg_filter_grad(...args: number[]): void;
}

/** The kernel's module (both builds). */
export const SOURCE: SimdModuleSource = { shared: WINOGRAD_SHARED, plain: WINOGRAD_PLAIN };

/** Tiles a forward chunk transforms, multiplies and writes back while they are in cache. */
const FORWARD_TILES = 8;
/**
 * The filter gradient of a layer whose 16 transformed filters have this many floats or fewer
 * (64 × 64 channels) is summed by chunks of images, at most GRADIENT_CHUNKS, each into a partial
 * of its own (256 KiB at most), then the partials in order: every thread then transforms only its
 * own images. Larger layers cut their output channels among the threads instead (each thread
 * transforms every tile's input), which keeps no partials.
 */
const CHUNKED_GRADIENT_SIZE = 16 * 64 * 64;
/** The most chunks of images a filter gradient is summed by (see CHUNKED_GRADIENT_SIZE). */
const GRADIENT_CHUNKS = 8;
/** Tiles a filter-gradient chunk sums per pass over its accumulators. */
const GRADIENT_TILES = 32;
/**
 * Tiles per pass where the layer is summed by chunks of images and has at most 32 × 64 channel
 * pairs: its partial and the pass's transforms then stay in cache together. Measured on 2
 * threads (ms, 32 tiles → 16): `compact-cnn`'s 32 → 64 layer at 8×8, batch 64, 1.50 → 1.41;
 * ResNet-18's layers (64 channels and more) ran fastest with 32.
 */
const SMALL_GRADIENT_TILES = 16;

/** Tiles (of 16 outputs) a forward chunk of F(4×4, 3×3) takes. */
const LARGE_TILES = 4;
let largeTiles = true;

/**
 * Turns F(4×4, 3×3) for the forward pass and the input gradient off (false: F(2×2, 3×3)
 * everywhere) or back on; returns the previous setting. For tests and measurements.
 *
 * @example
 * ```ts
 * import { setWinogradLargeTiles } from "./winograd.ts";
 * const before = setWinogradLargeTiles(false);
 * setWinogradLargeTiles(before);
 * ```
 */
export function setWinogradLargeTiles(on: boolean): boolean {
  const old = largeTiles;
  largeTiles = on;
  return old;
}

/**
 * Whether a convolution with `channels` input × output channels and an output of `height` ×
 * `width` takes F(4×4, 3×3): 36 products a 4×4 tile against 16 a 2×2 one (2.25 an output
 * against 4), where the output is 8 or more on each side and the 36 transformed filters are
 * small enough (128 × 128 channels or fewer) that the chunk's products stay in cache. Measured on
 * 2 threads (ms, F(2×2) → F(4×4), a batch of 64 or 32): `compact-cnn`'s 16 → 32 layer at 16×16
 * 1.77 → 1.18, ResNet-18's 64 → 64 at 32×32 18.3 → 12.6 and 128 → 128 at 16×16 18.1 → 15.8;
 * `compact-cnn`'s 32 → 64 layer at 8×8 1.56 → 1.67 while the transformed filters were made one
 * channel at a time, 1.58–1.86 → 1.36–1.81 (and its input gradient, 64 → 32, 1.89–2.35 →
 * 1.32–2.06) since they are made four at a time; but ResNet's 256 channels at 8×8 18.7 → 30.4
 * and 512 at 4×4 32 → 101. The filter gradient stays on F(2×2, 3×3): by F(4×4) (tried,
 * 2026-12-08) `compact-cnn`'s 16 → 32 layer ran 1.3 → 0.9 ms, but the default run trained worse
 * on three seeds of three (validation loss 0.239 / 0.325 / 0.249 → 0.269 / 0.478 / 0.256).
 */
function useLargeTiles(height: number, width: number, channels: number): boolean {
  return largeTiles && Math.min(height, width) >= 8 && channels <= 128 * 128;
}

let enabled = true;

/**
 * Turns the Winograd path off (false) or back on, so that tests and measurements can compare it
 * with the direct kernels.
 *
 * @example
 * ```ts
 * import { setWinograd } from "./winograd.ts";
 * const before = setWinograd(false);
 * setWinograd(before);
 * ```
 */
export function setWinograd(on: boolean): boolean {
  const old = enabled;
  enabled = on;
  return old;
}

/**
 * Whether the Winograd kernel takes the convolution `info`: NHWC, 3×3, stride 1, no dilation, an
 * output at least 4×4 (smaller ones are mostly padding in their tiles, and cheap anyway), and at
 * least WINOGRAD_MIN_CHANNELS channels on each side.
 */
export function winogradSupports(info: backend_util.Conv2DInfo): boolean {
  return enabled && info.dataFormat === "channelsLast" && info.filterHeight === 3 &&
    info.filterWidth === 3 && info.strideHeight === 1 && info.strideWidth === 1 &&
    info.dilationHeight === 1 && info.dilationWidth === 1 && info.outHeight >= 4 &&
    info.outWidth >= 4 && info.batchSize > 0 && info.inChannels >= WINOGRAD_MIN_CHANNELS &&
    info.outChannels >= WINOGRAD_MIN_CHANNELS;
}

/** Fewest input and output channels for which the Winograd path runs. */
export const WINOGRAD_MIN_CHANNELS = 8;

const float32 = (...tensors: (TensorInfo | undefined)[]) =>
  tensors.every((t) => t === undefined || t.dtype === "float32");

/** One convolution of the kernel: input [N, H, W, Ci] to output [N, Ho, Wo, Co], padding (pt, pl). */
interface Plan {
  batch: number;
  input: [number, number, number];
  output: [number, number, number];
  pad: [number, number];
}

function convolve(
  backend: unknown,
  kernel: Kernel,
  x: TensorInfo,
  filter: TensorInfo,
  flip: boolean,
  bias: TensorInfo | undefined,
  relu: boolean,
  { batch, input: [H, W, Ci], output: [Ho, Wo, Co], pad: [pt, pl] }: Plan,
): TensorInfo {
  const CoP = Math.ceil(Co / 4) * 4;
  const large = useLargeTiles(Ho, Wo, Ci * Co);
  const [positions, side] = large ? [36, 4] : [16, 2];
  return withScratch(backend as KernelBackend, (scratch) => {
    const at = (t: TensorInfo) => heapOffset(backend, t);
    const u = scratch.make([positions, Ci, CoP]);
    const prepare = large ? kernel.wg4_filter : kernel.wg_filter;
    prepare(at(filter), at(u), Ci, Co, CoP, flip ? 1 : 0);
    const out = scratch.make([batch, Ho, Wo, Co]);
    const tiles = large ? LARGE_TILES : FORWARD_TILES;
    const slot = positions * tiles * (Ci + CoP);
    const parts = threadsFor(backend);
    const work = scratch.make([parts * slot]);
    const rows = batch * Math.ceil(Ho / side);
    const args = [at(x), at(u), bias === undefined ? 0 : at(bias), at(out), H, W, Ci, Ho, Wo, Co];
    const name = large ? "wg4_conv" : "wg_conv";
    runRanges(backend, SOURCE, name, [...args, CoP, pt, pl, relu ? 1 : 0, tiles], rows, {
      work: batch * Ho * Wo * Ci * Co * 4,
      perPart: (p) => [at(work) + 4 * p * slot],
      share: true,
    });
    return out;
  });
}

/**
 * act(conv(x, filter) + bias) for `x` (NHWC), `filter` (HWIO), an optional `bias` and the 3×3,
 * stride-1 convolution `info`, or undefined where the Winograd kernel does not take it.
 */
export function winogradForward(
  backend: unknown,
  x: TensorInfo,
  filter: TensorInfo,
  bias: TensorInfo | undefined,
  info: backend_util.Conv2DInfo,
  activation: "linear" | "relu",
): TensorInfo | undefined {
  if (!winogradSupports(info) || !float32(x, filter, bias)) return undefined;
  const kernel = simdModule<Kernel>(backend, SOURCE);
  if (kernel === null) return undefined;
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  return convolve(backend, kernel, x, filter, false, bias, activation === "relu", {
    batch: batchSize,
    input: [inHeight, inWidth, inChannels],
    output: [outHeight, outWidth, outChannels],
    pad: [info.padInfo.top, info.padInfo.left],
  });
}

/**
 * dx for `dy` and `filter` of the 3×3, stride-1 convolution `info`: the correlation of dy with
 * the filter turned 180° (its channel axes swapped), padded by 2 − the forward padding; or
 * undefined where the Winograd kernel does not take it.
 */
export function winogradInputGradient(
  backend: unknown,
  dy: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo | undefined {
  if (!winogradSupports(info) || !float32(dy, filter)) return undefined;
  const kernel = simdModule<Kernel>(backend, SOURCE);
  if (kernel === null) return undefined;
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  return convolve(backend, kernel, dy, filter, true, undefined, false, {
    batch: batchSize,
    input: [outHeight, outWidth, outChannels],
    output: [inHeight, inWidth, inChannels],
    pad: [2 - info.padInfo.top, 2 - info.padInfo.left],
  });
}

/**
 * The least output height and width for which the filter gradient takes the Winograd path. Where
 * tiles are mostly padding, a tap that meets few inputs (a corner's, at 2×2) gets its small sum
 * out of the transform's larger ones, with their rounding: VGG-11's 2×2 layers at 32 px gave
 * gradients as close to tfjs' cpu backend as the direct kernel's (relative L2 1.5e-5 vs 1.1e-5),
 * but Adam, which scales each weight's step by its own gradient, moved the inference logits after
 * one step 10 times further from the cpu backend's (4.4e-3 vs 3.5e-4). From 4×4 on they were as
 * close as the direct kernel's.
 */
export const GRADIENT_MIN_SIDE = 4;

/**
 * The least input × output channels for which the filter gradient takes the Winograd path. With
 * fewer, the transforms are as much work as the products. Measured on 2 threads (ms, direct →
 * Winograd, a batch of 64 or 32, two runs): `compact-cnn`'s 16 → 32 layer (512) 3.3 → 2.3 and
 * 2.8 → 2.1, its 32 → 64 layer 4.1 → 2.2 and 2.9 → 1.6, ResNet-18's 64 → 64 at 32×32 47 → 20,
 * 128 → 128 at 16×16 47 → 21. Its 3 → 16 first layer (48) stays direct.
 */
export const GRADIENT_MIN_CHANNEL_PRODUCT = 256;

/**
 * dW [3, 3, Ci, Co] for `x`, `dy` and the 3×3, stride-1 convolution `info`, or undefined where
 * the Winograd kernel does not take it (GRADIENT_MIN_SIDE, GRADIENT_MIN_CHANNEL_PRODUCT).
 */
export function winogradFilterGradient(
  backend: unknown,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo | undefined {
  if (!winogradSupports(info) || !float32(x, dy)) return undefined;
  if (info.outHeight < GRADIENT_MIN_SIDE || info.outWidth < GRADIENT_MIN_SIDE) return undefined;
  if (info.inChannels * info.outChannels < GRADIENT_MIN_CHANNEL_PRODUCT) return undefined;
  const kernel = simdModule<Kernel>(backend, SOURCE);
  if (kernel === null) return undefined;
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const CoP = Math.ceil(outChannels / 4) * 4;
  return withScratch(backend as KernelBackend, (scratch) => {
    const at = (t: TensorInfo) => heapOffset(backend, t);
    const du = scratch.make([16, inChannels, CoP]);
    const size = 16 * inChannels * CoP;
    const chunked = size <= CHUNKED_GRADIENT_SIZE;
    const tiles = chunked && inChannels * CoP <= 32 * 64 ? SMALL_GRADIENT_TILES : GRADIENT_TILES;
    const slot = 16 * tiles * (inChannels + CoP);
    const work = scratch.make([threadsFor(backend) * slot]);
    const args = [at(x), at(dy), batchSize, inHeight, inWidth, inChannels, outHeight];
    const rest = [outWidth, outChannels, CoP, info.padInfo.top, info.padInfo.left, tiles];
    const multiplyAdds = batchSize * outHeight * outWidth * inChannels * outChannels * 4;
    if (chunked) {
      // Chunks of images, each summed into its own partial, then the partials in order: their
      // number depends on the batch alone.
      const per = Math.ceil(batchSize / GRADIENT_CHUNKS);
      const chunks = Math.ceil(batchSize / per);
      const partial = scratch.make([chunks, size]);
      const chunkArgs = [at(x), at(dy), at(partial), ...args.slice(2), ...rest, per];
      runRanges(backend, SOURCE, "wg_filter_grad_chunks", chunkArgs, chunks, {
        work: multiplyAdds,
        perPart: (p) => [at(work) + 4 * p * slot],
        share: true,
      });
      // The partials' sum by ranges of elements, each summed over the chunks in order.
      runRanges(
        backend,
        SOURCE,
        "wg_sum_partial_range",
        [at(partial), at(du), chunks, size],
        size,
        {
          step: 4,
          work: chunks * size,
        },
      );
    } else {
      // Ranges of output channels, whole blocks of 16 (the products' widest tile) where there
      // are two or more.
      const vectors = CoP / 4;
      const [xAt, dyAt] = args;
      runRanges(
        backend,
        SOURCE,
        "wg_filter_grad",
        [xAt, dyAt, at(du), ...args.slice(2), ...rest],
        vectors,
        {
          step: vectors >= 8 ? 4 : 1,
          work: multiplyAdds,
          perPart: (p) => [at(work) + 4 * p * slot],
        },
      );
    }
    const dw = scratch.make([3, 3, inChannels, outChannels]);
    kernel.wg_filter_out(at(du), at(dw), inChannels, outChannels, CoP);
    return dw;
  });
}
