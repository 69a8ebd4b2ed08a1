import assert from "node:assert/strict";
import { join } from "node:path";
import { DatasetError, DecodeError, ImageFolder } from "../../mod.ts";
import { tempDir } from "../_tmp.ts";

const HYMENOPTERA = new URL("../../../shared/datasets/hymenoptera/", import.meta.url).pathname;
const FIXTURES = new URL("../decode/fixtures/", import.meta.url).pathname;

Deno.test("hymenoptera: 397 images, one warning for the GIF and a summary", async () => {
  const warnings: string[] = [];
  const train = await ImageFolder.open(join(HYMENOPTERA, "train"), {
    onWarning: (line) => warnings.push(line),
  });
  const val = await ImageFolder.open(join(HYMENOPTERA, "val"), {
    onWarning: (line) => warnings.push(line),
  });
  assert.equal(train.length, 244);
  assert.equal(val.length, 153);
  assert.equal(train.length + val.length, 397);
  assert.deepEqual(train.classes, ["ants", "bees"]);
  assert.deepEqual(train.classToIndex, { ants: 0, bees: 1 });
  assert.equal(warnings.length, 2);
  assert.match(
    warnings[0],
    /^warning: skipping .*train\/ants\/imageNotFound\.gif: a GIF image; only JPEG and PNG are supported$/,
  );
  assert.match(
    warnings[1],
    /243|244 images in 2 classes; skipped 1 file that is not a JPEG or PNG image$/,
  );
  // Sorted order, labels in class order, the .jpeg file included.
  const paths = train.samples.map(([path]) => path);
  assert.deepEqual(paths, [...paths].sort());
  assert.ok(paths.some((path) => path.endsWith("formica.jpeg")));
  assert.equal(train.labelOf(0), 0);
  assert.equal(train.labelOf(train.length - 1), 1);
  const [image, label] = await train.get(0);
  assert.equal(label, 0);
  assert.equal(image.channels, 3);
  assert.equal(image.data.length, image.width * image.height * 3);
});

Deno.test("strict: true makes the GIF an error naming the file", async () => {
  await assert.rejects(
    () => ImageFolder.open(join(HYMENOPTERA, "train"), { strict: true }),
    (error: unknown) =>
      error instanceof DatasetError && error.path.endsWith("imageNotFound.gif") &&
      /GIF image/.test(error.message),
  );
});

Deno.test("hidden files and folders are ignored; classes are sorted folder names", async () => {
  const root = await tempDir("folder-");
  const png = await Deno.readFile(join(FIXTURES, "rgb8.png"));
  for (const path of ["zebra/a.png", "apple/b.png", "apple/sub/c.png", ".hidden/d.png"]) {
    await Deno.mkdir(join(root, path, ".."), { recursive: true });
    await Deno.writeFile(join(root, path), png);
  }
  await Deno.writeFile(join(root, "apple", ".DS_Store"), new Uint8Array([0, 1, 2]));
  const warnings: string[] = [];
  const dataset = await ImageFolder.open(root, { onWarning: (line) => warnings.push(line) });
  assert.deepEqual(dataset.classes, ["apple", "zebra"]);
  assert.deepEqual(dataset.samples.map(([p, l]) => [p.slice(root.length + 1), l]), [
    ["apple/b.png", 0],
    ["apple/sub/c.png", 0],
    ["zebra/a.png", 1],
  ]);
  assert.deepEqual(warnings, []);
  await Deno.remove(root, { recursive: true });
});

Deno.test("an empty class folder and a root without classes are errors naming the path", async () => {
  const root = await tempDir("folder-");
  await assert.rejects(() => ImageFolder.open(root), /no class folders/);
  await Deno.mkdir(join(root, "cats"));
  await Deno.writeTextFile(join(root, "cats", "notes.txt"), "not an image");
  const warnings: string[] = [];
  await assert.rejects(
    () => ImageFolder.open(root, { onWarning: (line) => warnings.push(line) }),
    (error: unknown) =>
      error instanceof DatasetError && error.path === join(root, "cats") &&
      /holds no JPEG or PNG images/.test(error.message),
  );
  assert.match(warnings[0], /notes\.txt: not a JPEG or PNG image \(starts with 6e 6f 74/);
  await assert.rejects(() => ImageFolder.open(join(root, "missing")), /folder not found/);
  await Deno.remove(root, { recursive: true });
});

Deno.test("a zero-byte and a truncated image: the first is skipped, the second fails on get", async () => {
  const root = await tempDir("folder-");
  const jpeg = await Deno.readFile(join(FIXTURES, "baseline420.jpg"));
  await Deno.mkdir(join(root, "a"));
  await Deno.writeFile(join(root, "a", "good.jpg"), jpeg);
  await Deno.writeFile(join(root, "a", "empty.jpg"), new Uint8Array());
  await Deno.writeFile(join(root, "a", "truncated.jpg"), jpeg.subarray(0, 30));
  const warnings: string[] = [];
  const dataset = await ImageFolder.open(root, { onWarning: (line) => warnings.push(line) });
  assert.equal(dataset.length, 2);
  assert.match(warnings[0], /empty\.jpg: empty file \(0 bytes\)/);
  await assert.rejects(
    () => dataset.get(1),
    (error: unknown) => error instanceof DecodeError && error.message.includes("truncated.jpg"),
  );
  await Deno.remove(root, { recursive: true });
});

Deno.test("a symlink loop and a dangling link are skipped with one warning each", async () => {
  const root = new URL("./fixtures/links", import.meta.url).pathname;
  const warnings: string[] = [];
  const folder = await ImageFolder.open(root, { onWarning: (line) => warnings.push(line) });
  assert.deepEqual(folder.samples.map(([path]) => path.split("/").pop()), ["ok.png"]);
  assert.ok(
    warnings.some((line) => /loop\.png: a symbolic link loop/.test(line)),
    warnings.join("\n"),
  );
  assert.ok(warnings.some((line) => /dangling\.png: unreadable/.test(line)), warnings.join("\n"));
});

Deno.test("a JPEG decoded with libjpeg's warnings is kept and reported in one line, once", async () => {
  const root = await tempDir("folder-");
  await Deno.mkdir(join(root, "a"));
  const junk = await Deno.readFile(join(FIXTURES, "jpeg_odd", "junk_after_app0.jpg"));
  await Deno.writeFile(join(root, "a", "junk.jpg"), junk);
  const warnings: string[] = [];
  const dataset = await ImageFolder.open(root, { onWarning: (line) => warnings.push(line) });
  assert.equal(dataset.length, 1);
  await dataset.get(0);
  await dataset.get(0);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /junk\.jpg decoded with warnings: Corrupt JPEG data: 10 extraneous/);
  await Deno.remove(root, { recursive: true });
});
