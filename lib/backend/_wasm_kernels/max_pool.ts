// Internal: MaxPool on the wasm backend with our SIMD kernel for the common CNN pool (2×2,
// stride 2, no padding, even height and width, float32 NHWC): window rows on every thread
// (conv2d_forward.c's max_pool_2x2, the pool the fused convolution + pool op runs). tfjs-backend-
// wasm's MaxPool is XNNPACK's, on its one-thread pool here (wasm.ts): `compact-cnn`'s three pools
// took 1.5 ms of a 32 ms step. Every other case goes to the built-in kernel, which this wraps.
import { backend_util } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, MaxPoolAttrs, TensorInfo } from "@tensorflow/tfjs-core";
import { maxPool2x2, SOURCE } from "../_wasm_simd/conv2d_forward.ts";
import { simdModule } from "../_wasm_simd/_module.ts";

/** The MaxPool kernel with our 2×2 path in front of `builtIn`. */
export function maxPoolConfig(builtIn: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs as unknown as MaxPoolAttrs;
    if (x.dtype !== "float32" || x.shape.length !== 4) return builtIn.kernelFunc(args);
    const info = backend_util.computePool2DInfo(
      x.shape as [number, number, number, number],
      filterSize,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const { inHeight, inWidth, outHeight, outWidth } = info;
    const common = info.filterHeight === 2 && info.filterWidth === 2 &&
      info.strideHeight === 2 && info.strideWidth === 2 && info.padInfo.top === 0 &&
      info.padInfo.left === 0 && inHeight === 2 * outHeight && inWidth === 2 * outWidth &&
      info.dataFormat === "channelsLast";
    const kernel = common ? simdModule(args.backend, SOURCE) : null;
    if (kernel === null || outHeight === 0 || outWidth === 0) return builtIn.kernelFunc(args);
    return maxPool2x2(args.backend, x);
  };
  return { ...builtIn, kernelFunc };
}
