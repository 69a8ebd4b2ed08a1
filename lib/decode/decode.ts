/**
 * `decodeImage`: JPEG and PNG bytes to uint8 HWC pixels, in pure TypeScript.
 *
 * @module
 */
import jpeg from "jpeg-js";
import { type ImageHeader, readJpegHeader, readPngHeader } from "./_headers.ts";
import { decodeJpegFast } from "./_jpeg_fast.ts";
import { pngPixels, readPngChunks } from "./_png.ts";
import { DecodeError } from "./errors.ts";
import { applyOrientation, type Pixels, readExifOrientation } from "./exif.ts";
import { describeMagic, sniffFormat } from "./sniff.ts";

/** PIL's `Image.MAX_IMAGE_PIXELS`: larger images are refused as likely decompression bombs. */
export const DEFAULT_MAX_PIXELS = 89_478_485;

/** The default cap on memory a single decode may need (decoder buffers plus output). */
export const DEFAULT_MAX_MEMORY_BYTES = 1024 * 1024 * 1024;

/** Options for {@linkcode decodeImage}. */
export interface DecodeOptions {
  /**
   * Output channels: 3 (RGB; gray is replicated) or 1 (gray; colour becomes ITU-R 601 luma
   * with PIL's rounding). Default: 3, like torchvision's loader.
   */
  channels?: 1 | 3;
  /**
   * Alpha handling. Without a background, alpha is dropped and colour kept as stored (PIL's
   * `convert("RGB")`); with one, pixels are composited over it: `c·a + bg·(1 − a)`.
   */
  background?: readonly [number, number, number];
  /** Rotate/flip by the EXIF orientation tag. Default: false, like PIL's `Image.open`. */
  exifOrientation?: boolean;
  /** Refuse images with more pixels. Default: {@linkcode DEFAULT_MAX_PIXELS}. */
  maxPixels?: number;
  /** Refuse images whose decode would need more bytes. Default: 1 GiB. */
  maxMemoryBytes?: number;
}

/** An image in memory: uint8, height × width × channels, row-major (HWC). */
export interface RawImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 (grey) or 3 (RGB). */
  channels: 1 | 3;
  /** Pixels, row-major HWC. */
  data: Uint8Array;
}

/** A decoded image and the format found in its bytes. */
export interface DecodedImage extends RawImage {
  /** The format the bytes were in. */
  format: "jpeg" | "png";
  /**
   * What the decoder tolerated, one line each, as libjpeg's warnings do (junk bytes before a
   * marker, image data after the last row): the pixels are what PIL gives. Empty for clean files.
   */
  warnings: string[];
}

/** Bytes a decode needs: the decoder's working buffers plus our output. */
function estimateMemory(header: ImageHeader, format: "jpeg" | "png", channels: number): number {
  const pixels = header.width * header.height;
  if (format === "jpeg") return pixels * (header.components + 3 + channels);
  const sampleBytes = header.bitDepth === 16 ? 2 : 1;
  const raw = header.height *
    (1 + Math.ceil((header.width * header.components * header.bitDepth) / 8));
  return raw + pixels * 4 * sampleBytes + pixels * channels;
}

function checkLimits(header: ImageHeader, format: "jpeg" | "png", options: DecodeOptions) {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const maxMemory = options.maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES;
  const pixels = header.width * header.height;
  if (pixels > maxPixels) {
    throw new DecodeError(
      "too-large",
      `${header.width}×${header.height} is ${pixels.toLocaleString("en-US")} pixels, over the ` +
        `limit of ${maxPixels.toLocaleString("en-US")} (maxPixels); a decompression bomb?`,
    );
  }
  const needed = estimateMemory(header, format, options.channels ?? 3);
  if (needed > maxMemory) {
    throw new DecodeError(
      "too-large",
      `decoding ${header.width}×${header.height} needs about ${
        (needed / 2 ** 20).toFixed(0)
      } MiB, ` +
        `over the limit of ${(maxMemory / 2 ** 20).toFixed(0)} MiB (maxMemoryBytes)`,
    );
  }
}

/** RGB(A) or gray(+alpha) samples, 8 bits, interleaved, before channel conversion. */
interface RawPixels {
  width: number;
  height: number;
  /** Samples per pixel in `data`. */
  stride: 3 | 4;
  /** True when the source is gray, so R = G = B. */
  gray: boolean;
  hasAlpha: boolean;
  data: Uint8Array;
  /** What the decoder tolerated (libjpeg's warnings from the scan). */
  warnings?: string[];
}

function decodeJpeg(
  bytes: Uint8Array,
  header: ImageHeader,
  options: DecodeOptions,
): RawPixels {
  // Our libjpeg-exact path first; jpeg-js for every file it hands back (CMYK, damaged, …).
  const fast = decodeJpegFast(bytes);
  const image = fast ?? decodeWithJpegJs(withAdobeMarker(bytes, header), options);
  return {
    width: image.width,
    height: image.height,
    stride: 3,
    gray: header.components === 1,
    hasAlpha: false,
    data: image.data,
    warnings: fast?.warnings,
  };
}

/**
 * PIL reads every 4-component JPEG as Adobe's inverted CMYK; jpeg-js refuses one without an Adobe
 * marker. Such a file gets the marker (transform 0: CMYK) jpeg-js needs.
 */
function withAdobeMarker(bytes: Uint8Array, header: ImageHeader): Uint8Array {
  if (header.components !== 4 || header.adobeTransform !== undefined) return bytes;
  const adobe = [0xff, 0xee, 0, 14, 0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, 0];
  const out = new Uint8Array(bytes.length + adobe.length);
  out.set(bytes.subarray(0, 2));
  out.set(adobe, 2);
  out.set(bytes.subarray(2), 2 + adobe.length);
  return out;
}

function decodeWithJpegJs(
  bytes: Uint8Array,
  options: DecodeOptions,
): { width: number; height: number; data: Uint8Array } {
  try {
    return jpeg.decode(bytes, {
      useTArray: true,
      formatAsRGBA: false,
      tolerantDecoding: true,
      maxResolutionInMP: (options.maxPixels ?? DEFAULT_MAX_PIXELS) / 1e6,
      maxMemoryUsageInMB: (options.maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES) / 2 ** 20,
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new DecodeError("corrupt", `invalid JPEG data: ${message}`);
  }
}

function decodePng(bytes: Uint8Array, header: ImageHeader): RawPixels {
  const png = readPngChunks(bytes);
  const source = pngPixels(png);
  const samples = png.width * png.height * 4;
  let data: Uint8Array;
  if ((header.colorType === 3 || header.bitDepth === 8) && source instanceof Uint8Array) {
    data = source; // already 8-bit RGBA: no copy
  } else if (header.bitDepth === 16) {
    data = new Uint8Array(samples);
    for (let i = 0; i < samples; i++) data[i] = source[i] >> 8;
  } else {
    // 1, 2 and 4-bit gray scale to 0–255 exactly: ×255, ×85, ×17.
    data = new Uint8Array(samples);
    const scale = 255 / (2 ** header.bitDepth - 1);
    for (let i = 0; i < samples; i++) data[i] = source[i] * scale;
  }
  const key = png.key;
  if (key !== null) {
    // Colour-key transparency: the colour stays (PIL's convert("RGB")); only alpha says "keyed",
    // compared on the stored samples (all 16 bits, or the raw 1–4-bit gray level).
    const [k0, k1 = k0, k2 = k0] = key;
    for (let i = 0; i < samples; i += 4) {
      if (source[i] === k0 && source[i + 1] === k1 && source[i + 2] === k2) data[i + 3] = 0;
    }
  }
  const hasAlpha = header.colorType === 4 || header.colorType === 6 || key !== null ||
    (png.palette?.some((entry) => entry[3] !== 255) ?? false);
  return {
    width: png.width,
    height: png.height,
    stride: 4,
    gray: header.colorType === 0 || header.colorType === 4,
    hasAlpha,
    data,
  };
}

/** Drops or composites alpha and converts to the requested channel count. */
function toChannels(raw: RawPixels, channels: 1 | 3, background?: readonly number[]): Uint8Array {
  if (channels === 3 && raw.stride === 3) return raw.data; // jpeg-js output is already RGB HWC
  const pixels = raw.width * raw.height;
  const out = new Uint8Array(pixels * channels);
  const { data, stride } = raw;
  const composite = raw.hasAlpha && background !== undefined;
  for (let p = 0, i = 0; p < pixels; p++, i += stride) {
    let r = data[i], g = data[i + 1], b = data[i + 2];
    if (composite) {
      const a = data[i + 3];
      r = Math.round((r * a + background[0] * (255 - a)) / 255);
      g = Math.round((g * a + background[1] * (255 - a)) / 255);
      b = Math.round((b * a + background[2] * (255 - a)) / 255);
    }
    if (channels === 3) {
      out[p * 3] = r;
      out[p * 3 + 1] = g;
      out[p * 3 + 2] = b;
    } else {
      // PIL's L = R·299/1000 + G·587/1000 + B·114/1000, in its 16-bit fixed point.
      out[p] = raw.gray && !composite ? r : (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
    }
  }
  return out;
}

/**
 * Decodes JPEG (baseline, progressive, arithmetic-coded; gray, YCbCr, RGB, CMYK, YCCK) or PNG
 * (every bit depth and colour type, interlaced or not) to uint8 HWC pixels, tolerating what PIL
 * tolerates (junk before a JPEG marker, odd PNG chunk streams) with a line in `warnings`. The format comes from the magic bytes. Size limits are
 * checked from the header before any pixel buffer is allocated; every failure is a
 * {@linkcode DecodeError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeImage } from "./decode.ts";
 * // A 1×1 red PNG.
 * const png = Uint8Array.from(atob(
 *   "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC",
 * ), (c) => c.charCodeAt(0));
 * const image = decodeImage(png);
 * assert.deepEqual([image.width, image.height, image.channels], [1, 1, 3]);
 * assert.deepEqual([...image.data], [255, 0, 0]);
 * ```
 */
export function decodeImage(bytes: Uint8Array, options: DecodeOptions = {}): DecodedImage {
  const channels = options.channels ?? 3;
  const format = sniffFormat(bytes);
  if (format === null) {
    throw new DecodeError(
      "unknown-format",
      `not a JPEG or PNG image: starts with ${describeMagic(bytes)}`,
    );
  }
  if (format !== "jpeg" && format !== "png") {
    throw new DecodeError(
      "unsupported-format",
      `${format.toUpperCase()} images are not supported (JPEG and PNG are)`,
    );
  }
  const header = format === "jpeg" ? readJpegHeader(bytes) : readPngHeader(bytes);
  checkLimits(header, format, options);
  const warnings: string[] = [];
  const raw = format === "jpeg" ? decodeJpeg(bytes, header, options) : decodePng(bytes, header);
  let image: Pixels = {
    width: raw.width,
    height: raw.height,
    channels,
    data: toChannels(raw, channels, options.background),
  };
  if (options.exifOrientation && header.exif !== undefined) {
    image = applyOrientation(image, readExifOrientation(header.exif));
  }
  if (header.warnings !== undefined) warnings.push(...header.warnings);
  if (raw.warnings !== undefined) warnings.push(...raw.warnings);
  return {
    width: image.width,
    height: image.height,
    channels,
    data: image.data,
    format,
    warnings: [...new Set(warnings)],
  };
}
