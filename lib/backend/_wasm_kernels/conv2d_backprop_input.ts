// Internal: Conv2DBackpropInput for the wasm backend. tfjs-backend-wasm 4.22 has one, but it
// was the slowest kernel of a LeNet training step (18.7 ms of 44 on our 2-core machine); this
// one runs the gradient as a forward XNNPACK convolution, like the other kernels here.
import { backend_util, Conv2DBackpropInput } from "@tensorflow/tfjs-core";
import type {
  Conv2DBackpropInputAttrs,
  KernelBackend,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { withScratch } from "./_scratch.ts";

/**
 * dx = correlation of the stride-spread dy with the spatially reversed filter, its in/out
 * channels swapped ([kh, kw, Cout, Cin]), padded (kh − 1) − padTop on top, stride 1.
 */
const conv2dBackpropInput: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, filter } = inputs as Record<"dy" | "filter", TensorInfo>;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
    attrs as unknown as Conv2DBackpropInputAttrs;
  if (dataFormat !== "NHWC") {
    throw new Error(
      `wasm Conv2DBackpropInput supports dataFormat 'NHWC' only, got '${dataFormat}'`,
    );
  }
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    "channelsLast",
  );
  return withScratch(backend as KernelBackend, (scratch) => {
    const { spread, padding } = scratch.spreadForInputGradient(dy, info);
    const reversed = scratch.run("Reverse", { x: filter }, { dims: [0, 1] });
    const swapped = scratch.run("Transpose", { x: reversed }, { perm: [0, 1, 3, 2] });
    return scratch.convolvePadded(spread, swapped, padding, [1, 1]);
  });
};

/** Kernel registration for `Conv2DBackpropInput` on `wasm`, replacing the built-in one. */
export const conv2dBackpropInputConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: "wasm",
  kernelFunc: conv2dBackpropInput,
};
