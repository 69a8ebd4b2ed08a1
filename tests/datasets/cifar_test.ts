import assert from "node:assert/strict";
import { join } from "node:path";
import { cifar10, cifar100, DatasetError } from "../../mod.ts";
import { tempDir } from "../_tmp.ts";

/** CIFAR binary records: label bytes, then red, green, blue planes of 1024 bytes. */
function records(labels: number[][], fill: (n: number, plane: number, p: number) => number) {
  const size = labels[0].length + 3072;
  const out = new Uint8Array(labels.length * size);
  labels.forEach((label, n) => {
    out.set(label, n * size);
    for (let plane = 0; plane < 3; plane++) {
      for (let p = 0; p < 1024; p++) {
        out[n * size + label.length + plane * 1024 + p] = fill(n, plane, p);
      }
    }
  });
  return out;
}

Deno.test("CIFAR-10 binary batches: planes become HWC, labels and class names read", async () => {
  const root = await tempDir("cifar-");
  const folder = join(root, "cifar-10-batches-bin");
  await Deno.mkdir(folder);
  for (let b = 1; b <= 5; b++) {
    await Deno.writeFile(
      join(folder, `data_batch_${b}.bin`),
      records([[b], [9]], (n, plane, p) => (n * 50 + plane * 10 + p) % 256),
    );
  }
  await Deno.writeFile(join(folder, "test_batch.bin"), records([[3]], () => 7));
  const names = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
  ];
  await Deno.writeTextFile(join(folder, "batches.meta.txt"), names.join("\n") + "\n\n");
  const train = await cifar10({ root });
  assert.equal(train.length, 10);
  assert.deepEqual(train.classes, names);
  assert.deepEqual([train.labelOf(0), train.labelOf(1), train.labelOf(2)], [1, 9, 2]);
  const [image] = await train.get(1);
  // Pixel 5 of record 1: red = 50 + 0 + 5, green = 50 + 10 + 5, blue = 50 + 20 + 5.
  assert.deepEqual([...image.data.subarray(15, 18)], [55, 65, 75]);
  const test = await cifar10({ root, train: false });
  assert.equal(test.length, 1);
  assert.equal(test.classes[test.labelOf(0)], "cat");
  await Deno.remove(root, { recursive: true });
});

Deno.test("CIFAR-100 uses the fine label; truncated files and bad labels name the file", async () => {
  const root = await tempDir("cifar-");
  const folder = join(root, "cifar-100-binary");
  await Deno.mkdir(folder);
  await Deno.writeFile(join(folder, "test.bin"), records([[4, 77], [19, 99]], () => 1));
  const test = await cifar100({ root, train: false });
  assert.deepEqual([test.labelOf(0), test.labelOf(1)], [77, 99]);
  assert.equal(test.classes.length, 100);

  await Deno.writeFile(join(folder, "train.bin"), records([[1, 2]], () => 0).subarray(0, 3000));
  await assert.rejects(
    () => cifar100({ root }),
    (error: unknown) =>
      error instanceof DatasetError && error.path.endsWith("train.bin") &&
      /3000 bytes is not a whole number of 3074-byte CIFAR records/.test(error.message),
  );
  await Deno.writeFile(join(folder, "train.bin"), records([[1, 120]], () => 0));
  await assert.rejects(() => cifar100({ root }), /record 0 has label 120; expected 0–99/);
  await assert.rejects(
    () => cifar10({ root }),
    /cifar-10-batches-bin: not found; pass download: true/,
  );
  await Deno.remove(root, { recursive: true });
});
