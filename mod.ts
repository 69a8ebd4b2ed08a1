/**
 * denovision: train, evaluate and benchmark image classifiers (CNNs) from TypeScript, on any GPU
 * through Deno's WebGPU or on the CPU through a wasm backend completed for training.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectBackend } from "./mod.ts";
 * const backend = await selectBackend("auto", { log: () => {} });
 * assert.ok(backend.name.length > 0);
 * ```
 *
 * @module
 */
export * from "./lib/backend/mod.ts";
export * from "./lib/decode/mod.ts";
export * from "./lib/datasets/mod.ts";
export * from "./lib/transforms/mod.ts";
export * from "./lib/loader/mod.ts";
export * from "./lib/models/mod.ts";
export * from "./lib/train/mod.ts";
export * from "./lib/compress/mod.ts";
export * from "./lib/metrics/mod.ts";
export * from "./lib/io/mod.ts";
export * from "./lib/pretrained/mod.ts";
export * from "./lib/export/mod.ts";
export * from "./lib/run/mod.ts";
export * from "./lib/serve/mod.ts";
export * from "./lib/sweep/mod.ts";
export * from "./lib/explain/mod.ts";
