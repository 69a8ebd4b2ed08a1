// Internal: DepthwiseConv2dNative on the wasm backend on our SIMD kernel (depthwise_filter_grad.c's
// `dw_forward`) by ranges of output rows on every thread, for float32 NHWC tensors with a channel
// multiplier of 1 and no dilation (every depthwise layer of the zoo); every other case goes to the
// built-in kernel, which this one wraps. tfjs-backend-wasm 4.22 runs XNNPACK's depthwise
// convolution, whose pool the threaded build keeps at one thread (wasm.ts): MobileNetV2's 17 took
// 160–255 ms of batched inference (32 images at 224 px), in training their forward pass too.
import { backend_util } from "@tensorflow/tfjs-core";
import type {
  DepthwiseConv2dNativeAttrs,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { runRanges } from "../_wasm_simd/_helper_thread.ts";
import { heapOffset, simdModule } from "../_wasm_simd/_module.ts";
import {
  simdDepthwiseFilterGradientSupports,
  SOURCE,
} from "../_wasm_simd/depthwise_filter_grad.ts";

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
}

/** The DepthwiseConv2dNative kernel with our SIMD fast path in front of `builtIn`. */
export function depthwiseConv2dConfig(builtIn: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x, filter } = args.inputs as Record<"x" | "filter", TensorInfo | undefined>;
    const attrs = args.attrs as unknown as DepthwiseConv2dNativeAttrs;
    if (
      x?.dtype !== "float32" || filter?.dtype !== "float32" || x.shape.length !== 4 ||
      filter.shape.length !== 4 || attrs.dataFormat !== "NHWC" ||
      simdModule(args.backend, SOURCE) === null
    ) {
      return builtIn.kernelFunc(args);
    }
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      true,
    );
    if (!simdDepthwiseFilterGradientSupports(info)) return builtIn.kernelFunc(args);
    const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
    const { filterHeight, filterWidth, strideHeight, strideWidth, padInfo } = info;
    const heap = args.backend as unknown as WasmHeapBackend;
    const y = heap.makeOutput([batchSize, outHeight, outWidth, inChannels], "float32");
    const at = (t: TensorInfo) => heapOffset(args.backend, t);
    const forwardArgs = [
      at(x),
      at(filter),
      at(y),
      inHeight,
      inWidth,
      inChannels,
      filterHeight,
      filterWidth,
      strideHeight,
      strideWidth,
      padInfo.top,
      padInfo.left,
      outHeight,
      outWidth,
    ];
    const rows = batchSize * outHeight;
    const work = rows * outWidth * inChannels * filterHeight * filterWidth;
    runRanges(args.backend, SOURCE, "dw_forward", forwardArgs, rows, { work });
    return y;
  };
  return { ...builtIn, kernelFunc };
}
