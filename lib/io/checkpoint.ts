/**
 * Checkpoints: model weights (batch-norm statistics included), optimizer state, and the run's
 * state (epochs done, config, metrics, schedule), written atomically. Loading one into a fresh
 * model and optimizer continues training exactly where it stopped.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { join } from "../_internal/path.ts";
import type { FitProgress } from "../train/fit.ts";
import type { Optimizer } from "../train/optimizers.ts";
import { replaceDirAtomic } from "./_atomic.ts";

/** What a checkpoint records besides tensors. */
export interface CheckpointState {
  /** Epochs completed; resume with `initialEpoch` set to this. */
  epoch: number;
  /** The resolved run configuration. */
  config?: unknown;
  /** Metrics of the last epoch. */
  metrics?: Record<string, number | undefined>;
  /** A schedule's state (ReduceLROnPlateau). */
  schedule?: Record<string, number>;
  /** Where training stands, mid-epoch included: pass it to `fit` as `resume`. */
  progress?: FitProgress;
}

interface Stored extends CheckpointState {
  version: 1;
  optimizerNames: string[];
  adamAccumulators?: [number, number];
}

/** Tensors by position (names differ between two builds of the same model). */
async function writeTensors(dir: string, name: string, tensors: tf.Tensor[]) {
  const { data, specs } = await tf.io.encodeWeights(
    tensors.map((tensor, i) => ({ name: String(i), tensor })),
  );
  await Deno.writeFile(join(dir, `${name}.bin`), new Uint8Array(data as ArrayBuffer));
  await Deno.writeTextFile(join(dir, `${name}.json`), JSON.stringify(specs));
}

async function readTensors(dir: string, name: string): Promise<tf.Tensor[]> {
  const specs: tf.io.WeightsManifestEntry[] = JSON.parse(
    await Deno.readTextFile(join(dir, `${name}.json`)),
  );
  const bytes = await Deno.readFile(join(dir, `${name}.bin`));
  const map = tf.io.decodeWeights(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    specs,
  );
  return specs.map((spec) => map[spec.name]);
}

type AdamInternals = { accBeta1?: tf.Variable; accBeta2?: tf.Variable };

/**
 * Saves a checkpoint folder (`dir` is replaced atomically: a crash leaves the old one whole).
 *
 * @example
 * ```ts ignore
 * import { saveCheckpoint } from "./checkpoint.ts";
 * await saveCheckpoint("runs/mnist/checkpoints/last", { model, optimizer, state: { epoch: 3 } });
 * ```
 */
export async function saveCheckpoint(
  dir: string,
  { model, optimizer, state }: { model: LayersModel; optimizer: Optimizer; state: CheckpointState },
): Promise<void> {
  const optimizerWeights = await optimizer.getWeights();
  const adam = optimizer.inner as unknown as AdamInternals;
  const stored: Stored = {
    version: 1,
    ...state,
    optimizerNames: optimizerWeights.map((w) => w.name),
    adamAccumulators: adam.accBeta1 && adam.accBeta2
      ? [adam.accBeta1.dataSync()[0], adam.accBeta2.dataSync()[0]]
      : undefined,
  };
  try {
    await replaceDirAtomic(dir, async (temp) => {
      await writeTensors(temp, "model", model.getWeights());
      await writeTensors(temp, "optimizer", optimizerWeights.map((w) => w.tensor));
      await Deno.writeTextFile(join(temp, "state.json"), JSON.stringify(stored, null, 1));
    });
  } finally {
    // tfjs makes a fresh scalar for the step count on every getWeights(); the moments are the
    // optimizer's own variables and stay.
    tf.dispose(optimizerWeights.map((w) => w.tensor).filter((t) => !(t instanceof tf.Variable)));
  }
}

/**
 * Restores a checkpoint into `model` and `optimizer` (same architecture and optimizer kind) and
 * returns its state.
 *
 * @example
 * ```ts ignore
 * import { loadCheckpoint } from "./checkpoint.ts";
 * const state = await loadCheckpoint("runs/mnist/checkpoints/last", { model, optimizer });
 * await fit(model, loader, { ...options, optimizer, initialEpoch: state.epoch });
 * ```
 */
export async function loadCheckpoint(
  dir: string,
  { model, optimizer }: { model: LayersModel; optimizer: Optimizer },
): Promise<CheckpointState> {
  let stored: Stored;
  try {
    stored = JSON.parse(await Deno.readTextFile(join(dir, "state.json")));
  } catch (error) {
    throw new Error(`${dir}: not a checkpoint (${error instanceof Error ? error.message : error})`);
  }
  const weights = await readTensors(dir, "model");
  const expected = model.getWeights().length;
  if (weights.length !== expected) {
    tf.dispose(weights);
    throw new Error(`${dir}: holds ${weights.length} weight tensors, the model has ${expected}`);
  }
  model.setWeights(weights);
  tf.dispose(weights);
  const state = await readTensors(dir, "optimizer");
  await optimizer.setWeights(
    state.map((tensor, i) => ({ name: stored.optimizerNames[i], tensor })),
  );
  tf.dispose(state);
  const adam = optimizer.inner as unknown as AdamInternals;
  if (stored.adamAccumulators && adam.accBeta1 && adam.accBeta2) {
    // tfjs recomputes these as β^t, which rounds differently from the running product.
    adam.accBeta1.assign(tf.scalar(stored.adamAccumulators[0]));
    adam.accBeta2.assign(tf.scalar(stored.adamAccumulators[1]));
  }
  const { version: _version, optimizerNames: _names, adamAccumulators: _acc, ...rest } = stored;
  return rest;
}
