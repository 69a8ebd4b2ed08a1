// Internal: a compute shader with several outputs, run in tfjs-backend-webgpu's own command
// stream. tfjs's programs write one output each, so a kernel that yields several tensors (batch
// norm's y and statistics, Adam's weight and two moments) took a dispatch per output, or one
// dispatch and a Slice per output. Here the shader declares its outputs and inputs itself, the
// outputs are new tensors of the backend, and the dispatch is recorded into the backend's current
// compute pass with the same bookkeeping as its runWebGPUProgram: the buffers marked in use by the
// queue, the pass submitted every WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE dispatches, and a timestamp
// query per dispatch while tf.profile is timing. Uniform buffers and bind groups are reused
// where the step repeats (_reuse.ts).
import { env, type TensorInfo } from "@tensorflow/tfjs-core";
import { bindGroupFor, reuseUniforms } from "./_reuse.ts";

/** The parts of tfjs-backend-webgpu 4.22's WebGPUBackend this module drives. */
interface Backend {
  device: GPUDevice;
  commandEncoder: GPUCommandEncoder | null;
  computePassEncoder: GPUComputePassEncoder | null;
  dispatchCountInPass: number;
  commandQueueOwnedIds: WeakSet<object>;
  activeTimers: { name: string; query: Promise<number> }[] | null;
  supportTimestampQuery: boolean;
  querySet: GPUQuerySet | null;
  querySetCount: number;
  makeTensorInfo(shape: number[], dtype: "float32"): TensorInfo;
  uploadToGPU(dataId: object): void;
  tensorToBinding(tensor: TensorInfo): GPUBufferBinding;
  makeUniforms(uniforms: Uniform[]): GPUBufferBinding;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  getQueryTime(): Promise<number>;
}

/** One uniform: a scalar or a vector of up to 4 (tfjs's makeUniforms lays them out). */
export interface Uniform {
  type: "int32" | "float32";
  data: number[];
}

/** A storage binding's element type: a float or a vec4 of them. */
export type Element = "f32" | "vec4<f32>";

/** What a raw program is: its name (the pipeline cache's key) and its WGSL after the bindings. */
export interface RawProgram {
  /** Unique per distinct WGSL text. */
  key: string;
  /** Output names, types and shapes (bindings 0…). */
  outputs: { name: string; element: Element; shape: number[] }[];
  /** Input names and types (the bindings after the outputs), in the order of `inputs`. */
  inputs: { name: string; element: Element }[];
  /** The Uniforms struct's fields, as WGSL (`a : i32, b : f32,`), matching the uniform data. */
  uniforms: string;
  /** Threads per workgroup (flat). */
  workgroupSize: number;
  /** The shader's body: an `fn main(t : i32)` called once per thread index below `threads`. */
  main: string;
}

const pipelines = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/** Most workgroups along x: larger grids wrap into y. */
const MAX_GROUPS_X = 32768;

function source(program: RawProgram): string {
  const storage = [
    ...program.outputs.map((o) => `var<storage, read_write> ${o.name} : array<${o.element}>;`),
    ...program.inputs.map((i) => `var<storage, read> ${i.name} : array<${i.element}>;`),
  ].map((declaration, binding) => `@group(0) @binding(${binding}) ${declaration}`);
  const uniformBinding = storage.length;
  return `
${storage.join("\n")}
struct Uniforms { threads : i32, groupsX : i32, ${program.uniforms} };
@group(0) @binding(${uniformBinding}) var<uniform> uniforms : Uniforms;
${program.main}
@compute @workgroup_size(${program.workgroupSize}, 1, 1)
fn _start(@builtin(workgroup_id) group : vec3<u32>, @builtin(local_invocation_index) lane : u32) {
  let t = (i32(group.y) * uniforms.groupsX + i32(group.x)) * ${program.workgroupSize} + i32(lane);
  if (t < uniforms.threads) {
    main(t);
  }
}`;
}

function pipeline(device: GPUDevice, program: RawProgram): GPUComputePipeline {
  let cache = pipelines.get(device);
  if (cache === undefined) pipelines.set(device, cache = new Map());
  let compiled = cache.get(program.key);
  if (compiled === undefined) {
    const module = device.createShaderModule({ code: source(program) });
    compiled = device.createComputePipeline({
      layout: "auto",
      compute: { module, entryPoint: "_start" },
    });
    cache.set(program.key, compiled);
  }
  return compiled;
}

/**
 * Runs `program` over `threads` threads on the webgpu `backend` with `inputs` and `uniforms`
 * (after the two the runner adds: the thread count and the grid's width), and returns its
 * outputs as new tensors of the backend.
 */
export function runRawProgram(
  backendObject: unknown,
  program: RawProgram,
  inputs: TensorInfo[],
  uniforms: Uniform[],
  threads: number,
): TensorInfo[] {
  const backend = backendObject as Backend;
  reuseUniforms(backend);
  const outputs = program.outputs.map((o) => backend.makeTensorInfo(o.shape, "float32"));
  const tensors = [...outputs, ...inputs];
  for (const t of tensors) backend.uploadToGPU(t.dataId);
  const groups = Math.max(1, Math.ceil(threads / program.workgroupSize));
  const groupsX = Math.min(groups, MAX_GROUPS_X);
  const uniformBinding = backend.makeUniforms([
    { type: "int32", data: [threads] },
    { type: "int32", data: [groupsX] },
    ...uniforms,
  ]);
  const compiled = pipeline(backend.device, program);
  const bindGroup = bindGroupFor(backend.device, program.key, compiled, [
    ...tensors.map((t) => backend.tensorToBinding(t)),
    uniformBinding,
  ]);
  for (const t of tensors) backend.commandQueueOwnedIds.add(t.dataId);
  const timed = backend.activeTimers !== null && backend.activeTimers !== undefined;
  backend.ensureCommandEncoderReady();
  if (timed && backend.supportTimestampQuery) {
    backend.endComputePassEncoder();
    backend.querySet ??= backend.device.createQuerySet({
      type: "timestamp",
      count: backend.querySetCount,
    });
    backend.computePassEncoder = backend.commandEncoder!.beginComputePass({
      timestampWrites: {
        querySet: backend.querySet,
        beginningOfPassWriteIndex: 0,
        endOfPassWriteIndex: 1,
      },
    });
  } else if (!backend.computePassEncoder) {
    backend.computePassEncoder = backend.commandEncoder!.beginComputePass({});
  }
  const pass = backend.computePassEncoder!;
  pass.setPipeline(compiled);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(groupsX, Math.ceil(groups / groupsX), 1);
  backend.dispatchCountInPass++;
  const batch = env().get("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE") as number;
  if (timed || batch <= backend.dispatchCountInPass) {
    backend.endComputePassEncoder();
    if (timed) backend.activeTimers!.push({ name: program.key, query: backend.getQueryTime() });
    else backend.submitQueue();
  }
  return outputs;
}
