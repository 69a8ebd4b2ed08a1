// A convolution's filter gradient in WebAssembly SIMD, for the wasm backend's small layers:
//   dW[a, b, ci, co] = sum over n, i, j of x[n, i*sh + a - top, j*sw + b - left, ci] * dy[n, i, j, co]
// with x and dy NHWC and dW HWIO. The module imports tfjs-backend-wasm's shared memory and works
// on its tensors in place, so it must never use the C stack nor hold static data (build.sh checks
// the output for both): every buffer is a tensor the caller allocated on tfjs' heap.
//
// Method: x is copied into a zero-padded buffer, so that each tap (a, b, ci) is a fixed offset
// from a pixel's base address; a register tile of MR taps x 4*NV output channels is accumulated
// over a chunk of output rows, one dy row (4*NV channels) loaded and one x value broadcast per
// tap and pixel, with a fused multiply-add (relaxed SIMD). With 4 channels or more, dy is read
// in place: a vector that would run past a pixel's channels starts 4 before their end instead
// (repeating channels already summed, in the same order); below 4 the caller pads dy's channels
// to 4 (pad_channels), so no load reads past a tensor.
//
// Threads: the accumulation takes a range of taps [from, to) (rows of dW), so two threads each
// do a part with no reduction; each tap's sum runs in the same order whatever the split, so the
// result is the same on one thread and on two. Build: sh lib/backend/_wasm_simd/build.sh
#include <stdint.h>
#include "_simd.h"

// Copies x [N,H,W,C] into a zero-padded xp [N,Hp,Wp,C] at (top, left); negative offsets crop.
__attribute__((export_name("pad_nhwc"))) void pad_nhwc(const float *x, float *xp, int N, int H,
                                                        int W, int C, int Hp, int Wp, int top,
                                                        int left) {
  const int rowp = Wp * C;
  for (int n = 0; n < N; n++) {
    float *img = xp + (long)n * Hp * rowp;
    for (int r = 0; r < Hp; r++) {
      float *dst = img + (long)r * rowp;
      const int sr = r - top;
      if (sr < 0 || sr >= H) {
        __builtin_memset(dst, 0, rowp * 4);
        continue;
      }
      const float *src = x + (((long)n * H + sr) * W) * C;
      int c0 = left * C; // columns before the data
      int cw = W * C;    // the data's width
      if (c0 > 0) __builtin_memset(dst, 0, c0 * 4);
      if (c0 < 0) {
        src -= c0;
        cw += c0;
        c0 = 0;
      }
      if (c0 + cw > rowp) cw = rowp - c0;
      __builtin_memcpy(dst + c0, src, cw * 4);
      if (c0 + cw < rowp) __builtin_memset(dst + c0 + cw, 0, (rowp - c0 - cw) * 4);
    }
  }
}

// Copies rows [from, to) of C floats into rows of CP >= C floats, zero-filling the rest (a
// thread's part: each writes only its own rows). Short rows are copied float by float: a
// memory.copy per row of a few channels cost more than the copy.
__attribute__((export_name("pad_channels"))) void pad_channels(const float *src, float *dst,
                                                                int C, int CP, int from,
                                                                int to) {
  if (C < 16) {
    for (long r = from; r < to; r++) {
      const float *s = src + r * C;
      float *d = dst + r * CP;
      int c = 0;
      for (; c < C; c++) d[c] = s[c];
      for (; c < CP; c++) d[c] = 0.f;
    }
    return;
  }
  for (long r = from; r < to; r++) {
    __builtin_memcpy(dst + r * CP, src + r * C, C * 4);
    __builtin_memset(dst + r * CP + C, 0, (CP - C) * 4);
  }
}

// Tap offsets [Mp]: tap t = (a, b, ci) is at (a * Wp + b) * Ci + ci from a pixel's base; the
// last one repeats up to Mp, a multiple of MR, so that a tile past M reads valid addresses.
__attribute__((export_name("dw_prepare"))) void dw_prepare(int *offs, int Wp, int Ci, int KH,
                                                            int KW, int MR) {
  const int M = KH * KW * Ci;
  for (int t = 0, a = 0; a < KH; a++)
    for (int b = 0; b < KW; b++)
      for (int ch = 0; ch < Ci; ch++, t++) offs[t] = (a * Wp + b) * Ci + ch;
  const int Mp = (M + MR - 1) / MR * MR;
  for (int t = M; t < Mp; t++) offs[t] = offs[M - 1];
}

// One register tile: MR taps x 4*NV channels from co0, over output rows [i0, i1) of one image.
// dy's pixels are DS floats apart; a vector starting past Cl (the last that fits in a pixel's
// DS channels) starts at Cl instead, repeating some channels: their sums are computed in the
// same order in both vectors, so whichever is stored last stores the same values.
#define DEFINE_TILE(MRv, NVv)                                                                     \
  static inline void tile_##MRv##x##NVv(const float *xp, const float *dy, float *acc, int CoP,    \
                                        const int *offs, int nvalid, int co0, long xImg,          \
                                        long dyImg, int i0, int i1, int Wo, int xRowStep,         \
                                        int xColStep, int DS, int Cl) {                           \
    int o[MRv], vo[NVv];                                                                          \
    v128_t c[MRv][NVv];                                                                           \
    _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) vo[v] =                      \
        co0 + 4 * v < Cl ? co0 + 4 * v : Cl;                                                      \
    _Pragma("clang loop unroll(full)") for (int m = 0; m < MRv; m++) {                            \
      o[m] = offs[m];                                                                             \
      _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) c[m][v] =                  \
          wasm_v128_load(acc + (long)m * CoP + vo[v]);                                            \
    }                                                                                             \
    for (int i = i0; i < i1; i++) {                                                               \
      const float *xr = xp + xImg + (long)i * xRowStep;                                           \
      const float *dr = dy + dyImg + (long)i * Wo * DS;                                           \
      for (int j = 0; j < Wo; j++) {                                                              \
        v128_t d[NVv];                                                                            \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) d[v] =                   \
            wasm_v128_load(dr + vo[v]);                                                           \
        _Pragma("clang loop unroll(full)") for (int m = 0; m < MRv; m++) {                        \
          v128_t xv = wasm_v128_load32_splat(xr + o[m]);                                          \
          _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) c[m][v] =              \
              MADD(c[m][v], xv, d[v]);                                                            \
        }                                                                                         \
        xr += xColStep;                                                                           \
        dr += DS;                                                                                 \
      }                                                                                           \
    }                                                                                             \
    _Pragma("clang loop unroll(full)") for (int m = 0; m < MRv; m++) if (m < nvalid) {            \
      _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++)                            \
          wasm_v128_store(acc + (long)m * CoP + vo[v], c[m][v]);                                  \
    }                                                                                             \
  }                                                                                               \
  /* dW's taps [from, to) (from a multiple of MR, to one or M): zeroes their accumulators of   \
     acc [Mp, CoP], accumulates them over every pixel (dy's pixels DS >= 4 floats apart, its    \
     vectors starting at most at Cl), and writes their first Co channels to dw [M, Co]. Touches \
     nothing outside those rows, so it may run again. */                                        \
  __attribute__((export_name("dw_" #MRv "x" #NVv))) void dw_##MRv##x##NVv(                       \
      const float *xp, const float *dy, float *acc, const int *offs, float *dw, int N, int Hp,   \
      int Wp, int Ci, int Ho, int Wo, int Co, int CoP, int M, int sh, int sw, int rowsPerChunk,  \
      int DS, int Cl, int from, int to) {                                                         \
    if (to > M) to = M;                                                                           \
    if (from >= to) return;                                                                       \
    const int rowsEnd = (to + MRv - 1) / MRv * MRv; /* the last tile's rows past M too */         \
    for (long k = (long)from * CoP; k < (long)rowsEnd * CoP; k++) acc[k] = 0.f;                   \
    const int xRowStep = sh * Wp * Ci, xColStep = sw * Ci;                                        \
    for (int n = 0; n < N; n++) {                                                                 \
      const long xImg = (long)n * Hp * Wp * Ci, dyImg = (long)n * Ho * Wo * DS;                   \
      for (int i0 = 0; i0 < Ho; i0 += rowsPerChunk) {                                            \
        int i1 = i0 + rowsPerChunk;                                                               \
        if (i1 > Ho) i1 = Ho;                                                                     \
        for (int t0 = from; t0 < to; t0 += MRv) {                                                 \
          int nv = to - t0;                                                                       \
          if (nv > MRv) nv = MRv;                                                                 \
          for (int co0 = 0; co0 < CoP; co0 += 4 * NVv)                                            \
            tile_##MRv##x##NVv(xp, dy, acc + (long)t0 * CoP, CoP, offs + t0, nv, co0, xImg,      \
                               dyImg, i0, i1, Wo, xRowStep, xColStep, DS, Cl);                   \
        }                                                                                         \
      }                                                                                           \
    }                                                                                             \
    for (int t = from; t < to; t++)                                                               \
      for (int ch = 0; ch < Co; ch++) dw[(long)t * Co + ch] = acc[(long)t * CoP + ch];            \
  }

// 2 taps x 16 channels, 3 taps x 12, 4 taps x 8: the caller picks per layer.
DEFINE_TILE(2, 4)
DEFINE_TILE(3, 3)
DEFINE_TILE(4, 2)
