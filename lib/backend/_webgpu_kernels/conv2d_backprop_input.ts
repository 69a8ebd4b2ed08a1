// Internal: Conv2DBackpropInput on WebGPU, choosing per layer between tfjs-backend-webgpu 4.22's
// two programs. By default (its flag WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE) it always takes the
// direct one, a thread per dx element looping over the filter taps and dy's channels with no
// reuse between threads; its tiled matrix-multiply program (an implicit GEMM: [H·W, Cin] =
// [H·W, kh·kw·Cout] · [kh·kw·Cout, Cin], dy and the filter staged in workgroup memory) is what
// a layer with many input channels wants. Below MM_MIN_CHANNELS input channels the GEMM's tiles
// would be mostly empty columns, and the direct program stays.
//
// Layers whose channel counts are multiples of 4 (all of the zoo's but a few) take neither: they
// run our register-tiled implicit GEMM (_conv_gemm.ts).
import { backend_util, Conv2DBackpropInput, env, getKernel } from "@tensorflow/tfjs-core";
import type {
  Conv2DBackpropInputAttrs,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { convInputGradient, inputGradientFits } from "./_conv_gemm.ts";

/** The stock kernel, which runs both programs (read before ours is registered). */
const stockKernel = getKernel(Conv2DBackpropInput, "webgpu");

/** Input channels from which the tiled GEMM program takes over from the direct one. */
export const MM_MIN_CHANNELS = 32;

const FLAG = "WEBGPU_USE_NAIVE_CONV2D_TRANSPOSE";

const conv2dBackpropInput: KernelFunc = (args) => {
  const { inputShape, dataFormat, strides, pad, dimRoundingMode } = args
    .attrs as unknown as Conv2DBackpropInputAttrs;
  const { dy, filter } = args.inputs as Record<"dy" | "filter", TensorInfo>;
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(dataFormat),
  );
  if (inputGradientFits(info)) return convInputGradient(args.backend, dy, filter, info);
  const channels = backend_util.convertConv2DDataFormat(dataFormat) === "channelsLast"
    ? inputShape[3]
    : inputShape[1];
  const direct = channels < MM_MIN_CHANNELS;
  const previous = env().getBool(FLAG);
  env().set(FLAG, direct);
  try {
    return stockKernel!.kernelFunc(args);
  } finally {
    env().set(FLAG, previous);
  }
};

/** Our Conv2DBackpropInput on `webgpu`: tfjs-backend-webgpu's programs, chosen per layer. */
export const conv2dBackpropInputConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: "webgpu",
  kernelFunc: conv2dBackpropInput,
};
