/**
 * Image decoding in pure TypeScript: JPEG (jpeg-js) and PNG (pngjs) bytes to uint8 HWC pixels,
 * with the format sniffed from magic bytes, size limits checked before allocation, optional
 * EXIF orientation, and one error type, {@linkcode DecodeError}.
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
