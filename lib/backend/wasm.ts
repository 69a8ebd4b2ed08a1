/**
 * The wasm backend, completed for training: tfjs-backend-wasm 4.22 has no filter gradient for
 * convolutions nor either depthwise gradient, so we register those three, composed from the
 * wasm backend's own XNNPACK-backed kernels; and we replace its convolution input gradient,
 * which was the slowest kernel of a training step, with one built the same way.
 *
 * @module
 */
import "@tensorflow/tfjs-backend-wasm";
import {
  env,
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

const TRAINING_KERNELS: readonly KernelConfig[] = [
  conv2dBackpropFilterConfig,
  depthwiseBackpropFilterConfig,
  depthwiseBackpropInputConfig,
];

/** Kernels tfjs-backend-wasm has, replaced by faster ones of ours. */
const REPLACED_KERNELS: readonly KernelConfig[] = [
  conv2dBackpropInputConfig,
  maxPoolGradConfig,
  identityConfig,
];

/**
 * Names of the kernels this toolkit adds to the wasm backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WASM_TRAINING_KERNELS } from "./wasm.ts";
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
 * import { registerWasmTrainingKernels } from "./wasm.ts";
 * registerWasmTrainingKernels();
 * assert.ok(getKernel("Conv2DBackpropFilter", "wasm") !== undefined);
 * ```
 */
export function registerWasmTrainingKernels(): void {
  for (const config of TRAINING_KERNELS) {
    if (getKernel(config.kernelName, "wasm") === undefined) registerKernel(config);
  }
  for (const config of REPLACED_KERNELS) {
    if (getKernel(config.kernelName, "wasm")?.kernelFunc === config.kernelFunc) continue;
    if (getKernel(config.kernelName, "wasm") !== undefined) {
      unregisterKernel(config.kernelName, "wasm");
    }
    registerKernel(config);
  }
}

registerWasmTrainingKernels();

/** What the JavaScript engine offers the wasm backend. */
export interface WasmFeatures {
  /** WebAssembly SIMD (128-bit), used by XNNPACK's fast paths. */
  simd: boolean;
  /** Shared-memory threads; Deno cannot start emscripten's classic pthread workers, so false. */
  threads: boolean;
}

/**
 * Detects WebAssembly SIMD and thread support the way tfjs-backend-wasm does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wasmFeatures } from "./wasm.ts";
 * const { simd } = await wasmFeatures();
 * assert.ok(typeof simd === "boolean");
 * ```
 */
export async function wasmFeatures(): Promise<WasmFeatures> {
  const [simd, threads] = await Promise.all([
    env().getAsync("WASM_HAS_SIMD_SUPPORT"),
    env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT"),
  ]);
  return { simd: Boolean(simd), threads: Boolean(threads) };
}
