// Internal: DepthwiseConv2dNative on WebGPU: a thread computes 4 consecutive output pixels of one
// channel group (a vec4 of channels when C is a multiple of 4), loading each filter tap once for
// the 4, with no workgroup memory; the flat grid wraps into two dimensions, so any size runs.
// tfjs-backend-webgpu 4.22's program wrote all zeros, silently, for MobileNetV2's 96-channel
// 64×64 maps at a batch of 64 (a 100 MB output), and the zeros' batch norm then blew the
// gradients up to NaN. Layers with a channel multiplier other than 1, or dilation, take the
// stock kernel.
import { DepthwiseConv2dNative, getKernel } from "@tensorflow/tfjs-core";
import type {
  DepthwiseConv2dNativeAttrs,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { runRawProgram } from "./_raw_program.ts";
import { DEPTHWISE_UNIFORMS, depthwiseLayer } from "./_depthwise.ts";

/** The stock kernel, for the layers this one leaves to it (read before ours is registered). */
const stockKernel = getKernel(DepthwiseConv2dNative, "webgpu");

/** Output pixels a thread computes. */
const ROWS = 4;

function forwardProgram(vec: boolean, shape: number[]) {
  const element = vec ? "vec4<f32>" as const : "f32" as const;
  const rows = Array.from({ length: ROWS }, (_, r) => r);
  return {
    key: `denovisionDepthwiseForward_${vec}`,
    outputs: [{ name: "y", element, shape }],
    inputs: [{ name: "x", element }, { name: "w", element }],
    uniforms: DEPTHWISE_UNIFORMS,
    workgroupSize: 64,
    main: `
    alias V = ${element};
    fn main(t : i32) {
      let L = uniforms.inDims[3];
      let lane = t % L;
      let p0 = (t / L) * ${ROWS};
      let pixels = uniforms.outDims[0] * uniforms.outDims[1] * uniforms.outDims[2];
      ${
      rows.map((r) => `
      let q${r} = min(p0 + ${r}, pixels - 1);
      let left${r} = (q${r} % uniforms.outDims[2]) * uniforms.geometry[1] - uniforms.geometry[3];
      let top${r} = ((q${r} / uniforms.outDims[2]) % uniforms.outDims[1]) * uniforms.geometry[0] -
        uniforms.geometry[2];
      let image${r} = q${r} / (uniforms.outDims[1] * uniforms.outDims[2]);
      var acc${r} = V(0.0);`).join("")
    }
      for (var a = 0; a < uniforms.kernel[0]; a++) {
        for (var b = 0; b < uniforms.kernel[1]; b++) {
          let wv = w[(a * uniforms.kernel[1] + b) * L + lane];
          ${
      rows.map((r) =>
        `{
            let ih = top${r} + a;
            let iw = left${r} + b;
            let inside = ih >= 0 && ih < uniforms.inDims[1] && iw >= 0 && iw < uniforms.inDims[2];
            let at = select(0,
              ((image${r} * uniforms.inDims[1] + ih) * uniforms.inDims[2] + iw) * L + lane, inside);
            acc${r} += x[at] * select(0.0, 1.0, inside) * wv;
          }`
      ).join("\n")
    }
        }
      }
      ${
      rows.map((r) => `if (p0 + ${r} < pixels) { y[(p0 + ${r}) * L + lane] = acc${r}; }`).join("\n")
    }
    }`,
  };
}

const depthwiseConv2d: KernelFunc = (args) => {
  const { inputs, backend, attrs } = args;
  const { x, filter } = inputs as Record<"x" | "filter", TensorInfo>;
  const attributes = attrs as unknown as DepthwiseConv2dNativeAttrs;
  const layer = depthwiseLayer(x.shape, filter.shape, {
    ...attributes,
    dilations: attributes.dilations ?? 1,
  });
  if (layer === undefined) return stockKernel!.kernelFunc(args);
  const { info, vec, lanes } = layer;
  const shape = [info.batchSize, info.outHeight, info.outWidth, info.outChannels];
  const pixels = info.batchSize * info.outHeight * info.outWidth;
  const [y] = runRawProgram(
    backend,
    forwardProgram(vec, shape),
    [x, filter],
    layer.uniforms,
    lanes * Math.ceil(pixels / ROWS),
  );
  return y;
};

/** Our DepthwiseConv2dNative on `webgpu`, in place of tfjs-backend-webgpu's. */
export const depthwiseConv2dConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNative,
  backendName: "webgpu",
  kernelFunc: depthwiseConv2d,
};
