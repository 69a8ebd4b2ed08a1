// The wasm backend on a thread pool: it starts with the count asked for, trains to the same
// weights twice with that count, and to the same weights as on one thread and on three (our SIMD
// kernels' pool of helpers cutting their work in three).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  createModel,
  DataLoader,
  fit,
  InMemoryDataset,
  MAX_WASM_THREADS,
  setWasmThreads,
  useBackend,
  wasmFeatures,
  wasmThreads,
  wasmThreadsFailure,
} from "../../mod.ts";

const threaded = (await wasmFeatures()).threads;

const N = 16;
const dataset = new InMemoryDataset({
  images: new Uint8Array(N * 32 * 32 * 3).map((_, i) => (i * 97 + (i >> 9)) % 256),
  labels: Int32Array.from({ length: N }, (_, i) => i % 10),
  shape: [32, 32, 3],
  classes: [..."0123456789"],
});

/**
 * Trains `name` for one seeded epoch of `fit` (Adam, dropout seeded as runs seed it) on
 * `threads` threads; returns its weights.
 */
async function trainedWeights(name: string, threads: number): Promise<Float32Array[]> {
  assert.equal(await setWasmThreads(threads), threads, wasmThreadsFailure());
  await useBackend("wasm");
  const before = tf.memory().numTensors;
  const model = createModel(name, { inputShape: [32, 32, 3], numClasses: 10, seed: 7 });
  await fit(model, new DataLoader(dataset, { batchSize: 8, numWorkers: 0, shuffle: true }), {
    epochs: 1,
    numClasses: 10,
    optimizer: { name: "adam", lr: 1e-3 },
    inputTransform: (x) => tf.div(tf.cast(x, "float32"), 255) as tf.Tensor4D,
    seed: 5,
  });
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  model.dispose();
  assert.equal(tf.memory().numTensors, before, "training leaked tensors");
  return weights;
}

function assertSameWeights(a: Float32Array[], b: Float32Array[], what: string) {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) {
    assert.ok(a[i].every((v, j) => Object.is(v, b[i][j])), `${what}: weight ${i} differs`);
  }
}

Deno.test({
  name: "wasm: the threaded build starts with the thread count asked for",
  ignore: !threaded,
  fn: async () => {
    assert.equal(await setWasmThreads(2), 2, wasmThreadsFailure());
    assert.equal(wasmThreads(), 2);
    assert.equal(await setWasmThreads(1), 1);
    await assert.rejects(() => setWasmThreads(0), RangeError);
    assert.equal(await setWasmThreads(MAX_WASM_THREADS + 4), MAX_WASM_THREADS);
  },
});

for (const name of ["lenet", "compact-cnn", "mobilenetv2"]) {
  Deno.test({
    name: `wasm: ${name} trains to identical weights on 2 threads twice, and as on 1 and 3`,
    ignore: !threaded,
    fn: async () => {
      const first = await trainedWeights(name, 2);
      const second = await trainedWeights(name, 2);
      assertSameWeights(first, second, "2 threads, twice");
      const single = await trainedWeights(name, 1);
      assertSameWeights(first, single, "2 threads against 1");
      const three = await trainedWeights(name, 3);
      assertSameWeights(first, three, "2 threads against 3");
    },
  });
}
