/**
 * Raw little-endian tensor bytes to float32: one converter per storage dtype, and a strided
 * gather that makes any view contiguous row-major. Deno runs only on little-endian hosts, so
 * typed-array views read the bytes as stored.
 *
 * @module
 */

/** A storage dtype this reader converts, by its torch name. */
export type StorageDtype =
  | "float32"
  | "float16"
  | "bfloat16"
  | "float64"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** Bytes per element of each storage dtype. */
export const ITEM_SIZE: Readonly<Record<StorageDtype, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

/** IEEE half-precision bits to float32, exactly (subnormals, infinities and NaN included). */
function halfToFloat(half: Uint16Array): Float32Array {
  const out = new Float32Array(half.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < half.length; i++) {
    const h = half[i];
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) {
      // Zero or subnormal: ±mantissa · 2⁻²⁴, a normal float32 (−0 stays −0).
      out[i] = (sign ? -mantissa : mantissa) * 5.960464477539063e-8;
    } else if (exponent === 0x1f) {
      bits[i] = sign | 0x7f800000 | (mantissa << 13);
    } else {
      bits[i] = sign | ((exponent + 112) << 23) | (mantissa << 13);
    }
  }
  return out;
}

/**
 * `count` elements of `dtype` starting at element `start` of `bytes`, as float32. The result is
 * a new array, except that with `mayAlias` a float32 range aligned in memory is returned as a
 * view of `bytes` (no copy). The caller has checked that the range lies inside `bytes`.
 */
export function decodeElements(
  bytes: Uint8Array,
  dtype: StorageDtype,
  start: number,
  count: number,
  mayAlias = false,
): Float32Array {
  const size = ITEM_SIZE[dtype];
  const range = bytes.subarray(start * size, (start + count) * size);
  // Typed views need an aligned offset; an unaligned range is copied to a fresh buffer first.
  const aligned = range.byteOffset % size === 0 ? range : range.slice();
  const { buffer, byteOffset } = aligned;
  switch (dtype) {
    case "float32":
      return mayAlias && aligned === range
        ? new Float32Array(buffer, byteOffset, count)
        : new Float32Array(aligned === range ? aligned.slice().buffer : buffer);
    case "float16":
      return halfToFloat(new Uint16Array(buffer, byteOffset, count));
    case "bfloat16": {
      const source = new Uint16Array(buffer, byteOffset, count);
      const out = new Float32Array(count);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) bits[i] = source[i] << 16;
      return out;
    }
    case "float64":
      return new Float32Array(new Float64Array(buffer, byteOffset, count));
    case "int64": {
      const words = new Int32Array(buffer, byteOffset, 2 * count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        out[i] = words[2 * i + 1] * 4294967296 + (words[2 * i] >>> 0);
      }
      return out;
    }
    case "int32":
      return new Float32Array(new Int32Array(buffer, byteOffset, count));
    case "int16":
      return new Float32Array(new Int16Array(buffer, byteOffset, count));
    case "int8":
      return new Float32Array(new Int8Array(buffer, byteOffset, count));
    case "uint8":
      return new Float32Array(range);
    case "bool": {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = range[i] === 0 ? 0 : 1;
      return out;
    }
  }
}

/** Whether `stride` is the row-major stride of `shape` (dimensions of size 1 may have any). */
export function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

/**
 * The view (`shape`, `stride`) over `source` (whose element 0 is the view's first element) as a
 * new contiguous row-major array of `numel` elements.
 */
export function gather(
  source: Float32Array,
  shape: readonly number[],
  stride: readonly number[],
  numel: number,
): Float32Array {
  const out = new Float32Array(numel);
  if (numel === 0) return out;
  if (shape.length === 0) {
    out[0] = source[0];
    return out;
  }
  const last = shape.length - 1;
  const inner = shape[last];
  const step = stride[last];
  const index = new Array<number>(last).fill(0);
  let base = 0;
  let o = 0;
  for (let row = numel / inner; row > 0; row--) {
    for (let j = 0, p = base; j < inner; j++, p += step) out[o++] = source[p];
    for (let d = last - 1; d >= 0; d--) {
      base += stride[d];
      if (++index[d] < shape[d]) break;
      base -= stride[d] * shape[d];
      index[d] = 0;
    }
  }
  return out;
}
