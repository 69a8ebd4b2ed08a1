// Internal: Transpose on the wasm backend with fast paths for the permutations training uses,
// in TypeScript over the heap. tfjs-backend-wasm 4.22 computes every element's source index
// through the full rank; the convolution gradients transpose their inputs every step (batch ↔
// channels for the filter gradient, a filter's in/out channels for the input gradient, batch ↔
// space for depthwise), and these moves are blocks, runs and small tiles. Every other permutation
// goes to the built-in kernel, which this one wraps.
import { Transpose } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo, TransposeAttrs } from "@tensorflow/tfjs-core";

/**
 * Elements are moved as 32-bit integers whatever the dtype (float32 or int32): one array type
 * keeps V8's loops monomorphic (twice as fast as a union here), and integer moves keep every
 * float's bits, NaN payloads included.
 */
type Values = Int32Array;

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: TensorInfo["dtype"]): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array;
}

/**
 * The permutation on the fewest axes that moves the same data: size-1 axes dropped, and runs of
 * axes that stay adjacent and in order merged into one. Returns the merged source shape and perm.
 */
function collapsePermutation(
  shape: readonly number[],
  perm: readonly number[],
): { shape: number[]; perm: number[] } {
  const kept = perm.filter((axis) => shape[axis] !== 1);
  // Groups of source axes, in output order, each a run a, a+1, … that stays together.
  const groups: number[][] = [];
  for (const axis of kept) {
    const last = groups[groups.length - 1];
    if (last !== undefined && axis === last[last.length - 1] + 1) last.push(axis);
    else groups.push([axis]);
  }
  // Source axes of a merged group that were dropped (size 1) in between still chain: a, a+2 with
  // a+1 of size 1 is not merged here, which is correct but slower; it does not occur in training.
  const bySource = [...groups].sort((a, b) => a[0] - b[0]);
  return {
    shape: bySource.map((group) => group.reduce((size, axis) => size * shape[axis], 1)),
    perm: groups.map((group) => bySource.indexOf(group)),
  };
}

/**
 * [A, B, C] → [B, A, C]: runs of C copied whole (short runs element by element), 16 source runs
 * of each row at a time so that reads stay near each other.
 */
function swapOuter(from: Values, to: Values, [a, b, c]: number[]): void {
  for (let j0 = 0; j0 < b; j0 += 16) {
    const j1 = Math.min(b, j0 + 16);
    for (let i = 0; i < a; i++) {
      for (let j = j0; j < j1; j++) {
        const source = (i * b + j) * c;
        const target = (j * a + i) * c;
        // A typed-array `set` costs more than copying a few dozen elements one by one.
        if (c >= 64) to.set(from.subarray(source, source + c), target);
        else for (let k = 0; k < c; k++) to[target + k] = from[source + k];
      }
    }
  }
}

/** [A, B, C] → [A, C, B]: a batch of B × C matrices transposed in 8 × 8 tiles. */
function swapInner(from: Values, to: Values, [a, b, c]: number[]): void {
  const tile = 8;
  for (let k = 0; k < a; k++) {
    const base = k * b * c;
    for (let i0 = 0; i0 < b; i0 += tile) {
      const i1 = Math.min(b, i0 + tile);
      for (let j0 = 0; j0 < c; j0 += tile) {
        const j1 = Math.min(c, j0 + tile);
        for (let i = i0; i < i1; i++) {
          for (let j = j0; j < j1; j++) to[base + j * b + i] = from[base + i * c + j];
        }
      }
    }
  }
}

/**
 * [A, B, C] → [C, B, A] (NHWC → CHWN, the filter gradient's input): for each middle index, the
 * A × C block is read while it sits in cache and written as C runs of A.
 */
function swapEnds(from: Values, to: Values, [a, b, c]: number[]): void {
  for (let j = 0; j < b; j++) {
    for (let k = 0; k < c; k++) {
      const target = (k * b + j) * a;
      let source = j * c + k;
      for (let i = 0; i < a; i++, source += b * c) to[target + i] = from[source];
    }
  }
}

const MOVES: Record<string, (from: Values, to: Values, shape: number[]) => void> = {
  "1,0,2": swapOuter,
  "0,2,1": swapInner,
  "2,1,0": swapEnds,
  "1,0": (from, to, [a, b]) => swapInner(from, to, [1, a, b]),
};

/** The Transpose kernel with those fast paths in front of `builtIn`. */
export function transposeConfig(builtIn: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { perm } = args.attrs as unknown as TransposeAttrs;
    if (x.dtype !== "float32" && x.dtype !== "int32") return builtIn.kernelFunc(args);
    const collapsed = collapsePermutation(x.shape, perm);
    const identity = collapsed.perm.every((axis, i) => axis === i);
    const move = MOVES[collapsed.perm.join()];
    if (!identity && move === undefined) return builtIn.kernelFunc(args);
    const heap = args.backend as unknown as WasmHeapBackend;
    const output = heap.makeOutput(perm.map((axis) => x.shape[axis]), x.dtype);
    const [from, to] = [x, output].map((t) => {
      const view = heap.typedArrayFromHeap(t);
      return new Int32Array(view.buffer, view.byteOffset, view.length);
    });
    if (identity) to.set(from);
    else move!(from, to, collapsed.shape);
    return output;
  };
  return { ...builtIn, kernelName: Transpose, kernelFunc };
}
