// Internal: Identity for the wasm backend without a copy. tfjs-backend-wasm 4.22 copies the data,
// and the tape clones every tensor it saves for the backward pass through Identity: on wasm each
// saved activation was a second full-size copy for the whole step. Like the cpu backend's (and
// the wasm backend's own Reshape), this one shares the input's data and counts a reference, so
// the copy is never made; kernels never write into their inputs.
import { Identity } from "@tensorflow/tfjs-core";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs-core";

/** The part of the wasm backend this kernel uses. */
interface RefCountingBackend {
  incRef(dataId: unknown): void;
}

const identity: KernelFunc = ({ inputs, backend }) => {
  const { x } = inputs as { x: TensorInfo };
  (backend as unknown as RefCountingBackend).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
};

/** Identity sharing its input's data on the wasm backend. */
export const identityConfig: KernelConfig = {
  kernelName: Identity,
  backendName: "wasm",
  kernelFunc: identity,
};
