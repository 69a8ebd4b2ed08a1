// Internal: the PNG chunk stream as libpng and PIL read it, rewritten into the canonical stream
// pngjs expects. pngjs is strict where they are lenient (IDAT data after the image's end, empty or
// odd IDATs, chunks after the image data, a tRNS of unusual length, a bad CRC on an IDAT) and it
// turns colour-key transparency (tRNS on gray and RGB) into black pixels, so:
// - chunk CRCs are checked up to the first IDAT, as PIL does, and not after;
// - the first run of consecutive IDATs is the image data (PIL stops reading there), joined into
//   one chunk; everything after it is ignored, IEND or not;
// - only IHDR, PLTE (palette images), a palette tRNS cut to the palette's length, the IDAT and IEND
//   are passed on, with CRC checks off; a gray/RGB tRNS is read here as a colour key instead;
// - the image data is inflated here, stopping at the last row as PIL's decoder does (extra
//   compressed bytes, a zlib stream that runs past the image or lacks its end are fine; missing
//   rows are not: pngjs would quietly return them zeroed), and handed to pngjs as a stored
//   (uncompressed) zlib stream.
import { constants, crc32, deflateSync, inflateSync } from "node:zlib";
import { Unzlib } from "fflate";
import { DecodeError } from "./errors.ts";

/** A PNG reduced to what pngjs needs, plus what it must not see. */
export interface CanonicalPng {
  /** Signature, IHDR and, for palette images, PLTE and tRNS; chunk CRCs are not written. */
  head: Uint8Array;
  /** The joined image data (a zlib stream). */
  idat: Uint8Array;
  /** The colour key of a gray (1 sample) or RGB (3 samples) image, at the file's bit depth. */
  key: number[] | null;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

const typeOf = (bytes: Uint8Array, at: number) =>
  String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Reads the chunk stream the way PIL does and writes the canonical one. */
export function canonicalPng(bytes: Uint8Array): CanonicalPng {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const colorType = bytes[25];
  const bitDepth = bytes[24];
  let ihdr: Uint8Array | undefined;
  let plte: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idats: Uint8Array[] = [];
  let at = 8;
  while (at + 8 <= bytes.length) {
    const length = view.getUint32(at);
    const type = typeOf(bytes, at + 4);
    const body = at + 8;
    if (type === "IDAT") {
      if (body + length > bytes.length) {
        idats.push(bytes.subarray(body)); // truncated: inflating says whether rows are missing
        break;
      }
      idats.push(bytes.subarray(body, body + length));
      at = body + length + 4;
      continue;
    }
    if (idats.length > 0 || type === "IEND") break; // the image data is over: PIL reads no more
    if (length > bytes.length - body - 4) {
      throw new DecodeError(
        "truncated",
        `PNG chunk ${JSON.stringify(type)} at byte ${at} runs past the end of the file`,
      );
    }
    const data = bytes.subarray(body, body + length);
    const crc = crc32(bytes.subarray(at + 4, body + length)) >>> 0;
    if (crc !== view.getUint32(body + length)) {
      throw new DecodeError("corrupt", `PNG chunk ${JSON.stringify(type)} has a bad CRC`);
    }
    if (type === "IHDR") ihdr ??= data;
    else if (type === "PLTE") plte ??= data;
    else if (type === "tRNS") trns ??= data;
    at = body + length + 4;
  }
  if (ihdr === undefined || ihdr.length < 13) {
    throw new DecodeError("corrupt", "PNG has no complete IHDR chunk");
  }
  if (idats.length === 0) {
    throw new DecodeError("truncated", "PNG has no image data (no IDAT chunk)");
  }
  const idat = concat(idats);
  const parts: Uint8Array[] = [Uint8Array.from(SIGNATURE), chunk("IHDR", ihdr)];
  let key: number[] | null = null;
  if (colorType === 3) {
    if (plte === undefined || plte.length < 3) {
      throw new DecodeError("corrupt", "PNG palette image has no PLTE chunk");
    }
    const entries = Math.min(256, Math.floor(plte.length / 3));
    parts.push(chunk("PLTE", plte.subarray(0, entries * 3)));
    // libpng ignores alpha past the palette's end; an empty tRNS says nothing.
    if (trns !== undefined && trns.length > 0) {
      parts.push(chunk("tRNS", trns.subarray(0, Math.min(trns.length, entries))));
    }
  } else if (trns !== undefined) {
    const samples = colorType === 0 ? 1 : colorType === 2 ? 3 : 0;
    // PIL reads the key from the chunk's first bytes (more are ignored) and refuses a short one;
    // a tRNS on a type with alpha is ignored.
    if (samples > 0 && trns.length < samples * 2) {
      throw new DecodeError(
        "corrupt",
        `PNG tRNS chunk holds ${trns.length} bytes; a ${
          colorType === 0 ? "gray" : "RGB"
        } colour key needs ${samples * 2}`,
      );
    }
    if (samples > 0) {
      const max = 2 ** bitDepth - 1;
      key = [];
      for (let i = 0; i < samples; i++) key.push((trns[2 * i] << 8) | trns[2 * i + 1]);
      if (key.some((k) => k > max)) key = null; // out of range: matches no pixel
    }
  }
  return { head: concat(parts), idat, key };
}

/** Bytes of filtered rows the image data must inflate to (Adam7 passes included). */
export function rawSize(
  width: number,
  height: number,
  bitDepth: number,
  samples: number,
  interlaced: boolean,
): number {
  const rowBytes = (w: number) => (w === 0 ? 0 : 1 + Math.ceil((w * samples * bitDepth) / 8));
  if (!interlaced) return height * rowBytes(width);
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7) {
    const w = Math.ceil((width - x0) / dx);
    const h = Math.ceil((height - y0) / dy);
    if (w > 0 && h > 0) total += h * rowBytes(w);
  }
  return total;
}

/** Adam7 passes: first column and row, column and row steps. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/**
 * Inflates the image data up to the last row, as PIL's decoder does (bytes after it, and a missing
 * zlib end, are ignored), and returns the canonical stream with those rows stored uncompressed,
 * which pngjs reads without complaint. Throws a DecodeError when rows are missing or the data is
 * not deflate. (zlib does the work; the stored copy costs about 5% of a PNG decode.)
 */
export function storedPng(png: CanonicalPng, needed: number): Uint8Array {
  let rows: Uint8Array;
  try {
    // Z_SYNC_FLUSH: a stream without its end gives what it has instead of an error.
    rows = inflateSync(png.idat, {
      finishFlush: constants.Z_SYNC_FLUSH,
      maxOutputLength: needed + 1,
    });
  } catch {
    rows = inflateRows(png.idat, needed); // more data than rows, or bad data after the last row
  }
  if (rows.length < needed) {
    throw new DecodeError(
      "truncated",
      `PNG image data holds ${rows.length} of the ${needed} bytes its rows need`,
    );
  }
  const stored = deflateSync(rows.subarray(0, needed), { level: 0 });
  return concat([png.head, chunk("IDAT", stored), chunk("IEND", new Uint8Array(0))]);
}

/** Inflates chunk by chunk and stops at `needed` bytes, so whatever follows is never read. */
function inflateRows(idat: Uint8Array, needed: number): Uint8Array {
  const out = new Uint8Array(needed);
  let got = 0;
  const inflater = new Unzlib((data) => {
    const n = Math.min(data.length, needed - got);
    out.set(data.subarray(0, n), got);
    got += n;
  });
  try {
    for (let i = 0; i < idat.length && got < needed; i += 16384) {
      inflater.push(idat.subarray(i, i + 16384), false);
    }
  } catch (error) {
    if (got < needed) {
      const message = error instanceof Error ? error.message : String(error);
      throw new DecodeError("corrupt", `PNG image data is not a valid zlib stream (${message})`);
    }
  }
  return out.subarray(0, got);
}
