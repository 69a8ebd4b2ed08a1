// torchvision parity: each architecture, randomly initialised in PyTorch with randomised batch-norm
// statistics, saved with torch.save(state_dict) and loaded with loadTorchvision, gives PyTorch's
// eval-mode logits on a real photo (each side with its own decoder and preprocessing).
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { TORCHVISION_MODELS, useBackend } from "../../mod.ts";
import { pretrainedParity } from "../../bench/pretrained_parity.ts";
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
      const figures = await pretrainedParity(dir, PHOTO, archs);
      assert.equal(figures.length, archs.length);
      for (const { arch, maxAbsDiff, maxAbsLogit, sameTop1 } of figures) {
        assert.ok(
          maxAbsDiff <= 1e-3 * maxAbsLogit,
          `${arch}: max |ours − PyTorch| ${maxAbsDiff} > 1e-3 × ${maxAbsLogit}`,
        );
        assert.ok(sameTop1, `${arch}: a different top-1 class`);
      }
      assert.equal(tf.memory().numTensors, before);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
