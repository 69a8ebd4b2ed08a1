// Decode throughput. MP/s = megapixels in the set (printed in each name) / time per iteration.
// Run: deno bench --allow-read=.,../shared bench/decode_bench.ts
import { Buffer } from "node:buffer";
import jpeg from "jpeg-js";
import pngjs from "pngjs";
import { decodeImage } from "../mod.ts";

const ROOT = new URL("../../shared/datasets/hymenoptera/train/bees/", import.meta.url).pathname;
const names = [...Deno.readDirSync(ROOT)].map((e) => e.name).sort().slice(0, 24);
const jpegs = names.map((name) => Deno.readFileSync(ROOT + name));
const jpegPixels = jpegs.reduce((sum, bytes) => {
  const { width, height } = decodeImage(bytes);
  return sum + width * height;
}, 0);

// PNGs encoded here from the same photos: RGB 8-bit, non-interlaced, as most PNG datasets are.
const pngs = jpegs.slice(0, 8).map((bytes) => {
  const image = decodeImage(bytes);
  const png = new pngjs.PNG({ width: image.width, height: image.height, colorType: 2 });
  for (let p = 0; p < image.width * image.height; p++) {
    png.data.set(image.data.subarray(p * 3, p * 3 + 3), p * 4);
    png.data[p * 4 + 3] = 255;
  }
  return new Uint8Array(pngjs.PNG.sync.write(png, { colorType: 2 }));
});
const pngPixels = pngs.reduce((sum, bytes) => {
  const { width, height } = decodeImage(bytes);
  return sum + width * height;
}, 0);
const mp = (pixels: number) => (pixels / 1e6).toFixed(2);

Deno.bench({
  name: `decodeImage: ${jpegs.length} hymenoptera JPEGs (${mp(jpegPixels)} MP)`,
  group: "jpeg",
  baseline: true,
  fn: () => {
    for (const bytes of jpegs) decodeImage(bytes);
  },
});

Deno.bench({
  name: `jpeg-js alone (RGB, typed arrays): same ${jpegs.length} JPEGs (${mp(jpegPixels)} MP)`,
  group: "jpeg",
  fn: () => {
    for (const bytes of jpegs) jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false });
  },
});

Deno.bench({
  name: `decodeImage: ${pngs.length} RGB PNGs (${mp(pngPixels)} MP)`,
  group: "png",
  baseline: true,
  fn: () => {
    for (const bytes of pngs) decodeImage(bytes);
  },
});

Deno.bench({
  name: `pngjs alone (RGBA): same ${pngs.length} PNGs (${mp(pngPixels)} MP)`,
  group: "png",
  fn: () => {
    for (const bytes of pngs) pngjs.PNG.sync.read(Buffer.from(bytes));
  },
});
