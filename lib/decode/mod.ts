/**
 * Image decoding in pure TypeScript: JPEG (our PIL-exact decoder, jpeg-js for the rest) and PNG
 * (our PIL-compatible reader, fflate inflating) bytes to uint8 HWC pixels, with the format sniffed
 * from magic bytes, size limits checked before allocation, optional EXIF orientation, libjpeg's
 * tolerance of damaged files (reported in `warnings`), and one error type, {@linkcode DecodeError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DecodeError, decodeImage } from "./mod.ts";
 * assert.throws(() => decodeImage(new TextEncoder().encode("GIF89a...")), DecodeError);
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./sniff.ts";
export * from "./exif.ts";
export * from "./decode.ts";
export * from "./file.ts";
