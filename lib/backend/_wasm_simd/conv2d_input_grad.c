// A stride-1 convolution's input gradient in WebAssembly SIMD, for the wasm backend, in the
// scatter form:
//   for each dy pixel (n, i, j) and tap (a, b):
//     dx[n, i + a - top, j + b - left, :] += W[a, b, :, :] . dy[n, i, j, :]   (a Cin-vector)
// with dy and dx NHWC and W HWIO. The module imports tfjs-backend-wasm's shared memory and works
// on its tensors in place, so it must never use the C stack nor hold static data (build.sh checks
// the output for both): every buffer is a tensor the caller allocated on tfjs' heap.
//
// Why scatter: correlating dy zero-padded by k - 1 with the reversed filter (the XNNPACK path)
// multiplies the zero border too (2.25x the work for LeNet's 8x8 dy and 5x5 filter); here every
// multiply-add is needed. W is transposed once per call to wt [kh, kw, Cout, CiP] (Cin padded
// with zeros to CiP, a multiple of 4), so one tap's Cout x CiP block is contiguous. A register
// tile is R consecutive dy pixels of a row x 4*NV input channels for one tap: it loads its R
// target pixels of dx, loops over Cout (R broadcasts of dy, NV vectors of wt, R*NV fused
// multiply-adds, relaxed SIMD), and stores them back. Each row of dx is accumulated by itself
// (gathering its dy rows, scattering each along the row) in a row of dxp [N * H, Wo + kw - 1,
// CiP] that holds every target column (dx's padding columns included), then copied into dx; with
// no column padding and CiP = Cin, dxp is dx itself. Rows of dx's padding are never computed.
//
// Threads: the work takes a range of dx rows [from, to) over the whole batch and writes only
// them, so two threads each do a part, even of one image; each row is summed in the same order
// whatever the split, so the result is the same on one thread and on two.
// Build: sh lib/backend/_wasm_simd/build.sh
#include <stdint.h>
#include "_simd.h"

// wt [KH, KW, Co, CiP] from w [KH, KW, Ci, Co] (HWIO), input channels past Ci zero.
__attribute__((export_name("dx_prepare_filter"))) void dx_prepare_filter(const float *w, float *wt,
                                                                          int KH, int KW, int Ci,
                                                                          int Co, int CiP) {
  for (long t = 0; t < (long)KH * KW; t++) {
    const float *src = w + t * Ci * Co;
    float *dst = wt + t * Co * CiP;
    for (int co = 0; co < Co; co++) {
      for (int ci = 0; ci < Ci; ci++) dst[(long)co * CiP + ci] = src[(long)ci * Co + co];
      for (int ci = Ci; ci < CiP; ci++) dst[(long)co * CiP + ci] = 0.f;
    }
  }
}

// One register tile: R dy pixels from `d` (Co floats apart) x 4*NV channels for one tap, whose
// Co x CiP block starts at `w`, accumulated into R target pixels from `t` (CiP floats apart).
#define DEFINE_TILE(Rv, NVv)                                                                      \
  static inline void tile_##Rv##x##NVv(const float *d, const float *w, float *t, int Co,         \
                                       int CiP) {                                                 \
    v128_t c[Rv][NVv];                                                                            \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) {                             \
      _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) c[r][v] =                  \
          wasm_v128_load(t + (long)r * CiP + 4 * v);                                              \
    }                                                                                             \
    for (int co = 0; co < Co; co++) {                                                             \
      v128_t wv[NVv];                                                                             \
      _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) wv[v] =                    \
          wasm_v128_load(w + 4 * v);                                                              \
      _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) {                           \
        v128_t dv = wasm_v128_load32_splat(d + (long)r * Co);                                     \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) c[r][v] =                \
            MADD(c[r][v], dv, wv[v]);                                                             \
      }                                                                                           \
      d++;                                                                                        \
      w += CiP;                                                                                   \
    }                                                                                             \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) {                             \
      _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++)                            \
          wasm_v128_store(t + (long)r * CiP + 4 * v, c[r][v]);                                    \
    }                                                                                             \
  }

// Rows [from, to) of dx [N, H, W, Ci] (row r: image r / H, row r % H), each the sum, tap row a
// by tap row a, of the dy row i = r % H + top - a through wt: zeroes their rows of dxp
// [N * H, Wp, CiP] (Wp = Wo + KW - 1: every target column, dx's from column left), accumulates
// them, then (where dx is not dxp) copies them into dx. CiP must be a multiple of 4*NV. Touches
// nothing outside those rows, so it may run again, and a row's sum does not depend on the split.
#define DEFINE_KERNEL(Rv, NVv)                                                                    \
  DEFINE_TILE(Rv, NVv)                                                                            \
  __attribute__((export_name("dx_" #Rv "x" #NVv))) void dx_##Rv##x##NVv(                          \
      const float *dy, const float *wt, float *dxp, float *dx, int Ho, int Wo, int Co, int KH,   \
      int KW, int CiP, int H, int W, int Ci, int top, int left, int from, int to) {              \
    const int Wp = Wo + KW - 1;                                                                   \
    const long tap = (long)Co * CiP;                                                              \
    for (int r = from; r < to; r++) {                                                             \
      const int n = r / H, u = r % H + top;                                                       \
      float *tr = dxp + (long)r * Wp * CiP;                                                       \
      __builtin_memset(tr, 0, (long)Wp * CiP * 4);                                                \
      for (int a = 0; a < KH; a++) {                                                              \
        const int i = u - a;                                                                      \
        if (i < 0 || i >= Ho) continue;                                                           \
        const float *dr = dy + ((long)n * Ho + i) * Wo * Co;                                      \
        const float *wa = wt + (long)a * KW * tap;                                                \
        int j = 0;                                                                                \
        for (; j + Rv <= Wo; j += Rv)                                                             \
          for (int b = 0; b < KW; b++)                                                            \
            for (int c0 = 0; c0 < CiP; c0 += 4 * NVv)                                             \
              tile_##Rv##x##NVv(dr + (long)j * Co, wa + b * tap + c0,                            \
                                tr + (long)(j + b) * CiP + c0, Co, CiP);                          \
        for (; j < Wo; j++)                                                                       \
          for (int b = 0; b < KW; b++)                                                            \
            for (int c0 = 0; c0 < CiP; c0 += 4 * NVv)                                             \
              tile_1x##NVv(dr + (long)j * Co, wa + b * tap + c0, tr + (long)(j + b) * CiP + c0,  \
                           Co, CiP);                                                              \
      }                                                                                           \
      if (dx == dxp) continue;                                                                    \
      float *out = dx + (long)r * W * Ci;                                                         \
      for (int v = 0; v < W; v++) {                                                               \
        const float *src = tr + (long)(v + left) * CiP;                                           \
        for (int ch = 0; ch < Ci; ch++) out[(long)v * Ci + ch] = src[ch];                         \
      }                                                                                           \
    }                                                                                             \
  }

DEFINE_TILE(1, 1)
DEFINE_TILE(1, 2)
DEFINE_TILE(1, 3)

// Pixels x vectors of 4 input channels; the caller picks by the padded input channels. More
// accumulators (4 x 3, 3 x 4, 6 x 2) spill registers in V8 on x86-64 and run 1.5 to 2 times slower.
DEFINE_KERNEL(8, 1)
DEFINE_KERNEL(4, 2)
DEFINE_KERNEL(3, 3)
