// Internal: Cast on the wasm backend without a copy when the dtype does not change. The tape's
// gradient of a clone (tfjs-layers clones a layer's output when the layer returns its input, as a
// ReLU fused into the batch norm before it does) is a float32 → float32 Cast of dy, which
// tfjs-backend-wasm 4.22 copies: ~0.3 ms of a `compact-cnn` step. Like Identity, this shares the
// input's data and counts a reference; kernels never write into their inputs. Every other Cast
// goes to the built-in kernel, which this one wraps.
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";

/** The part of the wasm backend this kernel uses. */
interface RefCountingBackend {
  incRef(dataId: unknown): void;
}

/** The Cast kernel with the same-dtype alias in front of `builtIn`. */
export function castConfig(builtIn: KernelConfig): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { dtype } = args.attrs as { dtype: string };
    if (dtype !== x.dtype || dtype === "string") return builtIn.kernelFunc(args);
    (args.backend as unknown as RefCountingBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return { ...builtIn, kernelFunc };
}
