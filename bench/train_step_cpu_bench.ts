// The same LeNet step on the cpu backend, the last resort: a few steps show the gap to wasm.
// Kept in its own file so its heap does not slow the wasm figure.
// Run: deno bench --allow-read=. bench/train_step_cpu_bench.ts
import { lenetStep } from "./_lenet_step.ts";

Deno.bench({
  name: "lenet train step, cpu, batch 64 (28×28×1)",
  group: "lenet-train-step-cpu",
  warmup: 1,
  n: 3,
  fn: await lenetStep("cpu"),
});
