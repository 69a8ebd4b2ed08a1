// Compression of resnet18 at CIFAR-10's size: `shapes` at 32×32×3, 10 classes (the same tensor
// shapes as CIFAR-10, which this 2-core VM cannot train resnet18 on in a session), budgeted for
// wasm on one thread: 1,500 training images, 2 baseline epochs, 1 epoch per fine-tuned row, 500
// test images. Rows and columns as bench/compress.ts (see bench/_compress.ts).
// Run: deno run --allow-read=. --allow-write=data bench/compress_resnet.ts [--threads 1]
//   [--train 1500] [--test 500] [--epochs 2] [--fine-tune 1] [--out data/compress-resnet18.json]
import { runCompressionBench } from "./_compress.ts";

await runCompressionBench({
  model: "resnet18",
  train: 1500,
  test: 500,
  epochs: 2,
  fineTune: 1,
  lr: 1e-3,
  fineTuneLr: 3e-4,
  batch: 32,
  latencyRounds: 2,
  b1Runs: 3,
  b32Runs: 1,
});
