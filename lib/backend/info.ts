/**
 * What this machine offers for training: runtime and tfjs versions, which backends initialise,
 * the WebGPU adapter and its limits, every adapter Deno can see, and the wasm engine's SIMD and
 * threads.
 *
 * @module
 */
import { getBackend, version_core } from "@tensorflow/tfjs-core";
import { version_layers } from "@tensorflow/tfjs-layers";
import { version_cpu } from "@tensorflow/tfjs-backend-cpu";
import { version_wasm } from "@tensorflow/tfjs-backend-wasm";
import webgpuPackage from "@tensorflow/tfjs-backend-webgpu/package.json" with { type: "json" };
import { BACKEND_NAMES, type BackendName, useBackend } from "./select.ts";
import {
  type AdapterChoice,
  type GraphicsApi,
  inferGraphicsApi,
  isSoftwareAdapter,
  releaseWebGpuDevice,
  requestWebGpuDevice,
  type WebGpuAdapterInfo,
  type WebGpuLike,
} from "./webgpu.ts";
import { type WasmFeatures, wasmFeatures } from "./wasm.ts";
import { probeAdapters, type RawAdapter } from "./_adapter_probe.ts";
import { runnableDeno } from "../_internal/deno.ts";

/** Whether one backend initialised, and how long that took. */
export interface BackendReport {
  /** Backend name as tfjs registers it. */
  name: BackendName;
  /** Whether it initialised here. */
  available: boolean;
  /** Milliseconds spent initialising. */
  initMs: number;
  /** Why it is unavailable. */
  error?: string;
}

/** The WebGPU adapter as the device was configured for it. */
export interface WebGpuReport {
  /** Vendor, architecture, device and description. */
  adapter: WebGpuAdapterInfo;
  /** True for llvmpipe, lavapipe, SwiftShader and the like. */
  software: boolean;
  /** The graphics API under the adapter. */
  api: GraphicsApi;
  /** Features requested for tfjs (those the adapter has). */
  features: string[];
  /** Limits raised to the adapter's. */
  limits: Record<string, number>;
}

/** One distinct WebGPU adapter Deno can see. */
export interface AdapterReport {
  /** Vendor, architecture, device and description. */
  adapter: WebGpuAdapterInfo;
  /** The graphics API under it. */
  api: GraphicsApi;
  /** True for llvmpipe, lavapipe, SwiftShader and the like. */
  software: boolean;
  /** The `--adapter` choices that return it in this process (empty: another API's, see `env`). */
  choices: AdapterChoice[];
  /** The environment a process needs to see it, when this one does not (`DENO_WEBGPU_BACKEND=gl`). */
  env?: string;
  /** Every optional feature, sorted. */
  features: string[];
  /** Every limit. */
  limits: Record<string, number>;
}

/** Options for {@linkcode listWebGpuAdapters}. */
export interface ListAdaptersOptions {
  /** The WebGPU entry point. Default: `navigator.gpu`. */
  gpu?: GPU;
  /**
   * Also run a child Deno per graphics API (`DENO_WEBGPU_BACKEND`), where this process may run
   * `Deno.execPath()` or `deno`. Default: true.
   */
  otherApis?: boolean;
}

/** The graphics APIs wgpu may use on `os`. */
function apisOf(os: string): GraphicsApi[] {
  if (os === "darwin") return ["metal"];
  if (os === "windows") return ["dx12", "vulkan", "gl"];
  return ["vulkan", "gl"];
}

async function probeChild(deno: string, api: GraphicsApi): Promise<RawAdapter[]> {
  const probe = new URL("./_adapter_probe.ts", import.meta.url);
  if (probe.protocol !== "file:") return [];
  try {
    const output = await new Deno.Command(deno, {
      args: ["run", "--no-config", "--no-lock", "--quiet", probe.href],
      env: { DENO_WEBGPU_BACKEND: api },
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!output.success) return [];
    return JSON.parse(new TextDecoder().decode(output.stdout)) as RawAdapter[];
  } catch {
    return [];
  }
}

/**
 * Every WebGPU adapter Deno can see, deduplicated: the adapters `requestAdapter` returns here for
 * each `--adapter` choice, and, with permission to run Deno, those a process restricted to each
 * graphics API sees (wgpu shows a process the adapters of one API only, e.g. lavapipe through
 * Vulkan and not llvmpipe through GL).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listWebGpuAdapters } from "./info.ts";
 * const adapters = await listWebGpuAdapters({ otherApis: false });
 * assert.ok(adapters.every((a) => a.choices.length > 0 && a.features.length >= 0));
 * ```
 */
export async function listWebGpuAdapters(
  options: ListAdaptersOptions = {},
): Promise<AdapterReport[]> {
  const here = await probeAdapters(options.gpu ?? navigator.gpu);
  const deno = runnableDeno();
  const children = deno !== null && options.otherApis !== false
    ? await Promise.all(
      apisOf(Deno.build.os).map(async (api) => ({
        api,
        adapters: await probeChild(deno, api),
      })),
    )
    : [];
  const reports = new Map<string, AdapterReport>();
  const add = (raw: RawAdapter, api: GraphicsApi, local: boolean) => {
    const { choice, features, limits, ...info } = raw;
    const key = JSON.stringify([info, api, features, limits]);
    let report = reports.get(key);
    if (report === undefined) {
      report = {
        adapter: info,
        api,
        software: isSoftwareAdapter(info),
        choices: [],
        env: local ? undefined : `DENO_WEBGPU_BACKEND=${api}`,
        features,
        limits,
      };
      reports.set(key, report);
    }
    if (local && !report.choices.includes(choice)) report.choices.push(choice);
    if (local) report.env = undefined;
  };
  // This process's adapters take the API of the child whose adapter matches them exactly.
  for (const raw of here) {
    const same = children.find(({ adapters }) =>
      adapters.some((other) =>
        JSON.stringify({ ...other, choice: 0 }) === JSON.stringify({ ...raw, choice: 0 })
      )
    );
    add(raw, same?.api ?? inferGraphicsApi(raw.features), true);
  }
  for (const { api, adapters } of children) {
    for (const raw of adapters) add(raw, api, false);
  }
  return [...reports.values()];
}

/** Everything `deno task info` prints. */
export interface DeviceInfo {
  /** Deno, V8 and TypeScript versions, OS, architecture and CPU count. */
  runtime: {
    deno: string;
    v8: string;
    typescript: string;
    os: string;
    arch: string;
    cpus: number;
  };
  /** Versions of the tfjs packages in use. */
  tfjs: { core: string; layers: string; cpu: string; wasm: string; webgpu: string };
  /** Each backend and whether it initialised. */
  backends: BackendReport[];
  /** The adapter the `webgpu` backend opens by default, or why there is none. */
  webgpu: WebGpuReport | { error: string };
  /** Every adapter Deno can see (see {@linkcode listWebGpuAdapters}). */
  adapters: AdapterReport[];
  /** SIMD and threads support of the wasm backend. */
  wasm: WasmFeatures;
}

/** Options for {@linkcode collectDeviceInfo}. */
export interface CollectDeviceInfoOptions {
  /** The WebGPU entry point. Default: `navigator.gpu`. */
  gpu?: WebGpuLike;
  /** Probe the adapters of other graphics APIs in child processes. Default: when permitted. */
  otherApis?: boolean;
}

async function describeWebGpu(gpu?: WebGpuLike): Promise<WebGpuReport | { error: string }> {
  try {
    const handle = await requestWebGpuDevice({ gpu });
    releaseWebGpuDevice(handle);
    return {
      adapter: handle.adapterInfo,
      software: isSoftwareAdapter(handle.adapterInfo),
      api: handle.api,
      features: handle.features,
      limits: handle.limits,
    };
  } catch (error) {
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Probes each backend by initialising it, then restores the backend that was active.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { collectDeviceInfo } from "./info.ts";
 * const info = await collectDeviceInfo();
 * assert.ok(info.backends.some((b) => b.name === "wasm" && b.available));
 * ```
 */
export async function collectDeviceInfo(
  options: CollectDeviceInfoOptions = {},
): Promise<DeviceInfo> {
  const previous = getBackend();
  const backends: BackendReport[] = [];
  for (const name of BACKEND_NAMES) {
    const start = performance.now();
    try {
      await useBackend(name);
      backends.push({ name, available: true, initMs: Math.round(performance.now() - start) });
    } catch (error) {
      backends.push({
        name,
        available: false,
        initMs: Math.round(performance.now() - start),
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  if (previous !== undefined && BACKEND_NAMES.includes(previous as BackendName)) {
    await useBackend(previous as BackendName);
  }
  return {
    runtime: {
      deno: Deno.version.deno,
      v8: Deno.version.v8,
      typescript: Deno.version.typescript,
      os: Deno.build.os,
      arch: Deno.build.arch,
      cpus: navigator.hardwareConcurrency,
    },
    tfjs: {
      core: version_core,
      layers: version_layers,
      cpu: version_cpu,
      wasm: version_wasm,
      webgpu: webgpuPackage.version,
    },
    backends,
    webgpu: await describeWebGpu(options.gpu),
    adapters: options.gpu === undefined
      ? await listWebGpuAdapters({ otherApis: options.otherApis })
      : [],
    wasm: await wasmFeatures(),
  };
}
