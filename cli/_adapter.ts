// Internal: the --adapter flag shared by the commands that take --backend.
import {
  type AdapterChoice,
  type BackendChoice,
  parseAdapterChoice,
  parseBackendChoice,
  registerWebGpuBackend,
} from "../mod.ts";
import { type FlagSpec, UsageError } from "./_args.ts";

/** `--adapter`: which WebGPU adapter to train or run on. */
export const ADAPTER_FLAG: FlagSpec = {
  type: "string",
  description: "WebGPU adapter: high-performance, low-power or software (implies --backend webgpu)",
};

/** The `--adapter` value, or undefined when not given; a bad value is a one-line UsageError. */
export function adapterFlag(value: unknown): AdapterChoice | undefined {
  if (value === undefined) return undefined;
  try {
    return parseAdapterChoice(String(value));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** A `--backend` value, checked: a bad one is a one-line UsageError. */
export function backendFlag(value: unknown): BackendChoice {
  try {
    return parseBackendChoice(String(value));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * The backend a run uses once `--adapter` is applied: naming an adapter asks for WebGPU (so
 * `auto` becomes `webgpu`), registers the backend on that adapter, and is an error with `wasm`
 * or `cpu`.
 */
export function applyAdapter(backend: BackendChoice, adapter: AdapterChoice | undefined) {
  if (adapter === undefined) return backend;
  if (backend === "wasm" || backend === "cpu") {
    throw new UsageError(`--adapter ${adapter} needs --backend webgpu or auto, not ${backend}`);
  }
  registerWebGpuBackend({ adapter });
  return "webgpu";
}
