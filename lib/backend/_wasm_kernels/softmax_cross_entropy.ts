// Internal: softmax cross-entropy and its gradient in one kernel, for the wasm backend, in
// TypeScript over the heap. Composed from tfjs ops, the loss of a classifier (one-hot, log-softmax,
// product, sums, mean) and its gradient ran ~30 kernels on [batch, classes] tensors: tiny ones,
// but each costs tfjs' per-kernel overhead, ~0.5 ms of a 10 ms LeNet step. This kernel returns the
// mean loss and the gradient of that mean with respect to the logits, computed in double
// precision in the same pass; the backward pass only scales the gradient by the incoming dy.
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";

/**
 * Kernel name: logits [batch, classes] with `labels` (int32 [batch]) or `targets` (float32
 * [batch, classes]) → the mean cross-entropy (a scalar) and its gradient [batch, classes].
 */
export const SOFTMAX_CROSS_ENTROPY = "DenovisionSoftmaxCrossEntropy";

/** Attributes: PyTorch's `label_smoothing` ε (targets become (1 − ε)·t + ε / classes). */
export interface SoftmaxCrossEntropyAttrs {
  labelSmoothing: number;
}

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array;
}

/**
 * Fills `gradient` with ∂(mean loss)/∂logits = (softmax·Σt − t) / batch and returns the summed
 * loss Σ_rows Σ_j t_j·(logsumexp − x_j), t being row `target(row, j)` of the targets.
 */
function lossAndGradient(
  logits: Float32Array,
  gradient: Float32Array,
  classes: number,
  target: (row: number, j: number) => number,
): number {
  const rows = logits.length / classes;
  const exps = new Float64Array(classes);
  let total = 0;
  for (let row = 0, at = 0; row < rows; row++, at += classes) {
    let max = -Infinity;
    for (let j = 0; j < classes; j++) max = Math.max(max, logits[at + j]);
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += exps[j] = Math.exp(logits[at + j] - max);
    const logSumExp = max + Math.log(sum);
    let mass = 0;
    for (let j = 0; j < classes; j++) {
      const t = target(row, j);
      mass += t;
      if (t !== 0) total += t * (logSumExp - logits[at + j]);
    }
    for (let j = 0; j < classes; j++) {
      gradient[at + j] = ((exps[j] / sum) * mass - target(row, j)) / rows;
    }
  }
  return total;
}

const softmaxCrossEntropy: KernelFunc = ({ inputs, backend, attrs }) => {
  const { logits, labels, targets } = inputs as Record<string, TensorInfo | undefined>;
  const { labelSmoothing } = attrs as unknown as SoftmaxCrossEntropyAttrs;
  const heap = backend as unknown as WasmHeapBackend;
  const [rows, classes] = logits!.shape;
  const outputs = [heap.makeOutput([], "float32"), heap.makeOutput([rows, classes], "float32")];
  const x = heap.typedArrayFromHeap(logits!) as Float32Array;
  const [loss, gradient] = outputs.map((t) => heap.typedArrayFromHeap(t) as Float32Array);
  const keep = 1 - labelSmoothing;
  const spread = labelSmoothing / classes;
  let target: (row: number, j: number) => number;
  if (labels !== undefined) {
    const y = heap.typedArrayFromHeap(labels) as Int32Array;
    target = (row, j) => (y[row] === j ? keep : 0) + spread;
  } else {
    const t = heap.typedArrayFromHeap(targets!) as Float32Array;
    target = (row, j) => t[row * classes + j] * keep + spread;
  }
  loss[0] = lossAndGradient(x, gradient, classes, target) / rows;
  return outputs;
};

/** Kernel registration on `wasm`. */
export const softmaxCrossEntropyConfig: KernelConfig = {
  kernelName: SOFTMAX_CROSS_ENTROPY,
  backendName: "wasm",
  kernelFunc: softmaxCrossEntropy,
};
