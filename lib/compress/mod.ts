/**
 * Model compression: magnitude pruning kept through training on a cubic schedule, structured
 * channel pruning that rebuilds smaller convolutions, quantization-aware training with
 * straight-through fake quantization, and (in `fit`) knowledge distillation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cubicSparsity } from "./mod.ts";
 * assert.equal(cubicSparsity(4, { target: 0.5, endEpoch: 4 }), 0.5);
 * ```
 *
 * @module
 */
export * from "./prune.ts";
export * from "./channels.ts";
export * from "./qat.ts";
