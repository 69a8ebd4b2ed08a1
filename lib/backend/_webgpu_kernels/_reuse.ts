// Internal: uniform buffers and bind groups reused where a training step repeats itself. Every
// dispatch of tfjs-backend-webgpu 4.22 takes a uniform buffer from its pool, writes the shapes
// into it and hands it back after the submit, and creates a bind group: on MobileNetV2 those were
// a quarter of a step's JavaScript time. The uniforms of a layer are the same at every step, so
// once our kernels run, the backend's makeUniforms keeps one buffer per distinct content (written
// once, never again) and our own dispatches keep their bind groups per pipeline and buffers.
// Both caches are bounded; an evicted uniform buffer goes back to the pool after the next submit,
// as tfjs's own do.
import type { Uniform } from "./_raw_program.ts";

/** Distinct uniform contents, and bind groups, kept at most. */
const MOST = 4096;

/** The parts of tfjs-backend-webgpu's WebGPUBackend this module patches and uses. */
interface Backend {
  makeUniforms(uniforms: Uniform[]): GPUBufferBinding;
  uniformPendingDisposal: GPUBuffer[];
}

const patched = new WeakSet<object>();

/** Bounded least-recently-used map: `get` refreshes, `set` returns what it evicted. */
class Lru<V> {
  readonly #map = new Map<string, V>();

  get(key: string): V | undefined {
    const value = this.#map.get(key);
    if (value !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): V | undefined {
    this.#map.set(key, value);
    if (this.#map.size <= MOST) return undefined;
    const [oldest, evicted] = this.#map.entries().next().value!;
    this.#map.delete(oldest);
    return evicted;
  }
}

/**
 * Makes the webgpu `backend` keep its uniform buffers by content (once per backend; every program
 * it runs afterwards, tfjs's and ours, takes them).
 */
export function reuseUniforms(backendObject: unknown): void {
  const backend = backendObject as Backend;
  if (patched.has(backend)) return;
  patched.add(backend);
  const make = backend.makeUniforms.bind(backend);
  const kept = new Lru<GPUBufferBinding>();
  backend.makeUniforms = (uniforms) => {
    const key = uniforms.map((u) => `${u.type[0]}${u.data.join(",")}`).join(";");
    const hit = kept.get(key);
    if (hit !== undefined) return hit;
    const binding = make(uniforms);
    // make() queued the buffer's return to the pool after the next submit: keep it instead.
    backend.uniformPendingDisposal.pop();
    const evicted = kept.set(key, binding);
    if (evicted !== undefined) backend.uniformPendingDisposal.push(evicted.buffer);
    return binding;
  };
}

const bufferIds = new WeakMap<GPUBuffer, number>();
let nextBufferId = 0;
const bindGroups = new WeakMap<GPUDevice, Lru<GPUBindGroup>>();

function bufferId(buffer: GPUBuffer): number {
  let id = bufferIds.get(buffer);
  if (id === undefined) bufferIds.set(buffer, id = nextBufferId++);
  return id;
}

/**
 * The bind group of `pipeline` (named `key`) over `bindings`, made once per distinct set of
 * buffers: the backend's pool hands the same buffers out again step after step.
 */
export function bindGroupFor(
  device: GPUDevice,
  key: string,
  pipeline: GPUComputePipeline,
  bindings: GPUBufferBinding[],
): GPUBindGroup {
  let cache = bindGroups.get(device);
  if (cache === undefined) bindGroups.set(device, cache = new Lru());
  const id = `${key}|${
    bindings.map((b) => `${bufferId(b.buffer)}@${b.offset ?? 0}+${b.size ?? ""}`).join(",")
  }`;
  const hit = cache.get(id);
  if (hit !== undefined) return hit;
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: bindings.map((resource, binding) => ({ binding, resource })),
  });
  cache.set(id, group);
  return group;
}
