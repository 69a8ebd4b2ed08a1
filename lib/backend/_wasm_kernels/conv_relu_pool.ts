// Internal: a convolution with a bias and a ReLU followed by a 2×2, stride-2 max pool, as one op
// with one gradient op, for the wasm backend: LeNet's and the small CNNs' layers.
//
// Why: tfjs runs such a layer as FusedConv2D then MaxPool forward, and MaxPoolGrad then the
// bias + ReLU gradient backward, each a separate pass over the convolution's full-size output
// with its own tensor, tape record and kernel dispatch. Here the forward pass pools each pair of
// output rows right after computing them (conv2d_forward.c's fw_conv_pool), and the backward
// pass turns the pool's gradient into the convolution's in one pass that also sums the bias's
// gradient (max_pool.c's pool_relu_bias_grad); the filter and input gradients follow as before.
// The pool's gradient goes to each window's first maximum, as MaxPoolGrad's does; dz is what
// MaxPoolGrad then the ReLU's mask give, bit for bit. The bias's gradient is summed per image,
// then over images in order, so it does not depend on how many threads share the work.
import { backend_util, getKernel } from "@tensorflow/tfjs-core";
import type {
  FusedConv2DAttrs,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { simdConvPoolForward } from "../_wasm_simd/conv2d_forward.ts";
import { runRanges } from "../_wasm_simd/_helper_thread.ts";
import { heapOffset, simdModule } from "../_wasm_simd/_module.ts";
import { MAX_POOL_SOURCE } from "./max_pool_grad.ts";
import { WasmScratch } from "./_scratch.ts";

/**
 * Kernel name: x, filter, bias (optional) → [pooled, y], with y = relu(conv(x, filter) + bias)
 * (attributes as FusedConv2D's, activation "relu") and pooled its 2×2, stride-2 max pool.
 */
export const CONV_RELU_POOL = "DenovisionConvReluPool";

/**
 * Kernel name: dy (the pooled output's gradient), y (the ReLU's output) → [dz, db]: the gradient
 * at the convolution's output and the bias's.
 */
export const POOL_RELU_BIAS_GRAD = "DenovisionPoolReluBiasGrad";

interface PoolGradSimd {
  pool_relu_bias_grad(...args: number[]): void;
  sum_partials(...args: number[]): void;
}

interface WasmHeap {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
  disposeData(dataId: unknown): void;
}

function runBuiltIn(name: string, args: Parameters<KernelFunc>[0]): TensorInfo {
  const kernel = getKernel(name, "wasm");
  if (kernel === undefined) throw new Error(`wasm kernel '${name}' is not registered`);
  const output = kernel.kernelFunc(args);
  return Array.isArray(output) ? output[0] : output;
}

const convReluPool: KernelFunc = (args) => {
  const { x, filter, bias } = args.inputs as Record<string, TensorInfo | undefined>;
  const attrs = args.attrs as unknown as FusedConv2DAttrs;
  if (x === undefined || filter === undefined) throw new Error(`${CONV_RELU_POOL}: x and filter`);
  if (attrs.activation !== "relu") throw new Error(`${CONV_RELU_POOL}: a ReLU only`);
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    [1, 1],
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const simd = simdConvPoolForward(args.backend, x, filter, bias ?? undefined, info, "relu");
  if (simd !== undefined) return simd;
  // No SIMD (or odd sizes): the registered FusedConv2D, then MaxPool.
  const y = runBuiltIn("FusedConv2D", {
    inputs: bias == null ? { x, filter } : { x, filter, bias },
    backend: args.backend,
    attrs: { ...attrs, dataFormat: "NHWC", dilations: [1, 1] },
  });
  const pooled = runBuiltIn("MaxPool", {
    inputs: { x: y },
    backend: args.backend,
    attrs: { filterSize: [2, 2], strides: [2, 2], pad: "valid" },
  });
  return [pooled, y];
};

/** The same arithmetic as max_pool.c's pool_relu_bias_grad, in TypeScript. */
function poolReluBiasGradLoops(
  y: Float32Array,
  dy: Float32Array,
  dz: Float32Array,
  bias: Float32Array,
  [batch, outHeight, outWidth, channels]: number[],
): void {
  const row = 2 * outWidth * channels;
  const sums = new Float64Array(channels);
  const image = new Float64Array(channels);
  const gt = (a: number, b: number) => +(a > b);
  const f = Math.fround;
  for (let n = 0; n < batch; n++) {
    image.fill(0);
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const p00 = (n * 2 * outHeight + 2 * oh) * row + 2 * ow * channels;
        const [p01, p10] = [p00 + channels, p00 + row];
        const p11 = p10 + channels;
        const g = ((n * outHeight + oh) * outWidth + ow) * channels;
        for (let c = 0; c < channels; c++) {
          const [v0, v1, v2, v3] = [y[p00 + c], y[p01 + c], y[p10 + c], y[p11 + c]];
          const [gt10, gt20, gt30] = [gt(v1, v0), gt(v2, v0), gt(v3, v0)];
          const [gt21, gt31, gt32] = [gt(v2, v1), gt(v3, v1), gt(v3, v2)];
          const d = dy[g + c];
          // Factors are 0 or 1: each product is exact, as in float.
          const z0 = f(d * ((1 - gt10) * (1 - gt20) * (1 - gt30)) + 0) * gt(v0, 0);
          const z1 = f(d * (gt10 * (1 - gt21) * (1 - gt31)) + 0) * gt(v1, 0);
          const z2 = f(d * (gt20 * gt21 * (1 - gt32)) + 0) * gt(v2, 0);
          const z3 = f(d * (gt30 * gt31 * gt32) + 0) * gt(v3, 0);
          [dz[p00 + c], dz[p01 + c], dz[p10 + c], dz[p11 + c]] = [z0, z1, z2, z3];
          image[c] += f(f(f(z0 + z1) + z2) + z3);
        }
      }
    }
    for (let c = 0; c < channels; c++) sums[c] += image[c];
  }
  bias.set(sums);
}

let useSimd = true;

/**
 * Turns the SIMD module off (false) or back on: the tests compare it with the TypeScript loops.
 *
 * @example
 * ```ts
 * import { setPoolReluBiasGradSimd } from "./conv_relu_pool.ts";
 * setPoolReluBiasGradSimd(false);
 * setPoolReluBiasGradSimd(true);
 * ```
 */
export function setPoolReluBiasGradSimd(enabled: boolean): void {
  useSimd = enabled;
}

const poolReluBiasGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, y } = inputs as Record<"dy" | "y", TensorInfo>;
  const [batch, height, width, channels] = y.shape;
  const [outHeight, outWidth] = [dy.shape[1], dy.shape[2]];
  if (
    height !== 2 * outHeight || width !== 2 * outWidth || dy.shape[0] !== batch ||
    dy.shape[3] !== channels
  ) {
    throw new Error(
      `${POOL_RELU_BIAS_GRAD}: dy [${dy.shape}] is not the 2×2 pool of y [${y.shape}]`,
    );
  }
  const heap = backend as unknown as WasmHeap;
  const dz = heap.makeOutput([...y.shape], "float32");
  const db = heap.makeOutput([channels], "float32");
  const simd = useSimd ? simdModule<PoolGradSimd>(backend, MAX_POOL_SOURCE) : null;
  if (simd === null) {
    const [ys, dys, dzs, dbs] = [y, dy, dz, db].map((t) => heap.typedArrayFromHeap(t));
    poolReluBiasGradLoops(ys, dys, dzs, dbs, [batch, outHeight, outWidth, channels]);
    return [dz, db];
  }
  const scratch = new WasmScratch(backend as KernelBackend);
  try {
    const partial = scratch.make([batch, 2 * channels]); // doubles, per image
    const at = (t: TensorInfo) => heapOffset(backend, t);
    // Images, one range per thread: each writes only its images' dz and partial sums.
    const args = [at(y), at(dy), at(dz), at(partial), outHeight, outWidth, channels];
    runRanges(backend, MAX_POOL_SOURCE, "pool_relu_bias_grad", args, batch, {
      work: y.shape.reduce((a, b) => a * b, 1),
    });
    simd.sum_partials(at(partial), at(db), batch, channels);
  } finally {
    scratch.release();
  }
  return [dz, db];
};

/** Kernel registrations for the fused convolution + ReLU + pool and its gradient on `wasm`. */
export const convReluPoolConfigs: KernelConfig[] = [
  { kernelName: CONV_RELU_POOL, backendName: "wasm", kernelFunc: convReluPool },
  { kernelName: POOL_RELU_BIAS_GRAD, backendName: "wasm", kernelFunc: poolReluBiasGrad },
];
