/**
 * WebGPU through Deno's built-in `navigator.gpu`, with our own backend factory in place of
 * tfjs-backend-webgpu 4.22's, which passes `['bgra8unorm-storage']` (an array) as a feature
 * name — Deno's WebIDL rejects that on every GPU that has the feature — and reads
 * `adapter.info` after `requestDevice`, which some Deno versions have invalidated by then.
 *
 * @module
 */
import "@tensorflow/tfjs-backend-webgpu";
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { engine, type KernelBackend, registerBackend, removeBackend } from "@tensorflow/tfjs-core";
import { BackendUnavailableError, WebGpuDeviceLostError } from "./errors.ts";

/** Features tfjs-backend-webgpu can use; each is requested only if the adapter has it. */
export const WEBGPU_WANTED_FEATURES: readonly string[] = ["timestamp-query", "bgra8unorm-storage"];

/** Limits raised from the WebGPU defaults to whatever the adapter supports. */
export const WEBGPU_RAISED_LIMITS: readonly string[] = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxStorageBuffersPerShaderStage",
  "maxComputeWorkgroupStorageSize",
  "maxComputeWorkgroupsPerDimension",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
];

/** A plain copy of `GPUAdapterInfo`, safe to keep after the device exists. */
export interface WebGpuAdapterInfo {
  /** Vendor name, e.g. `nvidia`. */
  vendor: string;
  /** Architecture, e.g. `hopper`. */
  architecture: string;
  /** Device identifier. */
  device: string;
  /** Human-readable adapter name (driver and GPU). */
  description: string;
  /** True for software rasterisers (llvmpipe, lavapipe, SwiftShader, WARP). */
  isFallbackAdapter: boolean;
}

/** The subset of `GPUAdapter` the factory uses; tests pass a fake. */
export interface WebGpuAdapterLike {
  /** Optional features the adapter has. */
  readonly features: ReadonlySet<string>;
  /** The adapter's limits (a GPUSupportedLimits). */
  readonly limits: object;
  /** Adapter info, where the runtime exposes it as a property. */
  readonly info?: Partial<WebGpuAdapterInfo>;
  /** True for a software fallback adapter. */
  readonly isFallbackAdapter?: boolean;
  /** Adapter info on runtimes that still have the older method. */
  requestAdapterInfo?(): Promise<Partial<WebGpuAdapterInfo>>;
  /** Creates the device. */
  requestDevice(descriptor: GPUDeviceDescriptor): Promise<GPUDevice>;
}

/** The subset of `GPU` (`navigator.gpu`) the factory uses. */
export interface WebGpuLike {
  /** Finds an adapter, or null. */
  requestAdapter(options?: GPURequestAdapterOptions): Promise<WebGpuAdapterLike | null>;
}

/** Options for {@linkcode requestWebGpuDevice} and {@linkcode registerWebGpuBackend}. */
export interface WebGpuDeviceOptions {
  /** The WebGPU entry point. Default: `navigator.gpu`. */
  gpu?: WebGpuLike;
  /** Adapter preference. Default: `"high-performance"`. */
  powerPreference?: GPUPowerPreference;
}

/** An open device with what was asked for and what the adapter said about itself. */
export interface WebGpuDeviceHandle {
  /** The device, with the features and limits tfjs uses. */
  device: GPUDevice;
  /** The adapter it came from. */
  adapterInfo: WebGpuAdapterInfo;
  /** Feature names actually requested. */
  features: string[];
  /** Limits actually requested. */
  limits: Record<string, number>;
  /** Set once the device is lost for any reason other than our own `destroy()`. */
  lostError: WebGpuDeviceLostError | null;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|\bwarp\b|basic render/i;

/**
 * True when the adapter is a software rasteriser: correct, but far slower than the wasm backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSoftwareAdapter } from "./webgpu.ts";
 * const llvmpipe = {
 *   vendor: "65541", architecture: "", device: "0",
 *   description: "llvmpipe (LLVM 15.0.6, 256 bits)", isFallbackAdapter: false,
 * };
 * assert.ok(isSoftwareAdapter(llvmpipe));
 * ```
 */
export function isSoftwareAdapter(info: WebGpuAdapterInfo): boolean {
  return info.isFallbackAdapter ||
    SOFTWARE_ADAPTER.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
}

/**
 * Copies the adapter's info into a plain object; call it before `requestDevice`, after which
 * some Deno versions invalidate the adapter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readAdapterInfo } from "./webgpu.ts";
 * const info = await readAdapterInfo({
 *   features: new Set(), limits: {}, info: { description: "Apple M2" },
 *   requestDevice: () => Promise.reject(new Error("unused")),
 * });
 * assert.equal(info.description, "Apple M2");
 * assert.equal(info.isFallbackAdapter, false);
 * ```
 */
export async function readAdapterInfo(adapter: WebGpuAdapterLike): Promise<WebGpuAdapterInfo> {
  const raw = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
  return {
    vendor: String(raw.vendor ?? ""),
    architecture: String(raw.architecture ?? ""),
    device: String(raw.device ?? ""),
    description: String(raw.description ?? ""),
    isFallbackAdapter: Boolean(raw.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false),
  };
}

/**
 * Requests an adapter and a device configured for tfjs: wanted features as plain strings, only
 * those the adapter has; limits raised to the adapter's; adapter info read before the device is
 * requested; loss of the device recorded as a {@linkcode WebGpuDeviceLostError}.
 *
 * @example
 * ```ts ignore
 * import { requestWebGpuDevice } from "./webgpu.ts";
 * const { device, adapterInfo } = await requestWebGpuDevice();
 * console.log(adapterInfo.description);
 * device.destroy();
 * ```
 */
export async function requestWebGpuDevice(
  options: WebGpuDeviceOptions = {},
): Promise<WebGpuDeviceHandle> {
  const gpu = options.gpu ?? (globalThis.navigator?.gpu as unknown as WebGpuLike | undefined);
  if (gpu === undefined) {
    throw new BackendUnavailableError("webgpu", "this runtime has no navigator.gpu");
  }
  const adapter = await gpu.requestAdapter({
    powerPreference: options.powerPreference ?? "high-performance",
  });
  if (adapter === null) {
    throw new BackendUnavailableError("webgpu", "navigator.gpu.requestAdapter() found no adapter");
  }
  const adapterInfo = await readAdapterInfo(adapter);
  const features = WEBGPU_WANTED_FEATURES.filter((name) => adapter.features.has(name));
  const limits: Record<string, number> = {};
  const adapterLimits = adapter.limits as Record<string, unknown>;
  for (const name of WEBGPU_RAISED_LIMITS) {
    const value = adapterLimits[name];
    if (typeof value === "number") limits[name] = value;
  }
  const device = await adapter.requestDevice({
    requiredFeatures: features as GPUFeatureName[],
    requiredLimits: limits,
  });
  const handle: WebGpuDeviceHandle = { device, adapterInfo, features, limits, lostError: null };
  device.lost.then((info) => {
    if (info.reason === "destroyed") return;
    handle.lostError = new WebGpuDeviceLostError(info.reason, info.message);
    console.error(handle.lostError.message);
  });
  return handle;
}

/** Methods through which every tfjs operation reaches the GPU. */
const GUARDED_METHODS = ["runWebGPUProgram", "read", "readSync", "write"] as const;

/**
 * Makes every operation on `backend` throw the handle's {@linkcode WebGpuDeviceLostError} once
 * the device is lost, instead of the validation errors a dead device produces.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { guardDeviceLoss, type WebGpuDeviceHandle } from "./webgpu.ts";
 * import { WebGpuDeviceLostError } from "./errors.ts";
 * const handle = { lostError: null } as unknown as WebGpuDeviceHandle;
 * const backend = { read: () => 1 };
 * guardDeviceLoss(backend, handle);
 * handle.lostError = new WebGpuDeviceLostError("unknown", "");
 * let thrown = false;
 * try { backend.read(); } catch { thrown = true; }
 * assert.ok(thrown);
 * ```
 */
export function guardDeviceLoss(backend: object, handle: WebGpuDeviceHandle): void {
  const target = backend as Record<string, unknown>;
  for (const name of GUARDED_METHODS) {
    const original = target[name];
    if (typeof original !== "function") continue;
    target[name] = function (this: unknown, ...args: unknown[]) {
      if (handle.lostError !== null) throw handle.lostError;
      return original.apply(this, args);
    };
  }
}

/** The adapter info of the device behind the registered `webgpu` backend, once it exists. */
let activeAdapterInfo: WebGpuAdapterInfo | null = null;

/**
 * Adapter info of the initialised `webgpu` backend, or null before it is initialised.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { webGpuAdapterInfo } from "./webgpu.ts";
 * assert.ok(webGpuAdapterInfo() === null || typeof webGpuAdapterInfo()?.vendor === "string");
 * ```
 */
export function webGpuAdapterInfo(): WebGpuAdapterInfo | null {
  return activeAdapterInfo;
}

/**
 * Replaces tfjs-backend-webgpu's factory for the `webgpu` backend with ours. Importing the
 * backend module does this once; call again to use another adapter preference or a fake GPU.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findBackendFactory } from "@tensorflow/tfjs-core";
 * import { registerWebGpuBackend } from "./webgpu.ts";
 * registerWebGpuBackend();
 * assert.ok(findBackendFactory("webgpu") !== null);
 * ```
 */
export function registerWebGpuBackend(options: WebGpuDeviceOptions = {}): void {
  if (engine().registryFactory["webgpu"] !== undefined) removeBackend("webgpu");
  // Priority below wasm (2) so tfjs never picks webgpu by itself; selectBackend decides.
  registerBackend("webgpu", async (): Promise<KernelBackend> => {
    const handle = await requestWebGpuDevice(options);
    // tfjs types the constructor with its own copy of the WebGPU typings.
    const backend = new WebGPUBackend(
      handle.device as unknown as ConstructorParameters<typeof WebGPUBackend>[0],
      handle.adapterInfo as unknown as ConstructorParameters<typeof WebGPUBackend>[1],
    );
    guardDeviceLoss(backend, handle);
    activeAdapterInfo = handle.adapterInfo;
    return backend;
  }, 0);
}

registerWebGpuBackend();
