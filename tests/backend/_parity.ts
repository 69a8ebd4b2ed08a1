// Internal test helper: one training step of a zoo model through the trainer's own step function
// (lib/train/_batch_step.ts, with the lean batch-norm path on, as `fit` runs it) on a named
// backend, from given weights and a given batch, returning everything parity tests compare: the
// loss, each trainable variable's gradient, every weight after Adam, and the logits of the
// updated model in inference mode (batch norm's moving statistics). All reads are async, because
// WebGPU in Deno has no synchronous read.
import * as tf from "@tensorflow/tfjs-core";
import type * as tfl from "@tensorflow/tfjs-layers";
import {
  type BackendName,
  createModel,
  createOptimizer,
  crossEntropy,
  freeze,
  splitFrozen,
  type Stem,
  useBackend,
} from "../../mod.ts";
import { batchStep, type BatchStepContext } from "../../lib/train/_batch_step.ts";
import { useLeanTraining } from "../../lib/train/_lean.ts";

/** One parity case: a zoo model at a small input, and the training features it exercises. */
export interface StepCase {
  model: string;
  side: number;
  channels?: number;
  batch: number;
  numClasses?: number;
  stem?: Stem;
  mixupAlpha?: number;
  /** Freeze every layer up to this one (the frozen-prefix path), or all but the last (`true`). */
  freezeUpTo?: string | true;
  /** The batch itself (real photos, NHWC), instead of normal noise and labels 0, 1, 2, …. */
  data?: { images: Float32Array; labels: Int32Array };
}

/** What one step produced, in plain arrays. */
export interface StepResult {
  loss: number;
  /** Gradient per trainable weight, by its position in `model.trainableWeights`. */
  grads: Float32Array[];
  /** Names of the trainable weights, in the same order. */
  gradNames: string[];
  /** Where each trainable weight is in `weights`. */
  trainableAt: number[];
  /** Names of every weight, in `weights` order. */
  weightNames: string[];
  /** Every weight (trainable or not) after the update, in `model.getWeights()` order. */
  weights: Float32Array[];
  /** Every weight before the update. */
  initial: Float32Array[];
  /** Logits of the updated model in inference mode on the same batch. */
  inference: Float32Array;
}

/** The batch of a case: normal images and labels 0, 1, 2, …, the same on every backend. */
export function caseBatch(c: StepCase): { images: Float32Array; labels: Int32Array } {
  if (c.data !== undefined) return c.data;
  const channels = c.channels ?? 3;
  const size = c.batch * c.side * c.side * channels;
  let state = 12345;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state / 4294967296;
  };
  const images = new Float32Array(size);
  for (let i = 0; i < size; i += 2) {
    // Box–Muller: two standard normals from two uniforms.
    const r = Math.sqrt(-2 * Math.log(1 - next()));
    const theta = 2 * Math.PI * next();
    images[i] = r * Math.cos(theta);
    if (i + 1 < size) images[i + 1] = r * Math.sin(theta);
  }
  const classes = c.numClasses ?? 10;
  return { images, labels: Int32Array.from({ length: c.batch }, (_, i) => i % classes) };
}

function build(c: StepCase): tfl.LayersModel {
  const channels = c.channels ?? 3;
  const model = createModel(c.model, {
    inputShape: [c.side, c.side, channels],
    numClasses: c.numClasses ?? 10,
    seed: 7,
    stem: c.stem,
  });
  if (c.freezeUpTo !== undefined) {
    freeze(model, c.freezeUpTo === true ? {} : { upTo: c.freezeUpTo });
  }
  return model;
}

/** The trainer's step context for `c` (its dropout seed `seed`), and `c`'s batch as tensors. */
function stepInputs(
  c: StepCase,
  model: tfl.LayersModel,
  optimizer: BatchStepContext["optimizer"],
  seed: number,
): { context: BatchStepContext; images: tf.Tensor4D; labels: tf.Tensor1D } {
  const context: BatchStepContext = {
    model,
    optimizer,
    numClasses: c.numClasses ?? 10,
    loss: (logits, targets) => crossEntropy(logits, targets),
    seed,
    mixupAlpha: c.mixupAlpha,
    accumulate: 1,
    split: splitFrozen(model),
  };
  const batch = caseBatch(c);
  const images = tf.tensor4d(batch.images, [c.batch, c.side, c.side, c.channels ?? 3]);
  return { context, images, labels: tf.tensor1d(batch.labels, "int32") };
}

/**
 * Runs one step of `c` on `backend`, starting from `initial` weights (or the model's seeded
 * ones), and returns what it produced. Leaves no tensors behind.
 */
export async function runStep(
  backend: BackendName,
  c: StepCase,
  initial?: Float32Array[],
): Promise<StepResult> {
  await useBackend(backend);
  useLeanTraining();
  const model = build(c);
  if (initial !== undefined) {
    const tensors = initial.map((values, i) =>
      tf.tensor(values, model.weights[i].shape as number[])
    );
    model.setWeights(tensors);
    tf.dispose(tensors);
  }
  const start = await Promise.all(model.getWeights().map((w) => w.data() as Promise<Float32Array>));
  const before = tf.memory().numTensors;
  const names = model.trainableWeights.map((w) => (w.read() as tf.Variable).name);
  const optimizer = createOptimizer({ name: "adam", lr: 1e-3 });
  // The trainer's step hands the gradients to the optimizer: keep a copy of each on the way.
  const captured: Record<string, tf.Tensor> = {};
  const apply = optimizer.applyGradients.bind(optimizer);
  optimizer.applyGradients = (grads, variables) => {
    for (const [name, grad] of Object.entries(grads)) captured[name] = tf.keep(tf.clone(grad));
    apply(grads, variables);
  };
  const { context, images, labels } = stepInputs(c, model, optimizer, 11);
  const { loss, correct } = batchStep(context, images, labels, 0, 0);
  const logits = tf.tidy(() => model.apply(images, { training: false }) as tf.Tensor);
  const result: StepResult = {
    loss: (await loss.data())[0],
    grads: await Promise.all(names.map((n) => captured[n].data() as Promise<Float32Array>)),
    gradNames: model.trainableWeights.map((w) => w.originalName),
    weightNames: model.weights.map((w) => w.originalName),
    trainableAt: model.trainableWeights.map((t) =>
      model.weights.findIndex((w) => w.read().id === t.read().id)
    ),
    weights: await Promise.all(model.getWeights().map((w) => w.data() as Promise<Float32Array>)),
    initial: start,
    inference: await logits.data() as Float32Array,
  };
  tf.dispose([loss, correct, logits, images, labels, ...Object.values(captured)]);
  optimizer.dispose();
  const leaked = tf.memory().numTensors - before;
  model.dispose(); // the frozen split shares its layers: disposing the model frees them
  if (leaked > 0) throw new Error(`${c.model} on ${backend}: ${leaked} tensors left after a step`);
  return result;
}

/** ‖a − b‖₂ / max(‖b‖₂, floor): the relative L2 error of `a` against the reference `b`. */
export function relativeL2(a: Float32Array, b: Float32Array, floor = 1e-12): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff) / Math.max(Math.sqrt(norm), floor);
}

/** The worst relative L2 error over paired arrays, and where it is. */
export function worstRelativeL2(
  a: Float32Array[],
  b: Float32Array[],
  names: string[],
): { error: number; name: string } {
  let worst = { error: 0, name: "" };
  a.forEach((values, i) => {
    const error = relativeL2(values, b[i]);
    if (error > worst.error) worst = { error, name: names[i] };
  });
  return worst;
}

/** Weight updates (after − before), the quantity Adam's parity is judged on. */
export function updates(result: StepResult): Float32Array[] {
  return result.weights.map((w, i) => w.map((v, j) => v - result.initial[i][j]));
}

/** The root-mean-square of every element of `arrays` together. */
export function rms(arrays: Float32Array[]): number {
  let sum = 0;
  let count = 0;
  for (const values of arrays) {
    for (const v of values) sum += v * v;
    count += values.length;
  }
  return Math.sqrt(sum / Math.max(count, 1));
}

/**
 * Per-variable gradient error: ‖a − b‖₂ / max(‖b‖₂, rms·√n), where `rms` is the whole model's
 * root-mean-square gradient and n the variable's size. A variable whose true gradient is zero
 * (the offset of a batch norm whose output only reaches later training-mode batch norms, which
 * remove any per-channel shift) has only rounding noise for a gradient; it is judged against
 * what a variable of its size carries at the model's typical gradient magnitude.
 */
export function gradientErrors(a: Float32Array[], b: Float32Array[]): number[] {
  const scale = rms(b);
  return b.map((values, i) => {
    let diff = 0;
    let norm = 0;
    for (let j = 0; j < values.length; j++) {
      diff += (a[i][j] - values[j]) ** 2;
      norm += values[j] ** 2;
    }
    return Math.sqrt(diff) / Math.max(Math.sqrt(norm), scale * Math.sqrt(values.length), 1e-30);
  });
}

/**
 * The worst departure of a step's updated weights from Adam's first step applied to the step's
 * own gradients: w − lr·g/(|g| + ε) (the bias-corrected moments of a first step are g and g²),
 * as |difference| / (1e-7 + 1e-6·|w|), so ≤ 1 is fp32 rounding. Weights outside the trainable set
 * must not move at all, except batch norm's moving statistics (not trainable).
 */
export function adamResidual(result: StepResult, lr = 1e-3, eps = 1e-8): number {
  let worst = 0;
  result.trainableAt.forEach((at, k) => {
    const g = result.grads[k];
    const before = result.initial[at];
    const after = result.weights[at];
    for (let j = 0; j < g.length; j++) {
      const expected = before[j] - lr * g[j] / (Math.abs(g[j]) + eps);
      const error = Math.abs(after[j] - expected) / (1e-7 + 1e-6 * Math.abs(expected));
      worst = Math.max(worst, error);
    }
  });
  return worst;
}

/**
 * The loss of each of `steps` Adam steps (lr 1e-3) on `c`'s batch, trained again and again
 * through the trainer's step on `backend`, from the model's seeded weights.
 */
export async function repeatedLosses(
  backend: BackendName,
  c: StepCase,
  steps: number,
): Promise<number[]> {
  await useBackend(backend);
  useLeanTraining();
  const model = build(c);
  const optimizer = createOptimizer({ name: "adam", lr: 1e-3 });
  const { context, images, labels } = stepInputs(c, model, optimizer, 5);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const { loss, correct } = batchStep(context, images, labels, 0, step);
    losses.push((await loss.data())[0]);
    tf.dispose([loss, correct]);
  }
  tf.dispose([images, labels]);
  optimizer.dispose();
  model.dispose();
  return losses;
}
