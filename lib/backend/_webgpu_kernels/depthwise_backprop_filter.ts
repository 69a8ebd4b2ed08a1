// Internal: DepthwiseConv2dNativeBackpropFilter on WebGPU. tfjs-backend-webgpu 4.22 gives each
// filter element (kh·kw·C of them: 3·3·32 = 288 threads for a MobileNetV2 layer) one thread that
// loops over every output pixel alone. Here the output pixels' rows are split across threads as
// well: thread (channel group, tap, split) sums its rows for one tap and a vec4 of channels (one
// channel when C is not a multiple of 4), neighbouring threads reading neighbouring channels of
// x and dy, with no workgroup memory, and one dispatch adds the splits' partial filters.
// Depthwise layers with a channel multiplier other than 1, or dilation, take the stock kernel.
import { DepthwiseConv2dNativeBackpropFilter, getKernel } from "@tensorflow/tfjs-core";
import type {
  DepthwiseConv2dNativeBackpropFilterAttrs,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { finishSplits } from "./_split_sum.ts";
import { runRawProgram } from "./_raw_program.ts";
import { DEPTHWISE_UNIFORMS, depthwiseLayer } from "./_depthwise.ts";

/** The stock kernel, for the layers this one leaves to it (read before ours is registered). */
const stockKernel = getKernel(DepthwiseConv2dNativeBackpropFilter, "webgpu");

/** Threads wanted in all; fewest output pixels a split sums. */
const TARGET_THREADS = 16384;
const MIN_PIXELS = 64;

/**
 * Thread (channel group, tap, split) sums x · dy over its split of the output pixels' rows
 * (image, oh) for one tap, a channel group being a vec4 of channels when C is a multiple of 4.
 */
function filterGradientProgram(vec: boolean, taps: number, channels: number, splits: number) {
  const element = vec ? "vec4<f32>" as const : "f32" as const;
  return {
    key: `denovisionDepthwiseFilterGradient_${vec}`,
    outputs: [{ name: "partial", element, shape: [splits, taps, channels] }],
    inputs: [{ name: "x", element }, { name: "dy", element }],
    uniforms: `${DEPTHWISE_UNIFORMS} splitRows : i32,`,
    workgroupSize: 64,
    main: `
    alias V = ${element};
    fn main(t : i32) {
      let L = uniforms.inDims[3];
      let taps = uniforms.kernel[0] * uniforms.kernel[1];
      let lane = t % L;
      let tap = (t / L) % taps;
      let split = t / (L * taps);
      let a = tap / uniforms.kernel[1];
      let b = tap % uniforms.kernel[1];
      let rows = uniforms.outDims[0] * uniforms.outDims[1];
      let first = split * uniforms.splitRows;
      let last = min(rows, first + uniforms.splitRows);
      var acc = V(0.0);
      for (var row = first; row < last; row++) {
        let n = row / uniforms.outDims[1];
        let ih = (row % uniforms.outDims[1]) * uniforms.geometry[0] + a - uniforms.geometry[2];
        if (ih < 0 || ih >= uniforms.inDims[1]) {
          continue;
        }
        let xRow = (n * uniforms.inDims[1] + ih) * uniforms.inDims[2];
        for (var ow = 0; ow < uniforms.outDims[2]; ow++) {
          let iw = ow * uniforms.geometry[1] + b - uniforms.geometry[3];
          if (iw >= 0 && iw < uniforms.inDims[2]) {
            acc += x[(xRow + iw) * L + lane] * dy[(row * uniforms.outDims[2] + ow) * L + lane];
          }
        }
      }
      partial[(split * taps + tap) * L + lane] = acc;
    }`,
  };
}

/** Splits of the output rows: TARGET_THREADS threads in all, each split ≥ MIN_PIXELS pixels. */
export function depthwiseFilterSplits(
  lanes: number,
  taps: number,
  rows: number,
  width: number,
): number {
  const wanted = Math.ceil(TARGET_THREADS / (lanes * taps));
  const most = Math.max(1, Math.floor(rows / Math.ceil(MIN_PIXELS / width)));
  return Math.max(1, Math.min(wanted, most));
}

const depthwiseBackpropFilter: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs as Record<"x" | "dy", TensorInfo>;
  const attributes = attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
  const filterShape = attributes.filterShape;
  const layer = depthwiseLayer(x.shape, filterShape, attributes);
  if (layer === undefined) return stockKernel!.kernelFunc(args);
  const { info, vec, lanes } = layer;
  const taps = info.filterHeight * info.filterWidth;
  const rows = info.batchSize * info.outHeight;
  const splits = depthwiseFilterSplits(lanes, taps, rows, info.outWidth);
  const [partial] = runRawProgram(
    backend,
    filterGradientProgram(vec, taps, info.inChannels, splits),
    [x, dy],
    [...layer.uniforms, { type: "int32", data: [Math.ceil(rows / splits)] }],
    lanes * taps * splits,
  );
  return finishSplits(backend, partial, splits, filterShape);
};

/** Our DepthwiseConv2dNativeBackpropFilter on `webgpu`, in place of tfjs-backend-webgpu's. */
export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: "webgpu",
  kernelFunc: depthwiseBackpropFilter,
};
