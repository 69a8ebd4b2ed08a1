// Internal: DepthwiseConv2dNativeBackpropInput on WebGPU. tfjs-backend-webgpu 4.22 computes each
// dx element in its own thread through a generic coordinate path; on MobileNetV2 it was the
// largest kernel of a training step on lavapipe. Here a thread computes 4 consecutive input
// pixels of one channel group (a vec4 of channels when C is a multiple of 4), loading each
// filter tap once for the 4 and summing dy over the taps whose window covered each pixel, with
// no workgroup memory. Layers with a channel multiplier other than 1, or dilation, take the
// stock kernel.
import { backend_util, DepthwiseConv2dNativeBackpropInput, getKernel } from "@tensorflow/tfjs-core";
import type {
  DepthwiseConv2dNativeBackpropInputAttrs,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { runRawProgram } from "./_raw_program.ts";

/** The stock kernel, for the layers this one leaves to it (read before ours is registered). */
const stockKernel = getKernel(DepthwiseConv2dNativeBackpropInput, "webgpu");

/** Input pixels a thread computes. */
const ROWS = 4;

function inputGradientProgram(vec: boolean, shape: number[]) {
  const element = vec ? "vec4<f32>" as const : "f32" as const;
  const rows = Array.from({ length: ROWS }, (_, r) => r);
  return {
    key: `denovisionDepthwiseInputGradient_${vec}`,
    outputs: [{ name: "dx", element, shape }],
    inputs: [{ name: "dy", element }, { name: "w", element }],
    uniforms: "inDims : vec4<i32>, outDims : vec4<i32>, kernel : vec4<i32>, geometry : vec4<i32>,",
    workgroupSize: 64,
    main: `
    alias V = ${element};
    fn main(t : i32) {
      let L = uniforms.inDims[3];
      let lane = t % L;
      let p0 = (t / L) * ${ROWS};
      let pixels = uniforms.inDims[0] * uniforms.inDims[1] * uniforms.inDims[2];
      ${
      rows.map((r) => `
      let q${r} = min(p0 + ${r}, pixels - 1);
      let iw${r} = q${r} % uniforms.inDims[2] + uniforms.geometry[3];
      let ih${r} = (q${r} / uniforms.inDims[2]) % uniforms.inDims[1] + uniforms.geometry[2];
      let image${r} = q${r} / (uniforms.inDims[1] * uniforms.inDims[2]);
      var acc${r} = V(0.0);`).join("")
    }
      for (var a = 0; a < uniforms.kernel[0]; a++) {
        for (var b = 0; b < uniforms.kernel[1]; b++) {
          let wv = w[(a * uniforms.kernel[1] + b) * L + lane];
          ${
      rows.map((r) =>
        `{
            let oy = ih${r} - a;
            let ox = iw${r} - b;
            let oh = oy / uniforms.geometry[0];
            let ow = ox / uniforms.geometry[1];
            let hit = oy >= 0 && ox >= 0 && oh * uniforms.geometry[0] == oy &&
              ow * uniforms.geometry[1] == ox && oh < uniforms.outDims[1] &&
              ow < uniforms.outDims[2];
            let at = select(0,
              ((image${r} * uniforms.outDims[1] + oh) * uniforms.outDims[2] + ow) * L + lane, hit);
            acc${r} += dy[at] * select(0.0, 1.0, hit) * wv;
          }`
      ).join("\n")
    }
        }
      }
      ${
      rows.map((r) => `if (p0 + ${r} < pixels) { dx[(p0 + ${r}) * L + lane] = acc${r}; }`).join(
        "\n",
      )
    }
    }`,
  };
}

const depthwiseBackpropInput: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs as Record<"dy" | "filter", TensorInfo>;
  const { strides, dilations, pad, dimRoundingMode, inputShape } =
    attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs;
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
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
  const vec = info.inChannels % 4 === 0;
  const lanes = vec ? info.inChannels / 4 : info.inChannels;
  const pixels = info.batchSize * info.inHeight * info.inWidth;
  const [dx] = runRawProgram(
    backend,
    inputGradientProgram(vec, [...inputShape]),
    [dy, filter],
    [
      [info.batchSize, info.inHeight, info.inWidth, lanes],
      [info.batchSize, info.outHeight, info.outWidth, lanes],
      [info.filterHeight, info.filterWidth, 0, 0],
      [info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left],
    ].map((data) => ({ type: "int32" as const, data })),
    lanes * Math.ceil(pixels / ROWS),
  );
  return dx;
};

/** Our DepthwiseConv2dNativeBackpropInput on `webgpu`, in place of tfjs-backend-webgpu's. */
export const depthwiseBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: "webgpu",
  kernelFunc: depthwiseBackpropInput,
};
