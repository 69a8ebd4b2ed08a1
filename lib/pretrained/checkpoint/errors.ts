/**
 * The one error type every checkpoint-reading failure becomes.
 *
 * @module
 */

/**
 * A checkpoint could not be read, or was refused. The message is one line: the source file
 * (when known), then what was expected and what was found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointError } from "./errors.ts";
 * const error = new CheckpointError("not a zip archive", "model.pth");
 * assert.equal(error.message, "model.pth: not a zip archive");
 * assert.equal(error.name, "CheckpointError");
 * ```
 */
export class CheckpointError extends Error {
  /** Always `CheckpointError`. */
  override name = "CheckpointError";
  /** The message without the source prefix. */
  readonly detail: string;
  /** The file being read, when known. */
  readonly source?: string;

  /** Creates the error; `source`, when given, prefixes the message. */
  constructor(detail: string, source?: string) {
    super(source === undefined ? detail : `${source}: ${detail}`);
    this.detail = detail;
    this.source = source;
  }

  /**
   * The same error, naming `source`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { CheckpointError } from "./errors.ts";
   * const named = new CheckpointError("empty file").withSource("a.pth");
   * assert.equal(named.message, "a.pth: empty file");
   * ```
   */
  withSource(source: string | undefined): CheckpointError {
    return source === undefined ? this : new CheckpointError(this.detail, source);
  }
}
