// Internal: PIL's separable resampling (Resample.c) for uint8 images, reproduced exactly: the
// same filter supports, coefficient normalisation, 22-bit fixed point, rounding and clipping,
// horizontal pass first into a uint8 buffer, then vertical. torchvision's Resize on PIL images
// is this code, so our pixels match torchvision's.

const PRECISION_BITS = 32 - 8 - 2;

/** A resampling filter: its kernel and its support at scale 1. */
export interface ResampleFilter {
  support: number;
  kernel: (x: number) => number;
}

export const BILINEAR: ResampleFilter = {
  support: 1,
  kernel: (x) => {
    const a = Math.abs(x);
    return a < 1 ? 1 - a : 0;
  },
};

export const BICUBIC: ResampleFilter = {
  support: 2,
  kernel: (x) => {
    const a = -0.5;
    const t = Math.abs(x);
    if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
    if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
    return 0;
  },
};

interface Coefficients {
  size: number; // taps per output pixel (ksize)
  bounds: Int32Array; // [xmin, count] per output pixel
  weights: Int32Array; // fixed-point, size per output pixel
}

function precompute(inSize: number, outSize: number, filter: ResampleFilter): Coefficients {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const size = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Int32Array(outSize * size);
  const row = new Float64Array(size);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const inverse = 1 / filterScale;
    const xmin = Math.max(0, Math.trunc(center - support + 0.5));
    const count = Math.min(inSize, Math.trunc(center + support + 0.5)) - xmin;
    let total = 0;
    for (let x = 0; x < count; x++) {
      row[x] = filter.kernel((x + xmin - center + 0.5) * inverse);
      total += row[x];
    }
    for (let x = 0; x < count; x++) {
      const w = total !== 0 ? row[x] / total : row[x];
      // C's (int) cast truncates toward zero after the ±0.5.
      weights[xx * size + x] = Math.trunc(
        w < 0 ? -0.5 + w * (1 << PRECISION_BITS) : 0.5 + w * (1 << PRECISION_BITS),
      );
    }
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = count;
  }
  return { size, bounds, weights };
}

function clip8(value: number): number {
  const v = value >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * Resizes uint8 HWC pixels to outWidth × outHeight with PIL's algorithm (antialiased when
 * shrinking: the filter widens by the scale factor).
 */
export function resample(
  data: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  filter: ResampleFilter = BILINEAR,
  region?: { top: number; left: number; imageWidth: number },
): Uint8Array {
  // `region`: the width × height input is a window at (top, left) of a wider image, read in
  // place (RandomResizedCrop without copying the crop first).
  const top = region?.top ?? 0;
  const left = region?.left ?? 0;
  const imageStride = (region?.imageWidth ?? width) * channels;
  const at = (row: number) => (row + top) * imageStride + left * channels;
  const horizontal = precompute(width, outWidth, filter);
  const vertical = precompute(height, outHeight, filter);
  const needHorizontal = outWidth !== width;
  const needVertical = outHeight !== height;
  // Rows of the source that the vertical pass reads.
  const firstRow = vertical.bounds[0];
  const lastRow = vertical.bounds[outHeight * 2 - 2] + vertical.bounds[outHeight * 2 - 1];
  let source = data;
  let rowOffset = 0;
  let sourceWidth = width;
  if (needHorizontal) {
    const rows = needVertical ? lastRow - firstRow : height;
    const start = needVertical ? firstRow : 0;
    const temp = new Uint8Array(rows * outWidth * channels);
    const { size, bounds, weights } = horizontal;
    for (let y = 0; y < rows; y++) {
      const inRow = at(y + start);
      const outRow = y * outWidth * channels;
      for (let xx = 0; xx < outWidth; xx++) {
        const xmin = bounds[xx * 2];
        const count = bounds[xx * 2 + 1];
        const k = xx * size;
        if (channels === 3 && count === 3) {
          // RGB with three taps (shrinking by up to ~1.5×), fully unrolled.
          const at = inRow + xmin * 3;
          const w0 = weights[k], w1 = weights[k + 1], w2 = weights[k + 2];
          const out = outRow + xx * 3;
          const half = 1 << (PRECISION_BITS - 1);
          temp[out] = clip8(half + data[at] * w0 + data[at + 3] * w1 + data[at + 6] * w2);
          temp[out + 1] = clip8(half + data[at + 1] * w0 + data[at + 4] * w1 + data[at + 7] * w2);
          temp[out + 2] = clip8(half + data[at + 2] * w0 + data[at + 5] * w1 + data[at + 8] * w2);
          continue;
        }
        if (channels === 3 && count === 4) {
          const at = inRow + xmin * 3;
          const w0 = weights[k], w1 = weights[k + 1], w2 = weights[k + 2], w3 = weights[k + 3];
          const out = outRow + xx * 3;
          const half = 1 << (PRECISION_BITS - 1);
          temp[out] = clip8(
            half + data[at] * w0 + data[at + 3] * w1 + data[at + 6] * w2 + data[at + 9] * w3,
          );
          temp[out + 1] = clip8(
            half + data[at + 1] * w0 + data[at + 4] * w1 + data[at + 7] * w2 + data[at + 10] * w3,
          );
          temp[out + 2] = clip8(
            half + data[at + 2] * w0 + data[at + 5] * w1 + data[at + 8] * w2 + data[at + 11] * w3,
          );
          continue;
        }
        if (channels === 3 && count === 2) {
          const at = inRow + xmin * 3;
          const w0 = weights[k], w1 = weights[k + 1];
          const out = outRow + xx * 3;
          const half = 1 << (PRECISION_BITS - 1);
          temp[out] = clip8(half + data[at] * w0 + data[at + 3] * w1);
          temp[out + 1] = clip8(half + data[at + 1] * w0 + data[at + 4] * w1);
          temp[out + 2] = clip8(half + data[at + 2] * w0 + data[at + 5] * w1);
          continue;
        }
        if (channels === 3) {
          // The common case, unrolled: one pass over the taps for all three channels.
          let r = 1 << (PRECISION_BITS - 1), g = r, b = r;
          let at = inRow + xmin * 3;
          for (let x = 0; x < count; x++, at += 3) {
            const w = weights[k + x];
            r += data[at] * w;
            g += data[at + 1] * w;
            b += data[at + 2] * w;
          }
          const out = outRow + xx * 3;
          temp[out] = clip8(r);
          temp[out + 1] = clip8(g);
          temp[out + 2] = clip8(b);
          continue;
        }
        for (let c = 0; c < channels; c++) {
          let sum = 1 << (PRECISION_BITS - 1);
          for (let x = 0; x < count; x++) {
            sum += data[inRow + (xmin + x) * channels + c] * weights[k + x];
          }
          temp[outRow + xx * channels + c] = clip8(sum);
        }
      }
    }
    source = temp;
    rowOffset = needVertical ? firstRow : 0;
    sourceWidth = outWidth;
  }
  if (!needVertical && needHorizontal) return source;
  const stride = sourceWidth * channels;
  if (!needVertical) {
    const copy = new Uint8Array(height * stride);
    for (let y = 0; y < height; y++) copy.set(data.subarray(at(y), at(y) + stride), y * stride);
    return copy;
  }
  const out = new Uint8Array(outHeight * outWidth * channels);
  const { size, bounds, weights } = vertical;
  // Rows of `source`: the horizontal pass's buffer, or the (windowed) input itself.
  const rowStart = needHorizontal ? (row: number) => row * stride : at;
  const acc = new Int32Array(stride);
  const half = 1 << (PRECISION_BITS - 1);
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = bounds[yy * 2] - rowOffset;
    const count = bounds[yy * 2 + 1];
    const k = yy * size;
    const base = yy * stride;
    // Two to four taps (most resizes): one pass over the row with the taps unrolled. Integer sums
    // are exact in any order, so this is the same arithmetic as the general loop below.
    if (count === 2) {
      const w0 = weights[k], w1 = weights[k + 1];
      const r0 = rowStart(ymin), r1 = rowStart(ymin + 1);
      for (let i = 0; i < stride; i++) {
        out[base + i] = clip8(half + source[r0 + i] * w0 + source[r1 + i] * w1);
      }
      continue;
    }
    if (count === 3) {
      const w0 = weights[k], w1 = weights[k + 1], w2 = weights[k + 2];
      const r0 = rowStart(ymin), r1 = rowStart(ymin + 1), r2 = rowStart(ymin + 2);
      for (let i = 0; i < stride; i++) {
        out[base + i] = clip8(
          half + source[r0 + i] * w0 + source[r1 + i] * w1 + source[r2 + i] * w2,
        );
      }
      continue;
    }
    if (count === 4) {
      const w0 = weights[k], w1 = weights[k + 1], w2 = weights[k + 2], w3 = weights[k + 3];
      const r0 = rowStart(ymin), r1 = rowStart(ymin + 1);
      const r2 = rowStart(ymin + 2), r3 = rowStart(ymin + 3);
      for (let i = 0; i < stride; i++) {
        out[base + i] = clip8(
          half + source[r0 + i] * w0 + source[r1 + i] * w1 + source[r2 + i] * w2 +
            source[r3 + i] * w3,
        );
      }
      continue;
    }
    // Accumulate whole rows tap by tap (sequential memory access), then round and clip. Every
    // partial sum stays within ±255 · Σ|w| < 2^31, so int32 arithmetic is exact, as in PIL.
    acc.fill(half);
    for (let y = 0; y < count; y++) {
      const w = weights[k + y];
      const row = rowStart(ymin + y);
      for (let i = 0; i < stride; i++) acc[i] = (acc[i] + source[row + i] * w) | 0;
    }
    for (let i = 0; i < stride; i++) out[base + i] = clip8(acc[i]);
  }
  return out;
}
