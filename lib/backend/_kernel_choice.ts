// Internal: which kernels a backend runs, ours or the stock ones its tfjs package ships. One flag
// per backend, read by every fast path of ours: the SIMD modules, the fused Adam and the kernel
// registrations. "stock" is the reference our kernels are checked against, and what a benchmark
// times ours beside.

/** Our kernels (the default) or the backend package's own. */
export type KernelSet = "ours" | "stock";

const chosen = new Map<string, KernelSet>();

/** The kernel set in use on `backend` ("ours" unless set). */
export function kernelSet(backend: string): KernelSet {
  return chosen.get(backend) ?? "ours";
}

/** Records the kernel set of `backend`; returns the previous one. */
export function recordKernelSet(backend: string, set: KernelSet): KernelSet {
  const previous = kernelSet(backend);
  chosen.set(backend, set);
  return previous;
}
