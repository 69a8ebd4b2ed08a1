import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { gradCam, loadTorchvision, useBackend } from "../../mod.ts";
import { hasTorchvision, runPython } from "../pretrained/_python.ts";
import { tempDir } from "../_tmp.ts";

const available = await hasTorchvision();

/** Seeded so the test sees the same weights every run (an unseeded net once gave a class whose
 * Grad-CAM is all zero, which the last check below rejects). */
function tinyNet(): tfl.LayersModel {
  const init = (seed: number) => ({
    kernelInitializer: tfl.initializers.glorotUniform({ seed }),
    biasInitializer: tfl.initializers.randomUniform({
      minval: -0.1,
      maxval: 0.1,
      seed: seed + 100,
    }),
  });
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [13, 11, 3],
        filters: 4,
        kernelSize: 3,
        padding: "same",
        activation: "relu",
        name: "conv1",
        ...init(1),
      }),
      tfl.layers.conv2d({
        filters: 6,
        kernelSize: 3,
        strides: 2,
        activation: "relu",
        name: "conv2",
        ...init(2),
      }),
      tfl.layers.globalAveragePooling2d({}),
      tfl.layers.dense({ units: 3, name: "dense", ...init(3) }),
    ],
  });
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

Deno.test({
  name: "gradCam matches PyTorch's Grad-CAM on the same tiny net and weights",
  ignore: !available,
  fn: async () => {
    await useBackend("wasm");
    const model = tinyNet();
    const image = tf.randomUniform([13, 11, 3], -1, 1, "float32", 11);
    const spec: Record<string, unknown> = {
      image: Array.from(await image.data()),
      shape: [13, 11, 3],
    };
    for (const name of ["conv1", "conv2", "dense"]) {
      const weights = model.getLayer(name).getWeights();
      spec[name] = await Promise.all(weights.map(async (w) => Array.from(await w.data())));
      spec[`${name}Shape`] = weights[0].shape;
    }
    const dir = await tempDir("gradcam-");
    try {
      for (const classIndex of [null, 2]) {
        const path = join(dir, "spec.json");
        await Deno.writeTextFile(path, JSON.stringify({ ...spec, classIndex }));
        const reference = JSON.parse(await runPython(["bench/torch_gradcam.py", path]));
        const ours = await gradCam(model, image, { classIndex: classIndex ?? undefined });
        assert.equal(ours.layer, "conv2");
        assert.equal(ours.classIndex, reference.classIndex);
        assert.ok(maxDiff(ours.scores, reference.scores) < 1e-4, "scores");
        assert.deepEqual([ours.cam.height, ours.cam.width], reference.camShape);
        assert.ok(maxDiff(ours.cam.data, reference.cam) < 1e-4, "cam");
        assert.ok(maxDiff(ours.heatmap, reference.heatmap) < 1e-4, "heatmap");
        assert.ok(ours.cam.data.some((v) => v > 0) && ours.heatmap.some((v) => v < 0.5));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
      image.dispose();
      model.dispose();
    }
  },
});

Deno.test({
  name: "gradCam on torchvision's mobilenet_v2 loaded by loadTorchvision matches PyTorch's",
  ignore: !available,
  fn: async () => {
    await useBackend("wasm");
    const dir = await tempDir("gradcam-tv-");
    try {
      const reference = JSON.parse(
        await runPython(["bench/torch_gradcam.py", "torchvision", "mobilenet_v2", "96", dir]),
      );
      const model = await loadTorchvision("mobilenet_v2", join(dir, "weights.pth"), {
        inputSize: 96,
      });
      const { image, shape } = JSON.parse(await Deno.readTextFile(join(dir, "image.json")));
      const input = tf.tensor3d(image, shape);
      const ours = await gradCam(model, input);
      input.dispose();
      model.dispose();
      assert.equal(ours.classIndex, reference.classIndex);
      assert.ok(maxDiff(ours.scores, reference.scores) < 1e-3, "scores");
      assert.deepEqual([ours.cam.height, ours.cam.width], reference.camShape);
      const peak = Math.max(...reference.cam);
      assert.ok(peak > 0);
      assert.ok(maxDiff(ours.cam.data, reference.cam) < 1e-3 * peak, "cam");
      assert.ok(maxDiff(ours.heatmap, reference.heatmap) < 1e-3, "heatmap");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
