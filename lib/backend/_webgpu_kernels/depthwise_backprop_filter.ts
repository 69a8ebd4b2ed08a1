// Internal: DepthwiseConv2dNativeBackpropFilter on WebGPU. tfjs-backend-webgpu 4.22 gives each
// filter element (kh·kw·C of them: 3·3·32 = 288 threads for a MobileNetV2 layer) one thread that
// loops over every output pixel alone. Here the pixels are split across workgroups as well:
// thread (c, tap, split) sums its slice of pixels for one channel and tap, neighbouring threads
// reading neighbouring channels of x and dy, and one Sum adds the splits' partial filters.
// Depthwise layers with a channel multiplier other than 1, or dilation, take the stock kernel.
import {
  backend_util,
  DepthwiseConv2dNativeBackpropFilter,
  getKernel,
} from "@tensorflow/tfjs-core";
import type {
  DepthwiseConv2dNativeBackpropFilterAttrs,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { finishSplits, type WebGpuBackendInternals } from "./_split_sum.ts";

/** The stock kernel, for the layers this one leaves to it (read before ours is registered). */
const stockKernel = getKernel(DepthwiseConv2dNativeBackpropFilter, "webgpu");

/** Threads per workgroup, one channel each. */
const WIDTH = 64;
/** Workgroups wanted in flight; fewest pixels a split sums. */
const TARGET_WORKGROUPS = 256;
const MIN_PIXELS = 64;

class DepthwiseFilterGradientProgram {
  readonly variableNames = ["x", "dy"];
  readonly uniforms = "inShape : vec4<i32>, kernel : vec2<i32>, pads : vec2<i32>, " +
    "strides : vec2<i32>, outSize : vec2<i32>, pixels : i32, chunk : i32,";
  readonly workgroupSize: [number, number, number] = [WIDTH, 1, 1];
  readonly outputShape: number[];
  readonly dispatchLayout = { x: [2], y: [1], z: [0] };
  readonly dispatch: [number, number, number];
  readonly shaderKey = "denovisionDepthwiseFilterGradient";

  constructor(channels: number, taps: number, splits: number) {
    this.outputShape = [splits, taps, channels];
    this.dispatch = [Math.ceil(channels / WIDTH), taps, splits];
  }

  getUserCode(): string {
    return `
      fn main() {
        let C = uniforms.inShape[3];
        let c = i32(workgroupId.x) * ${WIDTH} + i32(localId.x);
        let tap = i32(workgroupId.y);
        let split = i32(workgroupId.z);
        let a = tap / uniforms.kernel[1];
        let b = tap % uniforms.kernel[1];
        let begin = split * uniforms.chunk;
        let end = min(uniforms.pixels, begin + uniforms.chunk);
        if (c >= C) {
          return;
        }
        var acc = 0.0;
        for (var p = begin; p < end; p++) {
          let ow = p % uniforms.outSize[1];
          let rest = p / uniforms.outSize[1];
          let oh = rest % uniforms.outSize[0];
          let n = rest / uniforms.outSize[0];
          let ih = oh * uniforms.strides[0] + a - uniforms.pads[0];
          let iw = ow * uniforms.strides[1] + b - uniforms.pads[1];
          if (ih >= 0 && ih < uniforms.inShape[1] && iw >= 0 && iw < uniforms.inShape[2]) {
            let xv = x[((n * uniforms.inShape[1] + ih) * uniforms.inShape[2] + iw) * C + c];
            acc = fma(xv, dy[p * C + c], acc);
          }
        }
        result[(split * ${"uniforms.kernel[0] * uniforms.kernel[1]"} + tap) * C + c] = acc;
      }
    `;
  }
}

/** Pixel splits: enough workgroups to fill a GPU, each split at least MIN_PIXELS pixels. */
export function depthwiseFilterSplits(channels: number, taps: number, pixels: number): number {
  const groups = Math.ceil(channels / WIDTH) * taps;
  const wanted = Math.ceil(TARGET_WORKGROUPS / groups);
  return Math.max(1, Math.min(wanted, Math.floor(pixels / MIN_PIXELS)));
}

const depthwiseBackpropFilter: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs as Record<"x" | "dy", TensorInfo>;
  const { strides, dilations, pad, dimRoundingMode, filterShape } =
    attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    dilations,
    pad,
    dimRoundingMode,
    true,
  );
  if (
    info.outChannels !== info.inChannels || info.dilationHeight !== 1 || info.dilationWidth !== 1
  ) {
    return stockKernel!.kernelFunc(args);
  }
  const taps = info.filterHeight * info.filterWidth;
  const pixels = info.batchSize * info.outHeight * info.outWidth;
  const splits = depthwiseFilterSplits(info.inChannels, taps, pixels);
  const program = new DepthwiseFilterGradientProgram(info.inChannels, taps, splits);
  const gpu = backend as unknown as WebGpuBackendInternals;
  const partial = gpu.runWebGPUProgram(program, [x, dy], "float32", [
    { type: "int32", data: [info.batchSize, info.inHeight, info.inWidth, info.inChannels] },
    { type: "int32", data: [info.filterHeight, info.filterWidth] },
    { type: "int32", data: [info.padInfo.top, info.padInfo.left] },
    { type: "int32", data: [info.strideHeight, info.strideWidth] },
    { type: "int32", data: [info.outHeight, info.outWidth] },
    { type: "int32", data: [pixels] },
    { type: "int32", data: [Math.ceil(pixels / splits)] },
  ]);
  return finishSplits(backend, partial, splits, filterShape);
};

/** Our DepthwiseConv2dNativeBackpropFilter on `webgpu`, in place of tfjs-backend-webgpu's. */
export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: "webgpu",
  kernelFunc: depthwiseBackpropFilter,
};
