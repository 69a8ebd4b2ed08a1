// Internal: a fast decoder for the JPEGs photo folders hold: 8-bit Huffman, baseline (one
// interleaved scan) or progressive, gray, YCbCr or RGB (libjpeg's guess from JFIF, Adobe and
// component ids), chroma 4:4:4, 4:2:2 or 4:2:0. It follows libjpeg's integer IDCT (jidctint), fancy
// upsampling and colour conversion, so its output equals PIL's (libjpeg-turbo) bit for bit. Junk
// where a marker should be is skipped, and a baseline scan's restart markers that are missing or
// out of order, or data cut short by a marker, are resolved as libjpeg does (_jpeg_restart.ts).
// Anything else (CMYK/YCCK, 12-bit, or data it cannot account for, such as a truncated or corrupt
// scan, or a progressive one whose restart markers are out of order) returns null, and the caller
// falls back to jpeg-js.
//
// Why not jpeg-js alone: it allocates a block per 8×8 coefficient set and decodes Huffman codes a
// bit at a time; the first epoch of an image-folder run is bound by JPEG decoding (BENCHMARKS.md).
import {
  type ArithmeticComponent,
  type ArithmeticConditioning,
  type ArithmeticScan,
  decodeArithmeticScan,
  defaultConditioning,
  readConditioning,
} from "./_jpeg_arith.ts";
import { findMarker } from "./_jpeg_markers.ts";
import { readSegments, refusedAfterScan, restart } from "./_jpeg_restart.ts";

/** A decoded JPEG: RGB (gray replicated) HWC, 8 bits. */
export interface FastJpeg {
  width: number;
  height: number;
  /** 1 when the file is gray (the RGB samples are then equal). */
  components: 1 | 3;
  /** RGB, row-major. */
  data: Uint8Array;
  /** What was tolerated, in libjpeg's words (restart markers out of order, data cut short). */
  warnings: string[];
}

/** Zigzag position → natural (row-major) position in an 8×8 block. */
const ZIGZAG = Uint8Array.from([
  0,
  1,
  8,
  16,
  9,
  2,
  3,
  10,
  17,
  24,
  32,
  25,
  18,
  11,
  4,
  5,
  12,
  19,
  26,
  33,
  40,
  48,
  41,
  34,
  27,
  20,
  13,
  6,
  7,
  14,
  21,
  28,
  35,
  42,
  49,
  56,
  57,
  50,
  43,
  36,
  29,
  22,
  15,
  23,
  30,
  37,
  44,
  51,
  58,
  59,
  52,
  45,
  38,
  31,
  39,
  46,
  53,
  60,
  61,
  54,
  47,
  55,
  62,
  63,
]);

const FAST_BITS = 9;

/** A Huffman table: a 9-bit lookup for short codes and canonical limits for the rest. */
interface HuffmanTable {
  /** Indexed by the next 9 bits: (code length << 8) | symbol, or 0 for longer codes. */
  fast: Int32Array;
  /** For AC tables: run, size and the coefficient value, when code + value fit in 9 bits. */
  fastAc: Int32Array;
  /** maxCode[l]: one past the largest code of length l, left-aligned to 16 bits (l = 1..16). */
  maxCode: Int32Array;
  /** delta[l]: symbol index = code + delta[l] for codes of length l. */
  delta: Int32Array;
  symbols: Uint8Array;
}

function buildHuffman(counts: Uint8Array, symbols: Uint8Array): HuffmanTable | null {
  const fast = new Int32Array(1 << FAST_BITS);
  const maxCode = new Int32Array(18);
  const delta = new Int32Array(17);
  let code = 0;
  let index = 0;
  for (let length = 1; length <= 16; length++) {
    delta[length] = index - code;
    for (let i = 0; i < counts[length - 1]; i++, index++, code++) {
      if (length <= FAST_BITS) {
        const first = code << (FAST_BITS - length);
        const span = 1 << (FAST_BITS - length);
        for (let j = 0; j < span; j++) fast[first + j] = (length << 8) | symbols[index];
      }
    }
    if (code > 1 << length) return null; // more codes than the length allows
    maxCode[length] = code << (16 - length);
    code <<= 1;
  }
  maxCode[17] = 0x7fffffff;
  // Short AC codes whose value bits also fit: decoded with one lookup.
  const fastAc = new Int32Array(1 << FAST_BITS);
  for (let bits = 0; bits < 1 << FAST_BITS; bits++) {
    const entry = fast[bits];
    if (entry === 0) continue;
    const length = entry >> 8;
    const symbol = entry & 255;
    const run = symbol >> 4;
    const size = symbol & 15;
    if (size === 0 || length + size > FAST_BITS) continue;
    let value = (bits >> (FAST_BITS - length - size)) & ((1 << size) - 1);
    if (value < 1 << (size - 1)) value += 1 - (1 << size);
    fastAc[bits] = (value << 16) | (run << 8) | (length + size);
  }
  return { fast, fastAc, maxCode, delta, symbols };
}

interface Component {
  id: number;
  h: number;
  v: number;
  quant: number;
  dcTable: HuffmanTable | null;
  acTable: HuffmanTable | null;
  /** Samples per plane row (blocks across × 8). */
  stride: number;
  plane: Uint8ClampedArray;
}

const be16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];

/**
 * Decodes a baseline or progressive JPEG, or returns null when the file needs the general decoder.
 * Bad data returns null too: it never throws.
 */
export function decodeJpegFast(bytes: Uint8Array): FastJpeg | null {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) return null;
  const quantTables: (Int32Array | undefined)[] = [];
  const dcTables: (HuffmanTable | null)[] = [];
  const acTables: (HuffmanTable | null)[] = [];
  let restartInterval = 0;
  let width = 0;
  let height = 0;
  let components: Component[] = [];
  let progressive: ProgressiveState | null = null;
  let isProgressive = false;
  let arithmetic = false;
  const conditioning = defaultConditioning();
  let scans = 0;
  let sawJfif = false;
  let adobeTransform = -1;
  let at = 2;
  while (at + 2 <= bytes.length) {
    if (bytes[at] !== 0xff) {
      at = findMarker(bytes, at).at; // junk where a marker should be: libjpeg skips it
      continue;
    }
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at++; // fill byte
      continue;
    }
    if (marker === 0xd9) {
      // End of image: a progressive frame is complete once all its scans are read.
      return progressive === null ? null : finishProgressive(
        progressive,
        components,
        width,
        height,
        isRgb(components, sawJfif, adobeTransform),
      );
    }
    if (at + 4 > bytes.length) return null;
    const length = be16(bytes, at + 2);
    const body = at + 4;
    const end = at + 2 + length;
    if (length < 2 || end > bytes.length) return null;
    if (marker === 0xdb) {
      for (let p = body; p < end;) {
        const precision = bytes[p] >> 4;
        const id = bytes[p] & 15;
        if (id > 3 || precision > 1) return null;
        const table = new Int32Array(64);
        p++;
        for (let k = 0; k < 64; k++, p += precision + 1) {
          table[k] = precision ? be16(bytes, p) : bytes[p];
        }
        if (p > end) return null;
        quantTables[id] = table;
      }
    } else if (marker === 0xc4) {
      for (let p = body; p < end;) {
        const kind = bytes[p] >> 4;
        const id = bytes[p] & 15;
        if (kind > 1 || id > 3 || p + 17 > end) return null;
        const counts = bytes.subarray(p + 1, p + 17);
        let total = 0;
        for (let i = 0; i < 16; i++) total += counts[i];
        if (p + 17 + total > end) return null;
        const table = buildHuffman(counts, bytes.subarray(p + 17, p + 17 + total));
        if (table === null) return null;
        (kind === 0 ? dcTables : acTables)[id] = table;
        p += 17 + total;
      }
    } else if (marker === 0xdd) {
      restartInterval = be16(bytes, body);
    } else if (
      marker === 0xc0 || marker === 0xc1 || marker === 0xc2 || marker === 0xc9 || marker === 0xca
    ) {
      if (bytes[body] !== 8 || components.length > 0) return null;
      isProgressive = marker === 0xc2 || marker === 0xca;
      arithmetic = marker === 0xc9 || marker === 0xca;
      height = be16(bytes, body + 1);
      width = be16(bytes, body + 3);
      const count = bytes[body + 5];
      if (width === 0 || height === 0 || (count !== 1 && count !== 3)) return null;
      components = [];
      for (let i = 0; i < count; i++) {
        const p = body + 6 + i * 3;
        components.push({
          id: bytes[p],
          h: bytes[p + 1] >> 4,
          v: bytes[p + 1] & 15,
          quant: bytes[p + 2],
          dcTable: null,
          acTable: null,
          stride: 0,
          plane: new Uint8ClampedArray(0),
        });
      }
    } else if (marker === 0xcc) {
      if (!readConditioning(bytes, body, end, conditioning)) return null; // DAC
    } else if ((marker >= 0xc3 && marker <= 0xcf) && marker !== 0xc4 && marker !== 0xc8) {
      return null; // lossless or hierarchical
    } else if (marker === 0xe0 && length >= 16 && isText(bytes, body, "JFIF\0")) {
      sawJfif = true; // libjpeg reads only a complete (14-byte) JFIF segment
    } else if (marker === 0xee && length >= 14 && isText(bytes, body, "Adobe")) {
      adobeTransform = bytes[body + 11]; // libjpeg reads only a complete (12-byte) segment
    } else if (marker === 0xda) {
      if (components.length === 0) return null;
      const count = bytes[body];
      if (count < 1 || count > components.length) return null;
      if (arithmetic) {
        // Arithmetic coding, sequential or progressive: coefficients first, as for progressive.
        if (progressive === null) {
          const layout = planLayout(components, width, height);
          if (layout === null) return null;
          progressive = startProgressive(components, width, height, layout, quantTables);
        }
        if (++scans > 256) return null;
        const scan = arithmeticScan(
          bytes,
          body,
          progressive,
          !isProgressive,
          restartInterval,
          conditioning,
        );
        const next = scan === null ? -1 : decodeArithmeticScan(bytes, end, scan);
        if (next < 0) return null;
        at = next;
        continue;
      }
      if (!isProgressive && count !== components.length) return null; // one interleaved scan
      // An MCU holds its blocks in the scan's component order (T.81 requires the frame's order;
      // decoding by the scan's costs nothing). A component listed twice is refused.
      const scanOrder: Component[] = [];
      for (let i = 0; i < count; i++) {
        const id = bytes[body + 1 + i * 2];
        const tables = bytes[body + 2 + i * 2];
        const component = components.find((c) => c.id === id);
        if (component === undefined || scanOrder.includes(component)) return null;
        component.dcTable = dcTables[tables >> 4] ?? null;
        component.acTable = acTables[tables & 15] ?? null;
        scanOrder.push(component);
      }
      const [ss, se, approximation] = bytes.subarray(body + 1 + count * 2, body + 4 + count * 2);
      if (isProgressive) {
        if (progressive === null) {
          const layout = planLayout(components, width, height);
          if (layout === null) return null;
          progressive = startProgressive(components, width, height, layout, quantTables);
        }
        const scan: ProgressiveScan = {
          components: scanOrder.map((c) => components.indexOf(c)),
          ss,
          se,
          ah: approximation >> 4,
          al: approximation & 15,
        };
        // libjpeg's scripts use ~10 scans; a file with hundreds is crafted, and each scan costs
        // a pass over the rest of the file here.
        if (++scans > 256) return null;
        const next = decodeProgressiveScan(bytes, end, progressive, scan, restartInterval);
        if (next < 0) return null;
        at = next;
        continue;
      }
      if (scanOrder.some((c) => c.dcTable === null || c.acTable === null)) return null;
      if (ss !== 0 || se !== 63 || approximation !== 0) return null;
      const layout = planLayout(components, width, height);
      if (layout === null) return null;
      const quants = scanOrder.map((c) => quantTables[c.quant]);
      if (quants.some((q) => q === undefined)) return null;
      const warnings: string[] = [];
      const decoded = decodeScan(
        bytes,
        end,
        layout,
        scanOrder,
        quants as Int32Array[],
        restartInterval,
        warnings,
      );
      if (!decoded) return null;
      const rgb = isRgb(components, sawJfif, adobeTransform);
      return toRgb(components, width, height, rgb, [...new Set(warnings)]);
    }
    at = end;
  }
  return null;
}

/** An arithmetic-coded scan's header (at `body`, an SOS segment's) over a frame's coefficients. */
function arithmeticScan(
  bytes: Uint8Array,
  body: number,
  state: ProgressiveState,
  sequential: boolean,
  restartInterval: number,
  conditioning: ArithmeticConditioning,
): ArithmeticScan | null {
  const count = bytes[body];
  const components: ArithmeticComponent[] = [];
  for (let i = 0; i < count; i++) {
    const index = state.frame.findIndex((c) => c.id === bytes[body + 1 + i * 2]);
    if (index < 0 || components.some((c) => c.coefficients === state.coefficients[index])) {
      return null;
    }
    const c = state.frame[index];
    const tables = bytes[body + 2 + i * 2];
    components.push({
      coefficients: state.coefficients[index],
      blocksPerLine: state.blocksPerLine[index],
      h: c.h,
      v: c.v,
      dcTable: (tables >> 4) & 3,
      acTable: tables & 3,
    });
  }
  const [ss, se, approximation] = bytes.subarray(body + 1 + count * 2, body + 4 + count * 2);
  const { layout } = state;
  const frameIndex = state.coefficients.indexOf(components[0].coefficients);
  const c0 = state.frame[frameIndex];
  const single = count === 1;
  return {
    components,
    unitsX: single ? Math.ceil(Math.ceil((state.width * c0.h) / layout.hMax) / 8) : layout.mcusX,
    unitsY: single ? Math.ceil(Math.ceil((state.height * c0.v) / layout.vMax) / 8) : layout.mcusY,
    ss,
    se,
    ah: approximation >> 4,
    al: approximation & 15,
    sequential,
    restartInterval,
    conditioning,
  };
}

/** The MCU grid of a frame. */
interface Layout {
  hMax: number;
  vMax: number;
  mcusX: number;
  mcusY: number;
}

/** Checks the sampling factors and allocates each component's plane; null when unsupported. */
function planLayout(components: Component[], width: number, height: number): Layout | null {
  const single = components.length === 1;
  let hMax = 1, vMax = 1;
  for (const c of components) {
    if (single) c.h = c.v = 1; // a lone component's MCU is one block, whatever its factors
    if (c.h < 1 || c.h > 2 || c.v < 1 || c.v > 2) return null;
    hMax = Math.max(hMax, c.h);
    vMax = Math.max(vMax, c.v);
  }
  const mcusX = Math.ceil(width / (8 * hMax));
  const mcusY = Math.ceil(height / (8 * vMax));
  for (const c of components) {
    if (hMax % c.h !== 0 || vMax % c.v !== 0) return null;
    c.stride = mcusX * c.h * 8;
    c.plane = new Uint8ClampedArray(c.stride * mcusY * c.v * 8);
  }
  return { hMax, vMax, mcusX, mcusY };
}

/** Bits one block can take at most: a DC code and value, then 63 AC codes and values. */
const MAX_BLOCK_BITS = 16 + 11 + 63 * (16 + 15);

/**
 * Decodes a baseline scan into each component's plane; false when the data is bad or the file
 * ends inside the scan. Restart markers that are missing or out of order, and data that runs out
 * at a marker, are handled as libjpeg does (see _jpeg_restart.ts), with its warnings.
 */
function decodeScan(
  bytes: Uint8Array,
  start: number,
  { mcusX, mcusY }: Layout,
  components: Component[],
  quants: Int32Array[],
  restartInterval: number,
  warnings: string[],
): boolean {
  const mcu = new McuDecoder(components, quants);
  // An MCU that runs past its segment's bytes reads at most this far beyond them.
  const padding = (mcu.blocks * MAX_BLOCK_BITS >> 3) + 8;
  const segments = readSegments(bytes, start, padding);
  const { data, bounds } = segments;
  const view = new DataView(data.buffer);
  const lastSegment = bounds.length - 2;
  // Where the bits run out at a marker, libjpeg reads zeros: the MCU is decoded again from a copy
  // of its bytes followed by zeros (rare: only damaged files get here).
  const scratch = new Uint8Array(2 * padding);
  const scratchView = new DataView(scratch.buffer);
  const saved = new Int32Array(components.length);

  const totalMcus = mcusX * mcusY;
  let segment = 0;
  let atMarker = false; // the decoder stands before the marker after `segment`: no data left
  let insufficient = false; // the data ran out in this interval: its other MCUs stay zero
  let bp = 0;
  let limit = bounds[1] * 8;
  let expected = 0;
  let intervalEnd = restartInterval > 0 ? restartInterval : totalMcus;
  for (let index = 0; index < totalMcus; index++) {
    if (index === intervalEnd) {
      const next = restart(segments, segment, expected, warnings);
      if (next === null) return false;
      expected = (expected + 1) & 7;
      intervalEnd += restartInterval;
      mcu.predictors.fill(0);
      segment = next.segment;
      atMarker = next.atMarker;
      if (!atMarker) {
        insufficient = false;
        bp = bounds[segment] * 8;
        limit = bounds[segment + 1] * 8;
      }
    }
    const mcuX = index % mcusX;
    const mcuY = (index - mcuX) / mcusX;
    if (insufficient) {
      mcu.fillFlat(mcuX, mcuY);
      continue;
    }
    if (atMarker) {
      // No data before the marker: the whole MCU comes from zeros.
      scratch.fill(0);
      if (mcu.decode(scratchView, 0, mcuX, mcuY) < 0) return false;
      insufficient = true;
      warnings.push("Corrupt JPEG data: premature end of data segment");
      continue;
    }
    const risky = limit - bp < mcu.blocks * MAX_BLOCK_BITS;
    if (risky) saved.set(mcu.predictors);
    const from = bp;
    bp = mcu.decode(view, bp, mcuX, mcuY);
    if (bp < 0) return false;
    if (bp > limit) {
      // The data ran out inside this MCU: decode it again with zeros after the segment's bytes.
      if (segment === lastSegment && segments.markers[segment] < 0) return false; // truncated
      const first = from >>> 3;
      scratch.fill(0);
      scratch.set(data.subarray(first, limit >>> 3));
      mcu.predictors.set(saved);
      if (mcu.decode(scratchView, from & 7, mcuX, mcuY) < 0) return false;
      insufficient = true;
      warnings.push("Corrupt JPEG data: premature end of data segment");
    }
  }
  return !refusedAfterScan(segments, segment);
}

/** Decodes one MCU of a baseline scan at a time into the components' planes. */
class McuDecoder {
  /** Blocks in one MCU. */
  readonly blocks: number;
  /** Each component's DC prediction, in scan order. */
  readonly predictors: Int32Array;
  readonly #block = new Int32Array(64);
  readonly #workspace = new Int32Array(64);

  constructor(readonly components: Component[], readonly quants: Int32Array[]) {
    this.blocks = components.reduce((sum, c) => sum + c.h * c.v, 0);
    this.predictors = new Int32Array(components.length);
  }

  /** Writes every block of an MCU as libjpeg leaves one it has no data for: zero, so flat 128. */
  fillFlat(mcuX: number, mcuY: number): void {
    for (const c of this.components) {
      for (let by = 0; by < c.v; by++) {
        const o = ((mcuY * c.v + by) * 8) * c.stride + (mcuX * c.h) * 8;
        for (let row = 0; row < 8; row++) {
          c.plane.fill(128, o + row * c.stride, o + row * c.stride + c.h * 8);
        }
      }
    }
  }

  /**
   * Decodes the MCU at bit `bp` of `view`; returns the bit position after it, or −1 for data no
   * table can decode. A read may go past the MCU's data: the caller checks the position.
   *
   * The only reader state is the bit position `bp` in the unstuffed data: a read is four byte
   * loads into a left-aligned 32-bit word (at least 25 valid bits), with no refill bookkeeping.
   */
  decode(view: DataView, bp: number, mcuX: number, mcuY: number): number {
    const block = this.#block;
    const components = this.components;
    const predictors = this.predictors;
    for (let ci = 0; ci < components.length; ci++) {
      const c = components[ci];
      const q = this.quants[ci];
      const dc = c.dcTable!;
      const ac = c.acTable!;
      const fastAc = ac.fastAc;
      for (let by = 0; by < c.v; by++) {
        for (let bx = 0; bx < c.h; bx++) {
          // DC: a Huffman-coded size, then that many bits of difference.
          let p = bp >>> 3;
          let word = view.getInt32(p) <<
            (bp & 7);
          let entry = dc.fast[word >>> (32 - FAST_BITS)];
          let length: number, symbol: number;
          if (entry !== 0) {
            length = entry >> 8;
            symbol = entry & 255;
          } else {
            length = slowLength(dc, word >>> 16);
            if (length > 16) return -1;
            symbol = dc.symbols[(word >>> (32 - length)) + dc.delta[length]];
          }
          bp += length;
          if (symbol > 11) return -1;
          let diff = 0;
          if (symbol !== 0) {
            p = bp >>> 3;
            word = view.getInt32(p) <<
              (bp & 7);
            diff = word >>> (32 - symbol);
            if (diff < 1 << (symbol - 1)) diff += 1 - (1 << symbol);
            bp += symbol;
          }
          predictors[ci] += diff;
          block[0] = predictors[ci] * q[0];
          let hasAc = false;
          for (let k = 1; k < 64;) {
            p = bp >>> 3;
            word = view.getInt32(p) <<
              (bp & 7);
            const fast = fastAc[word >>> (32 - FAST_BITS)];
            if (fast !== 0) {
              // Code and value in one lookup.
              bp += fast & 255;
              k += (fast >> 8) & 255;
              if (k > 63) return -1;
              block[ZIGZAG[k]] = (fast >> 16) * q[k];
              hasAc = true;
              k++;
              continue;
            }
            entry = ac.fast[word >>> (32 - FAST_BITS)];
            if (entry !== 0) {
              length = entry >> 8;
              symbol = entry & 255;
            } else {
              length = slowLength(ac, word >>> 16);
              if (length > 16) return -1;
              symbol = ac.symbols[(word >>> (32 - length)) + ac.delta[length]];
            }
            bp += length;
            const run = symbol >> 4;
            const size = symbol & 15;
            if (size === 0) {
              if (run !== 15) break; // end of block
              k += 16;
              continue;
            }
            k += run;
            if (k > 63) return -1;
            p = bp >>> 3;
            word = view.getInt32(p) <<
              (bp & 7);
            let value = word >>> (32 - size);
            if (value < 1 << (size - 1)) value += 1 - (1 << size);
            bp += size;
            block[ZIGZAG[k]] = value * q[k];
            hasAc = true;
            k++;
          }
          const x = (mcuX * c.h + bx) * 8;
          const y = (mcuY * c.v + by) * 8;
          if (hasAc) {
            inverseDct(block, this.#workspace, c.plane, y * c.stride + x, c.stride);
            block.fill(0);
          } else {
            // A flat block: both IDCT passes reduce to this (exactly, rounding included).
            const value = Math.min(255, Math.max(0, ((block[0] * 4 + 16) >> 5) + 128));
            for (let row = 0, o = y * c.stride + x; row < 8; row++, o += c.stride) {
              c.plane.fill(value, o, o + 8);
            }
          }
        }
      }
    }
    return bp;
  }
}

const isText = (bytes: Uint8Array, at: number, text: string) =>
  String.fromCharCode(...bytes.subarray(at, at + text.length)) === text;

/**
 * libjpeg's guess of a 3-component file's colour space (jdapimin.c): a JFIF marker means YCbCr;
 * otherwise an Adobe marker's transform 0 means RGB; otherwise components named R, G, B do.
 */
function isRgb(components: Component[], sawJfif: boolean, adobeTransform: number): boolean {
  if (components.length !== 3 || sawJfif) return false;
  if (adobeTransform >= 0) return adobeTransform === 0;
  return components[0].id === 82 && components[1].id === 71 && components[2].id === 66;
}

/** Gray, YCbCr or RGB planes to RGB. */
function toRgb(
  components: Component[],
  width: number,
  height: number,
  rgb: boolean,
  warnings: string[] = [],
): FastJpeg {
  if (components.length === 1) {
    const data = grayToRgb(components[0], width, height);
    return { width, height, components: 1, data, warnings };
  }
  return {
    width,
    height,
    components: 3,
    data: rgb ? planesToRgb(components, width, height) : yccToRgb(components, width, height),
    warnings,
  };
}

/** Planes stored as R, G and B (no colour transform), interleaved. */
function planesToRgb(components: Component[], width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  const hMax = Math.max(...components.map((c) => c.h));
  const vMax = Math.max(...components.map((c) => c.v));
  components.forEach((c, ci) => {
    const { samples, stride } = upsample(c, hMax, vMax, width, height);
    for (let y = 0, o = ci; y < height; y++) {
      for (let x = 0; x < width; x++, o += 3) out[o] = samples[y * stride + x];
    }
  });
  return out;
}

/** A progressive frame's coefficients, filled in scan by scan. */
interface ProgressiveState {
  frame: Component[];
  width: number;
  height: number;
  layout: Layout;
  /** Per frame component: quantized coefficients, 64 per block in natural order, MCU-padded. */
  coefficients: Int16Array[];
  /** Blocks per row of each component (MCU-padded). */
  blocksPerLine: number[];
  /** The frame's quantization tables (read when the image is complete). */
  quantTables: (Int32Array | undefined)[];
}

/** One progressive scan's header. */
interface ProgressiveScan {
  /** Frame component indices, in scan order. */
  components: number[];
  ss: number;
  se: number;
  ah: number;
  al: number;
}

function startProgressive(
  frame: Component[],
  width: number,
  height: number,
  layout: Layout,
  quantTables: (Int32Array | undefined)[],
): ProgressiveState {
  const blocksPerLine = frame.map((c) => layout.mcusX * c.h);
  const coefficients = frame.map((c, i) =>
    new Int16Array(blocksPerLine[i] * layout.mcusY * c.v * 64)
  );
  return { frame, width, height, layout, coefficients, blocksPerLine, quantTables };
}

/**
 * Reads bits from unstuffed scan data (T.81 G.1.2's progressive procedures are not the hot path of
 * a photo folder, so this keeps its state in fields for clarity).
 */
class BitReader {
  bp: number;
  constructor(readonly view: DataView, start: number) {
    this.bp = start * 8;
  }
  /** The next 32 bits, left-aligned. */
  peek(): number {
    return this.view.getInt32(this.bp >>> 3) << (this.bp & 7);
  }
  bits(n: number): number {
    if (n === 0) return 0;
    const value = this.peek() >>> (32 - n);
    this.bp += n;
    return value;
  }
  bit(): number {
    return this.bits(1);
  }
  /** A Huffman symbol, or −1 for a code no table entry matches. */
  symbol(table: HuffmanTable): number {
    const word = this.peek();
    const entry = table.fast[word >>> (32 - FAST_BITS)];
    if (entry !== 0) {
      this.bp += entry >> 8;
      return entry & 255;
    }
    const length = slowLength(table, word >>> 16);
    if (length > 16) return -1;
    this.bp += length;
    return table.symbols[(word >>> (32 - length)) + table.delta[length]];
  }
  /** `size` bits as a signed coefficient (T.81's EXTEND). */
  extend(size: number): number {
    const value = this.bits(size);
    return value < 1 << (size - 1) ? value + 1 - (1 << size) : value;
  }
}

/**
 * Decodes one progressive scan into the coefficients (T.81 G.1.2: DC first and refinement, AC
 * spectral selection with end-of-band runs, AC successive approximation). Returns where the next
 * marker starts, or −1 when the data is bad.
 */
function decodeProgressiveScan(
  bytes: Uint8Array,
  start: number,
  state: ProgressiveState,
  scan: ProgressiveScan,
  restartInterval: number,
): number {
  const { layout, coefficients, blocksPerLine } = state;
  const { ss, se, ah, al } = scan;
  const isDc = ss === 0;
  // DC scans may interleave components; AC scans hold exactly one. Ranges must be sane.
  if (isDc ? se !== 0 : (se < ss || se > 63 || scan.components.length !== 1)) return -1;
  if (ah > 13 || al > 13) return -1;
  const components = scan.components;
  const single = components.length === 1;
  // A single-component scan walks that component's own blocks (not MCU-padded); otherwise MCUs.
  const first = state.frame[components[0]];
  const unitsX = single
    ? Math.ceil(Math.ceil((state.width * first.h) / layout.hMax) / 8)
    : layout.mcusX;
  const unitsY = single
    ? Math.ceil(Math.ceil((state.height * first.v) / layout.vMax) / 8)
    : layout.mcusY;
  const totalUnits = unitsX * unitsY;
  const intervals = restartInterval > 0 ? Math.ceil(totalUnits / restartInterval) : 1;
  const { data, starts, end } = unstuff(bytes, start, intervals);
  if (starts.length < intervals + 1) return -1;
  const reader = new BitReader(new DataView(data.buffer), starts[0]);
  const predictors = new Int32Array(components.length);
  const tables = components.map((i) => ({
    dc: state.frame[i].dcTable,
    ac: state.frame[i].acTable,
  }));
  if (tables.some((t) => (isDc ? ah === 0 && t.dc === null : t.ac === null))) return -1;
  let eobRun = 0;
  let interval = 0;
  let intervalEnd = restartInterval > 0 ? restartInterval : totalUnits;

  // Successive approximation: one more bit of a coefficient already known to be nonzero.
  const plus = 1 << al;
  const minus = -1 << al;
  const refine = (coef: Int16Array, z: number) => {
    if (reader.bit() && (coef[z] & plus) === 0) coef[z] += coef[z] >= 0 ? plus : minus;
  };

  const decodeBlock = (ci: number, offset: number): boolean => {
    const coef = coefficients[components[ci]];
    if (isDc) {
      if (ah === 0) {
        const size = reader.symbol(tables[ci].dc!);
        if (size < 0 || size > 11) return false;
        predictors[ci] += size === 0 ? 0 : reader.extend(size);
        coef[offset] = predictors[ci] * (1 << al);
      } else if (reader.bit()) {
        coef[offset] |= 1 << al;
      }
      return true;
    }
    const ac = tables[ci].ac!;
    if (ah === 0) {
      if (eobRun > 0) {
        eobRun--;
        return true;
      }
      for (let k = ss; k <= se; k++) {
        const rs = reader.symbol(ac);
        if (rs < 0) return false;
        const run = rs >> 4;
        const size = rs & 15;
        if (size !== 0) {
          k += run;
          if (k > 63) return false;
          coef[offset + ZIGZAG[k]] = reader.extend(size) * (1 << al);
        } else if (run === 15) {
          k += 15;
        } else {
          eobRun = (1 << run) - 1 + reader.bits(run);
          break;
        }
      }
      return true;
    }
    // Successive approximation of AC coefficients: one more bit of each known nonzero
    // coefficient, and new coefficients of magnitude 1 placed among the zeros.
    let k = ss;
    if (eobRun === 0) {
      for (; k <= se; k++) {
        const rs = reader.symbol(ac);
        if (rs < 0) return false;
        let run = rs >> 4;
        const size = rs & 15;
        let value = 0;
        if (size !== 0) {
          if (size !== 1) return false;
          value = reader.bit() ? plus : minus;
        } else if (run !== 15) {
          eobRun = (1 << run) + reader.bits(run);
          break;
        }
        while (k <= se) {
          const z = offset + ZIGZAG[k];
          if (coef[z] !== 0) {
            refine(coef, z);
          } else {
            if (run === 0) break;
            run--;
          }
          k++;
        }
        if (value !== 0) {
          if (k > se) return false;
          coef[offset + ZIGZAG[k]] = value;
        }
      }
    }
    if (eobRun > 0) {
      for (; k <= se; k++) {
        const z = offset + ZIGZAG[k];
        if (coef[z] !== 0) refine(coef, z);
      }
      eobRun--;
    }
    return true;
  };

  for (let unit = 0; unit < totalUnits; unit++) {
    if (unit === intervalEnd) {
      if (reader.bp > starts[interval + 1] * 8) return -1;
      interval++;
      reader.bp = starts[interval] * 8;
      intervalEnd += restartInterval;
      predictors.fill(0);
      eobRun = 0;
    }
    const ux = unit % unitsX;
    const uy = (unit - ux) / unitsX;
    if (single) {
      const offset = (uy * blocksPerLine[components[0]] + ux) * 64;
      if (!decodeBlock(0, offset)) return -1;
    } else {
      for (let ci = 0; ci < components.length; ci++) {
        const c = state.frame[components[ci]];
        for (let by = 0; by < c.v; by++) {
          for (let bx = 0; bx < c.h; bx++) {
            const row = uy * c.v + by;
            const col = ux * c.h + bx;
            if (!decodeBlock(ci, (row * blocksPerLine[components[ci]] + col) * 64)) return -1;
          }
        }
      }
    }
    if (reader.bp > starts[interval + 1] * 8) return -1; // read past the data
  }
  return end;
}

/** Dequantizes and inverse-transforms every block of a complete progressive frame. */
function finishProgressive(
  state: ProgressiveState,
  components: Component[],
  width: number,
  height: number,
  rgb: boolean,
): FastJpeg | null {
  const block = new Int32Array(64);
  const workspace = new Int32Array(64);
  for (let ci = 0; ci < components.length; ci++) {
    const c = components[ci];
    const zigzagQuant = state.quantTables[c.quant];
    if (zigzagQuant === undefined) return null;
    const quant = new Int32Array(64);
    for (let k = 0; k < 64; k++) quant[ZIGZAG[k]] = zigzagQuant[k];
    const coef = state.coefficients[ci];
    const perLine = state.blocksPerLine[ci];
    for (let offset = 0; offset < coef.length; offset += 64) {
      const blockIndex = offset / 64;
      const x = (blockIndex % perLine) * 8;
      const y = Math.floor(blockIndex / perLine) * 8;
      for (let i = 0; i < 64; i++) block[i] = coef[offset + i] * quant[i];
      inverseDct(block, workspace, c.plane, y * c.stride + x, c.stride);
    }
  }
  return toRgb(components, width, height, rgb);
}

/** The length of a code longer than the fast table covers (17 when no code matches). */
function slowLength(table: HuffmanTable, top16: number): number {
  let length = FAST_BITS + 1;
  while (top16 >= table.maxCode[length]) length++;
  return length;
}

/**
 * The scan's entropy-coded bytes with byte stuffing removed (0xFF 0x00 → 0xFF), and where each
 * restart interval starts (RSTn markers dropped); the last entry is where the data ends. Zero
 * padding after the end keeps every 32-bit read of a (possibly corrupt) MCU in bounds.
 */
function unstuff(bytes: Uint8Array, start: number, intervals: number) {
  // Padding: a corrupt block can read up to 64 × 27 bits past the end before the MCU check stops
  // it; six blocks per MCU at most.
  const data = new Uint8Array(bytes.length - start + 2048);
  const starts = [0];
  let n = 0;
  let pos = start;
  while (pos < bytes.length) {
    const byte = bytes[pos];
    if (byte !== 0xff) {
      data[n++] = byte;
      pos++;
      continue;
    }
    const next = bytes[pos + 1];
    if (next === 0x00) {
      data[n++] = 0xff;
      pos += 2;
    } else if (next === 0xff) {
      pos++; // fill byte before a marker
    } else if (next >= 0xd0 && next <= 0xd7 && starts.length < intervals) {
      starts.push(n);
      pos += 2;
    } else {
      break; // EOI or another marker ends the scan
    }
  }
  starts.push(n);
  return { data, starts, end: pos };
}

// libjpeg's jidctint constants: FIX(x) = round(x · 2^13).
const CONST_BITS = 13;
const PASS1_BITS = 2;
const F_0_298 = 2446;
const F_0_390 = 3196;
const F_0_541 = 4433;
const F_0_765 = 6270;
const F_0_899 = 7373;
const F_1_175 = 9633;
const F_1_501 = 12299;
const F_1_847 = 15137;
const F_1_961 = 16069;
const F_2_053 = 16819;
const F_2_562 = 20995;
const F_3_072 = 25172;

/**
 * libjpeg's accurate integer IDCT (the Loeffler–Ligtenberg–Moschytz factorisation with 12
 * multiplies per pass) from dequantized coefficients to clamped samples in `out`. The arithmetic is
 * written out in each pass, and again reduced for zero high frequencies, on purpose: one shared
 * 8-point helper measured 25% slower over the whole decode (4.4 → 5.5 ms per photo).
 */
function inverseDct(
  input: Int32Array,
  ws: Int32Array,
  out: Uint8ClampedArray,
  offset: number,
  stride: number,
): void {
  const pass1 = 1 << (CONST_BITS - PASS1_BITS - 1);
  let highColumns = 0; // nonzero when any of columns 4–7 has a coefficient
  for (let col = 0; col < 8; col++) {
    const d0 = input[col], d1 = input[col + 8], d2 = input[col + 16], d3 = input[col + 24];
    const d4 = input[col + 32], d5 = input[col + 40], d6 = input[col + 48], d7 = input[col + 56];
    if ((d1 | d2 | d3 | d4 | d5 | d6 | d7) === 0) {
      const dc = d0 << PASS1_BITS;
      for (let r = 0; r < 64; r += 8) ws[col + r] = dc;
      if (col >= 4) highColumns |= d0;
      continue;
    }
    if (col >= 4) highColumns = 1;
    const shift = CONST_BITS - PASS1_BITS;
    if ((d4 | d5 | d6 | d7) === 0) {
      // The reduced form of the arithmetic below (d4…d7 = 0): same results, fewer multiplies.
      const z1 = d2 * F_0_541;
      const t0 = d0 * 8192;
      const t3 = z1 + d2 * F_0_765;
      const t10 = t0 + t3, t13 = t0 - t3, t11 = t0 + z1, t12 = t0 - z1;
      const z5 = (d3 + d1) * F_1_175;
      const a = d1 * -F_0_899, b = d3 * -F_2_562;
      const z3 = d3 * -F_1_961 + z5, z4 = d1 * -F_0_390 + z5;
      const o0 = a + z3, o1 = b + z4, o2 = d3 * F_3_072 + b + z3, o3 = d1 * F_1_501 + a + z4;
      ws[col] = (t10 + o3 + pass1) >> shift;
      ws[col + 56] = (t10 - o3 + pass1) >> shift;
      ws[col + 8] = (t11 + o2 + pass1) >> shift;
      ws[col + 48] = (t11 - o2 + pass1) >> shift;
      ws[col + 16] = (t12 + o1 + pass1) >> shift;
      ws[col + 40] = (t12 - o1 + pass1) >> shift;
      ws[col + 24] = (t13 + o0 + pass1) >> shift;
      ws[col + 32] = (t13 - o0 + pass1) >> shift;
      continue;
    }
    let z1 = (d2 + d6) * F_0_541;
    const t2 = z1 - d6 * F_1_847;
    const t3 = z1 + d2 * F_0_765;
    const t0 = (d0 + d4) * 8192;
    const t1 = (d0 - d4) * 8192;
    const t10 = t0 + t3, t13 = t0 - t3, t11 = t1 + t2, t12 = t1 - t2;
    z1 = d7 + d1;
    let z2 = d5 + d3;
    let z3 = d7 + d3;
    let z4 = d5 + d1;
    const z5 = (z3 + z4) * F_1_175;
    let o0 = d7 * F_0_298, o1 = d5 * F_2_053, o2 = d3 * F_3_072, o3 = d1 * F_1_501;
    z1 *= -F_0_899;
    z2 *= -F_2_562;
    z3 = z3 * -F_1_961 + z5;
    z4 = z4 * -F_0_390 + z5;
    o0 += z1 + z3;
    o1 += z2 + z4;
    o2 += z2 + z3;
    o3 += z1 + z4;
    ws[col] = (t10 + o3 + pass1) >> shift;
    ws[col + 56] = (t10 - o3 + pass1) >> shift;
    ws[col + 8] = (t11 + o2 + pass1) >> shift;
    ws[col + 48] = (t11 - o2 + pass1) >> shift;
    ws[col + 16] = (t12 + o1 + pass1) >> shift;
    ws[col + 40] = (t12 - o1 + pass1) >> shift;
    ws[col + 24] = (t13 + o0 + pass1) >> shift;
    ws[col + 32] = (t13 - o0 + pass1) >> shift;
  }
  const shift2 = CONST_BITS + PASS1_BITS + 3;
  const pass2 = 1 << (shift2 - 1);
  if (highColumns === 0) {
    // Only the four lowest horizontal frequencies: the same arithmetic with d4…d7 = 0, exactly.
    for (let row = 0, o = offset; row < 64; row += 8, o += stride) {
      const d0 = ws[row], d1 = ws[row + 1], d2 = ws[row + 2], d3 = ws[row + 3];
      const z1 = d2 * F_0_541;
      const t0 = d0 * 8192;
      const t3 = z1 + d2 * F_0_765;
      const t10 = t0 + t3, t13 = t0 - t3, t11 = t0 + z1, t12 = t0 - z1;
      const z5 = (d3 + d1) * F_1_175;
      const a = d1 * -F_0_899, b = d3 * -F_2_562;
      const z3 = d3 * -F_1_961 + z5, z4 = d1 * -F_0_390 + z5;
      const o0 = a + z3, o1 = b + z4, o2 = d3 * F_3_072 + b + z3, o3 = d1 * F_1_501 + a + z4;
      out[o] = ((t10 + o3 + pass2) >> shift2) + 128;
      out[o + 7] = ((t10 - o3 + pass2) >> shift2) + 128;
      out[o + 1] = ((t11 + o2 + pass2) >> shift2) + 128;
      out[o + 6] = ((t11 - o2 + pass2) >> shift2) + 128;
      out[o + 2] = ((t12 + o1 + pass2) >> shift2) + 128;
      out[o + 5] = ((t12 - o1 + pass2) >> shift2) + 128;
      out[o + 3] = ((t13 + o0 + pass2) >> shift2) + 128;
      out[o + 4] = ((t13 - o0 + pass2) >> shift2) + 128;
    }
    return;
  }
  for (let row = 0, o = offset; row < 64; row += 8, o += stride) {
    const d0 = ws[row], d1 = ws[row + 1], d2 = ws[row + 2], d3 = ws[row + 3];
    const d4 = ws[row + 4], d5 = ws[row + 5], d6 = ws[row + 6], d7 = ws[row + 7];
    if ((d1 | d2 | d3 | d4 | d5 | d6 | d7) === 0) {
      const value = ((d0 + (1 << (PASS1_BITS + 2))) >> (PASS1_BITS + 3)) + 128;
      for (let i = 0; i < 8; i++) out[o + i] = value;
      continue;
    }
    let z1 = (d2 + d6) * F_0_541;
    const t2 = z1 - d6 * F_1_847;
    const t3 = z1 + d2 * F_0_765;
    const t0 = (d0 + d4) * 8192;
    const t1 = (d0 - d4) * 8192;
    const t10 = t0 + t3, t13 = t0 - t3, t11 = t1 + t2, t12 = t1 - t2;
    z1 = d7 + d1;
    let z2 = d5 + d3;
    let z3 = d7 + d3;
    let z4 = d5 + d1;
    const z5 = (z3 + z4) * F_1_175;
    let o0 = d7 * F_0_298, o1 = d5 * F_2_053, o2 = d3 * F_3_072, o3 = d1 * F_1_501;
    z1 *= -F_0_899;
    z2 *= -F_2_562;
    z3 = z3 * -F_1_961 + z5;
    z4 = z4 * -F_0_390 + z5;
    o0 += z1 + z3;
    o1 += z2 + z4;
    o2 += z2 + z3;
    o3 += z1 + z4;
    out[o] = ((t10 + o3 + pass2) >> shift2) + 128;
    out[o + 7] = ((t10 - o3 + pass2) >> shift2) + 128;
    out[o + 1] = ((t11 + o2 + pass2) >> shift2) + 128;
    out[o + 6] = ((t11 - o2 + pass2) >> shift2) + 128;
    out[o + 2] = ((t12 + o1 + pass2) >> shift2) + 128;
    out[o + 5] = ((t12 - o1 + pass2) >> shift2) + 128;
    out[o + 3] = ((t13 + o0 + pass2) >> shift2) + 128;
    out[o + 4] = ((t13 - o0 + pass2) >> shift2) + 128;
  }
}

function grayToRgb(c: Component, width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0, o = 0; y < height; y++) {
    const row = y * c.stride;
    for (let x = 0; x < width; x++, o += 3) {
      const value = c.plane[row + x];
      out[o] = out[o + 1] = out[o + 2] = value;
    }
  }
  return out;
}

// libjpeg's YCbCr → RGB tables (jdcolor.c), 16-bit fixed point.
const CR_R = new Int32Array(256);
const CB_B = new Int32Array(256);
const CR_G = new Int32Array(256);
const CB_G = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  const x = i - 128;
  CR_R[i] = (Math.round(1.402 * 65536) * x + 32768) >> 16;
  CB_B[i] = (Math.round(1.772 * 65536) * x + 32768) >> 16;
  CR_G[i] = -Math.round(0.71414 * 65536) * x;
  CB_G[i] = -Math.round(0.34414 * 65536) * x + 32768;
}

/** A plane at full resolution: its samples and row stride. */
interface Plane {
  samples: Uint8ClampedArray; // one element kind everywhere keeps the colour loop monomorphic
  stride: number;
}

/**
 * A chroma plane brought to the luma's resolution. 2×2, 2×1 and 1×2 subsampling use libjpeg's
 * "fancy" (triangle-filter) upsampling, PIL's default, with its rounding biases; others replicate.
 * So do 2×2 and 2×1 planes at most 2 samples wide (an image at most 4 pixels wide): libjpeg's
 * jinit_upsampler takes the fancy filter only for a downsampled width above 2.
 */
function upsample(c: Component, hMax: number, vMax: number, width: number, height: number): Plane {
  const sw = Math.ceil((width * c.h) / hMax); // the component's real (unpadded) size
  const sh = Math.ceil((height * c.v) / vMax);
  const hScale = hMax / c.h, vScale = vMax / c.v;
  if (hScale === 1 && vScale === 1) return { samples: c.plane, stride: c.stride };
  const stride = sw * hScale;
  const out = new Uint8ClampedArray(stride * sh * vScale);
  const input = c.plane;
  if (hScale === 2 && sw > 2) {
    for (let y = 0; y < sh * vScale; y++) {
      const o = y * stride;
      const here = (vScale === 2 ? y >> 1 : y) * c.stride;
      if (vScale === 1) {
        // h2v1: each output sample is ¾ its own input plus ¼ its neighbour's.
        out[o] = input[here];
        out[o + 1] = (input[here] * 3 + input[here + 1] + 2) >> 2;
        for (let x = 1; x < sw - 1; x++) {
          const v = input[here + x] * 3;
          out[o + 2 * x] = (v + input[here + x - 1] + 1) >> 2;
          out[o + 2 * x + 1] = (v + input[here + x + 1] + 2) >> 2;
        }
        const last = here + sw - 1;
        out[o + 2 * sw - 2] = (input[last] * 3 + input[last - 1] + 1) >> 2;
        out[o + 2 * sw - 1] = input[last];
        continue;
      }
      // h2v2: column sums of ¾ this row + ¼ the nearer neighbour row (edges replicate).
      const row = y >> 1;
      const neighbourRow = y & 1 ? Math.min(row + 1, sh - 1) : Math.max(row - 1, 0);
      const there = neighbourRow * c.stride;
      let thisSum = input[here] * 3 + input[there];
      let nextSum = input[here + 1] * 3 + input[there + 1];
      let lastSum = thisSum;
      out[o] = (thisSum * 4 + 8) >> 4;
      out[o + 1] = (thisSum * 3 + nextSum + 7) >> 4;
      for (let x = 1; x < sw - 1; x++) {
        lastSum = thisSum;
        thisSum = nextSum;
        nextSum = input[here + x + 1] * 3 + input[there + x + 1];
        out[o + 2 * x] = (thisSum * 3 + lastSum + 8) >> 4;
        out[o + 2 * x + 1] = (thisSum * 3 + nextSum + 7) >> 4;
      }
      lastSum = thisSum;
      thisSum = nextSum;
      out[o + 2 * sw - 2] = (thisSum * 3 + lastSum + 8) >> 4;
      out[o + 2 * sw - 1] = (thisSum * 4 + 7) >> 4;
    }
    return { samples: out, stride };
  }
  if (hScale === 1 && vScale === 2) {
    // h1v2: ¾ the nearest input row plus ¼ the next nearest, with libjpeg-turbo's biases (1 for
    // the upper output row, 2 for the lower); edge rows replicate.
    for (let y = 0; y < sh * 2; y++) {
      const row = y >> 1;
      const here = row * c.stride;
      const there = (y & 1 ? Math.min(row + 1, sh - 1) : Math.max(row - 1, 0)) * c.stride;
      const bias = y & 1 ? 2 : 1;
      const o = y * stride;
      for (let x = 0; x < sw; x++) {
        out[o + x] = (input[here + x] * 3 + input[there + x] + bias) >> 2;
      }
    }
    return { samples: out, stride };
  }
  for (let y = 0; y < sh * vScale; y++) {
    const from = ((y / vScale) | 0) * c.stride;
    for (let x = 0; x < stride; x++) out[y * stride + x] = input[from + ((x / hScale) | 0)];
  }
  return { samples: out, stride };
}

/** Clamping to 0–255 by lookup: index value + 384 (the range covers any IDCT-sum overshoot). */
const CLAMP = Uint8Array.from({ length: 1024 }, (_, i) => Math.min(255, Math.max(0, i - 384)));

/** YCbCr planes to RGB with libjpeg's tables. */
function yccToRgb(components: Component[], width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  const [luma, cb, cr] = components;
  const hMax = Math.max(luma.h, cb.h, cr.h);
  const vMax = Math.max(luma.v, cb.v, cr.v);
  const [yp, bp, rp] = [luma, cb, cr].map((c) => upsample(c, hMax, vMax, width, height));
  const ys = yp.samples, bs = bp.samples, rs = rp.samples;
  for (let y = 0, o = 0; y < height; y++) {
    const yRow = y * yp.stride, bRow = y * bp.stride, rRow = y * rp.stride;
    for (let x = 0; x < width; x++, o += 3) {
      const l = ys[yRow + x] + 384, b = bs[bRow + x], r = rs[rRow + x];
      out[o] = CLAMP[l + CR_R[r]];
      out[o + 1] = CLAMP[l + ((CB_G[b] + CR_G[r]) >> 16)];
      out[o + 2] = CLAMP[l + CB_B[b]];
    }
  }
  return out;
}
