// decodeImage against reference pixels from PIL/libpng (tests/decode/fixtures/make_fixtures.py):
// PNG bit-exact, JPEG within a mean absolute error of 1.5 per channel of libjpeg.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  applyOrientation,
  DecodeError,
  decodeImage,
  decodeImageFile,
  readExifOrientation,
} from "../../mod.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const HYMENOPTERA = new URL("../../../shared/datasets/hymenoptera/", import.meta.url).pathname;

interface Fixture {
  file: string;
  width: number;
  height: number;
  channels: 1 | 3;
  compare: "exact" | "mae";
  exifOrientation?: boolean;
}

const manifest: Fixture[] = JSON.parse(await Deno.readTextFile(join(FIXTURES, "manifest.json")));

for (const fixture of manifest) {
  Deno.test(`${fixture.file} decodes like the reference (${fixture.compare})`, async () => {
    const bytes = await Deno.readFile(join(FIXTURES, fixture.file));
    const expected = await Deno.readFile(join(FIXTURES, `${fixture.file}.rgb`));
    const image = decodeImage(bytes, {
      channels: fixture.channels,
      exifOrientation: fixture.exifOrientation,
    });
    assert.deepEqual(
      [image.width, image.height, image.channels],
      [fixture.width, fixture.height, fixture.channels],
    );
    assert.equal(image.data.length, expected.length);
    if (fixture.compare === "exact") {
      assert.deepEqual(image.data, expected);
    } else {
      let total = 0;
      for (let i = 0; i < expected.length; i++) total += Math.abs(image.data[i] - expected[i]);
      const mae = total / expected.length;
      assert.ok(mae <= 1.5, `mean absolute error ${mae.toFixed(3)} > 1.5`);
    }
  });
}

Deno.test("every fixture variant is covered", () => {
  const names = manifest.map((f) => f.file);
  for (
    const required of [
      "gray1.png",
      "gray2.png",
      "gray4.png",
      "gray8.png",
      "gray16.png",
      "graya8.png",
      "graya16.png",
      "rgb8.png",
      "rgb16.png",
      "rgba8.png",
      "rgba16.png",
      "palette1.png",
      "palette8.png",
      "palette4_trns.png",
      "rgb8_adam7.png",
      "baseline420.jpg",
      "baseline444.jpg",
      "baseline422_odd.jpg",
      "baseline420_odd.jpg",
      "baseline440_odd.jpg",
      "restart420.jpg",
      "progressive.jpg",
      "progressive444_odd.jpg",
      "progressive_gray.jpg",
      "progressive_restart.jpg",
      "gray.jpg",
      "cmyk.jpg",
      "exif6.jpg",
    ]
  ) assert.ok(names.includes(required), required);
});

Deno.test("gray PNG to one channel is the stored gray, bit-exact", async () => {
  const bytes = await Deno.readFile(join(FIXTURES, "gray8.png"));
  const rgb = await Deno.readFile(join(FIXTURES, "gray8.png.rgb"));
  const gray = decodeImage(bytes, { channels: 1 });
  assert.deepEqual(gray.data, rgb.filter((_, i) => i % 3 === 0));
});

Deno.test("alpha is dropped by default and composited on request", async () => {
  const bytes = await Deno.readFile(join(FIXTURES, "rgba8.png"));
  const dropped = decodeImage(bytes);
  const onWhite = decodeImage(bytes, { background: [255, 255, 255] });
  assert.deepEqual(dropped.data, await Deno.readFile(join(FIXTURES, "rgba8.png.rgb")));
  assert.notDeepEqual(onWhite.data, dropped.data);
  // Compositing can only move a channel toward the background.
  for (let i = 0; i < dropped.data.length; i++) assert.ok(onWhite.data[i] >= dropped.data[i] - 0);
});

Deno.test("EXIF orientation is ignored by default, like PIL's Image.open", async () => {
  const bytes = await Deno.readFile(join(FIXTURES, "exif6.jpg"));
  const asStored = decodeImage(bytes);
  const upright = decodeImage(bytes, { exifOrientation: true });
  assert.deepEqual([asStored.width, asStored.height], [upright.height, upright.width]);
});

Deno.test("orientations 2–8 are the transforms PIL's exif_transpose applies", () => {
  // 3×2 image with values 0..5, one channel.
  const image = { width: 3, height: 2, channels: 1, data: Uint8Array.from([0, 1, 2, 3, 4, 5]) };
  const cases: Record<number, [number, number, number[]]> = {
    2: [3, 2, [2, 1, 0, 5, 4, 3]],
    3: [3, 2, [5, 4, 3, 2, 1, 0]],
    4: [3, 2, [3, 4, 5, 0, 1, 2]],
    5: [2, 3, [0, 3, 1, 4, 2, 5]],
    6: [2, 3, [3, 0, 4, 1, 5, 2]],
    7: [2, 3, [5, 2, 4, 1, 3, 0]],
    8: [2, 3, [2, 5, 1, 4, 0, 3]],
  };
  for (const [orientation, [width, height, data]] of Object.entries(cases)) {
    const out = applyOrientation(image, Number(orientation));
    assert.deepEqual([out.width, out.height, [...out.data]], [width, height, data], orientation);
  }
  assert.equal(readExifOrientation(new Uint8Array([0x4d, 0x4d, 0, 42])), 1);
});

Deno.test("unknown and unsupported formats say what they found", async () => {
  assert.throws(
    () => decodeImage(new TextEncoder().encode("<html>not an image</html>")),
    (error: unknown) =>
      error instanceof DecodeError && error.reason === "unknown-format" &&
      error.message.includes("3c 68 74 6d 6c 3e 6e 6f ('<html>no')"),
  );
  assert.throws(() => decodeImage(new Uint8Array()), /no bytes \(empty file\)/);
  await assert.rejects(
    () => decodeImageFile(join(HYMENOPTERA, "train/ants/imageNotFound.gif")),
    (error: unknown) =>
      error instanceof DecodeError && error.reason === "unsupported-format" &&
      error.message.endsWith("imageNotFound.gif: GIF images are not supported (JPEG and PNG are)"),
  );
});

Deno.test("truncated and corrupt files are DecodeErrors, never other errors", async () => {
  for (const name of ["rgb8.png", "baseline420.jpg", "progressive.jpg", "rgb8_adam7.png"]) {
    const bytes = await Deno.readFile(join(FIXTURES, name));
    for (const cut of [4, 20, 40, bytes.length >> 1, bytes.length - 10]) {
      try {
        decodeImage(bytes.subarray(0, cut));
      } catch (error) {
        assert.ok(error instanceof DecodeError, `${name} cut at ${cut}: ${error}`);
      }
    }
  }
  const png = await Deno.readFile(join(FIXTURES, "rgb8.png"));
  const badCrc = png.slice();
  badCrc[30] ^= 0xff; // inside IHDR's CRC
  assert.throws(() => decodeImage(badCrc), DecodeError);
});

Deno.test("a 65535×65535 header is refused before any pixel buffer exists", async () => {
  const png = (await Deno.readFile(join(FIXTURES, "rgb8.png"))).slice();
  new DataView(png.buffer).setUint32(16, 65535);
  new DataView(png.buffer).setUint32(20, 65535);
  assert.throws(
    () => decodeImage(png),
    (error: unknown) =>
      error instanceof DecodeError && error.reason === "too-large" &&
      /maxPixels/.test(error.message),
  );
  const jpeg = await Deno.readFile(join(FIXTURES, "baseline420.jpg"));
  assert.throws(() => decodeImage(jpeg, { maxPixels: 100 }), /over the limit of 100/);
  assert.throws(() => decodeImage(jpeg, { maxMemoryBytes: 1000 }), /maxMemoryBytes/);
});

Deno.test("all 397 hymenoptera photos decode; the GIF among them is the one DecodeError", async () => {
  let decoded = 0;
  const failures: string[] = [];
  for (const split of ["train", "val"]) {
    for (const cls of ["ants", "bees"]) {
      for await (const entry of Deno.readDir(join(HYMENOPTERA, split, cls))) {
        try {
          const image = await decodeImageFile(join(HYMENOPTERA, split, cls, entry.name));
          assert.equal(image.data.length, image.width * image.height * 3);
          decoded++;
        } catch (error) {
          assert.ok(error instanceof DecodeError);
          failures.push(entry.name);
        }
      }
    }
  }
  assert.equal(decoded, 397);
  assert.deepEqual(failures, ["imageNotFound.gif"]);
});
