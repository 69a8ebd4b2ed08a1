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
import { reuseUniforms } from "./_reuse.ts";

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

/** `body(i)` for i = 0 … n − 1, joined: the shaders' loops over a thread's tile, unrolled. */
function each(n: number, body: (i: number) => string): string {
  return Array.from({ length: n }, (_, i) => body(i)).join("\n");
}

/** The widest tile of vec4 columns, at most `most`, that divides `columns`. */
function tileColumns(columns: number, most: number): number {
  for (let c = most; c > 1; c /= 2) if (columns % c === 0) return c;
  return 1;
}

/** Output pixels a thread of the forward and input-gradient programs computes. */
const ROWS = 8;
/** Most vec4 columns a thread computes: forward and input gradient, filter gradient. */
const COLUMNS = 2;
const FILTER_COLUMNS = 4;

/**
 * y = act(conv(x, w) + bias): a thread computes ROWS consecutive output pixels at `cols` vec4s of
 * output channels, the accumulators unrolled into registers. With Cin a multiple of 4, x is read
 * a vec4 of channels at a time against four filter rows.
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
    private readonly cols: number,
    private readonly bias: boolean,
    private readonly activation: ConvActivation,
  ) {
    super();
    this.vecX = info.inChannels % 4 === 0;
    this.variableNames = bias ? ["x", "w", "bias"] : ["x", "w"];
    this.variableComponents = bias ? [this.vecX ? 4 : 1, 4, 4] : [this.vecX ? 4 : 1, 4];
    this.outputShape = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
    this.dispatch = grid(threads);
    this.shaderKey = `denovisionConvForward_${this.vecX}_${cols}_${bias}_${activation}`;
  }

  getUserCode(): string {
    const C = this.cols;
    const accumulate = this.vecX
      ? `for (var c = 0; c < cin; c += 4) {
            let wRow = (tap * cin + c) * n4 + col;
            ${each(4, (k) => each(C, (j) => `let w${k}_${j} = w[wRow + ${k} * n4 + ${j}];`))}
            ${
        each(ROWS, (r) =>
          `{
              let v = x[(offset${r} + c) / 4] * mask${r};
              ${
            each(C, (j) =>
              `acc${r}_${j} += v.x * w0_${j} + v.y * w1_${j} + v.z * w2_${j} + v.w * w3_${j};`)
          }
            }`)
      }
          }`
      : `for (var c = 0; c < cin; c++) {
            let wRow = (tap * cin + c) * n4 + col;
            ${each(C, (j) => `let w_${j} = w[wRow + ${j}];`)}
            ${
        each(ROWS, (r) =>
          `{
              let v = x[offset${r} + c] * mask${r};
              ${each(C, (j) => `acc${r}_${j} += v * w_${j};`)}
            }`)
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
        let col = (t % (n4 / ${C})) * ${C};
        let p0 = (t / (n4 / ${C})) * ${ROWS};
        let pixels = uniforms.outDims[0] * uniforms.outDims[1] * uniforms.outDims[2];
        // Where each output pixel's window starts in x (its corner may lie outside).
        ${
      each(ROWS, (r) => `
        let q${r} = min(p0 + ${r}, pixels - 1);
        let image${r} = q${r} / (uniforms.outDims[1] * uniforms.outDims[2]);
        let top${r} = ((q${r} / uniforms.outDims[2]) % uniforms.outDims[1]) * uniforms.strides[0] -
          uniforms.pads[0];
        let left${r} = (q${r} % uniforms.outDims[2]) * uniforms.strides[1] - uniforms.pads[1];`)
    }
        ${each(ROWS, (r) => each(C, (j) => `var acc${r}_${j} = vec4<f32>(0.0);`))}
        for (var a = 0; a < uniforms.kernel[0]; a++) {
          for (var b = 0; b < uniforms.kernel[1]; b++) {
            let tap = a * uniforms.kernel[1] + b;
            ${
      each(ROWS, (r) => `
            let ih${r} = top${r} + a * uniforms.dilations[0];
            let iw${r} = left${r} + b * uniforms.dilations[1];
            let inside${r} = ih${r} >= 0 && ih${r} < uniforms.inDims[1] && iw${r} >= 0 &&
              iw${r} < uniforms.inDims[2];
            let mask${r} = select(0.0, 1.0, inside${r});
            let offset${r} = select(0,
              ((image${r} * uniforms.inDims[1] + ih${r}) * uniforms.inDims[2] + iw${r}) * cin,
              inside${r});`)
    }
            ${accumulate}
          }
        }
        ${
      each(ROWS, (r) => `
        if (p0 + ${r} < pixels) {
          ${
        each(C, (j) =>
          `{
            var v = acc${r}_${j};
            ${this.bias ? `v += bias[col + ${j}];` : ""}
            ${activate}
            result[(p0 + ${r}) * n4 + col + ${j}] = v;
          }`)
      }
        }`)
    }
      }
    `;
  }
}

/**
 * dx = dy ⋆ w (the transposed convolution): a thread computes ROWS consecutive input pixels at
 * `cols` vec4s of input channels, each a sum over the taps whose window covered the pixel and
 * over dy's channels, read a vec4 at a time against the filter's rows for those input channels.
 */
class InputGradientProgram extends GemmProgram {
  readonly variableNames = ["dy", "w"];
  readonly variableComponents = [4, 4];
  readonly outputShape: number[];
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;

  constructor(info: backend_util.Conv2DInfo, readonly threads: number, private cols: number) {
    super();
    this.outputShape = [info.batchSize, info.inHeight, info.inWidth, info.inChannels];
    this.dispatch = grid(threads);
    this.shaderKey = `denovisionConvInputGradient_${cols}`;
  }

  getUserCode(): string {
    const C = this.cols;
    return `
      fn main(globalIndex : i32) {
        ${THREAD_INDEX}
        let cin4 = uniforms.inDims[3] / 4;
        let cout4 = uniforms.outDims[3] / 4;
        let col = (t % (cin4 / ${C})) * ${C};
        let p0 = (t / (cin4 / ${C})) * ${ROWS};
        let pixels = uniforms.inDims[0] * uniforms.inDims[1] * uniforms.inDims[2];
        ${
      each(ROWS, (r) => `
        let q${r} = min(p0 + ${r}, pixels - 1);
        let iw${r} = q${r} % uniforms.inDims[2] + uniforms.pads[1];
        let ih${r} = (q${r} / uniforms.inDims[2]) % uniforms.inDims[1] + uniforms.pads[0];
        let image${r} = q${r} / (uniforms.inDims[1] * uniforms.inDims[2]);`)
    }
        ${each(ROWS, (r) => each(C, (j) => `var acc${r}_${j} = vec4<f32>(0.0);`))}
        for (var a = 0; a < uniforms.kernel[0]; a++) {
          for (var b = 0; b < uniforms.kernel[1]; b++) {
            // The output pixel whose window put tap (a, b) on each input pixel, if any.
            ${
      each(ROWS, (r) => `
            let oy${r} = ih${r} - a * uniforms.dilations[0];
            let ox${r} = iw${r} - b * uniforms.dilations[1];
            let oh${r} = oy${r} / uniforms.strides[0];
            let ow${r} = ox${r} / uniforms.strides[1];
            let hit${r} = oy${r} >= 0 && ox${r} >= 0 && oh${r} * uniforms.strides[0] == oy${r} &&
              ow${r} * uniforms.strides[1] == ox${r} && oh${r} < uniforms.outDims[1] &&
              ow${r} < uniforms.outDims[2];
            let mask${r} = select(0.0, 1.0, hit${r});
            let offset${r} = select(0,
              ((image${r} * uniforms.outDims[1] + oh${r}) * uniforms.outDims[2] + ow${r}) * cout4,
              hit${r});`)
    }
            if (!(${each(ROWS, (r) => `hit${r}`).split("\n").join(" || ")})) {
              continue;
            }
            // Filter rows (a, b, 4·(col + j) + k), as vec4s over output channels.
            let wRow = ((a * uniforms.kernel[1] + b) * uniforms.inDims[3] + col * 4) * cout4;
            for (var c = 0; c < cout4; c++) {
              ${
      each(C, (j) => each(4, (k) => `let w${j}_${k} = w[wRow + ${j * 4 + k} * cout4 + c];`))
    }
              ${
      each(ROWS, (r) =>
        `{
                let g = dy[offset${r} + c] * mask${r};
                ${
          each(C, (j) =>
            `acc${r}_${j} += vec4<f32>(dot(g, w${j}_0), dot(g, w${j}_1), dot(g, w${j}_2), ` +
            `dot(g, w${j}_3));`)
        }
              }`)
    }
            }
          }
        }
        ${
      each(ROWS, (r) => `
        if (p0 + ${r} < pixels) {
          ${each(C, (j) => `result[(p0 + ${r}) * cin4 + col + ${j}] = acc${r}_${j};`)}
        }`)
    }
      }
    `;
  }
}

/**
 * dW = im2col(x)ᵀ · dy over the output pixels, dW seen as [kh·kw·Cin, Cout]: a thread computes
 * 4 filter rows at `cols` vec4s of output channels over its split of the rows of output pixels
 * (image, oh). With Cin a multiple of 4 the 4 filter rows share a tap and x is read a vec4 at a
 * time; otherwise each row reads its own tap.
 */
class FilterGradientProgram extends GemmProgram {
  readonly variableNames = ["x", "dy"];
  readonly variableComponents: number[];
  readonly outputShape: number[];
  readonly dispatch: [number, number, number];
  readonly shaderKey: string;
  private readonly vecX: boolean;

  constructor(
    info: backend_util.Conv2DInfo,
    readonly threads: number,
    splits: number,
    private readonly cols: number,
  ) {
    super();
    this.vecX = info.inChannels % 4 === 0;
    this.variableComponents = [this.vecX ? 4 : 1, 4];
    const rows = info.filterHeight * info.filterWidth * info.inChannels;
    this.outputShape = [splits, rows, info.outChannels];
    this.dispatch = grid(threads, splits);
    this.shaderKey = `denovisionConvFilterGradient_${this.vecX}_${cols}`;
  }

  getUserCode(): string {
    const C = this.cols;
    const loadDy = each(
      C,
      (j) => `let g${j} = dy[(row * uniforms.outDims[2] + ow) * n4 + col + ${j}];`,
    );
    // In the vec4 case the 4 rows share a tap: one window test; otherwise one per row.
    const body = this.vecX
      ? `let ih = oh * uniforms.strides[0] - uniforms.pads[0] + ta0 * uniforms.dilations[0];
          if (ih < 0 || ih >= uniforms.inDims[1]) {
            continue;
          }
          let xRow = (n * uniforms.inDims[1] + ih) * uniforms.inDims[2];
          for (var ow = 0; ow < uniforms.outDims[2]; ow++) {
            let iw = ow * uniforms.strides[1] - uniforms.pads[1] + tb0 * uniforms.dilations[1];
            if (iw >= 0 && iw < uniforms.inDims[2]) {
              ${loadDy}
              let v = x[((xRow + iw) * cin + ci0) / 4];
              ${each(4, (r) => each(C, (j) => `acc${r}_${j} += v[${r}] * g${j};`))}
            }
          }`
      : `for (var ow = 0; ow < uniforms.outDims[2]; ow++) {
            ${loadDy}
            ${
        each(4, (r) =>
          `{
              let ih = oh * uniforms.strides[0] - uniforms.pads[0] + ta${r} * uniforms.dilations[0];
              let iw = ow * uniforms.strides[1] - uniforms.pads[1] + tb${r} * uniforms.dilations[1];
              let inside = ih >= 0 && ih < uniforms.inDims[1] && iw >= 0 &&
                iw < uniforms.inDims[2] && live${r};
              let at = select(0,
                ((n * uniforms.inDims[1] + ih) * uniforms.inDims[2] + iw) * cin + ci${r}, inside);
              let v = x[at] * select(0.0, 1.0, inside);
              ${each(C, (j) => `acc${r}_${j} += v * g${j};`)}
            }`)
      }
          }`;
    return `
      fn main(globalIndex : i32) {
        ${THREAD_INDEX}
        let cin = uniforms.inDims[3];
        let n4 = uniforms.outDims[3] / 4;
        let rowsW = uniforms.kernel[0] * uniforms.kernel[1] * cin;
        let col = (t % (n4 / ${C})) * ${C};
        let mBase = (t / (n4 / ${C})) * 4;
        let split = i32(workgroupId.z);
        ${
      each(4, (r) => `
        let m${r} = min(mBase + ${r}, rowsW - 1);
        let live${r} = mBase + ${r} < rowsW;
        let ci${r} = m${r} % cin;
        let ta${r} = (m${r} / cin) / uniforms.kernel[1];
        let tb${r} = (m${r} / cin) % uniforms.kernel[1];`)
    }
        ${each(4, (r) => each(C, (j) => `var acc${r}_${j} = vec4<f32>(0.0);`))}
        let rows = uniforms.outDims[0] * uniforms.outDims[1];
        let first = split * uniforms.splitRows;
        let last = min(rows, first + uniforms.splitRows);
        for (var row = first; row < last; row++) {
          let n = row / uniforms.outDims[1];
          let oh = row % uniforms.outDims[1];
          ${body}
        }
        ${
      each(4, (r) => `
        if (live${r}) {
          ${
        each(C, (j) => `result[(split * rowsW + mBase + ${r}) * n4 + col + ${j}] = acc${r}_${j};`)
      }
        }`)
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
  const cols = tileColumns(info.outChannels / 4, COLUMNS);
  const threads = Math.ceil(pixels / ROWS) * (info.outChannels / 4 / cols);
  reuseUniforms(backend);
  const program = new ForwardProgram(info, threads, cols, bias !== undefined, activation);
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
  const cols = tileColumns(info.inChannels / 4, COLUMNS);
  const threads = Math.ceil(pixels / ROWS) * (info.inChannels / 4 / cols);
  reuseUniforms(backend);
  const program = new InputGradientProgram(info, threads, cols);
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
  const cols = tileColumns(info.outChannels / 4, FILTER_COLUMNS);
  const threads = Math.ceil(rowsW / 4) * (info.outChannels / 4 / cols);
  const splits = filterGradientSplits(info, threads);
  const splitRows = Math.ceil((info.batchSize * info.outHeight) / splits);
  reuseUniforms(backend);
  const program = new FilterGradientProgram(info, threads, splits, cols);
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
