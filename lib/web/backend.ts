/**
 * Backends in a web page: tfjs's WebGPU backend on the browser's `navigator.gpu` with our
 * training kernels, else tfjs's wasm backend with ours (single-threaded unless the page is
 * cross-origin isolated), else cpu. The Deno side (`selectBackend`) has its own device factory
 * and threads; this one uses what the browser gives.
 *
 * @module
 */
import "@tensorflow/tfjs-backend-cpu";
import "@tensorflow/tfjs-backend-webgpu";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { getBackend, setBackend } from "@tensorflow/tfjs-core";
import "../backend/webgpu_kernels.ts";
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
}

/** Options for {@linkcode selectWebBackend}. */
export interface WebBackendOptions {
  /**
   * Where tfjs-backend-wasm's `.wasm` files are served (a folder URL ending in `/`). Default:
   * beside the page (`deno task web` copies them there).
   */
  wasmPaths?: string;
}

/** The browser's WebGPU adapter in words, or null when it has none. */
async function adapterName(): Promise<string | null> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (gpu === undefined) return null;
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (adapter === null) return null;
  const info = adapter.info;
  return [info?.vendor, info?.description || info?.architecture].filter(Boolean).join(" ") ||
    "unnamed adapter";
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
 * Makes `choice` the active backend. `auto` takes WebGPU wherever the browser has an adapter
 * (software ones included: the user picked this page to use it), then wasm, then cpu; a named
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
  setWasmPaths(options.wasmPaths ?? new URL("./", globalThis.location?.href ?? "file:///").href);
  const skipped: string[] = [];
  if (choice === "auto" || choice === "webgpu") {
    const adapter = await adapterName();
    const why = adapter === null ? "this browser has no WebGPU adapter" : await activate("webgpu");
    if (why === null) {
      return { name: "webgpu", reason: `WebGPU on ${adapter}`, adapter: adapter ?? undefined };
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
