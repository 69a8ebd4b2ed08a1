/**
 * The decoded-sample cache: the first epoch stores every sample decoded (and resized to a shorter
 * side, if asked) in one packed file with an index; later epochs read pixels from it and still
 * run the random transforms. The key covers the file list, sizes, mtimes and the decode and
 * resize settings, and a stale or truncated cache is rebuilt, never used.
 *
 * @module
 */
import { join } from "../_internal/path.ts";
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

/** The cache file pair for a source: `<key>.bin` (pixels) and `<key>.index.json`. */
export async function cachePaths(source: FileSource, options: CacheOptions): Promise<CachePaths> {
  const stats = await Promise.all(source.files.map((path) => Deno.stat(path)));
  const fingerprint = JSON.stringify({
    // Bumped whenever decoding changes pixels (2: baseline JPEGs decode exactly as libjpeg does),
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

/** The packed source for a complete, consistent cache, or null (missing, stale, truncated). */
export async function openCache(
  source: FileSource,
  options: CacheOptions,
): Promise<PackedSource | null> {
  const paths = await cachePaths(source, options);
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

/** Writes a complete cache atomically: pixels, then the index that marks it complete. */
export async function writeCache(
  source: FileSource,
  options: CacheOptions,
  samples: CachedSample[],
): Promise<void> {
  const paths = await cachePaths(source, options);
  await Deno.mkdir(paths.dir, { recursive: true });
  samples.sort((a, b) => a.index - b.index);
  const entries: CacheIndex["entries"] = [];
  const bad: CacheIndex["bad"] = {};
  let offset = 0;
  const tmpBin = `${paths.bin}.${crypto.randomUUID()}.tmp`;
  {
    using file = await Deno.open(tmpBin, { write: true, create: true, truncate: true });
    for (const sample of samples) {
      if (sample.error !== undefined) bad[sample.index] = sample.error;
      entries.push([offset, sample.height, sample.width, sample.channels]);
      let written = 0;
      while (written < sample.data.length) {
        written += await file.write(sample.data.subarray(written));
      }
      offset += sample.data.length;
    }
  }
  const index: CacheIndex = {
    version: 2,
    count: samples.length,
    totalBytes: offset,
    entries,
    bad,
  };
  const tmpIndex = `${paths.index}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmpIndex, JSON.stringify(index));
  await Deno.rename(tmpBin, paths.bin);
  await Deno.rename(tmpIndex, paths.index);
}
