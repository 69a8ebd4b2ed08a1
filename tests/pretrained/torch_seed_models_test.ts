// The seeds' own PyTorch CNNs (seed 003's CNN, seed 004's small CNN) load by order into the zoo's
// `cifar-cnn` and `small-cnn` and give PyTorch's logits (fc1's inputs permuted from CHW to HWC).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { createModel, loadStateDict, readStateDict, useBackend } from "../../mod.ts";
import { tempDir } from "../_tmp.ts";
import { hasTorchvision, runPython } from "./_python.ts";

const available = await hasTorchvision();

Deno.test({
  name: "seed 003's CNN and seed 004's small CNN load into cifar-cnn and small-cnn",
  ignore: !available,
  fn: async () => {
    await useBackend("wasm");
    const dir = await tempDir("seeds-");
    try {
      await runPython(["bench/torch_seed_models.py", "--out", dir]);
      for (const name of ["cifar-cnn", "small-cnn"]) {
        const { shape, input, logits } = JSON.parse(await Deno.readTextFile(`${dir}/${name}.json`));
        const [n, c, h, w] = shape as number[];
        const model = createModel(name, { inputShape: [h, w, c], numClasses: 10 });
        const path = `${dir}/${name}.pth`;
        const result = loadStateDict(
          model,
          readStateDict(await Deno.readFile(path), { source: path }),
        );
        assert.equal(result.mapping, "order");
        const actual = tf.tidy(() => {
          const nhwc = tf.transpose(tf.tensor4d(input, [n, c, h, w]), [0, 2, 3, 1]);
          return Array.from((model.predict(nhwc) as tf.Tensor).dataSync());
        });
        model.dispose();
        const largest = Math.max(...(logits as number[]).map(Math.abs));
        const worst = Math.max(...actual.map((v, i) => Math.abs(v - logits[i])));
        assert.ok(worst <= 1e-4 * largest, `${name}: max difference ${worst} of ${largest}`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
