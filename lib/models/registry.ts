/**
 * Models are created by name, like timm's `create_model`: each architecture file registers a
 * builder here, and listing the registry is how the CLI's `--help` knows the names.
 *
 * @module
 */
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { withSeededMathRandom } from "../_internal/rng.ts";

/**
 * Which stem an ImageNet-style architecture (ResNets, MobileNets, EfficientNet) builds:
 * "imagenet" is torchvision's exact layout at any input size; "cifar" the small-image adaptation
 * (ResNets: a 3×3 stride-1 conv and no max-pool; MobileNets and EfficientNet: stride 1 in the
 * stem and in the first strided stage); "auto" picks "cifar" for inputs of 64 px or less.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import "./resnet.ts";
 * import { createModel, type Stem } from "./registry.ts";
 * await useBackend("wasm");
 * const stem: Stem = "imagenet"; // torchvision's 7×7 conv and max-pool, even at 32 px
 * const model = createModel("resnet18", { inputShape: [32, 32, 3], numClasses: 10, stem });
 * assert.deepEqual(model.getLayer("conv1").getWeights()[0].shape, [7, 7, 3, 64]);
 * model.dispose();
 * ```
 */
export type Stem = "auto" | "imagenet" | "cifar";

/**
 * What every builder receives: the input shape comes from the dataset, not the model.
 *
 * @example
 * ```ts
 * import type { ModelOptions } from "./registry.ts";
 * const options: ModelOptions = { inputShape: [32, 32, 3], numClasses: 10, seed: 1 };
 * ```
 */
export interface ModelOptions {
  /** Input shape [height, width, channels]. */
  inputShape: [number, number, number];
  /** Number of classes; the model outputs that many logits. */
  numClasses: number;
  /** Seeds the initial weights: the same seed builds the same weights, for any model. */
  seed?: number;
  /**
   * The stem of ImageNet-style architectures (see {@linkcode Stem}); others ignore it.
   * Default: "auto".
   */
  stem?: Stem;
}

/**
 * A function that builds a fresh, randomly initialised model.
 *
 * @example
 * ```ts
 * import * as tfl from "@tensorflow/tfjs-layers";
 * import type { ModelBuilder } from "./registry.ts";
 * const linear: ModelBuilder = ({ inputShape, numClasses }) =>
 *   tfl.sequential({ layers: [
 *     tfl.layers.flatten({ inputShape }),
 *     tfl.layers.dense({ units: numClasses }),
 *   ] });
 * ```
 */
export type ModelBuilder = (options: ModelOptions) => LayersModel;

/**
 * A registry entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import "./lenet.ts";
 * import { listModels, type ModelEntry } from "./registry.ts";
 * const entry: ModelEntry = listModels().find((m) => m.name === "lenet")!;
 * assert.equal(typeof entry.build, "function");
 * ```
 */
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
