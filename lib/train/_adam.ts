// Internal: tfjs' Adam with a bounded update. tfjs updates every variable inside one tidy, so
// Adam's temporaries for all variables (~8 per variable: moments, corrections, the step) live at
// once: ~12× the weights, the largest peak of a ResNet-18 training step at small batches (606 MB
// of 742). This one updates each variable in its own tidy, with the same operations in the same
// order (the same numbers, bit for bit), the same state layout (moments kept by position, so
// checkpoints are unchanged), and the bias-correction powers advanced once per update.
import * as tf from "@tensorflow/tfjs-core";
import { adamScalars, canFuseAdam, fusedAdamUpdate } from "./_fused_adam.ts";
import { canUseWebGpuAdam, webGpuAdamUpdate } from "../backend/_webgpu_kernels/adam.ts";
import { kernelSet } from "../backend/_kernel_choice.ts";

interface Moment {
  originalName: string;
  variable: tf.Variable;
}

interface AdamState {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Moment[];
  accumulatedSecondMoment: Moment[];
  incrementIterations(): void;
}

/** Adam whose update keeps one variable's temporaries at a time. */
export class LeanAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: Parameters<tf.Optimizer["applyGradients"]>[0]): void {
    const state = this as unknown as AdamState;
    const entries: [string, tf.Tensor | undefined][] = Array.isArray(variableGradients)
      ? variableGradients.map((v: { name: string; tensor: tf.Tensor }) => [v.name, v.tensor])
      : Object.entries(variableGradients as tf.NamedTensorMap);
    const [oneMinusAccBeta1, oneMinusAccBeta2] = tf.tidy(() => [
      tf.sub(1, state.accBeta1),
      tf.sub(1, state.accBeta2),
    ]);
    const moment = (list: Moment[], i: number, name: string, suffix: string) => {
      if (list[i] == null) {
        const value = tf.engine().registeredVariables[name];
        list[i] = {
          originalName: `${name}/${suffix}`,
          variable: tf.tidy(() => tf.zerosLike(value).variable(false)),
        };
      }
      return list[i].variable;
    };
    // On wasm, one pass over the heap per variable instead of ~12 kernels (same numbers).
    const scalars = canFuseAdam(entries.flatMap(([, g]) => g ?? []))
      ? adamScalars(
        state.learningRate,
        state.beta1,
        state.beta2,
        state.epsilon,
        state.accBeta1.dataSync()[0],
        state.accBeta2.dataSync()[0],
      )
      : undefined;
    // On WebGPU, one dispatch per variable (our shader) instead of ~12 kernels.
    const onGpu = scalars === undefined && kernelSet("webgpu") === "ours" &&
      canUseWebGpuAdam(entries.flatMap(([, g]) => g ?? []));
    entries.forEach(([name, gradient], i) => {
      const first = moment(state.accumulatedFirstMoment, i, name, "m");
      const second = moment(state.accumulatedSecondMoment, i, name, "v");
      if (gradient == null) return;
      if (scalars !== undefined) {
        const value = tf.engine().registeredVariables[name];
        const updated = fusedAdamUpdate(value, gradient, first, second, scalars);
        value.assign(updated[0]);
        first.assign(updated[1]);
        second.assign(updated[2]);
        tf.dispose(updated);
        return;
      }
      if (onGpu) {
        const value = tf.engine().registeredVariables[name];
        const updated = webGpuAdamUpdate(
          value,
          gradient,
          first,
          second,
          oneMinusAccBeta1,
          oneMinusAccBeta2,
          state,
        );
        value.assign(updated[0]);
        first.assign(updated[1]);
        second.assign(updated[2]);
        tf.dispose(updated);
        return;
      }
      tf.tidy(() => {
        const value = tf.engine().registeredVariables[name];
        const m = tf.add(tf.mul(first, state.beta1), tf.mul(gradient, 1 - state.beta1));
        const v = tf.add(tf.mul(second, state.beta2), tf.mul(tf.square(gradient), 1 - state.beta2));
        const mHat = tf.div(m, oneMinusAccBeta1);
        const vHat = tf.div(v, oneMinusAccBeta2);
        first.assign(m);
        second.assign(v);
        const step = tf.mul(
          tf.div(mHat, tf.add(tf.sqrt(vHat), state.epsilon)),
          -state.learningRate,
        );
        value.assign(tf.add(step, value));
      });
    });
    tf.dispose([oneMinusAccBeta1, oneMinusAccBeta2]);
    tf.tidy(() => {
      state.accBeta1.assign(tf.mul(state.accBeta1, state.beta1));
      state.accBeta2.assign(tf.mul(state.accBeta2, state.beta2));
    });
    state.incrementIterations();
  }
}
