/**
 * A trained model with what it needs to see images as it saw them in training: the classes and
 * the evaluation pipeline, read from a run directory (or its `model/` folder).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import type { RawImage } from "../decode/decode.ts";
import { decodeImageFile } from "../decode/file.ts";
import { join } from "../_internal/path.ts";
import { loadModel } from "../io/file_handler.ts";
import { Rng } from "../_internal/rng.ts";
import { useLeanInference } from "../train/_lean.ts";
import { transformFromSpec } from "../transforms/compose.ts";
import { resize } from "../transforms/geometry.ts";
import type { AnyImage, Transform } from "../transforms/types.ts";
import { originFromMetadata, type WeightsOrigin } from "../export/metadata.ts";
import type { TrainConfig } from "./config.ts";
import type { Preprocessing } from "./train_run.ts";
import { pathExists as exists } from "../_internal/fs.ts";
import { IMAGENET_CLASSES } from "../pretrained/imagenet_classes.ts";
import { detectTorchvisionModel, resolveTorchWeights } from "../pretrained/resolve.ts";
import {
  loadTorchvision,
  readTorchWeights,
  TORCHVISION_MODELS,
  torchvisionModel,
  torchvisionTransform,
} from "../pretrained/torchvision.ts";

/** A loaded model ready for prediction. */
export interface TrainedModel {
  /** The loaded TF.js LayersModel. */
  model: LayersModel;
  /** Classes, input shape and the evaluation pipeline's spec. */
  preprocessing: Preprocessing;
  /** The evaluation pipeline rebuilt from `preprocessing.transform`. */
  transform: Transform;
  /** The run's config, when loaded from a run directory. */
  config?: TrainConfig;
  /**
   * The architecture and where its weights came from, when known: the run's config.json
   * `weights`, the model.json metadata a run writes, or the torchvision weights opened.
   */
  origin?: WeightsOrigin;
  /** The folder holding model.json. */
  modelDir: string;
}

/**
 * What a run's model is: config.json's `weights`, else model.json's metadata, else (a run from
 * before either, trained from scratch) config.json's `model`. A fine-tuned run from before them
 * recorded `--model`'s value, not what the weights built: unknown.
 */
function runOrigin(config: TrainConfig | undefined, model: LayersModel): WeightsOrigin | undefined {
  if (config?.weights) return config.weights;
  const stored = originFromMetadata(model.getUserDefinedMetadata());
  if (stored !== undefined) return stored;
  if (config === undefined || (config.pretrained ?? null) !== null) return undefined;
  return { architecture: config.model, source: "none", format: "none" };
}

/**
 * Loads a run directory (`runs/<name>`) or a model folder exported by a run.
 *
 * @example
 * ```ts ignore
 * import { openTrainedModel, predictFiles } from "./trained.ts";
 * const trained = await openTrainedModel("runs/20261122-101500-compact-cnn");
 * const [top] = await predictFiles(trained, ["cat.jpg"], 3);
 * ```
 */
export async function openTrainedModel(source: string): Promise<TrainedModel> {
  useLeanInference(); // batch norm + ReLU as one kernel where the backend has it
  const path = source.replace(/\/model\.json$/, "").replace(/\/+$/, "");
  const modelDir = await exists(join(path, "model", "model.json")) ? join(path, "model") : path;
  if (!await exists(join(modelDir, "model.json"))) {
    throw new Error(`${source}: no model.json here or in model/; pass a run directory`);
  }
  const preprocessingPath = join(modelDir, "preprocessing.json");
  if (!await exists(preprocessingPath)) {
    throw new Error(
      `${preprocessingPath}: missing; predict needs the classes and preprocessing a run stores`,
    );
  }
  const preprocessing: Preprocessing = JSON.parse(await Deno.readTextFile(preprocessingPath));
  const configPath = join(modelDir, "..", "config.json");
  const config = modelDir !== path || await exists(configPath)
    ? JSON.parse(await Deno.readTextFile(configPath)) as TrainConfig
    : undefined;
  const model = await loadModel(modelDir);
  return {
    model,
    preprocessing,
    transform: transformFromSpec(preprocessing.transform),
    config,
    origin: runOrigin(config, model),
    modelDir,
  };
}

/**
 * A torchvision classifier ready for prediction: `torchvision:<name>` (fetched into
 * `data/weights/` once) or a `.pth`/`.safetensors` file of one of its architectures, with
 * torchvision's preprocessing and, for 1000 outputs, ImageNet's class names.
 *
 * @example
 * ```ts ignore
 * import { openTorchvisionModel, predictFiles } from "./trained.ts";
 * const trained = await openTorchvisionModel("torchvision:resnet18");
 * const [{ top }] = await predictFiles(trained, ["bee.jpg"], 3);
 * console.log(top[0].label); // "bee"
 * ```
 */
export async function openTorchvisionModel(source: string): Promise<TrainedModel> {
  const resolved = await resolveTorchWeights(source);
  const { stateDict, source: name } = await readTorchWeights(resolved.path);
  const architecture = resolved.torchvision ?? detectTorchvisionModel(stateDict);
  if (architecture === undefined) {
    throw new Error(
      `${name}: not the parameters of a torchvision architecture (${
        Object.keys(TORCHVISION_MODELS).join(", ")
      })`,
    );
  }
  const model = await loadTorchvision(architecture, stateDict);
  const classCount = model.outputs[0].shape[1] as number;
  const transform = torchvisionTransform(architecture);
  const side = torchvisionModel(architecture).preprocessing.crop;
  return {
    model,
    preprocessing: {
      classes: classCount === 1000
        ? [...IMAGENET_CLASSES]
        : Array.from({ length: classCount }, (_, i) => `class_${i}`),
      inputShape: [side, side, 3],
      transform: { name: transform.name, options: transform.options },
    },
    transform,
    origin: {
      architecture: torchvisionModel(architecture).model,
      source,
      format: "pytorch",
      torchvision: torchvisionModel(architecture).name,
    },
    modelDir: resolved.path,
  };
}

/**
 * Test-time augmentation: `hflip` averages the logits of each image and its mirror; `five-crop`
 * those of its four corner crops and centre crop (7/8 of each side, resized back to the input);
 * `none` is one pass.
 */
export type TtaMode = "none" | "hflip" | "five-crop";

/** The {@linkcode TtaMode} names, for flags. */
export const TTA_MODES: readonly TtaMode[] = ["none", "hflip", "five-crop"];

/** A {@linkcode TtaMode} name that does not exist. */
export class TtaModeError extends RangeError {
  /** Always `TtaModeError`. */
  override name = "TtaModeError";
  /** Names the bad value and the known ones. */
  constructor(value: string) {
    super(`--tta must be one of ${TTA_MODES.join(", ")}; got '${value}'`);
  }
}

/**
 * Checks a `--tta` value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTtaMode } from "./trained.ts";
 * assert.equal(parseTtaMode("hflip"), "hflip");
 * assert.throws(() => parseTtaMode("ten-crop"), /--tta must be one of/);
 * ```
 */
export function parseTtaMode(value: string): TtaMode {
  if (!(TTA_MODES as readonly string[]).includes(value)) throw new TtaModeError(value);
  return value as TtaMode;
}

/**
 * The logits of a batch of preprocessed images [batch, height, width, channels] in inference
 * mode, averaged over the views of `tta` (the caller disposes the result).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { useBackend } from "../backend/mod.ts";
 * import { createModel } from "../models/mod.ts";
 * import { ttaLogits } from "./trained.ts";
 * await useBackend("cpu");
 * const model = createModel("compact-cnn", { inputShape: [32, 32, 3], numClasses: 4, seed: 0 });
 * const images = tf.randomUniform([2, 32, 32, 3], 0, 1, "float32", 1) as tf.Tensor4D;
 * const logits = ttaLogits(model, images, "five-crop");
 * assert.deepEqual(logits.shape, [2, 4]);
 * tf.dispose([logits, images]);
 * model.dispose();
 * ```
 */
export function ttaLogits(model: LayersModel, images: tf.Tensor4D, tta: TtaMode): tf.Tensor2D {
  return tf.tidy(() => {
    const run = (x: tf.Tensor4D) => model.apply(x, { training: false }) as tf.Tensor2D;
    if (tta === "none") return run(images);
    if (tta === "hflip") {
      return tf.div(tf.add(run(images), run(tf.image.flipLeftRight(images))), 2) as tf.Tensor2D;
    }
    const [batch, height, width] = images.shape;
    const f = 7 / 8;
    // [y1, x1, y2, x2] on the 0–1 scale: top-left, top-right, bottom-left, bottom-right, centre.
    const boxes = [[0, 0], [0, 1 - f], [1 - f, 0], [1 - f, 1 - f], [(1 - f) / 2, (1 - f) / 2]];
    const boxInd = tf.range(0, batch, 1, "int32") as tf.Tensor1D;
    let sum: tf.Tensor2D | undefined;
    for (const [y, x] of boxes) {
      const crops = tf.image.cropAndResize(
        images,
        tf.tensor2d(Array.from({ length: batch }, () => [y, x, y + f, x + f])),
        boxInd,
        [height, width],
      );
      const logits = run(crops);
      sum = sum === undefined ? logits : tf.add(sum, logits) as tf.Tensor2D;
    }
    return tf.div(sum!, boxes.length) as tf.Tensor2D;
  });
}

/** One prediction: the top-k classes with their probabilities. */
export interface Prediction {
  /** The image file. */
  file: string;
  /** The k most probable classes, most probable first. */
  top: { label: string; index: number; probability: number }[];
}

/**
 * Preprocesses one decoded image for `trained` with the run's evaluation pipeline, as a
 * height × width × channels Float32Array. A run whose preprocessing has no resize (a standard
 * dataset's fixed-size images) gets other sizes resized to the model's input first, as an eval
 * transform would, and `onResize` hears of it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { preprocessImage, type TrainedModel } from "./trained.ts";
 * import { normalize } from "../transforms/mod.ts";
 * const transform = normalize({ mean: [0.5], std: [0.5] });
 * const trained = {
 *   preprocessing: { classes: ["a", "b"], inputShape: [2, 2, 1], transform },
 *   transform,
 * } as unknown as TrainedModel;
 * const image = { width: 4, height: 4, channels: 1 as const, data: new Uint8Array(16).fill(255) };
 * const heard: number[][] = [];
 * const pixels = preprocessImage(trained, image, (from) => heard.push(from));
 * assert.deepEqual([...pixels], [1, 1, 1, 1]);
 * assert.deepEqual(heard, [[4, 4]]);
 * ```
 */
export function preprocessImage(
  trained: TrainedModel,
  image: RawImage,
  onResize?: (from: [number, number]) => void,
): Float32Array {
  const [height, width] = trained.preprocessing.inputShape;
  let out = trained.transform.apply(image, new Rng(0)) as AnyImage;
  if (out.width !== width || out.height !== height) {
    onResize?.([image.width, image.height]);
    const resized = resize([height, width]).apply(image, new Rng(0));
    out = trained.transform.apply(resized, new Rng(0)) as AnyImage;
  }
  return out.data instanceof Float32Array ? out.data : Float32Array.from(out.data);
}

/** Decodes and preprocesses one image file for `trained` (see {@linkcode preprocessImage}). */
async function prepare(
  trained: TrainedModel,
  file: string,
  onResize?: (file: string, from: [number, number]) => void,
): Promise<Float32Array> {
  const channels = trained.preprocessing.inputShape[2];
  const image = await decodeImageFile(file, { channels: channels as 1 | 3 });
  return preprocessImage(trained, image, onResize && ((from) => onResize(file, from)));
}

/**
 * The `k` most probable classes of one row of probabilities, most probable first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { topClasses } from "./trained.ts";
 * const top = topClasses([0.1, 0.7, 0.2], ["ant", "bee", "wasp"], 2);
 * assert.deepEqual(top.map((t) => t.label), ["bee", "wasp"]);
 * ```
 */
export function topClasses(
  probabilities: ArrayLike<number>,
  classes: readonly string[],
  k: number,
): Prediction["top"] {
  const scores = Array.from(probabilities);
  const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a])
    .slice(0, Math.min(k, classes.length));
  return order.map((index) => ({ label: classes[index], index, probability: scores[index] }));
}

/** Options for {@linkcode predictFiles}. */
export interface PredictOptions {
  /** Images per forward pass. Default: 16. */
  batchSize?: number;
  /** Hears of each image resized to the model's input outside the run's preprocessing. */
  onResize?: (file: string, from: [number, number]) => void;
  /** Test-time augmentation (logits averaged over the views). Default: `none`. */
  tta?: TtaMode;
}

/**
 * Top-k predictions for image files, in batches, with the run's own preprocessing. A file that
 * fails to decode throws an error naming it.
 *
 * @example
 * ```ts ignore
 * const predictions = await predictFiles(trained, ["a.jpg", "b.png"], 3);
 * console.log(predictions[0].top[0].label);
 * ```
 */
export async function predictFiles(
  trained: TrainedModel,
  files: readonly string[],
  k = 5,
  options: PredictOptions = {},
): Promise<Prediction[]> {
  const batchSize = options.batchSize ?? 16;
  const { classes, inputShape } = trained.preprocessing;
  const topK = Math.min(k, classes.length);
  const results: Prediction[] = [];
  for (let start = 0; start < files.length; start += batchSize) {
    const batch = files.slice(start, start + batchSize);
    const size = inputShape[0] * inputShape[1] * inputShape[2];
    const pixels = new Float32Array(batch.length * size);
    for (let i = 0; i < batch.length; i++) {
      pixels.set(await prepare(trained, batch[i], options.onResize), i * size);
    }
    const probabilities = tf.tidy(() =>
      tf.softmax(
        options.tta === undefined || options.tta === "none"
          ? trained.model.predict(tf.tensor4d(pixels, [batch.length, ...inputShape])) as tf.Tensor2D
          : ttaLogits(
            trained.model,
            tf.tensor4d(pixels, [batch.length, ...inputShape]),
            options.tta,
          ),
      )
    );
    const values = await probabilities.data();
    probabilities.dispose();
    batch.forEach((file, row) => {
      const scores = values.subarray(row * classes.length, (row + 1) * classes.length);
      results.push({ file, top: topClasses(scores, classes, topK) });
    });
  }
  return results;
}
