import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createModel,
  normalize,
  predictFiles,
  type TrainedModel,
  transformFromSpec,
  useBackend,
} from "../../mod.ts";
import { makeColorFolder } from "../_images.ts";
import { tempDir } from "../_tmp.ts";

Deno.test("predict resizes a photo to a fixed-size model's input and says so", async () => {
  await useBackend("wasm");
  const dir = await tempDir("predict-");
  try {
    await makeColorFolder(dir, { perClass: 1, height: 40, width: 48 });
    const norm = normalize({ mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });
    const spec = { name: norm.name, options: norm.options };
    const trained: TrainedModel = {
      model: createModel("compact-cnn", { inputShape: [32, 32, 3], numClasses: 3, seed: 0 }),
      preprocessing: {
        classes: ["blue", "green", "red"],
        inputShape: [32, 32, 3],
        transform: spec,
      },
      transform: transformFromSpec(spec),
      modelDir: dir,
    };
    const heard: string[] = [];
    const files = ["red", "blue"].map((name) => join(dir, name, "0.png"));
    const predictions = await predictFiles(trained, files, 2, {
      onResize: (file, [w, h]) => heard.push(`${file} ${w}×${h}`),
    });
    trained.model.dispose();
    assert.deepEqual(heard, files.map((file) => `${file} 48×40`));
    assert.equal(predictions.length, 2);
    assert.equal(predictions[0].top.length, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
