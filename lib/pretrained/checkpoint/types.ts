/**
 * What the checkpoint readers return: tensors as float32 with their stored dtype's name.
 *
 * @module
 */

/**
 * One tensor of a checkpoint, made contiguous and converted to float32.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TorchTensor } from "./types.ts";
 * const steps: TorchTensor = { dtype: "int64", shape: [], data: new Float32Array([7]) };
 * assert.equal(steps.data.length, steps.shape.reduce((a, b) => a * b, 1));
 * ```
 */
export interface TorchTensor {
  /**
   * torch dtype name of the stored data: "float32" | "float16" | "bfloat16" | "float64" |
   * "int64" | "int32" | "int16" | "int8" | "uint8" | "bool".
   */
  dtype: string;
  /** The tensor's size; `[]` for a scalar. */
  shape: number[];
  /** The values, contiguous row-major (C order), converted to float32 (ints and bools too). */
  data: Float32Array;
}

/**
 * A model's weights by parameter or buffer name, in the order the file stores them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StateDict } from "./types.ts";
 * const weights: StateDict = new Map([
 *   ["fc.bias", { dtype: "float32", shape: [2], data: new Float32Array([0.5, -1]) }],
 * ]);
 * assert.deepEqual([...weights.keys()], ["fc.bias"]);
 * ```
 */
export type StateDict = Map<string, TorchTensor>;

/**
 * Options for the checkpoint readers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckpointError, readStateDict, type ReadCheckpointOptions } from "./mod.ts";
 * const options: ReadCheckpointOptions = { source: "resnet18.pth" };
 * assert.throws(() => readStateDict(new Uint8Array(0), options), CheckpointError);
 * ```
 */
export interface ReadCheckpointOptions {
  /** The file name errors name. Default: none (messages carry no file name). */
  source?: string;
}
