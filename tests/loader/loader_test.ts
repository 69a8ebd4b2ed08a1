import assert from "node:assert/strict";
import { join } from "node:path";
import {
  compose,
  DataLoader,
  ImageFolder,
  normalize,
  randomCrop,
  randomHorizontalFlip,
  randomResizedCrop,
  sampleRng,
  shapes,
  splitDataset,
  Subset,
} from "../../mod.ts";
import { tempDir } from "../_tmp.ts";

const HYMENOPTERA = new URL("../../../shared/datasets/hymenoptera/", import.meta.url).pathname;
const FIXTURES = new URL("../decode/fixtures/", import.meta.url).pathname;
const dataset = shapes({ size: 50 });
const augment = compose([
  randomCrop(32, { padding: 4, paddingMode: "reflect" }),
  randomHorizontalFlip(),
  normalize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }),
]);

async function collect(loader: DataLoader, epoch: number) {
  const batches = [];
  for await (const batch of loader.batches(epoch)) batches.push(batch);
  return batches;
}

Deno.test("batches are byte-identical with 0, 1 and 3 workers", async () => {
  const results = [];
  for (const numWorkers of [0, 1, 3]) {
    const loader = new DataLoader(dataset, {
      batchSize: 8,
      shuffle: true,
      seed: 5,
      numWorkers,
      transform: augment,
    });
    results.push(await collect(loader, 2));
  }
  for (const other of results.slice(1)) {
    assert.equal(other.length, results[0].length);
    for (const [i, batch] of other.entries()) {
      assert.deepEqual(batch.indices, results[0][i].indices);
      assert.deepEqual(batch.labels, results[0][i].labels);
      assert.deepEqual(batch.images, results[0][i].images);
    }
  }
  assert.equal(DataLoader.liveWorkers, 0);
});

Deno.test("each sample appears exactly once per epoch; epochs reshuffle; dropLast drops the rest", async () => {
  const loader = new DataLoader(dataset, { batchSize: 8, shuffle: true, numWorkers: 1 });
  assert.equal(loader.length, 7);
  const first = (await collect(loader, 0)).flatMap((b) => [...b.indices]);
  const second = (await collect(loader, 1)).flatMap((b) => [...b.indices]);
  assert.deepEqual([...first].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  assert.notDeepEqual(first, second);
  const dropping = new DataLoader(dataset, { batchSize: 8, dropLast: true, numWorkers: 0 });
  const batches = await collect(dropping, 0);
  assert.equal(dropping.length, 6);
  assert.equal(batches.length, 6);
  assert.ok(batches.every((b) => b.labels.length === 8));
  assert.deepEqual(batches[0].shape, [8, 32, 32, 3]);
  assert.ok(batches[0].images instanceof Uint8Array, "no float transform: uint8 batches");
});

Deno.test("for await runs successive epochs; subsets load their own samples", async () => {
  const { validation } = splitDataset(dataset, { validationFraction: 0.2 });
  const loader = new DataLoader(validation, { batchSize: 100, numWorkers: 1 });
  for await (const batch of loader) {
    assert.deepEqual(
      [...batch.labels],
      Array.from({ length: validation.length }, (_, i) => validation.labelOf(i)),
    );
    const [image] = await validation.get(3);
    assert.deepEqual(batch.images.subarray(3 * 3072, 4 * 3072), image.data);
  }
});

Deno.test("memory stays bounded by the prefetch depth with a slow consumer", async () => {
  const loader = new DataLoader(dataset, { batchSize: 2, numWorkers: 2, prefetch: 3 });
  let most = 0;
  for await (const _ of loader) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    most = Math.max(most, loader.inFlight);
  }
  assert.ok(most <= 3, `at most 3 batches outstanding, saw ${most}`);
  assert.ok(most >= 2, "the loader does prefetch");
});

Deno.test("breaking out of the loop stops every worker", async () => {
  const loader = new DataLoader(dataset, { batchSize: 2, numWorkers: 3 });
  for await (const _ of loader) {
    assert.equal(DataLoader.liveWorkers, 3);
    break;
  }
  assert.equal(DataLoader.liveWorkers, 0);
});

/** One class of six copies of a JPEG, the fifth (4.jpg) truncated to 40 bytes. */
async function folderWithTruncatedFourth(root: string): Promise<ImageFolder> {
  const jpeg = await Deno.readFile(join(FIXTURES, "baseline420.jpg"));
  await Deno.mkdir(join(root, "a"));
  for (let i = 0; i < 6; i++) await Deno.writeFile(join(root, "a", `${i}.jpg`), jpeg);
  await Deno.writeFile(join(root, "a", "4.jpg"), jpeg.subarray(0, 40));
  return await ImageFolder.open(root);
}

Deno.test("with skipBadSamples: false a worker's decode error reaches the caller with the file name; workers stop", async () => {
  const root = await tempDir("loader-");
  const folder = await folderWithTruncatedFourth(root);
  for (const numWorkers of [0, 2]) {
    const loader = new DataLoader(folder, {
      batchSize: 2,
      numWorkers,
      transform: compose([randomResizedCrop(16)]),
      skipBadSamples: false,
    });
    await assert.rejects(async () => {
      for await (const _ of loader) { /* consume */ }
    }, /4\.jpg/);
    assert.equal(DataLoader.liveWorkers, 0);
  }
  await Deno.remove(root, { recursive: true });
});

Deno.test("a bad file is left out of its batch with one warning; the cache remembers it", async () => {
  const root = await tempDir("loader-bad-");
  const folder = await folderWithTruncatedFourth(root);
  for (const numWorkers of [0, 2]) {
    const warnings: string[] = [];
    const loader = new DataLoader(folder, {
      batchSize: 2,
      numWorkers,
      transform: compose([randomResizedCrop(16)]),
      cache: { dir: join(root, `cache-${numWorkers}`) },
      onWarning: (line) => warnings.push(line),
    });
    for (let epoch = 0; epoch < 2; epoch++) { // epoch 1 reads the cache
      const seen: number[] = [];
      for await (const batch of loader.batches(epoch)) seen.push(...batch.indices);
      assert.deepEqual(seen.sort(), [0, 1, 2, 3, 5], `epoch ${epoch}, ${numWorkers} workers`);
    }
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], /^warning: skipping .*4\.jpg: /);
    assert.deepEqual(loader.skippedSamples.map((s) => s.index), [4]);
    assert.equal(DataLoader.liveWorkers, 0);
  }
  await Deno.remove(root, { recursive: true });
});

Deno.test("a file decoded with warnings (junk bytes libjpeg skips) is kept and reported once", async () => {
  const root = await tempDir("loader-junk-");
  await Deno.mkdir(join(root, "a"));
  const clean = await Deno.readFile(join(FIXTURES, "baseline420.jpg"));
  for (let i = 0; i < 3; i++) await Deno.writeFile(join(root, "a", `${i}.jpg`), clean);
  await Deno.copyFile(join(FIXTURES, "jpeg_odd", "junk_before_sos.jpg"), join(root, "a", "3.jpg"));
  const folder = await ImageFolder.open(root);
  for (const numWorkers of [0, 2]) {
    const warnings: string[] = [];
    const loader = new DataLoader(folder, {
      batchSize: 2,
      numWorkers,
      transform: compose([randomResizedCrop(16)]),
      onWarning: (line) => warnings.push(line),
    });
    for (let epoch = 0; epoch < 2; epoch++) {
      const seen: number[] = [];
      for await (const batch of loader.batches(epoch)) seen.push(...batch.indices);
      assert.deepEqual(seen.sort(), [0, 1, 2, 3], `epoch ${epoch}, ${numWorkers} workers`);
    }
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(warnings[0], /^warning: .*3\.jpg decoded with warnings: Corrupt JPEG data: /);
    assert.equal(DataLoader.liveWorkers, 0);
  }
  await Deno.remove(root, { recursive: true });
});

Deno.test("samples of different sizes without a resizing transform are a clear error", async () => {
  const folder = await ImageFolder.open(join(HYMENOPTERA, "val"));
  const loader = new DataLoader(folder, { batchSize: 4, numWorkers: 0 });
  await assert.rejects(async () => {
    for await (const _ of loader) { /* consume */ }
  }, /add resize and a crop to the transform/);
});

Deno.test("the decoded-sample cache: built in epoch 0, read back identically, rebuilt when stale", async () => {
  const root = await tempDir("cache-");
  const photos = join(root, "photos");
  await Deno.mkdir(join(photos, "a"), { recursive: true });
  await Deno.mkdir(join(photos, "b"), { recursive: true });
  const jpeg = await Deno.readFile(join(FIXTURES, "progressive.jpg"));
  const png = await Deno.readFile(join(FIXTURES, "rgb8.png"));
  for (let i = 0; i < 5; i++) await Deno.writeFile(join(photos, "a", `${i}.jpg`), jpeg);
  for (let i = 0; i < 4; i++) await Deno.writeFile(join(photos, "b", `${i}.png`), png);
  const folder = await ImageFolder.open(photos);
  const options = {
    batchSize: 3,
    shuffle: true,
    numWorkers: 2,
    dropLast: true, // the last sample is never batched: the cache must still hold it
    transform: compose([randomResizedCrop(12), randomHorizontalFlip()]),
    cache: { dir: join(root, "cache"), shorterSide: 20 },
  };
  const building = new DataLoader(folder, options);
  const built = await collect(building, 0);
  const files = [...Deno.readDirSync(join(root, "cache"))].map((e) => e.name).sort();
  assert.equal(files.length, 2);
  assert.match(files[0], /^[0-9a-f]{24}\.bin$/);
  assert.match(files[1], /^[0-9a-f]{24}\.index\.json$/);
  // A new loader reads the cache: the same epoch gives the same bytes.
  const reading = new DataLoader(folder, { ...options, numWorkers: 0 });
  const read = await collect(reading, 0);
  assert.deepEqual(read.map((b) => b.images), built.map((b) => b.images));
  // Truncate the pixels: the cache is not used but rebuilt, and results stay the same.
  const bin = join(root, "cache", files[0]);
  const full = (await Deno.stat(bin)).size;
  await Deno.truncate(bin, full - 100);
  const rebuilt = await collect(new DataLoader(folder, options), 0);
  assert.deepEqual(rebuilt.map((b) => b.images), built.map((b) => b.images));
  assert.equal((await Deno.stat(bin)).size, full);
  // Touch a file (new mtime and size): a different key, so a second cache is built.
  await Deno.writeFile(join(photos, "b", "3.png"), png.subarray(0, png.length));
  await Deno.utime(join(photos, "b", "3.png"), new Date(), new Date(2000, 1, 1));
  await collect(new DataLoader(await ImageFolder.open(photos), options), 0);
  assert.equal([...Deno.readDirSync(join(root, "cache"))].length, 4);
  await Deno.remove(root, { recursive: true });
});

Deno.test("the cache streams to disk during epoch 0; a broken-off epoch leaves no cache and no temp file", async () => {
  const root = await tempDir("cache-stream-");
  const folder = new Subset(await ImageFolder.open(join(HYMENOPTERA, "val")), [0, 1, 2, 3, 4, 5]);
  const options = {
    batchSize: 2,
    numWorkers: 0,
    transform: compose([randomResizedCrop(8)]),
    cache: { dir: join(root, "cache"), shorterSide: 24 },
  };
  const listing = () => [...Deno.readDirSync(join(root, "cache"))].map((e) => e.name);
  const loader = new DataLoader(folder, options);
  let seen = 0;
  for await (const _ of loader.batches(0)) {
    if (++seen === 2) {
      // Mid-epoch: pixels reach the disk (writes run behind the batches), in a temporary file only.
      const [tmp] = listing();
      assert.match(tmp, /\.bin\.[0-9a-f-]+\.tmp$/);
      const size = () => Deno.statSync(join(root, "cache", tmp)).size;
      for (let wait = 0; size() === 0 && wait < 100; wait++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.ok(size() > 0, "written as batches arrive");
      assert.equal(listing().length, 1, "no index before the epoch ends");
      break;
    }
  }
  assert.deepEqual(listing(), [], "the partial cache is removed");
  const whole = await collect(loader, 1);
  assert.equal(listing().length, 2);
  const cached = await collect(new DataLoader(folder, options), 1);
  assert.deepEqual(cached.map((b) => b.images), whole.map((b) => b.images));
  await Deno.remove(root, { recursive: true });
});

Deno.test("a temporary cache file a killed build left behind is removed; a live one is not", async () => {
  const root = await tempDir("cache-abandoned-");
  const folder = new Subset(await ImageFolder.open(join(HYMENOPTERA, "val")), [0, 1]);
  const options = {
    batchSize: 2,
    numWorkers: 0,
    transform: compose([randomResizedCrop(8)]),
    cache: { dir: join(root, "cache"), shorterSide: 24 },
  };
  // Learn the cache's key from a first build, then plant two leftovers with that key.
  await collect(new DataLoader(folder, options), 0);
  const bin = [...Deno.readDirSync(join(root, "cache"))].find((e) => e.name.endsWith(".bin"))!;
  await Deno.remove(join(root, "cache"), { recursive: true });
  await Deno.mkdir(join(root, "cache"));
  const stale = join(root, "cache", `${bin.name}.killed.tmp`);
  const live = join(root, "cache", `${bin.name}.running.tmp`);
  await Deno.writeFile(stale, new Uint8Array(10));
  await Deno.writeFile(live, new Uint8Array(10));
  const anHourAgo = new Date(Date.now() - 3600_000);
  await Deno.utime(stale, anHourAgo, anHourAgo);
  await collect(new DataLoader(folder, options), 0);
  const names = [...Deno.readDirSync(join(root, "cache"))].map((e) => e.name);
  assert.ok(!names.includes(`${bin.name}.killed.tmp`), "the abandoned file is gone");
  assert.ok(names.includes(`${bin.name}.running.tmp`), "a recent one may be another build's");
  await Deno.remove(root, { recursive: true });
});

Deno.test("persistentWorkers keeps the pool between epochs until close()", async () => {
  const loader = new DataLoader(dataset, { batchSize: 10, numWorkers: 2, persistentWorkers: true });
  for await (const _ of loader) { /* epoch 0 */ }
  assert.equal(DataLoader.liveWorkers, 2);
  const again = await collect(loader, 1);
  assert.equal(again.length, 5);
  assert.equal(DataLoader.liveWorkers, 2);
  loader.close();
  assert.equal(DataLoader.liveWorkers, 0);
  {
    using scoped = new DataLoader(dataset, {
      batchSize: 10,
      numWorkers: 1,
      persistentWorkers: true,
    });
    await collect(scoped, 0);
    assert.equal(DataLoader.liveWorkers, 1);
  }
  assert.equal(DataLoader.liveWorkers, 0);
});

Deno.test("a batch equals the transform applied sample by sample (normalize fused into collation)", async () => {
  const loader = new DataLoader(dataset, {
    batchSize: 5,
    shuffle: true,
    seed: 9,
    numWorkers: 0,
    transform: augment,
  });
  const [batch] = await collect(loader, 3);
  assert.ok(batch.images instanceof Float32Array);
  for (const [n, index] of batch.indices.entries()) {
    const [image] = await dataset.get(index);
    const expected = augment.apply(image, sampleRng(9, 3, index)).data;
    assert.deepEqual(batch.images.subarray(n * 3072, (n + 1) * 3072), expected);
  }
});

Deno.test("an unwritable cache folder is one warning line naming the flag; loading goes on", async () => {
  const folder = await ImageFolder.open(join(HYMENOPTERA, "val"));
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (line: string) => warnings.push(line);
  try {
    // Tests may write only under data/: a cache elsewhere is refused by Deno's permissions.
    const loader = new DataLoader(new Subset(folder, [0, 1, 2]), {
      batchSize: 3,
      numWorkers: 0,
      transform: compose([randomResizedCrop(8)]),
      cache: { dir: "/outside-data/cache", shorterSide: 16 },
    });
    for (let epoch = 0; epoch < 2; epoch++) {
      const batches = await collect(loader, epoch);
      assert.equal(batches[0].labels.length, 3);
    }
  } finally {
    console.warn = warn;
  }
  assert.deepEqual(warnings, [
    "warning: the decoded-sample cache is off: writing /outside-data/cache was refused; allow " +
    "it with --allow-write=/outside-data/cache",
  ]);
});

Deno.test("a custom transform before a trailing normalize runs as itself in this process", async () => {
  // An inversion no factory knows: before, the loader rebuilt the steps before normalize from
  // their specs and failed with "unknown transform 'invert'".
  const invert = {
    name: "invert",
    options: {},
    apply: (image: { width: number; height: number; channels: 1 | 3; data: Uint8Array }) => ({
      ...image,
      data: image.data.map((v) => 255 - v),
    }),
  } as unknown as Parameters<typeof compose>[0][number];
  const stats = { mean: [0, 0, 0], std: [1, 1, 1] };
  const load = async (transform: Parameters<typeof compose>[0]) => {
    const loader = new DataLoader(shapes({ size: 4 }), {
      batchSize: 4,
      numWorkers: 0,
      transform: compose(transform),
    });
    return (await collect(loader, 0))[0].images as Float32Array;
  };
  const plain = await load([normalize(stats)]);
  const inverted = await load([invert, normalize(stats)]);
  assert.equal(inverted.length, plain.length);
  for (let i = 0; i < plain.length; i += 97) {
    assert.ok(Math.abs(inverted[i] - (1 - plain[i])) < 1e-6, `value ${i}`);
  }
});

Deno.test("a custom transform with workers is a one-line error at construction, not at the first batch", () => {
  const invert = {
    name: "invert",
    options: {},
    apply: (image: unknown) => image,
  } as unknown as Parameters<typeof compose>[0][number];
  assert.throws(
    () => new DataLoader(shapes({ size: 4 }), { batchSize: 4, numWorkers: 1, transform: invert }),
    /transform: unknown transform 'invert': workers rebuild only the library's transforms/,
  );
});
