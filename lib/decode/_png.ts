// Internal: a PNG read as libpng and PIL read it, with pngjs doing the pixel work. pngjs's reader
// is strict where they are lenient (IDAT data after the image's end, empty or odd IDATs, chunks
// after the image data, a tRNS of unusual length, a bad CRC on an IDAT), it quietly zeroes rows
// its zlib stream lacks, and it turns colour-keyed pixels (tRNS on gray and RGB) black. So its
// chunk reader and inflater are not used; here:
// - chunk CRCs are checked up to the first IDAT, as PIL does, and not after;
// - the first run of consecutive IDATs is the image data (PIL stops reading there); everything
//   after it is ignored, IEND or not;
// - the image data is inflated up to the last row, as PIL's decoder does (extra compressed bytes, a
//   zlib stream that runs past the image or lacks its end are fine; missing rows are an error);
// - pngjs's own stages (unfiltering with Adam7, bit unpacking, palette lookup) turn the rows into
//   RGBA, from the IHDR and PLTE read here; a palette tRNS is cut to the palette's length, and a
//   gray/RGB tRNS is returned as a colour key for the caller.
import { Buffer } from "node:buffer";
import { constants, crc32, inflateSync } from "node:zlib";
import { Unzlib } from "fflate";
import bitmapper from "pngjs/lib/bitmapper.js";
import filterSync from "pngjs/lib/filter-parse-sync.js";
import formatNormaliser from "pngjs/lib/format-normaliser.js";
import { DecodeError } from "./errors.ts";

/** What decoding needs from a PNG's chunks. */
export interface PngChunks {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
  /** Palette entries as [r, g, b, alpha] (palette images only). */
  palette: number[][] | null;
  /** The joined image data (a zlib stream). */
  idat: Uint8Array;
  /** The colour key of a gray (1 sample) or RGB (3 samples) image, at the file's bit depth. */
  key: number[] | null;
}

const typeOf = (bytes: Uint8Array, at: number) =>
  String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);

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

/** Reads the chunk stream the way PIL does. */
export function readPngChunks(bytes: Uint8Array): PngChunks {
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
  let palette: number[][] | null = null;
  let key: number[] | null = null;
  if (colorType === 3) {
    if (plte === undefined || plte.length < 3) {
      throw new DecodeError("corrupt", "PNG palette image has no PLTE chunk");
    }
    const entries = Math.min(256, Math.floor(plte.length / 3));
    palette = [];
    for (let i = 0; i < entries; i++) {
      // libpng ignores alpha past the palette's end; an empty tRNS says nothing.
      const alpha = trns !== undefined && i < trns.length ? trns[i] : 255;
      palette.push([plte[3 * i], plte[3 * i + 1], plte[3 * i + 2], alpha]);
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
  return {
    width: view.getUint32(16),
    height: view.getUint32(20),
    bitDepth,
    colorType,
    interlaced: ihdr[12] === 1,
    palette,
    idat,
    key,
  };
}

/** Bytes of filtered rows the image data must inflate to (Adam7 passes included). */
function rawSize(
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
 * zlib end, are ignored). Throws a DecodeError when rows are missing or the data is not deflate.
 */
function inflateImageData(idat: Uint8Array, needed: number): Uint8Array {
  let rows: Uint8Array;
  try {
    // Z_SYNC_FLUSH: a stream without its end gives what it has instead of an error.
    rows = inflateSync(idat, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: needed + 1 });
  } catch {
    rows = inflateRows(idat, needed); // more data than rows, or bad data after the last row
  }
  if (rows.length < needed) {
    throw new DecodeError(
      "truncated",
      `PNG image data holds ${rows.length} of the ${needed} bytes its rows need`,
    );
  }
  return rows.subarray(0, needed);
}

const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * RGBA samples (pngjs's layout: 8-bit in a Uint8Array, 16-bit in a Uint16Array, 1–4-bit gray
 * unscaled) from the chunks, by pngjs's unfiltering, unpacking and palette stages.
 */
export function pngPixels(png: PngChunks): ArrayLike<number> {
  const samples = SAMPLES[png.colorType];
  const needed = rawSize(png.width, png.height, png.bitDepth, samples, png.interlaced);
  const rows = inflateImageData(png.idat, needed);
  // The fields pngjs's parser would have set from IHDR, PLTE and tRNS.
  const info = {
    width: png.width,
    height: png.height,
    depth: png.bitDepth,
    interlace: png.interlaced,
    palette: png.palette ?? false,
    color: (png.colorType & 2) !== 0,
    alpha: (png.colorType & 4) !== 0,
    bpp: samples,
    colorType: png.colorType,
  };
  try {
    const unfiltered = filterSync.process(
      Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength),
      info,
    );
    return formatNormaliser(bitmapper.dataToBitMap(unfiltered, info), info, true);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new DecodeError("corrupt", `invalid PNG data: ${message}`);
  }
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
