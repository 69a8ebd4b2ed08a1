/**
 * The last step of a pipeline: uint8 pixels to float, optionally normalised per channel.
 *
 * @module
 */
import { type AnyImage, requireUint8, type Transform } from "./types.ts";

/**
 * ToFloat: uint8 → float32 in [0, 1] (torchvision's ToTensor scaling, HWC layout kept).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../_internal/rng.ts";
 * import { toFloat } from "./tensor.ts";
 * const image = { width: 1, height: 1, channels: 1 as const, data: new Uint8Array([255]) };
 * assert.deepEqual([...toFloat().apply(image, new Rng(0)).data], [1]);
 * ```
 */
export function toFloat(): Transform {
  return {
    name: "toFloat",
    options: {},
    apply(image: AnyImage) {
      const raw = requireUint8(image, "toFloat");
      const data = new Float32Array(raw.data.length);
      for (let i = 0; i < data.length; i++) data[i] = raw.data[i] / 255;
      return { width: raw.width, height: raw.height, channels: raw.channels, data };
    },
  };
}

/** Per-channel statistics for {@linkcode normalize}, on the [0, 1] scale. */
export interface NormalizeOptions {
  /** Per-channel mean, on the 0–1 scale. */
  mean: readonly number[];
  /** Per-channel standard deviation, on the 0–1 scale. */
  std: readonly number[];
}

/**
 * Normalize: (x / 255 − mean) / std per channel, from uint8 (or from `toFloat`'s [0, 1]).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../_internal/rng.ts";
 * import { normalize } from "./tensor.ts";
 * const image = { width: 1, height: 1, channels: 1 as const, data: new Uint8Array([255]) };
 * const out = normalize({ mean: [0.5], std: [0.5] }).apply(image, new Rng(0));
 * assert.deepEqual([...out.data], [1]);
 * ```
 */
export function normalize(options: NormalizeOptions): Transform {
  const { mean, std } = options;
  if (mean.length !== std.length || std.some((s) => s <= 0)) {
    throw new RangeError("normalize: mean and std need one entry per channel, std > 0");
  }
  return {
    name: "normalize",
    options: { mean: [...mean], std: [...std] },
    apply(image: AnyImage) {
      const channels = image.channels;
      if (mean.length !== channels) {
        throw new RangeError(`normalize: ${mean.length} means for a ${channels}-channel image`);
      }
      // x·a + b per channel, with a = scale/std and b = −mean/std: no divide, no modulo.
      const scale = image.data instanceof Uint8Array ? 1 / 255 : 1;
      const source = image.data;
      const data = new Float32Array(source.length);
      if (channels === 3) {
        const [a0, a1, a2] = [scale / std[0], scale / std[1], scale / std[2]];
        const [b0, b1, b2] = [-mean[0] / std[0], -mean[1] / std[1], -mean[2] / std[2]];
        for (let i = 0; i < data.length; i += 3) {
          data[i] = source[i] * a0 + b0;
          data[i + 1] = source[i + 1] * a1 + b1;
          data[i + 2] = source[i + 2] * a2 + b2;
        }
      } else {
        const a = scale / std[0];
        const b = -mean[0] / std[0];
        for (let i = 0; i < data.length; i++) data[i] = source[i] * a + b;
      }
      return { width: image.width, height: image.height, channels, data };
    },
  };
}
