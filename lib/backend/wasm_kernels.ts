/**
 * Our kernels for tfjs-backend-wasm: the training kernels 4.22 lacks (the filter gradient of
 * convolutions, both depthwise gradients, batch norm's training passes, fused cross-entropy),
 * faster ones in place of some of its own, and fast paths in front of others. Importing this
 * module registers them. It needs no Deno API (a web page's wasm backend uses it too); wasm.ts
 * adds the threaded build in Deno.
 *
 * @module
 */
import {
  getKernel,
  type KernelConfig,
  registerKernel,
  unregisterKernel,
} from "@tensorflow/tfjs-core";
import { conv2dBackpropInputConfig } from "./_wasm_kernels/conv2d_backprop_input.ts";
import { conv2dBackpropFilterConfig } from "./_wasm_kernels/conv2d_backprop_filter.ts";
import { depthwiseBackpropFilterConfig } from "./_wasm_kernels/depthwise_backprop_filter.ts";
import { depthwiseBackpropInputConfig } from "./_wasm_kernels/depthwise_backprop_input.ts";
import { maxPoolGradConfig } from "./_wasm_kernels/max_pool_grad.ts";
import { identityConfig } from "./_wasm_kernels/identity.ts";
import { reverseConfig } from "./_wasm_kernels/reverse.ts";
import { batchNormTrainConfigs } from "./_wasm_kernels/batch_norm_train.ts";
import { batchNormPoolConfigs } from "./_wasm_kernels/batch_norm_pool.ts";
import { batchMatMulConfig, fusedMatMulConfig } from "./_wasm_kernels/batch_mat_mul.ts";
import { biasAddConfig } from "./_wasm_kernels/bias_add.ts";
import { castConfig } from "./_wasm_kernels/cast.ts";
import { batchNormInferConfig, fusedBatchNormConfig } from "./_wasm_kernels/batch_norm_infer.ts";
import { fusedConv2DConfig } from "./_wasm_kernels/fused_conv2d.ts";
import { depthwiseConv2dConfig } from "./_wasm_kernels/depthwise_conv2d.ts";
import { convReluPoolConfigs } from "./_wasm_kernels/conv_relu_pool.ts";
import { poolRoutedGradConfigs } from "./_wasm_kernels/pool_routed_grad.ts";
import { maxPoolConfig } from "./_wasm_kernels/max_pool.ts";
import { meanConfig, meanGradConfig } from "./_wasm_kernels/mean.ts";
import { reluBiasGradConfig } from "./_wasm_kernels/relu_bias_grad.ts";
import { softmaxCrossEntropyConfig } from "./_wasm_kernels/softmax_cross_entropy.ts";
import { transposeConfig } from "./_wasm_kernels/transpose.ts";
import { type KernelSet, kernelSet, recordKernelSet } from "./_kernel_choice.ts";

export type { KernelSet } from "./_kernel_choice.ts";

const TRAINING_KERNELS: readonly KernelConfig[] = [
  conv2dBackpropFilterConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  ...batchNormTrainConfigs,
  batchNormInferConfig,
  ...batchNormPoolConfigs,
  reluBiasGradConfig,
  ...convReluPoolConfigs,
  ...poolRoutedGradConfigs,
  meanGradConfig,
  softmaxCrossEntropyConfig,
];

/** Kernels tfjs-backend-wasm has, replaced by faster ones of ours. */
const REPLACED_KERNELS: readonly KernelConfig[] = [
  conv2dBackpropInputConfig,
  maxPoolGradConfig,
  identityConfig,
  reverseConfig,
];

/**
 * Names of the kernels this toolkit adds to the wasm backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WASM_TRAINING_KERNELS } from "./wasm_kernels.ts";
 * assert.ok(WASM_TRAINING_KERNELS.includes("Conv2DBackpropFilter"));
 * ```
 */
export const WASM_TRAINING_KERNELS: readonly string[] = [...TRAINING_KERNELS, ...REPLACED_KERNELS]
  .map((k) => k.kernelName);

/**
 * Registers the wasm training kernels. Importing this module already does it; calling again is
 * harmless. Missing kernels that a future tfjs-backend-wasm ships itself are left alone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getKernel } from "@tensorflow/tfjs-core";
 * import { registerWasmTrainingKernels } from "./wasm_kernels.ts";
 * registerWasmTrainingKernels();
 * assert.ok(getKernel("Conv2DBackpropFilter", "wasm") !== undefined);
 * ```
 */
export function registerWasmTrainingKernels(): void {
  if (kernelSet("wasm") === "stock") return; // setWasmKernels("ours") registers them again
  for (const config of TRAINING_KERNELS) {
    if (getKernel(config.kernelName, "wasm") === undefined) registerKernel(config);
  }
  for (const config of REPLACED_KERNELS) {
    const current = getKernel(config.kernelName, "wasm");
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current !== undefined) {
      builtIns.set(config.kernelName, current);
      unregisterKernel(config.kernelName, "wasm");
    }
    registerKernel(config);
  }
  // Fast paths in front of built-in kernels, which keep every other case.
  for (const [name, wrap] of WRAPPED_KERNELS) {
    const builtIn = getKernel(name, "wasm");
    if (builtIn === undefined || wrappers.has(builtIn.kernelFunc)) continue;
    builtIns.set(name, builtIn);
    const wrapped = wrap(builtIn);
    wrappers.add(wrapped.kernelFunc);
    unregisterKernel(name, "wasm");
    registerKernel(wrapped);
  }
}

/** tfjs-backend-wasm's own kernels that ours replaced or wrapped, by name. */
const builtIns = new Map<string, KernelConfig>();

/**
 * Kernels of ours that "stock" keeps: the convolution gradients tfjs-backend-wasm 4.22 lacks, on
 * their paths composed from its own kernels (the SIMD modules are off in "stock").
 */
const MISSING_IN_STOCK = new Set(
  [conv2dBackpropFilterConfig, depthwiseBackpropFilterConfig, depthwiseBackpropInputConfig]
    .map((config) => config.kernelName),
);

/**
 * Chooses the wasm backend's kernels: `"ours"` (the default: our SIMD kernels, fused training
 * ops and fast paths) or `"stock"`, tfjs-backend-wasm 4.22's own kernels. As it lacks the filter
 * gradient of convolutions and both depthwise gradients, "stock" keeps ours for those three, on
 * their paths built from its own kernels (XNNPACK's convolution and transposes). "stock" is the
 * reference the zoo's training tests hold ours to, and a baseline for benchmarks; training code
 * that fuses ops (batch norm, cross-entropy, Adam) composes them from tfjs ops when our kernels
 * are absent. Returns the previous choice.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getKernel } from "@tensorflow/tfjs-core";
 * import { setWasmKernels } from "./wasm_kernels.ts";
 * const previous = setWasmKernels("stock");
 * assert.equal(getKernel("DenovisionBatchNormTrain", "wasm"), undefined);
 * assert.ok(getKernel("Conv2DBackpropFilter", "wasm") !== undefined); // tfjs lacks it
 * setWasmKernels(previous);
 * assert.ok(getKernel("DenovisionBatchNormTrain", "wasm") !== undefined);
 * ```
 */
export function setWasmKernels(set: KernelSet): KernelSet {
  const previous = recordKernelSet("wasm", set);
  if (set === "ours") {
    registerWasmTrainingKernels();
    return previous;
  }
  for (const config of TRAINING_KERNELS) {
    if (MISSING_IN_STOCK.has(config.kernelName)) continue;
    if (getKernel(config.kernelName, "wasm")?.kernelFunc === config.kernelFunc) {
      unregisterKernel(config.kernelName, "wasm");
    }
  }
  for (const [name, builtIn] of builtIns) {
    if (getKernel(name, "wasm")?.kernelFunc === builtIn.kernelFunc) continue;
    unregisterKernel(name, "wasm");
    registerKernel(builtIn);
  }
  return previous;
}

/**
 * Built-in kernels given a fast path of ours: Add (a bias), Transpose (training's moves),
 * BatchMatMul and _FusedMatMul (small products and transposed operands, on our SIMD kernel), Cast
 * (to the same dtype: no copy), DepthwiseConv2dNative, FusedBatchNorm (inference) and FusedConv2D
 * (every supported case, on our SIMD kernels), MaxPool (2×2, stride 2, on our SIMD kernel), Mean
 * (over middle axes, global average pooling: no transpose).
 */
const WRAPPED_KERNELS: readonly [string, (builtIn: KernelConfig) => KernelConfig][] = [
  ["Add", biasAddConfig],
  ["BatchMatMul", batchMatMulConfig],
  ["_FusedMatMul", fusedMatMulConfig],
  ["Cast", castConfig],
  ["DepthwiseConv2dNative", depthwiseConv2dConfig],
  ["FusedBatchNorm", fusedBatchNormConfig],
  ["FusedConv2D", fusedConv2DConfig],
  ["MaxPool", maxPoolConfig],
  ["Mean", meanConfig],
  ["Transpose", transposeConfig],
];
const wrappers = new WeakSet<object>();

registerWasmTrainingKernels();
