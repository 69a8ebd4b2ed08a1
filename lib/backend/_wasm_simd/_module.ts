// Internal: instantiates one of this folder's WebAssembly SIMD modules on tfjs-backend-wasm's own
// memory, so that its functions work in place on the backend's tensors.
import { kernelSet } from "../_kernel_choice.ts";
import type { TensorInfo } from "@tensorflow/tfjs-core";

/** A module of ours, built twice by build.sh: for a shared memory and for an unshared one. */
export interface SimdModuleSource {
  /** The build for the threaded backend's shared memory, base64. */
  shared: string;
  /** The build for the single-threaded backend's own memory, base64. */
  plain: string;
}

/** What our kernels use of tfjs-backend-wasm's internals. */
export interface WasmBackendInternals {
  wasm?: { wasmMemory?: WebAssembly.Memory; asm?: { memory?: WebAssembly.Memory } };
  dataIdMap: { get(dataId: unknown): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: "float32" | "int32"): TensorInfo;
  disposeData(dataId: unknown): void;
}

const instances = new WeakMap<SimdModuleSource, WeakMap<WebAssembly.Memory, unknown>>();
const compiled = new WeakMap<SimdModuleSource, Map<boolean, WebAssembly.Module>>();

function decode(base64: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

/**
 * The backend's memory: the threaded build's shared one (`Module.wasmMemory`) or the
 * single-threaded build's own (`Module.asm.memory`); undefined for another backend.
 */
export function backendMemory(backend: unknown): WebAssembly.Memory | undefined {
  const memory = (backend as WasmBackendInternals).wasm?.wasmMemory ??
    (backend as WasmBackendInternals).wasm?.asm?.memory;
  return memory instanceof WebAssembly.Memory ? memory : undefined;
}

/**
 * `source`'s build for a shared memory or an unshared one, compiled once (it throws on an engine
 * without wasm SIMD or relaxed SIMD). The helper thread instantiates the same compiled module.
 */
export function compiledModule(source: SimdModuleSource, shared: boolean): WebAssembly.Module {
  let byKind = compiled.get(source);
  if (byKind === undefined) compiled.set(source, byKind = new Map());
  let module = byKind.get(shared);
  if (module === undefined) {
    module = new WebAssembly.Module(decode(shared ? source.shared : source.plain));
    byKind.set(shared, module);
  }
  return module;
}

/**
 * The exports of `source` instantiated on `backend`'s memory (once per memory), or null where it
 * cannot be (not the wasm backend, an engine without wasm SIMD): the caller then takes the path
 * it had before. Both builds of the backend running it keeps a run's numbers the same on 1 thread
 * and on many.
 */
export function simdModule<T>(backend: unknown, source: SimdModuleSource): T | null {
  if (kernelSet("wasm") === "stock") return null; // the reference: tfjs-backend-wasm's own paths
  const memory = backendMemory(backend);
  if (memory === undefined) return null;
  let byMemory = instances.get(source);
  if (byMemory === undefined) instances.set(source, byMemory = new WeakMap());
  if (!byMemory.has(memory)) {
    const shared = isShared(memory.buffer);
    let exports: unknown = null;
    try {
      const module = compiledModule(source, shared);
      exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
    } catch {
      exports = null; // an engine without wasm SIMD (or relaxed SIMD)
    }
    byMemory.set(memory, exports);
  }
  return byMemory.get(memory) as T | null;
}

/** The heap address of a tensor's data: stable for the tensor's life, however the heap grows. */
export function heapOffset(backend: unknown, info: TensorInfo): number {
  return (backend as WasmBackendInternals).dataIdMap.get(info.dataId)!.memoryOffset;
}

/**
 * Whether `buffer` is shared memory (the threaded build's). A page that is not cross-origin
 * isolated has no `SharedArrayBuffer` global at all.
 */
export function isShared(buffer: ArrayBufferLike): boolean {
  return typeof SharedArrayBuffer !== "undefined" && buffer instanceof SharedArrayBuffer;
}
