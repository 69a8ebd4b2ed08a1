/**
 * `predictImage`: a model's top classes for one decoded image, with the preprocessing it was
 * trained with. No Deno API: the page predicts on a dropped photo with it.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { Rng } from "../_internal/rng.ts";
import type { RawImage } from "../decode/decode.ts";
import type { Transform } from "../transforms/types.ts";

/** A class and its probability. */
export interface ClassScore {
  /** The class name. */
  label: string;
  /** Its index among the classes. */
  index: number;
  /** Its softmax probability. */
  probability: number;
}

/** Options for {@linkcode predictImage}. */
export interface PredictImageOptions {
  /** Class names, in the model's output order. */
  classes: readonly string[];
  /** The evaluation preprocessing (resize, crop, normalize): the image must come out at the
   * model's input size. */
  transform: Transform;
  /** How many classes to return, best first. Default: 5 (or fewer classes). */
  k?: number;
}

/**
 * The model's `k` most probable classes for `image`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { createModel } from "../models/mod.ts";
 * import { normalize } from "../transforms/mod.ts";
 * import { predictImage } from "./predict.ts";
 * await useBackend("cpu");
 * const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 3 });
 * const image = { width: 28, height: 28, channels: 1 as const, data: new Uint8Array(784) };
 * const top = await predictImage(model, image, {
 *   classes: ["a", "b", "c"],
 *   transform: normalize({ mean: [0.5], std: [0.5] }),
 *   k: 2,
 * });
 * assert.equal(top.length, 2);
 * assert.ok(top[0].probability >= top[1].probability);
 * model.dispose();
 * ```
 */
export async function predictImage(
  model: LayersModel,
  image: RawImage,
  options: PredictImageOptions,
): Promise<ClassScore[]> {
  const input = options.transform.apply(image, new Rng(0));
  const data = input.data instanceof Float32Array ? input.data : Float32Array.from(input.data);
  const probabilities = tf.tidy(() =>
    tf.softmax(
      model.predict(
        tf.tensor4d(data, [1, input.height, input.width, input.channels]),
      ) as tf.Tensor2D,
    )
  );
  const scores = Array.from(await probabilities.data());
  probabilities.dispose();
  const k = Math.min(options.k ?? 5, options.classes.length);
  return scores.map((probability, index) => ({ label: options.classes[index], index, probability }))
    .sort((a, b) => b.probability - a.probability)
    .slice(0, k);
}
