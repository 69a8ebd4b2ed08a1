/**
 * What a transform is: a named, serialisable step applied to one image with a seeded generator.
 * The name and options are what a worker needs to rebuild the same transform.
 *
 * @module
 */
import type { RawImage } from "../decode/decode.ts";
import type { Rng } from "../_internal/rng.ts";

/** Float pixels, HWC, after `toFloat` or `normalize`. */
export interface FloatImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** 1 (grey) or 3 (RGB). */
  channels: 1 | 3;
  /** Pixels, row-major HWC. */
  data: Float32Array;
}

/** Either kind of image a pipeline carries. */
export type AnyImage = RawImage | FloatImage;

/** A JSON-serialisable description of a transform: `{ name, options }`. */
export interface TransformSpec {
  /** Transform name, e.g. `randomCrop`. */
  name: string;
  /** Its options, as JSON. */
  options: Record<string, unknown>;
}

/** One step of a pipeline. Random transforms draw only from `rng`. */
export interface Transform extends TransformSpec {
  /** Returns the transformed image; random choices come from `rng`. */
  apply(image: AnyImage, rng: Rng): AnyImage;
}

/**
 * Narrows to uint8 pixels or throws saying which transform needs them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { requireUint8 } from "./types.ts";
 * const image = { width: 1, height: 1, channels: 1 as const, data: new Float32Array(1) };
 * assert.throws(() => requireUint8(image, "resize"), /resize works on uint8 pixels/);
 * ```
 */
export function requireUint8(image: AnyImage, transform: string): RawImage {
  if (!(image.data instanceof Uint8Array)) {
    throw new TypeError(
      `${transform} works on uint8 pixels; put toFloat/normalize last in the pipeline`,
    );
  }
  return image as RawImage;
}
