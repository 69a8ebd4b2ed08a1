/**
 * Will a batch fit? On the wasm backend a training step lives in one WebAssembly heap that can
 * grow to 4 GiB and never shrinks, and running past it aborts the whole backend. Before the first
 * epoch, {@linkcode planMicroBatches} measures the peak tensor memory of a step of one and of two
 * images on the real model (a throwaway step that changes no weight, statistic or optimizer
 * state) and finds the largest micro-batch that fits, for gradient accumulation up to the batch
 * asked for.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { LayersModel } from "@tensorflow/tfjs-layers";
import { splitFrozen } from "../models/transfer.ts";
import { useLeanTraining } from "./_lean.ts";
import { batchStep } from "./_batch_step.ts";
import { crossEntropy } from "./losses.ts";
import { createOptimizer } from "./optimizers.ts";

/** The wasm heap's ceiling: 4 GiB less one 64 KiB page (emscripten's maximum). */
export const WASM_HEAP_LIMIT = 4 * 2 ** 30 - 2 ** 16;

/** What {@linkcode planMicroBatches} found. */
export interface MicroBatchPlan {
  /** Images per micro-batch (the batch itself when it fits). */
  microBatch: number;
  /** Micro-batches per optimizer step (1 when the batch fits). */
  accumulate: number;
  /** Estimated peak heap for a step of the whole batch, in bytes. */
  batchBytes: number;
  /** Estimated peak heap for a step of one micro-batch, in bytes. */
  microBytes: number;
  /** The heap limit planned against, in bytes. */
  limitBytes: number;
  /** What each image beyond the first adds to a step's peak tensor bytes (measured). */
  imageBytes: number;
}

/** Options for {@linkcode planMicroBatches}. */
export interface PlanOptions {
  /** The images per step asked for. */
  batchSize: number;
  /** Classes of the labels. */
  numClasses: number;
  /** Heap limit in bytes. Default: {@linkcode WASM_HEAP_LIMIT}. */
  limitBytes?: number;
  /** Fraction of the limit to plan for, leaving room for the allocator. Default: 0.8. */
  headroom?: number;
}

/** Thrown when not even one image's step fits: says what it needs and what the heap holds. */
export class MemoryLimitError extends Error {
  /** Always `MemoryLimitError`. */
  override name = "MemoryLimitError";
  /** Bytes one image's training step needs (measured, or estimated when `estimated`). */
  readonly neededBytes: number;
  /** The heap limit, in bytes. */
  readonly limitBytes: number;
  /** The part of the limit that was planned for (the limit less the allocator's headroom). */
  readonly budgetBytes: number;

  /** Creates the error; the message is built from the figures. */
  constructor(neededBytes: number, limitBytes: number, budgetBytes: number, estimated = false) {
    super(
      `one image's training step needs ${estimated ? "about " : ""}${gb(neededBytes)} GB, ` +
        `more than the wasm heap's ${gb(limitBytes)} GB`,
    );
    this.neededBytes = neededBytes;
    this.limitBytes = limitBytes;
    this.budgetBytes = budgetBytes;
  }
}

interface WasmHeap {
  wasm?: { HEAPU8?: Uint8Array };
}

interface TensorData {
  shape: number[];
  dtype: string;
  refCount: number;
}

/** The parts of tfjs-backend-wasm's backend that place and free tensor data. */
interface WasmStore {
  move(dataId: object, values: unknown, shape: number[], dtype: string, refCount: number): void;
  disposeData(dataId: object, force?: boolean): boolean;
  dataIdMap: { get(dataId: object): TensorData | undefined };
}

const bytesOf = (shape: readonly number[], dtype: string) =>
  shape.reduce((a, b) => a * b, 1) * (dtype === "complex64" ? 8 : 4);

/**
 * Runs `body` while counting the bytes of tensor data the wasm backend places and frees; returns
 * the peak of live bytes above where they stood at the start. The heap's own size is too coarse
 * for this: it grows in large steps and never shrinks.
 */
function peakTensorBytes(body: () => void): number {
  const store = tf.backend() as unknown as WasmStore;
  const { move, disposeData } = store;
  let live = 0;
  let peak = 0;
  store.move = function (dataId, values, shape, dtype, refCount) {
    live += bytesOf(shape, dtype);
    peak = Math.max(peak, live);
    return move.call(this, dataId, values, shape, dtype, refCount);
  };
  store.disposeData = function (dataId, force) {
    const data = this.dataIdMap.get(dataId);
    if (data !== undefined && (force || data.refCount <= 1)) {
      live -= bytesOf(data.shape, data.dtype);
    }
    return disposeData.call(this, dataId, force);
  };
  try {
    body();
  } finally {
    store.move = move;
    store.disposeData = disposeData;
  }
  return peak;
}

/**
 * The wasm heap's size in bytes now, or undefined on another backend.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { wasmHeapBytes } from "./memory.ts";
 * await useBackend("wasm");
 * assert.ok(wasmHeapBytes()! > 0);
 * ```
 */
export function wasmHeapBytes(): number | undefined {
  if (tf.getBackend() !== "wasm") return undefined;
  return (tf.backend() as unknown as WasmHeap).wasm?.HEAPU8?.buffer.byteLength;
}

/**
 * Runs one throwaway step of `n` images: gradients computed and applied at lr 0, then every weight
 * (trainable ones too) and statistic written back as it was.
 *
 * Restoring the trainable weights is not a formality: a step at lr 0 still writes w − 0·g, which
 * is NaN wherever a gradient overflowed. And gradients can overflow here that never do in
 * training: a batch norm over a constant input has zero variance, so its input gradient is
 * scaled by γ/√ε (316 at PyTorch's ε = 1e-5) per layer: through MobileNetV2's stack of them, zero
 * images took the gradient past float32's 3.4e38. So the probe's images are normal noise (no channel constant), and
 * whatever its gradients are, the model comes out of it unchanged.
 */
function throwawayStep(model: LayersModel, n: number, numClasses: number) {
  const saved = model.weights.map((w) => tf.clone(w.read()));
  const optimizer = createOptimizer({ name: "sgd", lr: 0 });
  const [h, w, c] = (model.inputs[0].shape as number[]).slice(1);
  const images = tf.randomNormal([n, h, w, c], 0, 1, "float32", 1) as tf.Tensor4D;
  const labels = tf.tensor1d(Array.from({ length: n }, (_, i) => i % numClasses), "int32");
  try {
    const { loss, correct } = batchStep(
      {
        model,
        optimizer,
        numClasses,
        loss: (logits, targets) => crossEntropy(logits, targets),
        seed: 0,
        accumulate: 1,
        split: splitFrozen(model),
      },
      images,
      labels,
      0,
      0,
    );
    tf.dispose([loss, correct]);
  } finally {
    model.weights.forEach((weight, i) => weight.write(saved[i]));
    tf.dispose([images, labels, ...saved]);
    optimizer.dispose();
  }
}

/**
 * The largest micro-batch of `batchSize` whose training step fits the wasm heap, measured on
 * `model` itself; undefined on other backends (their memory is not one fixed heap). Throws a
 * {@linkcode MemoryLimitError} when one image does not fit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { useBackend } from "../backend/mod.ts";
 * import { createModel } from "../models/mod.ts";
 * import { planMicroBatches } from "./memory.ts";
 * await useBackend("wasm");
 * const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10 });
 * const plan = planMicroBatches(model, { batchSize: 64, numClasses: 10 })!;
 * assert.equal(plan.accumulate, 1); // LeNet's step is small
 * model.dispose();
 * ```
 */
export function planMicroBatches(
  model: LayersModel,
  options: PlanOptions,
): MicroBatchPlan | undefined {
  if (wasmHeapBytes() === undefined) return undefined;
  useLeanTraining();
  const limitBytes = options.limitBytes ?? WASM_HEAP_LIMIT;
  const budget = limitBytes * (options.headroom ?? 0.8);
  // A probe must not itself run past the heap (that aborts the backend): first a cautious
  // estimate from the layers' output sizes (a step keeps about twice them; 2.5× is the guess).
  const guess = 2.5 * activationBytes(model);
  if (wasmHeapBytes()! + guess > budget) {
    throw new MemoryLimitError(guess, limitBytes, budget, true);
  }
  // Tensor data grows with the batch; kernels' own buffers and the allocator's slack do not much.
  // So: the heap as two images left it, plus what each further image adds to the tensors' peak.
  const peakOne = peakTensorBytes(() => throwawayStep(model, 1, options.numClasses));
  const twoFit = wasmHeapBytes()! + 2 * Math.max(guess, peakOne) <= budget;
  const peakTwo = twoFit
    ? peakTensorBytes(() => throwawayStep(model, 2, options.numClasses))
    : 2 * peakOne; // no room to measure a second image: assume it costs as much as the first
  const perImage = Math.max(peakTwo - peakOne, 1);
  const heapTwo = wasmHeapBytes()!;
  const one = Math.max(heapTwo - perImage, peakOne);
  const bytesFor = (n: number) => one + (n - 1) * perImage;
  const batchBytes = bytesFor(options.batchSize);
  if (batchBytes <= budget) {
    return {
      microBatch: options.batchSize,
      accumulate: 1,
      batchBytes,
      microBytes: batchBytes,
      limitBytes,
      imageBytes: perImage,
    };
  }
  const fits = Math.floor((budget - one) / perImage) + 1;
  if (fits < 1) {
    throw new MemoryLimitError(bytesFor(1), limitBytes, budget);
  }
  const accumulate = Math.ceil(options.batchSize / fits);
  const microBatch = Math.ceil(options.batchSize / accumulate);
  return {
    microBatch,
    accumulate,
    batchBytes,
    microBytes: bytesFor(microBatch),
    limitBytes,
    imageBytes: perImage,
  };
}

/** Bytes of all layer outputs for one image (float32). */
/** Each layer's output shapes, without the batch axis. */
function outputShapes(model: LayersModel): (number | null)[][] {
  return model.layers.flatMap((layer) =>
    Array.isArray((layer.outputShape as unknown[])[0])
      ? layer.outputShape as (number | null)[][]
      : [layer.outputShape as (number | null)[]]
  ).map((shape) => shape.slice(1));
}

/**
 * Micro-batches for a WebGPU device: a step's largest tensors are its activations (and their
 * gradients, of the same size), and a device binds no buffer larger than its
 * `maxStorageBufferBindingSize` (128 MiB by default, and on lavapipe). A larger one makes every
 * dispatch submitted with it do nothing, silently: MobileNetV2 at 64 px, batch 64, got all-zero
 * maps and NaN gradients. So the micro-batch is the most images whose largest layer output fits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createModel } from "../models/registry.ts";
 * import "../models/mod.ts";
 * import { useBackend } from "../backend/select.ts";
 * import { planWebGpuMicroBatches } from "./memory.ts";
 * await useBackend("cpu");
 * const model = createModel("lenet", { inputShape: [28, 28, 1], numClasses: 10 });
 * assert.equal(planWebGpuMicroBatches(model, 64, 2 ** 27).accumulate, 1);
 * assert.ok(planWebGpuMicroBatches(model, 64, 64 * 1024).accumulate > 1);
 * model.dispose();
 * ```
 */
export function planWebGpuMicroBatches(
  model: LayersModel,
  batchSize: number,
  bindingLimitBytes: number,
): { microBatch: number; accumulate: number; largestBytes: number } {
  const largest = Math.max(
    ...outputShapes(model).map((shape) => shape.reduce((a: number, b) => a * (b ?? 1), 1) * 4),
  );
  const fits = Math.max(1, Math.floor(bindingLimitBytes / largest));
  const accumulate = Math.ceil(batchSize / Math.min(batchSize, fits));
  return { microBatch: Math.ceil(batchSize / accumulate), accumulate, largestBytes: largest };
}

function activationBytes(model: LayersModel): number {
  let total = 0;
  for (const layer of model.layers) {
    const shapes = Array.isArray((layer.outputShape as unknown[])[0])
      ? layer.outputShape as (number | null)[][]
      : [layer.outputShape as (number | null)[]];
    for (const shape of shapes) total += shape.slice(1).reduce((a: number, b) => a * (b ?? 1), 1);
  }
  return total * 4;
}

/** Bytes as GB with one decimal. */
function gb(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(1);
}
