/**
 * Compute backends for tfjs inside Deno: WebGPU through Deno's `navigator.gpu` with our own
 * device factory, the wasm backend completed with the kernels training needs, and cpu as the
 * last resort. Importing this module registers all three.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectBackend } from "./mod.ts";
 * const { name } = await selectBackend("auto", { log: () => {} });
 * assert.ok(["webgpu", "wasm", "cpu"].includes(name));
 * ```
 *
 * @module
 */
export * from "./errors.ts";
export * from "./webgpu.ts";
export * from "./webgpu_kernels.ts";
export * from "./wasm.ts";
export * from "./select.ts";
export * from "./info.ts";
