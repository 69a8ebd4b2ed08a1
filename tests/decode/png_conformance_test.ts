// PngSuite (Willem van Schaik's conformance images, fixtures/pngsuite/) and PNG stream oddities
// (fixtures/png_odd/, chunk surgery by make_pngsuite.py): each file decodes to exactly PIL's
// convert("RGB") bytes (compared by sha256), or throws a DecodeError where PIL refuses it too.
import assert from "node:assert/strict";
import { join } from "node:path";
import { DecodeError, decodeImage } from "../../mod.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

interface Reference {
  width?: number;
  height?: number;
  sha256?: string;
  error?: string;
}

const references: Record<string, Reference> = JSON.parse(
  await Deno.readTextFile(join(FIXTURES, "pngsuite.json")),
);

async function sha256(data: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data.slice()));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

for (const group of ["pngsuite", "png_odd"]) {
  Deno.test(`${group}: every file decodes as PIL does, or fails where PIL fails`, async () => {
    const names = Object.keys(references).filter((name) => name.startsWith(`${group}/`));
    assert.ok(names.length >= (group === "pngsuite" ? 175 : 20), `${names.length} files`);
    const wrong: string[] = [];
    for (const name of names) {
      const reference = references[name];
      const bytes = await Deno.readFile(join(FIXTURES, name));
      let outcome: string;
      try {
        const image = decodeImage(bytes);
        outcome = `${image.width}×${image.height} ${await sha256(image.data)}`;
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error;
        outcome = `DecodeError`;
      }
      const expected = reference.error === undefined
        ? `${reference.width}×${reference.height} ${reference.sha256}`
        : "DecodeError";
      if (outcome !== expected) {
        wrong.push(`${name}: ${outcome}, PIL: ${reference.error ?? expected}`);
      }
    }
    assert.deepEqual(wrong, []);
  });
}

Deno.test("a colour key keeps the pixel's colour, and makes it transparent for compositing", async () => {
  const bytes = await Deno.readFile(join(FIXTURES, "png_odd/trns_rgb8.png"));
  const plain = decodeImage(bytes);
  const onWhite = decodeImage(bytes, { background: [255, 255, 255] });
  // The key is (10, 20, 30): those pixels turn white on white; the others are unchanged.
  let keyed = 0;
  for (let i = 0; i < plain.data.length; i += 3) {
    const isKey = plain.data[i] === 10 && plain.data[i + 1] === 20 && plain.data[i + 2] === 30;
    if (isKey) keyed++;
    const expected = isKey ? [255, 255, 255] : [...plain.data.subarray(i, i + 3)];
    assert.deepEqual([...onWhite.data.subarray(i, i + 3)], expected);
  }
  assert.ok(keyed > 0);
});

Deno.test("a PNG whose image data ends before its last row is a truncated DecodeError", async () => {
  const bytes = await Deno.readFile(join(FIXTURES, "png_odd/idat_truncated.png"));
  assert.throws(
    () => decodeImage(bytes),
    (e) => e instanceof DecodeError && e.reason === "truncated",
  );
});
