// Internal: batch norm in training mode + ReLU + a 2×2, stride-2 max pool as one op each way, for
// the wasm backend: `compact-cnn`'s and VGG-BN's blocks.
//
// Why: run as batch norm (with its ReLU) then MaxPool, the forward pass writes the full-size
// activation and reads it back to pool it, and the backward pass has MaxPoolGrad write a
// full-size gradient, mostly zeros, for batch norm's gradient to read twice. Here the forward pass
// writes only the pooled output (the statistics as before: bn_train), and the gradient recomputes
// each window's four activations from x, the values the forward pass pooled, to route the pooled
// gradient to the window's first maximum as MaxPoolGrad does, then sums and writes dx as batch
// norm's gradient does. The activation is not kept for the backward pass.
//
// The loops run in our WebAssembly SIMD module (../_wasm_simd/batch_norm.c: bn_apply_pool,
// bn_pool_grad, bn_pool_grad_apply) in single precision, four channels a vector (the statistics
// and the gradient's sums across rows of windows in double precision): the batch norm kernels'
// double-precision pairs of channels took 4.7 ms of a `compact-cnn` step here, these 2.9. The
// TypeScript loops below do the same float32 arithmetic in the same order (bit for bit, the tests
// check), the fallback on an engine without wasm SIMD. Results differ from the unfused path's in
// the last bits (the tests hold them to tfjs' cpu backend); the gradient sums only each window's
// first maximum (the other pixels' terms are zeros). Threads: the statistics by ranges of
// channels, the sums by ranges of images (then the images in order), the pooled output and dx by
// ranges of window rows; each value is computed alike in any range.
import { getKernel } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { runRanges } from "../_wasm_simd/_helper_thread.ts";
import { heapOffset, type WasmBackendInternals } from "../_wasm_simd/_module.ts";
import {
  BATCH_NORM_TRAIN,
  runByRanges,
  simdKernels,
  SOURCE,
  withF64Params,
} from "./batch_norm_train.ts";

/**
 * Kernel name of the forward pass: x [N, 2·OH, 2·OW, C], gamma, beta (attribute `epsilon`) →
 * the max pool of relu(batch norm(x)) [N, OH, OW, C], then mean, variance, 1/√(variance + ε).
 */
export const BATCH_NORM_POOL = "DenovisionBatchNormPool";
/**
 * Kernel name of the gradient: dy (the pooled output's), x, mean, invStd, gamma, beta → dx,
 * dGamma, dBeta.
 */
export const BATCH_NORM_POOL_GRAD = "DenovisionBatchNormPoolGrad";

interface WasmHeapBackend extends WasmBackendInternals {
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

const RELU = { activation: true, cap: Infinity };

function checkShape(x: TensorInfo, name: string): [number, number, number, number] {
  const [batch, height, width, channels] = x.shape;
  if (x.shape.length !== 4 || height % 2 !== 0 || width % 2 !== 0) {
    throw new Error(`${name}: x must be NHWC with an even height and width, got [${x.shape}]`);
  }
  return [batch, height, width, channels];
}

const f = Math.fround;
const pmax = (a: number, b: number) => (a < b ? b : a);

/** scale = invStd·γ and shift = β − mean·scale per channel, in float32 as batch_norm.c's. */
function affine32(
  mean: Float32Array,
  invStd: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
): [Float32Array, Float32Array] {
  const scale = invStd.map((s, c) => f(s * gamma[c]));
  const shift = beta.map((b, c) => f(b - f(mean[c] * scale[c])));
  return [scale, shift];
}

/** relu(x·scale + shift) in float32: 0 < z ? z : 0. */
function relu32(x: number, scale: number, shift: number): number {
  const z = f(f(x * scale) + shift);
  return 0 < z ? z : 0;
}

/** The pooled ReLU of x·scale + shift, as batch_norm.c's bn_apply_pool. */
function poolLoops(
  xs: Float32Array,
  pooled: Float32Array,
  [scale, shift]: [Float32Array, Float32Array],
  [batch, height, width, channels]: number[],
): void {
  const row = width * channels;
  const y = (i: number, c: number) => relu32(xs[i], scale[c], shift[c]);
  let out = 0;
  for (let r = 0; r < (batch * height) / 2; r++) {
    for (let j = 0; j < width / 2; j++) {
      const p00 = 2 * r * row + 2 * j * channels;
      const [p01, p10] = [p00 + channels, p00 + row];
      const p11 = p10 + channels;
      for (let c = 0; c < channels; c++) {
        pooled[out++] = pmax(
          pmax(pmax(y(p00 + c, c), y(p01 + c, c)), y(p10 + c, c)),
          y(p11 + c, c),
        );
      }
    }
  }
}

const batchNormPool: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, gamma, beta } = inputs as Record<"x" | "gamma" | "beta", TensorInfo>;
  const { epsilon } = attrs as unknown as { epsilon: number };
  const [batch, height, width, channels] = checkShape(x, BATCH_NORM_POOL);
  const heap = backend as unknown as WasmHeapBackend;
  const kernel = simdKernels(backend);
  if (kernel === null) {
    // Batch norm's own kernel (its TypeScript loops), then the pool of its output.
    const train = getKernel(BATCH_NORM_TRAIN, "wasm")!;
    const [y, mean, variance, invStd] = train.kernelFunc({
      inputs: { x, gamma, beta },
      backend,
      attrs: { epsilon, ...RELU },
    }) as TensorInfo[];
    heap.disposeData(y.dataId);
    const pooled = heap.makeOutput([batch, height / 2, width / 2, channels], "float32");
    const [xs, g, b, m, s, p] = [x, gamma, beta, mean, invStd, pooled].map((t) =>
      heap.typedArrayFromHeap(t)
    );
    poolLoops(xs, p, affine32(m, s, g, b), x.shape);
    return [pooled, mean, variance, invStd];
  }
  const outputs = [
    heap.makeOutput([batch, height / 2, width / 2, channels], "float32"),
    heap.makeOutput([channels], "float32"),
    heap.makeOutput([channels], "float32"),
    heap.makeOutput([channels], "float32"),
  ];
  const at = (t: TensorInfo) => heapOffset(heap, t);
  const [pooled, mean, variance, invStd] = outputs.map(at);
  const pixels = batch * height * width;
  const size = pixels * channels;
  withF64Params(backend, [epsilon, Infinity], (params) => {
    runByRanges(
      backend,
      "bn_train",
      [at(x), mean, variance, invStd, pixels, channels, params],
      channels,
      size,
      "pairs",
    );
  });
  const args = [at(x), at(gamma), at(beta), pooled, mean, invStd, channels, width / 2];
  runRanges(backend, SOURCE, "bn_apply_pool", args, (batch * height) / 2, {
    work: size,
    share: true,
  });
  return outputs;
};

/**
 * A window of channel c (its four pixels' indices `at`): the first maximum's index among their
 * ReLU outputs (as the forward pass pooled them) and d, the gradient at the batch norm's output
 * there (the pooled gradient g times +(z > 0); every other pixel's is 0), in float32 as
 * batch_norm.c's window_grad1.
 */
function windowGrad(
  xs: Float32Array,
  at: readonly number[],
  g: number,
  scale: number,
  shift: number,
): [number, number] {
  const [y0, y1, y2, y3] = at.map((i) => relu32(xs[i], scale, shift));
  const [gt10, gt20, gt30] = [y1 > y0, y2 > y0, y3 > y0];
  const [gt21, gt31, gt32] = [y2 > y1, y3 > y1, y3 > y2];
  const first = !gt10 && !gt20 && !gt30
    ? 0
    : gt10 && !gt21 && !gt31
    ? 1
    : gt20 && gt21 && !gt32
    ? 2
    : 3;
  const z = f(f(xs[at[first]] * scale) + shift);
  return [first, f(g * +(z > 0))];
}

/**
 * The gradient's sums (float32 within a row of windows, then doubles per image, then the images
 * in order), then dx in float32, as batch_norm.c's bn_pool_grad, bn_pool_sums and
 * bn_pool_grad_apply.
 */
function gradientLoops(
  [dys, xs, m, s, g, b]: Float32Array[],
  [dx, dGamma, dBeta]: Float32Array[],
  [batch, height, width, channels]: number[],
): void {
  const [scale, shift] = affine32(m, s, g, b);
  const row = width * channels;
  const count = batch * height * width;
  const [rowsPerImage, windowsPerRow] = [height / 2, width / 2];
  const window = (r: number, j: number, c: number) => {
    const p00 = 2 * r * row + 2 * j * channels + c;
    const at = [p00, p00 + channels, p00 + row, p00 + row + channels];
    const [first, d] = windowGrad(
      xs,
      at,
      dys[(r * windowsPerRow + j) * channels + c],
      scale[c],
      shift[c],
    );
    return { at, first, d };
  };
  const sumB = new Float64Array(channels);
  const sumG = new Float64Array(channels);
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      let imageB = 0;
      let imageG = 0;
      for (let r = n * rowsPerImage; r < (n + 1) * rowsPerImage; r++) {
        let rowB = 0;
        let rowG = 0;
        for (let j = 0; j < windowsPerRow; j++) {
          const { at, first, d } = window(r, j, c);
          const xHat = f(f(xs[at[first]] - m[c]) * s[c]);
          rowB = f(rowB + d);
          rowG = f(rowG + f(d * xHat));
        }
        imageB += rowB;
        imageG += rowG;
      }
      sumB[c] += imageB;
      sumG[c] += imageG;
    }
  }
  dBeta.set(sumB);
  dGamma.set(sumG);
  for (let r = 0; r < batch * rowsPerImage; r++) {
    for (let j = 0; j < windowsPerRow; j++) {
      for (let c = 0; c < channels; c++) {
        const k = f(f(g[c] * s[c]) / count);
        const [sB, sG] = [f(sumB[c]), f(sumG[c])];
        const { at, first, d } = window(r, j, c);
        for (let i = 0; i < 4; i++) {
          const xHat = f(f(xs[at[i]] - m[c]) * s[c]);
          dx[at[i]] = f(k * f(f(f(count * (i === first ? d : 0)) - sB) - f(xHat * sG)));
        }
      }
    }
  }
}

const batchNormPoolGrad: KernelFunc = ({ inputs, backend }) => {
  const { dy, x, mean, invStd, gamma, beta } = inputs as Record<
    "dy" | "x" | "mean" | "invStd" | "gamma" | "beta",
    TensorInfo
  >;
  const [batch, height, width, channels] = checkShape(x, BATCH_NORM_POOL_GRAD);
  if (dy.shape.join() !== [batch, height / 2, width / 2, channels].join()) {
    throw new Error(
      `${BATCH_NORM_POOL_GRAD}: dy [${dy.shape}] is not the 2×2 pool of x [${x.shape}]`,
    );
  }
  const heap = backend as unknown as WasmHeapBackend;
  const outputs = [
    heap.makeOutput([...x.shape], "float32"),
    heap.makeOutput([channels], "float32"),
    heap.makeOutput([channels], "float32"),
  ];
  const kernel = simdKernels(backend);
  if (kernel === null) {
    const views = (ts: TensorInfo[]) => ts.map((t) => heap.typedArrayFromHeap(t));
    gradientLoops(views([dy, x, mean, invStd, gamma, beta]), views(outputs), x.shape);
    return outputs;
  }
  const at = (t: TensorInfo) => heapOffset(heap, t);
  const inputs6 = [dy, x, mean, invStd, gamma, beta].map(at);
  const [dx, dGamma, dBeta] = outputs.map(at);
  const size = batch * height * width * channels;
  // Doubles: the images' partial sums [N, 2, C], then their totals [2, C].
  const partial = heap.makeOutput([4 * batch * channels], "float32");
  const sums = heap.makeOutput([4 * channels], "float32");
  try {
    const sumArgs = [...inputs6, height / 2, width / 2, channels, at(partial)];
    runRanges(backend, SOURCE, "bn_pool_grad", sumArgs, batch, { work: size, share: true });
    kernel.bn_pool_sums(at(partial), batch, channels, at(sums), dGamma, dBeta);
    const count = batch * height * width;
    const applyArgs = [...inputs6, dx, at(sums), count, width / 2, channels];
    runRanges(backend, SOURCE, "bn_pool_grad_apply", applyArgs, (batch * height) / 2, {
      work: size,
      share: true,
    });
  } finally {
    heap.disposeData(partial.dataId);
    heap.disposeData(sums.dataId);
  }
  return outputs;
};

/** Kernel registrations on `wasm`: the fused batch norm + ReLU + max pool and its gradient. */
export const batchNormPoolConfigs: readonly KernelConfig[] = [
  { kernelName: BATCH_NORM_POOL, backendName: "wasm", kernelFunc: batchNormPool },
  { kernelName: BATCH_NORM_POOL_GRAD, backendName: "wasm", kernelFunc: batchNormPoolGrad },
];
