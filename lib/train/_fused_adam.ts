// Internal: Adam's per-variable update as one pass over the wasm heap. tfjs runs Adam as ~12
// kernels per variable (two moments, two corrections, the step, the assignment), each a round
// trip through the wasm backend that costs more than the arithmetic on small layers: a third of
// LeNet's training step. Here one loop reads the weight, gradient and moments in place and
// writes the three results into fresh heap buffers, with each operation rounded to float32 in
// the same order as the kernels (`Math.fround` after an f64 operation on f32 inputs is the f32
// operation), so the numbers are those of tfjs' Adam, bit for bit. The results are new tensors,
// as `assign` makes them, never writes into the old buffers: XNNPACK caches its packed filters
// by tensor id, so a weight changed in place would keep being used as it was. Where the engine
// has wasm SIMD, the same arithmetic runs as our SIMD module (lib/backend/_wasm_simd/adam.c, four
// values a step, bit-identical to the loop): ResNet-18's 11M weights took ~100 ms a step in the loop.
import * as tf from "@tensorflow/tfjs-core";
import { kernelSet } from "../backend/_kernel_choice.ts";
import { heapOffset, simdModule } from "../backend/_wasm_simd/_module.ts";
import { ADAM_PLAIN, ADAM_SHARED } from "../backend/_wasm_simd/adam_wasm.ts";

const SIMD = { shared: ADAM_SHARED, plain: ADAM_PLAIN };

interface AdamSimd {
  adam_update(...args: number[]): void;
}

let useSimd = true;

/**
 * Turns the SIMD module off (false: the TypeScript loop, as on an engine without wasm SIMD) or
 * back on; returns the previous setting. For tests, which compare both with tfjs' Adam.
 *
 * @example
 * ```ts
 * import { setFusedAdamSimd } from "./_fused_adam.ts";
 * const previous = setFusedAdamSimd(false);
 * setFusedAdamSimd(previous);
 * ```
 */
export function setFusedAdamSimd(enabled: boolean): boolean {
  const previous = useSimd;
  useSimd = enabled;
  return previous;
}

/** The part of tfjs-backend-wasm's backend this pass uses. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: "float32"): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

/** Adam's hyperparameters for one update, as the float32 scalars the kernels would use. */
export interface AdamScalars {
  beta1: number;
  beta2: number;
  oneMinusBeta1: number;
  oneMinusBeta2: number;
  oneMinusAccBeta1: number;
  oneMinusAccBeta2: number;
  epsilon: number;
  negativeLr: number;
}

/** The float32 scalars of one update: `accBeta1`/`accBeta2` are β₁ᵗ and β₂ᵗ before this step. */
export function adamScalars(
  lr: number,
  beta1: number,
  beta2: number,
  epsilon: number,
  accBeta1: number,
  accBeta2: number,
): AdamScalars {
  const f = Math.fround;
  return {
    beta1: f(beta1),
    beta2: f(beta2),
    oneMinusBeta1: f(1 - beta1),
    oneMinusBeta2: f(1 - beta2),
    oneMinusAccBeta1: f(1 - f(accBeta1)),
    oneMinusAccBeta2: f(1 - f(accBeta2)),
    epsilon: f(epsilon),
    negativeLr: f(-lr),
  };
}

/** True when the fused pass can update `tensors` (all float32, on the wasm backend). */
export function canFuseAdam(tensors: readonly tf.Tensor[]): boolean {
  return tf.getBackend() === "wasm" && kernelSet("wasm") === "ours" &&
    tensors.every((t) => t.dtype === "float32");
}

/**
 * One Adam update of `value` with `gradient`: returns the new weight, first and second moments
 * as new tensors (the caller assigns and disposes them).
 */
export function fusedAdamUpdate(
  value: tf.Tensor,
  gradient: tf.Tensor,
  first: tf.Tensor,
  second: tf.Tensor,
  s: AdamScalars,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const backend = tf.backend() as unknown as WasmHeapBackend;
  const shape = value.shape;
  const outputs = [0, 1, 2].map(() => backend.makeOutput(shape, "float32"));
  const simd = useSimd ? simdModule<AdamSimd>(backend, SIMD) : null;
  if (simd !== null) {
    const at = (t: tf.TensorInfo) => heapOffset(backend, t);
    simd.adam_update(
      ...[value, gradient, first, second, ...outputs].map(at),
      value.size,
      s.beta1,
      s.beta2,
      s.oneMinusBeta1,
      s.oneMinusBeta2,
      s.oneMinusAccBeta1,
      s.oneMinusAccBeta2,
      s.epsilon,
      s.negativeLr,
    );
  } else {
    adamLoop(value, gradient, first, second, outputs, s);
  }
  const engine = tf.engine() as unknown as {
    makeTensorFromTensorInfo(info: tf.TensorInfo): tf.Tensor;
  };
  const [newValue, newFirst, newSecond] = outputs.map((info) =>
    engine.makeTensorFromTensorInfo(info)
  );
  return [newValue, newFirst, newSecond];
}

/** The update as a TypeScript loop over the heap, each operation rounded to float32. */
function adamLoop(
  value: tf.Tensor,
  gradient: tf.Tensor,
  first: tf.Tensor,
  second: tf.Tensor,
  outputs: tf.TensorInfo[],
  s: AdamScalars,
): void {
  const backend = tf.backend() as unknown as WasmHeapBackend;
  // Views only after every allocation: one may grow the heap and replace its buffer.
  const w = backend.typedArrayFromHeap(value);
  const g = backend.typedArrayFromHeap(gradient);
  const m = backend.typedArrayFromHeap(first);
  const v = backend.typedArrayFromHeap(second);
  const [wOut, mOut, vOut] = outputs.map((info) => backend.typedArrayFromHeap(info));
  const f = Math.fround;
  const { beta1, beta2, oneMinusBeta1, oneMinusBeta2, epsilon, negativeLr } = s;
  const { oneMinusAccBeta1, oneMinusAccBeta2 } = s;
  for (let i = 0; i < w.length; i++) {
    const gi = g[i];
    const mi = f(f(m[i] * beta1) + f(gi * oneMinusBeta1));
    const vi = f(f(v[i] * beta2) + f(f(gi * gi) * oneMinusBeta2));
    mOut[i] = mi;
    vOut[i] = vi;
    const mHat = f(mi / oneMinusAccBeta1);
    const vHat = f(vi / oneMinusAccBeta2);
    const step = f(f(mHat / f(f(Math.sqrt(vHat)) + epsilon)) * negativeLr);
    wOut[i] = f(step + w[i]);
  }
}
