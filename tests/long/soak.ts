// Soak (`deno task test:long`): 50 epochs from image files through 2 loader workers with the
// decoded-sample cache on. Resident memory and tf.memory().numTensors must stay flat, and no
// worker or file handle may be left behind. Prints the figures RELIABILITY.md records.
import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import {
  createModel,
  createOptimizer,
  DataLoader,
  encodePng,
  fit,
  ImageFolder,
  normalize,
  shapes,
  useBackend,
} from "../../mod.ts";
import { openCacheFiles } from "../../lib/loader/_read_files.ts";
import { tempDir } from "../_tmp.ts";

const EPOCHS = 50;

/**
 * Open file descriptors, or null where Deno will not list /proc/self/fd (it asks for --allow-all
 * there, which no task grants: RELIABILITY.md records a count from a run by hand with it).
 */
function openHandles(): number | null {
  try {
    return [...Deno.readDirSync("/proc/self/fd")].length;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.NotFound) {
      return null;
    }
    throw error;
  }
}

Deno.test("soak: 50 epochs with workers and the cache keep memory, tensors and handles flat", async () => {
  await useBackend("wasm");
  const dir = await tempDir("soak-");
  // The embedded dataset written out as PNG files, so decoding, workers and the cache all run.
  const source = shapes({ size: 600 });
  for (let i = 0; i < source.length; i++) {
    const [image, label] = await source.get(i);
    const folder = join(dir, "shapes", source.classes[label]);
    await Deno.mkdir(folder, { recursive: true });
    await Deno.writeFile(join(folder, `${i}.png`), encodePng(image));
  }
  const dataset = await ImageFolder.open(join(dir, "shapes"));
  const handlesBefore = openHandles();
  const loader = new DataLoader(dataset, {
    batchSize: 32,
    shuffle: true,
    numWorkers: 2,
    persistentWorkers: true,
    cache: { dir: join(dir, "cache") },
    transform: normalize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] }),
  });
  const model = createModel("compact-cnn", { inputShape: [32, 32, 3], numClasses: 10, seed: 0 });
  const optimizer = createOptimizer({ name: "adam", lr: 3e-3 });
  const rss: number[] = [];
  const tensors: number[] = [];
  const handles: (number | null)[] = [];
  const start = performance.now();
  await fit(model, loader, {
    epochs: EPOCHS,
    numClasses: 10,
    optimizer,
    callbacks: {
      onEpochEnd: () => {
        rss.push(Deno.memoryUsage().rss / 2 ** 20);
        tensors.push(tf.memory().numTensors);
        handles.push(openHandles());
      },
    },
  });
  loader.close();
  optimizer.dispose();
  model.dispose();
  const seconds = (performance.now() - start) / 1000;
  const handlesAfter = openHandles();
  const early = Math.max(...rss.slice(2, 7));
  const late = Math.max(...rss.slice(-5));
  // A leak grows with every epoch; V8's and the wasm heap's high-water marks move RSS up and down
  // by tens of MB without a trend (they settle in the first ~15 epochs). So: the least-squares
  // slope over epochs 20–50.
  const tail = rss.slice(19);
  const meanX = (tail.length - 1) / 2;
  const meanY = tail.reduce((a, b) => a + b, 0) / tail.length;
  const slope = tail.reduce((sum, y, x) => sum + (x - meanX) * (y - meanY), 0) /
    tail.reduce((sum, _, x) => sum + (x - meanX) ** 2, 0);
  const figures = {
    epochs: rss.length,
    seconds: Math.round(seconds),
    rss_mb_epoch_3_to_7: Math.round(early),
    rss_mb_last_5: Math.round(late),
    rss_drift_mb: Math.round(late - early),
    rss_slope_mb_per_epoch: Math.round(slope * 100) / 100,
    rss_mb_by_epoch: rss.map((v) => Math.round(v)),
    tensors_epoch_2: tensors[1],
    tensors_last: tensors.at(-1),
    live_workers_after: DataLoader.liveWorkers,
    open_handles_before: handlesBefore,
    open_handles_epoch_3: handles[2],
    open_handles_last_epoch: handles.at(-1),
    open_handles_after: handlesAfter,
  };
  console.log(JSON.stringify(figures));
  assert.equal(rss.length, EPOCHS);
  assert.ok(tensors.slice(1).every((n) => n === tensors[1]), `numTensors: ${tensors.join(",")}`);
  assert.ok(slope < 2, `RSS grows ${slope.toFixed(2)} MB per epoch over epochs 20–50`);
  assert.ok(
    late - early < 160,
    `RSS grew ${figures.rss_drift_mb} MB from epochs 3–7 to the last 5`,
  );
  assert.equal(DataLoader.liveWorkers, 0);
  assert.equal(openCacheFiles(), 0, "the main thread closed the cache file");
  // The first epochs open what the runtime keeps for good (worker event loops, the wasm
  // module); from then on the count must not move, and closing must not add any.
  if (handles.every((n) => n !== null) && handlesAfter !== null) {
    assert.ok(
      handles.slice(2).every((n) => n === handles[2]),
      `open handles: ${handles.join(",")}`,
    );
    assert.ok(handlesAfter <= handles[2]!, `${handles[2]} → ${handlesAfter} open handles`);
  }
  await Deno.remove(dir, { recursive: true });
});
