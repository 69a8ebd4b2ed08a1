/**
 * Pictures of explanations as uint8 RGB images and PNG bytes: a heatmap blended over the photo
 * with labels underneath, a grid of feature maps, and convolution kernels as tiles.
 *
 * @module
 */
import pngjs from "pngjs";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import type { RawImage } from "../decode/decode.ts";
import { writeFileAtomic } from "../io/_atomic.ts";
import type { NormalizeOptions } from "../transforms/tensor.ts";
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyphPixel } from "./_font.ts";
import { ExplainError, type FeatureMaps, findLayer, listLayers } from "./gradcam.ts";

const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);
const byte = (v: number) => Math.round(clamp01(v) * 255);

/**
 * The jet colormap: 0 is dark blue, 0.5 green-yellow, 1 dark red, as 0–255 RGB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jet } from "./render.ts";
 * assert.deepEqual(jet(0), [0, 0, 128]);
 * assert.deepEqual(jet(1), [128, 0, 0]);
 * ```
 */
export function jet(value: number): [number, number, number] {
  const t = clamp01(value);
  return [
    byte(1.5 - Math.abs(4 * t - 3)),
    byte(1.5 - Math.abs(4 * t - 2)),
    byte(1.5 - Math.abs(4 * t - 1)),
  ];
}

/**
 * PNG bytes of a uint8 grey or RGB image.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toPng } from "./render.ts";
 * const png = toPng({ width: 1, height: 1, channels: 3, data: new Uint8Array([255, 0, 0]) });
 * assert.equal(new TextDecoder().decode(png.subarray(1, 4)), "PNG");
 * ```
 */
export function toPng(image: RawImage): Uint8Array {
  const { width, height, channels, data } = image;
  const png = new pngjs.PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    for (let c = 0; c < 3; c++) png.data[i * 4 + c] = data[i * channels + (channels === 1 ? 0 : c)];
    png.data[i * 4 + 3] = 255;
  }
  return new Uint8Array(pngjs.PNG.sync.write(png as unknown as pngjs.PNG));
}

/**
 * Writes a uint8 grey or RGB image as a PNG file, atomically (temp file, then rename).
 *
 * @example
 * ```ts ignore
 * import { savePng } from "./render.ts";
 * await savePng("runs/x/explain/dot.png", { width: 1, height: 1, channels: 1, data: new Uint8Array(1) });
 * ```
 */
export async function savePng(path: string, image: RawImage): Promise<void> {
  await writeFileAtomic(path, toPng(image));
}

/**
 * The `normalize` step inside a transform spec (`{ name, options }`, compose nested), if any.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findNormalization } from "./render.ts";
 * const spec = { name: "compose", options: { transforms: [
 *   { name: "normalize", options: { mean: [0.5], std: [0.25] } },
 * ] } };
 * assert.deepEqual(findNormalization(spec), { mean: [0.5], std: [0.25] });
 * ```
 */
export function findNormalization(spec: unknown): NormalizeOptions | undefined {
  if (spec === null || typeof spec !== "object") return undefined;
  const { name, options } = spec as { name?: unknown; options?: Record<string, unknown> };
  if (name === "normalize" && Array.isArray(options?.mean) && Array.isArray(options?.std)) {
    return { mean: options.mean as number[], std: options.std as number[] };
  }
  for (const value of Object.values(options ?? {})) {
    for (const inner of Array.isArray(value) ? value : [value]) {
      const found = findNormalization(inner);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * A preprocessed image (height × width × channels floats) back as uint8 pixels, to show what the
 * model saw: `normalization` is undone when given, 0–1 values are scaled to 0–255, anything else
 * is stretched from its minimum to its maximum.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { displayImage } from "./render.ts";
 * const image = displayImage(new Float32Array([-2, 2]), [1, 2, 1], { mean: [0.5], std: [0.25] });
 * assert.deepEqual([...image.data], [0, 255]);
 * ```
 */
export function displayImage(
  pixels: Float32Array,
  shape: readonly [number, number, number] | readonly number[],
  normalization?: NormalizeOptions,
): RawImage {
  const [height, width, channels] = shape;
  if (channels !== 1 && channels !== 3) {
    throw new ExplainError(`image: ${channels} channels; only 1 or 3 can be shown`);
  }
  const values = Float32Array.from(pixels, (v, i) => {
    if (normalization === undefined) return v;
    const c = i % channels;
    const std = normalization.std[c] ?? normalization.std[0];
    const mean = normalization.mean[c] ?? normalization.mean[0];
    return v * std + mean;
  });
  let low = Infinity;
  let high = -Infinity;
  for (const v of values) {
    if (v < low) low = v;
    if (v > high) high = v;
  }
  const unit = normalization !== undefined || (low >= 0 && high <= 1);
  const [from, span] = unit ? [0, 1] : [low, high - low || 1];
  const data = Uint8Array.from(values, (v) => byte((v - from) / span));
  return { width, height, channels, data };
}

/** Options for {@linkcode explanationImage}. */
export interface ExplanationImageOptions {
  /** Heatmap opacity over the photo. Default: 0.5. */
  alpha?: number;
  /** Smallest side of the picture; small inputs are enlarged by a whole factor. Default: 224. */
  minSide?: number;
}

function scaleOf(width: number, height: number, minSide: number): number {
  return Math.max(1, Math.ceil(minSide / Math.min(width, height)));
}

function drawText(
  image: RawImage,
  text: string,
  left: number,
  top: number,
  color: readonly number[],
): void {
  for (let i = 0; i < text.length; i++) {
    for (let y = 0; y < GLYPH_HEIGHT; y++) {
      for (let x = 0; x < GLYPH_WIDTH; x++) {
        const px = left + i * GLYPH_WIDTH + x;
        const py = top + y;
        if (px >= image.width || py >= image.height || !glyphPixel(text[i], x, y)) continue;
        for (let c = 0; c < 3; c++) image.data[(py * image.width + px) * 3 + c] = color[c];
      }
    }
  }
}

/**
 * The photo with a heatmap (rows × columns in [0, 1], the photo's size) blended over it in the
 * jet colormap, enlarged to `minSide`, with one line of text per label on a dark strip below.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { explanationImage } from "./render.ts";
 * const photo = { width: 2, height: 2, channels: 3 as const, data: new Uint8Array(12) };
 * const heatmap = new Float32Array([1, 0, 0, 0]);
 * const picture = explanationImage(photo, heatmap, ["bee 90.0%"], { minSide: 4 });
 * assert.equal(picture.height, 4 + 20); // the photo, then one line of text
 * assert.deepEqual([...picture.data.subarray(0, 3)], [64, 0, 0]); // half of jet(1)
 * ```
 */
export function explanationImage(
  photo: RawImage,
  heatmap: Float32Array,
  labels: readonly string[],
  options: ExplanationImageOptions = {},
): RawImage {
  const { width, height, channels } = photo;
  if (heatmap.length !== width * height) {
    throw new ExplainError(
      `heatmap: ${heatmap.length} values for a ${width}×${height} photo`,
    );
  }
  const alpha = options.alpha ?? 0.5;
  const scale = scaleOf(width, height, options.minSide ?? 224);
  const textWidth = Math.max(0, ...labels.map((l) => l.length * GLYPH_WIDTH + 8));
  const outWidth = Math.max(width * scale, textWidth);
  const strip = labels.length === 0 ? 0 : labels.length * (GLYPH_HEIGHT + 3) + 6;
  const outHeight = height * scale + strip;
  const data = new Uint8Array(outWidth * outHeight * 3).fill(24);
  for (let y = 0; y < height * scale; y++) {
    const sy = Math.floor(y / scale);
    for (let x = 0; x < width * scale; x++) {
      const sx = Math.floor(x / scale);
      const color = jet(heatmap[sy * width + sx]);
      for (let c = 0; c < 3; c++) {
        const value = photo.data[(sy * width + sx) * channels + (channels === 1 ? 0 : c)];
        data[(y * outWidth + x) * 3 + c] = Math.round((1 - alpha) * value + alpha * color[c]);
      }
    }
  }
  const image: RawImage = { width: outWidth, height: outHeight, channels: 3, data };
  labels.forEach((label, i) => {
    drawText(image, label, 4, height * scale + 4 + i * (GLYPH_HEIGHT + 3), [255, 255, 255]);
  });
  return image;
}

/** Options for {@linkcode featureGrid} and {@linkcode filterTiles}. */
export interface GridOptions {
  /** At most this many tiles. Default: 64. */
  maxTiles?: number;
  /** Smallest tile side in pixels; tiles are enlarged by a whole factor. Default: 32. */
  minTile?: number;
}

/** Tiles of `side`-scaled grey or RGB cells on a grid with 2-pixel gaps. */
function grid(
  tiles: { width: number; height: number; channels: 1 | 3; values: Float32Array }[],
  minTile: number,
): RawImage {
  const { width, height } = tiles[0];
  const scale = scaleOf(width, height, minTile);
  const gap = 2;
  const columns = Math.ceil(Math.sqrt(tiles.length));
  const rows = Math.ceil(tiles.length / columns);
  const tileW = width * scale;
  const tileH = height * scale;
  const outWidth = columns * (tileW + gap) + gap;
  const outHeight = rows * (tileH + gap) + gap;
  const data = new Uint8Array(outWidth * outHeight * 3).fill(255);
  tiles.forEach((tile, index) => {
    const left = gap + (index % columns) * (tileW + gap);
    const top = gap + Math.floor(index / columns) * (tileH + gap);
    let low = Infinity;
    let high = -Infinity;
    for (const v of tile.values) {
      if (v < low) low = v;
      if (v > high) high = v;
    }
    const span = high - low || 1;
    for (let y = 0; y < tileH; y++) {
      for (let x = 0; x < tileW; x++) {
        const source = Math.floor(y / scale) * width + Math.floor(x / scale);
        for (let c = 0; c < 3; c++) {
          const v = tile.values[source * tile.channels + (tile.channels === 1 ? 0 : c)];
          data[((top + y) * outWidth + left + x) * 3 + c] = byte((v - low) / span);
        }
      }
    }
  });
  return { width: outWidth, height: outHeight, channels: 3, data };
}

/**
 * A layer's activation as a grid of grey tiles, one per channel, each stretched to its own
 * range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { featureGrid } from "./render.ts";
 * const maps = { layer: "c", height: 2, width: 2, channels: 4, data: new Float32Array(16) };
 * const picture = featureGrid(maps, { minTile: 2 });
 * assert.deepEqual([picture.width, picture.height], [10, 10]); // 2 × 2 tiles, 2-pixel gaps
 * ```
 */
export function featureGrid(maps: FeatureMaps, options: GridOptions = {}): RawImage {
  const { height, width, channels, data } = maps;
  const count = Math.min(channels, options.maxTiles ?? 64);
  const tiles = Array.from({ length: count }, (_, c) => {
    const values = new Float32Array(height * width);
    for (let i = 0; i < values.length; i++) values[i] = data[i * channels + c];
    return { width, height, channels: 1 as const, values };
  });
  return grid(tiles, options.minTile ?? 32);
}

/**
 * A convolution's kernels as tiles, one per output channel: RGB when the layer reads 3 channels,
 * else the mean over its input channels in grey. `layer` defaults to the model's first
 * convolution.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { useBackend } from "../backend/mod.ts";
 * import { filterTiles } from "./render.ts";
 * await useBackend("wasm");
 * const model = tfl.sequential({ layers: [
 *   tfl.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3 }),
 * ] });
 * const { layer, image } = await filterTiles(model, undefined, { minTile: 3 });
 * assert.equal(image.width, 2 * (3 + 2) + 2);
 * assert.ok(layer.startsWith("conv2d"));
 * model.dispose();
 * ```
 */
export async function filterTiles(
  model: LayersModel,
  layer?: string,
  options: GridOptions = {},
): Promise<{ layer: string; image: RawImage }> {
  const ref = layer !== undefined
    ? findLayer(model, layer)
    : listLayers(model).find((l) => /^(Conv2D|DepthwiseConv2D)$/.test(l.layer.getClassName()));
  if (ref === undefined) throw new ExplainError(`${model.name}: no convolution layer`);
  const kernel = ref.layer.getWeights?.()[0];
  if (kernel === undefined || kernel.rank !== 4) {
    throw new ExplainError(`${ref.path}: not a 2-D convolution (no height × width kernel)`);
  }
  const [kh, kw, cin, cout] = kernel.shape;
  const values = await kernel.data() as Float32Array;
  const depthwise = ref.layer.getClassName() === "DepthwiseConv2D";
  const outputs = depthwise ? cin * cout : cout;
  const count = Math.min(outputs, options.maxTiles ?? 64);
  const tiles = Array.from({ length: count }, (_, o) => {
    const rgb = cin === 3 && !depthwise;
    const tile = new Float32Array(kh * kw * (rgb ? 3 : 1));
    for (let p = 0; p < kh * kw; p++) {
      if (depthwise) tile[p] = values[p * cin * cout + o];
      else if (rgb) {
        for (let c = 0; c < 3; c++) tile[p * 3 + c] = values[(p * cin + c) * cout + o];
      } else {
        let sum = 0;
        for (let c = 0; c < cin; c++) sum += values[(p * cin + c) * cout + o];
        tile[p] = sum / cin;
      }
    }
    return { width: kw, height: kh, channels: (rgb ? 3 : 1) as 1 | 3, values: tile };
  });
  return { layer: ref.path, image: grid(tiles, options.minTile ?? 32) };
}
