// Internal: FusedConv2D on the wasm backend with a fast path for small layers: our WebAssembly
// SIMD kernel (../_wasm_simd/conv2d_forward.ts) for float32 NHWC convolutions with strides 1 or
// 2, no dilation, a linear or ReLU activation and at most a rank-1 bias, where it was measured
// faster than XNNPACK (simdForwardWanted: few input channels). XNNPACK caches its packed operator by the filter
// tensor's id, so while training (a new weight tensor every step) it repacks on every call. Every
// other case goes to the built-in kernel, which this one wraps.
import { backend_util } from "@tensorflow/tfjs-core";
import type { FusedConv2DAttrs, KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";
import { simdConvForward, simdForwardSupports } from "../_wasm_simd/conv2d_forward.ts";

/**
 * Input channels up to which the SIMD kernel runs. Measured against XNNPACK (2 threads, 2 cores,
 * Deno 2.9, a batch of 64 unless said; ms a call: XNNPACK with a new filter tensor each call as
 * in training / XNNPACK with the same one as in inference / ours): LeNet's x[64,28,28,1]·
 * W[5,5,1,10] 0.84 / 0.75 / 0.27, `compact-cnn`'s x[64,32,32,3]·W[3,3,3,16] 1.14 / 0.99 / 0.66,
 * x[64,28,28,1]·W[3,3,1,32] 0.79 / 0.77 / 0.40, x[64,32,32,4]·W[3,3,4,64] 4.5 / 4.2 / 3.3,
 * x[64,32,32,3]·W[5,5,3,64] 10.2 / 9.9 / 6.8, ResNet's stem x[4,224,224,3]·W[7,7,3,64] stride 2
 * 15.5 / 14.7 / 9.3. Alone, ours was also faster on wider layers (LeNet's x[64,12,12,10]·
 * W[5,5,10,20] 0.42 vs 0.55, `compact-cnn`'s 16- and 32-channel layers 1.5 vs 1.7), but taking
 * them made whole training steps slower (median of 5 × 150 steps: LeNet 5.5 vs 5.2 ms,
 * `compact-cnn` 20.5 vs 19.3 ms with this rule), so those stay on XNNPACK.
 */
export const SIMD_FORWARD_MAX_IN_CHANNELS = 4;

/**
 * Multiply-adds per output pixel (Cin·kh·kw·Cout) up to which the SIMD kernel runs: the largest
 * layer measured (ResNet's stem, 7·7·3·64); larger ones are untested and stay on XNNPACK.
 */
export const SIMD_FORWARD_MAX_MACS = 7 * 7 * 3 * 64;

/**
 * Where the SIMD kernel replaces XNNPACK: convolutions it supports with at most
 * SIMD_FORWARD_MAX_IN_CHANNELS input channels and SIMD_FORWARD_MAX_MACS multiply-adds per output
 * pixel.
 */
export function simdForwardWanted(info: backend_util.Conv2DInfo): boolean {
  const { inChannels, filterHeight, filterWidth, outChannels } = info;
  return simdForwardSupports(info) && inChannels <= SIMD_FORWARD_MAX_IN_CHANNELS &&
    inChannels * filterHeight * filterWidth * outChannels <= SIMD_FORWARD_MAX_MACS;
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
