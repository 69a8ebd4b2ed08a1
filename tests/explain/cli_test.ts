import assert from "node:assert/strict";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { explainCommand } from "../../cli/explain.ts";
import { decodeImageFile, encodePng, fileHandler, normalize, useBackend } from "../../mod.ts";
import { tempDir } from "../_tmp.ts";

/** A run folder whose model's logits read only the top-left quadrant of a red detector. */
async function makeRun(dir: string): Promise<void> {
  const input = tfl.input({ shape: [16, 16, 3] });
  const features = tfl.layers.conv2d({
    filters: 2,
    kernelSize: 1,
    activation: "relu",
    name: "features",
    weights: [tf.tensor4d([1, 0, 0, 1, 0, 0], [1, 1, 3, 2]), tf.zeros([2])],
  }).apply(input) as tfl.SymbolicTensor;
  const quadrant = tfl.layers.cropping2D({ cropping: [[0, 8], [0, 8]] }).apply(features);
  const pooled = tfl.layers.globalAveragePooling2d({}).apply(quadrant);
  const logits = tfl.layers.dense({
    units: 2,
    weights: [tf.tensor2d([[4, 0], [0, 4]]), tf.zeros([2])],
  }).apply(pooled) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: input, outputs: logits });
  const modelDir = join(dir, "model");
  await Deno.mkdir(modelDir, { recursive: true });
  await model.save(fileHandler(modelDir));
  model.dispose();
  const transform = normalize({ mean: [0, 0, 0], std: [1, 1, 1] });
  await Deno.writeTextFile(
    join(modelDir, "preprocessing.json"),
    JSON.stringify({
      classes: ["red", "green"],
      inputShape: [16, 16, 3],
      transform: { name: transform.name, options: transform.options },
    }),
  );
}

Deno.test("explain writes Grad-CAM, feature-map and kernel PNGs that decode back", async () => {
  await useBackend("wasm");
  const dir = await tempDir("explain-cli-");
  const log = console.log;
  const lines: string[] = [];
  try {
    await makeRun(dir);
    // Red in the top-left quadrant, green elsewhere.
    const data = new Uint8Array(16 * 16 * 3);
    for (let y = 0; y < 16; y++) {
      for (let x = 0; x < 16; x++) data[(y * 16 + x) * 3 + (y < 8 && x < 8 ? 0 : 1)] = 220;
    }
    const photo = join(dir, "photo.png");
    await Deno.writeFile(photo, encodePng({ width: 16, height: 16, channels: 3, data }));
    console.log = (...parts: unknown[]) => lines.push(parts.map(String).join(" "));
    const code = await explainCommand([
      "--run",
      join(dir, "model"),
      "--backend",
      "wasm",
      "--layer",
      "features",
      "--feature-maps",
      "features",
      "--filters",
      "first",
      "--top-k",
      "2",
      photo,
    ]);
    console.log = log;
    assert.equal(code, 0);
    const out = join(dir, "explain");
    const picture = await decodeImageFile(join(out, "photo.gradcam.png"), { channels: 3 });
    // 16 px enlarged ×14 to 224, then two label lines below.
    assert.equal(picture.width, 224);
    assert.ok(picture.height > 224);
    const at = (x: number, y: number) =>
      Array.from(picture.data.subarray((y * 224 + x) * 3, (y * 224 + x) * 3 + 3));
    // Top-left: red photo under the hot end of jet (red channel high, blue low); bottom-right:
    // green photo under the cold end (blue from the colormap).
    const [r1, , b1] = at(50, 50);
    const [r2, , b2] = at(180, 180);
    assert.ok(r1 > 150 && b1 < 60, `top-left ${at(50, 50)}`);
    assert.ok(b2 > 40 && r2 < 60, `bottom-right ${at(180, 180)}`);
    // The label strip has white text.
    let white = 0;
    for (let i = 224 * 224 * 3; i < picture.data.length; i += 3) {
      if (picture.data[i] === 255 && picture.data[i + 1] === 255) white++;
    }
    assert.ok(white > 20, "labels drawn");
    const grid = await decodeImageFile(join(out, "photo.features.png"));
    assert.ok(grid.width > 32 && grid.height > 16);
    const filters = await decodeImageFile(join(out, "filters.png"));
    assert.ok(filters.width > 0);
    assert.match(lines.join("\n"), /photo\.gradcam\.png {2}red at features/);
  } finally {
    console.log = log;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("explain: usage errors", async () => {
  await assert.rejects(() => explainCommand([]), /either --run/);
  await assert.rejects(() => explainCommand(["--run", "x"]), /at least one image/);
});
