// Internal: the backward pass of a stride-1 convolution + bias + ReLU + 2×2 max pool
// (conv_relu_pool.ts) computed only where the gradient is not zero, for the wasm backend.
//
// Why: the pool sends each window's gradient to one element and the ReLU keeps it only where that
// element is positive, so at most a quarter of the convolution's output gradient is non-zero;
// the dense filter and input gradients multiply the rest by zero. POOL_ROUTE lists, per output
// channel and image, the windows whose gradient goes through (the value and where its element
// sits), with the bias's gradient; ROUTED_FILTER_GRAD and ROUTED_INPUT_GRAD take the convolution's
// gradients from those lists (pool_routed_grad.c), a quarter of the multiply-adds or fewer. The
// bias's gradient is summed as POOL_RELU_BIAS_GRAD sums it (the same bytes); the filter and input
// gradients add the same products in another order than the dense kernels, each sum in one fixed
// order whatever the thread count.
import { backend_util } from "@tensorflow/tfjs-core";
import type { KernelBackend, KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import {
  POOL_ROUTED_GRAD_PLAIN,
  POOL_ROUTED_GRAD_SHARED,
} from "../_wasm_simd/pool_routed_grad_wasm.ts";
import { runRanges } from "../_wasm_simd/_helper_thread.ts";
import { heapOffset, simdModule, type SimdModuleSource } from "../_wasm_simd/_module.ts";
import { MAX_POOL_SOURCE } from "./max_pool_grad.ts";
import { withScratch } from "./_scratch.ts";

/**
 * Kernel name: dy (the pooled output's gradient, [N, PH, PW, C]), y (the ReLU's output,
 * [N, 2·PH, 2·PW, C]), attribute `gridWidth` (the convolution's output width + filter width − 1)
 * → [g, off, count, db]: per image and channel the list of non-zero gradients (g [N, C, PH·PW],
 * float32) at grid pixels (off, int32, row · gridWidth + column), count [N, C] entries used, and
 * the bias's gradient db [C].
 */
export const POOL_ROUTE = "DenovisionPoolRoute";

/**
 * Kernel name: x, g, off, count → the filter's gradient; attributes as Conv2DBackpropFilter's
 * (strides 1, `filterShape`).
 */
export const ROUTED_FILTER_GRAD = "DenovisionRoutedFilterGrad";

/**
 * Kernel name: g, off, count, filter → the input's gradient; attributes as
 * Conv2DBackpropInput's (strides 1, `inputShape`).
 */
export const ROUTED_INPUT_GRAD = "DenovisionRoutedInputGrad";

interface Kernel {
  route_pool(...args: number[]): void;
  pad_images(...args: number[]): void;
  routed_slots(...args: number[]): number;
  routed_filter_grad(...args: number[]): void;
  routed_filter_out(...args: number[]): void;
  routed_prepare_filter(...args: number[]): void;
  routed_input_grad(...args: number[]): void;
}

/** The kernels' module (both builds). */
export const SOURCE: SimdModuleSource = {
  shared: POOL_ROUTED_GRAD_SHARED,
  plain: POOL_ROUTED_GRAD_PLAIN,
};

interface WasmHeap {
  makeOutput(shape: number[], dtype: "float32" | "int32"): TensorInfo;
}

let enabled = true;

/**
 * Turns the routed gradients off (false: the dense kernels run, for comparisons) or back on.
 *
 * @example
 * ```ts
 * import { setRoutedGradients } from "./pool_routed_grad.ts";
 * setRoutedGradients(false);
 * setRoutedGradients(true);
 * ```
 */
export function setRoutedGradients(on: boolean): void {
  enabled = on;
}

/**
 * Taps from which the routed kernels take a layer's gradient: 5×5 filters and larger. On 3×3
 * layers the dense kernels (Winograd's from 8 channels) did as well or better: the routed ones
 * skip three quarters of the products but read memory for each, where the dense ones keep their
 * sums in registers (2 threads, ms dense → routed, filter + input gradient, batch 32: 3×3 × 32 →
 * 64 at 16 px 6.1 → 7.0; batch 64: LeNet's 5×5 × 10 → 20 2.3 → 1.6).
 */
export const ROUTED_MIN_TAPS = 16;

/**
 * Whether the routed kernels take the gradient of the convolution + ReLU + pool with input `x`
 * and filter `filter` (HWIO) on `backend`: stride 1, ROUTED_MIN_TAPS taps or more, 4 output
 * channels or more, a kernel row of 4 floats or more (filter width × input channels), float32,
 * wasm SIMD there.
 */
export function routedGradientApplies(
  backend: unknown,
  x: TensorInfo,
  filter: TensorInfo,
  strides: number | [number, number],
): boolean {
  const [strideHeight, strideWidth] = [strides].flat();
  const [filterHeight, filterWidth, inChannels, outChannels] = filter.shape;
  return enabled && strideHeight === 1 && (strideWidth ?? strideHeight) === 1 &&
    filterHeight * filterWidth >= ROUTED_MIN_TAPS && outChannels >= 4 &&
    filterWidth * inChannels >= 4 && x.dtype === "float32" && filter.dtype === "float32" &&
    simdModule<Kernel>(backend, SOURCE) !== null;
}

function kernelOf(backend: unknown, name: string): Kernel {
  const kernel = simdModule<Kernel>(backend, SOURCE);
  if (kernel === null) throw new Error(`${name}: needs wasm SIMD`);
  return kernel;
}

const poolRoute: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, y } = inputs as Record<"dy" | "y", TensorInfo>;
  const gridWidth = (attrs as { gridWidth: number }).gridWidth;
  const [batch, height, width, channels] = y.shape;
  const [pooledHeight, pooledWidth] = [dy.shape[1], dy.shape[2]];
  if (
    height !== 2 * pooledHeight || width !== 2 * pooledWidth || dy.shape[0] !== batch ||
    dy.shape[3] !== channels || channels < 4 || gridWidth < width
  ) {
    throw new Error(`${POOL_ROUTE}: dy [${dy.shape}] is not the 2×2 pool of y [${y.shape}]`);
  }
  kernelOf(backend, POOL_ROUTE);
  const poolSums = simdModule<{ sum_partials(...args: number[]): void }>(backend, MAX_POOL_SOURCE);
  if (poolSums === null) throw new Error(`${POOL_ROUTE}: needs wasm SIMD`);
  const heap = backend as unknown as WasmHeap;
  const pixels = pooledHeight * pooledWidth;
  const g = heap.makeOutput([batch, channels, pixels], "float32");
  const off = heap.makeOutput([batch, channels, pixels], "int32");
  const count = heap.makeOutput([batch, channels], "int32");
  const db = heap.makeOutput([channels], "float32");
  withScratch(backend as KernelBackend, (scratch) => {
    const partial = scratch.make([batch, 2 * channels]); // doubles, per image
    const at = (t: TensorInfo) => heapOffset(backend, t);
    const args = [at(y), at(dy), at(g), at(off), at(count), at(partial)];
    const geometry = [pooledHeight, pooledWidth, channels, gridWidth];
    // Each part's own scratch: an image's z and grid pixels before they are listed.
    const parts: number[] = [];
    runRanges(backend, SOURCE, "route_pool", [...args, ...geometry], batch, {
      work: y.shape.reduce((a, b) => a * b, 1),
      perPart: (part) => [parts[part] ??= at(scratch.make([2 * pixels * channels]))],
    });
    // The images' sums in image order, as the dense path sums them (max_pool.c).
    poolSums.sum_partials(at(partial), at(db), batch, channels);
    return g;
  });
  return [g, off, count, db];
};

/** The convolution's geometry: NHWC x, HWIO filter, stride 1, and its padded input grid. */
function geometry(name: string, xShape: number[], filterShape: number[], attrs: RoutedAttrs) {
  const strides = [attrs.strides ?? 1].flat();
  if (strides.some((s) => s !== 1)) throw new Error(`${name}: stride 1 only, not ${strides}`);
  const info = backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    1,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const { filterHeight, filterWidth, inChannels, outHeight, outWidth } = info;
  const row = filterWidth * inChannels; // a kernel row's floats
  if (row < 4 || outHeight % 2 !== 0 || outWidth % 2 !== 0) {
    throw new Error(
      `${name}: needs a kernel row of 4 floats or more and an even output, not a filter ` +
        `[${filterShape}] on x [${xShape}]`,
    );
  }
  return {
    info,
    gridHeight: outHeight + filterHeight - 1,
    gridWidth: outWidth + filterWidth - 1,
    row,
    pixels: (outHeight / 2) * (outWidth / 2),
  };
}

/** The lists' and the filter's sizes as both gradients' exports take them. */
function listShape(info: backend_util.Conv2DInfo, pixels: number, row: number): number[] {
  const { batchSize, outChannels, inChannels, filterHeight } = info;
  return [batchSize, pixels, outChannels, inChannels, filterHeight, row];
}

/** The attributes of the routed kernels (those of tfjs' convolution gradients). */
interface RoutedAttrs {
  strides?: number | number[];
  pad: "same" | "valid" | number;
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape?: number[];
  inputShape?: number[];
}

const routedFilterGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, g, off, count } = inputs as Record<"x" | "g" | "off" | "count", TensorInfo>;
  const routed = attrs as unknown as RoutedAttrs;
  const filterShape = routed.filterShape as number[];
  const { info, gridHeight, gridWidth, row, pixels } = geometry(
    ROUTED_FILTER_GRAD,
    x.shape,
    filterShape,
    routed,
  );
  const { batchSize, inHeight, inWidth, inChannels, filterHeight, outChannels } = info;
  const { top, left } = info.padInfo;
  const kernel = kernelOf(backend, ROUTED_FILTER_GRAD);
  const dw = (backend as unknown as WasmHeap).makeOutput(filterShape, "float32");
  withScratch(backend as KernelBackend, (scratch) => {
    const at = (t: TensorInfo) => heapOffset(backend, t);
    // Unpadded: the windows read x itself; otherwise a zero-bordered copy.
    let grid = x;
    let imageStride = inHeight * inWidth * inChannels;
    if (gridHeight !== inHeight || gridWidth !== inWidth) {
      imageStride = gridHeight * gridWidth * inChannels;
      grid = scratch.make([batchSize * imageStride]);
      const args = [
        at(x),
        at(grid),
        inHeight,
        inWidth,
        inChannels,
        gridHeight,
        gridWidth,
        top,
        left,
      ];
      runRanges(backend, SOURCE, "pad_images", [...args, imageStride], batchSize, {
        work: batchSize * imageStride,
      });
    }
    const slotsMax = 4 * Math.ceil((filterHeight * Math.ceil(row / 4)) / 4);
    const slots = scratch.make([2 * slotsMax], "int32");
    const slotCount = kernel.routed_slots(at(slots), filterHeight, row, gridWidth * inChannels);
    const transposed = scratch.make([outChannels, filterHeight * row]);
    const args = [at(grid), at(g), at(off), at(count), at(transposed), at(slots), slotCount];
    runRanges(
      backend,
      SOURCE,
      "routed_filter_grad",
      [...args, ...listShape(info, pixels, row), imageStride],
      outChannels,
      // Multiply-adds: a quarter of the windows or fewer, four a vector.
      { work: batchSize * pixels * outChannels * slotCount },
    );
    kernel.routed_filter_out(at(transposed), at(dw), filterHeight * row, outChannels);
    return dw;
  });
  return dw;
};

const routedInputGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { g, off, count, filter } = inputs as Record<"g" | "off" | "count" | "filter", TensorInfo>;
  const routed = attrs as unknown as RoutedAttrs;
  const inputShape = routed.inputShape as number[];
  const { info, gridHeight, gridWidth, row, pixels } = geometry(
    ROUTED_INPUT_GRAD,
    inputShape,
    filter.shape,
    routed,
  );
  const { batchSize, inHeight, inWidth, inChannels, filterHeight, filterWidth, outChannels } = info;
  const { top, left } = info.padInfo;
  const kernel = kernelOf(backend, ROUTED_INPUT_GRAD);
  const dx = (backend as unknown as WasmHeap).makeOutput(inputShape, "float32");
  withScratch(backend as KernelBackend, (scratch) => {
    const at = (t: TensorInfo) => heapOffset(backend, t);
    const rowVectors = Math.ceil(row / 4);
    const transposed = scratch.make([outChannels, filterHeight, 4 * rowVectors]);
    kernel.routed_prepare_filter(
      at(filter),
      at(transposed),
      filterHeight,
      filterWidth,
      inChannels,
      outChannels,
    );
    const grid = scratch.make([batchSize * (gridHeight * gridWidth * inChannels + 4)]);
    const args = [at(g), at(off), at(count), at(transposed), at(grid), at(dx)];
    runRanges(
      backend,
      SOURCE,
      "routed_input_grad",
      [
        ...args,
        ...listShape(info, pixels, row),
        inHeight,
        inWidth,
        gridHeight,
        gridWidth,
        top,
        left,
      ],
      batchSize,
      { work: batchSize * pixels * outChannels * filterHeight * rowVectors },
    );
    return dx;
  });
  return dx;
};

/** Kernel registrations for the routed gradients on `wasm`. */
export const poolRoutedGradConfigs: KernelConfig[] = [
  { kernelName: POOL_ROUTE, backendName: "wasm", kernelFunc: poolRoute },
  { kernelName: ROUTED_FILTER_GRAD, backendName: "wasm", kernelFunc: routedFilterGrad },
  { kernelName: ROUTED_INPUT_GRAD, backendName: "wasm", kernelFunc: routedInputGrad },
];
