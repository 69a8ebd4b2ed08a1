// Internal: what our split-K WebGPU kernels share: the backend's program runner, and the last
// step, which sums the splits' partial results in one dispatch and gives them their shape.
// (tfjs's Sum over the first axis of [splits, n] first transposes the whole partial buffer so
// that the summed axis is innermost: two dispatches, one of them tiled in workgroup memory.)
import type { TensorInfo } from "@tensorflow/tfjs-core";
import { runRawProgram } from "./_raw_program.ts";

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

/** out[i] = Σ_s partial[s, i], a thread per 4 values (or per value when n is not a multiple). */
function splitSumProgram(vec: boolean, shape: number[]) {
  const element = vec ? "vec4<f32>" as const : "f32" as const;
  return {
    key: `denovisionSplitSum_${vec}`,
    outputs: [{ name: "total", element, shape }],
    inputs: [{ name: "partial", element }],
    uniforms: "splits : i32, width : i32,",
    workgroupSize: 64,
    main: `
    fn main(t : i32) {
      var sum = partial[t];
      for (var s = 1; s < uniforms.splits; s++) {
        sum += partial[s * uniforms.width + t];
      }
      total[t] = sum;
    }`,
  };
}

/**
 * `partial` ([splits, …]) summed over its first axis, in `shape`; `partial` is released. With one
 * split, it is only given the shape.
 */
export function finishSplits(
  backend: unknown,
  partial: TensorInfo,
  splits: number,
  shape: number[],
): TensorInfo {
  // One split: the same buffer under the new shape, its one reference handed on.
  if (splits === 1) return { dataId: partial.dataId, shape, dtype: partial.dtype };
  const size = shape.reduce((p, q) => p * q, 1);
  const vec = size % 4 === 0;
  const width = vec ? size / 4 : size;
  const [output] = runRawProgram(backend, splitSumProgram(vec, shape), [partial], [
    { type: "int32", data: [splits] },
    { type: "int32", data: [width] },
  ], width);
  (backend as WebGpuBackendInternals).disposeData(partial.dataId);
  return output;
}
