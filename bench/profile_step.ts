// Where a training step's time goes, kernel by kernel: `tf.profile` of one step (forward,
// cross-entropy, backward, Adam update) after warm-up, on random images, with the time per step
// over several steps first. Prints a table (kernel, calls, ms), largest first.
// Run: deno task bench:profile [--model compact-cnn] [--batch-size 64] [--threads N]
//      [--steps 10] [--backend wasm] [--img-size N] [--kernels ours|stock] [--rows 20]
// On webgpu each kernel's row also counts the compute dispatches it made (the optimizer's own
// dispatches, outside any kernel, on a row of their own); the times are the adapter's
// timestamp queries where it has them.
// Kernel times nest: a custom-gradient op ("unnamed scope") includes the kernels it runs.
import * as tf from "@tensorflow/tfjs-core";
import {
  createModel,
  createOptimizer,
  createTrainStep,
  parseBackendChoice,
  selectBackend,
  setWasmKernels,
  setWasmThreads,
  setWebGpuKernels,
  wasmThreads,
} from "../mod.ts";
import { type FlagSpecs, formatHelp, parseArgs, runScript, UsageError } from "../cli/_args.ts";

const FLAGS: FlagSpecs = {
  model: { type: "string", description: "zoo model to profile", default: "compact-cnn" },
  "batch-size": { type: "string", description: "images per step", default: "64" },
  steps: { type: "string", description: "timed steps (after 3 warm-up steps)", default: "10" },
  threads: { type: "string", description: "wasm threads (default: the backend's choice)" },
  backend: { type: "string", description: "auto, wasm, webgpu or cpu", default: "wasm" },
  "img-size": { type: "string", description: "input side (default: the model's own)" },
  kernels: {
    type: "string",
    description: "ours or stock (the tfjs backends' own)",
    default: "ours",
  },
  rows: { type: "string", description: "kernels to list", default: "20" },
  help: { type: "boolean", short: "h", description: "show this help" },
};

const HELP = formatHelp(
  "deno task bench:profile [--model compact-cnn] [--batch-size 64] [--steps 10] [--threads N]",
  "Where a training step's time goes: ms per step over --steps steps on random images, then\n" +
    "tf.profile of one more step as a table of kernels (calls, ms), largest first. Kernel times\n" +
    'nest: a custom-gradient op ("unnamed scope") includes the kernels it runs.',
  FLAGS,
  [
    "deno task bench:profile",
    "deno task bench:profile --model lenet --batch-size 32 --steps 5",
    "deno task bench:profile --model mobilenetv2 --threads 2 --steps 3",
    "deno task bench:profile --backend webgpu --model resnet18 --batch-size 8 --steps 1",
  ],
);

/** The input side and channels of each model's benchmark input (as `deno task bench train`). */
const INPUT: Record<string, [number, number]> = {
  lenet: [28, 1],
  "small-cnn": [28, 1],
  mobilenetv2: [224, 3],
};

/** One row of the profile: a kernel's name, its calls in one step and their total time. */
export interface KernelTime {
  kernel: string;
  calls: number;
  ms: number;
  /** WebGPU compute dispatches the kernel's calls made (webgpu only). */
  dispatches?: number;
}

/** Row name of the dispatches made outside any kernel (the optimizer's own shaders). */
const OUTSIDE = "(outside kernels)";

/**
 * Counts each webgpu kernel's compute dispatches (the innermost kernel running gets them) from
 * now until `stop`, by wrapping the registered kernels and GPUComputePassEncoder's dispatch.
 */
function countDispatchesByKernel(): { stop(): Map<string, number> } {
  const counts = new Map<string, number>();
  const running: string[] = [];
  const configs = tf.getKernelsForBackend("webgpu");
  const originals = configs.map((config) => config.kernelFunc);
  configs.forEach((config, i) => {
    const original = originals[i];
    (config as { kernelFunc: tf.KernelFunc }).kernelFunc = (args) => {
      running.push(config.kernelName);
      try {
        return original(args);
      } finally {
        running.pop();
      }
    };
  });
  const encoder = GPUComputePassEncoder.prototype;
  const dispatch = encoder.dispatchWorkgroups;
  encoder.dispatchWorkgroups = function (this: GPUComputePassEncoder, ...args) {
    const name = running.at(-1) ?? OUTSIDE;
    counts.set(name, (counts.get(name) ?? 0) + 1);
    return dispatch.apply(this, args);
  };
  return {
    stop() {
      encoder.dispatchWorkgroups = dispatch;
      configs.forEach((config, i) => {
        (config as { kernelFunc: tf.KernelFunc }).kernelFunc = originals[i];
      });
      return counts;
    },
  };
}

/**
 * Profiles one training step of `--model` after `--steps` timed steps (3 warm-up steps first);
 * returns ms per step and the kernels, largest first.
 *
 * @example
 * ```ts ignore
 * import { profileStep } from "./profile_step.ts";
 * const { msPerStep, kernels } = await profileStep(["--model", "lenet", "--steps", "2"]);
 * console.log(msPerStep, kernels[0]);
 * ```
 */
export async function profileStep(
  args: string[],
): Promise<{ msPerStep: number; threads: number; kernels: KernelTime[] }> {
  const { values } = parseArgs(args, FLAGS);
  const kernelSet = values.kernels as string;
  if (kernelSet !== "ours" && kernelSet !== "stock") {
    throw new UsageError(`--kernels: expected ours or stock, got '${kernelSet}'`);
  }
  setWasmKernels(kernelSet);
  setWebGpuKernels(kernelSet);
  if (values.threads !== undefined) await setWasmThreads(Number(values.threads));
  await selectBackend(parseBackendChoice(values.backend as string));
  const model = values.model as string;
  const [defaultSide, channels] = INPUT[model] ?? [32, 3];
  const side = values["img-size"] === undefined ? defaultSide : Number(values["img-size"]);
  const batch = Number(values["batch-size"]);
  const net = createModel(model, { inputShape: [side, side, channels], numClasses: 10, seed: 0 });
  // The optimizer training runs use (PyTorch's Adam defaults; on wasm, one pass per variable).
  const optimizer = createOptimizer({ name: "adam", lr: 1e-3 });
  const step = createTrainStep(net, optimizer.inner, 10);
  const x = tf.randomNormal([batch, side, side, channels], 0, 1, "float32", 0) as tf.Tensor4D;
  const y = tf.tensor1d(Int32Array.from({ length: batch }, (_, i) => i % 10), "int32");
  for (let i = 0; i < 3; i++) step(x, y).dispose();
  const steps = Number(values.steps);
  const start = performance.now();
  for (let i = 0; i < steps; i++) {
    const loss = step(x, y);
    await loss.data();
    loss.dispose();
  }
  const msPerStep = (performance.now() - start) / steps;
  const webgpu = tf.getBackend() === "webgpu";
  const counting = webgpu ? countDispatchesByKernel() : undefined;
  const info = await tf.profile(() => {
    step(x, y).dispose();
  });
  const dispatches = counting?.stop();
  const byName = new Map<string, KernelTime>();
  for (const k of info.kernels) {
    const row = byName.get(k.name) ?? { kernel: k.name, calls: 0, ms: 0 };
    row.calls++;
    row.ms += k.kernelTimeMs as number;
    byName.set(k.name, row);
  }
  tf.dispose([x, y]);
  optimizer.inner.dispose();
  net.dispose();
  for (const [name, count] of dispatches ?? []) {
    const row = byName.get(name) ?? { kernel: name, calls: 0, ms: 0 };
    row.dispatches = count;
    byName.set(name, row);
  }
  const kernels = [...byName.values()].sort((a, b) => b.ms - a.ms);
  return { msPerStep, threads: wasmThreads(), kernels };
}

if (import.meta.main) {
  Deno.exit(
    await runScript(Deno.args, HELP, async (args) => {
      const { msPerStep, threads, kernels } = await profileStep(args);
      const calls = kernels.reduce((sum, k) => sum + k.calls, 0);
      const dispatched = kernels.reduce((sum, k) => sum + (k.dispatches ?? 0), 0);
      const gpu = kernels.some((k) => k.dispatches !== undefined);
      console.log(
        `${msPerStep.toFixed(1)} ms a step (${threads} wasm threads), ${calls} kernel calls` +
          (gpu ? `, ${dispatched} dispatches` : ""),
      );
      const { values } = parseArgs(args, FLAGS);
      console.log(
        `${"kernel".padEnd(36)} calls${gpu ? " dispatches" : ""}        ms`,
      );
      for (const { kernel, calls, ms, dispatches } of kernels.slice(0, Number(values.rows))) {
        console.log(
          `${kernel.padEnd(36)} ${String(calls).padStart(5)}` +
            (gpu ? ` ${String(dispatches ?? 0).padStart(10)}` : "") +
            ` ${ms.toFixed(2).padStart(9)}`,
        );
      }
    }),
  );
}
