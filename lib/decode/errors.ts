/**
 * The one error type every decoder failure becomes.
 *
 * @module
 */

/** Why a decode failed, for callers that branch on it. */
export type DecodeErrorReason =
  | "unknown-format"
  | "unsupported-format"
  | "truncated"
  | "corrupt"
  | "too-large";

/**
 * An image could not be decoded. The message says what was expected and what was found, and
 * names the file when one is known.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DecodeError } from "./errors.ts";
 * const error = new DecodeError("truncated", "JPEG ends before its first scan", "a.jpg");
 * assert.equal(error.message, "a.jpg: JPEG ends before its first scan");
 * ```
 */
export class DecodeError extends Error {
  /** Always `DecodeError`. */
  override name = "DecodeError";
  /** A short machine-readable reason. */
  readonly reason: DecodeErrorReason;
  /** The file being decoded, when known. */
  readonly path?: string;
  /** The message without the path prefix. */
  readonly detail: string;

  /** Creates the error; `path`, when given, prefixes the message. */
  constructor(reason: DecodeErrorReason, detail: string, path?: string) {
    super(path === undefined ? detail : `${path}: ${detail}`);
    this.reason = reason;
    this.detail = detail;
    this.path = path;
  }

  /** The same error, naming `path`. */
  withPath(path: string): DecodeError {
    return new DecodeError(this.reason, this.detail, path);
  }
}
