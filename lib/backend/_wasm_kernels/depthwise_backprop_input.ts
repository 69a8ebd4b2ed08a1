// Internal: DepthwiseConv2dNativeBackpropInput for the wasm backend (missing in 4.22).
import { backend_util, DepthwiseConv2dNativeBackpropInput } from "@tensorflow/tfjs-core";
import type {
  DepthwiseConv2dNativeBackpropInputAttrs,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { withScratch } from "./_scratch.ts";

/**
 * dx = depthwise correlation of the stride-spread dy with the spatially reversed filter,
 * dilation kept, padding (kh − 1)·d − padTop on top. Each of the C·M output channels of the
 * forward pass is its own depthwise channel here; the M multipliers are summed at the end.
 */
const depthwiseBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
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
  const [batch, inHeight, inWidth, channels] = inputShape;
  const multiplier = filter.shape[3];
  const { filterHeight, filterWidth, dilationHeight, dilationWidth } = info;

  return withScratch(backend as KernelBackend, (scratch) => {
    const { spread, padding } = scratch.spreadForInputGradient(dy, info);
    const reversed = scratch.run("Reverse", { x: filter }, { dims: [0, 1] });
    const perOutput = scratch.run("Reshape", { x: reversed }, {
      shape: [filterHeight, filterWidth, channels * multiplier, 1],
    });
    const grad = scratch.convolvePadded(
      spread,
      perOutput,
      padding,
      [dilationHeight, dilationWidth],
      "DepthwiseConv2dNative",
    );
    if (multiplier === 1) return grad;
    const split = scratch.run("Reshape", { x: grad }, {
      shape: [batch, inHeight, inWidth, channels, multiplier],
    });
    return scratch.run("Sum", { x: split }, { axis: [4], keepDims: false });
  });
};

/** Kernel registration for `DepthwiseConv2dNativeBackpropInput` on `wasm`. */
export const depthwiseBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: "wasm",
  kernelFunc: depthwiseBackpropInput,
};
