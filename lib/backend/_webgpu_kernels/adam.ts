// Internal: Adam's update of one variable on WebGPU in 3 dispatches instead of tfjs's ~12 (two
// moments, two bias corrections, the step, the assignment, each its own kernel): one shader
// reads the weight, gradient and both moments and writes the new weight, first or second moment
// (a uniform says which), so the three share one compiled pipeline. The bias corrections
// 1 − β₁ᵗ and 1 − β₂ᵗ come in as one-element tensors: they live on the device, and Deno's WebGPU
// has no synchronous read to bring them to the host. The arithmetic is tfjs's Adam's.
import * as tf from "@tensorflow/tfjs-core";
import { webgpu_util } from "@tensorflow/tfjs-backend-webgpu";
import type { WebGpuBackendInternals } from "./_split_sum.ts";

class AdamProgram {
  readonly variableNames = ["w", "g", "m", "v", "c1", "c2"];
  readonly uniforms = "beta1 : f32, beta2 : f32, oneMinusBeta1 : f32, oneMinusBeta2 : f32, " +
    "epsilon : f32, negativeLr : f32, which : i32,";
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;
  readonly outputShape: number[];
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly shaderKey = "denovisionAdam";

  constructor(shape: number[]) {
    this.outputShape = shape;
    this.dispatchLayout = webgpu_util.flatDispatchLayout(shape);
    this.dispatch = webgpu_util.computeDispatch(this.dispatchLayout, shape, this.workgroupSize);
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index >= uniforms.size) {
          return;
        }
        let gi = g[index];
        let mi = m[index] * uniforms.beta1 + gi * uniforms.oneMinusBeta1;
        let vi = v[index] * uniforms.beta2 + (gi * gi) * uniforms.oneMinusBeta2;
        if (uniforms.which == 1) {
          setOutputAtIndex(index, mi);
        } else if (uniforms.which == 2) {
          setOutputAtIndex(index, vi);
        } else {
          let mHat = mi / c1[0];
          let vHat = vi / c2[0];
          setOutputAtIndex(index, (mHat / (sqrt(vHat) + uniforms.epsilon)) * uniforms.negativeLr + w[index]);
        }
      }
    `;
  }
}

/** Adam's hyperparameters, as tfjs's AdamOptimizer holds them. */
export interface AdamHyper {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/**
 * The new weight, first and second moments of `value` after one Adam step with `gradient`, as
 * new tensors (the caller assigns and disposes them). `oneMinusAccBeta1` and `…2` are the scalar
 * tensors 1 − β₁ᵗ and 1 − β₂ᵗ of this step.
 */
export function webGpuAdamUpdate(
  value: tf.Tensor,
  gradient: tf.Tensor,
  first: tf.Tensor,
  second: tf.Tensor,
  oneMinusAccBeta1: tf.Tensor,
  oneMinusAccBeta2: tf.Tensor,
  hyper: AdamHyper,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const backend = tf.backend() as unknown as WebGpuBackendInternals;
  const program = new AdamProgram(value.shape);
  const inputs = [value, gradient, first, second, oneMinusAccBeta1, oneMinusAccBeta2];
  const engine = tf.engine() as unknown as {
    makeTensorFromTensorInfo(info: tf.TensorInfo): tf.Tensor;
  };
  // One entry per scalar uniform: tfjs aligns each entry by its length.
  const scalars = [
    hyper.beta1,
    hyper.beta2,
    1 - hyper.beta1,
    1 - hyper.beta2,
    hyper.epsilon,
    -hyper.learningRate,
  ].map((value) => ({ type: "float32", data: [value] }));
  const run = (which: number) =>
    engine.makeTensorFromTensorInfo(
      backend.runWebGPUProgram(program, inputs, "float32", [
        ...scalars,
        { type: "int32", data: [which] },
      ] as never),
    );
  return [run(0), run(1), run(2)];
}

/** Whether Adam's update can run as webGpuAdamUpdate: the webgpu backend, float32 tensors. */
export function canUseWebGpuAdam(tensors: readonly tf.Tensor[]): boolean {
  return tf.getBackend() === "webgpu" && tensors.every((t) => t.dtype === "float32");
}
