/**
 * `ImageFolder`: one sub-folder per class, with torchvision's conventions (sorted class names,
 * `classToIndex`, samples `[path, label]` in sorted order, hidden files ignored).
 *
 * @module
 */
import type { DecodeOptions } from "../decode/decode.ts";
import { decodeImageFile } from "../decode/file.ts";
import { describeMagic, sniffFormat } from "../decode/sniff.ts";
import { join } from "../_internal/path.ts";
import { DatasetError } from "./errors.ts";
import { checkIndex, type Dataset, type Sample } from "./types.ts";

/** Options for {@linkcode ImageFolder.open}. */
export interface ImageFolderOptions {
  /** How each image is decoded (channels, alpha background, EXIF orientation, limits). */
  decode?: DecodeOptions;
  /** Fail on the first file that is not a JPEG or PNG instead of skipping it. Default: false. */
  strict?: boolean;
  /** Where warnings go, one line each. Default: `console.warn`. */
  onWarning?: (line: string) => void;
}

/** A file that was left out, and why. */
export interface SkippedFile {
  /** The file left out. */
  path: string;
  /** Why, in a few words. */
  reason: string;
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function readHead(path: string): Promise<Uint8Array> {
  using file = await Deno.open(path);
  const head = new Uint8Array(16);
  let filled = 0;
  while (filled < head.length) {
    const n = await file.read(head.subarray(filled));
    if (n === null) break;
    filled += n;
  }
  return head.subarray(0, filled);
}

/** Why a file cannot be used as an image, or null when its magic bytes say JPEG or PNG. */
async function rejectReason(path: string): Promise<string | null> {
  let head: Uint8Array;
  try {
    head = await readHead(path);
  } catch (error) {
    if (path.includes("\uFFFD") && error instanceof Deno.errors.NotFound) {
      // Deno hands out names as UTF-8 with U+FFFD for bytes that are not; such a name cannot be
      // opened again. Say so rather than "not found".
      return "its name is not valid UTF-8, which Deno cannot open; rename the file";
    }
    if (error instanceof Deno.errors.FilesystemLoop) return "a symbolic link loop";
    return `unreadable (${error instanceof Error ? error.message : error})`;
  }
  if (head.length === 0) return "empty file (0 bytes)";
  const format = sniffFormat(head);
  if (format === "jpeg" || format === "png") return null;
  if (format !== null) return `a ${format.toUpperCase()} image; only JPEG and PNG are supported`;
  return `not a JPEG or PNG image (starts with ${describeMagic(head)})`;
}

/** Files under `folder`, recursively, sorted, hidden ones and symlink loops left out. */
async function listFiles(folder: string, seen = new Set<string>()): Promise<string[]> {
  const real = await Deno.realPath(folder);
  if (seen.has(real)) return [];
  seen.add(real);
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(folder)) {
    if (!entry.name.startsWith(".")) entries.push(entry);
  }
  entries.sort((a, b) => byCodePoint(a.name, b.name));
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(folder, entry.name);
    let isDirectory = entry.isDirectory;
    if (entry.isSymlink) {
      try {
        isDirectory = (await Deno.stat(path)).isDirectory;
      } catch {
        isDirectory = false; // a dangling link: rejected later as unreadable
      }
    }
    if (isDirectory) files.push(...await listFiles(path, seen));
    else files.push(path);
  }
  return files;
}

/**
 * A dataset of images arranged as `root/<class>/<image>`. Files are recognised by their magic
 * bytes, not their names; anything that is not a JPEG or PNG is skipped with one warning line
 * naming it and a summary count, or is an error with `strict: true`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ImageFolder } from "./image_folder.ts";
 * const warnings: string[] = [];
 * const train = await ImageFolder.open("../shared/datasets/hymenoptera/train", {
 *   onWarning: (line) => warnings.push(line),
 * });
 * assert.deepEqual(train.classes, ["ants", "bees"]);
 * assert.equal(train.length, 244);
 * assert.equal(train.skipped.length, 1); // a GIF named like the photos
 * ```
 */
export class ImageFolder implements Dataset {
  /** The folder holding one sub-folder per class. */
  readonly root: string;
  readonly classes: readonly string[];
  /** Class name → label. */
  readonly classToIndex: Readonly<Record<string, number>>;
  /** `[path, label]` for every image, in sorted order. */
  readonly samples: readonly (readonly [string, number])[];
  /** Files left out, with the reason. */
  readonly skipped: readonly SkippedFile[];
  readonly #decode: DecodeOptions;
  readonly #warn: (line: string) => void;
  /** Files already reported as decoded with warnings (each is reported once). */
  readonly #warned = new Set<string>();

  private constructor(
    root: string,
    classes: string[],
    samples: [string, number][],
    skipped: SkippedFile[],
    decode: DecodeOptions,
    warn: (line: string) => void,
  ) {
    this.root = root;
    this.classes = classes;
    this.classToIndex = Object.fromEntries(classes.map((name, i) => [name, i]));
    this.samples = samples;
    this.skipped = skipped;
    this.#decode = decode;
    this.#warn = warn;
  }

  /** Scans `root` and returns the dataset; fails if it has no class folders or an empty one. */
  static async open(root: string, options: ImageFolderOptions = {}): Promise<ImageFolder> {
    const warn = options.onWarning ?? ((line: string) => console.warn(line));
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(root));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new DatasetError(root, "folder not found");
      if (error instanceof Deno.errors.NotADirectory) {
        throw new DatasetError(root, "is a file; an ImageFolder root is a folder of class folders");
      }
      throw error;
    }
    const classes: string[] = [];
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const isDirectory = entry.isDirectory ||
        (entry.isSymlink &&
          (await Deno.stat(join(root, entry.name)).catch(() => null))?.isDirectory);
      if (isDirectory) classes.push(entry.name);
    }
    classes.sort(byCodePoint);
    if (classes.length === 0) {
      throw new DatasetError(
        root,
        "no class folders: an ImageFolder root holds one sub-folder per class " +
          "(root/cat/1.jpg, root/dog/2.png)",
      );
    }
    const samples: [string, number][] = [];
    const skipped: SkippedFile[] = [];
    for (const [label, name] of classes.entries()) {
      const folder = join(root, name);
      let count = 0;
      for (const path of await listFiles(folder)) {
        const reason = await rejectReason(path);
        if (reason === null) {
          samples.push([path, label]);
          count++;
          continue;
        }
        if (options.strict) throw new DatasetError(path, reason);
        skipped.push({ path, reason });
        warn(`warning: skipping ${path}: ${reason}`);
      }
      if (count === 0) {
        throw new DatasetError(folder, `class folder '${name}' holds no JPEG or PNG images`);
      }
    }
    if (skipped.length > 0) {
      warn(
        `ImageFolder ${root}: ${samples.length} images in ${classes.length} classes; skipped ` +
          `${skipped.length} ${skipped.length === 1 ? "file" : "files"} that ${
            skipped.length === 1 ? "is" : "are"
          } not a JPEG or PNG image`,
      );
    }
    return new ImageFolder(root, classes, samples, skipped, options.decode ?? {}, warn);
  }

  get length(): number {
    return this.samples.length;
  }

  /** How samples are decoded (what a loader's workers need to decode them the same way). */
  get decodeOptions(): DecodeOptions {
    return this.#decode;
  }

  /** The file path of the sample at `index`. */
  sourceOf(index: number): string {
    checkIndex(index, this.length);
    return this.samples[index][0];
  }

  labelOf(index: number): number {
    checkIndex(index, this.length);
    return this.samples[index][1];
  }

  /**
   * Decodes sample `index`; a file that fails to decode raises a DecodeError naming it. A file
   * decoded with warnings (junk bytes libjpeg skips too) is reported once, in one warning line.
   */
  async get(index: number): Promise<Sample> {
    checkIndex(index, this.length);
    const [path, label] = this.samples[index];
    const image = await decodeImageFile(path, this.#decode);
    if (image.warnings.length > 0 && !this.#warned.has(path)) {
      this.#warned.add(path);
      this.#warn(`warning: ${path} decoded with warnings: ${image.warnings.join("; ")}`);
    }
    return [image, label];
  }
}
