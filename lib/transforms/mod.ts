/**
 * What happens to one sample: torchvision-style transforms on uint8 HWC images (resize, crops,
 * flips, rotation, colour jitter, grayscale), then float conversion and normalisation. Random
 * transforms draw from a generator seeded by (run seed, epoch, sample index).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compose, normalize, randomCrop, randomHorizontalFlip, sampleRng } from "./mod.ts";
 * const train = compose([
 *   randomCrop(32, { padding: 4 }),
 *   randomHorizontalFlip(),
 *   normalize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }),
 * ]);
 * const image = { width: 32, height: 32, channels: 3 as const, data: new Uint8Array(3072) };
 * const out = train.apply(image, sampleRng(0, 1, 42));
 * assert.ok(out.data instanceof Float32Array);
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./geometry.ts";
export * from "./color.ts";
export { normalize, type NormalizeOptions, toFloat } from "./tensor.ts";
export * from "./compose.ts";
export * from "./presets.ts";
export { Rng } from "../_internal/rng.ts";
