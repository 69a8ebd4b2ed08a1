// Internal test helper: real photos from ../shared/datasets/hymenoptera, as the models see them.
import { ImageFolder, preset } from "../mod.ts";
import type { FloatImage } from "../lib/transforms/types.ts";
import { Rng } from "../lib/_internal/rng.ts";

/** The hymenoptera photos (ants and bees) the tests may read but never write. */
export const HYMENOPTERA = new URL("../../shared/datasets/hymenoptera", import.meta.url).pathname;

/** Every zoo model that takes photos. */
export const PHOTO_MODELS: readonly string[] = [
  "compact-cnn",
  "cifar-cnn",
  "vgg11-bn",
  "resnet18",
  "resnet50",
  "mobilenetv2",
  "mobilenetv3-large",
  "efficientnet-b0",
];

/**
 * `perClass` photos of each class of `hymenoptera/<split>`, through the ImageNet evaluation
 * pipeline at `side` px (resize, centre crop, normalise): NHWC pixels and labels, classes
 * interleaved (ant, bee, ant, …).
 */
export async function photoBatch(
  side: number,
  perClass: number,
  split: "train" | "val" = "train",
): Promise<{ images: Float32Array; labels: Int32Array }> {
  const folder = await ImageFolder.open(`${HYMENOPTERA}/${split}`, { onWarning: () => {} });
  const byClass: number[][] = folder.classes.map(() => []);
  for (let i = 0; i < folder.length; i++) byClass[folder.labelOf(i)].push(i);
  const picks: number[] = [];
  for (let k = 0; k < perClass; k++) for (const indices of byClass) picks.push(indices[k]);
  const transform = preset("imagenet", side).eval;
  const images = new Float32Array(picks.length * side * side * 3);
  const labels = new Int32Array(picks.length);
  for (const [n, index] of picks.entries()) {
    const [raw, label] = await folder.get(index);
    const image = transform.apply(raw, new Rng(0)) as FloatImage;
    images.set(image.data, n * side * side * 3);
    labels[n] = label;
  }
  return { images, labels };
}
