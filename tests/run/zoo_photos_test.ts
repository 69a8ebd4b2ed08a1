// The default command's path on a photo folder, for every zoo model that takes photos: what broke
// when MobileNetV2 and EfficientNet-B0 began every run from NaN (the memory probe before the first
// epoch, not the steps). Each trains one epoch through `trainRun` on 16 real photos at 32 px with
// a batch of 8, as `deno task train --dataset <folder>` would; the losses must be finite and the
// weights it saves too. tests/train/zoo_photos_test.ts checks the same models' gradients.
import assert from "node:assert/strict";
import { join } from "node:path";
import { resolveTrainConfig, trainRun } from "../../mod.ts";
import { HYMENOPTERA, PHOTO_MODELS } from "../_photos.ts";
import { tempDir } from "../_tmp.ts";

/** A photo folder of `perClass` ants and as many bees from hymenoptera/train. */
async function smallPhotoFolder(root: string, perClass: number): Promise<void> {
  for (const label of ["ants", "bees"]) {
    await Deno.mkdir(join(root, label), { recursive: true });
    const names = [...Deno.readDirSync(join(HYMENOPTERA, "train", label))]
      .map((entry) => entry.name).filter((name) => name.endsWith(".jpg")).sort()
      .slice(0, perClass);
    for (const name of names) {
      await Deno.copyFile(join(HYMENOPTERA, "train", label, name), join(root, label, name));
    }
  }
}

const dir = await tempDir("zoo-photos-");
await smallPhotoFolder(join(dir, "photos"), 8);

for (const model of PHOTO_MODELS) {
  Deno.test(`${model}: an epoch of trainRun on real photos ends with finite losses and weights`, async () => {
    const config = resolveTrainConfig({
      dataset: join(dir, "photos"),
      model,
      epochs: 1,
      batchSize: 8,
      imgSize: 32,
      backend: "wasm",
      onnx: false,
      out: join(dir, "runs"),
      name: model,
      seed: 1,
    });
    const result = await trainRun(config, { log: () => {}, warn: () => {}, readEvery: 1 });
    const [epoch] = result.history;
    assert.ok(Number.isFinite(epoch.loss), `train loss ${epoch.loss}`);
    assert.ok(Number.isFinite(epoch.valLoss!), `val loss ${epoch.valLoss}`);
    const stored = JSON.parse(await Deno.readTextFile(join(result.runDir, "config.json")));
    assert.equal(stored.model, model);
    const weights = new Float32Array(
      (await Deno.readFile(
        join(result.runDir, "model", "weights.bin"),
      )).buffer,
    );
    assert.ok(weights.every(Number.isFinite), "the saved weights are finite");
  });
}

Deno.test("zoo photos: the scratch folder goes", async () => {
  await Deno.remove(dir, { recursive: true });
});
