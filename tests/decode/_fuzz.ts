// Internal test helper: seeded mutants of real JPEG and PNG files for decoder fuzzing. Each
// mutant names its origin and mutation, so a failure can be replayed from its name alone.
import { Rng } from "../../lib/_internal/rng.ts";
import { crc32 } from "node:zlib";

/** One mutated file. */
export interface Mutant {
  name: string;
  bytes: Uint8Array;
}

/** Offsets of JPEG markers (0xFF followed by a marker byte, not a stuffed 0x00 or fill). */
export function jpegMarkers(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (bytes[i] === 0xff && bytes[i + 1] !== 0x00 && bytes[i + 1] !== 0xff) out.push(i);
  }
  return out;
}

/** PNG chunks: offset of each chunk's length field, its type and data length. */
export function pngChunks(bytes: Uint8Array): { at: number; type: string; length: number }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  for (let at = 8; at + 12 <= bytes.length;) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    out.push({ at, type, length });
    at += 12 + length;
  }
  return out;
}

function fixCrc(bytes: Uint8Array, chunk: { at: number; length: number }) {
  const crc = crc32(bytes.subarray(chunk.at + 4, chunk.at + 8 + chunk.length));
  new DataView(bytes.buffer, bytes.byteOffset).setUint32(chunk.at + 8 + chunk.length, crc >>> 0);
}

/** Deterministic structural mutants: truncation at every boundary, huge/zero lengths, dims. */
export function structuralMutants(name: string, original: Uint8Array): Mutant[] {
  const out: Mutant[] = [];
  const copy = () => original.slice();
  const isPng = original[0] === 0x89;
  if (isPng) {
    for (const chunk of pngChunks(original)) {
      for (
        const cut of [chunk.at, chunk.at + 4, chunk.at + 8, chunk.at + 8 + (chunk.length >> 1)]
      ) {
        out.push({
          name: `${name} truncated at ${cut} (${chunk.type})`,
          bytes: original.slice(0, cut),
        });
      }
      for (const length of [0, 0x7fffffff, 0xffffffff]) {
        const bytes = copy();
        new DataView(bytes.buffer).setUint32(chunk.at, length);
        out.push({ name: `${name} ${chunk.type} length ${length}`, bytes });
      }
      const broken = copy();
      broken[chunk.at + 8 + chunk.length] ^= 0x5a;
      out.push({ name: `${name} ${chunk.type} CRC broken`, bytes: broken });
      if (chunk.type === "IHDR") {
        for (const [w, h] of [[65535, 65535], [0, 0], [1, 65535], [0x7fffffff, 1]]) {
          const bytes = copy();
          const view = new DataView(bytes.buffer);
          view.setUint32(chunk.at + 8, w);
          view.setUint32(chunk.at + 12, h);
          fixCrc(bytes, chunk); // a valid CRC, so the decoder really sees the dimensions
          out.push({ name: `${name} IHDR ${w}×${h}`, bytes });
        }
      }
    }
  } else {
    for (const at of jpegMarkers(original)) {
      out.push({ name: `${name} truncated at marker ${at}`, bytes: original.slice(0, at) });
      const marker = original[at + 1];
      const hasLength = marker !== 0xd8 && marker !== 0xd9 && !(marker >= 0xd0 && marker <= 0xd7);
      if (!hasLength || at + 4 > original.length) continue;
      for (const length of [0, 1, 0xffff]) {
        const bytes = copy();
        new DataView(bytes.buffer).setUint16(at + 2, length);
        out.push({ name: `${name} marker ${at} length ${length}`, bytes });
      }
      if (
        marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc
      ) {
        for (const [w, h] of [[65535, 65535], [0, 0], [65535, 1]]) {
          const bytes = copy();
          const view = new DataView(bytes.buffer);
          view.setUint16(at + 5, h);
          view.setUint16(at + 7, w);
          out.push({ name: `${name} SOF ${w}×${h}`, bytes });
        }
      }
    }
  }
  return out;
}

/** `count` random mutants (bit flips, byte runs, random truncation) from `seed`. */
export function* randomMutants(
  corpus: readonly { name: string; bytes: Uint8Array }[],
  seed: number,
  count: number,
): Generator<Mutant> {
  for (let i = 0; i < count; i++) {
    const rng = new Rng(seed, 0xf022, i);
    const source = corpus[rng.int(corpus.length)];
    const bytes = source.bytes.slice();
    const kind = rng.int(3);
    let what: string;
    if (kind === 0) {
      const flips = 1 + rng.int(8);
      for (let f = 0; f < flips; f++) bytes[rng.int(bytes.length)] ^= 1 << rng.int(8);
      what = `${flips} bit flips`;
    } else if (kind === 1) {
      const start = rng.int(bytes.length);
      const length = 1 + rng.int(64);
      const value = [0x00, 0xff, rng.int(256)][rng.int(3)];
      bytes.fill(value, start, start + length);
      what = `run of ${length} × 0x${value.toString(16)} at ${start}`;
    } else {
      const cut = rng.int(bytes.length);
      yield { name: `${source.name} #${i} truncated at ${cut}`, bytes: bytes.slice(0, cut) };
      continue;
    }
    yield { name: `${source.name} #${i} ${what}`, bytes };
  }
}
