/**
 * The error for dataset files that are missing or malformed.
 *
 * @module
 */

/**
 * A dataset file is missing, truncated, or not in the expected format. The message names the
 * file and says what was expected and what was found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatasetError } from "./errors.ts";
 * const error = new DatasetError("data/x.idx", "wrong magic number 0x0803, expected 0x0801");
 * assert.equal(error.message, "data/x.idx: wrong magic number 0x0803, expected 0x0801");
 * ```
 */
export class DatasetError extends Error {
  /** Always `DatasetError`. */
  override name = "DatasetError";
  /** The offending file or folder. */
  readonly path: string;

  /** Creates the error for `path`. */
  constructor(path: string, detail: string) {
    super(`${path}: ${detail}`);
    this.path = path;
  }
}
