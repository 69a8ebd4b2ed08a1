// Internal: the mean over a run of middle axes (global average pooling: NHWC over H and W) on the
// wasm backend, and its gradient. tfjs-backend-wasm 4.22 transposes the input so that the reduced
// axes come last, then sums; tfjs' gradient of Mean fills a tensor of ones of the input's size in
// JavaScript, multiplies dy by it and divides. In a `compact-cnn` step the three took ~0.35 ms
// of the ~15. Here the forward pass sums in place, each output in the order the transposed input
// would give it (float32, input positions in order, then a division by their count: the same
// bits), and the gradient writes dy / count across the reduced axes in one pass (dy·1 / count,
// as tfjs computes it), both in our SIMD module (max_pool.c) where it runs, else in the loops
// below (the same bits). Every other Mean goes to the built-in kernel.
import { backend_util, util } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { heapOffset, simdModule } from "../_wasm_simd/_module.ts";
import { runRanges } from "../_wasm_simd/_helper_thread.ts";
import { MAX_POOL_SOURCE } from "./max_pool_grad.ts";

/** Kernel name of the gradient: dy [outer, inner] (attrs `shape`, `axes`) → dx of x's shape. */
export const MEAN_GRAD = "DenovisionMeanGrad";

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

/**
 * The sizes [outer, reduced, inner] of `shape` reduced over `axes` where they are one run of
 * consecutive axes that leaves at least one axis after it (else undefined: the built-in kernel's
 * case, whose reduced axes are already innermost).
 */
export function middleAxes(
  shape: readonly number[],
  axes: readonly number[],
): [number, number, number] | undefined {
  const rank = shape.length;
  const sorted = [...new Set(axes.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
  if (sorted.length === 0 || sorted.some((a) => a < 0 || a >= rank)) return undefined;
  const first = sorted[0], last = sorted[sorted.length - 1];
  if (last - first + 1 !== sorted.length || last === rank - 1) return undefined;
  const size = (from: number, to: number) => shape.slice(from, to).reduce((p, d) => p * d, 1);
  return [size(0, first), size(first, last + 1), size(last + 1, rank)];
}

let useSimd = true;

/** Turns the SIMD loops off (false: the TypeScript ones) or back on, for tests. */
export function setMeanSimd(on: boolean): boolean {
  const previous = useSimd;
  useSimd = on;
  return previous;
}

/**
 * Runs export `name` of max_pool.c on `input` → `output` over `sizes` where the module runs
 * (ranges of `outer` per thread); false where it does not.
 */
function simdPass(
  backend: unknown,
  name: "mean_middle" | "mean_middle_grad",
  input: TensorInfo,
  output: TensorInfo,
  [outer, reduced, inner]: readonly number[],
): boolean {
  if (!useSimd || simdModule(backend, MAX_POOL_SOURCE) === null) return false;
  const args = [heapOffset(backend, input), heapOffset(backend, output), reduced, inner];
  runRanges(backend, MAX_POOL_SOURCE, name, args, outer, { work: outer * reduced * inner });
  return true;
}

/** out[o, i] = (Σ_r x[o, r, i], in order of r, in float32) / reduced. */
function meanOfMiddle(x: Float32Array, out: Float32Array, [outer, reduced, inner]: number[]) {
  const sums = new Float32Array(inner);
  for (let o = 0; o < outer; o++) {
    sums.fill(0);
    let at = o * reduced * inner;
    for (let r = 0; r < reduced; r++, at += inner) {
      for (let i = 0; i < inner; i++) sums[i] += x[at + i];
    }
    for (let i = 0; i < inner; i++) out[o * inner + i] = sums[i] / reduced;
  }
}

/** The Mean kernel with the middle-axes case in front of `builtIn`. */
export function meanConfig(builtIn: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    const axes = Array.isArray(axis) ? axis : [axis];
    const sizes = x.dtype === "float32" ? middleAxes(x.shape, axes) : undefined;
    if (sizes === undefined || sizes[1] === 0) return builtIn.kernelFunc(args);
    // The output's shape as tfjs computes it.
    const reduced = util.parseAxisParam(axes, x.shape);
    const [outShape] = backend_util.computeOutAndReduceShapes(x.shape, reduced);
    const shape = keepDims ? backend_util.expandShapeToKeepDim(outShape, reduced) : outShape;
    const heap = args.backend as unknown as WasmHeapBackend;
    const out = heap.makeOutput(shape, "float32");
    if (!simdPass(args.backend, "mean_middle", x, out, sizes)) {
      meanOfMiddle(heap.typedArrayFromHeap(x), heap.typedArrayFromHeap(out), sizes);
    }
    return out;
  };
  return { ...builtIn, kernelFunc };
}

const meanGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy } = inputs as { dy: TensorInfo };
  const { shape, axes } = attrs as unknown as { shape: number[]; axes: number[] };
  const sizes = middleAxes(shape, axes);
  if (sizes === undefined || dy.dtype !== "float32") {
    throw new Error(`${MEAN_GRAD}: axes ${axes} of [${shape}] are not a run of middle axes`);
  }
  const [outer, reduced, inner] = sizes;
  if (dy.shape.reduce((p, d) => p * d, 1) !== outer * inner) {
    throw new Error(`${MEAN_GRAD}: dy [${dy.shape}] does not match [${shape}] reduced`);
  }
  const heap = backend as unknown as WasmHeapBackend;
  const dx = heap.makeOutput([...shape], "float32");
  if (simdPass(backend, "mean_middle_grad", dy, dx, sizes)) return dx;
  const g = heap.typedArrayFromHeap(dy), out = heap.typedArrayFromHeap(dx);
  const scaled = new Float32Array(inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) scaled[i] = g[o * inner + i] / reduced;
    for (let r = 0; r < reduced; r++) out.set(scaled, (o * reduced + r) * inner);
  }
  return dx;
};

/** The gradient's registration on `wasm`. */
export const meanGradConfig: KernelConfig = {
  kernelName: MEAN_GRAD,
  backendName: "wasm",
  kernelFunc: meanGrad,
};
