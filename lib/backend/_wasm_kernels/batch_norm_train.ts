// Internal: batch norm in training mode (with the ReLU that follows it fused in) and its gradient,
// for the wasm backend, over the wasm heap. Built from tfjs ops, one batch norm's forward and
// backward ran ~20 element-wise kernels over the full activation, and tfjs-backend-wasm reduces
// over the batch and spatial axes by transposing them innermost first: in a `compact-cnn` step
// these took ~30 of ~70 ms. Here the forward pass reads x three times and the backward pass reads
// x and dy twice, channels innermost (NHWC), with per-channel sums in double precision.
//
// The loops run in our WebAssembly SIMD module (../_wasm_simd/batch_norm.c, f64x2 lanes over
// pairs of channels) where the engine has wasm SIMD: in TypeScript they cost 12 of a 42 ms
// `compact-cnn` step (forward 4.6, gradient 7.6 ms), in the module 4.6 ms (1.5 and 3.1 ms). The C
// does the TypeScript loops' arithmetic in the same order, so its results are bit-identical to
// theirs, NaN and ±0 included; the TypeScript loops below stay as the fallback (an engine without
// wasm SIMD) and as the reference the tests compare the module with.
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { BATCH_NORM_PLAIN, BATCH_NORM_SHARED } from "../_wasm_simd/batch_norm_wasm.ts";
import { runRanges } from "../_wasm_simd/_helper_thread.ts";
import {
  heapOffset,
  simdModule,
  type SimdModuleSource,
  type WasmBackendInternals,
} from "../_wasm_simd/_module.ts";

/** Kernel name of the forward pass: x, gamma, beta → y, mean, variance, 1/√(variance + ε). */
export const BATCH_NORM_TRAIN = "DenovisionBatchNormTrain";
/** Kernel name of the gradient: dy, x, mean, invStd, gamma, beta → dx, dGamma, dBeta. */
export const BATCH_NORM_TRAIN_GRAD = "DenovisionBatchNormTrainGrad";
/** Kernel name of a fused add + ReLU's gradient: dy, a, b → dy where a + b passes the ReLU. */
export const ADD_RELU_GRAD = "DenovisionAddReluGrad";
/**
 * Kernel name of batch norm's moving averages' update: mean, variance, movingMean,
 * movingVariance → the new moving mean and variance, m − (m − batch)·(1 − momentum).
 */
export const MOVING_AVERAGES = "DenovisionMovingAverages";

/**
 * Attributes of the three kernels: `epsilon` (batch norm only) and the activation fused in
 * (`activation` false: none; else ReLU capped at `cap`, Infinity for a plain ReLU).
 */
export interface FusedActivationAttrs {
  epsilon?: number;
  activation: boolean;
  cap: number;
}

interface WasmHeapBackend extends WasmBackendInternals {
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

/** The SIMD module's exports (batch_norm.c): heap addresses, sizes and f64 parameters. */
export interface SimdKernels {
  bn_train(...args: number[]): void;
  bn_pool_sums(...args: number[]): void;
  bn_train_grad(...args: number[]): void;
  add_relu_grad(...args: number[]): void;
  relu_bias_grad(...args: number[]): void;
}

/** The module of batch_norm.c (both builds). */
export const SOURCE: SimdModuleSource = { shared: BATCH_NORM_SHARED, plain: BATCH_NORM_PLAIN };

/**
 * Channels a thread's range is a multiple of where it writes full-size outputs: 16 floats, a
 * 64-byte cache line. Threads writing alternate halves of each pixel's line (ranges of 8 of
 * `compact-cnn`'s 16 channels) made the batch norm's forward pass twice as slow on 2 threads as
 * on 1.
 */
const CHANNEL_STEP = 16;

/**
 * How a reduction's work is cut among threads: "lines" (ranges of CHANNEL_STEP channels, for
 * kernels that write full-size outputs by channel), "pairs" (ranges of 2 channels, for the
 * statistics and gradient sums, which read every pixel and write per-channel values only: a
 * layer of 16 channels then still takes two threads, each reading the rows for its channels;
 * `compact-cnn`'s first batch norm ran on one), or "elements" (ranges of 2 elements).
 */
export type RangeUnit = "lines" | "pairs" | "elements";

/**
 * Runs export `name` over `units` channels (or elements), cut into one range per thread by
 * `unit`, each part `args` then its range [from, to). Each channel (element) is computed alike in
 * any range, so the results do not depend on the thread count.
 */
export function runByRanges(
  backend: unknown,
  name: string,
  args: readonly number[],
  units: number,
  work?: number,
  unit: RangeUnit = "lines",
): void {
  const step = unit === "lines" ? CHANNEL_STEP : 2;
  runRanges(backend, SOURCE, name, args, units, { step, work });
}

/**
 * Runs `body` with two float64 parameters on the heap (a helper thread takes int arguments only:
 * the kernels read their f64 parameters from this address), freed afterwards.
 */
export function withF64Params(
  backend: unknown,
  values: readonly [number, number],
  body: (address: number) => void,
): void {
  const heap = backend as WasmHeapBackend;
  const params = heap.makeOutput([4], "float32"); // 16 bytes, 8-aligned like every tfjs buffer
  try {
    const view = heap.typedArrayFromHeap(params);
    new Float64Array(view.buffer, view.byteOffset, 2).set(values);
    body(heapOffset(heap, params));
  } finally {
    heap.disposeData(params.dataId);
  }
}

let simdEnabled = true;

/**
 * Turns the SIMD module off (false: the TypeScript loops run, as on an engine without wasm SIMD)
 * or back on, and returns the previous setting. For tests, which compare the two paths' outputs.
 */
export function setBatchNormSimd(enabled: boolean): boolean {
  const previous = simdEnabled;
  simdEnabled = enabled;
  return previous;
}

/**
 * The SIMD module on `backend`'s memory, or null: turned off, or no wasm SIMD. It also holds the
 * convolution bias + ReLU gradient (relu_bias_grad.ts).
 */
export function simdKernels(backend: unknown): SimdKernels | null {
  return simdEnabled ? simdModule<SimdKernels>(backend, SOURCE) : null;
}

/** The activation as batch_norm.c's `mode`: 0 none, 1 ReLU, 2 capped at `cap`. */
function activationMode({ activation, cap }: FusedActivationAttrs): number {
  return !activation ? 0 : cap === Infinity ? 1 : 2;
}

/**
 * The interval [low, high] of pre-activations that pass the activation's gradient: ReLU's z > 0
 * (z ≥ the least positive double), a capped ReLU's 0 ≤ z ≤ cap, no activation: everything.
 * Tested as `+(z >= low) * +(z <= high)`, arithmetic, not a branch: an activation's sign is a
 * coin toss, and a mispredicted branch per element cost 8 of 10 ms on a 1M-element mask here.
 */
function gradientWindow({ activation, cap }: FusedActivationAttrs): [number, number] {
  if (!activation) return [-Infinity, Infinity];
  return cap === Infinity ? [Number.MIN_VALUE, Infinity] : [0, cap];
}

/**
 * y = x·scale + shift per channel, the normalisation and γ, β in one multiply-add. The gradient
 * rebuilds the same numbers from the same float32 inputs, so its activation mask agrees with the
 * forward pass's clamp to the last bit.
 */
function affine(
  mean: Float32Array,
  invStd: Float32Array,
  gamma: Float32Array,
  beta: Float32Array,
): [Float64Array, Float64Array] {
  const scale = new Float64Array(mean.length);
  const shift = new Float64Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    scale[c] = invStd[c] * gamma[c];
    shift[c] = beta[c] - mean[c] * scale[c];
  }
  return [scale, shift];
}

// The loops below are small functions of typed arrays so that V8 optimises each on its own; in
// the kernel functions' bodies the same loops ran three times slower.

/** Σx per channel (channels innermost), in double precision. */
function channelSums(xs: Float32Array, channels: number): Float64Array {
  const sums = new Float64Array(channels);
  for (let at = 0; at < xs.length; at += channels) {
    for (let c = 0; c < channels; c++) sums[c] += xs[at + c];
  }
  return sums;
}

/** Σ(x − mean)² per channel. */
function channelSquares(xs: Float32Array, mean: Float64Array, channels: number): Float64Array {
  const sums = new Float64Array(channels);
  for (let at = 0; at < xs.length; at += channels) {
    for (let c = 0; c < channels; c++) {
      const d = xs[at + c] - mean[c];
      sums[c] += d * d;
    }
  }
  return sums;
}

/** y = ReLU(x·scale + shift), the ReLU as (z + |z|)/2: exact, and no branch. */
function normalizeRelu(
  xs: Float32Array,
  y: Float32Array,
  scale: Float64Array,
  shift: Float64Array,
) {
  const channels = scale.length;
  for (let at = 0; at < xs.length; at += channels) {
    for (let c = 0; c < channels; c++) {
      const z = xs[at + c] * scale[c] + shift[c];
      y[at + c] = (z + Math.abs(z)) * 0.5;
    }
  }
}

/**
 * y = min(ReLU(x·scale + shift), cap). Kept apart from the plain ReLU: with the cap's compare in
 * the loop, even an infinite cap made it ten times slower in V8.
 */
function normalizeCapped(
  xs: Float32Array,
  y: Float32Array,
  scale: Float64Array,
  shift: Float64Array,
  cap: number,
): void {
  const channels = scale.length;
  for (let at = 0; at < xs.length; at += channels) {
    for (let c = 0; c < channels; c++) {
      const z = xs[at + c] * scale[c] + shift[c];
      y[at + c] = z < 0 ? 0 : z > cap ? cap : z;
    }
  }
}

/** y = x·scale + shift. */
function normalize(xs: Float32Array, y: Float32Array, scale: Float64Array, shift: Float64Array) {
  const channels = scale.length;
  for (let at = 0; at < xs.length; at += channels) {
    for (let c = 0; c < channels; c++) y[at + c] = xs[at + c] * scale[c] + shift[c];
  }
}

const batchNormTrain: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, gamma, beta } = inputs as Record<"x" | "gamma" | "beta", TensorInfo>;
  const { epsilon, activation, cap } = attrs as unknown as FusedActivationAttrs;
  const heap = backend as unknown as WasmHeapBackend;
  const channels = x.shape[x.shape.length - 1];
  // Every output is made before any view of the heap is taken: making one may grow the heap.
  const outputs = [
    heap.makeOutput([...x.shape], "float32"),
    heap.makeOutput([channels], "float32"),
    heap.makeOutput([channels], "float32"),
    heap.makeOutput([channels], "float32"),
  ];
  const kernel = simdKernels(backend);
  if (kernel !== null) {
    const pixels = x.shape.reduce((a, b) => a * b, 1) / channels;
    const at = (t: TensorInfo) => heapOffset(heap, t);
    const mode = activationMode({ activation, cap });
    const [y, mean, variance, invStd] = outputs.map(at);
    withF64Params(backend, [epsilon!, cap], (params) => {
      // The statistics by ranges of channels (each summed pixel by pixel, in order), then y by
      // ranges of pixels: threads writing parts of the same pixels' cache lines ran slower on 2
      // threads than on 1.
      const size = pixels * channels;
      const statsArgs = [at(x), mean, variance, invStd, pixels, channels, params];
      runByRanges(backend, "bn_train", statsArgs, channels, size, "pairs");
      const applyArgs = [at(x), at(gamma), at(beta), y, mean, invStd, channels, params, mode];
      runRanges(backend, SOURCE, "bn_apply", applyArgs, pixels, { work: size });
    });
    return outputs;
  }
  const [xs, g, b] = [x, gamma, beta].map((t) => heap.typedArrayFromHeap(t));
  const [y, mean, variance, invStd] = outputs.map((t) => heap.typedArrayFromHeap(t));
  const count = xs.length / channels;
  const sums = channelSums(xs, channels);
  for (let c = 0; c < channels; c++) mean[c] = sums[c] / count;
  const squares = channelSquares(xs, Float64Array.from(mean), channels);
  for (let c = 0; c < channels; c++) {
    variance[c] = squares[c] / count;
    invStd[c] = 1 / Math.sqrt(variance[c] + epsilon!);
  }
  const [scale, shift] = affine(mean, invStd, g, b);
  if (!activation) normalize(xs, y, scale, shift);
  else if (cap === Infinity) normalizeRelu(xs, y, scale, shift);
  else normalizeCapped(xs, y, scale, shift, cap);
  return outputs;
};

/** Σd and Σd·x̂ per channel, d being dy where the pre-activation passes, else 0. */
function gradientSums(
  dys: Float32Array,
  xs: Float32Array,
  mean: Float32Array,
  invStd: Float32Array,
  scale: Float64Array,
  shift: Float64Array,
  [low, high]: [number, number],
): [Float64Array, Float64Array] {
  const channels = mean.length;
  const dBeta = new Float64Array(channels);
  const dGamma = new Float64Array(channels);
  for (let at = 0; at < xs.length; at += channels) {
    for (let c = 0; c < channels; c++) {
      const v = xs[at + c];
      const z = v * scale[c] + shift[c];
      const d = dys[at + c] * (+(z >= low) * +(z <= high));
      dBeta[c] += d;
      dGamma[c] += d * ((v - mean[c]) * invStd[c]);
    }
  }
  return [dBeta, dGamma];
}

/** dx = γ/(n·σ) · (n·d − Σd − x̂·Σ(d·x̂)), with k = γ/(n·σ) per channel. */
function inputGradient(
  dx: Float32Array,
  dys: Float32Array,
  xs: Float32Array,
  mean: Float32Array,
  invStd: Float32Array,
  scale: Float64Array,
  shift: Float64Array,
  [low, high]: [number, number],
  sums: [Float64Array, Float64Array],
  k: Float64Array,
): void {
  const channels = mean.length;
  const count = xs.length / channels;
  const [dBeta, dGamma] = sums;
  for (let at = 0; at < xs.length; at += channels) {
    for (let c = 0; c < channels; c++) {
      const v = xs[at + c];
      const z = v * scale[c] + shift[c];
      const d = dys[at + c] * (+(z >= low) * +(z <= high));
      const xHat = (v - mean[c]) * invStd[c];
      dx[at + c] = k[c] * (count * d - dBeta[c] - xHat * dGamma[c]);
    }
  }
}

const batchNormTrainGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, mean, invStd, gamma, beta } = inputs as Record<
    "dy" | "x" | "mean" | "invStd" | "gamma" | "beta",
    TensorInfo
  >;
  const window = gradientWindow(attrs as unknown as FusedActivationAttrs);
  const heap = backend as unknown as WasmHeapBackend;
  const channels = x.shape[x.shape.length - 1];
  const outputs = [
    heap.makeOutput([...x.shape], "float32"),
    heap.makeOutput([channels], "float32"),
    heap.makeOutput([channels], "float32"),
  ];
  const kernel = simdKernels(backend);
  if (kernel !== null) {
    const pixels = x.shape.reduce((a, b) => a * b, 1) / channels;
    const at = (t: TensorInfo) => heapOffset(heap, t);
    const inputs6 = [dy, x, mean, invStd, gamma, beta].map(at);
    const [dx, dGamma, dBeta] = outputs.map(at);
    // The sums by ranges of channels, then dx by ranges of pixels (as the forward pass), from
    // the sums kept in doubles [2, C] on the heap.
    const sums = heap.makeOutput([4 * channels], "float32");
    try {
      withF64Params(backend, window, (params) => {
        const size = pixels * channels;
        const sumArgs = [...inputs6, dGamma, dBeta, pixels, channels, params, at(sums)];
        runByRanges(backend, "bn_train_grad", sumArgs, channels, size, "pairs");
        const applyArgs = [...inputs6, dx, at(sums), pixels, channels, params];
        runRanges(backend, SOURCE, "bn_grad_apply", applyArgs, pixels, { work: size });
      });
    } finally {
      heap.disposeData(sums.dataId);
    }
    return outputs;
  }
  const [dys, xs, m, s, g, b] = [dy, x, mean, invStd, gamma, beta].map((t) =>
    heap.typedArrayFromHeap(t)
  );
  const [dx, dGamma, dBeta] = outputs.map((t) => heap.typedArrayFromHeap(t));
  const count = xs.length / channels;
  const [scale, shift] = affine(m, s, g, b);
  const sums = gradientSums(dys, xs, m, s, scale, shift, window);
  dBeta.set(sums[0]);
  dGamma.set(sums[1]);
  const k = new Float64Array(channels).map((_, c) => (g[c] * s[c]) / count);
  inputGradient(dx, dys, xs, m, s, scale, shift, window, sums, k);
  return outputs;
};

/** dy where a + b passes the activation, else 0. */
function addActivationGradient(
  out: Float32Array,
  dys: Float32Array,
  as: Float32Array,
  bs: Float32Array,
  [low, high]: [number, number],
): void {
  for (let i = 0; i < out.length; i++) {
    const z = as[i] + bs[i];
    out[i] = dys[i] * (+(z >= low) * +(z <= high));
  }
}

const addReluGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, a, b } = inputs as Record<"dy" | "a" | "b", TensorInfo>;
  const window = gradientWindow(attrs as unknown as FusedActivationAttrs);
  const heap = backend as unknown as WasmHeapBackend;
  const output = heap.makeOutput([...dy.shape], "float32");
  const kernel = simdKernels(backend);
  if (kernel !== null) {
    const size = dy.shape.reduce((a, b) => a * b, 1);
    const args = [dy, a, b, output].map((t) => heapOffset(heap, t));
    // Each part's range: [from, n) with n its end (the export's loop bound).
    withF64Params(backend, window, (params) => {
      runByRanges(backend, "add_relu_grad", [...args, params], size, size, "elements");
    });
    return output;
  }
  const [dys, as, bs, out] = [dy, a, b, output].map((t) => heap.typedArrayFromHeap(t));
  addActivationGradient(out, dys, as, bs, window);
  return output;
};

/**
 * Batch norm's moving averages, m − (m − batch)·(1 − momentum) each, as tfjs-layers' three ops
 * compute them in float32 (the same bits): one kernel for both instead of six and their records.
 */
const movingAverages: KernelFunc = ({ inputs, backend, attrs }) => {
  const { mean, variance, movingMean, movingVariance } = inputs as Record<string, TensorInfo>;
  const { momentum } = attrs as unknown as { momentum: number };
  const heap = backend as unknown as WasmHeapBackend;
  const outputs = [movingMean, movingVariance].map((t) => heap.makeOutput([...t.shape], "float32"));
  const f = Math.fround;
  const factor = f(1 - momentum);
  for (const [i, [batch, moving]] of [[mean, movingMean], [variance, movingVariance]].entries()) {
    // Views after every allocation: the heap may have grown.
    const [b, m, out] = [batch, moving, outputs[i]].map((t) => heap.typedArrayFromHeap(t));
    for (let c = 0; c < out.length; c++) out[c] = f(m[c] - f(f(m[c] - b[c]) * factor));
  }
  return outputs;
};

/**
 * Kernel registrations on `wasm`: batch norm's training forward pass and gradient, add + ReLU's,
 * the moving averages' update.
 */
export const batchNormTrainConfigs: readonly KernelConfig[] = [
  { kernelName: BATCH_NORM_TRAIN, backendName: "wasm", kernelFunc: batchNormTrain },
  { kernelName: BATCH_NORM_TRAIN_GRAD, backendName: "wasm", kernelFunc: batchNormTrainGrad },
  { kernelName: ADD_RELU_GRAD, backendName: "wasm", kernelFunc: addReluGrad },
  { kernelName: MOVING_AVERAGES, backendName: "wasm", kernelFunc: movingAverages },
];
