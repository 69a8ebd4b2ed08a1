// The fast baseline JPEG path: which files it takes, and that it hands everything else (and
// every damaged file) to jpeg-js instead of decoding garbage or throwing.
import assert from "node:assert/strict";
import { decodeBaselineJpeg } from "../../lib/decode/_jpeg_baseline.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const read = (name: string) => Deno.readFileSync(FIXTURES + name);

Deno.test("baseline files take the fast path; progressive and CMYK go to jpeg-js", () => {
  for (const name of ["baseline420.jpg", "baseline444.jpg", "baseline422_odd.jpg", "gray.jpg"]) {
    assert.notEqual(decodeBaselineJpeg(read(name)), null, name);
  }
  assert.equal(decodeBaselineJpeg(read("gray.jpg"))!.components, 1);
  for (const name of ["progressive.jpg", "cmyk.jpg", "rgb8.png"]) {
    assert.equal(decodeBaselineJpeg(read(name)), null, name);
  }
});

Deno.test("a truncated scan is never decoded by the fast path, at any length", () => {
  for (const name of ["baseline420.jpg", "restart420.jpg"]) {
    const bytes = read(name);
    const scanStart = bytes.findIndex((b, i) => b === 0xff && bytes[i + 1] === 0xda);
    // Cutting off only the EOI marker still leaves every MCU decodable.
    assert.notEqual(decodeBaselineJpeg(bytes.subarray(0, bytes.length - 2)), null);
    for (let end = scanStart; end < bytes.length - 40; end += 37) {
      assert.equal(decodeBaselineJpeg(bytes.subarray(0, end)), null, `${name} cut at ${end}`);
    }
  }
});

Deno.test("damaged bytes return null or an image, never throw", () => {
  const bytes = read("restart420.jpg");
  let state = 7;
  const random = () => (state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
  for (let trial = 0; trial < 300; trial++) {
    const damaged = bytes.slice();
    for (let i = 0; i < 4; i++) damaged[Math.floor(random() * damaged.length)] = random() * 256;
    const image = decodeBaselineJpeg(damaged);
    if (image !== null) assert.equal(image.data.length, image.width * image.height * 3);
  }
});
