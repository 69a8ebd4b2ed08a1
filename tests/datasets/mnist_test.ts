import assert from "node:assert/strict";
import { join } from "node:path";
import { DatasetError, fashionMnist, mnist, parseIdx } from "../../mod.ts";
import { tempDir } from "../_tmp.ts";

const MNIST_ROOT = new URL("../../../shared/datasets/mnist", import.meta.url).pathname;

function idx(dims: number[], data: Uint8Array, magicDims = dims.length): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  view.setUint32(0, 0x0800 + magicDims);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  return new Uint8Array([...header, ...data]);
}

Deno.test("the real MNIST test set: 10,000 digits, first labels 7 2 1 0 4 1 4 9 5 9", async () => {
  const test = await mnist({ root: MNIST_ROOT, train: false });
  assert.equal(test.length, 10000);
  assert.deepEqual(test.shape, [28, 28, 1]);
  assert.deepEqual(Array.from({ length: 10 }, (_, i) => test.labelOf(i)), [
    7,
    2,
    1,
    0,
    4,
    1,
    4,
    9,
    5,
    9,
  ]);
  const [image] = await test.get(0);
  assert.equal(image.data.length, 784);
  assert.ok(image.data.some((v) => v > 200), "a 7 has bright strokes");
  assert.equal(test.classes[7], "7 - seven");
});

Deno.test("a missing split says where it looked and how to download", async () => {
  await assert.rejects(
    () => mnist({ root: MNIST_ROOT, train: true }),
    /train-images-idx3-ubyte\.gz not found .*pass download: true/,
  );
});

Deno.test("torchvision's layout, raw (not gzipped) files, and Fashion-MNIST's classes", async () => {
  const root = await tempDir("mnist-");
  const raw = join(root, "FashionMNIST", "raw");
  await Deno.mkdir(raw, { recursive: true });
  const pixels = Uint8Array.from({ length: 3 * 4 }, (_, i) => i);
  await Deno.writeFile(join(raw, "t10k-images-idx3-ubyte"), idx([3, 2, 2], pixels));
  await Deno.writeFile(join(raw, "t10k-labels-idx1-ubyte"), idx([3], new Uint8Array([9, 0, 5])));
  const dataset = await fashionMnist({ root, train: false });
  assert.equal(dataset.length, 3);
  assert.equal(dataset.classes[dataset.labelOf(0)], "Ankle boot");
  assert.deepEqual([...(await dataset.get(2))[0].data], [8, 9, 10, 11]);
  await Deno.remove(root, { recursive: true });
});

Deno.test("wrong magic, truncation, trailing bytes and count mismatch name the file", async () => {
  assert.throws(
    () => parseIdx(idx([2], new Uint8Array([1, 2])), "x/labels", 3),
    /x\/labels: wrong magic number 0x00000801, expected 0x00000803/,
  );
  assert.throws(
    () => parseIdx(idx([3], new Uint8Array([1, 2])), "l", 1),
    /l: truncated: the header declares 3 = 3 bytes of data, the file holds 2/,
  );
  assert.throws(() => parseIdx(idx([1], new Uint8Array([1, 2])), "l", 1), /trailing bytes/);
  assert.throws(() => parseIdx(new Uint8Array([0, 0]), "l", 1), /truncated: 2 bytes/);

  const root = await tempDir("mnist-");
  await Deno.writeFile(
    join(root, "t10k-images-idx3-ubyte"),
    idx([2, 1, 1], new Uint8Array([1, 2])),
  );
  await Deno.writeFile(join(root, "t10k-labels-idx1-ubyte"), idx([3], new Uint8Array([1, 2, 3])));
  await assert.rejects(
    () => mnist({ root, train: false }),
    (error: unknown) =>
      error instanceof DatasetError && /3 labels for the 2 images/.test(error.message),
  );
  await Deno.writeFile(join(root, "t10k-labels-idx1-ubyte"), idx([2], new Uint8Array([1, 12])));
  await assert.rejects(() => mnist({ root, train: false }), /label 12 at index 1 is not a class/);
  await Deno.writeFile(join(root, "t10k-labels-idx1-ubyte.gz"), new Uint8Array([0x1f, 0x8b, 1, 2]));
  await Deno.remove(join(root, "t10k-labels-idx1-ubyte"));
  await assert.rejects(() => mnist({ root, train: false }), /corrupt gzip data/);
  await Deno.remove(root, { recursive: true });
});
