/**
 * A folder of class folders, as a page receives it (dropped, or picked with a directory input),
 * made into in-memory datasets: each photo decoded by our decoders, its shorter side resized and
 * center-cropped to one square size. Classes are the folder names, sorted, as ImageFolder's are;
 * `train/` and `val/` (or `valid/`, `validation/`, `test/`) above the class folders are used as
 * the split, otherwise a seeded fraction is held out.
 *
 * @module
 */
import { Rng } from "../_internal/rng.ts";
import { decodeImage } from "../decode/decode.ts";
import { InMemoryDataset } from "../datasets/in_memory.ts";
import { centerCrop, resize } from "../transforms/geometry.ts";
import type { RawImage } from "../decode/decode.ts";

/** One file of the folder: its path below the dropped folder, and its bytes. */
export interface ImageFileEntry {
  /** `class/photo.jpg`, `train/class/photo.jpg` or with more folders above. */
  path: string;
  /** The file's bytes. */
  bytes: Uint8Array;
}

/** Options for {@linkcode datasetsFromFiles}. */
export interface FolderDatasetOptions {
  /** Side of the square images kept (the model's input side). Default: 64. */
  side?: number;
  /** Held out for validation when the folder has no split folders. Default: 0.2. */
  valFraction?: number;
  /** Seeds the held-out choice. Default: 0. */
  seed?: number;
}

/** A file left out, and why (one line naming it). */
export interface SkippedEntry {
  /** The file. */
  path: string;
  /** The problem. */
  message: string;
}

/** What {@linkcode datasetsFromFiles} returns. */
export interface FolderDatasets {
  /** Class names, sorted. */
  classes: string[];
  /** The training images. */
  train: InMemoryDataset;
  /** The validation images (none when the folder had too few). */
  validation: InMemoryDataset | undefined;
  /** Each split's file paths, in dataset order (to name mistakes). */
  files: { train: string[]; validation: string[] };
  /** Images per class in each split. */
  counts: { train: number[]; validation: number[] };
  /** Files that are not images or could not be decoded. */
  skipped: SkippedEntry[];
}

const SPLITS: Record<string, "train" | "validation"> = {
  train: "train",
  training: "train",
  val: "validation",
  valid: "validation",
  validation: "validation",
  test: "validation",
};

const IMAGE = /\.(jpe?g|png|jfif)$/i;

/**
 * A photo's shorter side resized to `side`, then center-cropped to `side` × `side`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { squareImage } from "./folder.ts";
 * const photo = { width: 60, height: 40, channels: 3 as const, data: new Uint8Array(60 * 40 * 3) };
 * const square = squareImage(photo, 32);
 * assert.deepEqual([square.width, square.height], [32, 32]);
 * ```
 */
export function squareImage(image: RawImage, side: number): RawImage {
  const rng = new Rng(0);
  return centerCrop(side).apply(resize(side).apply(image, rng), rng) as RawImage;
}

/**
 * Decodes a folder's images into training and validation datasets.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { datasetsFromFiles } from "./folder.ts";
 * const dir = "../shared/datasets/hymenoptera/val";
 * const entries = [];
 * for (const cls of ["ants", "bees"]) {
 *   const names = [...Deno.readDirSync(`${dir}/${cls}`)].map((e) => e.name).sort().slice(0, 5);
 *   for (const name of names) {
 *     entries.push({ path: `${cls}/${name}`, bytes: Deno.readFileSync(`${dir}/${cls}/${name}`) });
 *   }
 * }
 * const { classes, train, validation } = datasetsFromFiles(entries, { side: 32 });
 * assert.deepEqual(classes, ["ants", "bees"]);
 * assert.equal(train.length + (validation?.length ?? 0), entries.length);
 * ```
 */
export function datasetsFromFiles(
  entries: readonly ImageFileEntry[],
  options: FolderDatasetOptions = {},
): FolderDatasets {
  const side = options.side ?? 64;
  const skipped: SkippedEntry[] = [];
  const found: { path: string; cls: string; split?: "train" | "validation"; image: RawImage }[] =
    [];
  for (const { path, bytes } of entries) {
    const parts = path.split("/").filter((p) => p !== "" && p !== ".");
    const name = parts.at(-1) ?? path;
    if (name.startsWith(".")) continue; // .DS_Store and friends
    if (parts.length < 2) {
      skipped.push({ path, message: `${path}: not inside a class folder` });
      continue;
    }
    if (!IMAGE.test(name)) {
      skipped.push({ path, message: `${path}: not a JPEG or PNG file name` });
      continue;
    }
    let image: RawImage;
    try {
      image = squareImage(decodeImage(bytes, { channels: 3 }), side);
    } catch (error) {
      skipped.push({ path, message: `${path}: ${error instanceof Error ? error.message : error}` });
      continue;
    }
    const split = parts.length >= 3 ? SPLITS[parts.at(-3)!.toLowerCase()] : undefined;
    found.push({ path, cls: parts.at(-2)!, split, image });
  }
  if (found.length === 0) {
    throw new RangeError(
      `no images found among ${entries.length} files: expected class folders of JPEG or PNG ` +
        "photos (e.g. ants/1.jpg, bees/2.jpg)",
    );
  }
  const classes = [...new Set(found.map((f) => f.cls))].sort();
  if (classes.length < 2) {
    throw new RangeError(`only one class folder (${classes[0]}): a classifier needs two or more`);
  }
  const bySplits = found.every((f) => f.split !== undefined) &&
    found.some((f) => f.split === "validation");
  if (!bySplits) {
    const fraction = options.valFraction ?? 0.2;
    const order = found.map((_, i) => i);
    new Rng(options.seed ?? 0, 0x5917).shuffle(order);
    const held = new Set(order.slice(0, Math.floor(found.length * fraction)));
    found.forEach((f, i) => f.split = held.has(i) ? "validation" : "train");
  }
  const build = (split: "train" | "validation") => {
    const chosen = found.filter((f) => f.split === split);
    const size = side * side * 3;
    const images = new Uint8Array(chosen.length * size);
    chosen.forEach((f, i) => images.set(f.image.data, i * size));
    const labels = Int32Array.from(chosen, (f) => classes.indexOf(f.cls));
    const counts = classes.map((_, c) => labels.filter((l) => l === c).length);
    const dataset = chosen.length === 0
      ? undefined
      : new InMemoryDataset({ images, labels, shape: [side, side, 3], classes });
    return { dataset, files: chosen.map((f) => f.path), counts };
  };
  const train = build("train");
  const validation = build("validation");
  if (train.dataset === undefined) throw new RangeError("no training images: all were held out");
  return {
    classes,
    train: train.dataset,
    validation: validation.dataset,
    files: { train: train.files, validation: validation.files },
    counts: { train: train.counts, validation: validation.counts },
    skipped,
  };
}
