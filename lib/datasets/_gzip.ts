// Internal: gzip detection and decompression with the web-standard DecompressionStream.
import { DatasetError } from "./errors.ts";

/** Gunzips when the bytes start with the gzip magic, else returns them as they are. */
export async function maybeGunzip(bytes: Uint8Array, path: string): Promise<Uint8Array> {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
      new DecompressionStream("gzip"),
    );
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (error) {
    throw new DatasetError(
      path,
      `corrupt gzip data (${error instanceof Error ? error.message : error})`,
    );
  }
}
