/**
 * Backend choice: `auto` takes WebGPU on a real GPU and the wasm backend otherwise (no adapter,
 * or a software one such as llvmpipe or lavapipe); a named backend is used as asked or fails
 * loudly; an adapter choice (`--adapter`) asks for WebGPU on that adapter.
 *
 * @module
 */
import "@tensorflow/tfjs-backend-cpu";
import { findBackend, getBackend, setBackend } from "@tensorflow/tfjs-core";
import { BackendUnavailableError } from "./errors.ts";
import {
  type AdapterChoice,
  describeAdapter,
  isSoftwareAdapter,
  readAdapterInfo,
  registeredAdapterChoice,
  registerWebGpuBackend,
  webGpuDeviceHandle,
  type WebGpuLike,
} from "./webgpu.ts";
import "./wasm.ts";
import "./_batchnorm_grad.ts";

/** A compute backend this toolkit trains on. */
export type BackendName = "webgpu" | "wasm" | "cpu";

/** What a user may ask for: a backend by name, or `auto`. */
export type BackendChoice = BackendName | "auto";

/** Every backend name, in the order `auto` prefers them. */
export const BACKEND_NAMES: readonly BackendName[] = ["webgpu", "wasm", "cpu"];

/** The outcome of {@linkcode selectBackend}. */
export interface SelectedBackend {
  /** The active tfjs backend. */
  name: BackendName;
  /** One line on why this backend was chosen. */
  reason: string;
  /** True when `auto` had to skip a faster backend. */
  fellBack: boolean;
  /** For WebGPU: the adapter, as {@linkcode describeAdapter} words it. */
  adapter?: string;
}

/** Options for {@linkcode selectBackend}. */
export interface SelectBackendOptions {
  /** Where the one-line fallback notice goes. Default: `console.error`. */
  log?: (line: string) => void;
  /** The WebGPU entry point probed by `auto`. Default: `navigator.gpu`. */
  gpu?: WebGpuLike;
  /**
   * The WebGPU adapter to use (`--adapter`). Naming one asks for WebGPU: with `auto` it is used
   * even when it is a software adapter; with `wasm` or `cpu` it is an error.
   */
  adapter?: AdapterChoice;
}

/**
 * Parses a user's `--backend` value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseBackendChoice } from "./select.ts";
 * assert.ok(parseBackendChoice("WASM") === "wasm");
 * ```
 */
export function parseBackendChoice(value: string): BackendChoice {
  const lower = value.trim().toLowerCase();
  if (lower === "auto" || (BACKEND_NAMES as readonly string[]).includes(lower)) {
    return lower as BackendChoice;
  }
  throw new RangeError(`unknown backend '${value}': expected auto, ${BACKEND_NAMES.join(", ")}`);
}

/**
 * Initialises one backend by name and makes it the active one.
 *
 * @example
 * ```ts
 * import { useBackend } from "./select.ts";
 * await useBackend("cpu");
 * ```
 */
export async function useBackend(name: BackendName): Promise<void> {
  let ok = false;
  let cause = "";
  // tfjs catches a failing factory and prints its stack with console.warn; keep the first line
  // of that as our one-line reason instead of letting the stack reach the user.
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (...parts: unknown[]) => warnings.push(parts.map(String).join(" "));
  try {
    ok = await setBackend(name);
  } catch (error) {
    cause = error instanceof Error ? error.message : String(error);
  } finally {
    console.warn = warn;
  }
  if (!ok && cause === "") {
    const reported = warnings.find((line) => !line.startsWith("Initialization of backend"));
    cause = reported?.split("\n")[0].replace(/^\w*Error: /, "") ?? "";
  } else {
    for (const line of warnings) warn(line);
  }
  if (!ok || getBackend() !== name) {
    throw new BackendUnavailableError(name, cause || "initialisation failed");
  }
  if (name === "cpu") {
    // tfjs-backend-cpu greets Node users with a multi-line tfjs-node advert on first write.
    const cpu = findBackend("cpu") as unknown as { firstUse?: boolean };
    cpu.firstUse = false;
  }
}

async function probeWebGpu(gpu: WebGpuLike | undefined): Promise<string | null> {
  const entry = gpu ?? (globalThis.navigator?.gpu as unknown as WebGpuLike | undefined);
  if (entry === undefined) return "this runtime has no WebGPU";
  const adapter = await entry.requestAdapter({ powerPreference: "high-performance" });
  if (adapter === null) return "no WebGPU adapter found";
  const info = await readAdapterInfo(adapter);
  if (isSoftwareAdapter(info)) {
    return `the WebGPU adapter is a software renderer (${
      info.description || info.vendor
    }), slower than wasm`;
  }
  return null;
}

/**
 * Makes `choice` the active backend. `auto` prefers WebGPU on a real GPU, then wasm, then cpu,
 * and prints one line saying why it skipped a backend; a named backend never falls back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectBackend } from "./select.ts";
 * const selected = await selectBackend("wasm");
 * assert.ok(selected.name === "wasm");
 * ```
 */
export async function selectBackend(
  choice: BackendChoice = "auto",
  options: SelectBackendOptions = {},
): Promise<SelectedBackend> {
  const log = options.log ?? ((line: string) => console.error(line));
  if (options.adapter !== undefined) {
    if (choice === "wasm" || choice === "cpu") {
      throw new RangeError(
        `--adapter ${options.adapter} needs --backend webgpu or auto, not --backend ${choice}`,
      );
    }
    if (registeredAdapterChoice() !== options.adapter) {
      registerWebGpuBackend({ adapter: options.adapter });
    }
    return await useWebGpu(`--adapter ${options.adapter} was requested`, log);
  }
  if (choice === "webgpu") return await useWebGpu("--backend webgpu was requested", log);
  if (choice !== "auto") {
    await useBackend(choice);
    return { name: choice, reason: `--backend ${choice} was requested`, fellBack: false };
  }
  let skipped = await probeWebGpu(options.gpu);
  if (skipped === null) {
    try {
      return await useWebGpu("a hardware WebGPU adapter is available", log);
    } catch (error) {
      skipped = error instanceof Error ? error.message : String(error);
    }
  }
  try {
    await useBackend("wasm");
    log(`backend: wasm, because ${skipped} (pass --backend webgpu to force it)`);
    return { name: "wasm", reason: skipped, fellBack: true };
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    await useBackend("cpu");
    log(`backend: cpu, because ${skipped} and ${why}`);
    return { name: "cpu", reason: `${skipped}; ${why}`, fellBack: true };
  }
}

/** Makes WebGPU the backend and logs one line naming the adapter it runs on. */
async function useWebGpu(reason: string, log: (line: string) => void): Promise<SelectedBackend> {
  await useBackend("webgpu");
  const handle = webGpuDeviceHandle();
  const adapter = handle === null ? undefined : describeAdapter(handle.adapterInfo, handle.api);
  if (adapter !== undefined) log(`backend: webgpu on ${adapter}`);
  return { name: "webgpu", reason, fellBack: false, adapter };
}

// A backend is ready from the first import, so models and tensors work before any
// selectBackend call (wasm; cpu if wasm cannot start). selectBackend and useBackend switch later.
try {
  await useBackend("wasm");
} catch {
  await useBackend("cpu");
}
