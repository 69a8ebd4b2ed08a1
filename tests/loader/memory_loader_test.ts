import assert from "node:assert/strict";
import { InMemoryDataset, shapes, Subset } from "../../lib/datasets/mod.ts";
import { DataLoader, MemoryLoader, WeightedRandomSampler } from "../../lib/loader/mod.ts";
import {
  compose,
  normalize,
  randomCrop,
  randomHorizontalFlip,
  type Transform,
} from "../../lib/transforms/mod.ts";

async function collect(loader: { batches(epoch: number): AsyncGenerator<unknown> }, epoch = 1) {
  const out: unknown[] = [];
  for await (const batch of loader.batches(epoch)) out.push(batch);
  return out;
}

Deno.test("MemoryLoader gives the DataLoader's batches on the same seed: shuffle, augmentation, normalize", async () => {
  const dataset = new Subset(shapes({ size: 40, seed: 3 }), [5, 1, 9, 30, 2, 17, 11, 0, 8]);
  const transform = compose([
    randomCrop(28, { padding: 2 }),
    randomHorizontalFlip(),
    normalize({ mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] }),
  ]);
  const options = { batchSize: 4, shuffle: true, seed: 7, transform };
  const memory = new MemoryLoader(dataset, options);
  const files = new DataLoader(dataset, { ...options, numWorkers: 0 });
  assert.equal(memory.length, files.length);
  assert.deepEqual(await collect(memory), await collect(files));
  assert.notDeepEqual(await collect(memory, 1), await collect(memory, 2), "epochs differ");
});

Deno.test("MemoryLoader follows a sampler's repeats like the DataLoader, and dropLast", async () => {
  const dataset = shapes({ size: 12, seed: 1 });
  const sampler = new WeightedRandomSampler([1, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], {
    numSamples: 10,
    seed: 2,
  });
  const transform = randomHorizontalFlip();
  const memory = new MemoryLoader(dataset, { batchSize: 3, sampler, dropLast: true, transform });
  const files = new DataLoader(dataset, {
    batchSize: 3,
    sampler,
    dropLast: true,
    transform,
    numWorkers: 0,
  });
  assert.equal(memory.length, 3);
  assert.deepEqual(await collect(memory, 0), await collect(files, 0));
});

Deno.test("MemoryLoader runs custom transforms and refuses what it cannot load", async () => {
  const invert: Transform = {
    name: "invert",
    options: {},
    apply: (image) => ({ ...image, data: image.data.map((v) => 255 - v) as Uint8Array }),
  };
  const dataset = new InMemoryDataset({
    images: new Uint8Array([0, 10, 20, 30]),
    labels: new Uint8Array([0]),
    shape: [2, 2, 1],
    classes: ["a"],
  });
  const [batch] = await collect(new MemoryLoader(dataset, { transform: invert }), 0) as {
    images: Uint8Array;
  }[];
  assert.deepEqual([...batch.images], [255, 245, 235, 225]);
  assert.throws(
    () => new MemoryLoader({ length: 1, classes: ["a"], get: () => undefined } as never),
    /MemoryLoader loads an InMemoryDataset/,
  );
  assert.throws(() => new MemoryLoader(dataset, { batchSize: 0 }), /batchSize/);
});
