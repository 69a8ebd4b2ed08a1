/**
 * Geometric transforms with torchvision's semantics and defaults (on PIL images): resize,
 * crops, flips and rotation.
 *
 * @module
 */
import type { RawImage } from "../decode/decode.ts";
import type { Rng } from "../_internal/rng.ts";
import { BICUBIC, BILINEAR, resample } from "./_resample.ts";
import { type AnyImage, requireUint8, type Transform } from "./types.ts";

/** Height and width, or one number for a square. */
export type Size = number | readonly [height: number, width: number];

/** Python's round(): halves go to the even neighbour, as torchvision's crop arithmetic does. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Resizes uint8 pixels exactly as PIL does (bilinear/bicubic, antialiased when shrinking). */
export function resizeImage(
  image: RawImage,
  height: number,
  width: number,
  interpolation: "bilinear" | "bicubic" = "bilinear",
): RawImage {
  if (height === image.height && width === image.width) return image;
  return resizeRegion(image, 0, 0, image.height, image.width, height, width, interpolation);
}

/**
 * Resizes the `h × w` window at (top, left) of `image` to `height × width`, reading the window in
 * place: the same pixels as `resizeImage(cropImage(…))` without the copy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cropImage, resizeImage, resizeRegion } from "./geometry.ts";
 * const image = { width: 9, height: 7, channels: 1 as const, data: new Uint8Array(63).map((_, i) => i * 4) };
 * const direct = resizeRegion(image, 1, 2, 5, 6, 3, 4);
 * assert.deepEqual(direct.data, resizeImage(cropImage(image, 1, 2, 5, 6), 3, 4).data);
 * ```
 */
export function resizeRegion(
  image: RawImage,
  top: number,
  left: number,
  h: number,
  w: number,
  height: number,
  width: number,
  interpolation: "bilinear" | "bicubic" = "bilinear",
): RawImage {
  if (height === h && width === w) return cropImage(image, top, left, h, w);
  const data = resample(
    image.data,
    w,
    h,
    image.channels,
    width,
    height,
    interpolation === "bicubic" ? BICUBIC : BILINEAR,
    { top, left, imageWidth: image.width },
  );
  return { width, height, channels: image.channels, data };
}

/** Cuts the `height × width` window at (top, left); outside pixels become `fill`. */
export function cropImage(
  image: RawImage,
  top: number,
  left: number,
  height: number,
  width: number,
  fill = 0,
): RawImage {
  const { channels } = image;
  const out = new Uint8Array(height * width * channels).fill(fill);
  for (let y = 0; y < height; y++) {
    const sy = top + y;
    if (sy < 0 || sy >= image.height) continue;
    const x0 = Math.max(0, -left);
    const x1 = Math.min(width, image.width - left);
    if (x1 <= x0) continue;
    out.set(
      image.data.subarray(
        (sy * image.width + left + x0) * channels,
        (sy * image.width + left + x1) * channels,
      ),
      (y * width + x0) * channels,
    );
  }
  return { width, height, channels, data: out };
}

/** Where a padded pixel's value comes from, per torchvision's padding modes. */
function padIndex(i: number, n: number, mode: "edge" | "reflect" | "symmetric"): number {
  if (mode === "edge") return Math.min(n - 1, Math.max(0, i));
  const period = mode === "reflect" ? 2 * (n - 1) : 2 * n;
  if (period === 0) return 0;
  const m = ((i % period) + period) % period;
  if (mode === "reflect") return m < n ? m : period - m;
  return m < n ? m : period - 1 - m;
}

/** Pads by [left, top, right, bottom] with a constant or a border mode. */
export function padImage(
  image: RawImage,
  [left, top, right, bottom]: readonly [number, number, number, number],
  mode: "constant" | "edge" | "reflect" | "symmetric" = "constant",
  fill = 0,
): RawImage {
  if (mode === "constant") {
    return cropImage(
      image,
      -top,
      -left,
      image.height + top + bottom,
      image.width + left + right,
      fill,
    );
  }
  const width = image.width + left + right;
  const height = image.height + top + bottom;
  const { channels } = image;
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    const sy = padIndex(y - top, image.height, mode);
    for (let x = 0; x < width; x++) {
      const sx = padIndex(x - left, image.width, mode);
      const from = (sy * image.width + sx) * channels;
      for (let c = 0; c < channels; c++) out[(y * width + x) * channels + c] = image.data[from + c];
    }
  }
  return { width, height, channels, data: out };
}

/** torchvision's output size for Resize(size): an int sets the shorter side. */
export function resizedSize(
  height: number,
  width: number,
  size: Size,
  maxSize?: number,
): [number, number] {
  if (typeof size !== "number") return [size[0], size[1]];
  const [short, long] = width <= height ? [width, height] : [height, width];
  let newShort = size;
  let newLong = Math.trunc((size * long) / short);
  if (maxSize !== undefined && newLong > maxSize) {
    newShort = Math.trunc((maxSize * newShort) / newLong);
    newLong = maxSize;
  }
  return width <= height ? [newLong, newShort] : [newShort, newLong];
}

/** Options for {@linkcode resize}. */
export interface ResizeOptions {
  /** Default: `"bilinear"` (torchvision's default), antialiased like PIL. */
  interpolation?: "bilinear" | "bicubic";
  /** Cap on the longer side when `size` is a number. */
  maxSize?: number;
}

/**
 * Resize: a number sets the shorter side (aspect kept), `[h, w]` sets both.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../_internal/rng.ts";
 * import { resize } from "./geometry.ts";
 * const image = { width: 8, height: 4, channels: 1 as const, data: new Uint8Array(32).fill(9) };
 * const out = resize(2).apply(image, new Rng(0));
 * assert.deepEqual([out.width, out.height], [4, 2]);
 * ```
 */
export function resize(size: Size, options: ResizeOptions = {}): Transform {
  return {
    name: "resize",
    options: { size, ...options },
    apply(image: AnyImage) {
      const raw = requireUint8(image, "resize");
      const [h, w] = resizedSize(raw.height, raw.width, size, options.maxSize);
      return resizeImage(raw, h, w, options.interpolation);
    },
  };
}

/**
 * CenterCrop: the central `size` window, zero-padded first if the image is smaller.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../_internal/rng.ts";
 * import { centerCrop } from "./geometry.ts";
 * const image = { width: 3, height: 1, channels: 1 as const, data: new Uint8Array([1, 2, 3]) };
 * assert.deepEqual([...centerCrop([1, 1]).apply(image, new Rng(0)).data], [2]);
 * ```
 */
export function centerCrop(size: Size): Transform {
  const [th, tw] = typeof size === "number" ? [size, size] : size;
  return {
    name: "centerCrop",
    options: { size },
    apply(image: AnyImage) {
      const raw = requireUint8(image, "centerCrop");
      const top = roundHalfEven((raw.height - th) / 2);
      const left = roundHalfEven((raw.width - tw) / 2);
      if (th > raw.height || tw > raw.width) {
        // torchvision pads (left, top, right, bottom) = ((tw-w)//2, (th-h)//2, (tw-w+1)//2, ...)
        const padLeft = tw > raw.width ? Math.floor((tw - raw.width) / 2) : 0;
        const padTop = th > raw.height ? Math.floor((th - raw.height) / 2) : 0;
        const padded = padImage(raw, [
          padLeft,
          padTop,
          tw > raw.width ? Math.floor((tw - raw.width + 1) / 2) : 0,
          th > raw.height ? Math.floor((th - raw.height + 1) / 2) : 0,
        ]);
        return cropImage(
          padded,
          roundHalfEven((padded.height - th) / 2),
          roundHalfEven((padded.width - tw) / 2),
          th,
          tw,
        );
      }
      return cropImage(raw, top, left, th, tw);
    },
  };
}

/** Options for {@linkcode randomCrop}. */
export interface RandomCropOptions {
  /** Border added first: one number, [left/right, top/bottom], or [left, top, right, bottom]. */
  padding?: number | readonly number[];
  /** Pad when the image is smaller than `size`. Default: false. */
  padIfNeeded?: boolean;
  /** Constant fill value. Default: 0. */
  fill?: number;
  /** Default: `"constant"`. */
  paddingMode?: "constant" | "edge" | "reflect" | "symmetric";
}

function expandPadding(padding: number | readonly number[]): [number, number, number, number] {
  if (typeof padding === "number") return [padding, padding, padding, padding];
  if (padding.length === 2) return [padding[0], padding[1], padding[0], padding[1]];
  return [padding[0], padding[1], padding[2], padding[3]];
}

/**
 * RandomCrop: optional padding, then a uniformly placed `size` window.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../_internal/rng.ts";
 * import { randomCrop } from "./geometry.ts";
 * const image = { width: 32, height: 32, channels: 3 as const, data: new Uint8Array(3072) };
 * const out = randomCrop(32, { padding: 4, paddingMode: "reflect" }).apply(image, new Rng(1));
 * assert.deepEqual([out.width, out.height], [32, 32]);
 * ```
 */
export function randomCrop(size: Size, options: RandomCropOptions = {}): Transform {
  const [th, tw] = typeof size === "number" ? [size, size] : size;
  const mode = options.paddingMode ?? "constant";
  const fill = options.fill ?? 0;
  return {
    name: "randomCrop",
    options: { size, ...options },
    apply(image: AnyImage, rng: Rng) {
      let raw = requireUint8(image, "randomCrop");
      if (options.padding !== undefined) {
        raw = padImage(raw, expandPadding(options.padding), mode, fill);
      }
      if (options.padIfNeeded && raw.width < tw) {
        raw = padImage(raw, [tw - raw.width, 0, tw - raw.width, 0], mode, fill);
      }
      if (options.padIfNeeded && raw.height < th) {
        raw = padImage(raw, [0, th - raw.height, 0, th - raw.height], mode, fill);
      }
      if (raw.height < th || raw.width < tw) {
        throw new RangeError(
          `randomCrop: ${th}×${tw} is larger than the ${raw.height}×${raw.width} image`,
        );
      }
      const top = rng.int(raw.height - th + 1);
      const left = rng.int(raw.width - tw + 1);
      return cropImage(raw, top, left, th, tw);
    },
  };
}

/** Options for {@linkcode randomResizedCrop}. */
export interface RandomResizedCropOptions {
  /** Range of the crop's area as a fraction of the image. Default: [0.08, 1]. */
  scale?: readonly [number, number];
  /** Range of the crop's aspect ratio. Default: [3/4, 4/3]. */
  ratio?: readonly [number, number];
  /** Resampling filter. Default: bilinear. */
  interpolation?: "bilinear" | "bicubic";
}

/** torchvision's RandomResizedCrop.get_params: ten tries, then a central crop. */
export function randomResizedCropParams(
  height: number,
  width: number,
  scale: readonly [number, number],
  ratio: readonly [number, number],
  rng: Rng,
): [top: number, left: number, h: number, w: number] {
  const area = height * width;
  const [logLow, logHigh] = [Math.log(ratio[0]), Math.log(ratio[1])];
  for (let attempt = 0; attempt < 10; attempt++) {
    const targetArea = area * rng.uniform(scale[0], scale[1]);
    const aspect = Math.exp(rng.uniform(logLow, logHigh));
    const w = roundHalfEven(Math.sqrt(targetArea * aspect));
    const h = roundHalfEven(Math.sqrt(targetArea / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return [rng.int(height - h + 1), rng.int(width - w + 1), h, w];
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < Math.min(...ratio)) h = roundHalfEven(w / Math.min(...ratio));
  else if (inRatio > Math.max(...ratio)) w = roundHalfEven(h * Math.max(...ratio));
  return [Math.floor((height - h) / 2), Math.floor((width - w) / 2), h, w];
}

/**
 * RandomResizedCrop: a random area and aspect ratio, resized to `size`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../_internal/rng.ts";
 * import { randomResizedCrop } from "./geometry.ts";
 * const image = { width: 50, height: 40, channels: 3 as const, data: new Uint8Array(6000) };
 * const out = randomResizedCrop(24).apply(image, new Rng(7));
 * assert.deepEqual([out.width, out.height], [24, 24]);
 * ```
 */
export function randomResizedCrop(size: Size, options: RandomResizedCropOptions = {}): Transform {
  const [th, tw] = typeof size === "number" ? [size, size] : size;
  const scale = options.scale ?? [0.08, 1];
  const ratio = options.ratio ?? [3 / 4, 4 / 3];
  return {
    name: "randomResizedCrop",
    options: { size, ...options },
    apply(image: AnyImage, rng: Rng) {
      const raw = requireUint8(image, "randomResizedCrop");
      const [top, left, h, w] = randomResizedCropParams(raw.height, raw.width, scale, ratio, rng);
      return resizeRegion(raw, top, left, h, w, th, tw, options.interpolation);
    },
  };
}

/** Mirrors left–right. */
export function flipHorizontal(image: RawImage): RawImage {
  const { width, height, channels, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * channels;
    if (channels === 3) {
      // The common case without the inner channel loop (a third of the time).
      for (let from = row, to = row + (width - 1) * 3; to >= row; from += 3, to -= 3) {
        out[to] = data[from];
        out[to + 1] = data[from + 1];
        out[to + 2] = data[from + 2];
      }
      continue;
    }
    for (let x = 0; x < width; x++) {
      const from = row + x * channels;
      const to = row + (width - 1 - x) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = data[from + c];
    }
  }
  return { width, height, channels, data: out };
}

/** Mirrors top–bottom. */
export function flipVertical(image: RawImage): RawImage {
  const { width, height, channels, data } = image;
  const out = new Uint8Array(data.length);
  const row = width * channels;
  for (let y = 0; y < height; y++) {
    out.set(data.subarray(y * row, (y + 1) * row), (height - 1 - y) * row);
  }
  return { width, height, channels, data: out };
}

/**
 * RandomHorizontalFlip with probability `p` (default 0.5).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../_internal/rng.ts";
 * import { randomHorizontalFlip } from "./geometry.ts";
 * const image = { width: 2, height: 1, channels: 1 as const, data: new Uint8Array([1, 2]) };
 * assert.deepEqual([...randomHorizontalFlip(1).apply(image, new Rng(0)).data], [2, 1]);
 * ```
 */
export function randomHorizontalFlip(p = 0.5): Transform {
  return {
    name: "randomHorizontalFlip",
    options: { p },
    apply: (image: AnyImage, rng: Rng) => {
      const raw = requireUint8(image, "randomHorizontalFlip");
      return rng.next() < p ? flipHorizontal(raw) : raw;
    },
  };
}

/**
 * RandomVerticalFlip with probability `p` (default 0.5).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../_internal/rng.ts";
 * import { randomVerticalFlip } from "./geometry.ts";
 * const image = { width: 1, height: 2, channels: 1 as const, data: new Uint8Array([1, 2]) };
 * assert.deepEqual([...randomVerticalFlip(1).apply(image, new Rng(0)).data], [2, 1]);
 * ```
 */
export function randomVerticalFlip(p = 0.5): Transform {
  return {
    name: "randomVerticalFlip",
    options: { p },
    apply: (image: AnyImage, rng: Rng) => {
      const raw = requireUint8(image, "randomVerticalFlip");
      return rng.next() < p ? flipVertical(raw) : raw;
    },
  };
}

/** Transposes rows and columns (PIL's TRANSPOSE), then flips as asked: exact quarter turns. */
function quarterTurn(image: RawImage, clockwise: boolean): RawImage {
  const { width, height, channels, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < width; y++) {
    for (let x = 0; x < height; x++) {
      // Output is height wide and width tall.
      const [sx, sy] = clockwise ? [y, height - 1 - x] : [width - 1 - y, x];
      const from = (sy * width + sx) * channels;
      const to = (y * height + x) * channels;
      for (let c = 0; c < channels; c++) out[to + c] = data[from + c];
    }
  }
  return { width: height, height: width, channels, data: out };
}

/**
 * Rotates by `angle` degrees counter-clockwise about the centre, nearest neighbour, same size,
 * uncovered pixels set to `fill`: PIL's `Image.rotate` (which torchvision's rotate calls),
 * including its exact shortcuts for 0°, 180° and square quarter turns and the 16.16 fixed-point
 * loop of its nearest-neighbour affine transform.
 */
export function rotateImage(image: RawImage, angle: number, fill = 0): RawImage {
  const { width, height, channels, data } = image;
  const turn = ((angle % 360) + 360) % 360;
  if (turn === 0) return { ...image, data: data.slice() };
  if (turn === 180) return flipVertical(flipHorizontal(image));
  if ((turn === 90 || turn === 270) && width === height) return quarterTurn(image, turn === 270);
  const radians = -(turn * Math.PI) / 180;
  const round15 = (v: number) => Number(v.toFixed(15)); // Python's round(v, 15)
  const [a, b] = [round15(Math.cos(radians)), round15(Math.sin(radians))];
  const [d, e] = [round15(-Math.sin(radians)), round15(Math.cos(radians))];
  const [cx, cy] = [width / 2, height / 2];
  const c = a * -cx + b * -cy + 0 + cx;
  const f = d * -cx + e * -cy + 0 + cy;
  const out = new Uint8Array(data.length).fill(fill);
  const copy = (x: number, y: number, xin: number, yin: number) => {
    if (xin < 0 || yin < 0 || xin >= width || yin >= height) return;
    const from = (yin * width + xin) * channels;
    const to = (y * width + x) * channels;
    for (let k = 0; k < channels; k++) out[to + k] = data[from + k];
  };
  const fits = (x: number, y: number) =>
    Math.abs(x * a + y * b + c) < 32768 && Math.abs(x * d + y * e + f) < 32768;
  if (fits(0, 0) && fits(width, height) && fits(0, height) && fits(width, 0)) {
    const fix = (v: number) => Math.floor(v * 65536 + 0.5);
    const [a0, a1, a3, a4] = [fix(a), fix(b), fix(d), fix(e)];
    let a2 = fix(c + a * 0.5 + b * 0.5);
    let a5 = fix(f + d * 0.5 + e * 0.5);
    for (let y = 0; y < height; y++) {
      let xx = a2;
      let yy = a5;
      for (let x = 0; x < width; x++) {
        copy(x, y, xx >> 16, yy >> 16);
        xx += a0;
        yy += a3;
      }
      a2 += a1;
      a5 += a4;
    }
  } else {
    let xo = c + b * 0.5 + a * 0.5;
    let yo = f + e * 0.5 + d * 0.5;
    for (let y = 0; y < height; y++) {
      let xx = xo;
      let yy = yo;
      for (let x = 0; x < width; x++) {
        copy(x, y, xx < 0 ? -1 : Math.trunc(xx), yy < 0 ? -1 : Math.trunc(yy));
        xx += a;
        yy += d;
      }
      xo += b;
      yo += e;
    }
  }
  return { width, height, channels, data: out };
}

/**
 * RandomRotation: an angle uniform in [-degrees, degrees] (or the given range).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Rng } from "../_internal/rng.ts";
 * import { randomRotation } from "./geometry.ts";
 * const image = { width: 4, height: 4, channels: 1 as const, data: new Uint8Array(16).fill(5) };
 * assert.equal(randomRotation(15).apply(image, new Rng(0)).width, 4);
 * ```
 */
export function randomRotation(degrees: number | readonly [number, number], fill = 0): Transform {
  const [low, high] = typeof degrees === "number" ? [-degrees, degrees] : degrees;
  return {
    name: "randomRotation",
    options: { degrees, fill },
    apply: (image: AnyImage, rng: Rng) =>
      rotateImage(requireUint8(image, "randomRotation"), rng.uniform(low, high), fill),
  };
}
