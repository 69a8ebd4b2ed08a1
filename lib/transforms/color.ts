/**
 * Colour transforms with the arithmetic of PIL's ImageEnhance and HSV conversion, which is what
 * torchvision's ColorJitter and Grayscale run on PIL images.
 *
 * @module
 */
import type { RawImage } from "../decode/decode.ts";
import type { Rng } from "../_internal/rng.ts";
import { type AnyImage, requireUint8, type Transform } from "./types.ts";

const f32 = Math.fround;

/** PIL's Image.blend(a, b, alpha) on uint8 samples, in single precision as PIL computes it. */
function blend(a: Uint8Array | number, b: Uint8Array, alpha: number): Uint8Array {
  const out = new Uint8Array(b.length);
  const k = f32(alpha);
  for (let i = 0; i < b.length; i++) {
    const from = typeof a === "number" ? a : a[i];
    const t = f32(from + f32(k * (b[i] - from)));
    out[i] = t <= 0 ? 0 : t >= 255 ? 255 : Math.trunc(t);
  }
  return out;
}

/** PIL's RGB → L: (R·19595 + G·38470 + B·7471 + 0x8000) >> 16. */
function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

/** The image in gray, keeping its channel count (gray replicated over RGB). */
function grayLike(image: RawImage): Uint8Array {
  if (image.channels === 1) return image.data.slice();
  const { data } = image;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i += 3) {
    const l = luma(data[i], data[i + 1], data[i + 2]);
    out[i] = out[i + 1] = out[i + 2] = l;
  }
  return out;
}

/** Brightness: blend with black (factor 0 black, 1 unchanged). */
export function adjustBrightness(image: RawImage, factor: number): RawImage {
  return { ...image, data: blend(0, image.data, factor) };
}

/** Contrast: blend with the mean gray level (rounded as ImageStat's mean + 0.5). */
export function adjustContrast(image: RawImage, factor: number): RawImage {
  const gray = grayLike(image);
  let sum = 0;
  for (let i = 0; i < gray.length; i += image.channels) sum += gray[i];
  const mean = Math.trunc(sum / (gray.length / image.channels) + 0.5);
  return { ...image, data: blend(mean, image.data, factor) };
}

/** Saturation: blend with the image's own gray version. */
export function adjustSaturation(image: RawImage, factor: number): RawImage {
  if (image.channels === 1) return image;
  return { ...image, data: blend(grayLike(image), image.data, factor) };
}

/** PIL's rgb2hsv for one pixel, all in 0–255 integers. */
function rgbToHsv(r: number, g: number, b: number): [number, number, number] {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  if (max === min) return [0, 0, max];
  const cr = max - min;
  const s = Math.trunc(f32(f32(cr / max) * 255));
  const rc = f32((max - r) / cr);
  const gc = f32((max - g) / cr);
  const bc = f32((max - b) / cr);
  let h: number;
  if (r === max) h = f32(bc - gc);
  else if (g === max) h = f32(f32(2 + rc) - bc);
  else h = f32(f32(4 + gc) - rc);
  h = f32(h / 6);
  h = f32(h - Math.floor(h)); // fmod(h + 1, 1) for h in (-1, 1)
  return [Math.trunc(f32(h * 255)), s, max];
}

/** PIL's hsv2rgb for one pixel. */
function hsvToRgb(h: number, s: number, v: number): [number, number, number] {
  if (s === 0) return [v, v, v];
  const hf = f32(f32(h * 6) / 255);
  const i = Math.floor(hf);
  const frac = f32(hf - i);
  const sf = f32(s / 255);
  const clip = (x: number) => (x <= 0 ? 0 : x >= 255 ? 255 : Math.trunc(x));
  const p = clip(Math.round(f32(v * f32(1 - sf))));
  const q = clip(Math.round(f32(v * f32(1 - f32(sf * frac)))));
  const t = clip(Math.round(f32(v * f32(1 - f32(sf * f32(1 - frac))))));
  switch (i % 6) {
    case 0:
      return [v, t, p];
    case 1:
      return [q, v, p];
    case 2:
      return [p, v, t];
    case 3:
      return [p, q, v];
    case 4:
      return [t, p, v];
    default:
      return [v, p, q];
  }
}

/** Hue: shifts the HSV hue channel by factor × 255 (mod 256), as torchvision does on PIL. */
export function adjustHue(image: RawImage, factor: number): RawImage {
  if (image.channels === 1) return image;
  const shift = Math.trunc(factor * 255) & 0xff; // np.uint8(hue_factor * 255)
  const { data } = image;
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i += 3) {
    const [h, s, v] = rgbToHsv(data[i], data[i + 1], data[i + 2]);
    const [r, g, b] = hsvToRgb((h + shift) & 0xff, s, v);
    out[i] = r;
    out[i + 1] = g;
    out[i + 2] = b;
  }
  return { ...image, data: out };
}

/** A jitter amount: `x` means [max(0, 1 − x), 1 + x] (hue: [−x, x]), or an explicit range. */
export type JitterRange = number | readonly [number, number];

/** Options for {@linkcode colorJitter}. */
export interface ColorJitterOptions {
  /** Brightness factor range (a number b means [max(0, 1 − b), 1 + b]). */
  brightness?: JitterRange;
  /** Contrast factor range, like brightness. */
  contrast?: JitterRange;
  /** Saturation factor range, like brightness. */
  saturation?: JitterRange;
  /** At most 0.5. */
  hue?: JitterRange;
}

function range(
  value: JitterRange | undefined,
  center: number,
  name: string,
): [number, number] | undefined {
  if (value === undefined) return undefined;
  const [low, high] = typeof value === "number" ? [center - value, center + value] : value;
  if (typeof value === "number" && value < 0) {
    throw new RangeError(`colorJitter ${name} must be ≥ 0`);
  }
  const clamped: [number, number] = [center === 1 ? Math.max(0, low) : low, high];
  if (clamped[0] === center && clamped[1] === center) return undefined;
  return clamped;
}

/**
 * ColorJitter: brightness, contrast, saturation and hue factors drawn uniformly, applied in a
 * random order, as torchvision does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../_internal/rng.ts";
 * import { colorJitter } from "./color.ts";
 * const image = { width: 1, height: 1, channels: 3 as const, data: new Uint8Array([200, 100, 50]) };
 * const out = colorJitter({ brightness: 0.4, hue: 0.1 }).apply(image, new Rng(3));
 * assert.equal(out.data.length, 3);
 * ```
 */
export function colorJitter(options: ColorJitterOptions): Transform {
  const brightness = range(options.brightness, 1, "brightness");
  const contrast = range(options.contrast, 1, "contrast");
  const saturation = range(options.saturation, 1, "saturation");
  const hue = range(options.hue, 0, "hue");
  if (hue && (hue[0] < -0.5 || hue[1] > 0.5)) {
    throw new RangeError("colorJitter hue must lie in [-0.5, 0.5]");
  }
  return {
    name: "colorJitter",
    options: { ...options },
    apply(image: AnyImage, rng: Rng) {
      let raw = requireUint8(image, "colorJitter");
      const order = rng.shuffle([0, 1, 2, 3]);
      const factors = [brightness, contrast, saturation, hue].map((r) =>
        r && rng.uniform(r[0], r[1])
      );
      for (const which of order) {
        const factor = factors[which];
        if (factor === undefined) continue;
        if (which === 0) raw = adjustBrightness(raw, factor);
        else if (which === 1) raw = adjustContrast(raw, factor);
        else if (which === 2) raw = adjustSaturation(raw, factor);
        else raw = adjustHue(raw, factor);
      }
      return raw;
    },
  };
}

/**
 * Grayscale: PIL's luma; `outputChannels` 1 or 3 (replicated), like torchvision's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../_internal/rng.ts";
 * import { grayscale } from "./color.ts";
 * const image = { width: 1, height: 1, channels: 3 as const, data: new Uint8Array([255, 0, 0]) };
 * assert.deepEqual([...grayscale().apply(image, new Rng(0)).data], [76]);
 * ```
 */
export function grayscale(outputChannels: 1 | 3 = 1): Transform {
  return {
    name: "grayscale",
    options: { outputChannels },
    apply(image: AnyImage) {
      const raw = requireUint8(image, "grayscale");
      const gray = grayLike(raw);
      if (outputChannels === 3) {
        return {
          ...raw,
          channels: 3,
          data: raw.channels === 3
            ? gray
            : Uint8Array.from({ length: gray.length * 3 }, (_, i) => gray[Math.floor(i / 3)]),
        };
      }
      if (raw.channels === 1) return { ...raw, data: gray };
      return { ...raw, channels: 1, data: gray.filter((_, i) => i % 3 === 0) };
    },
  };
}
