/**
 * What a run leaves on disk: TF.js LayersModel export/import through a Deno file handler
 * (optionally quantized), and checkpoints that resume exactly.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fileHandler } from "./mod.ts";
 * assert.equal(typeof fileHandler("runs/x/model").save, "function");
 * ```
 *
 * @module
 */
export * from "./file_handler.ts";
export * from "./checkpoint.ts";
export * from "./tensorboard.ts";
export * from "./report.ts";
