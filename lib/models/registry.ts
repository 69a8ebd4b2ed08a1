/**
 * Models are created by name, like timm's `create_model`: each architecture file registers a
 * builder here, and listing the registry is how the CLI's `--help` knows the names.
 *
 * @module
 */
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { withSeededMathRandom } from "../_internal/rng.ts";

/** What every builder receives: the input shape comes from the dataset, not the model. */
export interface ModelOptions {
  /** Input shape [height, width, channels]. */
  inputShape: [number, number, number];
  /** Number of classes; the model outputs that many logits. */
  numClasses: number;
  /** Seeds the initial weights: the same seed builds the same weights, for any model. */
  seed?: number;
}

/** A function that builds a fresh, randomly initialised model. */
export type ModelBuilder = (options: ModelOptions) => LayersModel;

/** A registry entry. */
export interface ModelEntry {
  /** Registry name, e.g. `resnet18`. */
  name: string;
  /** One line about the architecture. */
  description: string;
  /** Builds the model. */
  build: ModelBuilder;
}

const registry = new Map<string, ModelEntry>();

/**
 * Adds a model to the registry; the name must be new.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend/mod.ts";
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import { createModel, registerModel } from "./registry.ts";
 * await useBackend("wasm");
 * registerModel("linear-example", "a linear classifier", ({ inputShape, numClasses }) =>
 *   tfl.sequential({ layers: [
 *     tfl.layers.flatten({ inputShape }),
 *     tfl.layers.dense({ units: numClasses }),
 *   ] }));
 * const model = createModel("linear-example", { inputShape: [4, 4, 1], numClasses: 3 });
 * model.dispose();
 * ```
 */
export function registerModel(name: string, description: string, build: ModelBuilder): void {
  if (registry.has(name)) throw new Error(`model '${name}' is already registered`);
  registry.set(name, { name, description, build });
}

/**
 * Builds the model registered as `name`.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend/mod.ts";
 * import assert from "node:assert/strict";
 * import "./lenet.ts";
 * import { createModel } from "./registry.ts";
 * await useBackend("wasm");
 * const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10 });
 * assert.deepEqual(model.outputs[0].shape, [null, 10]);
 * model.dispose();
 * ```
 */
export function createModel(name: string, options: ModelOptions): LayersModel {
  const entry = registry.get(name);
  if (entry === undefined) {
    throw new RangeError(
      `unknown model '${name}'; available: ${[...registry.keys()].sort().join(", ")}`,
    );
  }
  if (options.seed === undefined) return entry.build(options);
  return withSeededMathRandom([options.seed, 0x1a17], () => entry.build(options));
}

/**
 * The registered models, sorted by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import "./lenet.ts";
 * import { listModels } from "./registry.ts";
 * assert.ok(listModels().some((entry) => entry.name === "lenet"));
 * ```
 */
export function listModels(): ModelEntry[] {
  return [...registry.values()].sort((a, b) => a.name.localeCompare(b.name));
}
