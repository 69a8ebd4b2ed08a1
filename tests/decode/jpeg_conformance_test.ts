// JPEGs libjpeg decodes with or without warnings (junk before markers, broken APPn segments,
// restart markers missing or out of order, Adobe RGB/CMYK/YCCK, arithmetic coding, images narrower
// than one MCU), and some PIL refuses (fixtures/jpeg_odd/, written by make_jpeg_odd.py): each
// decodes within a mean absolute error of 1.5 of PIL's convert("RGB") (NAME.rgb.gz), or throws a
// DecodeError where PIL refuses it too.
import assert from "node:assert/strict";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { DecodeError, decodeImage } from "../../mod.ts";

const DIR = new URL("./fixtures/jpeg_odd/", import.meta.url).pathname;

interface Reference {
  width?: number;
  height?: number;
  error?: string;
}

const references: Record<string, Reference> = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/jpeg_odd.json", import.meta.url)),
);

for (const [name, reference] of Object.entries(references)) {
  Deno.test({
    name: `jpeg_odd/${name}: ${reference.error === undefined ? "decodes as PIL does" : "refused"}`,
    fn: async () => {
      const bytes = await Deno.readFile(join(DIR, name));
      if (reference.error !== undefined) {
        assert.throws(() => decodeImage(bytes), DecodeError);
        return;
      }
      const image = decodeImage(bytes);
      const expected = gunzipSync(await Deno.readFile(join(DIR, `${name}.rgb.gz`)));
      assert.deepEqual([image.width, image.height], [reference.width, reference.height]);
      assert.equal(image.data.length, expected.length);
      let total = 0;
      for (let i = 0; i < expected.length; i++) total += Math.abs(image.data[i] - expected[i]);
      const mae = total / expected.length;
      assert.ok(mae <= 1.5, `mean absolute error ${mae.toFixed(3)} > 1.5`);
    },
  });
}

Deno.test("junk before a marker is skipped with libjpeg's warning, once", async () => {
  const image = decodeImage(await Deno.readFile(join(DIR, "junk_after_app0.jpg")));
  assert.deepEqual(image.warnings, [
    "Corrupt JPEG data: 10 extraneous bytes before marker 0xdb",
  ]);
  const clean = decodeImage(await Deno.readFile(join(DIR, "broken_exif.jpg")));
  assert.deepEqual(clean.warnings, []);
});

Deno.test("restart markers missing or out of order are resynchronised with libjpeg's warnings", async () => {
  // libjpeg also warns of the data it skips ("N extraneous bytes before marker"), with counts that
  // depend on how far its bit buffer had read ahead; those lines are not reproduced.
  const warnings = async (name: string) =>
    decodeImage(await Deno.readFile(join(DIR, name))).warnings;
  assert.deepEqual(await warnings("restart_swapped.jpg"), [
    "Corrupt JPEG data: found marker 0xd3 instead of RST2",
    "Corrupt JPEG data: premature end of data segment",
    "Corrupt JPEG data: found marker 0xd2 instead of RST4",
  ]);
  assert.deepEqual(await warnings("restart_missing.jpg"), [
    "Corrupt JPEG data: found marker 0xd7 instead of RST6",
    "Corrupt JPEG data: premature end of data segment",
  ]);
  assert.deepEqual(await warnings("restart_invalid_marker.jpg"), [
    "Corrupt JPEG data: found marker 0x05 instead of RST4",
    "Corrupt JPEG data: premature end of data segment",
  ]);
  assert.deepEqual(await warnings("eoi_inside_scan.jpg"), [
    "Corrupt JPEG data: premature end of data segment",
  ]);
});
