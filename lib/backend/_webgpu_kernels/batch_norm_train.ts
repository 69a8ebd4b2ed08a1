// Internal: batch norm in training mode (the ReLU or ReLU6 after it fused in) and its gradient on
// WebGPU, the kernels the lean training path (lib/train/_lean.ts) calls by name where a backend
// has them. Composed from tfjs ops, one batch norm's forward pass ran ~10 kernels and its
// gradient ~12, each a full pass over the activation with its own buffer.
//
// Forward: one program reduces each channel over the B·H·W pixels (256 threads a workgroup: 64
// channels × 4 pixel lanes, the lanes summed in workgroup memory; the mean first, then the
// squares about it, as the wasm kernel does in double precision) into [mean; variance; 1/σ],
// three slices give them out as tensors, and one elementwise program writes y = act(x·s + t).
// Backward: one program sums d and d·x̂ per channel (d = dy where the activation passed), two
// slices give dβ and dγ, one elementwise program writes dx.
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { getKernel } from "@tensorflow/tfjs-core";
import { webgpu_util } from "@tensorflow/tfjs-backend-webgpu";
import {
  ADD_RELU_GRAD,
  BATCH_NORM_TRAIN,
  BATCH_NORM_TRAIN_GRAD,
  type FusedActivationAttrs,
} from "../_wasm_kernels/batch_norm_train.ts";
import type { WebGpuBackendInternals } from "./_split_sum.ts";

/** Channels per workgroup, and pixel lanes per channel. */
const CHANNELS = 64;
const LANES = 4;

type Uniform = { type: "int32" | "float32"; data: number[] };

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

/** A per-channel reduction over the pixels: [rows, C] out, one workgroup per 64 channels. */
class ChannelSumsProgram {
  readonly uniforms = "pixels : i32, channels : i32, epsilon : f32, mode : i32, cap : f32,";
  readonly workgroupSize: [number, number, number] = [CHANNELS, LANES, 1];
  readonly outputShape: number[];
  readonly dispatchLayout = { x: [1], y: [0] };
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;

  constructor(
    readonly variableNames: string[],
    rows: number,
    channels: number,
    private readonly gradient: boolean,
  ) {
    this.outputShape = [rows, channels];
    this.dispatch = [Math.ceil(channels / CHANNELS), 1, 1];
    this.shaderKey = `denovisionBatchNormSums_${gradient}`;
  }

  getUserCode(): string {
    // Forward: Σx, then Σ(x − mean)². Gradient: Σd and Σd·x̂, in one pass over dy and x.
    const body = this.gradient
      ? `
        let scale = invStd[c] * gamma[c];
        let shift = beta[c] - mean[c] * scale;
        for (var p = lane; p < P; p += ${LANES}) {
          let v = x[p * C + c];
          let z = v * scale + shift;
          var d = 0.0;
          if (passes(z, uniforms.mode, uniforms.cap)) { d = dy[p * C + c]; }
          first += d;
          second += d * ((v - mean[c]) * invStd[c]);
        }`
      : `
        for (var p = lane; p < P; p += ${LANES}) { first += x[p * C + c]; }`;
    const finish = this.gradient
      ? `
        setOutputAtIndex(c, a);
        setOutputAtIndex(C + c, b);`
      : `
        setOutputAtIndex(c, a);
        setOutputAtIndex(C + c, b);
        setOutputAtIndex(2 * C + c, 1.0 / sqrt(b + uniforms.epsilon));`;
    const secondPass = this.gradient ? "" : `
        let m = firstTotal / f32(P);
        for (var p = lane; p < P; p += ${LANES}) {
          let d = x[p * C + c] - m;
          second += d * d;
        }`;
    return `
      ${ACTIVATION}
      var<workgroup> firsts : array<array<f32, ${CHANNELS}>, ${LANES}>;
      var<workgroup> seconds : array<array<f32, ${CHANNELS}>, ${LANES}>;

      fn main() {
        let P = uniforms.pixels;
        let C = uniforms.channels;
        let ch = i32(localId.x);
        let lane = i32(localId.y);
        // Threads past the last channel read channel C − 1 and write nothing: every thread
        // reaches the barriers.
        let c = min(i32(workgroupId.x) * ${CHANNELS} + ch, C - 1);
        var first = 0.0;
        var second = 0.0;
        ${body}
        firsts[lane][ch] = first;
        workgroupBarrier();
        var firstTotal = 0.0;
        for (var l = 0; l < ${LANES}; l++) { firstTotal += firsts[l][ch]; }
        ${secondPass}
        seconds[lane][ch] = second;
        workgroupBarrier();
        var secondTotal = 0.0;
        for (var l = 0; l < ${LANES}; l++) { secondTotal += seconds[l][ch]; }
        if (lane == 0 && i32(workgroupId.x) * ${CHANNELS} + ch < C) {
          ${this.gradient ? "let a = firstTotal;\n          let b = secondTotal;" : ""}
          ${
      this.gradient ? "" : "let a = firstTotal / f32(P);\n          let b = secondTotal / f32(P);"
    }
          ${finish}
        }
      }
    `;
  }
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

const NORMALIZE = `
  let scale = stats[2 * uniforms.channels + c] * gamma[c];
  let shift = beta[c] - stats[c] * scale;
  setOutputAtIndex(index, activate(x[index] * scale + shift, uniforms.mode, uniforms.cap));`;

const INPUT_GRADIENT = `
  let C = uniforms.channels;
  let n = f32(uniforms.pixels);
  let scale = invStd[c] * gamma[c];
  let z = x[index] * scale + (beta[c] - mean[c] * scale);
  var d = 0.0;
  if (passes(z, uniforms.mode, uniforms.cap)) { d = dy[index]; }
  let xHat = (x[index] - mean[c]) * invStd[c];
  setOutputAtIndex(index, (scale / n) * (n * d - sums[c] - xHat * sums[C + c]));`;

const ADD_GRADIENT = `
  var d = 0.0;
  if (passes(a[index] + b[index], uniforms.mode, uniforms.cap)) { d = dy[index]; }
  setOutputAtIndex(index, d);`;

/** Row `row` of a [rows, C] tensor, as a [C] tensor (the backend's Slice and Reshape). */
function row(backend: unknown, stats: TensorInfo, index: number): TensorInfo {
  const run = (name: string, x: TensorInfo, attrs: Record<string, unknown>) =>
    getKernel(name, "webgpu")!.kernelFunc({
      inputs: { x },
      backend: backend as never,
      attrs: attrs as never,
    }) as TensorInfo;
  const channels = stats.shape[1];
  const slice = run("Slice", stats, { begin: [index, 0], size: [1, channels] });
  const out = run("Reshape", slice, { shape: [channels] });
  (backend as WebGpuBackendInternals).disposeData(slice.dataId);
  return out;
}

function activationUniforms(attrs: FusedActivationAttrs): Uniform[] {
  const cap = attrs.cap === Infinity || attrs.cap === null ? 0 : attrs.cap;
  return [{ type: "int32", data: [mode(attrs)] }, { type: "float32", data: [cap] }];
}

const batchNormTrain: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, gamma, beta } = inputs as Record<"x" | "gamma" | "beta", TensorInfo>;
  const a = attrs as unknown as FusedActivationAttrs;
  const gpu = backend as unknown as WebGpuBackendInternals;
  const channels = x.shape[x.shape.length - 1];
  const pixels = x.shape.reduce((p, q) => p * q, 1) / channels;
  const stats = gpu.runWebGPUProgram(
    new ChannelSumsProgram(["x"], 3, channels, false),
    [x],
    "float32",
    [
      { type: "int32", data: [pixels] },
      { type: "int32", data: [channels] },
      { type: "float32", data: [a.epsilon!] },
      ...activationUniforms(a),
    ] as never,
  );
  const y = gpu.runWebGPUProgram(
    new ElementwiseProgram(
      ["x", "stats", "gamma", "beta"],
      [...x.shape],
      "denovisionBatchNormApply",
      NORMALIZE,
    ),
    [x, stats, gamma, beta],
    "float32",
    [
      { type: "int32", data: [channels] },
      { type: "int32", data: [pixels] },
      ...activationUniforms(a),
    ] as never,
  );
  const outputs = [y, row(backend, stats, 0), row(backend, stats, 1), row(backend, stats, 2)];
  gpu.disposeData(stats.dataId);
  return outputs;
};

const batchNormTrainGrad: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, x, mean, invStd, gamma, beta } = inputs as Record<
    "dy" | "x" | "mean" | "invStd" | "gamma" | "beta",
    TensorInfo
  >;
  const a = attrs as unknown as FusedActivationAttrs;
  const gpu = backend as unknown as WebGpuBackendInternals;
  const channels = x.shape[x.shape.length - 1];
  const pixels = x.shape.reduce((p, q) => p * q, 1) / channels;
  const names = ["dy", "x", "mean", "invStd", "gamma", "beta"];
  const sums = gpu.runWebGPUProgram(
    new ChannelSumsProgram(names, 2, channels, true),
    [dy, x, mean, invStd, gamma, beta],
    "float32",
    [
      { type: "int32", data: [pixels] },
      { type: "int32", data: [channels] },
      { type: "float32", data: [0] },
      ...activationUniforms(a),
    ] as never,
  );
  const dx = gpu.runWebGPUProgram(
    new ElementwiseProgram(
      [...names, "sums"],
      [...x.shape],
      "denovisionBatchNormInputGradient",
      INPUT_GRADIENT,
    ),
    [dy, x, mean, invStd, gamma, beta, sums],
    "float32",
    [
      { type: "int32", data: [channels] },
      { type: "int32", data: [pixels] },
      ...activationUniforms(a),
    ] as never,
  );
  const outputs = [dx, row(backend, sums, 1), row(backend, sums, 0)]; // dx, dγ, dβ
  gpu.disposeData(sums.dataId);
  return outputs;
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

/** Kernel registrations on `webgpu`: batch norm's training pass and gradient, add + ReLU's. */
export const batchNormTrainConfigs: readonly KernelConfig[] = [
  { kernelName: BATCH_NORM_TRAIN, backendName: "webgpu", kernelFunc: batchNormTrain },
  { kernelName: BATCH_NORM_TRAIN_GRAD, backendName: "webgpu", kernelFunc: batchNormTrainGrad },
  { kernelName: ADD_RELU_GRAD, backendName: "webgpu", kernelFunc: addReluGrad },
];
