/**
 * The error a bad request becomes: an HTTP status and a one-line reason for the client.
 *
 * @module
 */

/**
 * A request the server refuses: `status` is the 4xx (or 503) it answers with, and the message
 * names the body or part and the problem in one line (it becomes the response's `error`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RequestError } from "./errors.ts";
 * const error = new RequestError(415, "unsupported-media-type", "content type text/plain");
 * assert.equal(error.status, 415);
 * assert.equal(error.name, "RequestError");
 * ```
 */
export class RequestError extends Error {
  /** Always `RequestError`. */
  override name = "RequestError";
  /** The HTTP status to answer with. */
  readonly status: number;
  /** A short machine-readable reason (the `reason` label of the errors metric). */
  readonly reason: string;

  /** Creates the error. */
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
}
