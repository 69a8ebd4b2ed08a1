/**
 * What this machine offers for training: runtime and tfjs versions, which backends initialise,
 * the WebGPU adapter and its limits, and the wasm engine's SIMD and threads.
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
  isSoftwareAdapter,
  releaseWebGpuDevice,
  requestWebGpuDevice,
  type WebGpuAdapterInfo,
  type WebGpuLike,
} from "./webgpu.ts";
import { type WasmFeatures, wasmFeatures } from "./wasm.ts";

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
  /** Features requested for tfjs (those the adapter has). */
  features: string[];
  /** Limits raised to the adapter's. */
  limits: Record<string, number>;
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
  /** The adapter, or why there is none. */
  webgpu: WebGpuReport | { error: string };
  /** SIMD and threads support of the wasm backend. */
  wasm: WasmFeatures;
}

/** Options for {@linkcode collectDeviceInfo}. */
export interface CollectDeviceInfoOptions {
  /** The WebGPU entry point. Default: `navigator.gpu`. */
  gpu?: WebGpuLike;
}

async function describeWebGpu(gpu?: WebGpuLike): Promise<WebGpuReport | { error: string }> {
  try {
    const handle = await requestWebGpuDevice({ gpu });
    releaseWebGpuDevice(handle);
    return {
      adapter: handle.adapterInfo,
      software: isSoftwareAdapter(handle.adapterInfo),
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
    wasm: await wasmFeatures(),
  };
}
