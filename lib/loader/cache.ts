/**
 * The decoded-sample cache: the first epoch stores every sample decoded (and resized to a shorter
 * side, if asked) in one packed file with an index; later epochs read pixels from it and still
 * run the random transforms. The key covers the file list, sizes, mtimes and the decode and
 * resize settings, and a stale or truncated cache is rebuilt, never used.
 *
 * @module
 */
import { basename, join } from "../_internal/path.ts";
import type { FileSource, PackedSource } from "./source.ts";

/** Options for the decoded-sample cache. */
export interface CacheOptions {
  /** Where cache files live. Default: `data/cache`. */
  dir?: string;
  /** Resize each image so its shorter side is this many pixels before caching (e.g. 256). */
  shorterSide?: number;
}

/** One cached sample's pixels. */
export interface CachedSample {
  /** Sample index in the source. */
  index: number;
  /** Width in pixels (after the cache's resize). */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 (grey) or 3 (RGB). */
  channels: 1 | 3;
  /** Pixels, row-major HWC. */
  data: Uint8Array;
  /** Set for a bad file: why it could not be loaded (its pixels are empty). */
  error?: string;
}

interface CacheIndex {
  version: 2;
  count: number;
  totalBytes: number;
  /** Per sample: byte offset, height, width, channels. */
  entries: [number, number, number, number][];
  /** Bad files by sample index, with the reason. */
  bad: Record<number, string>;
}

/** Where a source's cache lives. */
export interface CachePaths {
  /** Cache folder. Default: `data/cache`. */
  dir: string;
  /** Packed pixels. */
  bin: string;
  /** Offsets and sizes; written last, so its presence marks a complete cache. */
  index: string;
}

/**
 * The cache file pair for a source: `<key>.bin` (pixels) and `<key>.index.json`.
 *
 * @example
 * ```ts ignore
 * import { cachePaths } from "./cache.ts";
 * const source = { kind: "files" as const, files: ["data/cats/1.jpg"], labels: new Int32Array(1), decode: {} };
 * const { bin, index } = await cachePaths(source, { shorterSide: 256 });
 * console.log(bin, index); // data/cache/<24 hex digits>.bin, … .index.json
 * ```
 */
export async function cachePaths(source: FileSource, options: CacheOptions): Promise<CachePaths> {
  const stats = await Promise.all(source.files.map((path) => Deno.stat(path)));
  const fingerprint = JSON.stringify({
    // Bumped whenever decoding changes pixels (2: JPEGs decode exactly as libjpeg does),
    // so a cache from an older decoder is never read as current.
    version: 2,
    files: source.files.map((path, i) => [path, stats[i].size, stats[i].mtime?.getTime() ?? 0]),
    decode: source.decode,
    shorterSide: options.shorterSide ?? null,
  });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(fingerprint));
  const key = Array.from(
    new Uint8Array(digest).subarray(0, 12),
    (b) => b.toString(16).padStart(2, "0"),
  )
    .join("");
  const dir = options.dir ?? join("data", "cache");
  return { dir, bin: join(dir, `${key}.bin`), index: join(dir, `${key}.index.json`) };
}

/**
 * The packed source for a complete, consistent cache, or null (missing, stale, truncated).
 * `paths` saves recomputing the key (a stat of every file) when the caller has it.
 *
 * @example
 * ```ts ignore
 * import { openCache } from "./cache.ts";
 * const source = { kind: "files" as const, files: ["data/cats/1.jpg"], labels: new Int32Array(1), decode: {} };
 * const packed = await openCache(source, { shorterSide: 256 });
 * console.log(packed === null ? "build it" : `${packed.offsets.length} cached samples`);
 * ```
 */
export async function openCache(
  source: FileSource,
  options: CacheOptions,
  paths?: CachePaths,
): Promise<PackedSource | null> {
  paths ??= await cachePaths(source, options);
  let index: CacheIndex;
  try {
    index = JSON.parse(await Deno.readTextFile(paths.index));
    const size = (await Deno.stat(paths.bin)).size;
    if (index.version !== 2 || index.count !== source.files.length || size !== index.totalBytes) {
      return null;
    }
  } catch {
    return null; // absent or unreadable: rebuild
  }
  return {
    kind: "packed",
    path: paths.bin,
    offsets: Float64Array.from(index.entries, (e) => e[0]),
    dims: Int32Array.from(index.entries.flatMap((e) => [e[1], e[2], e[3]])),
    labels: source.labels,
    ...(Object.keys(index.bad).length > 0 ? { bad: index.bad } : {}),
  };
}

/** A temporary file untouched this long belongs to a build that was killed, not a running one. */
const ABANDONED_AFTER_MS = 10 * 60 * 1000;

/**
 * Removes this cache's temporary files left by killed builds (a running build writes its file
 * continually, so only stale ones go).
 */
async function removeAbandoned(paths: CachePaths): Promise<void> {
  const prefixes = [basename(paths.bin) + ".", basename(paths.index) + "."];
  for await (const entry of Deno.readDir(paths.dir)) {
    if (!entry.name.endsWith(".tmp") || !prefixes.some((p) => entry.name.startsWith(p))) continue;
    const path = join(paths.dir, entry.name);
    try {
      const { mtime } = await Deno.stat(path);
      if (mtime !== null && Date.now() - mtime.getTime() > ABANDONED_AFTER_MS) {
        await Deno.remove(path);
      }
    } catch {
      // Gone already (another build finished or cleaned it): nothing to do.
    }
  }
}

/**
 * Builds a cache while the first epoch runs: each sample's pixels are appended to a temporary file
 * as its batch arrives (in any order; the index records where each one lies), so the decoded
 * dataset is never held in memory and the disk writes overlap the decoding. `finish` writes the
 * index and renames both files into place (the index last: its presence marks a complete cache);
 * `abort` removes the temporary file. Temporary files a killed build left behind (untouched for
 * ten minutes) are removed when the next build starts.
 *
 * @example
 * ```ts ignore
 * import { CacheWriter } from "./cache.ts";
 * const source = { kind: "files" as const, files: ["data/cats/1.jpg"], labels: new Int32Array(1), decode: {} };
 * const writer = await CacheWriter.create(source, { shorterSide: 256 });
 * await writer.add({ index: 0, width: 1, height: 1, channels: 3, data: new Uint8Array(3) });
 * await writer.finish(); // or writer.abort()
 * ```
 */
export class CacheWriter {
  readonly #paths: CachePaths;
  readonly #tmpBin: string;
  readonly #file: Deno.FsFile;
  readonly #entries: (CacheIndex["entries"][number] | undefined)[];
  readonly #bad: CacheIndex["bad"] = {};
  #offset = 0;
  #closed = false;

  /** The source whose samples this cache holds. */
  readonly source: FileSource;

  private constructor(source: FileSource, paths: CachePaths, tmpBin: string, file: Deno.FsFile) {
    this.source = source;
    this.#paths = paths;
    this.#tmpBin = tmpBin;
    this.#file = file;
    this.#entries = new Array(source.files.length);
  }

  /**
   * Opens the temporary pixel file; throws if the cache folder cannot be written. `paths`, from
   * `cachePaths`, saves recomputing the key.
   */
  static async create(
    source: FileSource,
    options: CacheOptions,
    paths?: CachePaths,
  ): Promise<CacheWriter> {
    paths ??= await cachePaths(source, options);
    await Deno.mkdir(paths.dir, { recursive: true });
    await removeAbandoned(paths);
    const tmpBin = `${paths.bin}.${crypto.randomUUID()}.tmp`;
    const file = await Deno.open(tmpBin, { write: true, create: true, truncate: true });
    return new CacheWriter(source, paths, tmpBin, file);
  }

  /** Whether a sample is already written. */
  has(index: number): boolean {
    return this.#entries[index] !== undefined;
  }

  /** Appends one sample (a second copy of the same index is ignored). */
  async add(sample: CachedSample): Promise<void> {
    if (this.has(sample.index)) return;
    if (sample.error !== undefined) this.#bad[sample.index] = sample.error;
    this.#entries[sample.index] = [this.#offset, sample.height, sample.width, sample.channels];
    for (let written = 0; written < sample.data.length;) {
      written += await this.#file.write(sample.data.subarray(written));
    }
    this.#offset += sample.data.length;
  }

  /** Writes the index and moves both files into place; every sample must have been added. */
  async finish(): Promise<void> {
    const missing = this.#entries.findIndex((entry) => entry === undefined);
    if (missing !== -1) throw new Error(`cache incomplete: sample ${missing} was never added`);
    this.#close();
    const index: CacheIndex = {
      version: 2,
      count: this.source.files.length,
      totalBytes: this.#offset,
      entries: this.#entries as CacheIndex["entries"],
      bad: this.#bad,
    };
    const tmpIndex = `${this.#paths.index}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(tmpIndex, JSON.stringify(index));
    await Deno.rename(this.#tmpBin, this.#paths.bin);
    await Deno.rename(tmpIndex, this.#paths.index);
  }

  /** Drops the partial cache. */
  async abort(): Promise<void> {
    this.#close();
    await Deno.remove(this.#tmpBin).catch(() => {});
  }

  #close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#file.close();
  }
}
