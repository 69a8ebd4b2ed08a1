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
// bn_pool_grad, bn_pool_grad_apply) in double precision; the TypeScript loops below do the same
// arithmetic in the same order (bit for bit, the tests check), the fallback on an engine without
// wasm SIMD. The pooled output equals batch norm then MaxPool's bit for bit; the gradient sums
// only each window's first maximum (the other pixels' terms are zeros), image by image, then the
// images in order, so it may differ from the unfused path's in the last bit (the tests hold it to
// tfjs' cpu backend). Threads: the statistics by ranges of channels, the sums by ranges of images,
// the pooled output and dx by ranges of window rows; each value is computed alike in any range.
import { getKernel } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { runRanges } from "../_wasm_simd/_helper_thread.ts";
import { heapOffset, type WasmBackendInternals } from "../_wasm_simd/_module.ts";
import {
  affine,
  BATCH_NORM_TRAIN,
  gradientWindow,
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

const pmax = (a: number, b: number) => (a < b ? b : a);

/** The pooled ReLU of x·scale + shift, as batch_norm.c's bn_apply_pool. */
function poolLoops(
  xs: Float32Array,
  pooled: Float32Array,
  scale: Float64Array,
  shift: Float64Array,
  [batch, height, width, channels]: number[],
): void {
  const row = width * channels;
  const y = (i: number, c: number) => {
    const z = xs[i] * scale[c] + shift[c];
    return Math.fround((z + Math.abs(z)) * 0.5);
  };
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
    const [scale, shift] = affine(m, s, g, b);
    poolLoops(xs, p, scale, shift, x.shape);
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
    );
    const args = [at(x), at(gamma), at(beta), pooled, mean, invStd, channels, width / 2, params];
    runRanges(backend, SOURCE, "bn_apply_pool", args, (batch * height) / 2, { work: size });
  });
  return outputs;
};

/**
 * A window of channel c (its four pixels' indices `at`): the first maximum's index among their
 * ReLU outputs (as the forward pass pooled them) and d, the gradient at the batch norm's output
 * there (the pooled gradient g times the ReLU's mask; every other pixel's is 0), as
 * batch_norm.c's window_grad1.
 */
function windowGrad(
  xs: Float32Array,
  at: readonly number[],
  g: number,
  scale: number,
  shift: number,
  [low, high]: [number, number],
): [number, number] {
  const [y0, y1, y2, y3] = at.map((i) => {
    const z = xs[i] * scale + shift;
    return Math.fround((z + Math.abs(z)) * 0.5);
  });
  const [gt10, gt20, gt30] = [y1 > y0, y2 > y0, y3 > y0];
  const [gt21, gt31, gt32] = [y2 > y1, y3 > y1, y3 > y2];
  const first = !gt10 && !gt20 && !gt30
    ? 0
    : gt10 && !gt21 && !gt31
    ? 1
    : gt20 && gt21 && !gt32
    ? 2
    : 3;
  const z = xs[at[first]] * scale + shift;
  return [first, g * (+(z >= low) * +(z <= high))];
}

/** The gradient's sums (per image, then over images in order), then dx, as batch_norm.c's. */
function gradientLoops(
  [dys, xs, m, s, g, b]: Float32Array[],
  [dx, dGamma, dBeta]: Float32Array[],
  [batch, height, width, channels]: number[],
): void {
  const [scale, shift] = affine(m, s, g, b);
  const window = gradientWindow(RELU);
  const row = width * channels;
  const count = batch * height * width;
  const each = (
    images: [number, number],
    body: (at: number[], c: number, first: number, d: number) => void,
  ) => {
    for (let r = (images[0] * height) / 2; r < (images[1] * height) / 2; r++) {
      for (let j = 0; j < width / 2; j++) {
        const p00 = 2 * r * row + 2 * j * channels;
        const out = (r * (width / 2) + j) * channels;
        for (let c = 0; c < channels; c++) {
          const at = [p00 + c, p00 + channels + c, p00 + row + c, p00 + row + channels + c];
          const [first, d] = windowGrad(xs, at, dys[out + c], scale[c], shift[c], window);
          body(at, c, first, d);
        }
      }
    }
  };
  const sumB = new Float64Array(channels);
  const sumG = new Float64Array(channels);
  for (let n = 0; n < batch; n++) {
    const imageB = new Float64Array(channels);
    const imageG = new Float64Array(channels);
    each([n, n + 1], (at, c, first, d) => {
      imageB[c] += d;
      imageG[c] += d * ((xs[at[first]] - m[c]) * s[c]);
    });
    for (let c = 0; c < channels; c++) {
      sumB[c] += imageB[c];
      sumG[c] += imageG[c];
    }
  }
  dBeta.set(sumB);
  dGamma.set(sumG);
  const k = new Float64Array(channels).map((_, c) => (g[c] * s[c]) / count);
  each([0, batch], (at, c, first, d) => {
    for (let i = 0; i < 4; i++) {
      const xHat = (xs[at[i]] - m[c]) * s[c];
      dx[at[i]] = k[c] * (count * (i === first ? d : 0) - sumB[c] - xHat * sumG[c]);
    }
  });
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
    withF64Params(backend, [Infinity, ...gradientWindow(RELU)], (params) => {
      const sumArgs = [...inputs6, height / 2, width / 2, channels, params, at(partial)];
      runRanges(backend, SOURCE, "bn_pool_grad", sumArgs, batch, { work: size });
      kernel.bn_pool_sums(at(partial), batch, channels, at(sums), dGamma, dBeta);
      const count = batch * height * width;
      const applyArgs = [...inputs6, dx, at(sums), count, width / 2, channels, params];
      runRanges(backend, SOURCE, "bn_pool_grad_apply", applyArgs, (batch * height) / 2, {
        work: size,
      });
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
