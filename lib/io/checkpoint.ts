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
import { recoverDir, replaceDirAtomic } from "./_atomic.ts";

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

/** One tfjs optimizer's share of the stored optimizer tensors. */
interface StoredPart {
  names: string[];
  adamAccumulators?: [number, number];
}

interface Stored extends CheckpointState {
  version: 2;
  /** The default optimizer, then one per param group. */
  optimizerParts: StoredPart[];
  /** Param groups by position in the model's variables (names differ between builds). */
  paramGroups: { indices: number[]; lrScale: number }[];
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

/**
 * The model's variables layer by layer. `model.getWeights()` lists trainable weights first, so
 * its order changes when layers are frozen or unfrozen; this order does not.
 */
function modelVariables(model: LayersModel) {
  return model.layers.flatMap((layer) => layer.weights);
}

/** The tf.Variable names behind {@linkcode modelVariables}, as optimizers know them. */
function variableNames(model: LayersModel): string[] {
  return modelVariables(model).map((v) => (v.read() as tf.Variable).name);
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
  const parts: StoredPart[] = [];
  const optimizerWeights: { name: string; tensor: tf.Tensor }[] = [];
  for (const inner of optimizer.innerOptimizers) {
    const weights = await inner.getWeights();
    const adam = inner as unknown as AdamInternals;
    parts.push({
      names: weights.map((w) => w.name),
      adamAccumulators: adam.accBeta1 && adam.accBeta2
        ? [adam.accBeta1.dataSync()[0], adam.accBeta2.dataSync()[0]]
        : undefined,
    });
    optimizerWeights.push(...weights);
  }
  const position = new Map(variableNames(model).map((name, i) => [name, i]));
  const stored: Stored = {
    version: 2,
    ...state,
    optimizerParts: parts,
    paramGroups: optimizer.paramGroups.map(({ names, lrScale }) => ({
      indices: names.map((name) => position.get(name) ?? -1),
      lrScale,
    })),
  };
  try {
    await replaceDirAtomic(dir, async (temp) => {
      await writeTensors(temp, "model", modelVariables(model).map((v) => v.read()));
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
  await recoverDir(dir, "state.json"); // a crash mid-save leaves the old or new one aside
  let stored: Stored;
  try {
    stored = JSON.parse(await Deno.readTextFile(join(dir, "state.json")));
  } catch (error) {
    throw new Error(`${dir}: not a checkpoint (${error instanceof Error ? error.message : error})`);
  }
  const weights = await readTensors(dir, "model");
  const variables = modelVariables(model);
  const mismatch = weights.length !== variables.length
    ? `holds ${weights.length} weight tensors, the model has ${variables.length}`
    : variables.findIndex((v, i) => v.shape.join() !== weights[i].shape.join());
  if (typeof mismatch === "string" || mismatch >= 0) {
    tf.dispose(weights);
    const detail = typeof mismatch === "string"
      ? mismatch
      : `weight ${mismatch} (${variables[mismatch].name}) has another shape`;
    throw new Error(`${dir}: ${detail}; is it a checkpoint of this model?`);
  }
  variables.forEach((v, i) => v.write(weights[i]));
  tf.dispose(weights);
  if (stored.version !== 2) {
    throw new Error(`${dir}: checkpoint version ${stored.version} is not 2`);
  }
  const current = variableNames(model);
  const known = new Set(optimizer.paramGroups.map((group) => group.names.join("\n")));
  for (const { indices, lrScale } of stored.paramGroups) {
    const names = indices.map((i) => current[i]);
    if (!known.has(names.join("\n"))) optimizer.addParamGroup(names, lrScale);
  }
  const state = await readTensors(dir, "optimizer");
  const inners = optimizer.innerOptimizers;
  let offset = 0;
  for (const [i, part] of stored.optimizerParts.entries()) {
    const tensors = state.slice(offset, offset + part.names.length);
    offset += part.names.length;
    await inners[i].setWeights(tensors.map((tensor, k) => ({ name: part.names[k], tensor })));
    const adam = inners[i] as unknown as AdamInternals;
    if (part.adamAccumulators && adam.accBeta1 && adam.accBeta2) {
      // tfjs recomputes these as β^t, which rounds differently from the running product.
      adam.accBeta1.assign(tf.scalar(part.adamAccumulators[0]));
      adam.accBeta2.assign(tf.scalar(part.adamAccumulators[1]));
    }
  }
  tf.dispose(state);
  const { version: _version, optimizerParts: _parts, paramGroups: _groups, ...rest } = stored;
  return rest;
}
