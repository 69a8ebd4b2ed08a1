// Compression of compact-cnn on `shapes` (32×32×3, 10 classes), the baseline trained with the
// default `deno task train` recipe (10,000 images, 5 epochs, Adam 3e-3, batch 64, seed 0), each
// compressed row fine-tuned from it (Adam 1e-3, cosine decay to 0), tested on the 2,000 test
// images. Rows and columns: bench/_compress.ts.
// Run: deno run --allow-read=. --allow-write=data --allow-env bench/compress.ts [--threads 1]
//   [--fine-tune 3] [--spread-seeds 1,2] [--distill-t 4] [--distill-alpha 0.7]
//   [--rows distill,structured,magnitude,ptq,qat,onnx,control] [--out data/compress-compact-cnn.json]
import { runCompressionBench } from "./_compress.ts";

await runCompressionBench({
  model: "compact-cnn",
  train: 10_000,
  test: 2_000,
  epochs: 5,
  fineTune: 3,
  lr: 3e-3,
  fineTuneLr: 1e-3,
  batch: 64,
  latencyRounds: 5,
  b1Runs: 20,
  b32Runs: 4,
});
