/**
 * The wasm backend, completed for training: tfjs-backend-wasm 4.22 has no filter gradient for
 * convolutions nor either depthwise gradient, so we register those three, composed from the
 * wasm backend's own XNNPACK-backed kernels; and we replace its convolution input gradient,
 * which was the slowest kernel of a training step, with one built the same way.
 *
 * It also runs on every core: tfjs-backend-wasm's threaded build starts in Deno through our
 * pthread workers, for its shared memory, and {@linkcode setWasmThreads} chooses the threads. Our
 * SIMD kernels (every convolution pass, batch norm, pooling gradients) split their work over our
 * own pool of that many threads; XNNPACK's pool is kept at one thread, because two pools
 * spinning and sleeping on the same cores made every small kernel several times slower.
 *
 * @module
 */
import { setThreadsCount } from "@tensorflow/tfjs-backend-wasm";
import {
  engine,
  env,
  getBackend,
  type KernelBackend,
  registerBackend,
  removeBackend,
  setBackend,
} from "@tensorflow/tfjs-core";
import {
  installPthreadWorkers,
  NodeWorker,
  pthreadsUnavailable,
  restoreGlobalWorker,
  terminatePthreadWorkers,
  withLogicalCores,
} from "./_pthreads.ts";
import { setHelperWorkerClass, setKernelThreads } from "./_wasm_simd/_helper_thread.ts";
import "./wasm_kernels.ts";
import { kernelSet } from "./_kernel_choice.ts";

export * from "./wasm_kernels.ts";

setHelperWorkerClass(NodeWorker);

/** What the JavaScript engine offers the wasm backend. */
export interface WasmFeatures {
  /** WebAssembly SIMD (128-bit), used by XNNPACK's fast paths. */
  simd: boolean;
  /** Shared-memory threads (the engine can run the threaded build). */
  threads: boolean;
  /** Threads the wasm backend computes with now (the calling thread included). */
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
/** Threads the running backend computes with: its last start's count. */
let startedThreads = 1;

/**
 * Threads the wasm backend computes with, the calling thread included: our kernels' pool (XNNPACK's
 * own kernels run on one). 1 when the backend has not started yet or runs the single-threaded
 * build.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { wasmThreads } from "./wasm.ts";
 * assert.ok(wasmThreads() >= 1);
 * ```
 */
export function wasmThreads(): number {
  if (engine().registry["wasm"] === undefined) return 1; // not started
  return startedThreads;
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
  return `${count} (our SIMD kernels; XNNPACK's on one; --threads to change)`;
}

/**
 * Sets how many threads the wasm backend computes with (`--threads`), restarting it when it
 * already runs with another count. Call it before creating tensors on wasm: a restart drops the
 * backend's tensors. Results do not depend on the count: our kernels split work by output ranges,
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
  // The threaded build for its shared memory, XNNPACK on one thread: our pool takes the others.
  // With tfjs' own kernels ("stock", chosen before the start), XNNPACK gets them all instead.
  setThreadsCount(kernelSet("wasm") === "stock" ? threads : 1);
  setKernelThreads(threads);
  try {
    const backend = await withLogicalCores(threads, async () => await factory());
    startedThreads = threads;
    return backend;
  } finally {
    restoreGlobalWorker();
  }
}

wrapWasmFactory();
