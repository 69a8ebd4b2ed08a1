// Internal: Conv2DBackpropFilter on WebGPU as an implicit GEMM. tfjs-backend-webgpu 4.22 gives
// each filter element one thread that loops over batch × out-height × out-width on its own: a
// 1×1 layer of MobileNetV2 has a few thousand threads each reading tens of thousands of values,
// half of a training step's kernel time on lavapipe.
//
// Here dW, seen as a matrix [kh·kw·Cin, Cout] (the filter's own row-major layout), is
//   dW = Aᵀ · dY,  A[p, (a, b, ci)] = x[n, oh·s + a − padTop, ow·s + b − padLeft, ci]
// over the P = B·OH·OW output pixels p = (n, oh, ow), A never written out (implicit im2col) and
// dY being dy as it lies, [P, Cout]. Each workgroup of 8×8 threads computes a 32×32 tile of dW,
// 4×4 values a thread, from 32-pixel slices of A and dY staged in workgroup memory. When P is
// long and the tiles few (small layers with large maps, the common case in a backward pass), P
// is split across workgroups (split-K) and the partial tiles are summed by one Sum dispatch.
//
// Layers with output channels a multiple of 4 (nearly all) take the register-tiled program of
// _conv_gemm.ts instead, which needs no workgroup memory: on lavapipe it is several times faster.
import { backend_util, Conv2DBackpropFilter } from "@tensorflow/tfjs-core";
import type {
  Conv2DBackpropFilterAttrs,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { finishSplits, type WebGpuBackendInternals } from "./_split_sum.ts";
import { convFilterGradient, filterGradientFits } from "./_conv_gemm.ts";

/** The tile of dW a workgroup computes, and the pixels it stages per round. */
const TILE = 32;
const SLICE = 32;
/** Fewer workgroups than this leave a GPU's cores idle: split P until the grid has as many. */
const TARGET_WORKGROUPS = 256;

/** A tfjs-backend-webgpu program (its WebGPUProgram interface): what it compiles and runs. */
class FilterGradientProgram {
  readonly variableNames = ["x", "dy"];
  readonly uniforms =
    "inShape : vec4<i32>, kernel : vec2<i32>, pads : vec2<i32>, strides : vec2<i32>, " +
    "outSize : vec2<i32>, gemm : vec3<i32>, rounds : i32,";
  readonly workgroupSize: [number, number, number] = [8, 8, 1];
  readonly outputShape: number[];
  readonly dispatchLayout = { x: [2], y: [1], z: [0] };
  readonly dispatch: [number, number, number];
  readonly shaderKey = "denovisionConv2DFilterGradient";

  constructor(m: number, n: number, splits: number) {
    this.outputShape = [splits, m, n];
    this.dispatch = [Math.ceil(n / TILE), Math.ceil(m / TILE), splits];
  }

  getUserCode(): string {
    return `
      var<workgroup> tileA : array<array<f32, ${TILE}>, ${SLICE}>;
      var<workgroup> tileB : array<array<f32, ${TILE}>, ${SLICE}>;

      // A[p, m]: the input pixel that filter tap m = (a, b, ci) saw for output pixel p.
      fn imcol(p : i32, m : i32) -> f32 {
        let inC = uniforms.inShape[3];
        let ci = m % inC;
        let tap = m / inC;
        let b = tap % uniforms.kernel[1];
        let a = tap / uniforms.kernel[1];
        let ow = p % uniforms.outSize[1];
        let rest = p / uniforms.outSize[1];
        let oh = rest % uniforms.outSize[0];
        let n = rest / uniforms.outSize[0];
        let ih = oh * uniforms.strides[0] + a - uniforms.pads[0];
        let iw = ow * uniforms.strides[1] + b - uniforms.pads[1];
        if (ih < 0 || ih >= uniforms.inShape[1] || iw < 0 || iw >= uniforms.inShape[2]) {
          return 0.0;
        }
        return x[((n * uniforms.inShape[1] + ih) * uniforms.inShape[2] + iw) * inC + ci];
      }

      fn main() {
        let M = uniforms.gemm[0];
        let N = uniforms.gemm[1];
        let P = uniforms.gemm[2];
        let tileM = i32(workgroupId.y) * ${TILE};
        let tileN = i32(workgroupId.x) * ${TILE};
        let split = i32(workgroupId.z);
        let begin = split * uniforms.rounds * ${SLICE};
        let end = min(P, begin + uniforms.rounds * ${SLICE});
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let lane = i32(localIndex);
        var acc : array<array<f32, 4>, 4>;
        for (var round = 0; round < uniforms.rounds; round++) {
          let p0 = begin + round * ${SLICE};
          for (var i = 0; i < ${(TILE * SLICE) / 64}; i++) {
            let e = i * 64 + lane;
            let k = e / ${TILE};
            let j = e % ${TILE};
            let p = p0 + k;
            var a = 0.0;
            var b = 0.0;
            if (p < end) {
              if (tileM + j < M) { a = imcol(p, tileM + j); }
              if (tileN + j < N) { b = dy[p * N + tileN + j]; }
            }
            tileA[k][j] = a;
            tileB[k][j] = b;
          }
          workgroupBarrier();
          // A short P (the last layers of a small input: 8 pixels at ResNet's 1×1 maps) leaves
          // most of a slice empty: only its filled rows are multiplied.
          let rows = min(${SLICE}, end - p0);
          for (var k = 0; k < rows; k++) {
            let a = vec4<f32>(tileA[k][ty * 4], tileA[k][ty * 4 + 1], tileA[k][ty * 4 + 2],
              tileA[k][ty * 4 + 3]);
            let b = vec4<f32>(tileB[k][tx * 4], tileB[k][tx * 4 + 1], tileB[k][tx * 4 + 2],
              tileB[k][tx * 4 + 3]);
            for (var r = 0; r < 4; r++) {
              acc[r][0] = fma(a[r], b[0], acc[r][0]);
              acc[r][1] = fma(a[r], b[1], acc[r][1]);
              acc[r][2] = fma(a[r], b[2], acc[r][2]);
              acc[r][3] = fma(a[r], b[3], acc[r][3]);
            }
          }
          workgroupBarrier();
        }
        for (var r = 0; r < 4; r++) {
          let m = tileM + ty * 4 + r;
          for (var c = 0; c < 4; c++) {
            let n = tileN + tx * 4 + c;
            if (m < M && n < N) {
              result[(split * M + m) * N + n] = acc[r][c];
            }
          }
        }
      }
    `;
  }
}

/**
 * How many slices of P to give each workgroup: all of P in one when the grid of tiles is large
 * enough, else split so that tiles × splits reaches TARGET_WORKGROUPS (each split at least 4
 * slices, so the partial sums stay few).
 */
export function filterGradientSplits(m: number, n: number, p: number): number {
  const tiles = Math.ceil(m / TILE) * Math.ceil(n / TILE);
  const slices = Math.ceil(p / SLICE);
  const wanted = Math.ceil(TARGET_WORKGROUPS / tiles);
  return Math.max(1, Math.min(wanted, Math.floor(slices / 4)));
}

const conv2dBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as Record<"x" | "dy", TensorInfo>;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    attrs as unknown as Conv2DBackpropFilterAttrs;
  const gpu = backend as unknown as WebGpuBackendInternals;
  if (dataFormat !== "NHWC") {
    throw new Error(`webgpu Conv2DBackpropFilter (ours) takes NHWC only, got '${dataFormat}'`);
  }
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    "channelsLast",
  );
  if (filterGradientFits(info)) return convFilterGradient(backend, x, dy, info);
  const m = info.filterHeight * info.filterWidth * info.inChannels;
  const n = info.outChannels;
  const p = info.batchSize * info.outHeight * info.outWidth;
  const splits = filterGradientSplits(m, n, p);
  const rounds = Math.ceil(Math.ceil(p / SLICE) / splits);
  const program = new FilterGradientProgram(m, n, splits);
  const partial = gpu.runWebGPUProgram(program, [x, dy], "float32", [
    { type: "int32", data: [info.batchSize, info.inHeight, info.inWidth, info.inChannels] },
    { type: "int32", data: [info.filterHeight, info.filterWidth] },
    { type: "int32", data: [info.padInfo.top, info.padInfo.left] },
    { type: "int32", data: [info.strideHeight, info.strideWidth] },
    { type: "int32", data: [info.outHeight, info.outWidth] },
    { type: "int32", data: [m, n, p] },
    { type: "int32", data: [rounds] },
  ]);
  return finishSplits(backend, partial, splits, filterShape);
};

/** Our Conv2DBackpropFilter on `webgpu`, in place of tfjs-backend-webgpu's. */
export const conv2dBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: "webgpu",
  kernelFunc: conv2dBackpropFilter,
};
