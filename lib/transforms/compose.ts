/**
 * Composition, seeding, and rebuilding transforms from their JSON specs (how a worker gets the
 * same pipeline as the main thread).
 *
 * @module
 */
import { Rng } from "../_internal/rng.ts";
import * as color from "./color.ts";
import * as geometry from "./geometry.ts";
import * as tensor from "./tensor.ts";
import type { AnyImage, Transform, TransformSpec } from "./types.ts";
import { recordParts } from "./_parts.ts";

/**
 * Compose: applies transforms in order, all drawing from the same generator.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compose, sampleRng } from "./compose.ts";
 * import { centerCrop, resize } from "./geometry.ts";
 * const pipeline = compose([resize(4), centerCrop(2)]);
 * const image = { width: 8, height: 8, channels: 1 as const, data: new Uint8Array(64) };
 * const out = pipeline.apply(image, sampleRng(0, 0, 0));
 * assert.deepEqual([out.width, out.height], [2, 2]);
 * ```
 */
export function compose(transforms: readonly Transform[]): Transform {
  const composed: Transform = {
    name: "compose",
    options: { transforms: transforms.map(({ name, options }) => ({ name, options })) },
    apply: (image: AnyImage, rng: Rng) => transforms.reduce((img, t) => t.apply(img, rng), image),
  };
  recordParts(composed, [...transforms]);
  return composed;
}

/**
 * The generator for one sample: a function of (run seed, epoch, sample index) only, so the
 * augmented pixels are the same whichever worker draws them, in whatever order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sampleRng } from "./compose.ts";
 * assert.equal(sampleRng(1, 2, 3).next(), sampleRng(1, 2, 3).next());
 * assert.notEqual(sampleRng(1, 2, 3).next(), sampleRng(1, 3, 3).next());
 * ```
 */
export function sampleRng(seed: number, epoch: number, index: number): Rng {
  return new Rng(seed, epoch, index);
}

type Factory = (options: Record<string, unknown>) => Transform;

// deno-lint-ignore no-explicit-any -- each factory validates its own options at construction
const call = (fn: (...args: any[]) => Transform, ...keys: string[]): Factory => (options) => {
  const { [keys[0]]: first, ...rest } = options;
  return keys.length === 0 ? fn(options) : fn(first, rest);
};

const FACTORIES: Record<string, Factory> = {
  compose: (options) =>
    compose((options.transforms as TransformSpec[]).map((spec) => transformFromSpec(spec))),
  resize: call(geometry.resize, "size"),
  centerCrop: (options) => geometry.centerCrop(options.size as geometry.Size),
  randomCrop: call(geometry.randomCrop, "size"),
  randomResizedCrop: call(geometry.randomResizedCrop, "size"),
  randomHorizontalFlip: (options) => geometry.randomHorizontalFlip(options.p as number),
  randomVerticalFlip: (options) => geometry.randomVerticalFlip(options.p as number),
  randomRotation: (options) =>
    geometry.randomRotation(options.degrees as number, options.fill as number),
  colorJitter: (options) => color.colorJitter(options),
  grayscale: (options) => color.grayscale(options.outputChannels as 1 | 3),
  toFloat: () => tensor.toFloat(),
  normalize: (options) => tensor.normalize(options as unknown as tensor.NormalizeOptions),
};

/**
 * Rebuilds a transform from its `{ name, options }` spec.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compose, transformFromSpec } from "./compose.ts";
 * import { randomCrop } from "./geometry.ts";
 * const original = compose([randomCrop(28, { padding: 2 })]);
 * const copy = transformFromSpec(JSON.parse(JSON.stringify(original)));
 * assert.deepEqual(copy.options, original.options);
 * ```
 */
export function transformFromSpec(spec: TransformSpec): Transform {
  const factory = FACTORIES[spec.name];
  if (factory === undefined) {
    throw new RangeError(
      `unknown transform '${spec.name}'; known: ${Object.keys(FACTORIES).join(", ")}`,
    );
  }
  return factory(spec.options ?? {});
}
