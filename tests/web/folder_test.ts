// datasetsFromFiles, the page's folder import, on real photos: the train/val split folders are
// used, classes are sorted, a GIF and a broken JPEG are left out with a line naming each, and a
// folder without class folders or with one class is a clear error.
import assert from "node:assert/strict";
import { join } from "node:path";
import { datasetsFromFiles, type ImageFileEntry } from "../../lib/web/folder.ts";

const ROOT = "../shared/datasets/hymenoptera";

async function entries(split: string, cls: string, n: number): Promise<ImageFileEntry[]> {
  const names = [];
  for await (const entry of Deno.readDir(join(ROOT, split, cls))) names.push(entry.name);
  const chosen = names.filter((name) => name.endsWith(".jpg")).sort().slice(0, n);
  return await Promise.all(chosen.map(async (name) => ({
    path: `hymenoptera/${split}/${cls}/${name}`.split("/").slice(1).join("/"),
    bytes: await Deno.readFile(join(ROOT, split, cls, name)),
  })));
}

Deno.test("datasetsFromFiles: train/ and val/ folders, sorted classes, bad files named", async () => {
  const files = [
    ...await entries("train", "bees", 4),
    ...await entries("train", "ants", 5),
    ...await entries("val", "ants", 2),
    ...await entries("val", "bees", 3),
    {
      path: "train/ants/imageNotFound.gif",
      bytes: await Deno.readFile(join(ROOT, "train/ants/imageNotFound.gif")),
    },
    { path: "train/bees/cut.jpg", bytes: new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16]) },
    { path: "train/.DS_Store", bytes: new Uint8Array(8) },
  ];
  const sets = datasetsFromFiles(files, { side: 48 });
  assert.deepEqual(sets.classes, ["ants", "bees"]);
  assert.deepEqual(sets.counts, { train: [5, 4], validation: [2, 3] });
  assert.deepEqual(sets.train.shape, [48, 48, 3]);
  assert.equal(sets.validation?.length, 5);
  assert.equal(sets.files.validation.length, 5);
  assert.ok(sets.files.validation.every((path) => path.startsWith("val/")));
  const skipped = sets.skipped.map((s) => s.message);
  assert.equal(skipped.length, 2, skipped.join("\n"));
  assert.match(skipped[0], /^train\/ants\/imageNotFound\.gif: not a JPEG or PNG file name$/);
  assert.match(skipped[1], /^train\/bees\/cut\.jpg: /);
  // Real pixels, not zeros: a photo's mean is mid-grey-ish.
  const [image] = await sets.train.get(0);
  const mean = image.data.reduce((a, b) => a + b, 0) / image.data.length;
  assert.ok(mean > 20 && mean < 235, `mean ${mean}`);
});

Deno.test("datasetsFromFiles: without split folders a seeded fraction is held out", async () => {
  const files = [...await entries("train", "ants", 6), ...await entries("train", "bees", 6)]
    .map((entry) => ({ ...entry, path: entry.path.replace(/^train\//, "") }));
  const a = datasetsFromFiles(files, { side: 16, valFraction: 0.25, seed: 1 });
  const b = datasetsFromFiles(files, { side: 16, valFraction: 0.25, seed: 1 });
  const c = datasetsFromFiles(files, { side: 16, valFraction: 0.25, seed: 2 });
  assert.equal(a.train.length, 9);
  assert.equal(a.validation?.length, 3);
  assert.deepEqual(a.files, b.files);
  assert.notDeepEqual(a.files, c.files);
});

Deno.test("datasetsFromFiles: no class folders, or one class, is a one-line error", async () => {
  const ants = await entries("train", "ants", 2);
  assert.throws(
    () => datasetsFromFiles(ants.map((e) => ({ ...e, path: e.path.split("/").pop()! }))),
    /no images found among 2 files: expected class folders/,
  );
  assert.throws(() => datasetsFromFiles(ants), /only one class folder \(ants\)/);
});
