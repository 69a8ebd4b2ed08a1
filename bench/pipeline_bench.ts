// Input pipeline: one epoch of ../shared/datasets/hymenoptera/train (244 JPEGs), batch 32,
// RandomResizedCrop 224 + flip + normalize, 2 persistent workers. img/s = 244 / time per epoch.
// The cached epoch reads decoded pixels (shorter side 256) from the decoded-sample cache; the
// decoding epoch has no cache and decodes every JPEG, as every torchvision epoch does.
// Run: deno bench --allow-read=.,../shared --allow-write=data bench/pipeline_bench.ts
// (bench/pipeline.ts gives first/later-epoch figures as JSON, like the torchvision reference.)
import { DataLoader, ImageFolder } from "../mod.ts";
import { referenceTransform } from "./pipeline.ts";

const ROOT = new URL("../../shared/datasets/hymenoptera/train", import.meta.url).pathname;
const dataset = await ImageFolder.open(ROOT, { onWarning: () => {} });
const transform = referenceTransform();
const cacheDir = `data/.bench-cache-${crypto.randomUUID()}`;
const common = { batchSize: 32, shuffle: true, numWorkers: 2, persistentWorkers: true, transform };
const cached = new DataLoader(dataset, { ...common, cache: { dir: cacheDir, shorterSide: 256 } });
const decoding = new DataLoader(dataset, common);
let epoch = 0;

async function runEpoch(loader: DataLoader) {
  let images = 0;
  for await (const batch of loader.batches(epoch++)) images += batch.labels.length;
  if (images !== dataset.length) throw new Error(`epoch saw ${images} images`);
}

await runEpoch(cached); // builds the cache

Deno.bench({
  name: `cached epoch: ${dataset.length} images, RRC 224 + flip + normalize, 2 workers`,
  group: "pipeline",
  warmup: 2,
  n: 6,
  fn: async () => await runEpoch(cached),
});

Deno.bench({
  name: `decoding epoch (no cache): ${dataset.length} JPEGs, same transforms, 2 workers`,
  group: "pipeline",
  warmup: 1,
  n: 3,
  fn: async () => await runEpoch(decoding),
});

globalThis.addEventListener("unload", () => {
  cached.close();
  decoding.close();
  Deno.removeSync(cacheDir, { recursive: true });
});
