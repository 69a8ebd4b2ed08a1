// Internal: what predict and explain share: a model from --run or --pretrained, on the backend
// and threads the flags ask for, and the --top-k count.
import {
  openTorchvisionModel,
  openTrainedModel,
  selectBackend,
  type TrainedModel,
} from "../mod.ts";
import { type FlagSpecs, UsageError } from "./_args.ts";
import { ADAPTER_FLAG, adapterFlag, backendFlag } from "./_adapter.ts";
import { applyThreads, THREADS_FLAG } from "./_threads.ts";

/** `--run` / `--pretrained`: where the model comes from. */
export const SOURCE_FLAGS: FlagSpecs = {
  run: { type: "string", description: "run directory (or its model/ folder)" },
  pretrained: {
    type: "string",
    description: "instead of --run: torchvision:<name>, or a torchvision .pth/.safetensors file",
  },
};

/** `--backend`, `--adapter`, `--threads`: where the model computes. */
export const COMPUTE_FLAGS: FlagSpecs = {
  backend: { type: "string", description: "auto, webgpu, wasm or cpu", default: "auto" },
  adapter: ADAPTER_FLAG,
  threads: THREADS_FLAG,
};

type Values = Record<string, unknown>;

/** Exactly one of `--run` and `--pretrained`, or a UsageError. */
export function requireOneSource(values: Values): void {
  if ((values.run === undefined) === (values.pretrained === undefined)) {
    throw new UsageError("give either --run <run directory> or --pretrained <weights>");
  }
}

/** The `--top-k` value, a positive integer, or a UsageError. */
export function topKFlag(value: unknown): number {
  const k = Number(value);
  if (!Number.isInteger(k) || k < 1) throw new UsageError(`--top-k must be a positive integer`);
  return k;
}

/** Starts the backend the flags ask for, then opens the run or the torchvision weights. */
export async function openModelFromFlags(values: Values): Promise<TrainedModel> {
  await applyThreads(values.threads);
  await selectBackend(backendFlag(values.backend), {
    adapter: adapterFlag(values.adapter),
    log: (line) => console.error(line),
  });
  return values.run !== undefined
    ? await openTrainedModel(values.run as string)
    : await openTorchvisionModel(values.pretrained as string);
}
