// Internal: arithmetic-coded JPEG scans (T.81 Annex D, the QM-coder; Annex F.1.4 and F.2.4 for
// sequential SOF9, G.1.3 and G.2 for progressive SOF10), decoded into quantized coefficients that
// the caller dequantizes and inverse-transforms as it does for Huffman-coded progressive frames.
// Written from the standard's flow charts; the state machine (Table D.2) is libjpeg's.
//
// A decision is decoded against a one-byte statistics bin: bits 0–6 the probability state, bit 7
// the more probable symbol. The bins are zeroed at the start of every scan and restart interval.

// T.81 Table D.2, states 0–112, plus state 113: a fixed estimate of ½ that never adapts (for
// the sign and refinement bits libjpeg codes with a non-adaptive bin).
// deno-fmt-ignore
const QE = Uint16Array.from([
  0x5a1d, 0x2586, 0x1114, 0x080b, 0x03d8, 0x01da, 0x00e5, 0x006f, 0x0036, 0x001a, 0x000d,
  0x0006, 0x0003, 0x0001, 0x5a7f, 0x3f25, 0x2cf2, 0x207c, 0x17b9, 0x1182, 0x0cef, 0x09a1,
  0x072f, 0x055c, 0x0406, 0x0303, 0x0240, 0x01b1, 0x0144, 0x00f5, 0x00b7, 0x008a, 0x0068,
  0x004e, 0x003b, 0x002c, 0x5ae1, 0x484c, 0x3a0d, 0x2ef1, 0x261f, 0x1f33, 0x19a8, 0x1518,
  0x1177, 0x0e74, 0x0bfb, 0x09f8, 0x0861, 0x0706, 0x05cd, 0x04de, 0x040f, 0x0363, 0x02d4,
  0x025c, 0x01f8, 0x01a4, 0x0160, 0x0125, 0x00f6, 0x00cb, 0x00ab, 0x008f, 0x5b12, 0x4d04,
  0x412c, 0x37d8, 0x2fe8, 0x293c, 0x2379, 0x1edf, 0x1aa9, 0x174e, 0x1424, 0x119c, 0x0f6b,
  0x0d51, 0x0bb6, 0x0a40, 0x5832, 0x4d1c, 0x438e, 0x3bdd, 0x34ee, 0x2eae, 0x299a, 0x2516,
  0x5570, 0x4ca9, 0x44d9, 0x3e22, 0x3824, 0x32b4, 0x2e17, 0x56a8, 0x4f46, 0x47e5, 0x41cf,
  0x3c3d, 0x375e, 0x5231, 0x4c0f, 0x4639, 0x415e, 0x5627, 0x50e7, 0x4b85, 0x5597, 0x504f,
  0x5a10, 0x5522, 0x59eb, 0x5a1d,
]);
// deno-fmt-ignore
const NEXT_LPS = Uint8Array.from([
  1, 14, 16, 18, 20, 23, 25, 28, 30, 33, 35, 9, 10, 12, 15, 36, 38, 39, 40, 42, 43, 45, 46, 48,
  49, 51, 52, 54, 56, 57, 59, 60, 62, 63, 32, 33, 37, 64, 65, 67, 68, 69, 70, 72, 73, 74, 75,
  77, 78, 79, 48, 50, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 61, 61, 65, 80, 81, 82, 83, 84,
  86, 87, 87, 72, 72, 74, 74, 75, 77, 77, 80, 88, 89, 90, 91, 92, 93, 86, 88, 95, 96, 97, 99,
  99, 93, 95, 101, 102, 103, 104, 99, 105, 106, 107, 103, 105, 108, 109, 110, 111, 110, 112,
  112, 113,
]);
// deno-fmt-ignore
const NEXT_MPS = Uint8Array.from([
  1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 13, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,
  27, 28, 29, 30, 31, 32, 33, 34, 35, 9, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50,
  51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 32, 65, 66, 67, 68, 69, 70, 71, 72, 73,
  74, 75, 76, 77, 78, 79, 48, 81, 82, 83, 84, 85, 86, 87, 71, 89, 90, 91, 92, 93, 94, 86, 96,
  97, 98, 99, 100, 93, 102, 103, 104, 99, 106, 107, 103, 109, 107, 111, 109, 111, 113,
]);
/** States whose LPS also swaps which symbol is the more probable one. */
const SWITCH_STATES = [0, 14, 36, 64, 80, 88, 95, 105, 110, 112];
const FIXED_STATE = 113;

/** Each state's QM-coder step packed as (Qe << 16) | (next MPS << 8) | (switch << 7) | next LPS. */
const STATES = Int32Array.from(
  QE,
  (qe, i) => (qe << 16) | (NEXT_MPS[i] << 8) | (SWITCH_STATES.includes(i) ? 0x80 : 0) | NEXT_LPS[i],
);

/** Zigzag index → natural (row-major) index in an 8×8 block. */
const NATURAL = (() => {
  const out = new Uint8Array(64);
  let row = 0, col = 0;
  for (let k = 0; k < 64; k++) {
    out[k] = row * 8 + col;
    if ((row + col) % 2 === 0) {
      if (col === 7) row++;
      else if (row === 0) col++;
      else [row, col] = [row - 1, col + 1];
    } else if (row === 7) col++;
    else if (col === 0) row++;
    else [row, col] = [row + 1, col - 1];
  }
  return out;
})();

/** Conditioning from the DAC marker (defaults L = 0, U = 1, Kx = 5), per table index 0–3. */
export interface ArithmeticConditioning {
  dcL: number[];
  dcU: number[];
  acK: number[];
}

/** The conditioning a frame starts with, before any DAC marker. */
export function defaultConditioning(): ArithmeticConditioning {
  return { dcL: [0, 0, 0, 0], dcU: [1, 1, 1, 1], acK: [5, 5, 5, 5] };
}

/** Reads a DAC segment's body into `conditioning`; false when it is malformed. */
export function readConditioning(
  bytes: Uint8Array,
  body: number,
  end: number,
  conditioning: ArithmeticConditioning,
): boolean {
  if ((end - body) % 2 !== 0) return false;
  for (let p = body; p < end; p += 2) {
    const kind = bytes[p] >> 4;
    const id = bytes[p] & 15;
    const value = bytes[p + 1];
    if (id > 3 || kind > 1) return false;
    if (kind === 0) {
      const l = value & 15, u = value >> 4;
      if (l > u) return false;
      conditioning.dcL[id] = l;
      conditioning.dcU[id] = u;
    } else {
      if (value < 1 || value > 63) return false;
      conditioning.acK[id] = value;
    }
  }
  return true;
}

/** One component of a scan: where its coefficients go and which statistics it uses. */
export interface ArithmeticComponent {
  /** Quantized coefficients, 64 per block in natural order, blocks row-major. */
  coefficients: Int16Array;
  blocksPerLine: number;
  /** Blocks per MCU across and down (used when the scan interleaves components). */
  h: number;
  v: number;
  /** DC and AC conditioning/statistics table indices (0–3). */
  dcTable: number;
  acTable: number;
}

/** A scan's header and geometry. */
export interface ArithmeticScan {
  components: ArithmeticComponent[];
  /** MCUs across and down; for a one-component scan, that component's blocks. */
  unitsX: number;
  unitsY: number;
  ss: number;
  se: number;
  ah: number;
  al: number;
  /** Sequential (SOF9): each block's DC and AC in one pass. */
  sequential: boolean;
  restartInterval: number;
  conditioning: ArithmeticConditioning;
}

/** The QM-decoder over one scan's bytes (T.81 D.2), reading through stuffed bytes to a marker. */
class Decoder {
  c = 0;
  a = 0;
  ct = -16;
  /** Offset of the marker that ended the data (its 0xFF), or −1 while none has been met. */
  marker = -1;
  /** True when the data ran off the end of the file instead of into a marker. */
  ranOut = false;
  constructor(readonly bytes: Uint8Array, public pos: number) {}

  /** Starts over at `pos` (the scan's start, or just after a restart marker). */
  reset(pos: number): void {
    this.c = 0;
    this.a = 0;
    this.ct = -16;
    this.marker = -1;
    this.pos = pos;
  }

  /** The next data byte; after a marker (or the file's end) the data is zeros, as in libjpeg. */
  private byte(): number {
    if (this.marker >= 0) return 0;
    const bytes = this.bytes;
    if (this.pos >= bytes.length) {
      this.marker = bytes.length;
      this.ranOut = true;
      return 0;
    }
    const b = bytes[this.pos++];
    if (b !== 0xff) return b;
    let p = this.pos;
    while (p < bytes.length && bytes[p] === 0xff) p++;
    if (p < bytes.length && bytes[p] === 0) {
      this.pos = p + 1;
      return 0xff; // a stuffed 0xFF
    }
    this.marker = p - 1;
    this.ranOut = p >= bytes.length;
    return 0;
  }

  /** Decodes one binary decision with statistics bin `stats[i]`, adapting the bin. */
  decode(stats: Uint8Array, i: number): number {
    // Renormalise (D.2.6): double A, feeding in a byte of C every 8 doublings.
    while (this.a < 0x8000) {
      if (--this.ct < 0) {
        this.c = this.c * 256 + this.byte();
        this.ct += 8;
        if (this.ct < 0 && ++this.ct === 0) this.a = 0x8000; // the two start-up bytes are in
      }
      this.a *= 2;
    }
    const sv = stats[i];
    const step = STATES[sv & 0x7f];
    const qe = step >>> 16;
    this.a -= qe;
    const scaled = this.a * 2 ** this.ct;
    if (this.c >= scaled) {
      // The less probable interval, unless A shrank below Qe (conditional exchange, D.2.4).
      this.c -= scaled;
      if (this.a < qe) {
        this.a = qe;
        stats[i] = (sv & 0x80) ^ ((step >> 8) & 0xff);
        return sv >> 7;
      }
      this.a = qe;
      stats[i] = (sv & 0x80) ^ (step & 0xff);
      return (sv >> 7) ^ 1;
    }
    if (this.a < 0x8000) {
      if (this.a < qe) {
        stats[i] = (sv & 0x80) ^ (step & 0xff);
        return (sv >> 7) ^ 1;
      }
      stats[i] = (sv & 0x80) ^ ((step >> 8) & 0xff);
    }
    return sv >> 7;
  }
}

/**
 * Decodes one arithmetic-coded scan from `start` into the components' coefficients. Returns the
 * offset of the marker after the scan, or −1 when the data is bad (a magnitude or spectral
 * overflow, restart markers missing, or the file ending inside the scan).
 */
export function decodeArithmeticScan(
  bytes: Uint8Array,
  start: number,
  scan: ArithmeticScan,
): number {
  const { components, ss, se, ah, al, sequential, conditioning } = scan;
  if (ss > se || se > 63 || ah > 13 || al > 13) return -1;
  if (!sequential && ss === 0 && se !== 0) return -1;
  if (!sequential && ss > 0 && components.length !== 1) return -1;
  const decoder = new Decoder(bytes, start);
  const dcStats = [0, 1, 2, 3].map(() => new Uint8Array(64));
  const acStats = [0, 1, 2, 3].map(() => new Uint8Array(256));
  const fixed = Uint8Array.of(FIXED_STATE);
  const lastDc = new Int32Array(components.length);
  const dcContext = new Int32Array(components.length);
  const total = scan.unitsX * scan.unitsY;
  const interval = scan.restartInterval > 0 ? scan.restartInterval : total;
  const single = components.length === 1;
  let failed = false;

  /**
   * A magnitude (F.2.4.3, figures F.23–F.24): the category as a power of two, decided bin by bin
   * from `xFirst` on (`xBase` onward for categories past the first doubling when `xBase` ≥ 0),
   * then that many bits at the bins 14 further on. Returns the magnitude, 1 or more.
   */
  const magnitude = (stats: Uint8Array, first: number, xBase: number, xSame: boolean): number => {
    let st = first;
    let m = decoder.decode(stats, st);
    if (m !== 0) {
      // DC: the next decisions are X1, X2, … (bins 20, 21, …). AC: one more at the same bin,
      // then X2, X3, … (189 or 217 onward, by the conditioning Kx).
      let more = true;
      if (xSame) {
        more = decoder.decode(stats, st) === 1;
        if (more) m = 2;
      }
      if (more) {
        st = xBase;
        while (decoder.decode(stats, st)) {
          m *= 2;
          if (m >= 0x8000) {
            failed = true;
            return 1;
          }
          st++;
        }
      }
    }
    let v = m;
    st += 14;
    for (let bit = m >> 1; bit > 0; bit >>= 1) if (decoder.decode(stats, st)) v |= bit;
    return v + 1;
  };

  const decodeDc = (ci: number, block: Int16Array, at: number) => {
    const c = components[ci];
    const stats = dcStats[c.dcTable];
    const s0 = dcContext[ci];
    if (decoder.decode(stats, s0) === 0) {
      dcContext[ci] = 0;
    } else {
      const sign = decoder.decode(stats, s0 + 1);
      const v = magnitude(stats, s0 + 2 + sign, 20, false);
      if (failed) return;
      // The conditioning category for the next difference (F.1.4.4.1.2), from the category.
      const category = v === 1 ? 0 : 1 << (31 - Math.clz32(v - 1));
      if (category < (1 << conditioning.dcL[c.dcTable]) >> 1) dcContext[ci] = 0;
      else if (category > (1 << conditioning.dcU[c.dcTable]) >> 1) dcContext[ci] = 12 + sign * 4;
      else dcContext[ci] = 4 + sign * 4;
      lastDc[ci] = (lastDc[ci] + (sign ? -v : v)) | 0;
    }
    block[at] = lastDc[ci] * (1 << al);
  };

  const decodeAc = (ci: number, block: Int16Array, at: number) => {
    const c = components[ci];
    const stats = acStats[c.acTable];
    const kx = conditioning.acK[c.acTable];
    for (let k = sequential ? 1 : ss; k <= se; k++) {
      let st = 3 * (k - 1);
      if (decoder.decode(stats, st)) return; // end of block
      while (decoder.decode(stats, st + 1) === 0) {
        st += 3;
        if (++k > se) {
          failed = true;
          return;
        }
      }
      const sign = decoder.decode(fixed, 0);
      const v = magnitude(stats, st + 2, k <= kx ? 189 : 217, true);
      if (failed) return;
      block[at + NATURAL[k]] = (sign ? -v : v) * (1 << al);
    }
  };

  const refineDc = (block: Int16Array, at: number) => {
    if (decoder.decode(fixed, 0)) block[at] |= 1 << al;
  };

  const refineAc = (ci: number, block: Int16Array, at: number) => {
    const stats = acStats[components[ci].acTable];
    const p1 = 1 << al;
    const m1 = -1 << al;
    let kex = se;
    while (kex > 0 && block[at + NATURAL[kex]] === 0) kex--; // the previous pass's end of block
    for (let k = ss; k <= se; k++) {
      let st = 3 * (k - 1);
      if (k > kex && decoder.decode(stats, st)) return; // end of block
      for (;;) {
        const i = at + NATURAL[k];
        if (block[i] !== 0) {
          if (decoder.decode(stats, st + 2)) block[i] += block[i] < 0 ? m1 : p1;
          break;
        }
        if (decoder.decode(stats, st + 1)) {
          block[i] = decoder.decode(fixed, 0) ? m1 : p1;
          break;
        }
        st += 3;
        if (++k > se) {
          failed = true;
          return;
        }
      }
    }
  };

  const decodeBlock = (ci: number, block: Int16Array, at: number) => {
    if (sequential) {
      decodeDc(ci, block, at);
      if (!failed) decodeAc(ci, block, at);
    } else if (ss === 0) {
      if (ah === 0) decodeDc(ci, block, at);
      else refineDc(block, at);
    } else if (ah === 0) {
      decodeAc(ci, block, at);
    } else {
      refineAc(ci, block, at);
    }
  };

  for (let unit = 0; unit < total; unit++) {
    if (unit > 0 && unit % interval === 0) {
      // Restart: the interval's data ends at its RSTn marker; everything starts over after it.
      let at = decoder.marker;
      if (at < 0) {
        at = decoder.pos;
        while (at + 1 < bytes.length && !(bytes[at] === 0xff && bytes[at + 1] !== 0)) at++;
      }
      while (at + 1 < bytes.length && bytes[at + 1] === 0xff) at++;
      if (at + 1 >= bytes.length || bytes[at + 1] < 0xd0 || bytes[at + 1] > 0xd7) return -1;
      decoder.reset(at + 2);
      for (const s of dcStats) s.fill(0);
      for (const s of acStats) s.fill(0);
      lastDc.fill(0);
      dcContext.fill(0);
    }
    const ux = unit % scan.unitsX;
    const uy = (unit - ux) / scan.unitsX;
    if (single) {
      const c = components[0];
      decodeBlock(0, c.coefficients, (uy * c.blocksPerLine + ux) * 64);
    } else {
      for (let ci = 0; ci < components.length && !failed; ci++) {
        const c = components[ci];
        for (let by = 0; by < c.v; by++) {
          for (let bx = 0; bx < c.h; bx++) {
            const row = uy * c.v + by;
            const col = ux * c.h + bx;
            decodeBlock(ci, c.coefficients, (row * c.blocksPerLine + col) * 64);
          }
        }
      }
    }
    if (failed || decoder.ranOut) return -1;
  }
  // The scan ends at the next marker (libjpeg skips whatever bytes are left before it).
  let end = decoder.marker >= 0 ? decoder.marker : decoder.pos;
  while (
    end + 1 < bytes.length &&
    !(bytes[end] === 0xff && bytes[end + 1] !== 0 && bytes[end + 1] !== 0xff)
  ) end++;
  return end + 1 < bytes.length ? end : -1;
}
