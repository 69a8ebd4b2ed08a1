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

export { WEBGPU_RAISED_LIMITS, WEBGPU_WANTED_FEATURES } from "./_webgpu_limits.ts";
import { WEBGPU_RAISED_LIMITS, WEBGPU_WANTED_FEATURES } from "./_webgpu_limits.ts";

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

/** The native graphics API under a WebGPU adapter (wgpu's backend), where it can be told. */
export type GraphicsApi = "vulkan" | "gl" | "metal" | "dx12" | "unknown";

const GRAPHICS_APIS: readonly string[] = ["vulkan", "gl", "metal", "dx12"];

/**
 * Tells which graphics API an adapter runs on. Deno does not report it, so: the
 * `DENO_WEBGPU_BACKEND` variable when it names one API and may be read; Metal on macOS; on other
 * systems wgpu's GL backend is the one that offers ETC2 compression without `bgra8unorm-storage`
 * (Vulkan and D3D12 offer the opposite); the rest is Vulkan on Linux and unknown elsewhere.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inferGraphicsApi } from "./webgpu.ts";
 * assert.equal(inferGraphicsApi(["bgra8unorm-storage", "shader-f16"], "linux", null), "vulkan");
 * assert.equal(inferGraphicsApi(["texture-compression-etc2"], "linux", null), "gl");
 * assert.equal(inferGraphicsApi([], "linux", "gl"), "gl");
 * ```
 */
export function inferGraphicsApi(
  features: Iterable<string>,
  os: string = Deno.build.os,
  env: string | null = readBackendVariable(),
): GraphicsApi {
  const named = env?.trim().toLowerCase();
  if (named !== undefined && GRAPHICS_APIS.includes(named)) return named as GraphicsApi;
  if (os === "darwin") return "metal";
  const set = new Set(features);
  if (set.has("texture-compression-etc2") && !set.has("bgra8unorm-storage")) return "gl";
  return os === "linux" ? "vulkan" : "unknown";
}

/** `DENO_WEBGPU_BACKEND`, or null when unset or when the process may not read it. */
function readBackendVariable(): string | null {
  const state = Deno.permissions.querySync?.({ name: "env", variable: "DENO_WEBGPU_BACKEND" });
  if (state?.state !== "granted") return null;
  return Deno.env.get("DENO_WEBGPU_BACKEND") ?? null;
}

/** Display names of the graphics APIs. */
const API_NAMES: Record<GraphicsApi, string> = {
  vulkan: "Vulkan",
  gl: "OpenGL",
  metal: "Metal",
  dx12: "Direct3D 12",
  unknown: "an unknown graphics API",
};

/**
 * One line naming an adapter, its kind and its graphics API, as logs and test names print it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeAdapter } from "./webgpu.ts";
 * const info = {
 *   vendor: "65541", architecture: "", device: "0",
 *   description: "llvmpipe (LLVM 15.0.6, 256 bits)", isFallbackAdapter: true,
 * };
 * assert.equal(
 *   describeAdapter(info, "vulkan"),
 *   "llvmpipe (LLVM 15.0.6, 256 bits), a software adapter on Vulkan (lavapipe)",
 * );
 * ```
 */
export function describeAdapter(info: WebGpuAdapterInfo, api: GraphicsApi): string {
  const name = info.description || info.vendor || "(unnamed adapter)";
  const software = isSoftwareAdapter(info);
  // Mesa's Vulkan software driver reports the same device name as its GL one.
  const mesa = software && /llvmpipe/i.test(name)
    ? api === "vulkan" ? " (lavapipe)" : api === "gl" ? " (llvmpipe)" : ""
    : "";
  return `${name}, a ${software ? "software" : "hardware"} adapter on ${API_NAMES[api]}${mesa}`;
}

/** Which adapter `--adapter` asks for: a power preference, or the software fallback adapter. */
export type AdapterChoice = "high-performance" | "low-power" | "software";

/** Every `--adapter` value. */
export const ADAPTER_CHOICES: readonly AdapterChoice[] = [
  "high-performance",
  "low-power",
  "software",
];

/**
 * Parses a user's `--adapter` value; anything else is a one-line RangeError naming the choices.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAdapterChoice } from "./webgpu.ts";
 * assert.equal(parseAdapterChoice("Software"), "software");
 * assert.throws(() => parseAdapterChoice("fast"), /expected high-performance, low-power or software/);
 * ```
 */
export function parseAdapterChoice(value: string): AdapterChoice {
  const lower = value.trim().toLowerCase();
  if ((ADAPTER_CHOICES as readonly string[]).includes(lower)) return lower as AdapterChoice;
  throw new RangeError(
    `unknown adapter '${value}': expected high-performance, low-power or software`,
  );
}

/**
 * The `requestAdapter` options of an adapter choice: `software` is `forceFallbackAdapter`, the
 * others a `powerPreference`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { adapterRequestOptions } from "./webgpu.ts";
 * assert.deepEqual(adapterRequestOptions("software"), { forceFallbackAdapter: true });
 * assert.deepEqual(adapterRequestOptions("low-power"), { powerPreference: "low-power" });
 * ```
 */
export function adapterRequestOptions(choice: AdapterChoice): GPURequestAdapterOptions {
  return choice === "software" ? { forceFallbackAdapter: true } : { powerPreference: choice };
}

/** Options for {@linkcode requestWebGpuDevice} and {@linkcode registerWebGpuBackend}. */
export interface WebGpuDeviceOptions {
  /** The WebGPU entry point. Default: `navigator.gpu`. */
  gpu?: WebGpuLike;
  /** Adapter preference, when `adapter` is not given. Default: `"high-performance"`. */
  powerPreference?: GPUPowerPreference;
  /** The adapter to ask for (`--adapter`); overrides `powerPreference`. */
  adapter?: AdapterChoice;
}

/** An open device with what was asked for and what the adapter said about itself. */
export interface WebGpuDeviceHandle {
  /** The device, with the features and limits tfjs uses. */
  device: GPUDevice;
  /** The adapter it came from. */
  adapterInfo: WebGpuAdapterInfo;
  /** Feature names actually requested. */
  features: string[];
  /** The graphics API under the adapter (see {@linkcode inferGraphicsApi}). */
  api: GraphicsApi;
  /** Limits actually requested. */
  limits: Record<string, number>;
  /** Set once the device is lost for any reason other than {@linkcode releaseWebGpuDevice}. */
  lostError: WebGpuDeviceLostError | null;
  /** True once {@linkcode releaseWebGpuDevice} destroyed the device on purpose. */
  released: boolean;
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
 * import { releaseWebGpuDevice, requestWebGpuDevice } from "./webgpu.ts";
 * const handle = await requestWebGpuDevice({ adapter: "software" });
 * console.log(handle.adapterInfo.description);
 * releaseWebGpuDevice(handle);
 * ```
 */
export async function requestWebGpuDevice(
  options: WebGpuDeviceOptions = {},
): Promise<WebGpuDeviceHandle> {
  const gpu = options.gpu ?? (globalThis.navigator?.gpu as unknown as WebGpuLike | undefined);
  if (gpu === undefined) {
    throw new BackendUnavailableError("webgpu", "this runtime has no navigator.gpu");
  }
  const request = options.adapter === undefined
    ? { powerPreference: options.powerPreference ?? "high-performance" }
    : adapterRequestOptions(options.adapter);
  const adapter = await gpu.requestAdapter(request);
  if (adapter === null) {
    const which = options.adapter === undefined ? "" : ` (--adapter ${options.adapter})`;
    throw new BackendUnavailableError(
      "webgpu",
      `navigator.gpu.requestAdapter() found no adapter${which}`,
    );
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
  const handle: WebGpuDeviceHandle = {
    device,
    adapterInfo,
    features,
    api: inferGraphicsApi(adapter.features),
    limits,
    lostError: null,
    released: false,
  };
  // A device destroyed by anything but releaseWebGpuDevice (a driver reset reports "unknown";
  // tests simulate a loss with device.destroy()) is lost to the run that was using it.
  device.lost.then((info) => {
    if (handle.released) return;
    handle.lostError = new WebGpuDeviceLostError(info.reason, info.message);
    console.error(handle.lostError.message);
  });
  return handle;
}

/**
 * Destroys a device on purpose: unlike any other loss, this one is not reported.
 *
 * @example
 * ```ts ignore
 * import { releaseWebGpuDevice, requestWebGpuDevice } from "./webgpu.ts";
 * releaseWebGpuDevice(await requestWebGpuDevice());
 * ```
 */
export function releaseWebGpuDevice(handle: WebGpuDeviceHandle): void {
  handle.released = true;
  handle.device.destroy();
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

/** The device behind the registered `webgpu` backend, once it exists. */
let activeHandle: WebGpuDeviceHandle | null = null;
/** The options the `webgpu` backend was last registered with. */
let registeredOptions: WebGpuDeviceOptions = {};

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
  return activeHandle?.adapterInfo ?? null;
}

/**
 * The device handle of the initialised `webgpu` backend (its device, features and loss state),
 * or null before it is initialised.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { webGpuDeviceHandle } from "./webgpu.ts";
 * const handle = webGpuDeviceHandle();
 * assert.ok(handle === null || handle.lostError === null || handle.lostError.name.length > 0);
 * ```
 */
export function webGpuDeviceHandle(): WebGpuDeviceHandle | null {
  return activeHandle;
}

/**
 * The adapter choice the `webgpu` backend is registered with (`undefined`: the default,
 * high-performance).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { registeredAdapterChoice } from "./webgpu.ts";
 * assert.equal(registeredAdapterChoice(), undefined); // importing registers the default
 * ```
 */
export function registeredAdapterChoice(): AdapterChoice | undefined {
  return registeredOptions.adapter;
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
  // The previous backend's device is no longer anyone's: free it without reporting a loss.
  if (activeHandle !== null) releaseWebGpuDevice(activeHandle);
  activeHandle = null;
  registeredOptions = options;
  // Priority below wasm (2) so tfjs never picks webgpu by itself; selectBackend decides.
  registerBackend("webgpu", async (): Promise<KernelBackend> => {
    const handle = await requestWebGpuDevice(options);
    // tfjs types the constructor with its own copy of the WebGPU typings.
    const backend = new WebGPUBackend(
      handle.device as unknown as ConstructorParameters<typeof WebGPUBackend>[0],
      handle.adapterInfo as unknown as ConstructorParameters<typeof WebGPUBackend>[1],
    );
    guardDeviceLoss(backend, handle);
    activeHandle = handle;
    return backend;
  }, 0);
}

registerWebGpuBackend();
