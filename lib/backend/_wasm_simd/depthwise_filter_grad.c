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
