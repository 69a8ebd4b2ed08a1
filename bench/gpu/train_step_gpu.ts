// Training steps on WebGPU, for the device machine (an NVIDIA GPU through Vulkan). Bundled into
// one file by bench/gpu/prepare.sh, so it needs no npm registry there. Reports the adapter it got
// and, per model, ms per step and img/s after warm-up (the first steps compile the shaders).
// Run: deno run --allow-read --allow-env bench/gpu/train_step_gpu.ts [--models resnet18:128,lenet:256]
//      [--steps 20] [--allow-software]
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-layers";
import { registerWebGpuBackend, webGpuAdapterInfo } from "../../lib/backend/webgpu.ts";
import "../../lib/backend/_batchnorm_grad.ts";
import { createModel } from "../../lib/models/registry.ts";
import "../../lib/models/mod.ts";
import { createTrainStep } from "../../lib/train/step.ts";

const INPUT: Record<string, [number, number, number]> = {
  lenet: [28, 28, 1],
  "compact-cnn": [32, 32, 3],
  resnet18: [32, 32, 3],
  mobilenetv2: [224, 224, 3],
};

const { values } = parseArgs({
  args: Deno.args,
  options: {
    models: { type: "string", default: "resnet18:128,compact-cnn:256,lenet:256" },
    steps: { type: "string", default: "20" },
    "allow-software": { type: "boolean", default: false },
  },
});

// No per-step GPU readback: submit commands in batches and read the loss only when timing ends.
tf.env().set("WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE", 15);
registerWebGpuBackend();
await tf.setBackend("webgpu");
await tf.ready();
const adapter = webGpuAdapterInfo();
console.error(`adapter: ${JSON.stringify(adapter)}`);
if (
  /llvmpipe|swiftshader|software/i.test(adapter?.description ?? "") && !values["allow-software"]
) {
  throw new Error("a software adapter: pass --allow-software to run anyway (slow)");
}

const results = [];
for (const spec of values.models!.split(",")) {
  const [name, batchText] = spec.split(":");
  const batch = Number(batchText ?? 64);
  const shape = INPUT[name] ?? [32, 32, 3];
  const model = createModel(name, { inputShape: shape, numClasses: 10, seed: 0 });
  const step = createTrainStep(model, tf.train.adam(1e-3), 10);
  const x = tf.randomNormal([batch, ...shape], 0, 1, "float32", 1) as tf.Tensor4D;
  const y = tf.tensor1d(Int32Array.from({ length: batch }, (_, i) => i % 10), "int32");
  const compileStart = performance.now();
  for (let i = 0; i < 3; i++) {
    const loss = step(x, y);
    await loss.data();
    loss.dispose();
  }
  const warmupSeconds = (performance.now() - compileStart) / 1000;
  const steps = Number(values.steps);
  const start = performance.now();
  let last: tf.Scalar | undefined;
  for (let i = 0; i < steps; i++) {
    last?.dispose();
    last = step(x, y) as tf.Scalar;
  }
  await last!.data(); // one readback at the end: the queue drains here
  last!.dispose();
  const seconds = (performance.now() - start) / 1000;
  results.push({
    model: name,
    input: shape,
    batch_size: batch,
    warmup_s: Math.round(warmupSeconds * 10) / 10,
    ms_per_step: Math.round((seconds / steps) * 10000) / 10,
    images_per_s: Math.round((batch * steps) / seconds),
  });
  console.error(JSON.stringify(results.at(-1)));
  tf.dispose([x, y]);
  model.dispose();
}
console.log(JSON.stringify({
  framework: `denovision (deno ${Deno.version.deno}, tfjs ${tf.version_core}, webgpu)`,
  adapter,
  results,
}));
