// Internal: DepthwiseConv2dNativeBackpropFilter for the wasm backend (missing in 4.22).
import { backend_util, DepthwiseConv2dNativeBackpropFilter } from "@tensorflow/tfjs-core";
import type {
  DepthwiseConv2dNativeBackpropFilterAttrs,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { withScratch } from "./_scratch.ts";

/**
 * dW[a, b, c, q] = Σ_{n,i,j} x[n, i·s + a·d − padTop, …, c] · dy[n, i, j, c·M + q].
 *
 * Every (sample, channel) pair becomes one depthwise channel: input [1, H, W, N·C], filter
 * dy as [Ho, Wo, N·C, M] with dilation = forward stride and stride = forward dilation; the
 * depthwise output [1, kh, kw, N·C·M] is then summed over the batch.
 */
const depthwiseBackpropFilter: KernelFunc = ({ inputs, backend, attrs }) => {
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
  const [batch, inHeight, inWidth, channels] = x.shape;
  const multiplier = filterShape[3];
  const { filterHeight, filterWidth, dilationHeight, dilationWidth } = info;
  const neededHeight = (filterHeight - 1) * dilationHeight +
    (info.outHeight - 1) * info.strideHeight + 1;
  const neededWidth = (filterWidth - 1) * dilationWidth + (info.outWidth - 1) * info.strideWidth +
    1;
  const top = info.padInfo.top;
  const left = info.padInfo.left;

  return withScratch(backend as KernelBackend, (scratch) => {
    const padded = scratch.padOrCrop(
      x,
      top,
      neededHeight - top - inHeight,
      left,
      neededWidth - left - inWidth,
    );
    const hwnc = scratch.run("Transpose", { x: padded }, { perm: [1, 2, 0, 3] });
    const input = scratch.run("Reshape", { x: hwnc }, {
      shape: [1, neededHeight, neededWidth, batch * channels],
    });
    const dyHwn = scratch.run("Transpose", { x: dy }, { perm: [1, 2, 0, 3] });
    const filter = scratch.run("Reshape", { x: dyHwn }, {
      shape: [info.outHeight, info.outWidth, batch * channels, multiplier],
    });
    const perSample = scratch.run("DepthwiseConv2dNative", { x: input, filter }, {
      strides: [dilationHeight, dilationWidth],
      dilations: [info.strideHeight, info.strideWidth],
      pad: "valid",
    });
    const split = scratch.run("Reshape", { x: perSample }, {
      shape: [filterHeight, filterWidth, batch, channels * multiplier],
    });
    const summed = scratch.run("Sum", { x: split }, { axis: [2], keepDims: false });
    return scratch.run("Reshape", { x: summed }, { shape: filterShape });
  });
};

/** Kernel registration for `DepthwiseConv2dNativeBackpropFilter` on `wasm`. */
export const depthwiseBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: "wasm",
  kernelFunc: depthwiseBackpropFilter,
};
