// Grad-CAM: which part of a photo made the model decide.
//
// `explainImage` runs one decoded photo through a trained model's own evaluation pipeline,
// computes Grad-CAM (the last spatial layer's activations weighted by the gradient of the class
// score) and draws the heatmap over the photo with the top classes below it. It takes the model
// folder train_folder.ts saves (or a `deno task train` run directory) and any JPEG or PNG.
//
// Run:    deno run --allow-read --allow-write=data/examples examples/gradcam.ts [model dir] [image]
//         (after examples/train_folder.ts, whose model is the default)
// Prints: the layer looked at, the class explained and the top classes, the heatmap as text
//         (denser characters: more attention), and the picture written to
//         data/examples/gradcam/explained.png.
import { decodeImageFile, explainImage, openTrainedModel, savePng, selectBackend } from "../mod.ts";

const source = Deno.args[0] ?? "data/examples/train_folder/model";
const image = Deno.args[1] ?? "../shared/datasets/hymenoptera/val/bees/1355974687_1341c1face.jpg";
await selectBackend("wasm");
const trained = await openTrainedModel(source).catch((error) => {
  throw new Error(`${error.message}\n(run examples/train_folder.ts first, or pass a model)`);
});

const photo = await decodeImageFile(image, { channels: 3 });
const { gradCam, top, picture } = await explainImage(trained, photo, { minSide: 256 });
const classes = trained.preprocessing.classes;
console.log(`${image}: ${photo.width}×${photo.height}, seen at ${gradCam.width}×${gradCam.height}`);
console.log(`layer ${gradCam.layer}, explaining '${classes[gradCam.classIndex]}'`);
for (const { label, probability } of top) {
  console.log(`  ${label.padEnd(10)} ${(probability * 100).toFixed(1)}%`);
}

// The heatmap ([0, 1], at the model's input size) as 16 × 8 characters, sampled at cell centres.
const ramp = " .:-=+*#%@";
for (let row = 0; row < 8; row++) {
  let line = "";
  for (let column = 0; column < 16; column++) {
    const y = Math.floor(((row + 0.5) * gradCam.height) / 8);
    const x = Math.floor(((column + 0.5) * gradCam.width) / 16);
    line += ramp[Math.min(9, Math.floor(gradCam.heatmap[y * gradCam.width + x] * 10))].repeat(2);
  }
  console.log(`  |${line}|`);
}

const out = "data/examples/gradcam/explained.png";
await Deno.mkdir("data/examples/gradcam", { recursive: true });
await savePng(out, picture);
console.log(`wrote ${out} (${picture.width}×${picture.height})`);
trained.model.dispose();
