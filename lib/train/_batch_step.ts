// Internal: one optimizer step of `fit` on one batch: MixUp/CutMix, a frozen prefix run outside
// the tape, gradients (accumulated over micro-batches when the batch does not fit at once),
// clipping, the update. With `accumulate` = 1 it is the plain step, bit for bit.
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { withDropoutSeed } from "./_dropout.ts";
import { leanForward } from "./_lean.ts";
import type { FrozenSplit } from "../models/transfer.ts";
import { Rng } from "../_internal/rng.ts";
import { cutmix, mixup } from "./mix.ts";
import type { Optimizer } from "./optimizers.ts";

/** What a step needs besides the batch. */
export interface BatchStepContext {
  model: LayersModel;
  optimizer: Optimizer;
  numClasses: number;
  loss: (logits: tf.Tensor2D, targets: tf.Tensor1D | tf.Tensor2D) => tf.Scalar;
  seed: number;
  mixupAlpha?: number;
  cutmixAlpha?: number;
  clipNorm?: number;
  /** Micro-batches per step (gradients summed, one update). */
  accumulate: number;
  /** The frozen prefix and trainable rest, when part of the model is frozen. */
  split: FrozenSplit | null;
}

/** Row ranges of `n` rows in `parts` near-equal micro-batches (sizes differ by at most one). */
export function microBatches(n: number, parts: number): [number, number][] {
  const count = Math.max(1, Math.min(parts, n));
  const ranges: [number, number][] = [];
  for (let i = 0, start = 0; i < count; i++) {
    const size = Math.floor(n / count) + (i < n % count ? 1 : 0);
    ranges.push([start, size]);
    start += size;
  }
  return ranges;
}

function variablesOf(model: LayersModel): Record<string, tf.Variable> {
  const out: Record<string, tf.Variable> = {};
  for (const weight of model.trainableWeights) {
    const variable = weight.read() as tf.Variable;
    out[variable.name] = variable;
  }
  return out;
}

/** Gradients, mean loss and correct count of one micro-batch, its loss weighted by `weight`. */
function microStep(
  context: BatchStepContext,
  inputs: tf.Tensor4D,
  targets: tf.Tensor1D | tf.Tensor2D,
  labels: tf.Tensor1D,
  weight: number,
  dropoutSeed: number[],
  vars: Record<string, tf.Variable>,
) {
  const { split } = context;
  // A frozen prefix runs before the tape, in inference mode: its activations are not kept for
  // a backward pass that would never reach it.
  const features = split ? tf.tidy(() => split.features.apply(inputs) as tf.Tensor) : inputs;
  const trained = split ? split.head : context.model;
  let correct: tf.Scalar | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const logits = withDropoutSeed(
      dropoutSeed,
      () => leanForward(() => trained.apply(features, { training: true }) as tf.Tensor2D),
    );
    correct = tf.keep(
      tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), labels), "float32")) as tf.Scalar,
    );
    const loss = context.loss(logits, targets);
    return weight === 1 ? loss : tf.mul(loss, weight) as tf.Scalar;
  }, Object.values(vars));
  if (split) features.dispose();
  return { value, grads, correct: correct! };
}

function clip(grads: tf.NamedTensorMap, clipNorm: number): tf.NamedTensorMap {
  return tf.tidy(() => {
    const squares = Object.values(grads).map((g) => tf.sum(tf.square(g)));
    const norm = tf.sqrt(tf.addN(squares));
    const scale = tf.minimum(1, tf.div(clipNorm, tf.add(norm, 1e-6)));
    const out: tf.NamedTensorMap = {};
    for (const [key, g] of Object.entries(grads)) out[key] = tf.mul(g, scale);
    return out;
  });
}

/**
 * One optimizer step on a batch: returns the batch's mean loss and correct count (scalars the
 * caller disposes). Each step draws from its own generator, so a run resumed mid-epoch draws the
 * same numbers.
 */
export function batchStep(
  context: BatchStepContext,
  images: tf.Tensor4D,
  labels: tf.Tensor1D,
  epoch: number,
  step: number,
): { loss: tf.Scalar; correct: tf.Scalar } {
  const rng = new Rng(context.seed, 0x313, epoch, step);
  const vars = variablesOf(context.model);
  let inputs = images;
  let targets: tf.Tensor1D | tf.Tensor2D = labels;
  let mixed: { images: tf.Tensor4D; targets: tf.Tensor2D } | undefined;
  if (context.mixupAlpha !== undefined || context.cutmixAlpha !== undefined) {
    const useCut = context.cutmixAlpha !== undefined &&
      (context.mixupAlpha === undefined || rng.next() < 0.5);
    mixed = useCut
      ? cutmix(images, labels, context.numClasses, context.cutmixAlpha!, rng)
      : mixup(images, labels, context.numClasses, context.mixupAlpha!, rng);
    inputs = mixed.images;
    targets = mixed.targets;
  }
  const n = images.shape[0];
  const ranges = microBatches(n, context.accumulate);
  let result: { value: tf.Scalar; grads: tf.NamedTensorMap; correct: tf.Scalar };
  if (ranges.length === 1) {
    result = microStep(
      context,
      inputs,
      targets,
      labels,
      1,
      [context.seed, 0xd0, epoch, step],
      vars,
    );
  } else {
    // loss.backward() per micro-batch, then one optimizer.step(): each micro-batch's mean loss
    // weighted by its share of the batch, so the summed gradient is the whole batch's mean.
    let sum: typeof result | undefined;
    for (const [i, [start, size]] of ranges.entries()) {
      const part = tf.tidy(() => ({
        x: tf.slice(inputs, start, size) as tf.Tensor4D,
        t: tf.slice(targets, start, size) as tf.Tensor1D | tf.Tensor2D,
        y: tf.slice(labels, start, size) as tf.Tensor1D,
      }));
      const micro = microStep(
        context,
        part.x,
        part.t,
        part.y,
        size / n,
        [context.seed, 0xd0, epoch, step, i],
        vars,
      );
      tf.dispose([part.x, part.t, part.y]);
      if (sum === undefined) {
        sum = micro;
        continue;
      }
      const previous: typeof result = sum;
      sum = tf.tidy(() => {
        const grads: tf.NamedTensorMap = {};
        for (const key of Object.keys(previous.grads)) {
          grads[key] = tf.add(previous.grads[key], micro.grads[key]);
        }
        return {
          value: tf.add(previous.value, micro.value) as tf.Scalar,
          grads,
          correct: tf.add(previous.correct, micro.correct) as tf.Scalar,
        };
      });
      tf.dispose([previous.value, previous.correct, ...Object.values(previous.grads)]);
      tf.dispose([micro.value, micro.correct, ...Object.values(micro.grads)]);
    }
    result = sum!;
  }
  const grads = context.clipNorm === undefined
    ? result.grads
    : clip(result.grads, context.clipNorm);
  context.optimizer.applyGradients(grads, vars);
  if (grads !== result.grads) tf.dispose(Object.values(grads));
  tf.dispose(Object.values(result.grads));
  if (mixed) tf.dispose([mixed.images, mixed.targets]);
  return { loss: result.value, correct: result.correct };
}
