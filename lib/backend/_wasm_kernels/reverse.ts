// Internal: Reverse for the wasm backend, in TypeScript over the wasm heap. tfjs-backend-wasm
// 4.22's kernel walks element by element: reversing a 3×3×256×256 filter took 20 ms on our
// machine, a third of ResNet-18's input-gradient kernel at 8×8 px (which flips its filter every
// step). Here the axes after the last reversed one form contiguous blocks, copied whole.
import { Reverse, util } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, ReverseAttrs, TensorInfo } from "@tensorflow/tfjs-core";

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: TensorInfo["dtype"]): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array;
}

const reverse: KernelFunc = ({ inputs, backend, attrs }) => {
  const { x } = inputs as { x: TensorInfo };
  const { dims } = attrs as unknown as ReverseAttrs;
  const shape = x.shape;
  const axes = new Set(util.parseAxisParam(dims, shape));
  const heap = backend as unknown as WasmHeapBackend;
  const output = heap.makeOutput([...shape], x.dtype);
  const source = heap.typedArrayFromHeap(x);
  const target = heap.typedArrayFromHeap(output);
  const last = Math.max(-1, ...[...axes].filter((a) => shape[a] > 1));
  // Every axis after the last reversed one is copied as one block.
  const block = shape.slice(last + 1).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, last + 1);
  const count = outer.reduce((a, b) => a * b, 1);
  const index = new Array<number>(outer.length).fill(0);
  for (let i = 0; i < count; i++) {
    // The source block of output block `index`: reversed axes read from the other end.
    let from = 0;
    for (let d = 0; d < outer.length; d++) {
      from = from * outer[d] + (axes.has(d) ? outer[d] - 1 - index[d] : index[d]);
    }
    target.set(source.subarray(from * block, from * block + block), i * block);
    for (let d = outer.length - 1; d >= 0; d--) {
      if (++index[d] < outer[d]) break;
      index[d] = 0;
    }
  }
  return output;
};

/** Kernel registration for `Reverse` on `wasm`, replacing the built-in one. */
export const reverseConfig: KernelConfig = {
  kernelName: Reverse,
  backendName: "wasm",
  kernelFunc: reverse,
};
