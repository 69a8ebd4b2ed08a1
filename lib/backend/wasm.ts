/**
 * The wasm backend, completed for training: tfjs-backend-wasm 4.22 has no filter gradient for
 * convolutions nor either depthwise gradient, so we register those three, composed from the
 * wasm backend's own XNNPACK-backed kernels; and we replace its convolution input gradient,
 * which was the slowest kernel of a training step, with one built the same way.
 *
 * It also runs on every core: tfjs-backend-wasm's threaded build (XNNPACK on a pthread pool)
 * starts in Deno through our pthread workers, with {@linkcode setWasmThreads} choosing the pool.
 *
 * @module
 */
import { getThreadsCount, setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import {
  engine,
  env,
  getBackend,
  getKernel,
  type KernelBackend,
  type KernelConfig,
  registerBackend,
  registerKernel,
  removeBackend,
  setBackend,
  unregisterKernel,
} from "@tensorflow/tfjs-core";
import {
  installPthreadWorkers,
  pthreadsUnavailable,
  restoreGlobalWorker,
  terminatePthreadWorkers,
  withLogicalCores,
} from "./_pthreads.ts";
import { conv2dBackpropInputConfig } from "./_wasm_kernels/conv2d_backprop_input.ts";
import { conv2dBackpropFilterConfig } from "./_wasm_kernels/conv2d_backprop_filter.ts";
import { depthwiseBackpropFilterConfig } from "./_wasm_kernels/depthwise_backprop_filter.ts";
import { depthwiseBackpropInputConfig } from "./_wasm_kernels/depthwise_backprop_input.ts";
import { maxPoolGradConfig } from "./_wasm_kernels/max_pool_grad.ts";
import { identityConfig } from "./_wasm_kernels/identity.ts";
import { reverseConfig } from "./_wasm_kernels/reverse.ts";
import { batchNormTrainConfigs } from "./_wasm_kernels/batch_norm_train.ts";
import { batchMatMulConfig } from "./_wasm_kernels/batch_mat_mul.ts";
import { biasAddConfig } from "./_wasm_kernels/bias_add.ts";
import { castConfig } from "./_wasm_kernels/cast.ts";
import { fusedConv2DConfig } from "./_wasm_kernels/fused_conv2d.ts";
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
  reluBiasGradConfig,
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
 * import { setWasmKernels } from "./wasm.ts";
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
 * BatchMatMul (transposed operands), Cast (to the same dtype: no copy), FusedConv2D (layers with
 * few input channels, on our SIMD kernel).
 */
const WRAPPED_KERNELS: readonly [string, (builtIn: KernelConfig) => KernelConfig][] = [
  ["Add", biasAddConfig],
  ["BatchMatMul", batchMatMulConfig],
  ["Cast", castConfig],
  ["FusedConv2D", fusedConv2DConfig],
  ["Transpose", transposeConfig],
];
const wrappers = new WeakSet<object>();

registerWasmTrainingKernels();

/** What the JavaScript engine offers the wasm backend. */
export interface WasmFeatures {
  /** WebAssembly SIMD (128-bit), used by XNNPACK's fast paths. */
  simd: boolean;
  /** Shared-memory threads (the engine can run the threaded build). */
  threads: boolean;
  /** Threads the wasm backend computes with now (XNNPACK's pool, the calling thread included). */
  threadsInUse: number;
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
  const simd = await env().getAsync("WASM_HAS_SIMD_SUPPORT");
  return {
    simd: Boolean(simd),
    threads: typeof SharedArrayBuffer === "function" && sharedMemory(),
    threadsInUse: wasmThreads(),
  };
}

function sharedMemory(): boolean {
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof
      SharedArrayBuffer;
  } catch {
    return false;
  }
}

/** XNNPACK's pool holds at most eight threads (tfjs-backend-wasm's build caps it there). */
export const MAX_WASM_THREADS = 8;

/**
 * The thread count the wasm backend starts with: every core (`navigator.hardwareConcurrency`),
 * at most {@linkcode MAX_WASM_THREADS}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultWasmThreads, MAX_WASM_THREADS } from "./wasm.ts";
 * const threads = defaultWasmThreads();
 * assert.ok(threads >= 1 && threads <= MAX_WASM_THREADS);
 * ```
 */
export function defaultWasmThreads(): number {
  return clampThreads(navigator.hardwareConcurrency ?? 1);
}

function clampThreads(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1) {
    throw new RangeError(`threads must be a whole number from 1, got ${threads}`);
  }
  return Math.min(threads, MAX_WASM_THREADS);
}

/** Threads the next start of the wasm backend asks for. */
let requestedThreads = defaultWasmThreads();
/** Set when the threaded build failed to start here, so later starts go straight to one. */
let threadedFailure: string | undefined;

/**
 * Threads the wasm backend computes with: XNNPACK's pool, the calling thread included. 1 when the
 * backend has not started yet or runs the single-threaded build.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wasmThreads } from "./wasm.ts";
 * assert.ok(wasmThreads() >= 1);
 * ```
 */
export function wasmThreads(): number {
  if (engine().registry["wasm"] === undefined) return 1; // not started: tfjs would throw
  const count = getThreadsCount();
  return count >= 1 ? count : 1;
}

/**
 * Why the threaded build could not start (and the backend runs on one thread), if it failed.
 *
 * @example
 * ```ts
 * import { wasmThreadsFailure } from "./wasm.ts";
 * const why = wasmThreadsFailure();
 * if (why !== undefined) console.log(`wasm on one thread: ${why}`);
 * ```
 */
export function wasmThreadsFailure(): string | undefined {
  return threadedFailure;
}

/**
 * One line on the wasm backend's threads, as runs and `deno task info` print it: the count, and
 * why it is one when the threaded build could not start.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeWasmThreads } from "./wasm.ts";
 * assert.match(describeWasmThreads(), /^\d+ threads?/);
 * ```
 */
export function describeWasmThreads(): string {
  const threads = wasmThreads();
  const count = `${threads} thread${threads === 1 ? "" : "s"}`;
  if (threadedFailure !== undefined && requestedThreads > 1) {
    return `${count} (asked for ${requestedThreads}; the threaded build failed: ${threadedFailure})`;
  }
  return `${count} (XNNPACK and our SIMD kernels; --threads to change)`;
}

/**
 * Sets how many threads the wasm backend computes with (`--threads`), restarting it when it
 * already runs with another count. Call it before creating tensors on wasm: a restart drops the
 * backend's tensors. Results do not depend on the count: XNNPACK splits work by output tiles,
 * each summed in the same order on whichever thread. Returns the threads in use afterwards.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { setWasmThreads } from "./wasm.ts";
 * assert.equal(await setWasmThreads(1), 1);
 * ```
 */
export async function setWasmThreads(threads: number): Promise<number> {
  const wanted = clampThreads(threads);
  requestedThreads = wanted;
  const running = engine().registry["wasm"] !== undefined;
  const settled = wasmThreads() === wanted ||
    (threadedFailure !== undefined && wasmThreads() === 1);
  if (!running || settled) return wasmThreads();
  const active = getBackend();
  const entry = wasmFactoryEntry();
  removeBackend("wasm");
  terminatePthreadWorkers();
  registerBackend("wasm", entry.factory, entry.priority);
  if (active === "wasm") {
    if (!await setBackend("wasm")) throw new Error("the wasm backend did not restart");
  }
  return wasmThreads();
}

interface FactoryEntry {
  factory: () => KernelBackend | Promise<KernelBackend>;
  priority: number;
}

function wasmFactoryEntry(): FactoryEntry {
  const entry = (engine() as unknown as { registryFactory: Record<string, FactoryEntry> })
    .registryFactory["wasm"];
  if (entry === undefined) throw new Error("tfjs-backend-wasm registered no wasm backend");
  return entry;
}

/**
 * Wraps the backend factory tfjs-backend-wasm registered, so each start picks the build: the
 * threaded one with our pthread workers when more than one thread is asked for, else the
 * single-threaded SIMD one. A threaded start that fails falls back to one thread, once, with
 * the reason kept for {@linkcode wasmThreadsFailure}.
 */
function wrapWasmFactory(): void {
  const entry = wasmFactoryEntry();
  const original = entry.factory;
  entry.factory = async () => {
    threadedFailure ??= requestedThreads > 1 ? pthreadsUnavailable() : undefined;
    const threads = threadedFailure === undefined ? requestedThreads : 1;
    if (threads > 1) {
      try {
        return await startWasm(original, threads);
      } catch (error) {
        threadedFailure = error instanceof Error ? error.message : String(error);
        terminatePthreadWorkers();
      }
    }
    return await startWasm(original, 1);
  };
}

async function startWasm(
  factory: FactoryEntry["factory"],
  threads: number,
): Promise<KernelBackend> {
  if (threads > 1) installPthreadWorkers();
  env().set("WASM_HAS_MULTITHREAD_SUPPORT", threads > 1);
  setThreadsCount(threads);
  try {
    return await withLogicalCores(threads, async () => await factory());
  } finally {
    restoreGlobalWorker();
  }
}

wrapWasmFactory();
