// One LeNet training step (batch 64, 28×28×1, Adam) on wasm. img/s = 64 / (time per step).
// Run: deno task bench   (or: deno bench --allow-read=. bench/train_step_bench.ts)
import { lenetStep } from "./_lenet_step.ts";

Deno.bench({
  name: "lenet train step, wasm, batch 64 (28×28×1)",
  group: "lenet-train-step",
  warmup: 20,
  n: 200,
  fn: await lenetStep("wasm"),
});
