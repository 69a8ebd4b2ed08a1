// Fine-tune a torchvision model from a PyTorch `.pth` state dict.
//
// `readTorchWeights` reads the `torch.save` file in TypeScript (an allow-listed unpickler: the
// file's code is never run), `detectTorchvisionModel` names its architecture from the parameter
// names, and `loadTorchvision` builds that architecture with a new 2-class head and copies the
// weights in (OIHW → HWIO and the rest). The backbone is then frozen and the head trained on the
// hymenoptera photos at 64 px. Pass torchvision's own file (`deno task predict --pretrained
// torchvision:resnet18 x.jpg` downloads it into data/weights/) for ImageNet features; without
// an argument the example first writes a stand-in resnet18.pth in torch.save's format from a
// freshly initialised zoo model (random features: expect about chance, 54% for "bees").
//
// Run:    deno run --allow-read --allow-write=data/examples examples/finetune_pth.ts [weights.pth]
// Prints: the architecture and tensor count read from the file, the largest difference between
//         the file's first tensor (conv1.weight) and the model's (0: loaded as stored), then
//         per-epoch figures and the validation accuracy.
import {
  centerCrop,
  compose,
  createModel,
  DataLoader,
  detectTorchvisionModel,
  evaluate,
  fit,
  freeze,
  ImageFolder,
  IMAGENET_MEAN,
  IMAGENET_STD,
  loadTorchvision,
  normalize,
  randomHorizontalFlip,
  randomResizedCrop,
  readTorchWeights,
  resize,
  selectBackend,
  toStateDict,
} from "../mod.ts";
import { torchSave } from "./_torch_save.ts";

const side = 64;
await selectBackend("wasm");

let file = Deno.args[0];
if (file === undefined) {
  file = "data/examples/finetune_pth/resnet18.pth";
  const standIn = createModel("resnet18", {
    inputShape: [side, side, 3],
    numClasses: 1000,
    seed: 7,
    stem: "imagenet", // torchvision's exact layout
  });
  await Deno.mkdir("data/examples/finetune_pth", { recursive: true });
  await Deno.writeFile(file, torchSave(toStateDict(standIn)));
  standIn.dispose();
  console.log(`no .pth given: wrote ${file}, a stand-in with random weights`);
}

const { stateDict, source } = await readTorchWeights(file);
const architecture = detectTorchvisionModel(stateDict);
if (architecture === undefined) throw new Error(`${source}: not a torchvision architecture`);
console.log(`${source}: ${stateDict.size} tensors of a torchvision ${architecture}`);
const model = await loadTorchvision(architecture, stateDict, { numClasses: 2, inputSize: side });
const [first, stored] = [...stateDict][0]; // the stem's convolution, e.g. conv1.weight
const loaded = toStateDict(model).get(first)!.data; // back in PyTorch's layout
const difference = Math.max(...stored.data.map((v, i) => Math.abs(v - loaded[i])));
console.log(`${first}: max |file - model| = ${difference}`);
console.log(`froze ${freeze(model)} layers; training the new ${side} px 2-class head`);

const warn = () => {}; // hymenoptera holds one GIF named like a photo: skipped quietly
const root = "../shared/datasets/hymenoptera";
const train = await ImageFolder.open(`${root}/train`, { onWarning: warn });
const val = await ImageFolder.open(`${root}/val`, { onWarning: warn });
const cache = { dir: "data/examples/cache", shorterSide: 72 };
const norm = normalize({ mean: IMAGENET_MEAN, std: IMAGENET_STD });
const trainLoader = new DataLoader(train, {
  batchSize: 16,
  shuffle: true,
  transform: compose([randomResizedCrop(side, { scale: [0.35, 1] }), randomHorizontalFlip(), norm]),
  cache,
});
const evalTransform = compose([resize(72), centerCrop(side), norm]);
const valLoader = new DataLoader(val, { batchSize: 32, transform: evalTransform, cache });

await fit(model, trainLoader, {
  epochs: 3,
  numClasses: 2,
  optimizer: { name: "adam", lr: 1e-3 },
  callbacks: {
    onEpochEnd: (log) =>
      console.log(
        `epoch ${log.epoch + 1}: loss ${log.loss.toFixed(4)} accuracy ${
          (log.accuracy * 100).toFixed(1)
        }%`,
      ),
  },
});
const { accuracy } = await evaluate(model, valLoader, { numClasses: 2 });
console.log(`val accuracy ${(accuracy * 100).toFixed(1)}% fine-tuned from ${source}`);
model.dispose();
