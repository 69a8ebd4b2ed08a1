// A depthwise convolution's filter gradient (channel multiplier 1) in WebAssembly SIMD, for the
// wasm backend's DepthwiseConv2dNativeBackpropFilter:
//   dW[a, b, c] = sum over n, i, j of x[n, i*sh + a - top, j*sw + b - left, c] * dy[n, i, j, c]
// with x and dy NHWC (C channels apart, a multiple of 4: the caller pads other counts) and dW
// [KH, KW, C]; terms outside x are skipped (x is zero-padded). The module imports
// tfjs-backend-wasm's shared memory and works on its tensors in place, so it must never use the
// C stack nor hold static data (build.sh checks the output for both): every buffer is a tensor
// the caller allocated on tfjs' heap.
//
// Method: a register tile is one row of filter taps (a fixed, KWT columns from b0) x NV vectors
// of 4 channels, its accumulators loaded from dW, accumulated over a chunk of output rows (over
// the whole batch), and stored back. Per output pixel, each dy vector is loaded once and fused
// (multiply-add, relaxed SIMD) with the KWT x vectors of its taps. A tap row that falls outside
// x for an output row skips that row; pixels whose taps all fall inside x's columns run without
// checks, the few at the left and right edges check each tap. Chunks of output rows keep their
// part of x and dy in cache while every tile and channel group goes over them.
//
// Threads: the work takes a range of channels [from, to) (multiples of 4, so no vector is split)
// and writes only dW's elements of those channels, so threads each do a part with no reduction.
// Each element is summed by one thread in one fixed order (chunk by chunk, output row by row,
// pixel by pixel) whatever the split and whatever group of vectors holds it, so results do not
// depend on the thread count. Build: sh lib/backend/_wasm_simd/build.sh depthwise_filter_grad
#include <stdint.h>
#include "_simd.h"

// Copies rows of n floats, srcPitch apart, into rows dstPitch apart, zero-filling each row past
// n: channels padded to a multiple of 4 (x, dy) and back (dW).
__attribute__((export_name("dwf_repitch"))) void dwf_repitch(const float *src, float *dst,
                                                              int rows, int n, int srcPitch,
                                                              int dstPitch) {
  for (long r = 0; r < rows; r++) {
    __builtin_memcpy(dst + r * dstPitch, src + r * srcPitch, (long)n * 4);
    if (dstPitch > n) __builtin_memset(dst + r * dstPitch + n, 0, (long)(dstPitch - n) * 4);
  }
}

// One pixel's multiply-adds into the tile's accumulators: dy's NVv vectors at dp, the taps'
// x vectors at xr + (col + b) * C. EDGE: only the taps inside x's columns [0, W).
#define PIXEL(KWv, NVv, EDGE)                                                                     \
  _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) {                              \
    const v128_t d = wasm_v128_load(dp + 4 * v);                                                  \
    _Pragma("clang loop unroll(full)") for (int b = 0; b < KWv; b++) {                            \
      if (!(EDGE) || (unsigned)(col + b) < (unsigned)W)                                           \
        acc[b][v] = MADD(acc[b][v], wasm_v128_load(xr + (long)(col + b) * C + 4 * v), d);        \
    }                                                                                             \
  }

// One register tile: taps (a, b0 .. b0 + KWv - 1) x NVv vectors of channels from c, over the
// output rows [g0, g1) of the whole batch (row g: image g / Ho, row g % Ho), accumulated in dW.
#define DEFINE_TILE(KWv, NVv)                                                                     \
  static inline void tile_##KWv##x##NVv(const float *x, const float *dy, float *dw, int H, int W, \
                                        int C, int Ho, int Wo, int KW, int sh, int sw, int top,   \
                                        int left, int a, int b0, int c, int g0, int g1) {         \
    float *out = dw + ((long)a * KW + b0) * C + c;                                                \
    v128_t acc[KWv][NVv];                                                                         \
    _Pragma("clang loop unroll(full)") for (int b = 0; b < KWv; b++) {                            \
      _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) acc[b][v] =                \
          wasm_v128_load(out + (long)b * C + 4 * v);                                              \
    }                                                                                             \
    /* Pixels [jLo, jHi) have every tap inside x's columns: from j * sw + first on. */           \
    const int first = b0 - left;                                                                  \
    int jLo = first >= 0 ? 0 : (sw - 1 - first) / sw;                                             \
    const int room = W - KWv - first;                                                             \
    int jHi = room < 0 ? 0 : room / sw + 1;                                                       \
    if (jLo > Wo) jLo = Wo;                                                                       \
    if (jHi > Wo) jHi = Wo;                                                                       \
    if (jHi < jLo) jHi = jLo;                                                                     \
    int n = g0 / Ho, i = g0 % Ho;                                                                 \
    for (int g = g0; g < g1; g++) {                                                               \
      const int r = i * sh + a - top;                                                             \
      if (r >= 0 && r < H) {                                                                      \
        const float *xr = x + ((long)n * H + r) * W * C + c;                                      \
        const float *dp = dy + (long)g * Wo * C + c;                                              \
        int j = 0, col = first;                                                                   \
        for (; j < jLo; j++, col += sw, dp += C) {                                                \
          PIXEL(KWv, NVv, 1)                                                                      \
        }                                                                                         \
        for (; j < jHi; j++, col += sw, dp += C) {                                                \
          PIXEL(KWv, NVv, 0)                                                                      \
        }                                                                                         \
        for (; j < Wo; j++, col += sw, dp += C) {                                                 \
          PIXEL(KWv, NVv, 1)                                                                      \
        }                                                                                         \
      }                                                                                           \
      if (++i == Ho) {                                                                            \
        i = 0;                                                                                    \
        n++;                                                                                      \
      }                                                                                           \
    }                                                                                             \
    _Pragma("clang loop unroll(full)") for (int b = 0; b < KWv; b++) {                            \
      _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++)                            \
          wasm_v128_store(out + (long)b * C + 4 * v, acc[b][v]);                                  \
    }                                                                                             \
  }

// Tiles of 1 to 5 taps across, each with as many vectors as keep the accumulators (at most 10)
// in registers, and one vector for the channels left over.
DEFINE_TILE(5, 2)
DEFINE_TILE(5, 1)
DEFINE_TILE(4, 2)
DEFINE_TILE(4, 1)
DEFINE_TILE(3, 3)
DEFINE_TILE(3, 1)
DEFINE_TILE(2, 4)
DEFINE_TILE(2, 1)
DEFINE_TILE(1, 4)
DEFINE_TILE(1, 1)

// Runs tile KWv x NV over channels [c, to) in groups of NV vectors, then one vector at a time.
#define RUN(KWv, NV)                                                                              \
  for (; c + 4 * NV <= to; c += 4 * NV)                                                           \
    tile_##KWv##x##NV(x, dy, dw, H, W, C, Ho, Wo, KW, sh, sw, top, left, a, b0, c, g0, g1);       \
  for (; c < to; c += 4)                                                                          \
    tile_##KWv##x1(x, dy, dw, H, W, C, Ho, Wo, KW, sh, sw, top, left, a, b0, c, g0, g1);

// dW's channels [from, to) (multiples of 4) for x [N, H, W, C], dy [N, Ho, Wo, C] and a KH x KW
// filter at strides (sh, sw) and padding (top, left): zeroes them, then accumulates them over
// chunks of rowsPerChunk output rows. Touches nothing outside those channels, so it may run again.
__attribute__((export_name("dwf"))) void dwf(const float *x, const float *dy, float *dw, int N,
                                              int H, int W, int C, int Ho, int Wo, int KH, int KW,
                                              int sh, int sw, int top, int left,
                                              int rowsPerChunk, int from, int to) {
  if (from >= to) return;
  for (long t = 0; t < (long)KH * KW; t++) __builtin_memset(dw + t * C + from, 0, (to - from) * 4);
  const int rows = N * Ho;
  for (int g0 = 0; g0 < rows; g0 += rowsPerChunk) {
    const int g1 = rows - g0 < rowsPerChunk ? rows : g0 + rowsPerChunk;
    for (int a = 0; a < KH; a++) {
      for (int b0 = 0; b0 < KW;) {
        // The filter row in tiles of 5 taps, then one of what is left.
        const int width = KW - b0 < 5 ? KW - b0 : 5;
        int c = from;
        switch (width) {
        case 5:
          RUN(5, 2)
          break;
        case 4:
          RUN(4, 2)
          break;
        case 3:
          RUN(3, 3)
          break;
        case 2:
          RUN(2, 4)
          break;
        default:
          RUN(1, 4)
          break;
        }
        b0 += width;
      }
    }
  }
}

// ---- The forward pass, for DepthwiseConv2dNative (channel multiplier 1):
//   out[n, i, j, c] = sum over taps (a, b) in order of x[n, i*sh + a - top, j*sw + b - left, c]
//                     * w[a, b, c]
// with x [N, H, W, C], w [KH, KW, C] and out [N, Ho, Wo, C], any C (a tail of fewer than 4
// channels one at a time); taps outside x are skipped (zero padding). Output rows [from, to) (row
// r: image r / Ho, row r % Ho), written only there; each output is summed in the same order
// whatever the split. Two pixels at a time share each filter vector's load (one where a row has
// an odd count left). tfjs-backend-wasm runs XNNPACK's on one thread (its pool is kept at one).

// The taps [lo, hi) of a tap axis that fall inside x for an output at `start` (its first tap's
// coordinate in x, possibly negative) on an axis of `size`, with `taps` taps.
static inline void inside(int start, int size, int taps, int *lo, int *hi) {
  *lo = start < 0 ? -start : 0;
  *hi = size - start < taps ? size - start : taps;
}

__attribute__((export_name("dw_forward"))) void dw_forward(const float *x, const float *w,
                                                            float *out, int H, int W, int C,
                                                            int KH, int KW, int sh, int sw,
                                                            int top, int left, int Ho, int Wo,
                                                            int from, int to) {
  // Addresses are only ever formed for taps inside x (wasm folds constant offsets into loads,
  // unwrapped: an address before x's could trap).
  const long xrow = (long)W * C, next = (long)sw * C;
  for (int r = from; r < to; r++) {
    const int n = r / Ho, i = r % Ho;
    int a0, a1;
    inside(i * sh - top, H, KH, &a0, &a1);
    float *orow = out + (long)r * Wo * C;
    for (int j = 0; j < Wo;) {
      int b0, b1, c0, c1;
      inside(j * sw - left, W, KW, &b0, &b1);
      // The next pixel shares this one's taps where the same ones fall inside x.
      inside((j + 1) * sw - left, W, KW, &c0, &c1);
      const int pair = j + 1 < Wo && c0 == b0 && c1 == b1;
      float *o = orow + (long)j * C;
      // x at this pixel's first inside tap (a0, b0), and w there.
      const float *x0 =
          x + (((long)n * H + (i * sh - top + a0)) * W + (j * sw - left + b0)) * C;
      const float *w0 = w + ((long)a0 * KW + b0) * C;
      const int rows = a1 - a0, cols = b1 - b0;
      int c = 0;
      for (; c + 4 <= C; c += 4) {
        v128_t acc0 = wasm_f32x4_splat(0.f), acc1 = acc0;
        for (int a = 0; a < rows; a++) {
          const float *xr = x0 + a * xrow + c;
          const float *wr = w0 + (long)a * KW * C + c;
          if (pair) {
            for (int b = 0; b < cols; b++) {
              const v128_t wv = wasm_v128_load(wr + (long)b * C);
              acc0 = MADD(acc0, wasm_v128_load(xr + (long)b * C), wv);
              acc1 = MADD(acc1, wasm_v128_load(xr + next + (long)b * C), wv);
            }
          } else {
            for (int b = 0; b < cols; b++) {
              acc0 = MADD(acc0, wasm_v128_load(xr + (long)b * C), wasm_v128_load(wr + (long)b * C));
            }
          }
        }
        wasm_v128_store(o + c, acc0);
        if (pair) wasm_v128_store(o + C + c, acc1);
      }
      for (; c < C; c++) {
        float acc0 = 0.f, acc1 = 0.f;
        for (int a = 0; a < rows; a++) {
          for (int b = 0; b < cols; b++) {
            const float wv = w0[((long)a * KW + b) * C + c];
            acc0 += x0[a * xrow + (long)b * C + c] * wv;
            if (pair) acc1 += x0[a * xrow + next + (long)b * C + c] * wv;
          }
        }
        o[c] = acc0;
        if (pair) o[C + c] = acc1;
      }
      j += pair ? 2 : 1;
    }
  }
}
