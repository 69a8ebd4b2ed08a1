// Internal: a training step on random data of a model's input size, shared by the bench files.
import * as tf from "@tensorflow/tfjs-core";
import { type BackendName, createModel, createTrainStep, useBackend } from "../mod.ts";

/** Images per step. */
export const BATCH = 64;

/**
 * Builds LeNet + Adam on `backend` and returns a bench function for one training step. Bench
 * files share a process, so each iteration makes its backend active again before timing.
 */
export function lenetStep(backend: BackendName): Promise<(b: Deno.BenchContext) => Promise<void>> {
  return modelStep("lenet", [28, 28, 1], BATCH, backend);
}

/** The same for any zoo model at `inputShape` and `batch`. */
export async function modelStep(
  name: string,
  inputShape: [number, number, number],
  batch: number,
  backend: BackendName,
): Promise<(b: Deno.BenchContext) => Promise<void>> {
  await useBackend(backend);
  const model = createModel(name, { inputShape, numClasses: 10, seed: 0 });
  const step = createTrainStep(model, tf.train.adam(1e-3), 10);
  const images = tf.randomNormal([batch, ...inputShape], 0, 1, "float32", 1) as tf.Tensor4D;
  const labels = tf.tensor1d(Array.from({ length: batch }, (_, i) => i % 10), "int32");
  return async (b) => {
    await useBackend(backend);
    b.start();
    const loss = step(images, labels);
    loss.dataSync();
    b.end();
    loss.dispose();
  };
}
