// Transfer learning on ../shared/datasets/hymenoptera (ants vs bees; 244 train, 153 val images):
// nsfwjs's pretrained MobileNetV2 backbone, frozen, with a new 2-class head, against the same
// architecture trained from scratch, with the same data, augmentation and epochs.
// Train: RandomResizedCrop 224 + flip; val: resize 256 + center crop 224; inputs x / 255 (nsfwjs's
// preprocessing). Adam 1e-3; batch 32 (frozen backbone) and 4 (from scratch). Prints one JSON
// object as the last line.
// Run: deno run --allow-read=.,../shared --allow-write=data bench/transfer_hymenoptera.ts [--epochs 5]
//      [--batch-pretrained 32] [--skip-scratch]
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import {
  centerCrop,
  compose,
  createModel,
  DataLoader,
  evaluate,
  fit,
  freeze,
  ImageFolder,
  randomHorizontalFlip,
  randomResizedCrop,
  replaceHead,
  resize,
} from "../mod.ts";
import { loadNsfwjsMobileNetV2 } from "./_nsfwjs.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    epochs: { type: "string", default: "5" },
    "batch-pretrained": { type: "string", default: "32" },
    "skip-scratch": { type: "boolean", default: false },
  },
});
const epochs = Number(values.epochs);
const root = "../shared/datasets/hymenoptera";
const quiet = { onWarning: () => {} };
const trainSet = await ImageFolder.open(`${root}/train`, quiet);
const valSet = await ImageFolder.open(`${root}/val`, quiet);
const cache = { dir: "data/cache", shorterSide: 256 };
// fit runs a frozen prefix outside the gradient tape, so the frozen run takes batch 32; training
// the whole MobileNetV2 keeps every activation for the backward pass: batch 8 at 224 px overflows
// the wasm heap, so the scratch run uses 4.
const trainLoader = (batchSize: number) =>
  new DataLoader(trainSet, {
    batchSize,
    shuffle: true,
    numWorkers: 1,
    persistentWorkers: true,
    cache,
    transform: compose([randomResizedCrop(224), randomHorizontalFlip()]),
  });
const val = new DataLoader(valSet, {
  batchSize: 32,
  numWorkers: 1,
  persistentWorkers: true,
  cache,
  transform: compose([resize(256), centerCrop(224)]),
});
const scale = (x: tf.Tensor4D) => tf.div(tf.cast(x, "float32"), 255) as tf.Tensor4D;

async function run(name: string, model: LayersModel, batchSize: number) {
  const start = performance.now();
  const train = trainLoader(batchSize);
  const { history } = await fit(model, train, {
    epochs,
    numClasses: 2,
    optimizer: { name: "adam", lr: 1e-3 },
    inputTransform: scale,
    callbacks: {
      onEpochEnd: (log) =>
        console.error(
          `${name} epoch ${log.epoch + 1}: loss ${log.loss.toFixed(3)}, ${
            log.imagesPerSecond.toFixed(1)
          } img/s`,
        ),
    },
  });
  train.close();
  const result = await evaluate(model, val, { numClasses: 2, inputTransform: scale });
  console.error(`${name}: val accuracy ${(result.accuracy * 100).toFixed(1)}%`);
  return {
    val_accuracy: Math.round(result.accuracy * 1000) / 1000,
    val_loss: Math.round(result.loss * 1000) / 1000,
    train_images_per_s: Math.round(history.at(-1)!.imagesPerSecond * 10) / 10,
    seconds: Math.round((performance.now() - start) / 1000),
    batch_size: batchSize,
  };
}

const backbone = await loadNsfwjsMobileNetV2();
freeze(backbone, { upTo: "flatten_1" });
const pretrained = await run(
  "pretrained",
  replaceHead(backbone, 2, { from: "flatten_1", dropout: 0.2 }),
  Number(values["batch-pretrained"]),
);
const scratch = values["skip-scratch"] ? null : await run(
  "scratch",
  createModel("mobilenetv2", { inputShape: [224, 224, 3], numClasses: 2 }),
  4,
);
val.close();
console.log(
  JSON.stringify({
    dataset: "hymenoptera",
    epochs,
    backbone: "nsfwjs MobileNetV2",
    pretrained,
    scratch,
  }),
);
