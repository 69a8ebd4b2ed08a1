// Internal: reads samples from image files and from the decoded-sample cache, with Deno. Kept
// apart from _process.ts (which installs this reader on import) so that batching itself runs in
// a web page, where samples come from memory.
import type { RawImage } from "../decode/decode.ts";
import { decodeImageFile } from "../decode/file.ts";
import { resizedSize, resizeImage } from "../transforms/geometry.ts";
import { CachedBadSample, setStoredSampleReader } from "./_process.ts";
import type { SampleSource } from "./source.ts";

const openFiles = new Map<string, Deno.FsFile>();

/** Reads `length` bytes at `offset`, synchronously: a worker may block, and sync reads cost two
 * fewer promise round trips per sample than seek + read. */
function readPacked(path: string, offset: number, length: number): Uint8Array {
  let file = openFiles.get(path);
  if (file === undefined) {
    file = Deno.openSync(path);
    openFiles.set(path, file);
  }
  const out = new Uint8Array(length);
  file.seekSync(offset, Deno.SeekMode.Start);
  let filled = 0;
  while (filled < length) {
    const n = file.readSync(out.subarray(filled));
    if (n === null) throw new Error(`${path}: cache file ends early; delete it to rebuild`);
    filled += n;
  }
  return out;
}

/** Cache files this thread holds open (for leak checks). */
export function openCacheFiles(): number {
  return openFiles.size;
}

/** Closes cache files this thread opened. */
export function closeFiles(): void {
  for (const file of openFiles.values()) file.close();
  openFiles.clear();
}

/** Loads one file or cached sample's pixels, before any transform. */
async function loadStoredSample(
  source: Exclude<SampleSource, { kind: "memory" }>,
  index: number,
): Promise<RawImage & { warnings?: string[] }> {
  if (source.kind === "files") {
    const image = await decodeImageFile(source.files[index], source.decode);
    if (source.shorterSide === undefined) return image;
    const [h, w] = resizedSize(image.height, image.width, source.shorterSide);
    return { ...resizeImage(image, h, w), warnings: image.warnings };
  }
  const bad = source.bad?.[index];
  if (bad !== undefined) throw new CachedBadSample(bad);
  const [height, width, channels] = source.dims.subarray(index * 3, index * 3 + 3);
  const data = readPacked(source.path, source.offsets[index], height * width * channels);
  return { width, height, channels: channels as 1 | 3, data };
}

/** The file-system errors that mean one file is bad (skipped), not a broken loader. */
function isBadFileError(error: Error): boolean {
  return error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.IsADirectory || error instanceof Deno.errors.FilesystemLoop ||
    error instanceof Deno.errors.InvalidData || error instanceof Deno.errors.UnexpectedEof;
}

setStoredSampleReader(loadStoredSample, isBadFileError);
