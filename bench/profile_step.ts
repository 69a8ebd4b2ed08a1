// Where a training step's time goes, kernel by kernel: `tf.profile` of one step (forward,
// cross-entropy, backward, Adam update) after warm-up, on random images, with the time per step
// over several steps first. Prints a table (kernel, calls, ms), largest first.
// Run: deno task bench:profile [--model compact-cnn] [--batch-size 64] [--threads N]
//      [--steps 10] [--backend wasm]
// Kernel times nest: a custom-gradient op ("unnamed scope") includes the kernels it runs.
import * as tf from "@tensorflow/tfjs-core";
import {
  createModel,
  createOptimizer,
  createTrainStep,
  parseBackendChoice,
  selectBackend,
  setWasmThreads,
  wasmThreads,
} from "../mod.ts";
import { type FlagSpecs, formatHelp, parseArgs, runScript } from "../cli/_args.ts";

const FLAGS: FlagSpecs = {
  model: { type: "string", description: "zoo model to profile", default: "compact-cnn" },
  "batch-size": { type: "string", description: "images per step", default: "64" },
  steps: { type: "string", description: "timed steps (after 3 warm-up steps)", default: "10" },
  threads: { type: "string", description: "wasm threads (default: the backend's choice)" },
  backend: { type: "string", description: "auto, wasm, webgpu or cpu", default: "wasm" },
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
  if (values.threads !== undefined) await setWasmThreads(Number(values.threads));
  await selectBackend(parseBackendChoice(values.backend as string));
  const model = values.model as string;
  const [side, channels] = INPUT[model] ?? [32, 3];
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
  const info = await tf.profile(() => {
    step(x, y).dispose();
  });
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
  const kernels = [...byName.values()].sort((a, b) => b.ms - a.ms);
  return { msPerStep, threads: wasmThreads(), kernels };
}

if (import.meta.main) {
  Deno.exit(
    await runScript(Deno.args, HELP, async (args) => {
      const { msPerStep, threads, kernels } = await profileStep(args);
      const calls = kernels.reduce((sum, k) => sum + k.calls, 0);
      console.log(
        `${msPerStep.toFixed(1)} ms a step (${threads} wasm threads), ${calls} kernel calls`,
      );
      for (
        const { kernel, calls, ms } of kernels.slice(0, Number(Deno.env.get("PROFILE_ROWS") ?? 20))
      ) {
        console.log(
          `${kernel.padEnd(30)} ${String(calls).padStart(4)} ${ms.toFixed(2).padStart(9)} ms`,
        );
      }
    }),
  );
}
