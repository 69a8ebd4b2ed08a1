// A WebGPU device lost in the middle of training (simulated with device.destroy(), which the
// factory treats as a loss because it did not release the device itself): the run stops with a
// one-line TrainingDeviceLostError naming checkpoints/last and the resume command, and resuming
// that run on wasm finishes it.
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  nameRun,
  registerWebGpuBackend,
  resolveTrainConfig,
  type TrainConfig,
  TrainingDeviceLostError,
  trainRun,
  useBackend,
  webGpuDeviceHandle,
} from "../../mod.ts";
import { makeColorFolder } from "../_images.ts";
import { tempDir } from "../_tmp.ts";

const adapter = await navigator.gpu?.requestAdapter().catch(() => null);
const quiet = { log: () => {}, warn: () => {} };

function config(dir: string, extra: Partial<TrainConfig> = {}) {
  return nameRun(resolveTrainConfig({
    dataset: join(dir, "photos"),
    valSplit: 0.25,
    imgSize: 16,
    model: "compact-cnn",
    epochs: 3,
    batchSize: 8,
    workers: 0,
    cache: false,
    backend: "webgpu",
    out: join(dir, "runs"),
    name: "lost",
    ...extra,
  }));
}

Deno.test({
  name: "a WebGPU device lost during epoch 2 keeps checkpoints/last and says how to resume",
  ignore: adapter == null,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const dir = await tempDir("device-lost-");
    await makeColorFolder(join(dir, "photos"));
    const printed: string[] = [];
    const error = console.error;
    console.error = (line: string) => printed.push(String(line));
    let thrown: unknown;
    try {
      await trainRun(config(dir), {
        ...quiet,
        callbacks: {
          onEpochBegin: (epoch) => {
            if (epoch === 1) webGpuDeviceHandle()!.device.destroy();
          },
        },
      });
    } catch (caught) {
      thrown = caught;
    } finally {
      console.error = error;
    }
    assert.ok(thrown instanceof TrainingDeviceLostError, `got ${thrown}`);
    const run = join(dir, "runs", "lost");
    assert.equal(thrown.epochsSaved, 1);
    assert.ok(!thrown.message.includes("\n"), "one line");
    assert.match(thrown.message, /^WebGPU device lost during epoch 2 /);
    assert.ok(
      thrown.message.endsWith(`resume with: deno task train --resume ${run}`),
      thrown.message,
    );
    const state = JSON.parse(
      await Deno.readTextFile(join(run, "checkpoints", "last", "state.json")),
    );
    assert.equal(state.epoch, 1);
    assert.ok(printed.some((line) => line.startsWith("WebGPU device lost")), "the loss is told");

    // The resume command, on wasm: the run finishes from the checkpoint.
    const resumed = await trainRun(config(dir, { backend: "wasm" }), { ...quiet, resume: true });
    assert.deepEqual(resumed.history.map((entry) => entry.epoch), [0, 1, 2]);
    // A fresh device for the tests that follow.
    registerWebGpuBackend();
    await useBackend("wasm");
    await Deno.remove(dir, { recursive: true });
  },
});
