/**
 * EXIF orientation: reading the tag and turning pixels upright, like PIL's
 * `ImageOps.exif_transpose`.
 *
 * @module
 */

/**
 * The EXIF orientation (1–8) in a TIFF-structured EXIF block; 1 when absent or unreadable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readExifOrientation } from "./exif.ts";
 * // Little-endian TIFF, one IFD entry: tag 0x0112 (orientation), SHORT, count 1, value 6.
 * const tiff = new Uint8Array([
 *   0x49, 0x49, 42, 0, 8, 0, 0, 0, 1, 0,
 *   0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0,
 * ]);
 * assert.equal(readExifOrientation(tiff), 6);
 * ```
 */
export function readExifOrientation(tiff: Uint8Array): number {
  if (tiff.length < 8) return 1;
  const little = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!little && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return 1;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const ifd = view.getUint32(4, little);
  if (ifd + 2 > tiff.length) return 1;
  const count = view.getUint16(ifd, little);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > tiff.length) return 1;
    if (view.getUint16(entry, little) === 0x0112) {
      const value = view.getUint16(entry + 8, little);
      return value >= 1 && value <= 8 ? value : 1;
    }
  }
  return 1;
}

/** Pixels in HWC order with their size. */
export interface Pixels {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Channels per pixel. */
  channels: number;
  /** Pixels, row-major HWC. */
  data: Uint8Array;
}

/**
 * Applies an EXIF orientation so the image is upright (orientation 6: rotate 90° clockwise).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { applyOrientation } from "./exif.ts";
 * // 2×1 image [a b] rotated 90° clockwise becomes 1×2: a above b.
 * const out = applyOrientation({ width: 2, height: 1, channels: 1, data: new Uint8Array([1, 2]) }, 6);
 * assert.equal(out.width, 1);
 * assert.deepEqual([...out.data], [1, 2]);
 * ```
 */
export function applyOrientation(image: Pixels, orientation: number): Pixels {
  if (orientation <= 1 || orientation > 8) return image;
  const { width: w, height: h, channels: c, data } = image;
  const swap = orientation >= 5;
  const outWidth = swap ? h : w;
  const outHeight = swap ? w : h;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < outHeight; y++) {
    for (let x = 0; x < outWidth; x++) {
      // Source pixel for output (x, y), per orientation.
      let sx: number, sy: number;
      switch (orientation) {
        case 2:
          [sx, sy] = [w - 1 - x, y];
          break; // mirror horizontal
        case 3:
          [sx, sy] = [w - 1 - x, h - 1 - y];
          break; // rotate 180
        case 4:
          [sx, sy] = [x, h - 1 - y];
          break; // mirror vertical
        case 5:
          [sx, sy] = [y, x];
          break; // transpose
        case 6:
          [sx, sy] = [y, h - 1 - x];
          break; // rotate 90 clockwise
        case 7:
          [sx, sy] = [w - 1 - y, h - 1 - x];
          break; // transverse
        default:
          [sx, sy] = [w - 1 - y, x]; // 8: rotate 90 counter-clockwise
      }
      const from = (sy * w + sx) * c;
      const to = (y * outWidth + x) * c;
      for (let k = 0; k < c; k++) out[to + k] = data[from + k];
    }
  }
  return { width: outWidth, height: outHeight, channels: c, data: out };
}
