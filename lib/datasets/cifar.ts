/**
 * CIFAR-10 and CIFAR-100 from their binary versions (the ones for C programs).
 *
 * @module
 */
import { join } from "../_internal/path.ts";
import { DatasetError } from "./errors.ts";
import { InMemoryDataset } from "./in_memory.ts";
import { type DownloadOptions, downloadResource, extractTarGz } from "./download.ts";
import { pathExists as exists } from "../_internal/fs.ts";

/** Options for {@linkcode cifar10} and {@linkcode cifar100}. */
export interface CifarOptions extends DownloadOptions {
  /** Dataset root holding `cifar-10-batches-bin/` or `cifar-100-binary/`. Default: `./data`. */
  root?: string;
  /** The 50,000 training images or the 10,000 test images. Default: true. */
  train?: boolean;
  /** Fetch and unpack the archive if the folder is missing, checking its md5. Default: false. */
  download?: boolean;
}

interface CifarSpec {
  folder: string;
  archive: string;
  url: string;
  md5: string;
  trainFiles: string[];
  testFiles: string[];
  /** Bytes before the pixels in each record; the label is the last of them. */
  labelBytes: 1 | 2;
  classesFile: string;
  numClasses: number;
}

/** Where the CIFAR archives are downloaded from (the same as torchvision). */
export const CIFAR_URLS: readonly string[] = [
  "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
  "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
];

const CIFAR10: CifarSpec = {
  folder: "cifar-10-batches-bin",
  archive: "cifar-10-binary.tar.gz",
  url: CIFAR_URLS[0],
  md5: "c32a1d4ab5d03f1284b67883e8d87530",
  trainFiles: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  testFiles: ["test_batch.bin"],
  labelBytes: 1,
  classesFile: "batches.meta.txt",
  numClasses: 10,
};

const CIFAR100: CifarSpec = {
  folder: "cifar-100-binary",
  archive: "cifar-100-binary.tar.gz",
  url: CIFAR_URLS[1],
  md5: "03b5dce01913d631647c71ecec9e9cb8",
  trainFiles: ["train.bin"],
  testFiles: ["test.bin"],
  labelBytes: 2, // coarse label, then fine label; we use the fine one
  classesFile: "fine_label_names.txt",
  numClasses: 100,
};

const PIXELS = 32 * 32 * 3;

/**
 * Parses CIFAR binary records (labels, then 1024 red, 1024 green, 1024 blue bytes) into HWC.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseCifarRecords } from "./cifar.ts";
 * const record = new Uint8Array(1 + 3072);
 * record[0] = 4; // label
 * record[1] = 200; // red of the first pixel
 * const { labels, images } = parseCifarRecords(record, "batch.bin", 1, 10);
 * assert.deepEqual([labels[0], images[0], images[1]], [4, 200, 0]);
 * ```
 */
export function parseCifarRecords(
  bytes: Uint8Array,
  path: string,
  labelBytes: 1 | 2,
  numClasses: number,
): { labels: Uint8Array; images: Uint8Array } {
  const recordSize = labelBytes + PIXELS;
  if (bytes.length === 0 || bytes.length % recordSize !== 0) {
    throw new DatasetError(
      path,
      `truncated or wrong format: ${bytes.length} bytes is not a whole number of ` +
        `${recordSize}-byte CIFAR records`,
    );
  }
  const count = bytes.length / recordSize;
  const labels = new Uint8Array(count);
  const images = new Uint8Array(count * PIXELS);
  for (let n = 0; n < count; n++) {
    const record = n * recordSize;
    const label = bytes[record + labelBytes - 1];
    if (label >= numClasses) {
      throw new DatasetError(path, `record ${n} has label ${label}; expected 0–${numClasses - 1}`);
    }
    labels[n] = label;
    const planes = record + labelBytes;
    const out = n * PIXELS;
    for (let p = 0; p < 1024; p++) {
      images[out + p * 3] = bytes[planes + p];
      images[out + p * 3 + 1] = bytes[planes + 1024 + p];
      images[out + p * 3 + 2] = bytes[planes + 2048 + p];
    }
  }
  return { labels, images };
}

async function openCifar(spec: CifarSpec, options: CifarOptions): Promise<InMemoryDataset> {
  const root = options.root ?? "./data";
  const folder = join(root, spec.folder);
  if (!(await exists(folder))) {
    if (!options.download) {
      throw new DatasetError(
        folder,
        `not found; pass download: true (CLI: --download) to fetch ${spec.archive}`,
      );
    }
    const archive = join(root, spec.archive);
    if (!(await exists(archive))) await downloadResource([spec.url], archive, spec.md5, options);
    await extractTarGz(archive, root);
  }
  const files = (options.train ?? true) ? spec.trainFiles : spec.testFiles;
  const parts = [];
  for (const file of files) {
    const path = join(folder, file);
    if (!(await exists(path))) throw new DatasetError(path, "missing from the CIFAR folder");
    parts.push(
      parseCifarRecords(await Deno.readFile(path), path, spec.labelBytes, spec.numClasses),
    );
  }
  const total = parts.reduce((sum, part) => sum + part.labels.length, 0);
  const labels = new Uint8Array(total);
  const images = new Uint8Array(total * PIXELS);
  let offset = 0;
  for (const part of parts) {
    labels.set(part.labels, offset);
    images.set(part.images, offset * PIXELS);
    offset += part.labels.length;
  }
  const classesPath = join(folder, spec.classesFile);
  const classes = (await exists(classesPath))
    ? (await Deno.readTextFile(classesPath)).split(/\r?\n/).map((s) => s.trim()).filter(Boolean)
    : Array.from({ length: spec.numClasses }, (_, i) => String(i));
  if (classes.length !== spec.numClasses) {
    throw new DatasetError(
      classesPath,
      `lists ${classes.length} classes, expected ${spec.numClasses}`,
    );
  }
  return new InMemoryDataset({ images, labels, shape: [32, 32, 3], classes });
}

/**
 * CIFAR-10: 32×32×3 images of 10 classes.
 *
 * @example
 * ```ts ignore
 * import { cifar10 } from "./cifar.ts";
 * const train = await cifar10({ root: "./data", download: true });
 * console.log(train.length, train.classes); // 50000 [ "airplane", ... ]
 * ```
 */
export function cifar10(options: CifarOptions = {}): Promise<InMemoryDataset> {
  return openCifar(CIFAR10, options);
}

/**
 * CIFAR-100: 32×32×3 images of 100 fine classes.
 *
 * @example
 * ```ts ignore
 * import { cifar100 } from "./cifar.ts";
 * const test = await cifar100({ root: "./data", train: false, download: true });
 * console.log(test.length); // 10000
 * ```
 */
export function cifar100(options: CifarOptions = {}): Promise<InMemoryDataset> {
  return openCifar(CIFAR100, options);
}
