// torchvision parity: each architecture, randomly initialised in PyTorch with randomised batch-norm
// statistics, saved with torch.save(state_dict) and loaded with loadTorchvision, gives PyTorch's
// eval-mode logits on a real photo (each side with its own decoder and preprocessing).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  decodeImageFile,
  loadTorchvision,
  TORCHVISION_MODELS,
  torchvisionTransform,
  useBackend,
} from "../../mod.ts";
import { Rng } from "../../lib/_internal/rng.ts";
import { tempDir } from "../_tmp.ts";
import { hasTorchvision, runPython } from "./_python.ts";

const PHOTO = "../shared/datasets/hymenoptera/val/bees/1032546534_06907fe3b3.jpg";
const available = await hasTorchvision();
if (!available) console.warn("python3-torch missing or not allowed: torchvision parity ignored");

Deno.test({
  name: "loadTorchvision: every architecture's logits equal PyTorch's within 1e-3 of the largest",
  ignore: !available,
  fn: async () => {
    await useBackend("wasm");
    const dir = await tempDir("parity-");
    try {
      const archs = Object.keys(TORCHVISION_MODELS);
      await runPython(["bench/torch_pretrained.py", "--out", dir, "--photo", PHOTO, ...archs]);
      const before = tf.memory().numTensors;
      for (const arch of archs) {
        const expected: number[] = JSON.parse(await Deno.readTextFile(`${dir}/${arch}.json`))
          .logits;
        const model = await loadTorchvision(arch, `${dir}/${arch}.pth`);
        const image = torchvisionTransform(arch).apply(await decodeImageFile(PHOTO), new Rng(0));
        const logits = tf.tidy(() =>
          model.predict(tf.tensor4d(image.data as Float32Array, [1, 224, 224, 3])) as tf.Tensor
        );
        const actual = Array.from(await logits.data());
        logits.dispose();
        model.dispose();
        assert.equal(actual.length, 1000, arch);
        const largest = Math.max(...expected.map(Math.abs));
        const worst = Math.max(...actual.map((value, i) => Math.abs(value - expected[i])));
        assert.ok(
          worst <= 1e-3 * largest,
          `${arch}: max |ours − PyTorch| ${worst} > 1e-3 × ${largest}`,
        );
        const argmax = (v: number[]) => v.indexOf(Math.max(...v));
        assert.equal(argmax(actual), argmax(expected), arch);
      }
      assert.equal(tf.memory().numTensors, before);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
