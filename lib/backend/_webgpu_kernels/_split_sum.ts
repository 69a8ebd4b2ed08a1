// Internal: what our split-K WebGPU kernels share: the backend's program runner, and the last
// step, which sums the splits' partial results (one Sum dispatch) and gives them their shape.
import { getKernel, type KernelBackend, type TensorInfo } from "@tensorflow/tfjs-core";

/** The part of tfjs-backend-webgpu's WebGPUBackend our kernels use. */
export interface WebGpuBackendInternals {
  runWebGPUProgram(
    program: unknown,
    inputs: TensorInfo[],
    dtype: "float32",
    uniforms: { type: "int32"; data: number[] }[],
  ): TensorInfo;
  disposeData(dataId: unknown): void;
}

/** Runs the webgpu backend's own kernel `name` on one input. */
function runKernel(
  name: string,
  backend: unknown,
  input: TensorInfo,
  attrs: Record<string, unknown>,
): TensorInfo {
  return getKernel(name, "webgpu")!.kernelFunc({
    inputs: { x: input },
    backend: backend as KernelBackend,
    attrs: attrs as never,
  }) as TensorInfo;
}

/**
 * `partial` ([splits, …]) summed over its first axis when `splits` > 1, reshaped to `shape`;
 * the intermediate buffers are released.
 */
export function finishSplits(
  backend: unknown,
  partial: TensorInfo,
  splits: number,
  shape: number[],
): TensorInfo {
  const gpu = backend as unknown as WebGpuBackendInternals;
  const summed = splits === 1
    ? partial
    : runKernel("Sum", backend, partial, { axis: [0], keepDims: false });
  const output = runKernel("Reshape", backend, summed, { shape });
  if (summed !== partial) gpu.disposeData(summed.dataId);
  gpu.disposeData(partial.dataId);
  return output;
}
