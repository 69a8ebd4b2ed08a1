// Internal: the small matrix products of dense layers (forward with bias and ReLU, and both
// gradients, whose operands are transposed) in our own WebAssembly SIMD kernel (matmul.c), run on
// tfjs-backend-wasm's shared memory, in place on its tensors.
//
// Why: tfjs-backend-wasm hands BatchMatMul and _FusedMatMul to XNNPACK, which caches its packed
// operator by the weight tensor's id; while training, the weights (and, for the gradients, the
// output gradient) are a new tensor every step, so it re-creates and repacks the operator on
// every call, and transposed operands took a transposing copy first (batch_mat_mul.ts). A LeNet
// step's five products (1.1 M multiply-adds in all) took ~0.45 ms that way. Here the second
// operand is packed once per call into rows of padded vectors (a transposed one read in place),
// the first is read in place with its strides, and on the threaded build the rows of the result
// are cut into one range per thread (_helper_thread.ts); each output is summed in the same order
// however the rows are cut, so results do not depend on the thread count.
import type { KernelBackend, TensorInfo } from "@tensorflow/tfjs-core";
import { withScratch } from "../_wasm_kernels/_scratch.ts";
import { MATMUL_PLAIN, MATMUL_SHARED } from "./matmul_wasm.ts";
import { runRanges } from "./_helper_thread.ts";
import { heapOffset, simdModule, type SimdModuleSource } from "./_module.ts";

interface Kernel {
  mm_pack(...args: number[]): void;
  mm(...args: number[]): void;
}

/** The kernel's module (both builds). */
export const SOURCE: SimdModuleSource = { shared: MATMUL_SHARED, plain: MATMUL_PLAIN };

/**
 * Multiply-adds up to which this kernel takes a product (the dense layers of the zoo's heads and
 * of LeNet); larger ones stay on XNNPACK, whose packed, cache-blocked kernels win there.
 */
export const SIMD_MATMUL_LIMIT = 16_000_000;

let enabled = true;

/**
 * Turns this kernel off (false: the built-in products run) or back on, for tests and benchmarks.
 *
 * @example
 * ```ts
 * import { setSimdMatMul } from "./matmul.ts";
 * setSimdMatMul(false);
 * setSimdMatMul(true);
 * ```
 */
export function setSimdMatMul(on: boolean): void {
  enabled = on;
}

/** The product's sizes from its operands' shapes, or undefined where the kernel does not apply. */
function sizes(a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean) {
  if (a.dtype !== "float32" || b.dtype !== "float32") return undefined;
  const batchOf = (t: TensorInfo) => t.shape.slice(0, -2).reduce((x, y) => x * y, 1);
  if (a.shape.length < 2 || b.shape.length < 2 || batchOf(a) !== 1 || batchOf(b) !== 1) {
    return undefined;
  }
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [M, K] = transposeA ? [ac, ar] : [ar, ac];
  const [K2, N] = transposeB ? [bc, br] : [br, bc];
  if (K !== K2 || M === 0 || N === 0 || M * N * K > SIMD_MATMUL_LIMIT) return undefined;
  return { M, N, K };
}

/**
 * act(A·B + bias) for `a` and `b` (rank 2, or higher with a batch of one), each optionally
 * transposed, and an optional `bias` of N floats, as a tensor of shape [..., M, N] (the batch
 * axes of `a`), or undefined where the kernel does not run (another dtype, a batch above one, a
 * large product, no wasm SIMD): the caller then runs the built-in kernel.
 */
export function simdMatMul(
  backend: unknown,
  a: TensorInfo,
  b: TensorInfo,
  bias: TensorInfo | undefined,
  transposeA: boolean,
  transposeB: boolean,
  activation: "linear" | "relu",
): TensorInfo | undefined {
  const size = enabled ? sizes(a, b, transposeA, transposeB) : undefined;
  if (size === undefined) return undefined;
  const { M, N, K } = size;
  if (
    bias !== undefined && (bias.dtype !== "float32" || bias.shape.reduce((x, y) => x * y, 1) !== N)
  ) {
    return undefined;
  }
  const kernel = simdModule<Kernel>(backend, SOURCE);
  if (kernel === null) return undefined;
  const paddedN = Math.ceil(N / 4) * 4;
  return withScratch(backend as KernelBackend, (scratch) => {
    const packed = scratch.make([K + 1, paddedN]);
    const out = scratch.make([...a.shape.slice(0, -2), M, N]);
    const at = (t: TensorInfo) => heapOffset(backend, t);
    // B(k, j) at b[k·bk + j·bn]; A(i, k) at a[i·ai + k·ak].
    const [bk, bn] = transposeB ? [1, K] : [N, 1];
    const [ai, ak] = transposeA ? [1, M] : [K, 1];
    kernel.mm_pack(at(b), bias === undefined ? 0 : at(bias), at(packed), K, N, paddedN, bk, bn);
    const args = [at(a), at(packed), at(out), N, paddedN, K, ai, ak, activation === "relu" ? 1 : 0];
    // One range of rows per thread; each output is computed alike however many ranges.
    runRanges(backend, SOURCE, "mm", args, M, { work: M * N * K });
    return out;
  });
}
