// Internal: Conv2D and FusedConv2D on WebGPU with our register-tiled implicit GEMM
// (_conv_gemm.ts), bias and ReLU/ReLU6 applied in the same dispatch. tfjs-backend-webgpu 4.22
// runs these as a GEMM tiled in workgroup memory (or a batched matrix product for 1×1 layers);
// layers ours does not take (channels-first, output channels not a multiple of 4, PReLU, leaky
// ReLU, sigmoid, ELU) keep its programs.
import { backend_util, Conv2D, FusedConv2D, getKernel } from "@tensorflow/tfjs-core";
import type {
  Conv2DAttrs,
  FusedConv2DAttrs,
  KernelConfig,
  KernelFunc,
  TensorInfo,
} from "@tensorflow/tfjs-core";
import { type ConvActivation, convForward, forwardFits } from "./_conv_gemm.ts";

/** The stock kernels, for the layers ours leaves to them (read before ours is registered). */
const stockConv2D = getKernel(Conv2D, "webgpu");
const stockFused = getKernel(FusedConv2D, "webgpu");

const ACTIVATIONS: readonly string[] = ["linear", "relu", "relu6"];

/** The layer's geometry, as tfjs computes it for both kernels. */
function convInfo(x: TensorInfo, filter: TensorInfo, attrs: Conv2DAttrs): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filter.shape as [number, number, number, number],
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    backend_util.convertConv2DDataFormat(attrs.dataFormat),
  );
}

const conv2d: KernelFunc = (args) => {
  const { x, filter } = args.inputs as Record<"x" | "filter", TensorInfo>;
  const info = convInfo(x, filter, args.attrs as unknown as Conv2DAttrs);
  if (!forwardFits(info)) return stockConv2D!.kernelFunc(args);
  return convForward(args.backend, x, filter, undefined, "linear", info);
};

const fusedConv2d: KernelFunc = (args) => {
  const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, TensorInfo>;
  const attrs = args.attrs as unknown as FusedConv2DAttrs;
  const info = convInfo(x, filter, attrs);
  const fits = forwardFits(info) && ACTIVATIONS.includes(attrs.activation) &&
    preluActivationWeights === undefined && (bias === undefined || bias.shape.length === 1);
  if (!fits) return stockFused!.kernelFunc(args);
  return convForward(
    args.backend,
    x,
    filter,
    bias,
    attrs.activation as ConvActivation,
    info,
  );
};

/** Our Conv2D on `webgpu`, in place of tfjs-backend-webgpu's. */
export const conv2dConfig: KernelConfig = {
  kernelName: Conv2D,
  backendName: "webgpu",
  kernelFunc: conv2d,
};

/** Our FusedConv2D on `webgpu`, in place of tfjs-backend-webgpu's. */
export const fusedConv2dConfig: KernelConfig = {
  kernelName: FusedConv2D,
  backendName: "webgpu",
  kernelFunc: fusedConv2d,
};
