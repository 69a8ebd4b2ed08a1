// Pins the PNG decoder's pixels and errors bit for bit (fixtures/png_pixels.json): every PNG
// fixture (PngSuite, png_odd/, the top-level ones), synthetic PNGs of every colour type, bit depth
// and filter type, interlaced or not, with palette and colour-key tRNS, odd zlib streams (cut,
// padded, not deflate, bad filter types, palette indices past the palette), and seeded mutants.
// Each case records the raw RGBA samples of `pngPixels` (typed array, length, hash) and what the
// public decodeImage gives as RGB, gray and composited over a background, or the DecodeError.
//
// The reference was recorded from the pngjs-based decoder, so a rewrite is held to it exactly.
// To record it again (only when a change of output is intended):
//   deno run --allow-read --allow-write=tests/decode/fixtures tests/decode/png_pixels_test.ts
import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import { zlibSync } from "fflate";
import { Rng } from "../../lib/_internal/rng.ts";
import { readPngHeader } from "../../lib/decode/_headers.ts";
import { pngPixels, readPngChunks } from "../../lib/decode/_png.ts";
import { DecodeError, decodeImage } from "../../mod.ts";
import { type Mutant, randomMutants, structuralMutants } from "./_fuzz.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const REFERENCE = `${FIXTURES}png_pixels.json`;

// ---- Synthetic PNGs --------------------------------------------------------------------------

const DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)) >>> 0);
  return out;
}

interface Spec {
  width: number;
  height: number;
  depth: number;
  colorType: number;
  interlaced: boolean;
  plte?: Uint8Array;
  trns?: Uint8Array;
}

function pngFile(spec: Spec, idat: Uint8Array[]): Uint8Array {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, spec.width);
  view.setUint32(4, spec.height);
  ihdr.set([spec.depth, spec.colorType, 0, 0, spec.interlaced ? 1 : 0], 8);
  const parts = [
    Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a),
    chunk("IHDR", ihdr),
  ];
  if (spec.plte) parts.push(chunk("PLTE", spec.plte));
  if (spec.trns) parts.push(chunk("tRNS", spec.trns));
  for (const data of idat) parts.push(chunk("IDAT", data));
  parts.push(chunk("IEND", new Uint8Array(0)));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The (width, height) of each reduced image the rows are stored as. */
function passes(spec: Spec): [number, number][] {
  if (!spec.interlaced) return [[spec.width, spec.height]];
  return ADAM7.map(([x0, y0, dx, dy]): [number, number] => [
    Math.max(0, Math.ceil((spec.width - x0) / dx)),
    Math.max(0, Math.ceil((spec.height - y0) / dy)),
  ]).filter(([w, h]) => w > 0 && h > 0);
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/**
 * Filtered rows (filter byte + bytes) for `spec`. "encoded": samples from a few levels (so keys
 * and palette entries repeat), each row filtered by a random type as an encoder would; "noise":
 * random bytes under random filter bytes.
 */
function filteredRows(spec: Spec, rng: Rng, kind: "encoded" | "noise", maxIndex: number) {
  const bits = CHANNELS[spec.colorType] * spec.depth;
  const bpp = Math.max(1, bits >> 3);
  const max = spec.colorType === 3 ? maxIndex : 2 ** spec.depth - 1;
  const levels = [0, max, max >> 1, 3 & max, 0x1234 & max];
  const out: number[] = [];
  for (const [w, h] of passes(spec)) {
    const rowBytes = Math.ceil((w * bits) / 8);
    let previous = new Uint8Array(rowBytes);
    for (let y = 0; y < h; y++) {
      const type = rng.int(5);
      out.push(type);
      if (kind === "noise") {
        for (let i = 0; i < rowBytes; i++) out.push(rng.int(256));
        continue;
      }
      const row = new Uint8Array(rowBytes);
      for (let s = 0; s < w * CHANNELS[spec.colorType]; s++) {
        const value = rng.next() < 0.6 ? levels[rng.int(levels.length)] : rng.int(max + 1);
        if (spec.depth === 16) {
          row[2 * s] = value >> 8;
          row[2 * s + 1] = value & 255;
        } else if (spec.depth === 8) {
          row[s] = value;
        } else {
          const bit = s * spec.depth;
          row[bit >> 3] |= value << (8 - spec.depth - (bit & 7));
        }
      }
      for (let i = 0; i < rowBytes; i++) {
        const a = i >= bpp ? row[i - bpp] : 0,
          b = previous[i],
          c = i >= bpp ? previous[i - bpp] : 0;
        const predicted = [0, a, b, (a + b) >> 1, paeth(a, b, c)][type];
        out.push((row[i] - predicted) & 255);
      }
      previous = row;
    }
  }
  return Uint8Array.from(out);
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

/** Synthetic PNGs: every colour type and depth, both layouts, sizes, tRNS kinds, odd streams. */
function syntheticCases(): Mutant[] {
  const out: Mutant[] = [];
  const sizes = [[1, 1], [3, 2], [9, 5], [17, 13], [40, 3]];
  let n = 0;
  for (const colorType of [0, 2, 3, 4, 6]) {
    for (const depth of DEPTHS[colorType]) {
      for (const interlaced of [false, true]) {
        for (const [width, height] of sizes) {
          for (const kind of ["encoded", "noise"] as const) {
            const rng = new Rng(0x9e6, n++);
            const spec: Spec = { width, height, depth, colorType, interlaced };
            const name = `synthetic ct${colorType} d${depth}${interlaced ? " adam7" : ""} ` +
              `${width}×${height} ${kind}`;
            let maxIndex = 0;
            if (colorType === 3) {
              // Noise needs every index in the palette; encoded images use a shorter one.
              const entries = kind === "noise" ? 2 ** depth : Math.max(1, (2 ** depth) >> 1);
              maxIndex = entries - 1;
              spec.plte = randomBytes(rng, 3 * entries);
              if ((width + height) % 2 === 1) spec.trns = randomBytes(rng, 1 + rng.int(entries));
              else if (width === 17) spec.trns = randomBytes(rng, entries + 3); // too long
            } else if (kind === "encoded" && (colorType === 0 || colorType === 2)) {
              const max = 2 ** depth - 1;
              const key = new Uint8Array(2 * CHANNELS[colorType]);
              const view = new DataView(key.buffer);
              for (let c = 0; c < CHANNELS[colorType]; c++) {
                view.setUint16(2 * c, [max, 0, 3 & max][(width + c) % 3]);
              }
              spec.trns = key;
            }
            const rows = filteredRows(spec, rng, kind, maxIndex);
            const z = zlibSync(rows, { level: 6 });
            out.push({ name, bytes: pngFile(spec, [z]) });
            if (width !== 17) continue;
            // Odd streams on the larger images.
            const cut = (k: number) => z.subarray(0, Math.max(0, z.length - k));
            out.push({
              name: `${name} split IDATs`,
              bytes: pngFile(spec, [z.subarray(0, 7), z.subarray(7)]),
            });
            out.push({ name: `${name} no adler`, bytes: pngFile(spec, [cut(4)]) });
            out.push({ name: `${name} cut by 9`, bytes: pngFile(spec, [cut(9)]) });
            out.push({ name: `${name} cut in half`, bytes: pngFile(spec, [cut(z.length >> 1)]) });
            const padded = new Uint8Array(z.length + 50);
            padded.set(z);
            padded.set(randomBytes(rng, 50), z.length);
            out.push({ name: `${name} junk after the stream`, bytes: pngFile(spec, [padded]) });
            const extra = new Uint8Array(rows.length + 300);
            extra.set(rows);
            extra.set(randomBytes(rng, 300), rows.length);
            out.push({ name: `${name} extra rows`, bytes: pngFile(spec, [zlibSync(extra)]) });
            out.push({
              name: `${name} short rows`,
              bytes: pngFile(spec, [zlibSync(rows.subarray(0, rows.length - 1))]),
            });
            out.push({
              name: `${name} stored`,
              bytes: pngFile(spec, [zlibSync(rows, { level: 0 })]),
            });
            const badAdler = z.slice();
            badAdler[badAdler.length - 1] ^= 0x55;
            out.push({ name: `${name} bad adler`, bytes: pngFile(spec, [badAdler]) });
            out.push({
              name: `${name} not deflate`,
              bytes: pngFile(spec, [randomBytes(rng, 200)]),
            });
            const badHeader = z.slice();
            const flags = (badHeader[1] | 0x20) & 0xe0; // FDICT set, then a valid FCHECK
            badHeader[1] = flags | ((31 - (((badHeader[0] << 8) | flags) % 31)) % 31);
            out.push({ name: `${name} preset dictionary`, bytes: pngFile(spec, [badHeader]) });
            const garbage = z.slice();
            for (let i = 2 + (z.length >> 1); i < z.length; i++) garbage[i] = rng.int(256);
            out.push({ name: `${name} garbage from the middle`, bytes: pngFile(spec, [garbage]) });
            for (const filter of [5, 255]) {
              const bad = rows.slice();
              bad[findRowStart(spec, rows.length >> 1)] = filter;
              out.push({ name: `${name} filter ${filter}`, bytes: pngFile(spec, [zlibSync(bad)]) });
            }
          }
        }
      }
    }
  }
  // zlib streams cut short: a few bytes (a 1×1 gray image's two bytes as fixed-Huffman literals,
  // then its end and checksum), and stored (uncompressed) blocks cut inside their length fields,
  // their data, or past the last row.
  const tiny: Spec = { width: 1, height: 1, depth: 8, colorType: 0, interlaced: false };
  const tinyStream = zlibSync(Uint8Array.of(0, 0), { level: 1 });
  for (let k = 1; k <= tinyStream.length; k++) {
    out.push({
      name: `synthetic 1×1 IDAT of ${k} bytes`,
      bytes: pngFile(tiny, [tinyStream.subarray(0, k)]),
    });
  }
  const big: Spec = { width: 200, height: 120, depth: 8, colorType: 2, interlaced: false };
  const bigRows = filteredRows(big, new Rng(0x9e6, 7), "noise", 0);
  const extra = new Uint8Array(bigRows.length + 1000);
  extra.set(bigRows);
  const stored = zlibSync(extra, { level: 0 }); // blocks of 65,535 bytes: a header every 65,540
  for (
    const cut of [
      3,
      5,
      6,
      7,
      100,
      65_541,
      65_544,
      65_545,
      65_546,
      70_000,
      bigRows.length + 11,
      bigRows.length + 15,
      stored.length - 4,
    ]
  ) {
    out.push({
      name: `synthetic stored stream cut at ${cut}`,
      bytes: pngFile(big, [stored.subarray(0, cut)]),
    });
  }
  const badLength = stored.slice();
  badLength[65_544] ^= 1; // the second block's NLEN
  for (const cut of [65_541, 65_546, 70_000, badLength.length]) {
    out.push({
      name: `synthetic stored stream with a bad NLEN cut at ${cut}`,
      bytes: pngFile(big, [badLength.subarray(0, cut)]),
    });
  }
  // Indices past the palette in an interlaced image: the error names the first in raster order,
  // (1, 0) from pass 6, not (0, 4) from pass 3.
  const adam7: Spec = { width: 8, height: 8, depth: 8, colorType: 3, interlaced: true };
  adam7.plte = Uint8Array.of(10, 20, 30, 40, 50, 60);
  const index = (
    x: number,
    y: number,
  ) => (x === 1 && y === 0 ? 7 : x === 0 && y === 4 ? 9 : (x + y) & 1);
  const adam7Rows: number[] = [];
  for (const [x0, y0, dx, dy] of ADAM7) {
    for (let y = y0; y < 8; y += dy) {
      adam7Rows.push(0);
      for (let x = x0; x < 8; x += dx) adam7Rows.push(index(x, y));
    }
  }
  out.push({
    name: "synthetic adam7 palette indices past the palette",
    bytes: pngFile(adam7, [zlibSync(Uint8Array.from(adam7Rows))]),
  });
  // A palette image with an index past the palette, at each depth.
  for (const depth of DEPTHS[3]) {
    const spec: Spec = { width: 8, height: 2, depth, colorType: 3, interlaced: false };
    spec.plte = Uint8Array.of(10, 20, 30);
    const row = Math.ceil((8 * depth) / 8);
    const rows = new Uint8Array(2 * (row + 1));
    rows[row + 1 + row] = 1; // last pixel: index 1
    out.push({
      name: `synthetic palette d${depth} index past the palette`,
      bytes: pngFile(spec, [zlibSync(rows)]),
    });
  }
  return out;
}

/** The offset of the filter byte of the row holding byte `at` of the filtered data. */
function findRowStart(spec: Spec, at: number): number {
  const bits = CHANNELS[spec.colorType] * spec.depth;
  let start = 0;
  for (const [w, h] of passes(spec)) {
    const stride = 1 + Math.ceil((w * bits) / 8);
    for (let y = 0; y < h; y++, start += stride) {
      if (start + stride > at) return start;
    }
  }
  return 0;
}

// ---- Outcomes ---------------------------------------------------------------------------------

async function hash(...parts: ArrayBufferView[]): Promise<string> {
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), at);
    at += p.byteLength;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest.subarray(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
}

function describe(error: unknown): string {
  if (error instanceof DecodeError) return `${error.reason}: ${error.message}`;
  throw error;
}

/**
 * One line: the raw samples (typed array, length, hash), then the size and a hash of the RGB, gray
 * and composited pixels; or the error, once where both stages give the same.
 */
async function outcome(bytes: Uint8Array): Promise<string> {
  let decoded: string;
  let reachesPixels = true;
  try {
    const rgb = decodeImage(bytes);
    const gray = decodeImage(bytes, { channels: 1 });
    const over = decodeImage(bytes, { background: [250, 5, 128] });
    const pixels = await hash(rgb.data, gray.data, over.data);
    decoded = `${rgb.width}×${rgb.height} ${pixels}${rgb.warnings.map((w) => ` (${w})`).join("")}`;
  } catch (error) {
    decoded = describe(error);
    // pngPixels is reached only past the header and size checks.
    try {
      const header = readPngHeader(bytes);
      reachesPixels = error instanceof DecodeError && error.reason !== "too-large" &&
        header.width * header.height <= 1e8;
    } catch {
      reachesPixels = false;
    }
  }
  let raw = "-";
  if (reachesPixels && bytes[0] === 0x89) {
    try {
      const samples = pngPixels(readPngChunks(bytes));
      const type = samples instanceof Uint16Array
        ? "u16"
        : samples instanceof Uint8Array
        ? "u8"
        : "other";
      raw = `${type} ${samples.length} ${await hash(samples as Uint8Array | Uint16Array)}`;
    } catch (error) {
      raw = describe(error);
    }
  }
  return raw === decoded ? decoded : `${raw} | ${decoded}`;
}

async function fixtureFiles(): Promise<Mutant[]> {
  const out: Mutant[] = [];
  for (const folder of ["", "pngsuite/", "png_odd/"]) {
    for await (const entry of Deno.readDir(FIXTURES + folder)) {
      if (entry.name.endsWith(".png")) {
        out.push({
          name: folder + entry.name,
          bytes: await Deno.readFile(FIXTURES + folder + entry.name),
        });
      }
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

async function allCases(): Promise<Mutant[]> {
  const files = await fixtureFiles();
  const cases = [...files, ...syntheticCases()];
  const seeds = files.filter((f) =>
    /^(rgb8|rgba16|gray4_adam7|palette4_trns)\.png$|^png_odd\/(trns_rgb16|idat_split)|^pngsuite\/(basi3p02|basi4a16|f04n2c08)/
      .test(f.name)
  );
  for (const seed of seeds) cases.push(...structuralMutants(seed.name, seed.bytes));
  cases.push(...randomMutants(seeds, 11, 700));
  return cases;
}

async function outcomes(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const { name, bytes } of await allCases()) {
    let key = name;
    for (let i = 2; key in out; i++) key = `${name} (${i})`;
    out[key] = await outcome(bytes);
  }
  return out;
}

if (import.meta.main) {
  const recorded = await outcomes();
  await Deno.writeTextFile(REFERENCE, `${JSON.stringify(recorded, null, 2)}\n`);
  console.log(`${Object.keys(recorded).length} cases written to ${REFERENCE}`);
} else {
  Deno.test("PNG pixels and errors are exactly the recorded ones, case by case", async () => {
    const reference: Record<string, string> = JSON.parse(await Deno.readTextFile(REFERENCE));
    const now = await outcomes();
    assert.ok(Object.keys(now).length > 2000, `${Object.keys(now).length} cases`);
    const wrong: string[] = [];
    for (const [name, got] of Object.entries(now)) {
      if (reference[name] !== got) wrong.push(`${name}:\n  now  ${got}\n  was  ${reference[name]}`);
    }
    assert.deepEqual(Object.keys(reference).length, Object.keys(now).length);
    assert.deepEqual(wrong.slice(0, 20), [], `${wrong.length} cases differ`);
  });
}
