// Internal: the report's pictures that need the run — the training samples exactly as the model
// saw them (tapped from the training loader itself) and Grad-CAM overlays on the misclassified
// thumbnails. lib/explain sits below lib/run (it imports nothing from here), so no cycle.
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import type { RawImage } from "../decode/decode.ts";
import type { Dataset } from "../datasets/types.ts";
import { gradCamBatch } from "../explain/gradcam.ts";
import { displayImage, explanationImage, findNormalization } from "../explain/render.ts";
import type { ReportSamples } from "../io/report.ts";
import { type Batch, DataLoader } from "../loader/loader.ts";
import { Rng } from "../_internal/rng.ts";
import { centerCrop, resize } from "../transforms/geometry.ts";
import type { AnyImage, Transform } from "../transforms/types.ts";

/** The first batch a training loader handed out, as it was handed (pixels copied). */
export interface TappedBatch {
  /** The epoch it belongs to (0-based). */
  epoch: number;
  /** Its step in that epoch (0 unless a resumed run skipped ahead). */
  step: number;
  /** The batch, its arrays copied and cut to the kept images. */
  batch: Batch;
}

/**
 * A DataLoader that keeps a copy of the first `keep` images of the first batch it yields: the
 * very batch `fit` trains on (same seed, same workers, same augmentation), nothing re-run.
 */
export class SampleTapLoader extends DataLoader {
  /** How many images of the first batch are kept. */
  keep = 32;
  /** The first batch yielded, once there was one. */
  first: TappedBatch | undefined;

  /** One epoch's batches, unchanged; the first one is copied on its way out. */
  override async *batches(
    epoch: number,
    options: { skip?: number } = {},
  ): AsyncGenerator<Batch> {
    for await (const batch of super.batches(epoch, options)) {
      if (this.first === undefined && batch.labels.length > 0) {
        this.first = { epoch, step: options.skip ?? 0, batch: copyBatch(batch, this.keep) };
      }
      yield batch;
    }
  }
}

function copyBatch(batch: Batch, keep: number): Batch {
  const n = Math.min(keep, batch.labels.length);
  const [, height, width, channels] = batch.shape;
  return {
    images: batch.images.slice(0, n * height * width * channels),
    shape: [n, height, width, channels],
    labels: batch.labels.slice(0, n),
    indices: batch.indices.slice(0, n),
  };
}

/** The images of a loader batch back as uint8 pixels, the pipeline's normalisation undone. */
export function batchImages(batch: Batch, transform: Transform): RawImage[] {
  const [n, height, width, channels] = batch.shape;
  const size = height * width * channels;
  const normalization = findNormalization(transform);
  return Array.from({ length: n }, (_, i) => {
    const pixels = batch.images.subarray(i * size, (i + 1) * size);
    if (pixels instanceof Uint8Array) {
      return { width, height, channels: channels as 1 | 3, data: pixels.slice() };
    }
    return displayImage(pixels, [height, width, channels], normalization);
  });
}

/** The report's "Samples" section from the tapped first batch. */
export function trainingSamples(
  tapped: TappedBatch,
  transform: Transform,
  blending: string[],
): ReportSamples {
  const images = batchImages(tapped.batch, transform);
  const where = tapped.step === 0
    ? `the first ${images.length} images of epoch ${tapped.epoch + 1}'s first batch`
    : `the first ${images.length} images of epoch ${tapped.epoch + 1}, step ${tapped.step + 1}`;
  return {
    images: images.map((image, i) => ({ image, label: tapped.batch.labels[i] })),
    caption: `As the model saw them: ${where}, after augmentation (${describe(transform)})` +
      (blending.length > 0 ? `; ${blending.join(" and ")} then blend pairs of them` : "") + ".",
  };
}

function describe(transform: Transform): string {
  const steps = transform.name === "compose"
    ? (transform.options.transforms as { name: string }[] | undefined) ?? []
    : [transform];
  return steps.map((step) => step.name).join(" → ") || "none";
}

/** A small view of a sample for the report: native size up to 96 px, else shrunk and cropped. */
export function thumbnail(image: RawImage): RawImage {
  if (Math.min(image.width, image.height) <= 96) return image;
  const rng = new Rng(0);
  return centerCrop(96).apply(resize(96).apply(image, rng), rng) as RawImage;
}

/** A misclassified validation sample to draw: its index and the class it was taken for. */
export interface OverlayRequest {
  /** Index in the validation dataset. */
  index: number;
  /** The predicted class (the one Grad-CAM explains). */
  predicted: number;
}

/** Per request: the model-input view and the same with the Grad-CAM heatmap blended in. */
export type Overlay = { thumbnail: RawImage; overlay: RawImage } | undefined;

/**
 * Grad-CAM overlays of the predicted class for misclassified samples, `chunk` images per pass;
 * a model Grad-CAM cannot explain (no spatial layer) gives none, told through `warn`.
 */
export async function misclassifiedOverlays(
  model: LayersModel,
  dataset: Dataset,
  evalTransform: Transform,
  inputShape: readonly [number, number, number],
  requests: OverlayRequest[],
  warn: (line: string) => void,
  chunk = 16,
): Promise<Overlay[]> {
  const overlays: Overlay[] = requests.map(() => undefined);
  const normalization = findNormalization(evalTransform);
  const [height, width, channels] = inputShape;
  // Model inputs as the evaluation pipeline made them; samples that no longer load are left out.
  const inputs: { at: number; pixels: Float32Array }[] = [];
  for (const [at, request] of requests.entries()) {
    try {
      const out = evalTransform.apply(
        (await dataset.get(request.index))[0],
        new Rng(0),
      ) as AnyImage;
      if (out.width !== width || out.height !== height || out.channels !== channels) continue;
      const pixels = out.data instanceof Float32Array ? out.data : Float32Array.from(out.data);
      inputs.push({ at, pixels });
    } catch { /* unreadable now: that thumbnail has no overlay */ }
  }
  for (let start = 0; start < inputs.length; start += chunk) {
    const part = inputs.slice(start, start + chunk);
    const size = height * width * channels;
    const pixels = new Float32Array(part.length * size);
    part.forEach((p, i) => pixels.set(p.pixels, i * size));
    const batch = tf.tensor4d(pixels, [part.length, height, width, channels]);
    let heatmaps: Float32Array[];
    try {
      ({ heatmaps } = await gradCamBatch(model, batch, {
        classIndices: part.map((p) => requests[p.at].predicted),
      }));
    } catch (error) {
      warn(`report: no Grad-CAM overlays (${(error as Error).message})`);
      return overlays.map(() => undefined);
    } finally {
      batch.dispose();
    }
    part.forEach((p, i) => {
      const photo = displayImage(p.pixels, inputShape, normalization);
      const blended = explanationImage(photo, heatmaps[i], [], { minSide: 1, alpha: 0.5 });
      overlays[p.at] = { thumbnail: thumbnail(photo), overlay: thumbnail(blended) };
    });
  }
  return overlays;
}
