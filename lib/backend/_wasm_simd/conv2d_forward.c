// A forward convolution (conv + optional bias + linear or ReLU) in WebAssembly SIMD, for the wasm
// backend's FusedConv2D on small layers:
//   out[n, i, j, co] = act(bias[co] + sum_{a, b, ci} xp[n, i*s + a, j*s + b, ci] * W[a, b, ci, co])
// with x NHWC (xp: x zero-padded, or x itself where no padding is needed) and W HWIO. The module
// imports tfjs-backend-wasm's shared memory and works on its tensors in place, so it must never
// use the C stack nor hold static data (build.sh checks the output for both): every buffer is a
// tensor the caller allocated on tfjs' heap.
//
// Layout: W is copied once per call into wt [KH * KW * Ci + 1, CoP] (output channels padded with
// zeros to CoP, a multiple of 4; the last row is the bias, zeros without one), so one tap's
// output channels are contiguous vectors. Within a row of taps (a fixed), the inputs (b, ci) of
// an output pixel j are the KW * Ci contiguous floats of xp's row from column j * s, and the
// filter rows of those taps are contiguous too. A register tile is R output pixels along j x NV
// vectors of 4 output channels: it loops over the taps, broadcasting R inputs and fusing R * NV
// multiply-adds (relaxed SIMD) into its accumulators, then applies the activation and stores only
// the real channels.
//
// Threads: the work takes a range of output rows [from, to) over the whole batch and writes only
// them (padding: xp's rows likewise), so two threads each do a part, even of one image; each
// output is summed in the same order whatever the split, so results do not depend on it.
// Build: sh lib/backend/_wasm_simd/build.sh
#include <stdint.h>
#include "_simd.h"

// wt [T + 1, CoP] from w [T, Co] (HWIO flattened: T = KH * KW * Ci taps) and bias [Co] (0: none)
// into the last row; channels past Co zero.
__attribute__((export_name("fw_prepare_filter"))) void fw_prepare_filter(const float *w,
                                                                          const float *bias,
                                                                          float *wt, int T,
                                                                          int Co, int CoP) {
  for (long t = 0; t < T; t++) {
    const float *src = w + t * Co;
    float *dst = wt + t * CoP;
    for (int co = 0; co < Co; co++) dst[co] = src[co];
    for (int co = Co; co < CoP; co++) dst[co] = 0.f;
  }
  float *dst = wt + (long)T * CoP;
  for (int co = 0; co < CoP; co++) dst[co] = (bias != 0 && co < Co) ? bias[co] : 0.f;
}

// Rows [from, to) of xp [N, Hp, Wp, C] (row r: image r / Hp, row r % Hp) from x [N, H, W, C]
// placed at (top, left), zeros around; columns or rows of x past xp's are left out.
__attribute__((export_name("fw_pad_rows"))) void fw_pad_rows(const float *x, float *xp, int H,
                                                              int W, int C, int Hp, int Wp,
                                                              int top, int left, int from,
                                                              int to) {
  const int rowp = Wp * C;
  for (int r = from; r < to; r++) {
    const int n = r / Hp, sr = r % Hp - top;
    float *dst = xp + (long)r * rowp;
    if (sr < 0 || sr >= H) {
      __builtin_memset(dst, 0, (long)rowp * 4);
      continue;
    }
    const float *src = x + (((long)n * H + sr) * W) * C;
    const int c0 = left * C; // columns before the data
    int cw = W * C;          // the data's width
    if (c0 + cw > rowp) cw = rowp - c0;
    if (c0 > 0) __builtin_memset(dst, 0, (long)c0 * 4);
    __builtin_memcpy(dst + c0, src, (long)cw * 4);
    if (c0 + cw < rowp) __builtin_memset(dst + c0 + cw, 0, (long)(rowp - c0 - cw) * 4);
  }
}

// One register tile: R output pixels from `o` (Co floats apart) x 4*NV channels from c0, the
// pixels' inputs starting at `x` (pixel r's at x + r * px), KH rows of KW * Ci taps, xp's rows
// `xrow` floats apart; `w` the filter from channel c0 (rows CoP floats apart).
#define DEFINE_TILE(Rv, NVv)                                                                      \
  static inline void tile_##Rv##x##NVv(const float *x, const float *w, float *o, int px,         \
                                       long xrow, int KH, int taps, int CoP, int Co, int c0,     \
                                       int relu) {                                                \
    v128_t c[Rv][NVv];                                                                            \
    const float *bias = w + (long)KH * taps * CoP;                                                \
    _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) {                            \
      v128_t b = wasm_v128_load(bias + 4 * v);                                                    \
      _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) c[r][v] = b;                \
    }                                                                                             \
    for (int a = 0; a < KH; a++) {                                                                \
      const float *xa = x + a * xrow;                                                             \
      for (int t = 0; t < taps; t++) {                                                            \
        v128_t wv[NVv];                                                                           \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) wv[v] =                  \
            wasm_v128_load(w + 4 * v);                                                            \
        _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) {                         \
          v128_t xv = wasm_v128_load32_splat(xa + (long)r * px + t);                              \
          _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) c[r][v] =              \
              MADD(c[r][v], xv, wv[v]);                                                           \
        }                                                                                         \
        w += CoP;                                                                                 \
      }                                                                                           \
    }                                                                                             \
    if (relu) {                                                                                   \
      const v128_t zero = wasm_f32x4_splat(0.f);                                                  \
      _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) {                           \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) c[r][v] =                \
            wasm_f32x4_pmax(c[r][v], zero);                                                       \
      }                                                                                           \
    }                                                                                             \
    if (c0 + 4 * NVv <= Co) {                                                                     \
      _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) {                           \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++)                          \
            wasm_v128_store(o + (long)r * Co + 4 * v, c[r][v]);                                   \
      }                                                                                           \
    } else {                                                                                      \
      for (int r = 0; r < Rv; r++)                                                                \
        for (int v = 0; v < NVv; v++)                                                             \
          if (c0 + 4 * v < Co) store_lanes(o + (long)r * Co + 4 * v, c[r][v], Co - c0 - 4 * v);  \
    }                                                                                             \
  }

// For each vector count, the main tile of R pixels and smaller ones for a row's remainder. At
// most 12 accumulators plus NV filter vectors and a broadcast (x86-64 has 16 registers): 3 x 4,
// 4 x 3 and 6 x 2 spill in V8 and ran 1.6 times slower than 2 x 4, 3 x 3 and 4 x 2. Remainder
// tiles of 2 pixels matter for narrow rows (LeNet's second layer, 8 wide: 1.7 times faster).
DEFINE_TILE(2, 4)
DEFINE_TILE(1, 4)
DEFINE_TILE(3, 3)
DEFINE_TILE(2, 3)
DEFINE_TILE(1, 3)
DEFINE_TILE(4, 2)
DEFINE_TILE(2, 2)
DEFINE_TILE(1, 2)
DEFINE_TILE(8, 1)
DEFINE_TILE(4, 1)
DEFINE_TILE(1, 1)

// The vectors of 4 channels a block of `left` remaining ones takes: 4, except 3 for 5 and 6 (so
// no block is left with one vector's reuse of an input).
static inline int block_vectors(int left) {
  if (left == 5 || left == 6) return 3;
  return left >= 4 ? 4 : left;
}

// Rows [from, to) of out [N, Ho, Wo, Co] (row r: image r / Ho, row r % Ho), from xp [N, Hp, Wp,
// Ci] with stride s and wt [KH * KW * Ci + 1, CoP] (bias last). relu: max(0, .) after the bias.
// Touches nothing outside those rows, so it may run again, and no output depends on the split.
__attribute__((export_name("fw_conv"))) void fw_conv(const float *xp, const float *wt, float *out,
                                                     int Hp, int Wp, int Ci, int KH, int KW,
                                                     int s, int Ho, int Wo, int Co, int CoP,
                                                     int relu, int from, int to) {
  const int taps = KW * Ci;
  const int px = s * Ci;
  const long xrow = (long)Wp * Ci;
  for (int row = from; row < to; row++) {
    const int n = row / Ho, i = row % Ho;
    const float *xr = xp + ((long)n * Hp + (long)i * s) * xrow;
    float *orow = out + (long)row * Wo * Co;
    for (int c0 = 0; c0 < CoP;) {
      const int nv = block_vectors((CoP - c0) / 4);
      const float *w = wt + c0;
      int j = 0;
      switch (nv) {
      case 4:
        for (; j + 2 <= Wo; j += 2)
          tile_2x4(xr + (long)j * px, w, orow + (long)j * Co + c0, px, xrow, KH, taps, CoP, Co, c0,
                   relu);
        for (; j < Wo; j++)
          tile_1x4(xr + (long)j * px, w, orow + (long)j * Co + c0, px, xrow, KH, taps, CoP, Co, c0,
                   relu);
        break;
      case 3:
        for (; j + 3 <= Wo; j += 3)
          tile_3x3(xr + (long)j * px, w, orow + (long)j * Co + c0, px, xrow, KH, taps, CoP, Co, c0,
                   relu);
        for (; j + 2 <= Wo; j += 2)
          tile_2x3(xr + (long)j * px, w, orow + (long)j * Co + c0, px, xrow, KH, taps, CoP, Co, c0,
                   relu);
        for (; j < Wo; j++)
          tile_1x3(xr + (long)j * px, w, orow + (long)j * Co + c0, px, xrow, KH, taps, CoP, Co, c0,
                   relu);
        break;
      case 2:
        for (; j + 4 <= Wo; j += 4)
          tile_4x2(xr + (long)j * px, w, orow + (long)j * Co + c0, px, xrow, KH, taps, CoP, Co, c0,
                   relu);
        for (; j + 2 <= Wo; j += 2)
          tile_2x2(xr + (long)j * px, w, orow + (long)j * Co + c0, px, xrow, KH, taps, CoP, Co, c0,
                   relu);
        for (; j < Wo; j++)
          tile_1x2(xr + (long)j * px, w, orow + (long)j * Co + c0, px, xrow, KH, taps, CoP, Co, c0,
                   relu);
        break;
      default:
        for (; j + 8 <= Wo; j += 8)
          tile_8x1(xr + (long)j * px, w, orow + (long)j * Co + c0, px, xrow, KH, taps, CoP, Co, c0,
                   relu);
        for (; j + 4 <= Wo; j += 4)
          tile_4x1(xr + (long)j * px, w, orow + (long)j * Co + c0, px, xrow, KH, taps, CoP, Co, c0,
                   relu);
        for (; j < Wo; j++)
          tile_1x1(xr + (long)j * px, w, orow + (long)j * Co + c0, px, xrow, KH, taps, CoP, Co, c0,
                   relu);
      }
      c0 += 4 * nv;
    }
  }
}

// The larger of a and b as WebAssembly's pmax (b < a ? a : b), one lane.
static inline float pmax1(float a, float b) { return a < b ? b : a; }

// Windows [from, to) of a 2x2, stride-2 max pool (window row r: image r / OH, row r % OH) of y
// [N, 2 * OH, 2 * OW, C] into p [N, OH, OW, C]: the max of (0,0), (0,1), (1,0), (1,1) in that
// order, by pmax. Four channels a vector; a tail of fewer than four is one more vector over the
// last four (it rewrites a few outputs with the same values), or one at a time below four.
static void pool_rows(const float *y, float *p, int OH, int OW, int C, int from, int to) {
  const long row = 2L * OW * C;
  const int vectorEnd = C & ~3;
  for (int r = from; r < to; r++) {
    const float *y0 = y + 2L * r * row;
    const float *y1 = y0 + row;
    float *pr = p + (long)r * OW * C;
    for (int j = 0; j < OW; j++) {
      const long a = 2L * j * C, b = a + C;
      float *o = pr + (long)j * C;
#define POOL4(c)                                                                                  \
  wasm_v128_store(                                                                                \
      o + (c), wasm_f32x4_pmax(wasm_f32x4_pmax(wasm_f32x4_pmax(wasm_v128_load(y0 + a + (c)),      \
                                                               wasm_v128_load(y0 + b + (c))),     \
                                               wasm_v128_load(y1 + a + (c))),                     \
                               wasm_v128_load(y1 + b + (c))))
      int c = 0;
      for (; c < vectorEnd; c += 4) POOL4(c);
      if (c < C && C >= 4) {
        POOL4(C - 4);
        c = C;
      }
#undef POOL4
      for (; c < C; c++) o[c] = pmax1(pmax1(pmax1(y0[a + c], y0[b + c]), y1[a + c]), y1[b + c]);
    }
  }
}

// fw_conv followed by a 2x2, stride-2 max pool of its output: windows rows [from, to) over the
// whole batch (window row r covers output rows 2r and 2r + 1, since Ho = 2 * OH), each pair of
// output rows pooled into p [N, Ho / 2, Wo / 2, Co] right after it is computed, while in cache.
// Both out and p are written for those rows only, each value as fw_conv and pool_rows compute
// it alone, so no value depends on the split.
__attribute__((export_name("fw_conv_pool"))) void fw_conv_pool(
    const float *xp, const float *wt, float *out, float *p, int Hp, int Wp, int Ci, int KH, int KW,
    int s, int Ho, int Wo, int Co, int CoP, int relu, int from, int to) {
  for (int r = from; r < to; r++) {
    fw_conv(xp, wt, out, Hp, Wp, Ci, KH, KW, s, Ho, Wo, Co, CoP, relu, 2 * r, 2 * r + 2);
    pool_rows(out, p, Ho / 2, Wo / 2, Co, r, r + 1);
  }
}

// A 2x2, stride-2 max pool on its own: window rows [from, to) of y [N, 2 * OH, 2 * OW, C] into
// p [N, OH, OW, C], as fw_conv_pool pools (the wasm backend's MaxPool of this common case).
__attribute__((export_name("max_pool_2x2"))) void max_pool_2x2(const float *y, float *p, int OH,
                                                                int OW, int C, int from, int to) {
  pool_rows(y, p, OH, OW, C, from, to);
}
