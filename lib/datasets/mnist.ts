/**
 * MNIST and Fashion-MNIST from torchvision's idx files (gzipped or raw).
 *
 * @module
 */
import { join } from "../_internal/path.ts";
import { DatasetError } from "./errors.ts";
import { InMemoryDataset } from "./in_memory.ts";
import { type DownloadOptions, downloadResource } from "./download.ts";
import { maybeGunzip } from "./_gzip.ts";

/** One file of a dataset: its name and md5, as torchvision lists them. */
export interface Resource {
  /** File name on the mirrors. */
  file: string;
  /** Its md5 checksum. */
  md5: string;
}

/** Where an idx dataset's files come from and what its classes are called. */
export interface IdxSpec {
  /** torchvision's folder under the root (`MNIST`, `FashionMNIST`). */
  folder: string;
  /** Base URLs tried in order. */
  mirrors: string[];
  /** The four files with their checksums. */
  resources: Resource[];
  /** Class names by label. */
  classes: string[];
}

/** torchvision's mirrors and checksums for MNIST. */
export const MNIST_SPEC: IdxSpec = {
  folder: "MNIST",
  mirrors: ["https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"],
  resources: [
    { file: "train-images-idx3-ubyte.gz", md5: "f68b3c2dcbeaaa9fbdd348bbdeb94873" },
    { file: "train-labels-idx1-ubyte.gz", md5: "d53e105ee54ea40749a09fcbcd1e9432" },
    { file: "t10k-images-idx3-ubyte.gz", md5: "9fb629c4189551a2d022fa330f9573f3" },
    { file: "t10k-labels-idx1-ubyte.gz", md5: "ec29112dd5afa0611ce80d1b7f02629c" },
  ],
  classes: [
    "0 - zero",
    "1 - one",
    "2 - two",
    "3 - three",
    "4 - four",
    "5 - five",
    "6 - six",
    "7 - seven",
    "8 - eight",
    "9 - nine",
  ],
};

/** torchvision's mirror and checksums for Fashion-MNIST. */
export const FASHION_MNIST_SPEC: IdxSpec = {
  folder: "FashionMNIST",
  mirrors: ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
  resources: [
    { file: "train-images-idx3-ubyte.gz", md5: "8d4fb7e6c68d591d4c3dfef9ec88bf0d" },
    { file: "train-labels-idx1-ubyte.gz", md5: "25c81989df183df01b3e8a0aad5dffbe" },
    { file: "t10k-images-idx3-ubyte.gz", md5: "bef4ecab320f06d8554ea6380940ec79" },
    { file: "t10k-labels-idx1-ubyte.gz", md5: "bb300cfdad3c16e7a12a480ee83cd310" },
  ],
  classes: [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
  ],
};

/** Options for {@linkcode mnist} and {@linkcode fashionMnist}. */
export interface IdxDatasetOptions extends DownloadOptions {
  /** Dataset root (like torchvision's `root`). Files are looked for in `root/MNIST/raw/` (or
   * `root/FashionMNIST/raw/`), then in `root` itself. Default: `./data`. */
  root?: string;
  /** The training split (60,000) or the test split (10,000). Default: true. */
  train?: boolean;
  /** Fetch missing files from torchvision's mirrors, checking each md5. Default: false. */
  download?: boolean;
}

/**
 * Parses an idx file of unsigned bytes: magic 0x0000 08 NDIM, NDIM big-endian sizes, data.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseIdx } from "./mnist.ts";
 * const labels = parseIdx(new Uint8Array([0, 0, 8, 1, 0, 0, 0, 2, 7, 3]), "labels", 1);
 * assert.deepEqual(labels.dims, [2]);
 * assert.deepEqual([...labels.data], [7, 3]);
 * ```
 */
export function parseIdx(
  bytes: Uint8Array,
  path: string,
  expectedDims: number,
): { dims: number[]; data: Uint8Array } {
  if (bytes.length < 4) {
    throw new DatasetError(path, `truncated: ${bytes.length} bytes, no idx header`);
  }
  const magic = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  const expectedMagic = 0x0800 + expectedDims;
  if (magic !== expectedMagic) {
    throw new DatasetError(
      path,
      `wrong magic number 0x${magic.toString(16).padStart(8, "0")}, expected ` +
        `0x${
          expectedMagic.toString(16).padStart(8, "0")
        } (unsigned bytes, ${expectedDims} dimensions)`,
    );
  }
  const headerSize = 4 + 4 * expectedDims;
  if (bytes.length < headerSize) throw new DatasetError(path, "truncated inside the idx header");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: expectedDims }, (_, i) => view.getUint32(4 + 4 * i));
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length !== headerSize + size) {
    const what = bytes.length < headerSize + size ? "truncated" : "has trailing bytes";
    throw new DatasetError(
      path,
      `${what}: the header declares ${dims.join("×")} = ${size} bytes of data, the file holds ${
        bytes.length - headerSize
      }`,
    );
  }
  return { dims, data: bytes.subarray(headerSize) };
}

async function findFile(candidates: string[]): Promise<string | undefined> {
  for (const path of candidates) {
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return undefined;
}

async function openIdxDataset(spec: IdxSpec, options: IdxDatasetOptions): Promise<InMemoryDataset> {
  const root = options.root ?? "./data";
  const train = options.train ?? true;
  const rawFolder = join(root, spec.folder, "raw");
  const [imagesResource, labelsResource] = spec.resources.slice(train ? 0 : 2, train ? 2 : 4);
  const paths: string[] = [];
  for (const resource of [imagesResource, labelsResource]) {
    const plain = resource.file.replace(/\.gz$/, "");
    let path = await findFile([
      join(rawFolder, resource.file),
      join(rawFolder, plain),
      join(root, resource.file),
      join(root, plain),
    ]);
    if (path === undefined && options.download) {
      path = join(rawFolder, resource.file);
      await downloadResource(
        spec.mirrors.map((m) => m + resource.file),
        path,
        resource.md5,
        options,
      );
    }
    if (path === undefined) {
      throw new DatasetError(
        rawFolder,
        `${resource.file} not found (looked in ${rawFolder} and ${root}); pass download: true ` +
          "(CLI: --download) to fetch it",
      );
    }
    paths.push(path);
  }
  const [imagePath, labelPath] = paths;
  const images = parseIdx(
    await maybeGunzip(await Deno.readFile(imagePath), imagePath),
    imagePath,
    3,
  );
  const labels = parseIdx(
    await maybeGunzip(await Deno.readFile(labelPath), labelPath),
    labelPath,
    1,
  );
  if (images.dims[0] !== labels.dims[0]) {
    throw new DatasetError(
      labelPath,
      `${labels.dims[0]} labels for the ${images.dims[0]} images in ${imagePath}`,
    );
  }
  for (let i = 0; i < labels.data.length; i++) {
    if (labels.data[i] >= spec.classes.length) {
      throw new DatasetError(labelPath, `label ${labels.data[i]} at index ${i} is not a class 0–9`);
    }
  }
  return new InMemoryDataset({
    images: images.data,
    labels: labels.data,
    shape: [images.dims[1], images.dims[2], 1],
    classes: spec.classes,
  });
}

/**
 * MNIST digits, 28×28×1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mnist } from "./mnist.ts";
 * // The real MNIST test set, shipped beside the project.
 * const test = await mnist({ root: "../shared/datasets/mnist", train: false });
 * assert.equal(test.length, 10000);
 * assert.equal(test.labelOf(0), 7);
 * ```
 */
export function mnist(options: IdxDatasetOptions = {}): Promise<InMemoryDataset> {
  return openIdxDataset(MNIST_SPEC, options);
}

/**
 * Fashion-MNIST articles of clothing, 28×28×1.
 *
 * @example
 * ```ts ignore
 * import { fashionMnist } from "./mnist.ts";
 * const train = await fashionMnist({ root: "./data", download: true });
 * console.log(train.length, train.classes[9]); // 60000 "Ankle boot"
 * ```
 */
export function fashionMnist(options: IdxDatasetOptions = {}): Promise<InMemoryDataset> {
  return openIdxDataset(FASHION_MNIST_SPEC, options);
}
