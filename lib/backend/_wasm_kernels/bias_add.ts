// Internal: Add on the wasm backend with a fast path for a bias: a float32 tensor plus one whose
// shape is its trailing axes (a convolution's or dense layer's bias, [C] against [N, H, W, C]).
// tfjs-backend-wasm 4.22 broadcasts by computing every element's index in both inputs: 5 of a
// LeNet step's ~14 ms went to its two conv bias adds (tfjs does not fuse them while training).
// Every other Add goes to the built-in kernel, which this one wraps.
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";

interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: "float32"): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): Float32Array;
}

/** Whether `small`'s shape, leading 1s dropped, is the trailing axes of `large`'s. */
function isTrailing(large: readonly number[], small: readonly number[]): boolean {
  const axes = small.slice(small.findIndex((d) => d !== 1));
  if (small.every((d) => d === 1) || axes.length >= large.length) return false;
  return axes.every((d, i) => d === large[large.length - axes.length + i]);
}

/** out[i] = big[i] + small[i mod small.length]. */
function addRepeated(out: Float32Array, big: Float32Array, small: Float32Array): void {
  const block = small.length;
  for (let at = 0; at < big.length; at += block) {
    for (let i = 0; i < block; i++) out[at + i] = big[at + i] + small[i];
  }
}

/** The Add kernel with the bias fast path in front of `builtIn`. */
export function biasAddConfig(builtIn: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { a, b } = args.inputs as Record<"a" | "b", TensorInfo>;
    const floats = a.dtype === "float32" && b.dtype === "float32";
    const [big, small] = isTrailing(a.shape, b.shape) ? [a, b] : [b, a];
    if (!floats || !isTrailing(big.shape, small.shape)) return builtIn.kernelFunc(args);
    const heap = args.backend as unknown as WasmHeapBackend;
    const output = heap.makeOutput([...big.shape], "float32");
    const [out, bigValues, smallValues] = [output, big, small].map((t) =>
      heap.typedArrayFromHeap(t)
    );
    // a + b in either order is the same float: the sum is commutative, bit for bit.
    addRepeated(out, bigValues, smallValues);
    return output;
  };
  return { ...builtIn, kernelFunc };
}
