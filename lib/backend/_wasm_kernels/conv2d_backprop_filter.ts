// Internal: Conv2DBackpropFilter for the wasm backend, which tfjs-backend-wasm 4.22 lacks.
import { backend_util, Conv2DBackpropFilter } from "@tensorflow/tfjs-core";
import type {
  Conv2DBackpropFilterAttrs,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { simdFilterGradient } from "../_wasm_simd/conv2d_filter_grad.ts";
import { winogradFilterGradient } from "../_wasm_simd/winograd.ts";
import { withScratch } from "./_scratch.ts";

/**
 * dW[a, b, ci, co] = Σ_{n,i,j} x[n, i·s + a − padTop, j·s + b − padLeft, ci] · dy[n, i, j, co].
 *
 * That is a convolution whose batch is the input channels and whose channels are the batch:
 * input xᵀ = [Cin, H, W, N], filter dyᵀ = [Ho, Wo, N, Cout], dilation = the forward stride,
 * stride 1, so XNNPACK's convolution does the heavy lifting. Its padding is explicit (rows the
 * forward pass never read are cropped) so that it yields exactly kh × kw outputs.
 */
const conv2dBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as Record<"x" | "dy", TensorInfo>;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
    attrs as unknown as Conv2DBackpropFilterAttrs;
  if (dataFormat !== "NHWC") {
    throw new Error(
      `wasm Conv2DBackpropFilter supports dataFormat 'NHWC' only, got '${dataFormat}'`,
    );
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
  // 3×3, stride-1 layers: Winograd's F(2×2, 3×3); other small layers: our SIMD kernel, which
  // reads x and dy in place (see their modules).
  const fast = winogradFilterGradient(backend, x, dy, info) ??
    simdFilterGradient(backend, x, dy, info);
  if (fast !== undefined) return fast;
  const [, inHeight, inWidth] = x.shape;
  const neededHeight = (info.outHeight - 1) * info.strideHeight + info.filterHeight;
  const neededWidth = (info.outWidth - 1) * info.strideWidth + info.filterWidth;
  const top = info.padInfo.top;
  const left = info.padInfo.left;

  return withScratch(backend as KernelBackend, (scratch) => {
    // The transposed input keeps height and width as its spatial axes, so the padding (or crop)
    // applies to it as to x.
    const input = scratch.run("Transpose", { x }, { perm: [3, 1, 2, 0] });
    const filter = scratch.run("Transpose", { x: dy }, { perm: [1, 2, 0, 3] });
    const grad = scratch.convolvePadded(input, filter, [
      top,
      neededHeight - top - inHeight,
      left,
      neededWidth - left - inWidth,
    ], [info.strideHeight, info.strideWidth]);
    return scratch.run("Transpose", { x: grad }, { perm: [1, 2, 0, 3] });
  });
};

/** Kernel registration for `Conv2DBackpropFilter` on `wasm`. */
export const conv2dBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: "wasm",
  kernelFunc: conv2dBackpropFilter,
};
