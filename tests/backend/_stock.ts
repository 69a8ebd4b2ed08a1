// Shared by the wasm kernel tests: a run with tfjs-backend-wasm's own kernels ("stock"), ours put
// back after.
import { setWasmKernels } from "../../mod.ts";
import { assertSameBytes } from "./_assert.ts";

/**
 * `f()` with tfjs-backend-wasm's own kernels in place of ours, then ours again.
 *
 * @example
 * ```ts ignore
 * const expected = withStockWasm(() => run());
 * ```
 */
export function withStockWasm<T>(f: () => T): T {
  const previous = setWasmKernels("stock");
  try {
    return f();
  } finally {
    setWasmKernels(previous);
  }
}

/**
 * Cases our kernel hands to the built-in one: `run()` gives the same bytes with ours in place as
 * with tfjs' own.
 *
 * @example
 * ```ts ignore
 * assertLeftToStock(() => [tf.relu(x).dataSync() as Float32Array]);
 * ```
 */
export function assertLeftToStock(run: () => Float32Array[]): void {
  const ours = run();
  withStockWasm(run).forEach((y, k) => assertSameBytes(ours[k], y, `case ${k}`));
}
