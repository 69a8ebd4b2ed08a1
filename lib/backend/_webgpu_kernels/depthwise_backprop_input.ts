// Internal: DepthwiseConv2dNativeBackpropInput on WebGPU. tfjs-backend-webgpu 4.22 computes each
// dx element in its own thread through a generic coordinate path; on MobileNetV2 it was the
// largest kernel of a training step on lavapipe. Here a thread computes 4 consecutive input
// pixels of one channel group (a vec4 of channels when C is a multiple of 4), loading each
// filter tap once for the 4 and summing dy over the taps whose window covered each pixel, with
// no workgroup memory. Layers with a channel multiplier other than 1, or dilation, take the
// stock kernel.
import { DepthwiseConv2dNativeBackpropInput, getKernel } from "@tensorflow/tfjs-core";
import type {
  DepthwiseConv2dNativeBackpropInputAttrs,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { runRawProgram } from "./_raw_program.ts";
import { DEPTHWISE_UNIFORMS, depthwiseLayer } from "./_depthwise.ts";

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
    uniforms: DEPTHWISE_UNIFORMS,
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
  const attributes = attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs;
  const layer = depthwiseLayer(attributes.inputShape, filter.shape, attributes);
  if (layer === undefined) return stockKernel!.kernelFunc(args);
  const { info, vec, lanes } = layer;
  const pixels = info.batchSize * info.inHeight * info.inWidth;
  const [dx] = runRawProgram(
    backend,
    inputGradientProgram(vec, [...attributes.inputShape]),
    [dy, filter],
    layer.uniforms,
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
