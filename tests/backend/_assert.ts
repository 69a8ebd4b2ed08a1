// Assertions shared by the kernel tests (wasm and WebGPU): closeness to a reference backend, and bit equality.
import assert from "node:assert/strict";

/** Relative error the kernels may have against tfjs-backend-cpu: max |a − e| / max |e|. */
export const TOLERANCE = 1e-4;

/** `actual` within `tolerance` of `expected`, relative to `expected`'s largest magnitude. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  label: string,
  tolerance = TOLERANCE,
): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let maxError = 0;
  let scale = 1e-6;
  for (let i = 0; i < expected.length; i++) {
    maxError = Math.max(maxError, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  assert.ok(
    maxError / scale <= tolerance,
    `${label}: relative error ${(maxError / scale).toExponential(2)} > ${tolerance}`,
  );
}

/** The same bytes (so the same bits, NaN payloads and signed zeros too). */
export function assertSameBytes(actual: Float32Array, expected: Float32Array, label: string): void {
  const a = new Uint8Array(actual.buffer, actual.byteOffset, actual.byteLength);
  const b = new Uint8Array(expected.buffer, expected.byteOffset, expected.byteLength);
  assert.equal(a.length, b.length, `${label}: length`);
  const first = a.findIndex((v, i) => v !== b[i]);
  assert.equal(first, -1, `${label}: differ from byte ${first}`);
}
