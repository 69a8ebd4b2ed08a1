/**
 * Image formats by their magic bytes, never by the file name.
 *
 * @module
 */

/** A format this toolkit recognises; only `jpeg` and `png` decode. */
export type ImageFormat = "jpeg" | "png" | "gif" | "bmp" | "webp" | "tiff";

const SIGNATURES: { format: ImageFormat; bytes: (number | null)[] }[] = [
  { format: "jpeg", bytes: [0xff, 0xd8, 0xff] },
  { format: "png", bytes: [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] },
  { format: "gif", bytes: [0x47, 0x49, 0x46, 0x38] },
  { format: "bmp", bytes: [0x42, 0x4d] },
  // RIFF....WEBP
  {
    format: "webp",
    bytes: [0x52, 0x49, 0x46, 0x46, null, null, null, null, 0x57, 0x45, 0x42, 0x50],
  },
  { format: "tiff", bytes: [0x49, 0x49, 0x2a, 0x00] },
  { format: "tiff", bytes: [0x4d, 0x4d, 0x00, 0x2a] },
];

/**
 * The format whose signature starts `bytes`, or null.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sniffFormat } from "./sniff.ts";
 * assert.equal(sniffFormat(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])), "jpeg");
 * assert.equal(sniffFormat(new TextEncoder().encode("GIF89a")), "gif");
 * assert.equal(sniffFormat(new Uint8Array([1, 2, 3])), null);
 * ```
 */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  for (const { format, bytes: signature } of SIGNATURES) {
    if (bytes.length < signature.length) continue;
    if (signature.every((byte, i) => byte === null || bytes[i] === byte)) return format;
  }
  return null;
}

/**
 * The first bytes as hex, for error messages about unknown formats.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeMagic } from "./sniff.ts";
 * assert.equal(describeMagic(new Uint8Array([0x3c, 0x68, 0x74])), "3c 68 74 ('<ht')");
 * ```
 */
export function describeMagic(bytes: Uint8Array, count = 8): string {
  const head = bytes.subarray(0, count);
  if (head.length === 0) return "no bytes (empty file)";
  const hex = Array.from(head, (b) => b.toString(16).padStart(2, "0")).join(" ");
  const text = Array.from(head, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : "."))
    .join("");
  return `${hex} ('${text}')`;
}
