// Internal: image dimensions and EXIF from headers alone, so limits are checked before any
// pixel buffer is allocated.
import { extraneousWarning, findMarker } from "./_jpeg_markers.ts";
import { DecodeError } from "./errors.ts";

/** What the header says about the image. */
export interface ImageHeader {
  width: number;
  height: number;
  /** Colour components: 1 gray, 2 gray+alpha, 3 colour, 4 colour+alpha or CMYK. */
  components: number;
  bitDepth: number;
  /** PNG colour type (0, 2, 3, 4, 6); -1 for JPEG. */
  colorType: number;
  /** Raw EXIF (a TIFF structure) when the file carries it. */
  exif?: Uint8Array;
  /** What the scan tolerated (libjpeg-style warnings), when anything. */
  warnings?: string[];
  /** JPEG: the Adobe APP14 colour transform (0 RGB/CMYK, 1 YCbCr, 2 YCCK), when the file has one. */
  adobeTransform?: number;
}

const be16 = (b: Uint8Array, at: number) => (b[at] << 8) | b[at + 1];
const be32 = (b: Uint8Array, at: number) =>
  ((b[at] << 24) >>> 0) + (b[at + 1] << 16) + (b[at + 2] << 8) + b[at + 3];

const PNG_COMPONENTS: Record<number, number> = { 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 };
const PNG_DEPTHS: Record<number, number[]> = {
  0: [1, 2, 4, 8, 16],
  2: [8, 16],
  3: [1, 2, 4, 8],
  4: [8, 16],
  6: [8, 16],
};

/** Reads IHDR (and an eXIf chunk, if one precedes the image data). */
export function readPngHeader(bytes: Uint8Array): ImageHeader {
  if (bytes.length < 33) {
    throw new DecodeError("truncated", `PNG is ${bytes.length} bytes, shorter than its header`);
  }
  if (String.fromCharCode(...bytes.subarray(12, 16)) !== "IHDR") {
    throw new DecodeError("corrupt", "PNG does not start with an IHDR chunk");
  }
  const width = be32(bytes, 16);
  const height = be32(bytes, 20);
  const bitDepth = bytes[24];
  const colorType = bytes[25];
  if (width === 0 || height === 0) {
    throw new DecodeError("corrupt", `PNG declares a ${width}×${height} image`);
  }
  if (!(PNG_DEPTHS[colorType] ?? []).includes(bitDepth)) {
    throw new DecodeError("corrupt", `PNG colour type ${colorType} with bit depth ${bitDepth}`);
  }
  let exif: Uint8Array | undefined;
  for (let at = 8; at + 8 <= bytes.length;) {
    const length = be32(bytes, at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (type === "IDAT" || type === "IEND") break;
    if (type === "eXIf") exif = bytes.subarray(at + 8, Math.min(bytes.length, at + 8 + length));
    at += 12 + length;
  }
  return { width, height, components: PNG_COMPONENTS[colorType], bitDepth, colorType, exif };
}

/**
 * Scans JPEG markers up to the first scan for the frame header, an EXIF APP1 segment and the
 * Adobe APP14 transform. Junk where a marker should be is skipped with libjpeg's warning.
 */
export function readJpegHeader(bytes: Uint8Array): ImageHeader {
  let at = 2;
  let exif: Uint8Array | undefined;
  let frame: ImageHeader | undefined;
  let adobeTransform: number | undefined;
  const warnings: string[] = [];
  while (at < bytes.length) {
    if (bytes[at] !== 0xff) {
      const found = findMarker(bytes, at);
      if (found.at >= bytes.length) break;
      warnings.push(extraneousWarning(found, bytes));
      at = found.at;
    }
    while (bytes[at] === 0xff && at < bytes.length) at++; // fill bytes
    const marker = bytes[at++];
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (marker === 0xd9) break;
    if (at + 2 > bytes.length) break;
    const length = be16(bytes, at);
    if (length < 2 || at + length > bytes.length) {
      throw new DecodeError(
        "truncated",
        `JPEG segment 0xff${marker.toString(16)} runs past the end of the file`,
      );
    }
    const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 &&
      marker !== 0xcc;
    if (isFrame) {
      if (length < 8) throw new DecodeError("corrupt", "JPEG frame header is too short");
      frame = {
        bitDepth: bytes[at + 2],
        height: be16(bytes, at + 3),
        width: be16(bytes, at + 5),
        components: bytes[at + 7],
        colorType: -1,
      };
    } else if (
      marker === 0xe1 && length >= 8 &&
      String.fromCharCode(...bytes.subarray(at + 2, at + 6)) === "Exif"
    ) {
      exif = bytes.subarray(at + 8, at + length);
    } else if (
      marker === 0xee && length >= 7 &&
      String.fromCharCode(...bytes.subarray(at + 2, at + 7)) === "Adobe"
    ) {
      // PIL reads the version field of any "Adobe" segment and fails on one too short for it;
      // libjpeg honours the transform only in a complete (12-byte) segment.
      if (length < 9) {
        throw new DecodeError(
          "corrupt",
          `JPEG Adobe APP14 segment holds ${length - 2} bytes, too short for its version field`,
        );
      }
      if (length >= 14) adobeTransform = bytes[at + 13];
    } else if (
      marker === 0xe0 && length < 9 && length >= 6 &&
      String.fromCharCode(...bytes.subarray(at + 2, at + 6)) === "JFIF"
    ) {
      // PIL reads a JFIF segment's version field too, and fails on one too short for it.
      throw new DecodeError(
        "corrupt",
        `JPEG JFIF APP0 segment holds ${length - 2} bytes, too short for its version field`,
      );
    } else if (marker === 0xda) {
      break;
    }
    at += length;
  }
  if (frame === undefined) {
    throw new DecodeError("truncated", "JPEG ends before its frame header (no SOF marker)");
  }
  if (frame.width === 0 || frame.height === 0) {
    throw new DecodeError("corrupt", `JPEG declares a ${frame.width}×${frame.height} image`);
  }
  if (![1, 3, 4].includes(frame.components)) {
    throw new DecodeError("unsupported-format", `JPEG with ${frame.components} components`);
  }
  if (frame.bitDepth !== 8) {
    throw new DecodeError(
      "unsupported-format",
      `${frame.bitDepth}-bit JPEG samples (8-bit JPEG is supported, as in PIL)`,
    );
  }
  return {
    ...frame,
    exif,
    adobeTransform,
    warnings: warnings.length > 0 ? warnings : undefined,
  };
}
