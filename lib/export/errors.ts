/**
 * Errors of the ONNX export.
 *
 * @module
 */

/**
 * A model the ONNX export cannot write: a layer it has no ONNX form for (the message names its
 * class and its name), an unsupported setting of a layer, or a shape it cannot make static.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OnnxExportError } from "./errors.ts";
 * const error = new OnnxExportError("Conv2DTranspose layer 'up': not supported");
 * assert.equal(error.name, "OnnxExportError");
 * ```
 */
export class OnnxExportError extends Error {
  /** Always `OnnxExportError`. */
  override name = "OnnxExportError";
}
