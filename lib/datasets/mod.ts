/**
 * Where samples come from: `ImageFolder` for one's own images, MNIST / Fashion-MNIST / CIFAR-10 /
 * CIFAR-100 from their standard files (downloaded and checked on request), the embedded `shapes`
 * dataset that needs no files at all, and seeded train/validation splits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shapes, splitDataset } from "./mod.ts";
 * const { train, validation } = splitDataset(shapes({ size: 100 }), { validationFraction: 0.2 });
 * assert.equal(train.length + validation.length, 100);
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./errors.ts";
export * from "./in_memory.ts";
export * from "./subset.ts";
export * from "./image_folder.ts";
export * from "./mnist.ts";
export * from "./cifar.ts";
export * from "./download.ts";
export * from "./shapes.ts";
export * from "./hosts.ts";
