// Internal: FusedConv2D on the wasm backend with our WebAssembly SIMD kernel
// (../_wasm_simd/conv2d_forward.ts) for float32 NHWC convolutions with strides 1 or 2, no
// dilation, a linear or ReLU activation and at most a rank-1 bias: every convolution of the zoo
// but depthwise ones. Every other case goes to the built-in kernel (XNNPACK), which this one wraps.
//
// Why ours everywhere: the threaded build keeps XNNPACK's pool at one thread (wasm.ts), so
// XNNPACK's convolution would run on one core where ours splits its rows over every thread. It was
// also faster alone (2 threads, a batch of 64, ms a call, XNNPACK with a new filter tensor each
// call as in training / ours): LeNet's x[64,28,28,1]·W[5,5,1,10] 0.84 / 0.27, its second layer
// x[64,12,12,10]·W[5,5,10,20] 0.55 / 0.42, `compact-cnn`'s 16- and 32-channel layers 1.7 / 1.5;
// XNNPACK caches its packed operator by the filter tensor's id, so while training (a new weight
// tensor every step) it repacks on every call, and its per-filter caches raised ResNet-18's peak
// RSS at 224 px, batch 8, by ~110 MB. Before the single pool, wider layers stayed on XNNPACK:
// with both pools on 2 cores, taking them made whole steps slower.
import { backend_util } from "@tensorflow/tfjs-core";
import type { FusedConv2DAttrs, KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { simdConvForward, simdForwardSupports } from "../_wasm_simd/conv2d_forward.ts";

/** Where the SIMD kernel replaces XNNPACK: every convolution it supports. */
export function simdForwardWanted(info: backend_util.Conv2DInfo): boolean {
  return simdForwardSupports(info);
}

/** The FusedConv2D kernel with our SIMD fast path in front of `builtIn`. */
export function fusedConv2DConfig(builtIn: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<
      string,
      TensorInfo | undefined
    >;
    const attrs = args.attrs as unknown as FusedConv2DAttrs;
    const { strides, pad, dilations, dataFormat, dimRoundingMode, activation } = attrs;
    const plain = activation === "linear" || activation === "relu";
    if (
      x === undefined || filter === undefined || !plain || preluActivationWeights != null ||
      dataFormat !== "NHWC" || x.shape.length !== 4 || filter.shape.length !== 4
    ) {
      return builtIn.kernelFunc(args);
    }
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filter.shape as [number, number, number, number],
      strides,
      dilations,
      pad,
      dimRoundingMode,
    );
    const biasFits = bias == null ||
      (bias.shape.length === 1 && bias.shape[0] === info.outChannels);
    if (!biasFits || !simdForwardWanted(info)) return builtIn.kernelFunc(args);
    const out = simdConvForward(args.backend, x, filter, bias ?? undefined, info, activation);
    return out ?? builtIn.kernelFunc(args);
  };
  return { ...builtIn, kernelFunc };
}
