/**
 * Our WebGPU kernels for training, registered over tfjs-backend-webgpu 4.22's own (which were
 * written for inference), as the wasm backend's are in wasm.ts:
 * - the convolution forward (bias and ReLU/ReLU6 fused), its input gradient and its filter
 *   gradient as implicit GEMMs tiled in registers, with no workgroup memory (split-K for the
 *   filter gradient, one dispatch summing the splits);
 * - the depthwise filter gradient, a vec4 of channels a thread over splits of the output rows,
 *   and the depthwise forward and input gradient, 4 pixels × a vec4 of channels a thread;
 * - batch norm's training pass and gradient, two dispatches each with their statistics as
 *   outputs, and the moving averages' update in one;
 * - Adam's update in one dispatch a variable (used by lib/train/_adam.ts).
 *
 * Layers these do not take (channel counts not multiples of 4, dilated or multiplier-2
 * depthwise layers, other activations) keep the stock programs. {@linkcode setWebGpuKernels}
 * switches between ours and the stock kernels, for tests and benchmarks.
 *
 * @module
 */
import "@tensorflow/tfjs-backend-webgpu";
import {
  getKernel,
  type KernelConfig,
  registerKernel,
  unregisterKernel,
} from "@tensorflow/tfjs-core";
import { type KernelSet, kernelSet, recordKernelSet } from "./_kernel_choice.ts";
import { conv2dConfig, fusedConv2dConfig } from "./_webgpu_kernels/conv2d.ts";
import { conv2dBackpropFilterConfig } from "./_webgpu_kernels/conv2d_backprop_filter.ts";
import { conv2dBackpropInputConfig } from "./_webgpu_kernels/conv2d_backprop_input.ts";
import { depthwiseConv2dConfig } from "./_webgpu_kernels/depthwise_conv2d.ts";
import { depthwiseBackpropInputConfig } from "./_webgpu_kernels/depthwise_backprop_input.ts";
import { depthwiseBackpropFilterConfig } from "./_webgpu_kernels/depthwise_backprop_filter.ts";
import { batchNormTrainConfigs } from "./_webgpu_kernels/batch_norm_train.ts";

/** Our kernels, each in place of tfjs-backend-webgpu's kernel of the same name. */
const OURS: readonly KernelConfig[] = [
  conv2dConfig,
  fusedConv2dConfig,
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  depthwiseConv2dConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
  ...batchNormTrainConfigs,
];

/** tfjs-backend-webgpu's kernels that ours replaced, by name. */
const stock = new Map<string, KernelConfig>();

/**
 * Names of the webgpu kernels this toolkit replaces.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WEBGPU_OWN_KERNELS } from "./webgpu_kernels.ts";
 * assert.ok(WEBGPU_OWN_KERNELS.includes("Conv2DBackpropFilter"));
 * ```
 */
export const WEBGPU_OWN_KERNELS: readonly string[] = OURS.map((k) => k.kernelName);

/**
 * Puts our kernels in place (when the choice is "ours", the default). Importing this module
 * already does it; calling again is harmless.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { getKernel } from "@tensorflow/tfjs-core";
 * import { registerWebGpuTrainingKernels } from "./webgpu_kernels.ts";
 * registerWebGpuTrainingKernels();
 * assert.ok(getKernel("Conv2DBackpropFilter", "webgpu") !== undefined);
 * ```
 */
export function registerWebGpuTrainingKernels(): void {
  if (kernelSet("webgpu") === "stock") return;
  for (const config of OURS) {
    const current = getKernel(config.kernelName, "webgpu");
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current !== undefined) {
      stock.set(config.kernelName, current);
      unregisterKernel(config.kernelName, "webgpu");
    }
    registerKernel(config);
  }
}

/**
 * Chooses the webgpu backend's kernels: `"ours"` (the default) or `"stock"`, tfjs-backend-webgpu
 * 4.22's own. Returns the previous choice.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { setWebGpuKernels } from "./webgpu_kernels.ts";
 * const previous = setWebGpuKernels("stock");
 * assert.equal(setWebGpuKernels(previous), "stock");
 * ```
 */
export function setWebGpuKernels(set: KernelSet): KernelSet {
  const previous = recordKernelSet("webgpu", set);
  if (set === "ours") {
    registerWebGpuTrainingKernels();
    return previous;
  }
  for (const config of OURS) {
    if (getKernel(config.kernelName, "webgpu")?.kernelFunc !== config.kernelFunc) continue;
    unregisterKernel(config.kernelName, "webgpu");
    const builtIn = stock.get(config.kernelName);
    if (builtIn !== undefined) registerKernel(builtIn); // ours with no stock twin just go
  }
  return previous;
}

registerWebGpuTrainingKernels();
