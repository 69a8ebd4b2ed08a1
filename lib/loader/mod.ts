/**
 * Batches from datasets: `DataLoader` with seeded shuffling and Deno Web Workers doing
 * read → decode → transform, delivering batches in order with bounded memory; samplers
 * (`WeightedRandomSampler`, `classBalancedSampler`) for imbalanced data.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shapes } from "../datasets/mod.ts";
 * import { DataLoader } from "./mod.ts";
 * const loader = new DataLoader(shapes({ size: 10 }), { batchSize: 4, numWorkers: 0 });
 * assert.equal(loader.length, 3);
 * ```
 *
 * @module
 */
export * from "./loader.ts";
export * from "./batch_loader.ts";
export * from "./memory_loader.ts";
export * from "./source.ts";
export * from "./cache.ts";
export * from "./sampler.ts";
