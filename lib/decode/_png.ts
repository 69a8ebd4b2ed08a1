// Internal: a PNG read as libpng and PIL read it, in plain TypeScript (no Node modules: it runs in
// a browser too). pngjs's reader is strict where they are lenient (IDAT data after the image's
// end, empty or odd IDATs, chunks after the image data, a tRNS of unusual length, a bad CRC on an
// IDAT), it quietly zeroes rows its zlib stream lacks, and it turns colour-keyed pixels (tRNS on
// gray and RGB) black; so this reader does what PIL does:
// - chunk CRCs are checked up to the first IDAT, as PIL does, and not after;
// - the first run of consecutive IDATs is the image data (PIL stops reading there); everything
//   after it is ignored, IEND or not;
// - the image data is inflated (fflate) up to the last row, as PIL's decoder does (extra
//   compressed bytes, a zlib stream that runs past the image or lacks its end are fine; missing
//   rows are an error);
// - the rows are unfiltered (per Adam7 pass), unpacked and looked up in the palette here, into
//   pngjs's layout, which decode.ts takes: RGBA, 8-bit samples in a Uint8Array, 16-bit in a
//   Uint16Array, 1–4-bit gray unscaled (alpha 2^depth − 1); a palette tRNS is cut to the palette's
//   length, and a gray/RGB tRNS is returned as a colour key for the caller.
import { Inflate, Unzlib, unzlibSync } from "fflate";
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

/** CRC-32 (the zlib/PNG polynomial), one table lookup a byte. */
const CRC_TABLE = /* @__PURE__ */ (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
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
    const crc = crc32(bytes.subarray(at + 4, body + length));
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

/** Samples a pixel, by colour type. */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

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

/** One reduced image of the rows: where its pixels go, its size, where its rows are. */
interface Pass {
  x0: number;
  y0: number;
  dx: number;
  dy: number;
  width: number;
  height: number;
  /** Bytes of a row after its filter byte. */
  rowBytes: number;
  /** Offset of its first row's filter byte in the inflated data. */
  start: number;
}

/**
 * The reduced images the rows come in, one after another: the whole image, or Adam7's non-empty
 * passes; and the bytes of filtered rows (filter bytes included) they take together.
 */
function passesOf(png: PngChunks): { passes: Pass[]; size: number } {
  const bits = SAMPLES[png.colorType] * png.bitDepth;
  const passes: Pass[] = [];
  let start = 0;
  for (const [x0, y0, dx, dy] of png.interlaced ? ADAM7 : [[0, 0, 1, 1]]) {
    const width = Math.ceil((png.width - x0) / dx);
    const height = Math.ceil((png.height - y0) / dy);
    if (width <= 0 || height <= 0) continue;
    const rowBytes = Math.ceil((width * bits) / 8);
    passes.push({ x0, y0, dx, dy, width, height, rowBytes, start });
    start += height * (1 + rowBytes);
  }
  return { passes, size: start };
}

/**
 * Inflates the image data up to the last row, as PIL's decoder does (bytes after it, and a missing
 * zlib end, are ignored). Throws a DecodeError when rows are missing or the data is not deflate.
 */
function inflateImageData(idat: Uint8Array, needed: number): Uint8Array {
  const rows = inflateRows(idat, needed);
  if (rows.length < needed) {
    throw new DecodeError(
      "truncated",
      `PNG image data holds ${rows.length} of the ${needed} bytes its rows need`,
    );
  }
  return rows;
}

/**
 * Image data up to this many bytes is first inflated in one go, straight into the rows' buffer
 * (whatever follows the last row is inflated too, to nowhere: a bounded waste, 1032 × 64 KiB at
 * most); longer data, and data that fails so, streams in pushes of this size.
 */
const PUSH = 65536;

/**
 * Where a push fails before the last row, the data streams again in pushes this small, as it
 * always has, so that damage just after the last row is ignored exactly as before.
 */
const SMALL_PUSH = 16384;

/**
 * Inflates up to `needed` bytes, so whatever follows is never read (or only what shares a push
 * with the last row); a stream that ends early (its end missing) gives what it has, as zlib does.
 */
function inflateRows(idat: Uint8Array, needed: number): Uint8Array {
  const out = new Uint8Array(needed);
  if (idat.length > 6 && idat.length <= PUSH) {
    // (more than the zlib header and checksum: fflate hands an empty stream's `out` back whole)
    try {
      if (unzlibSync(idat, { out }).length === needed) return out;
    } catch {
      // damaged, cut short, or more data than rows: streaming says how much there is
    }
  }
  if (idat.length < 6) return out.subarray(0, inflateTiny(idat, out));
  let got: number;
  try {
    got = stream(idat, out, PUSH);
  } catch {
    got = stream(idat, out, SMALL_PUSH);
  }
  return out.subarray(0, got);
}

/**
 * Streams `idat` into `out` in pushes of `push` bytes until `out` is full, and returns how many
 * bytes it holds. Throws a DecodeError where the data fails before that.
 */
function stream(idat: Uint8Array, out: Uint8Array, push: number): number {
  let got = 0;
  const take = (data: Uint8Array) => {
    const n = Math.min(data.length, out.length - got);
    out.set(data.subarray(0, n), got);
    got += n;
  };
  const inflater = new Unzlib(take);
  try {
    for (let i = 0; i < idat.length && got < out.length; i += push) {
      inflater.push(idat.subarray(i, i + push), false);
    }
  } catch (error) {
    if (got < out.length) {
      const message = error instanceof Error ? error.message : String(error);
      throw new DecodeError("corrupt", `PNG image data is not a valid zlib stream (${message})`);
    }
  }
  if (got < out.length) take(cutStoredBlock(inflater));
  return got;
}

/**
 * Image data under 6 bytes: fflate's Unzlib reads nothing before it holds 6, where zlib decodes
 * what it can, so it goes to the raw inflater past its header (bad data gives nothing). Returns
 * the bytes inflated into `out`.
 */
function inflateTiny(idat: Uint8Array, out: Uint8Array): number {
  let got = 0;
  if (idat.length > 2 && zlibHeaderOk(idat)) {
    try {
      new Inflate((data) => {
        const n = Math.min(data.length, out.length - got);
        out.set(data.subarray(0, n), got);
        got += n;
      }).push(idat.subarray(2), false);
    } catch {
      got = 0;
    }
  }
  return got;
}

/** A zlib header: deflate, a window of at most 32 KiB, its check bits right, no dictionary. */
function zlibHeaderOk(bytes: Uint8Array): boolean {
  const cmf = bytes[0], flags = bytes[1];
  return (cmf & 15) === 8 && cmf >> 4 <= 7 && ((cmf << 8) | flags) % 31 === 0 && !(flags & 32);
}

/** The fields of fflate 0.8's streaming inflater that cutStoredBlock reads. */
interface InflaterInternals {
  /** Input not consumed yet, from the byte holding the next bit. */
  p?: unknown;
  /** State: the next bit's offset in `p`, the current block's code table, the last block's flag. */
  s?: { p?: unknown; l?: unknown; f?: unknown };
  /** Nonzero while the zlib header is not read. */
  v?: unknown;
}

/**
 * The bytes present of a stored (uncompressed) block that the data ends inside: zlib gives them
 * out as they come, fflate waits for the whole block; so they are read from fflate's pending input
 * (its internal fields: when they are not as expected, this gives nothing).
 */
function cutStoredBlock(inflater: Unzlib): Uint8Array {
  const none = new Uint8Array(0);
  const { p: input, s: state, v: header } = inflater as unknown as InflaterInternals;
  if (!(input instanceof Uint8Array) || typeof state?.p !== "number") return none;
  if (header || state.l || state.f) return none; // zlib header unread, in a coded block, or ended
  const bit = state.p;
  const at = bit >> 3;
  if (input.length * 8 < bit + 3) return none;
  const blockType = (((input[at] | (input[at + 1] << 8)) >> (bit & 7)) >> 1) & 3;
  const start = ((bit + 3 + 7) >> 3) + 4; // stored data starts after LEN and NLEN, byte-aligned
  if (blockType !== 0 || start > input.length) return none;
  const length = input[start - 4] | (input[start - 3] << 8);
  const check = input[start - 2] | (input[start - 1] << 8);
  if ((length ^ check) !== 0xffff) return none; // zlib refuses such a block
  return input.subarray(start, Math.min(start + length, input.length));
}

/**
 * Undoes the row filters of one pass in place; `bpp` is the bytes a filter looks back (a whole
 * pixel, at least one byte).
 */
function unfilter(data: Uint8Array, pass: Pass, bpp: number): void {
  const n = pass.rowBytes;
  let up: Uint8Array | null = null; // the row above, none in a pass's first row
  for (let y = 0, at = pass.start; y < pass.height; y++, at += n + 1) {
    const type = data[at];
    const row = data.subarray(at + 1, at + 1 + n);
    if (type === 1 || (type === 4 && up === null)) {
      // Sub; Paeth with no row above predicts from the left alone.
      for (let i = bpp; i < n; i++) row[i] += row[i - bpp];
    } else if (type === 2) {
      if (up !== null) { for (let i = 0; i < n; i++) row[i] += up[i]; }
    } else if (type === 3) {
      if (up === null) {
        for (let i = bpp; i < n; i++) row[i] += row[i - bpp] >> 1;
      } else {
        for (let i = 0; i < bpp && i < n; i++) row[i] += up[i] >> 1;
        for (let i = bpp; i < n; i++) row[i] += (row[i - bpp] + up[i]) >> 1;
      }
    } else if (type === 4 && up !== null) {
      unpaeth(row, up, bpp);
    } else if (type !== 0) {
      throw new DecodeError("corrupt", `invalid PNG data: Unrecognised filter type - ${type}`);
    }
    up = row;
  }
}

/**
 * Undoes the Paeth filter on a row with a row above: each byte's predictor is the one of left (a),
 * up (b) and up-left (c) nearest a + b − c, ties going to a, then b. Branch-free, as photos make
 * the choice unpredictable.
 */
function unpaeth(row: Uint8Array, up: Uint8Array, bpp: number): void {
  const n = row.length;
  for (let i = 0; i < bpp && i < n; i++) row[i] += up[i];
  for (let i = bpp, j = 0; i < n; i++, j++) {
    const a = row[j], b = up[i], c = up[j];
    const da = b - c, db = a - c, dc = da + db; // a + b − c minus a, b and c
    const sa = da >> 31, sb = db >> 31, sc = dc >> 31;
    const pa = (da ^ sa) - sa, pb = (db ^ sb) - sb, pc = (dc ^ sc) - sc; // their sizes
    const notA = ((pb - pa) | (pc - pa)) >> 31; // all ones unless pa <= pb and pa <= pc
    const isC = (pc - pb) >> 31; // all ones when pc < pb
    row[i] += (a & ~notA) | (notA & ((b & ~isC) | (c & isC)));
  }
}

/** The first pixel (in raster order) whose palette index is past the palette's end. */
interface BadIndex {
  /** Its offset in the RGBA output, -1 while there is none. */
  at: number;
  index: number;
}

/**
 * Unpacks the unfiltered rows of one pass (1–8-bit samples) into RGBA bytes at the pass's pixels:
 * gray is replicated with alpha 2^depth − 1 (1–4-bit levels are not scaled), palette indices are
 * looked up in `table`; an index past the palette's `entries` is noted in `bad`.
 */
function unpack8(
  data: Uint8Array,
  pass: Pass,
  png: PngChunks,
  table: Uint8Array,
  entries: number,
  bad: BadIndex,
  out: Uint8Array,
): void {
  const depth = png.bitDepth;
  const mask = (1 << depth) - 1;
  const step = 4 * pass.dx;
  const n = pass.width;
  for (let y = 0, at = pass.start; y < pass.height; y++, at += pass.rowBytes + 1) {
    let s = at + 1;
    let o = 4 * ((pass.y0 + y * pass.dy) * png.width + pass.x0);
    if (png.colorType === 3) {
      for (let x = 0, bit = 0; x < n; x++, bit += depth, o += step) {
        const v = depth === 8
          ? data[s + x]
          : (data[s + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
        if (v >= entries && (bad.at < 0 || o < bad.at)) {
          bad.at = o;
          bad.index = v;
        }
        out[o] = table[4 * v];
        out[o + 1] = table[4 * v + 1];
        out[o + 2] = table[4 * v + 2];
        out[o + 3] = table[4 * v + 3];
      }
    } else if (depth < 8) {
      for (let x = 0, bit = 0; x < n; x++, bit += depth, o += step) {
        const v = (data[s + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
        out[o] = out[o + 1] = out[o + 2] = v;
        out[o + 3] = mask;
      }
    } else if (png.colorType === 0) {
      for (let x = 0; x < n; x++, s++, o += step) {
        out[o] = out[o + 1] = out[o + 2] = data[s];
        out[o + 3] = 255;
      }
    } else if (png.colorType === 2) {
      for (let x = 0; x < n; x++, s += 3, o += step) {
        out[o] = data[s];
        out[o + 1] = data[s + 1];
        out[o + 2] = data[s + 2];
        out[o + 3] = 255;
      }
    } else if (png.colorType === 4) {
      for (let x = 0; x < n; x++, s += 2, o += step) {
        out[o] = out[o + 1] = out[o + 2] = data[s];
        out[o + 3] = data[s + 1];
      }
    } else if (step === 4) {
      out.set(data.subarray(s, s + 4 * n), o);
    } else {
      for (let x = 0; x < n; x++, s += 4, o += step) {
        out[o] = data[s];
        out[o + 1] = data[s + 1];
        out[o + 2] = data[s + 2];
        out[o + 3] = data[s + 3];
      }
    }
  }
}

/** As unpack8, for 16-bit samples (big-endian in the rows) into RGBA words; opaque is 65535. */
function unpack16(
  data: Uint8Array,
  pass: Pass,
  png: PngChunks,
  out: Uint16Array,
): void {
  const samples = SAMPLES[png.colorType];
  const step = 4 * pass.dx;
  for (let y = 0, at = pass.start; y < pass.height; y++, at += pass.rowBytes + 1) {
    let s = at + 1;
    let o = 4 * ((pass.y0 + y * pass.dy) * png.width + pass.x0);
    for (let x = 0; x < pass.width; x++, s += 2 * samples, o += step) {
      const first = (data[s] << 8) | data[s + 1];
      if (samples <= 2) {
        out[o] = out[o + 1] = out[o + 2] = first;
        out[o + 3] = samples === 2 ? (data[s + 2] << 8) | data[s + 3] : 65535;
      } else {
        out[o] = first;
        out[o + 1] = (data[s + 2] << 8) | data[s + 3];
        out[o + 2] = (data[s + 4] << 8) | data[s + 5];
        out[o + 3] = samples === 4 ? (data[s + 6] << 8) | data[s + 7] : 65535;
      }
    }
  }
}

/**
 * RGBA samples from the chunks, in pngjs's layout (what decode.ts expects): 8-bit in a
 * Uint8Array, 16-bit in a Uint16Array, 1–4-bit gray unscaled, palette entries looked up. Every row
 * is unfiltered before any is unpacked, and a bad palette index is reported at its first pixel in
 * raster order, so the error for damaged data is the one pngjs gave.
 */
export function pngPixels(png: PngChunks): Uint8Array | Uint16Array {
  const { passes, size } = passesOf(png);
  const rows = inflateImageData(png.idat, size);
  const bpp = Math.max(1, (SAMPLES[png.colorType] * png.bitDepth) >> 3);
  for (const pass of passes) unfilter(rows, pass, bpp);
  const samples = png.width * png.height * 4;
  if (png.bitDepth === 16) {
    const out = new Uint16Array(samples);
    for (const pass of passes) unpack16(rows, pass, png, out);
    return out;
  }
  const out = new Uint8Array(samples);
  const table = new Uint8Array(4 * 256);
  png.palette?.forEach((entry, i) => table.set(entry, 4 * i));
  const entries = png.palette?.length ?? 0;
  const bad: BadIndex = { at: -1, index: 0 };
  for (const pass of passes) unpack8(rows, pass, png, table, entries, bad, out);
  if (bad.at >= 0) {
    throw new DecodeError("corrupt", `invalid PNG data: index ${bad.index} not in palette`);
  }
  return out;
}
