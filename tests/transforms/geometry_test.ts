import assert from "node:assert/strict";
import { cropImage, resizeImage, resizeRegion, Rng } from "../../mod.ts";

Deno.test("resizeRegion reads a window in place: the same pixels as crop then resize", () => {
  const rng = new Rng(11);
  for (const channels of [1, 3] as const) {
    const [width, height] = [37, 29];
    const data = new Uint8Array(width * height * channels).map(() => rng.int(256));
    const image = { width, height, channels, data };
    for (let trial = 0; trial < 40; trial++) {
      const h = 1 + rng.int(height), w = 1 + rng.int(width);
      const top = rng.int(height - h + 1), left = rng.int(width - w + 1);
      const [oh, ow] = [1 + rng.int(40), 1 + rng.int(40)];
      for (const interpolation of ["bilinear", "bicubic"] as const) {
        const expected = resizeImage(cropImage(image, top, left, h, w), oh, ow, interpolation);
        const actual = resizeRegion(image, top, left, h, w, oh, ow, interpolation);
        assert.deepEqual(
          actual.data,
          expected.data,
          `${channels}ch ${h}×${w}@${top},${left} → ${oh}×${ow}`,
        );
      }
    }
  }
});
