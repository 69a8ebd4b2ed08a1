/**
 * denovision: train, evaluate and benchmark image classifiers (CNNs) from TypeScript, on any GPU
 * through Deno's WebGPU or on the CPU through a wasm backend completed for training.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { selectBackend } from "./mod.ts";
 * const backend = await selectBackend("auto", { log: () => {} });
 * assert.ok(backend.name.length > 0);
 * ```
 *
 * @module
 */
export * from "./lib/backend/mod.ts";
export * from "./lib/decode/mod.ts";
export * from "./lib/datasets/mod.ts";
export * from "./lib/transforms/mod.ts";
export * from "./lib/loader/mod.ts";
export * from "./lib/models/mod.ts";
export * from "./lib/train/mod.ts";
export * from "./lib/compress/mod.ts";
export * from "./lib/metrics/mod.ts";
export * from "./lib/io/mod.ts";
export * from "./lib/pretrained/mod.ts";
export * from "./lib/export/mod.ts";
export * from "./lib/run/mod.ts";
export * from "./lib/serve/mod.ts";
export * from "./lib/sweep/mod.ts";
export * from "./lib/explain/mod.ts";
export * from "./lib/web/mod.ts";

/**
 * TensorFlow.js types that this API takes and returns (models, tensors, optimizers, IO
 * handlers), re-exported so callers can name them without importing tfjs themselves. They are
 * tfjs's own types, unchanged; tfjs's `Optimizer` is re-exported as `TfjsOptimizer` beside this
 * package's {@linkcode Optimizer}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createModel, type LayersModel, type Tensor, useBackend } from "./mod.ts";
 * await useBackend("cpu");
 * const model: LayersModel = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10 });
 * const weights: Tensor[] = model.getWeights();
 * assert.ok(weights.length > 0);
 * model.dispose();
 * ```
 */
export type { LayersModel } from "@tensorflow/tfjs-layers";
export type {
  NamedTensorMap,
  Optimizer as TfjsOptimizer,
  Scalar,
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor4D,
  Variable,
} from "@tensorflow/tfjs-core";
export type { IOHandler } from "@tensorflow/tfjs-core/dist/io/types";
