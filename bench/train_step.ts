// One training step per model and backend, as JSON: images/s and ms per step (forward, loss,
// backward, Adam update, loss read back), batch of random images of the model's input size.
// Run: deno task bench train [--model lenet] [--backend wasm] [--batch-size 64] [--steps 20]
//      [--warmup 3] [--img-size N] [--freeze] [--adapter high-performance|low-power|software]
//      [--kernels ours|stock|ours,stock]  (stock: the tfjs backend package's own kernels; a list
//      times each in this one process and adds their ratios)
// On webgpu the JSON also gives dispatches_per_step and host_ms_per_step: the JavaScript time of
// a step outside GPUQueue.submit and outside the wait for the loss's read-back.
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import {
  createModel,
  createOptimizer,
  createTrainStep,
  freeze,
  parseAdapterChoice,
  parseBackendChoice,
  selectBackend,
  setWasmKernels,
  setWasmThreads,
  setWebGpuKernels,
  wasmThreads,
} from "../mod.ts";

const DEFAULT_SIZE: Record<string, [number, number]> = {
  lenet: [28, 1],
  "compact-cnn": [32, 3],
  "small-cnn": [28, 1],
  "cifar-cnn": [32, 3],
  resnet18: [32, 3],
  "vgg11-bn": [32, 3],
  mobilenetv2: [224, 3],
};

/**
 * Counts WebGPU compute dispatches (every kernel tfjs or we run is one) from now until `stop`,
 * by wrapping GPUComputePassEncoder's dispatchWorkgroups.
 */
function countDispatches(): { stop(): number } {
  const encoder = (globalThis as { GPUComputePassEncoder?: { prototype: object } })
    .GPUComputePassEncoder?.prototype as { dispatchWorkgroups?: (...args: number[]) => void };
  const original = encoder?.dispatchWorkgroups;
  if (encoder === undefined || original === undefined) return { stop: () => 0 };
  let count = 0;
  encoder.dispatchWorkgroups = function (this: unknown, ...args: number[]) {
    count++;
    return original.apply(this, args);
  };
  return {
    stop() {
      encoder.dispatchWorkgroups = original;
      return count;
    },
  };
}

/** Milliseconds spent inside GPUQueue.submit from now until `stop`. */
function timeSubmits(): { stop(): number } {
  const queue = (globalThis as { GPUQueue?: { prototype: object } }).GPUQueue?.prototype as {
    submit?: (...args: unknown[]) => unknown;
  };
  const original = queue?.submit;
  if (queue === undefined || original === undefined) return { stop: () => 0 };
  let ms = 0;
  queue.submit = function (this: unknown, ...args: unknown[]) {
    const start = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      ms += performance.now() - start;
    }
  };
  return {
    stop() {
      queue.submit = original;
      return ms;
    },
  };
}

/**
 * Times `steps` training steps after `--warmup` untimed ones (3 by default; V8 compiles our
 * kernels and TypeScript at full speed over the first ~50 steps of a small model), with each kernel set `--kernels` lists;
 * returns the figures (one set), or each set's figures and their ratios (several).
 */
export async function runTrainStepBench(
  args: string[] = Deno.args,
): Promise<Record<string, unknown>> {
  const sets = (args.find((_, i) => args[i - 1] === "--kernels") ?? "ours").split(",");
  for (const set of sets) {
    if (set !== "ours" && set !== "stock") {
      throw new RangeError(`--kernels: expected ours, stock or ours,stock, got '${set}'`);
    }
  }
  if (sets.length === 1) return await timeSteps(args);
  const runs: Record<string, unknown>[] = [];
  for (const set of sets) {
    const rest = args.filter((arg, i) => arg !== "--kernels" && args[i - 1] !== "--kernels");
    runs.push(await timeSteps([...rest, "--kernels", set]));
  }
  const [first, second] = runs as Record<string, number>[];
  const ratio = (key: string) =>
    typeof first[key] === "number" && typeof second[key] === "number"
      ? Math.round((second[key] / first[key]) * 100) / 100
      : undefined;
  return {
    kernels: sets.join(","),
    runs,
    [`${sets[1]}_over_${sets[0]}`]: {
      ms_per_step: ratio("ms_per_step"),
      dispatches_per_step: ratio("dispatches_per_step"),
      host_ms_per_step: ratio("host_ms_per_step"),
    },
  };
}

/** One kernel set's figures. */
async function timeSteps(args: string[]): Promise<Record<string, unknown>> {
  const { values } = parseArgs({
    args,
    options: {
      model: { type: "string", default: "lenet" },
      threads: { type: "string" },
      backend: { type: "string", default: "auto" },
      adapter: { type: "string" },
      "batch-size": { type: "string", default: "64" },
      steps: { type: "string", default: "20" },
      warmup: { type: "string", default: "3" },
      "img-size": { type: "string" },
      freeze: { type: "boolean", default: false },
      kernels: { type: "string", default: "ours" },
      json: { type: "boolean", default: false },
    },
  });
  const kernels = values.kernels as "ours" | "stock";
  setWasmKernels(kernels);
  setWebGpuKernels(kernels);
  if (values.threads !== undefined) await setWasmThreads(Number(values.threads));
  const backend = await selectBackend(parseBackendChoice(values.backend!), {
    adapter: values.adapter === undefined ? undefined : parseAdapterChoice(values.adapter),
    log: (line) => console.error(line),
  });
  const [defaultSide, channels] = DEFAULT_SIZE[values.model!] ?? [32, 3];
  const side = Number(values["img-size"] ?? defaultSide);
  const batch = Number(values["batch-size"]);
  const model = createModel(values.model!, {
    inputShape: [side, side, channels],
    numClasses: 10,
    seed: 0,
  });
  if (values.freeze) freeze(model); // all but the classifier, as fine-tuning does
  // The optimizer training runs use (PyTorch's Adam defaults; on wasm, one pass per variable).
  const optimizer = createOptimizer({ name: "adam", lr: 1e-3 });
  const step = createTrainStep(model, optimizer.inner, 10);
  const x = tf.randomNormal([batch, side, side, channels], 0, 1, "float32", 1) as tf.Tensor4D;
  const y = tf.tensor1d(Int32Array.from({ length: batch }, (_, i) => i % 10), "int32");
  const warmup = Number(values.warmup);
  if (!Number.isInteger(warmup) || warmup < 0) {
    throw new RangeError(`--warmup must be a whole number, got ${values.warmup}`);
  }
  for (let i = 0; i < warmup; i++) {
    const loss = step(x, y);
    await loss.data();
    loss.dispose();
  }
  const steps = Number(values.steps);
  const dispatches = countDispatches();
  const submits = timeSubmits();
  let waitMs = 0;
  const start = performance.now();
  for (let i = 0; i < steps; i++) {
    const loss = step(x, y);
    const waitStart = performance.now();
    await loss.data();
    waitMs += performance.now() - waitStart;
    loss.dispose();
  }
  const seconds = (performance.now() - start) / 1000;
  const dispatched = dispatches.stop();
  const submitMs = submits.stop();
  const hostMs = (seconds * 1000 - submitMs - waitMs) / steps;
  tf.dispose([x, y]);
  optimizer.inner.dispose();
  model.dispose();
  return {
    framework: `denovision (deno ${Deno.version.deno}, tfjs ${tf.version_core})`,
    model: values.model,
    backend: backend.name,
    ...(backend.name === "wasm" ? { threads: wasmThreads() } : {}),
    ...(backend.adapter === undefined ? {} : { adapter: backend.adapter }),
    input: [side, side, channels],
    batch_size: batch,
    frozen: values.freeze,
    kernels: values.kernels,
    ms_per_step: Math.round((seconds / steps) * 10000) / 10,
    ...(backend.name === "webgpu"
      ? {
        dispatches_per_step: Math.round(dispatched / steps),
        host_ms_per_step: Math.round(hostMs * 10) / 10,
      }
      : {}),
    images_per_s: Math.round((batch * steps) / seconds),
    peak_rss_mb: Math.round(Deno.memoryUsage().rss / 2 ** 20),
  };
}

if (import.meta.main) console.log(JSON.stringify(await runTrainStepBench()));
