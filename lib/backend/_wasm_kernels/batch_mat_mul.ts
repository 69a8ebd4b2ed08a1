// Internal: BatchMatMul on the wasm backend with transposed operands moved before the product.
// tfjs-backend-wasm 4.22 hands XNNPACK only untransposed products; with `transposeA` or
// `transposeB` it runs a naive triple loop. A dense layer's two gradients are exactly those
// products (dx = dy·Wᵀ, dW = xᵀ·dy): in a LeNet step the two took 1.2 ms against 0.06 ms for the
// forward product of the same size. Transposing the operand first (a copy of one matrix) and
// taking XNNPACK's path is ten times faster. Small products (a batch of one, up to
// SIMD_MATMUL_LIMIT multiply-adds: dense layers) go to our SIMD kernel first, which reads
// transposed operands in place (../_wasm_simd/matmul.ts); _FusedMatMul with a bias and a linear or
// ReLU activation likewise. Every other case goes to the built-in kernel, which this one wraps.
import {
  getKernel,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core";

import { simdMatMul } from "../_wasm_simd/matmul.ts";

interface BatchMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** `info` seen as rank 3 (a batch of one) where it is rank 2: the built-in kernels need rank 3. */
function asRank3(info: TensorInfo): TensorInfo {
  return info.shape.length === 2 ? { ...info, shape: [1, ...info.shape] } : info;
}

/**
 * Runs `builtIn` on rank-3 views of rank-2 operands (our kernel takes rank 2, the lean dense
 * path passes it), its output then seen as rank 2 again.
 */
function runRank3(builtIn: KernelConfig, args: Parameters<KernelFunc>[0]): TensorInfo {
  const { a, b } = args.inputs as Record<"a" | "b", TensorInfo>;
  const flat = a.shape.length === 2 && b.shape.length === 2;
  const out = builtIn.kernelFunc(
    flat ? { ...args, inputs: { ...args.inputs, a: asRank3(a), b: asRank3(b) } } : args,
  ) as TensorInfo;
  return flat ? { ...out, shape: out.shape.slice(1) } : out;
}

/** _FusedMatMul on the wasm backend with our SIMD kernel in front of `builtIn`. */
export function fusedMatMulConfig(builtIn: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs as Record<
      string,
      TensorInfo | undefined
    >;
    const { transposeA, transposeB, activation } = args.attrs as unknown as BatchMatMulAttrs & {
      activation: string;
    };
    if (
      a !== undefined && b !== undefined && preluActivationWeights == null &&
      (activation === "linear" || activation === "relu")
    ) {
      const out = simdMatMul(
        args.backend,
        a,
        b,
        bias ?? undefined,
        transposeA,
        transposeB,
        activation,
      );
      if (out !== undefined) return out;
    }
    return runRank3(builtIn, args);
  };
  return { ...builtIn, kernelFunc };
}

interface WasmBackendInternals {
  disposeData(dataId: unknown): void;
}

/** The BatchMatMul kernel that transposes operands itself, in front of `builtIn`. */
export function batchMatMulConfig(builtIn: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { a, b } = args.inputs as Record<"a" | "b", TensorInfo>;
    const { transposeA, transposeB } = args.attrs as unknown as BatchMatMulAttrs;
    const simd = simdMatMul(args.backend, a, b, undefined, transposeA, transposeB, "linear");
    if (simd !== undefined) return simd;
    const floats = a.dtype === "float32" && b.dtype === "float32";
    if ((!transposeA && !transposeB) || !floats) return runRank3(builtIn, args);
    const transpose = getKernel("Transpose", "wasm")!.kernelFunc;
    const temporary: TensorInfo[] = [];
    const swapLast = (x: TensorInfo): TensorInfo => {
      const perm = x.shape.map((_, i) => i);
      perm.splice(-2, 2, x.shape.length - 1, x.shape.length - 2);
      const moved = transpose({ inputs: { x }, backend: args.backend, attrs: { perm } });
      temporary.push(moved as TensorInfo);
      return moved as TensorInfo;
    };
    try {
      return runRank3(builtIn, {
        ...args,
        inputs: { a: transposeA ? swapLast(a) : a, b: transposeB ? swapLast(b) : b },
        attrs: { ...args.attrs, transposeA: false, transposeB: false },
      });
    } finally {
      const heap = args.backend as unknown as WasmBackendInternals;
      for (const info of temporary) heap.disposeData(info.dataId);
    }
  };
  return { ...builtIn, kernelFunc };
}
