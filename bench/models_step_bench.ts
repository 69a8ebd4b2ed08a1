// One training step per zoo model on wasm (forward, cross-entropy, backward, Adam), the sizes the
// Performance issue names: compact-cnn 32×32 (batch 64), resnet18 32×32 (batch 8), mobilenetv2
// 224×224 (batch 2). LeNet is in train_step_bench.ts. img/s = batch / (time per step).
// Run: deno bench --allow-read=. bench/models_step_bench.ts
import { modelStep } from "./_lenet_step.ts";

Deno.bench({
  name: "compact-cnn train step, wasm, batch 64 (32×32×3)",
  group: "model-train-step",
  warmup: 3,
  n: 20,
  fn: await modelStep("compact-cnn", [32, 32, 3], 64, "wasm"),
});

Deno.bench({
  name: "resnet18 train step, wasm, batch 8 (32×32×3)",
  group: "model-train-step",
  warmup: 1,
  n: 5,
  fn: await modelStep("resnet18", [32, 32, 3], 8, "wasm"),
});

Deno.bench({
  name: "mobilenetv2 train step, wasm, batch 2 (224×224×3)",
  group: "model-train-step",
  warmup: 1,
  n: 3,
  fn: await modelStep("mobilenetv2", [224, 224, 3], 2, "wasm"),
});
