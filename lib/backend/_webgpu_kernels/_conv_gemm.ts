// Internal: the three convolutions of a training step (forward, input gradient, filter gradient)
// as implicit GEMMs tiled in registers. Each thread computes a 4 × 4 block of its output, four
// rows (output pixels, input pixels or filter rows) by one vec4 of channels, reading its operands
// straight from the storage buffers: no workgroup memory, and so no barriers. Neighbouring threads
// take neighbouring vec4 columns of the same rows, so they read the same pixels and consecutive
// filter or gradient vectors. That shape suits the software adapters we measure on (lavapipe and
// SwiftShader run a barrier as a switch between coroutines: a 512³ matrix product ran 7× slower
// tiled in workgroup memory than tiled in registers on lavapipe) and leaves the caching to the
// hardware on a GPU.
//
// All three take channels-last tensors with the output's channel count (or, for the input
// gradient, both channel counts) a multiple of 4; the callers keep the stock programs for the
// other layers.
import type { backend_util, TensorInfo } from "@tensorflow/tfjs-core";
import { finishSplits, type WebGpuBackendInternals } from "./_split_sum.ts";

/** Threads per workgroup (one dimension: the dispatch is flat). */
const GROUP = 64;
/** Most workgroups along x: larger grids wrap into y. */
const MAX_GROUPS_X = 32768;
/** A grid smaller than this leaves a GPU's cores idle: the filter gradient splits its pixels. */
const TARGET_THREADS = 16384;
/** Fewest output pixels a split of the filter gradient sums. */
const MIN_SPLIT_PIXELS = 64;

/** Activations the forward program applies after its bias. */
export type ConvActivation = "linear" | "relu" | "relu6";

/** The uniforms all three programs share, as tfjs-backend-webgpu declares them. */
const UNIFORMS = "inDims : vec4<i32>, outDims : vec4<i32>, kernel : vec2<i32>, " +
  "strides : vec2<i32>, pads : vec2<i32>, dilations : vec2<i32>, groupsX : i32, " +
  "threads : i32, splitRows : i32,";

/** The flat grid for `threads` threads: x wraps at MAX_GROUPS_X workgroups into y. */
function grid(threads: number, z = 1): [number, number, number] {
  const groups = Math.ceil(threads / GROUP);
  const x = Math.min(groups, MAX_GROUPS_X);
  return [x, Math.ceil(groups / x), z];
}

/**
 * WGSL: the thread's flat index (tfjs passes main() the index along x alone, which wraps here
 * into y), and an early return past the last one.
 */
const THREAD_INDEX = `
  let t = (i32(workgroupId.y) * uniforms.groupsX + i32(workgroupId.x)) * ${GROUP} +
    i32(localIndex);
  if (t >= uniforms.threads) {
    return;
  }`;

/** Common shape of our GEMM programs in tfjs-backend-webgpu's WebGPUProgram interface. */
abstract class GemmProgram {
  readonly uniforms = UNIFORMS;
  readonly workgroupSize: [number, number, number] = [GROUP, 1, 1];
  readonly outputComponent = 4;
  abstract readonly variableNames: string[];
  abstract readonly variableComponents: number[];
  abstract readonly outputShape: number[];
  abstract readonly dispatch: [number, number, number];
  abstract readonly shaderKey: string;
  abstract getUserCode(): string;

  /** tfjs's flat layout over every output dimension (the shaders index the output themselves). */
  get dispatchLayout(): { x: number[] } {
    return { x: this.outputShape.map((_, i) => i) };
  }
}

/**
 * y = act(conv(x, w) + bias): thread (p4, c4) computes output pixels 4·p4 … 4·p4 + 3 at output
 * channels 4·c4 … 4·c4 + 3. With Cin a multiple of 4, x is read a vec4 of channels at a time.
 */
class ForwardProgram extends GemmProgram {
  readonly variableNames: string[];
  readonly variableComponents: number[];
  readonly outputShape: number[];
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;
  private readonly vecX: boolean;

  constructor(
    info: backend_util.Conv2DInfo,
    readonly threads: number,
    private readonly bias: boolean,
    private readonly activation: ConvActivation,
  ) {
    super();
    this.vecX = info.inChannels % 4 === 0;
    this.variableNames = bias ? ["x", "w", "bias"] : ["x", "w"];
    this.variableComponents = bias ? [this.vecX ? 4 : 1, 4, 4] : [this.vecX ? 4 : 1, 4];
    this.outputShape = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
    this.dispatch = grid(threads);
    this.shaderKey = `denovisionConvForward_${this.vecX}_${bias}_${activation}`;
  }

  getUserCode(): string {
    const accumulate = this.vecX
      ? `for (var c = 0; c < cin; c += 4) {
            let wRow = (tap * cin + c) * n4 + col;
            let w0 = w[wRow];
            let w1 = w[wRow + n4];
            let w2 = w[wRow + 2 * n4];
            let w3 = w[wRow + 3 * n4];
            for (var r = 0; r < 4; r++) {
              let v = x[(offset[r] + c) / 4] * mask[r];
              acc[r] += v.x * w0 + v.y * w1 + v.z * w2 + v.w * w3;
            }
          }`
      : `for (var c = 0; c < cin; c++) {
            let wc = w[(tap * cin + c) * n4 + col];
            for (var r = 0; r < 4; r++) {
              acc[r] += (x[offset[r] + c] * mask[r]) * wc;
            }
          }`;
    const activate = {
      linear: "",
      relu: "v = max(v, vec4<f32>(0.0));",
      relu6: "v = clamp(v, vec4<f32>(0.0), vec4<f32>(6.0));",
    }[this.activation];
    return `
      fn main(globalIndex : i32) {
        ${THREAD_INDEX}
        let cin = uniforms.inDims[3];
        let n4 = uniforms.outDims[3] / 4;
        let col = t % n4;
        let p0 = (t / n4) * 4;
        let pixels = uniforms.outDims[0] * uniforms.outDims[1] * uniforms.outDims[2];
        // Where each of the 4 output pixels' window starts in x (its corner may lie outside).
        var image : array<i32, 4>;
        var top : array<i32, 4>;
        var left : array<i32, 4>;
        for (var r = 0; r < 4; r++) {
          let p = min(p0 + r, pixels - 1);
          let ow = p % uniforms.outDims[2];
          let rest = p / uniforms.outDims[2];
          image[r] = rest / uniforms.outDims[1];
          top[r] = (rest % uniforms.outDims[1]) * uniforms.strides[0] - uniforms.pads[0];
          left[r] = ow * uniforms.strides[1] - uniforms.pads[1];
        }
        var acc : array<vec4<f32>, 4>;
        var offset : array<i32, 4>;
        var mask : array<f32, 4>;
        for (var a = 0; a < uniforms.kernel[0]; a++) {
          for (var b = 0; b < uniforms.kernel[1]; b++) {
            let tap = a * uniforms.kernel[1] + b;
            for (var r = 0; r < 4; r++) {
              let ih = top[r] + a * uniforms.dilations[0];
              let iw = left[r] + b * uniforms.dilations[1];
              let inside = ih >= 0 && ih < uniforms.inDims[1] && iw >= 0 &&
                iw < uniforms.inDims[2];
              mask[r] = select(0.0, 1.0, inside);
              offset[r] = select(0,
                ((image[r] * uniforms.inDims[1] + ih) * uniforms.inDims[2] + iw) * cin, inside);
            }
            ${accumulate}
          }
        }
        for (var r = 0; r < 4; r++) {
          if (p0 + r < pixels) {
            var v = acc[r];
            ${this.bias ? "v += bias[col];" : ""}
            ${activate}
            result[(p0 + r) * n4 + col] = v;
          }
        }
      }
    `;
  }
}

/**
 * dx = dy ⋆ w (the transposed convolution): thread (p4, c4) computes input pixels 4·p4 … + 3 at
 * input channels 4·c4 … + 3, each a sum over the taps whose window covered the pixel and over
 * dy's channels, read a vec4 at a time against the filter's rows for those 4 input channels.
 */
class InputGradientProgram extends GemmProgram {
  readonly variableNames = ["dy", "w"];
  readonly variableComponents = [4, 4];
  readonly outputShape: number[];
  readonly dispatch: [number, number, number];
  readonly shaderKey = "denovisionConvInputGradient";

  constructor(info: backend_util.Conv2DInfo, readonly threads: number) {
    super();
    this.outputShape = [info.batchSize, info.inHeight, info.inWidth, info.inChannels];
    this.dispatch = grid(threads);
  }

  getUserCode(): string {
    return `
      fn main(globalIndex : i32) {
        ${THREAD_INDEX}
        let cin4 = uniforms.inDims[3] / 4;
        let cout4 = uniforms.outDims[3] / 4;
        let col = t % cin4;
        let p0 = (t / cin4) * 4;
        let pixels = uniforms.inDims[0] * uniforms.inDims[1] * uniforms.inDims[2];
        var image : array<i32, 4>;
        var ih : array<i32, 4>;
        var iw : array<i32, 4>;
        for (var r = 0; r < 4; r++) {
          let p = min(p0 + r, pixels - 1);
          iw[r] = p % uniforms.inDims[2] + uniforms.pads[1];
          let rest = p / uniforms.inDims[2];
          ih[r] = rest % uniforms.inDims[1] + uniforms.pads[0];
          image[r] = rest / uniforms.inDims[1];
        }
        var acc : array<vec4<f32>, 4>;
        var offset : array<i32, 4>;
        var mask : array<f32, 4>;
        for (var a = 0; a < uniforms.kernel[0]; a++) {
          for (var b = 0; b < uniforms.kernel[1]; b++) {
            var hitAny = false;
            for (var r = 0; r < 4; r++) {
              // The output pixel whose window put tap (a, b) on this input pixel, if any.
              let oy = ih[r] - a * uniforms.dilations[0];
              let ox = iw[r] - b * uniforms.dilations[1];
              let oh = oy / uniforms.strides[0];
              let ow = ox / uniforms.strides[1];
              let hit = oy >= 0 && ox >= 0 && oh * uniforms.strides[0] == oy &&
                ow * uniforms.strides[1] == ox && oh < uniforms.outDims[1] &&
                ow < uniforms.outDims[2];
              hitAny = hitAny || hit;
              mask[r] = select(0.0, 1.0, hit);
              offset[r] = select(0,
                ((image[r] * uniforms.outDims[1] + oh) * uniforms.outDims[2] + ow) * cout4, hit);
            }
            if (!hitAny) {
              continue;
            }
            // Filter rows (a, b, 4·col + k) for k = 0…3, as vec4s over output channels.
            let wRow = ((a * uniforms.kernel[1] + b) * uniforms.inDims[3] + col * 4) * cout4;
            for (var c = 0; c < cout4; c++) {
              let w0 = w[wRow + c];
              let w1 = w[wRow + cout4 + c];
              let w2 = w[wRow + 2 * cout4 + c];
              let w3 = w[wRow + 3 * cout4 + c];
              for (var r = 0; r < 4; r++) {
                let g = dy[offset[r] + c] * mask[r];
                acc[r] += vec4<f32>(dot(g, w0), dot(g, w1), dot(g, w2), dot(g, w3));
              }
            }
          }
        }
        for (var r = 0; r < 4; r++) {
          if (p0 + r < pixels) {
            result[(p0 + r) * cin4 + col] = acc[r];
          }
        }
      }
    `;
  }
}

/**
 * dW = im2col(x)ᵀ · dy over the output pixels, dW seen as [kh·kw·Cin, Cout]: thread (m4, c4, s)
 * computes filter rows 4·m4 … + 3 at output channels 4·c4 … + 3 over split s of the rows of
 * output pixels (image, oh). With Cin a multiple of 4 the 4 filter rows share a tap and x is read
 * a vec4 at a time; otherwise each row reads its own tap.
 */
class FilterGradientProgram extends GemmProgram {
  readonly variableNames = ["x", "dy"];
  readonly variableComponents: number[];
  readonly outputShape: number[];
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;
  private readonly vecX: boolean;

  constructor(info: backend_util.Conv2DInfo, readonly threads: number, splits: number) {
    super();
    this.vecX = info.inChannels % 4 === 0;
    this.variableComponents = [this.vecX ? 4 : 1, 4];
    const rows = info.filterHeight * info.filterWidth * info.inChannels;
    this.outputShape = [splits, rows, info.outChannels];
    this.dispatch = grid(threads, splits);
    this.shaderKey = `denovisionConvFilterGradient_${this.vecX}`;
  }

  getUserCode(): string {
    // x's value for filter row r at input pixel (ih, iw) of image n, masked to 0 outside.
    const accumulate = this.vecX
      ? `let v = x[(((n * uniforms.inDims[1] + ih) * uniforms.inDims[2] + iw) * cin + ci[0]) / 4];
              acc[0] += v.x * g;
              acc[1] += v.y * g;
              acc[2] += v.z * g;
              acc[3] += v.w * g;`
      : `let base = ((n * uniforms.inDims[1] + ih) * uniforms.inDims[2] + iw) * cin;
              for (var r = 0; r < 4; r++) {
                acc[r] += x[base + ci[r]] * g;
              }`;
    // In the scalar case each row has its own tap: the window test is per row.
    const body = this.vecX
      ? `let ih = oh * uniforms.strides[0] - uniforms.pads[0] + ta[0] * uniforms.dilations[0];
          if (ih < 0 || ih >= uniforms.inDims[1]) {
            continue;
          }
          for (var ow = 0; ow < uniforms.outDims[2]; ow++) {
            let iw = ow * uniforms.strides[1] - uniforms.pads[1] + tb[0] * uniforms.dilations[1];
            if (iw >= 0 && iw < uniforms.inDims[2]) {
              let g = dy[(row * uniforms.outDims[2] + ow) * n4 + col];
              ${accumulate}
            }
          }`
      : `for (var ow = 0; ow < uniforms.outDims[2]; ow++) {
            let g = dy[(row * uniforms.outDims[2] + ow) * n4 + col];
            for (var r = 0; r < 4; r++) {
              let ih = oh * uniforms.strides[0] - uniforms.pads[0] + ta[r] * uniforms.dilations[0];
              let iw = ow * uniforms.strides[1] - uniforms.pads[1] + tb[r] * uniforms.dilations[1];
              let inside = ih >= 0 && ih < uniforms.inDims[1] && iw >= 0 &&
                iw < uniforms.inDims[2] && live[r];
              let at = select(0,
                ((n * uniforms.inDims[1] + ih) * uniforms.inDims[2] + iw) * cin + ci[r], inside);
              acc[r] += (x[at] * select(0.0, 1.0, inside)) * g;
            }
          }`;
    return `
      fn main(globalIndex : i32) {
        ${THREAD_INDEX}
        let cin = uniforms.inDims[3];
        let n4 = uniforms.outDims[3] / 4;
        let rowsW = uniforms.kernel[0] * uniforms.kernel[1] * cin;
        let col = t % n4;
        let m0 = (t / n4) * 4;
        let split = i32(workgroupId.z);
        var ta : array<i32, 4>;
        var tb : array<i32, 4>;
        var ci : array<i32, 4>;
        var live : array<bool, 4>;
        for (var r = 0; r < 4; r++) {
          let m = min(m0 + r, rowsW - 1);
          live[r] = m0 + r < rowsW;
          ci[r] = m % cin;
          let tap = m / cin;
          ta[r] = tap / uniforms.kernel[1];
          tb[r] = tap % uniforms.kernel[1];
        }
        var acc : array<vec4<f32>, 4>;
        let rows = uniforms.outDims[0] * uniforms.outDims[1];
        let first = split * uniforms.splitRows;
        let last = min(rows, first + uniforms.splitRows);
        for (var row = first; row < last; row++) {
          let n = row / uniforms.outDims[1];
          let oh = row % uniforms.outDims[1];
          ${body}
        }
        for (var r = 0; r < 4; r++) {
          if (live[r]) {
            result[(split * rowsW + m0 + r) * n4 + col] = acc[r];
          }
        }
      }
    `;
  }
}

/** The uniforms' values for `info`, `threads` threads and `splitRows` pixel rows a split. */
function uniformData(
  info: backend_util.Conv2DInfo,
  program: { dispatch: [number, number, number] },
  threads: number,
  splitRows = 0,
): { type: "int32"; data: number[] }[] {
  return [
    [info.batchSize, info.inHeight, info.inWidth, info.inChannels],
    [info.batchSize, info.outHeight, info.outWidth, info.outChannels],
    [info.filterHeight, info.filterWidth],
    [info.strideHeight, info.strideWidth],
    [info.padInfo.top, info.padInfo.left],
    [info.dilationHeight, info.dilationWidth],
    [program.dispatch[0]],
    [threads],
    [splitRows],
  ].map((data) => ({ type: "int32" as const, data }));
}

/** Whether the forward program takes this layer (channels-last, Cout a multiple of 4). */
export function forwardFits(info: backend_util.Conv2DInfo): boolean {
  return info.dataFormat === "channelsLast" && info.outChannels % 4 === 0;
}

/** Whether the input-gradient program takes this layer (both channel counts multiples of 4). */
export function inputGradientFits(info: backend_util.Conv2DInfo): boolean {
  return info.dataFormat === "channelsLast" && info.outChannels % 4 === 0 &&
    info.inChannels % 4 === 0;
}

/** Whether the filter-gradient program takes this layer (channels-last, Cout a multiple of 4). */
export function filterGradientFits(info: backend_util.Conv2DInfo): boolean {
  return forwardFits(info);
}

/** y = act(conv(x, w) + bias) with the forward program. */
export function convForward(
  backend: unknown,
  x: TensorInfo,
  w: TensorInfo,
  bias: TensorInfo | undefined,
  activation: ConvActivation,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const pixels = info.batchSize * info.outHeight * info.outWidth;
  const threads = Math.ceil(pixels / 4) * (info.outChannels / 4);
  const program = new ForwardProgram(info, threads, bias !== undefined, activation);
  const inputs = bias === undefined ? [x, w] : [x, w, bias];
  return (backend as WebGpuBackendInternals).runWebGPUProgram(
    program,
    inputs,
    "float32",
    uniformData(info, program, threads),
  );
}

/** dx of a convolution with the input-gradient program. */
export function convInputGradient(
  backend: unknown,
  dy: TensorInfo,
  w: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const pixels = info.batchSize * info.inHeight * info.inWidth;
  const threads = Math.ceil(pixels / 4) * (info.inChannels / 4);
  const program = new InputGradientProgram(info, threads);
  return (backend as WebGpuBackendInternals).runWebGPUProgram(
    program,
    [dy, w],
    "float32",
    uniformData(info, program, threads),
  );
}

/**
 * How many splits of the output pixels' rows the filter gradient takes: enough for
 * TARGET_THREADS threads in all, each split summing at least MIN_SPLIT_PIXELS pixels.
 */
export function filterGradientSplits(info: backend_util.Conv2DInfo, threads: number): number {
  const rows = info.batchSize * info.outHeight;
  const rowsPerSplit = Math.ceil(MIN_SPLIT_PIXELS / info.outWidth);
  const most = Math.max(1, Math.floor(rows / rowsPerSplit));
  return Math.max(1, Math.min(most, Math.ceil(TARGET_THREADS / threads)));
}

/** dW of a convolution with the filter-gradient program, in the filter's shape. */
export function convFilterGradient(
  backend: unknown,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const rowsW = info.filterHeight * info.filterWidth * info.inChannels;
  const threads = Math.ceil(rowsW / 4) * (info.outChannels / 4);
  const splits = filterGradientSplits(info, threads);
  const splitRows = Math.ceil((info.batchSize * info.outHeight) / splits);
  const program = new FilterGradientProgram(info, threads, splits);
  const partial = (backend as WebGpuBackendInternals).runWebGPUProgram(
    program,
    [x, dy],
    "float32",
    uniformData(info, program, threads, splitRows),
  );
  return finishSplits(backend, partial, splits, [
    info.filterHeight,
    info.filterWidth,
    info.inChannels,
    info.outChannels,
  ]);
}
