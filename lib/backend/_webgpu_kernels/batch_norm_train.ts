// Internal: batch norm in training mode (the ReLU or ReLU6 after it fused in) and its gradient on
// WebGPU, the kernels the lean training path (lib/train/_lean.ts) calls by name where a backend
// has them. Composed from tfjs ops, one batch norm's forward pass ran ~10 kernels and its
// gradient ~12, each a full pass over the activation with its own buffer.
//
// Each is two dispatches (_raw_program.ts, several outputs each), neither with workgroup memory:
// - forward: threads (channel group, split of the pixels) reduce their split to its mean and sum
//   of squares about it; then threads (channel group, larger split) combine those (Chan et al.'s
//   pairwise update, so no Σx² − (Σx)² cancellation), write y = act(x·s + t) over their split,
//   and the first split writes the mean, variance and 1/σ;
// - backward: the splits sum d and d·x̂ (d = dy where the activation passed); then each thread
//   combines them, writes dx over its split, and the first split writes dγ and dβ.
// A channel group is a vec4 of channels when C is a multiple of 4, else one channel. The moving
// averages' update (v − (v − batch)·(1 − momentum), as tfjs-layers writes it) is one more.
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { webgpu_util } from "@tensorflow/tfjs-backend-webgpu";
import {
  ADD_RELU_GRAD,
  BATCH_NORM_TRAIN,
  BATCH_NORM_TRAIN_GRAD,
  type FusedActivationAttrs,
  MOVING_AVERAGES,
} from "../_wasm_kernels/batch_norm_train.ts";
import type { WebGpuBackendInternals } from "./_split_sum.ts";
import { type Element, runRawProgram, type Uniform } from "./_raw_program.ts";

/** Threads wanted per pass; most splits of the pixels; fewest pixels a split takes. */
const TARGET_THREADS = 16384;
const MAX_SPLITS = 64;
const MIN_PIXELS = 16;

/** The activation as the shaders' `mode`: 0 none, 1 ReLU, 2 ReLU capped at `cap`. */
function mode({ activation, cap }: FusedActivationAttrs): number {
  return !activation ? 0 : cap === Infinity || cap === null ? 1 : 2;
}

/** WGSL: z through the activation, and whether the activation's gradient passes at z. */
const ACTIVATION = `
  fn activate(z : f32, mode : i32, cap : f32) -> f32 {
    if (mode == 1) { return max(z, 0.0); }
    if (mode == 2) { return clamp(z, 0.0, cap); }
    return z;
  }
  fn passes(z : f32, mode : i32, cap : f32) -> bool {
    if (mode == 1) { return z > 0.0; }
    if (mode == 2) { return z >= 0.0 && z <= cap; }
    return true;
  }
`;

/** The same over V (a float or a vec4), B being its bool type, for the raw programs. */
const ACTIVATION_V = `
  fn activateV(z : V) -> V {
    if (uniforms.mode == 1) { return max(z, V(0.0)); }
    if (uniforms.mode == 2) { return clamp(z, V(0.0), V(uniforms.cap)); }
    return z;
  }
  fn passesV(z : V) -> B {
    if (uniforms.mode == 1) { return z > V(0.0); }
    if (uniforms.mode == 2) { return (z >= V(0.0)) & (z <= V(uniforms.cap)); }
    return B(true);
  }
`;

/** How a [P, C] activation is cut: channel groups, and the two passes' splits of P. */
interface Layout {
  vec: boolean;
  lanes: number;
  pixels: number;
  chunk: number;
  splits: number;
  applyChunk: number;
  applySplits: number;
}

function layout(shape: readonly number[]): Layout {
  const channels = shape[shape.length - 1];
  const pixels = shape.reduce((p, q) => p * q, 1) / channels;
  const vec = channels % 4 === 0;
  const lanes = vec ? channels / 4 : channels;
  const wanted = Math.min(MAX_SPLITS, Math.ceil(TARGET_THREADS / lanes));
  const chunk = Math.ceil(pixels / Math.max(1, Math.min(wanted, Math.ceil(pixels / MIN_PIXELS))));
  const splits = Math.ceil(pixels / chunk);
  // The second pass combines every split in each thread: its splits take 4× as many pixels.
  const applyChunk = Math.max(4 * splits, Math.ceil((pixels * lanes) / TARGET_THREADS));
  return {
    vec,
    lanes,
    pixels,
    chunk,
    splits,
    applyChunk,
    applySplits: Math.ceil(pixels / applyChunk),
  };
}

const UNIFORMS = "pixels : i32, lanes : i32, chunk : i32, splits : i32, applyChunk : i32, " +
  "epsilon : f32, mode : i32, cap : f32,";

function uniforms(l: Layout, attrs: FusedActivationAttrs): Uniform[] {
  const cap = attrs.cap === Infinity || attrs.cap === null ? 0 : attrs.cap;
  return [
    { type: "int32", data: [l.pixels] },
    { type: "int32", data: [l.lanes] },
    { type: "int32", data: [l.chunk] },
    { type: "int32", data: [l.splits] },
    { type: "int32", data: [l.applyChunk] },
    { type: "float32", data: [attrs.epsilon ?? 0] },
    { type: "int32", data: [mode(attrs)] },
    { type: "float32", data: [cap] },
  ];
}

/** WGSL prelude of the raw programs: V and B, the thread's channel group and split. */
function prelude(vec: boolean): string {
  return `
    alias V = ${vec ? "vec4<f32>" : "f32"};
    alias B = ${vec ? "vec4<bool>" : "bool"};
    ${ACTIVATION_V}
    // Pixels in split s of the first pass.
    fn count(s : i32) -> f32 {
      return f32(clamp(uniforms.pixels - s * uniforms.chunk, 0, uniforms.chunk));
    }`;
}

function element(vec: boolean): Element {
  return vec ? "vec4<f32>" : "f32";
}

/**
 * A raw program over (channel group `lane`, split `s`) threads: the prelude, the thread's
 * indices, then `body`.
 */
function program(
  key: string,
  vec: boolean,
  outputs: { name: string; shape: number[] }[],
  inputs: string[],
  body: string,
) {
  const e = element(vec);
  return {
    key: `${key}_${vec}`,
    outputs: outputs.map((o) => ({ ...o, element: e })),
    inputs: inputs.map((name) => ({ name, element: e })),
    uniforms: UNIFORMS,
    workgroupSize: 64,
    main: `${prelude(vec)}
    fn main(t : i32) {
      let L = uniforms.lanes;
      let lane = t % L;
      let s = t / L;
      ${body}
    }`,
  };
}

/** The first pass of the forward: each split's mean and sum of squared deviations. */
function statsPartials(vec: boolean, channels: number, splits: number) {
  return program(
    "denovisionBatchNormStats",
    vec,
    [{ name: "partial", shape: [splits, 2, channels] }],
    ["x"],
    `let begin = s * uniforms.chunk;
      let end = min(uniforms.pixels, begin + uniforms.chunk);
      var sum = V(0.0);
      for (var p = begin; p < end; p++) { sum += x[p * L + lane]; }
      let mean = sum / max(count(s), 1.0);
      var squares = V(0.0);
      for (var p = begin; p < end; p++) {
        let d = x[p * L + lane] - mean;
        squares += d * d;
      }
      partial[2 * s * L + lane] = mean;
      partial[(2 * s + 1) * L + lane] = squares;`,
  );
}

/** The second pass of the forward: the statistics, y over the split, the statistics out. */
function normalize(vec: boolean, shape: number[], channels: number) {
  return program(
    "denovisionBatchNormNormalize",
    vec,
    [
      { name: "y", shape },
      { name: "meanOut", shape: [channels] },
      { name: "varianceOut", shape: [channels] },
      { name: "invStdOut", shape: [channels] },
    ],
    ["x", "partial", "gamma", "beta"],
    `let n = f32(uniforms.pixels);
      var total = V(0.0);
      for (var k = 0; k < uniforms.splits; k++) { total += partial[2 * k * L + lane] * count(k); }
      let mean = total / n;
      var squares = V(0.0);
      for (var k = 0; k < uniforms.splits; k++) {
        let d = partial[2 * k * L + lane] - mean;
        squares += partial[(2 * k + 1) * L + lane] + count(k) * d * d;
      }
      let variance = squares / n;
      let invStd = V(1.0) / sqrt(variance + V(uniforms.epsilon));
      if (s == 0) {
        meanOut[lane] = mean;
        varianceOut[lane] = variance;
        invStdOut[lane] = invStd;
      }
      let scale = invStd * gamma[lane];
      let shift = beta[lane] - mean * scale;
      let begin = s * uniforms.applyChunk;
      let end = min(uniforms.pixels, begin + uniforms.applyChunk);
      for (var p = begin; p < end; p++) {
        y[p * L + lane] = activateV(x[p * L + lane] * scale + shift);
      }`,
  );
}

/** WGSL: d and x̂ at pixel p (d = dy where the activation passed at the forward's output). */
const GRADIENT_AT = `
      let scale = invStd[lane] * gamma[lane];
      let shift = beta[lane] - mean[lane] * scale;`;
const GRADIENT_PIXEL = `
        let v = x[p * L + lane];
        let d = select(V(0.0), dy[p * L + lane], passesV(v * scale + shift));
        let xHat = (v - mean[lane]) * invStd[lane];`;

/** The first pass of the gradient: each split's Σd and Σd·x̂. */
function gradientPartials(vec: boolean, channels: number, splits: number) {
  return program(
    "denovisionBatchNormGradSums",
    vec,
    [{ name: "partial", shape: [splits, 2, channels] }],
    ["dy", "x", "mean", "invStd", "gamma", "beta"],
    `${GRADIENT_AT}
      let begin = s * uniforms.chunk;
      let end = min(uniforms.pixels, begin + uniforms.chunk);
      var sumD = V(0.0);
      var sumDX = V(0.0);
      for (var p = begin; p < end; p++) {
        ${GRADIENT_PIXEL}
        sumD += d;
        sumDX += d * xHat;
      }
      partial[2 * s * L + lane] = sumD;
      partial[(2 * s + 1) * L + lane] = sumDX;`,
  );
}

/** The second pass of the gradient: dx over the split; dγ and dβ from the first split. */
function inputGradient(vec: boolean, shape: number[], channels: number) {
  return program(
    "denovisionBatchNormGrad",
    vec,
    [
      { name: "dx", shape },
      { name: "dGamma", shape: [channels] },
      { name: "dBeta", shape: [channels] },
    ],
    ["dy", "x", "mean", "invStd", "gamma", "beta", "partial"],
    `var sumD = V(0.0);
      var sumDX = V(0.0);
      for (var k = 0; k < uniforms.splits; k++) {
        sumD += partial[2 * k * L + lane];
        sumDX += partial[(2 * k + 1) * L + lane];
      }
      if (s == 0) {
        dGamma[lane] = sumDX;
        dBeta[lane] = sumD;
      }
      ${GRADIENT_AT}
      let n = f32(uniforms.pixels);
      let begin = s * uniforms.applyChunk;
      let end = min(uniforms.pixels, begin + uniforms.applyChunk);
      for (var p = begin; p < end; p++) {
        ${GRADIENT_PIXEL}
        dx[p * L + lane] = (scale / n) * (n * d - sumD - xHat * sumDX);
      }`,
  );
}

/** An elementwise program over an NHWC tensor, channel c = index mod C. */
class ElementwiseProgram {
  readonly uniforms = "channels : i32, pixels : i32, mode : i32, cap : f32,";
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly outputShape: number[];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];

  constructor(
    readonly variableNames: string[],
    shape: number[],
    readonly shaderKey: string,
    private readonly expression: string,
  ) {
    this.outputShape = shape;
    this.dispatchLayout = webgpu_util.flatDispatchLayout(shape);
    this.dispatch = webgpu_util.computeDispatch(this.dispatchLayout, shape, this.workgroupSize);
  }

  getUserCode(): string {
    return `
      ${ACTIVATION}
      fn main(index : i32) {
        if (index >= uniforms.size) { return; }
        let c = index % uniforms.channels;
        ${this.expression}
      }
    `;
  }
}

const ADD_GRADIENT = `
  var d = 0.0;
  if (passes(a[index] + b[index], uniforms.mode, uniforms.cap)) { d = dy[index]; }
  setOutputAtIndex(index, d);`;

function activationUniforms(attrs: FusedActivationAttrs): Uniform[] {
  const cap = attrs.cap === Infinity || attrs.cap === null ? 0 : attrs.cap;
  return [{ type: "int32", data: [mode(attrs)] }, { type: "float32", data: [cap] }];
}

const batchNormTrain: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, gamma, beta } = inputs as Record<"x" | "gamma" | "beta", TensorInfo>;
  const a = attrs as unknown as FusedActivationAttrs;
  const l = layout(x.shape);
  const channels = x.shape[x.shape.length - 1];
  const values = uniforms(l, a);
  const [partial] = runRawProgram(
    backend,
    statsPartials(l.vec, channels, l.splits),
    [x],
    values,
    l.lanes * l.splits,
  );
  const outputs = runRawProgram(
    backend,
    normalize(l.vec, [...x.shape], channels),
    [x, partial, gamma, beta],
    values,
    l.lanes * l.applySplits,
  );
  (backend as unknown as WebGpuBackendInternals).disposeData(partial.dataId);
  return outputs; // y, mean, variance, 1/σ
};

const batchNormTrainGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, mean, invStd, gamma, beta } = inputs as Record<
    "dy" | "x" | "mean" | "invStd" | "gamma" | "beta",
    TensorInfo
  >;
  const l = layout(x.shape);
  const channels = x.shape[x.shape.length - 1];
  const values = uniforms(l, attrs as unknown as FusedActivationAttrs);
  const common = [dy, x, mean, invStd, gamma, beta];
  const [partial] = runRawProgram(
    backend,
    gradientPartials(l.vec, channels, l.splits),
    common,
    values,
    l.lanes * l.splits,
  );
  const outputs = runRawProgram(
    backend,
    inputGradient(l.vec, [...x.shape], channels),
    [...common, partial],
    values,
    l.lanes * l.applySplits,
  );
  (backend as unknown as WebGpuBackendInternals).disposeData(partial.dataId);
  return outputs; // dx, dγ, dβ
};

/** The moving averages' update: m − (m − batch)·(1 − momentum), for the mean and variance. */
function movingAveragesProgram(shape: number[]) {
  return {
    key: "denovisionMovingAverages",
    outputs: ["newMean", "newVariance"].map((name) => ({ name, element: "f32" as Element, shape })),
    inputs: ["mean", "variance", "movingMean", "movingVariance"].map((name) => ({
      name,
      element: "f32" as Element,
    })),
    uniforms: "rate : f32,",
    workgroupSize: 64,
    main: `
    fn main(t : i32) {
      newMean[t] = movingMean[t] - (movingMean[t] - mean[t]) * uniforms.rate;
      newVariance[t] = movingVariance[t] - (movingVariance[t] - variance[t]) * uniforms.rate;
    }`,
  };
}

const movingAverages: KernelFunc = ({ inputs, backend, attrs }) => {
  const { mean, variance, movingMean, movingVariance } = inputs as Record<string, TensorInfo>;
  const { momentum } = attrs as unknown as { momentum: number };
  const shape = [...movingMean.shape];
  const size = shape.reduce((p, q) => p * q, 1);
  const program = movingAveragesProgram(shape);
  return runRawProgram(backend, program, [mean, variance, movingMean, movingVariance], [
    { type: "float32", data: [1 - momentum] },
  ], size);
};

const addReluGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, a, b } = inputs as Record<"dy" | "a" | "b", TensorInfo>;
  const gpu = backend as unknown as WebGpuBackendInternals;
  const channels = dy.shape[dy.shape.length - 1];
  return gpu.runWebGPUProgram(
    new ElementwiseProgram(["dy", "a", "b"], [...dy.shape], "denovisionAddReluGrad", ADD_GRADIENT),
    [dy, a, b],
    "float32",
    [
      { type: "int32", data: [channels] },
      { type: "int32", data: [0] },
      ...activationUniforms(attrs as unknown as FusedActivationAttrs),
    ] as never,
  );
};

/**
 * Kernel registrations on `webgpu`: batch norm's training pass and gradient, add + ReLU's, the
 * moving averages' update.
 */
export const batchNormTrainConfigs: readonly KernelConfig[] = [
  { kernelName: BATCH_NORM_TRAIN, backendName: "webgpu", kernelFunc: batchNormTrain },
  { kernelName: BATCH_NORM_TRAIN_GRAD, backendName: "webgpu", kernelFunc: batchNormTrainGrad },
  { kernelName: ADD_RELU_GRAD, backendName: "webgpu", kernelFunc: addReluGrad },
  { kernelName: MOVING_AVERAGES, backendName: "webgpu", kernelFunc: movingAverages },
];
