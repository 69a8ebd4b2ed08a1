// Internal: training with less memory under tfjs's tape, where every tensor made during a step
// lives until the step's gradients are done. Three changes, none of them numerical:
//
// 1. Batch norm in training mode is one fused op with its own gradient. tfjs-layers builds it from
//    moments (a full-size squared difference), a normalisation and, on the way back, a dozen more
//    full-size tensors; the fused op keeps its input and output and the per-channel statistics.
// 2. A ReLU with a cap (ReLU6, the hard-sigmoid's clip) is one clip instead of relu then clip.
// 3. The gradient flowing into each op (its `dy`) is released once the op's own input gradients
//    are made. tfjs keeps every one of them until the whole backward pass ends.
//
// Measured on MobileNetV2 at 224 px, wasm (BENCHMARKS.md, "Training memory").
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";

type Kwargs = Record<string, unknown>;
type LayerCall = (inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs) => tf.Tensor | tf.Tensor[];

interface BatchNormInternals {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: tfl.LayerVariable | null;
  beta: tfl.LayerVariable | null;
  movingMean: tfl.LayerVariable;
  movingVariance: tfl.LayerVariable;
}

/** y = γ·(x − μ)/√(σ² + ε) + β over every axis but the last, with its gradient written out. */
function fusedBatchNorm(epsilon: number) {
  let stats: [tf.Tensor, tf.Tensor] | undefined;
  const op = tf.customGrad((...args: unknown[]) => {
    const [x, gamma, beta] = args as tf.Tensor[];
    const save = args[3] as (tensors: tf.Tensor[]) => void;
    const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
    const [y, mean, variance, invStd] = tf.tidy(() => {
      const mean = tf.mean(x, axes);
      const variance = tf.mean(tf.squaredDifference(x, mean), axes);
      const invStd = tf.rsqrt(tf.add(variance, epsilon));
      const y = tf.add(tf.mul(tf.mul(tf.sub(x, mean), invStd), gamma), beta);
      return [y, mean, variance, invStd];
    });
    stats = [tf.keep(mean), tf.keep(variance)]; // the op disposes what it does not return
    save([x, mean, invStd, gamma]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const gradient = dy as tf.Tensor;
          const [x, mean, invStd, gamma] = saved;
          const n = x.size / mean.size;
          const xHat = tf.mul(tf.sub(x, mean), invStd);
          const dBeta = tf.sum(gradient, axes);
          const dGamma = tf.sum(tf.mul(gradient, xHat), axes);
          // dx = γ/(n·σ) · (n·dy − Σdy − x̂·Σ(dy·x̂))
          const inner = tf.sub(tf.sub(tf.mul(gradient, n), dBeta), tf.mul(xHat, dGamma));
          const dx = tf.mul(inner, tf.div(tf.mul(gamma, invStd), n));
          return [dx, dGamma, dBeta];
        }),
    };
  });
  return (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => {
    const y = (op as (...inputs: tf.Tensor[]) => tf.Tensor)(x, gamma, beta);
    const [mean, variance] = stats!;
    return { y, mean, variance };
  };
}

function leanBatchNormCall(original: LayerCall): LayerCall {
  return function (this: tfl.layers.Layer, inputs, kwargs) {
    const layer = this as unknown as BatchNormInternals;
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const lastAxis = layer.axis === -1 || layer.axis === input.rank - 1;
    if (!kwargs?.training || !lastAxis || layer.gamma === null || layer.beta === null) {
      return original.call(this, inputs, kwargs);
    }
    return tf.tidy(() => {
      const { y, mean, variance } = fusedBatchNorm(layer.epsilon)(
        input,
        layer.gamma!.read(),
        layer.beta!.read(),
      );
      // The moving averages as tfjs-layers updates them: v ← v − (v − value)·(1 − momentum).
      for (
        const [variable, value] of [[layer.movingMean, mean], [layer.movingVariance, variance]]
      ) {
        tf.tidy(() => {
          const current = (variable as tfl.LayerVariable).read();
          (variable as tfl.LayerVariable).write(
            tf.sub(current, tf.mul(tf.sub(current, value as tf.Tensor), 1 - layer.momentum)),
          );
        });
      }
      tf.dispose([mean, variance]);
      return y;
    });
  };
}

function leanReluCall(original: LayerCall): LayerCall {
  return function (this: tfl.layers.Layer, inputs, kwargs) {
    const maxValue = (this as unknown as { maxValue: number | null }).maxValue;
    if (maxValue === null || maxValue === undefined) return original.call(this, inputs, kwargs);
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    return tf.clipByValue(input, 0, maxValue);
  };
}

let layersPatched = false;

function patchLayers() {
  if (layersPatched) return;
  layersPatched = true;
  const patch = (layer: tfl.layers.Layer, lean: (original: LayerCall) => LayerCall) => {
    const prototype = Object.getPrototypeOf(layer) as { call: LayerCall };
    prototype.call = lean(prototype.call);
  };
  patch(tfl.layers.batchNormalization({}), leanBatchNormCall);
  patch(tfl.layers.reLU({}), leanReluCall);
}

type GradConfig = {
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: unknown) => unknown;
};
const wrapped = new WeakSet<GradConfig>();
let released: tf.Tensor[] = [];

/**
 * Wraps every registered gradient so that the `dy` of the op the tape processed last is released
 * when the next op's gradient starts: by then the tape has made every input gradient of that op
 * (it runs them at once, in reverse order), and tfjs-core's gradients never hand `dy` itself
 * on as an input gradient. Gradients registered later (another tfjs package loading) are wrapped
 * on the next call.
 */
function releaseUsedGradients() {
  const globals = (globalThis as { _tfGlobals?: Map<string, unknown> })._tfGlobals;
  const registry = globals?.get("gradRegistry") as Map<string, GradConfig> | undefined;
  if (registry === undefined) return;
  for (const config of registry.values()) {
    if (wrapped.has(config)) continue;
    const original = config.gradFunc;
    config.gradFunc = (dy, saved, attrs) => {
      for (const tensor of released) tensor.dispose();
      released = Array.isArray(dy) ? [...dy] : [dy];
      return original(dy, saved, attrs);
    };
    wrapped.add(config);
  }
}

/** Makes training steps lean (idempotent): call before a step is taken. */
export function useLeanTraining(): void {
  patchLayers();
  releaseUsedGradients();
}
