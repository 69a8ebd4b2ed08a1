/**
 * Backends in a web page: tfjs's WebGPU backend on the browser's `navigator.gpu` with our
 * training kernels, else tfjs's wasm backend with ours (single-threaded unless the page is
 * cross-origin isolated), else cpu. The Deno side (`selectBackend`) has its own device factory
 * and threads; this one uses what the browser gives.
 *
 * @module
 */
import "@tensorflow/tfjs-backend-cpu";
import { WebGPUBackend } from "@tensorflow/tfjs-backend-webgpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import {
  engine,
  getBackend,
  type KernelBackend,
  registerBackend,
  removeBackend,
  setBackend,
} from "@tensorflow/tfjs-core";
import { WEBGPU_RAISED_LIMITS, WEBGPU_WANTED_FEATURES } from "../backend/_webgpu_limits.ts";
import type { KernelSet } from "../backend/_kernel_choice.ts";
import { setWebGpuKernels } from "../backend/webgpu_kernels.ts";
import "../backend/wasm_kernels.ts";
import "../backend/_batchnorm_grad.ts";

/** A backend a page can train on. */
export type WebBackendName = "webgpu" | "wasm" | "cpu";

/** What {@linkcode selectWebBackend} chose, and why. */
export interface WebBackend {
  /** The active tfjs backend. */
  name: WebBackendName;
  /** One line on why (the faster backends it skipped, if any). */
  reason: string;
  /** For WebGPU: the adapter's vendor and description, as the browser reports them. */
  adapter?: string;
  /** For WebGPU: whether the adapter renders on the CPU (SwiftShader, llvmpipe). */
  software?: boolean;
  /** For WebGPU: whose kernels run, ours or tfjs's (see {@linkcode WebBackendOptions.kernels}). */
  kernels?: KernelSet;
}

/** Options for {@linkcode selectWebBackend}. */
export interface WebBackendOptions {
  /**
   * Where tfjs-backend-wasm's `.wasm` files are served (a folder URL ending in `/`). Default:
   * beside the page (`deno task web` copies them there).
   */
  wasmPaths?: string;
  /**
   * WebGPU kernels: `ours` (the training kernels of lib/backend/_webgpu_kernels), `stock`
   * (tfjs's), or `auto`: ours on a GPU, tfjs's on a CPU renderer such as SwiftShader, whose
   * shader compiler takes tens of seconds on our register-tiled kernels. Default: `auto`.
   */
  kernels?: KernelSet | "auto";
}

/**
 * tfjs's WebGPU backend on a device with the limits our kernels use raised to the adapter's
 * (tfjs's own factory keeps the default of 8 storage buffers per stage; our batch-norm kernels
 * bind 10). Priority below wasm's so that tfjs never picks it by itself.
 */
function registerWebGpu(): void {
  if (engine().registryFactory["webgpu"] !== undefined) removeBackend("webgpu");
  registerBackend("webgpu", async (): Promise<KernelBackend> => {
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
    if (adapter === null) throw new Error("navigator.gpu.requestAdapter() found no adapter");
    const limits: Record<string, number> = {};
    for (const name of WEBGPU_RAISED_LIMITS) {
      const value = (adapter.limits as unknown as Record<string, unknown>)[name];
      if (typeof value === "number") limits[name] = value;
    }
    const features = WEBGPU_WANTED_FEATURES as readonly GPUFeatureName[];
    const device = await adapter.requestDevice({
      requiredFeatures: features.filter((feature) => adapter.features.has(feature)),
      requiredLimits: limits,
    });
    device.lost.then((info) =>
      console.error(`WebGPU device lost (${info.reason}): ${info.message}`)
    );
    // tfjs types the constructor with its own copy of the WebGPU typings.
    return new WebGPUBackend(
      device as unknown as ConstructorParameters<typeof WebGPUBackend>[0],
      adapter.info as unknown as ConstructorParameters<typeof WebGPUBackend>[1],
    );
  }, 0);
}

if ((globalThis.navigator as { gpu?: unknown } | undefined)?.gpu !== undefined) registerWebGpu();

/** The browser's WebGPU adapter in words and whether it is a CPU renderer, or null. */
async function probeAdapter(): Promise<{ name: string; software: boolean } | null> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (gpu === undefined) return null;
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (adapter === null) return null;
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const name = [info?.vendor, info?.description || info?.architecture].filter(Boolean).join(" ") ||
    "unnamed adapter";
  const software = info?.isFallbackAdapter === true ||
    /swiftshader|llvmpipe|lavapipe|software|microsoft basic render/i.test(name);
  return { name, software };
}

async function activate(name: WebBackendName): Promise<string | null> {
  try {
    if (await setBackend(name) && getBackend() === name) return null;
    return "it did not start";
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * Makes `choice` the active backend. `auto` takes WebGPU on a GPU, else wasm (a CPU renderer
 * such as SwiftShader is slower than wasm, as Deno's `auto` also judges), else cpu; a named
 * backend that cannot start is an error naming why.
 *
 * @example
 * ```ts ignore
 * import { selectWebBackend } from "@denovision/denovision/web";
 * const { name, reason } = await selectWebBackend("auto");
 * console.log(`training on ${name}: ${reason}`);
 * ```
 */
export async function selectWebBackend(
  choice: WebBackendName | "auto" = "auto",
  options: WebBackendOptions = {},
): Promise<WebBackend> {
  // Asking again for what is running keeps it: a second adapter request can leave the
  // running device's instance behind in some browsers.
  const keep = current !== undefined && getBackend() === current.name &&
    (choice === current.name || (choice === "auto" && current.auto)) &&
    (options.kernels ?? "auto") === current.kernels;
  if (keep) return current!.backend;
  setWasmPaths(options.wasmPaths ?? new URL("./", globalThis.location?.href ?? "file:///").href);
  const chosen = await choose(choice, options.kernels ?? "auto");
  current = {
    name: chosen.name,
    auto: choice === "auto",
    kernels: options.kernels ?? "auto",
    backend: chosen,
  };
  return chosen;
}

/** The backend chosen last, and whether `auto` chose it. */
let current:
  | { name: WebBackendName; auto: boolean; kernels: KernelSet | "auto"; backend: WebBackend }
  | undefined;

async function choose(
  choice: WebBackendName | "auto",
  kernelChoice: KernelSet | "auto",
): Promise<WebBackend> {
  const skipped: string[] = [];
  if (choice === "auto" || choice === "webgpu") {
    const adapter = await probeAdapter();
    const why = adapter === null
      ? "this browser has no WebGPU adapter"
      : choice === "auto" && adapter.software
      ? `its WebGPU adapter (${adapter.name}) renders on the CPU, slower than wasm`
      : await activate("webgpu");
    if (why === null && adapter !== null) {
      const kernels = kernelChoice === "auto"
        ? (adapter.software ? "stock" : "ours")
        : kernelChoice;
      setWebGpuKernels(kernels);
      const note = kernels === "ours"
        ? "our training kernels"
        : kernelChoice === "stock"
        ? "tfjs's kernels, as asked"
        : "tfjs's kernels: ours compile too slowly on a CPU renderer";
      return {
        name: "webgpu",
        reason: `WebGPU on ${adapter.name}, ${note}`,
        adapter: adapter.name,
        software: adapter.software,
        kernels,
      };
    }
    if (choice === "webgpu") throw new Error(`WebGPU is unavailable: ${why}`);
    skipped.push(`not WebGPU: ${why}`);
  }
  for (const name of ["wasm", "cpu"] as const) {
    if (choice !== "auto" && choice !== name) continue;
    const why = await activate(name);
    if (why === null) {
      return { name, reason: [...skipped, `${name} started`].join("; ") };
    }
    if (choice === name) throw new Error(`the ${name} backend is unavailable: ${why}`);
    skipped.push(`not ${name}: ${why}`);
  }
  throw new Error(`no backend started: ${skipped.join("; ")}`);
}
