// Transforms against reference pixels from torchvision's functional API on PIL images
// (tests/transforms/fixtures/make_fixtures.py): every case must match exactly.
import assert from "node:assert/strict";
import {
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  centerCrop,
  cropImage,
  flipHorizontal,
  flipVertical,
  grayscale,
  padImage,
  type RawImage,
  resize,
  resizeImage,
  rotateImage,
  sampleRng,
} from "../../mod.ts";

interface Case {
  name: string;
  input: string;
  op: string;
  params: Record<string, unknown>;
  width: number;
  height: number;
  channels: 1 | 3;
  expected: string;
}

const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const fixtures = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/torchvision.json", import.meta.url)),
);
const inputs: Record<string, RawImage> = {};
for (
  const [name, input] of Object.entries(fixtures.inputs) as [string, Record<string, unknown>][]
) {
  inputs[name] = {
    width: input.width as number,
    height: input.height as number,
    channels: input.channels as 1 | 3,
    data: bytes(input.data as string),
  };
}

function run(c: Case, image: RawImage): RawImage {
  const p = c.params as Record<string, never>;
  const rng = sampleRng(0, 0, 0);
  switch (c.op) {
    case "resize":
      return resize(p.size, { interpolation: p.interpolation }).apply(image, rng) as RawImage;
    case "centerCrop":
      return centerCrop(p.size).apply(image, rng) as RawImage;
    case "padCrop":
      return cropImage(
        padImage(image, p.padding, p.mode, p.fill),
        p.top,
        p.left,
        p.height,
        p.width,
      );
    case "hflip":
      return flipHorizontal(image);
    case "vflip":
      return flipVertical(image);
    case "rotate":
      return rotateImage(image, p.angle, p.fill);
    case "resizedCrop": {
      const [h, w] = p.size as [number, number];
      return resizeImage(cropImage(image, p.top, p.left, p.height, p.width), h, w);
    }
    case "brightness":
      return adjustBrightness(image, p.factor);
    case "contrast":
      return adjustContrast(image, p.factor);
    case "saturation":
      return adjustSaturation(image, p.factor);
    case "hue":
      return adjustHue(image, p.factor);
    case "grayscale":
      return grayscale(p.outputChannels).apply(image, rng) as RawImage;
    default:
      throw new Error(`no such op ${c.op}`);
  }
}

for (const c of fixtures.cases as Case[]) {
  Deno.test(`${c.input}: ${c.name} matches torchvision`, () => {
    const out = run(c, inputs[c.input]);
    assert.deepEqual([out.width, out.height, out.channels], [c.width, c.height, c.channels]);
    const expected = bytes(c.expected);
    let differing = 0;
    for (let i = 0; i < expected.length; i++) if (out.data[i] !== expected[i]) differing++;
    assert.equal(differing, 0, `${differing} of ${expected.length} samples differ`);
  });
}
