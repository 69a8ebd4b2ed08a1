/**
 * Training: losses on logits, optimizers and schedules with PyTorch's semantics, MixUp/CutMix,
 * the `fit` loop fed by a DataLoader, and `evaluate`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { cosineLR, createOptimizer } from "./mod.ts";
 * await useBackend("cpu");
 * const optimizer = createOptimizer({ name: "adamw", lr: 1e-3 });
 * assert.equal(cosineLR({ epochs: 10 }).lr(1e-3, 0, 0, 100), 1e-3);
 * optimizer.dispose();
 * ```
 *
 * @module
 */
export * from "./losses.ts";
export * from "./optimizers.ts";
export * from "./schedules.ts";
export * from "./mix.ts";
export * from "./fit.ts";
export * from "./step.ts";
export * from "./memory.ts";
