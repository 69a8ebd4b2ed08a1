// The fast JPEG path (baseline and progressive): which files it takes, that it decodes the damage
// libjpeg recovers from (restart markers out of order) as libjpeg does, and that it hands everything
// else (and every other damaged file) to jpeg-js instead of decoding garbage or throwing.
import assert from "node:assert/strict";
import { gunzipSync } from "node:zlib";
import { decodeJpegFast } from "../../lib/decode/_jpeg_fast.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const read = (name: string) => Deno.readFileSync(FIXTURES + name);

Deno.test("baseline and progressive files take the fast path; CMYK goes to jpeg-js", () => {
  const fast = [
    "baseline420.jpg",
    "baseline444.jpg",
    "baseline422_odd.jpg",
    "gray.jpg",
    "progressive.jpg",
    "progressive_gray.jpg",
    "progressive_restart.jpg",
  ];
  for (const name of fast) assert.ok(decodeJpegFast(read(name)) !== null, name);
  assert.equal(decodeJpegFast(read("gray.jpg"))!.components, 1);
  assert.equal(decodeJpegFast(read("progressive_gray.jpg"))!.components, 1);
  // null, compared without printing the image if it is not (assert's diff of pixels is slow).
  for (const name of ["cmyk.jpg", "rgb8.png"]) {
    assert.ok(decodeJpegFast(read(name)) === null, name);
  }
});

Deno.test("damaged restart markers and images narrower than one MCU decode bit-exact to PIL", () => {
  // libjpeg's resync (restart_*), a scan cut short by EOI, and chroma planes 2 samples wide, which
  // libjpeg upsamples by replication rather than its fancy filter (tiny_adobe_*).
  const names = [
    "restart_missing.jpg",
    "restart_missing_last.jpg",
    "restart_swapped.jpg",
    "restart_repeated.jpg",
    "restart_invalid_marker.jpg",
    "eoi_inside_scan.jpg",
    "tiny_adobe_420.jpg",
    "tiny_adobe_422.jpg",
  ];
  for (const name of names) {
    const image = decodeJpegFast(read(`jpeg_odd/${name}`));
    assert.ok(image !== null, name);
    const expected = gunzipSync(read(`jpeg_odd/${name}.rgb.gz`));
    const same = image.data.length === expected.length &&
      image.data.every((value, i) => value === expected[i]);
    assert.ok(same, `${name} differs from PIL`);
  }
  // An invalid marker inside a scan without restarts: PIL refuses the file after the scan.
  assert.ok(decodeJpegFast(read("jpeg_odd/invalid_marker_in_scan.jpg")) === null);
});

Deno.test("a truncated scan is never decoded by the fast path, at any length", () => {
  for (const name of ["baseline420.jpg", "restart420.jpg", "progressive_restart.jpg"]) {
    const bytes = read(name);
    const scanStart = bytes.findIndex((b, i) => b === 0xff && bytes[i + 1] === 0xda);
    // Cutting off only the EOI marker still leaves a baseline image decodable; a progressive one
    // is complete only at EOI (its last scans could still be missing), so jpeg-js takes it.
    const withoutEoi = decodeJpegFast(bytes.subarray(0, bytes.length - 2));
    assert.equal(withoutEoi !== null, !name.startsWith("progressive"), name);
    for (let end = scanStart; end < bytes.length - 40; end += 37) {
      assert.ok(decodeJpegFast(bytes.subarray(0, end)) === null, `${name} cut at ${end}`);
    }
  }
});

Deno.test("damaged bytes return null or an image, never throw", () => {
  for (
    const name of ["restart420.jpg", "progressive_restart.jpg", "jpeg_odd/restart_swapped.jpg"]
  ) {
    damage(read(name));
  }
});

function damage(bytes: Uint8Array) {
  let state = 7;
  const random = () => (state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  for (let trial = 0; trial < 300; trial++) {
    const damaged = bytes.slice();
    for (let i = 0; i < 4; i++) damaged[Math.floor(random() * damaged.length)] = random() * 256;
    const image = decodeJpegFast(damaged);
    if (image !== null) assert.equal(image.data.length, image.width * image.height * 3);
  }
}
