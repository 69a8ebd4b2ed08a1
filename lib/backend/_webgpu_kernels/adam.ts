// Internal: Adam's update of one variable on WebGPU in one dispatch instead of tfjs's ~12 (two
// moments, two bias corrections, the step, the assignment, each its own kernel): one shader
// reads the weight, gradient and both moments and writes the new weight and both moments
// (_raw_program.ts), a vec4 a thread where the size allows. The bias corrections 1 − β₁ᵗ and
// 1 − β₂ᵗ come in as one-element tensors: they live on the device, and Deno's WebGPU has no
// synchronous read to bring them to the host. The arithmetic is tfjs's Adam's.
import * as tf from "@tensorflow/tfjs-core";
import { runRawProgram } from "./_raw_program.ts";

function adamProgram(vec: boolean, shape: number[]) {
  const element = vec ? "vec4<f32>" as const : "f32" as const;
  return {
    key: `denovisionAdam_${vec}`,
    outputs: ["newW", "newM", "newV"].map((name) => ({ name, element, shape })),
    inputs: [
      ...["w", "g", "m", "v"].map((name) => ({ name, element })),
      { name: "c1", element: "f32" as const },
      { name: "c2", element: "f32" as const },
    ],
    uniforms: "beta1 : f32, beta2 : f32, oneMinusBeta1 : f32, oneMinusBeta2 : f32, " +
      "epsilon : f32, negativeLr : f32,",
    workgroupSize: 64,
    main: `
    fn main(t : i32) {
      let gi = g[t];
      let mi = m[t] * uniforms.beta1 + gi * uniforms.oneMinusBeta1;
      let vi = v[t] * uniforms.beta2 + (gi * gi) * uniforms.oneMinusBeta2;
      let mHat = mi / c1[0];
      let vHat = vi / c2[0];
      newM[t] = mi;
      newV[t] = vi;
      newW[t] = (mHat / (sqrt(vHat) + uniforms.epsilon)) * uniforms.negativeLr + w[t];
    }`,
  };
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
  const vec = value.size % 4 === 0;
  const uniforms = [
    hyper.beta1,
    hyper.beta2,
    1 - hyper.beta1,
    1 - hyper.beta2,
    hyper.epsilon,
    -hyper.learningRate,
  ].map((v) => ({ type: "float32" as const, data: [v] }));
  const outputs = runRawProgram(
    tf.backend(),
    adamProgram(vec, value.shape),
    [value, gradient, first, second, oneMinusAccBeta1, oneMinusAccBeta2],
    uniforms,
    vec ? value.size / 4 : value.size,
  );
  const engine = tf.engine() as unknown as {
    makeTensorFromTensorInfo(info: tf.TensorInfo): tf.Tensor;
  };
  const [w, m, v] = outputs.map((info) => engine.makeTensorFromTensorInfo(info));
  return [w, m, v];
}

/** Whether Adam's update can run as webGpuAdamUpdate: the webgpu backend, float32 tensors. */
export function canUseWebGpuAdam(tensors: readonly tf.Tensor[]): boolean {
  return tf.getBackend() === "webgpu" && tensors.every((t) => t.dtype === "float32");
}
