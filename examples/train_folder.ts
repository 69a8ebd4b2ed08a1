// Train an image classifier on a folder of photos.
//
// The library's parts composed by hand: ImageFolder reads `root/{train,val}/<class>/*.jpg`
// (torchvision's layout), DataLoaders decode and augment the photos, `createModel` builds a zoo
// model, `fit` trains it, `evaluate` scores it, and `model.save(fileHandler(...))` writes a
// TF.js model with the `preprocessing.json` that `openTrainedModel` and `deno task predict` read.
// By default it trains compact-cnn at 64 px for 8 epochs on the hymenoptera photos (244 ants
// and bees to train on, 153 to validate), under a minute on two CPU cores.
//
// Run:    deno run --allow-read --allow-write=data/examples examples/train_folder.ts [root]
// Prints: one line per epoch (loss, accuracy, val_loss, val_accuracy), the final validation
//         accuracy, and the folder the model was saved to (data/examples/train_folder/model).
import {
  centerCrop,
  compose,
  createModel,
  DataLoader,
  evaluate,
  fileHandler,
  fit,
  ImageFolder,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalize,
  randomHorizontalFlip,
  randomResizedCrop,
  resize,
  selectBackend,
} from "../mod.ts";

const root = Deno.args[0] ?? "../shared/datasets/hymenoptera";
const out = "data/examples/train_folder/model";
const side = 64;

const backend = await selectBackend("wasm");
const warn = () => {}; // hymenoptera holds one GIF named like a photo: skipped quietly
const train = await ImageFolder.open(`${root}/train`, { onWarning: warn });
const val = await ImageFolder.open(`${root}/val`, { onWarning: warn });
console.log(`${train.length} training and ${val.length} validation images of ${train.classes}`);

// Decoded photos are cached at a shorter side of 72 px, so only the first epoch decodes JPEGs.
const cache = { dir: "data/examples/cache", shorterSide: 72 };
const norm = normalize({ mean: IMAGENET_MEAN, std: IMAGENET_STD });
const trainTransform = compose([
  randomResizedCrop(side, { scale: [0.35, 1] }),
  randomHorizontalFlip(),
  norm,
]);
const evalTransform = compose([resize(72), centerCrop(side), norm]);
const trainLoader = new DataLoader(train, {
  batchSize: 16,
  shuffle: true,
  transform: trainTransform,
  cache,
  numWorkers: 1,
});
const valLoader = new DataLoader(val, { batchSize: 32, transform: evalTransform, cache });

const numClasses = train.classes.length;
const model = createModel("compact-cnn", { inputShape: [side, side, 3], numClasses, seed: 0 });
await fit(model, trainLoader, {
  epochs: 8,
  numClasses,
  optimizer: { name: "adam", lr: 3e-3 },
  validation: valLoader,
  callbacks: {
    onEpochEnd: (log) => {
      console.log(
        `epoch ${log.epoch + 1}: loss ${log.loss.toFixed(4)} accuracy ${
          (log.accuracy * 100).toFixed(1)
        }% val_loss ${log.valLoss!.toFixed(4)} val_accuracy ${
          (log.valAccuracy! * 100).toFixed(1)
        }%`,
      );
    },
  },
});

const result = await evaluate(model, valLoader, { numClasses });
console.log(`val accuracy ${(result.accuracy * 100).toFixed(1)}% on ${backend.name}`);

await model.save(fileHandler(out));
const preprocessing = {
  classes: [...train.classes],
  inputShape: [side, side, 3],
  transform: { name: evalTransform.name, options: evalTransform.options },
};
await Deno.writeTextFile(`${out}/preprocessing.json`, JSON.stringify(preprocessing, null, 2));
console.log(`saved ${out}/model.json and preprocessing.json`);
model.dispose();
