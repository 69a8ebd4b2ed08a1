// 3x3, stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (and F(4x4, 3x3) below,
// forward) in WebAssembly SIMD, for the wasm backend's forward convolution, input gradient and
// filter gradient (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015). Each 2x2 block of outputs ("tile") takes
// a 4x4 patch d of the input; per input channel ci and output channel co,
//   y = A^T [ (G g G^T) . (B^T d B) ] A      (. elementwise, g the 3x3 filter)
// so the 36 multiply-adds of a tile's four outputs become 16, in 16 matrix products over the
// channels: M[k][t][co] = sum_ci V[k][t][ci] U[k][ci][co], k the 16 positions of the 4x4 patch.
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
//   A^T = [1 1 1 0; 0 1 -1 -1].
// The filter gradient is the same map's adjoint: dU[k][ci][co] = sum_t V[k][t][ci] dM[k][t][co]
// with dM = A dy A^T (dy the tile's 2x2 output gradient), then dW = G^T dU G.
//
// Layouts: x NHWC, W HWIO; U [16, Ci, CoP] (output channels padded with zeros to CoP, a multiple
// of 4). Per thread, a scratch of TB tiles: V [16, TB, Ci] and M [16, TB, CoP]. A tile's input
// patch starts at row 2*ti - pt, column 2*tj - pl; reads outside x are zeros, and outputs past
// Ho or Wo are not written. Channels go four to a vector; a tail of 1-3 channels is one more
// vector over the last four where there are four or more (it recomputes a few lanes alike), one
// channel at a time below four.
//
// Threads: the forward kernel takes a range of tile rows over the batch and writes only their
// outputs; the filter gradient takes a range of the 16 positions k and sums every tile for them
// in one order. No value depends on how the work is cut. The module imports tfjs-backend-wasm's
// shared memory and never uses the C stack nor static data (build.sh checks): every buffer is a
// tensor the caller allocated on tfjs' heap.
// Build: sh lib/backend/_wasm_simd/build.sh winograd
#include <stdint.h>
#include "_simd.h"

// The n (1 to 3) floats at p, the other lanes zeros.
static inline v128_t load_tail(const float *p, int n) {
  return wasm_f32x4_make(p[0], n > 1 ? p[1] : 0.f, n > 2 ? p[2] : 0.f, 0.f);
}

// Filter taps g[a][b] (a, b in 0..2) for input channel ci and output channels [co, co + 4) of
// U, as one vector each (channels past Co zeros). flip = 0: W [3, 3, Ci, Co], the layer's own
// filter (the four channels contiguous). flip = 1: W [3, 3, Co, Ci] of the layer whose input
// gradient this is (the filter turned 180 degrees, its channel axes swapped: g[a][b] =
// W[2 - a][2 - b][co][ci]; the four channels Ci floats apart).
static inline v128_t filter_tap(const float *w, int Ci, int Co, int ci, int co, int a, int b,
                                int flip) {
  const int lanes = Co - co < 4 ? Co - co : 4;
  if (!flip) {
    const float *p = w + ((a * 3 + b) * (long)Ci + ci) * Co + co;
    return lanes == 4 ? wasm_v128_load(p) : load_tail(p, lanes);
  }
  const float *p = w + (((2 - a) * 3 + (2 - b)) * (long)Co + co) * Ci + ci;
  return wasm_f32x4_make(p[0], lanes > 1 ? p[Ci] : 0.f, lanes > 2 ? p[2L * Ci] : 0.f,
                         lanes > 3 ? p[3L * Ci] : 0.f);
}

// U [16, Ci, CoP] = G g G^T from W (see filter_tap for flip), four output channels at a time
// (vectors: the same float operations, in the same order, as one channel at a time).
__attribute__((export_name("wg_filter"))) void wg_filter(const float *w, float *u, int Ci, int Co,
                                                          int CoP, int flip) {
  const long plane = (long)Ci * CoP;
  const v128_t half = wasm_f32x4_splat(0.5f), zero = wasm_f32x4_splat(0.f);
  for (int ci = 0; ci < Ci; ci++) {
    for (int co = 0; co < CoP; co += 4) {
      float *dst = u + (long)ci * CoP + co;
      if (co >= Co) {
        for (int k = 0; k < 16; k++) wasm_v128_store(dst + k * plane, zero);
        continue;
      }
      v128_t g[3][3], t[4][3];
      _Pragma("clang loop unroll(full)") for (int a = 0; a < 3; a++) {
        _Pragma("clang loop unroll(full)") for (int b = 0; b < 3; b++) {
          g[a][b] = filter_tap(w, Ci, Co, ci, co, a, b, flip);
        }
      }
      _Pragma("clang loop unroll(full)") for (int b = 0; b < 3; b++) { // t = G g
        t[0][b] = g[0][b];
        t[1][b] = wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_add(g[0][b], g[1][b]), g[2][b]), half);
        t[2][b] = wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_sub(g[0][b], g[1][b]), g[2][b]), half);
        t[3][b] = g[2][b];
      }
      _Pragma("clang loop unroll(full)") for (int r = 0; r < 4; r++) { // U = t G^T
        const v128_t p = wasm_f32x4_add(t[r][0], t[r][1]), q = wasm_f32x4_sub(t[r][0], t[r][1]);
        wasm_v128_store(dst + (4 * r + 0) * plane, t[r][0]);
        wasm_v128_store(dst + (4 * r + 1) * plane, wasm_f32x4_mul(wasm_f32x4_add(p, t[r][2]), half));
        wasm_v128_store(dst + (4 * r + 2) * plane, wasm_f32x4_mul(wasm_f32x4_add(q, t[r][2]), half));
        wasm_v128_store(dst + (4 * r + 3) * plane, t[r][2]);
      }
    }
  }
}

// dW [3, 3, Ci, Co] = G^T dU G from dU [16, Ci, CoP].
__attribute__((export_name("wg_filter_out"))) void wg_filter_out(const float *du, float *dw, int Ci,
                                                                  int Co, int CoP) {
  const long plane = (long)Ci * CoP;
  for (int ci = 0; ci < Ci; ci++) {
    for (int co = 0; co < Co; co++) {
      const float *src = du + (long)ci * CoP + co;
      float m[4][4], t[3][4];
      _Pragma("clang loop unroll(full)") for (int k = 0; k < 16; k++) m[k / 4][k % 4] =
          src[k * plane];
      _Pragma("clang loop unroll(full)") for (int c = 0; c < 4; c++) { // t = G^T m
        t[0][c] = m[0][c] + (m[1][c] + m[2][c]) * 0.5f;
        t[1][c] = (m[1][c] - m[2][c]) * 0.5f;
        t[2][c] = (m[1][c] + m[2][c]) * 0.5f + m[3][c];
      }
      _Pragma("clang loop unroll(full)") for (int a = 0; a < 3; a++) { // dW = t G
        float *dst = dw + ((long)a * 3 * Ci + ci) * Co + co;
        dst[0] = t[a][0] + (t[a][1] + t[a][2]) * 0.5f;
        dst[(long)Ci * Co] = (t[a][1] - t[a][2]) * 0.5f;
        dst[2L * Ci * Co] = (t[a][1] + t[a][2]) * 0.5f + t[a][3];
      }
    }
  }
}

// ---- Input transform: V = B^T d B, per 4 channels (vectors) or one (scalars).

#define BTD_ROWS(T, d, e, SUB, ADD)                                                               \
  _Pragma("clang loop unroll(full)") for (int c = 0; c < 4; c++) {                                \
    e[0][c] = SUB(d[0][c], d[2][c]);                                                              \
    e[1][c] = ADD(d[1][c], d[2][c]);                                                              \
    e[2][c] = SUB(d[2][c], d[1][c]);                                                              \
    e[3][c] = SUB(d[1][c], d[3][c]);                                                              \
  }
#define BTD_COLS(v, e, SUB, ADD, STORE)                                                           \
  _Pragma("clang loop unroll(full)") for (int r = 0; r < 4; r++) {                                \
    STORE(v + (4 * r + 0) * vk, SUB(e[r][0], e[r][2]));                                           \
    STORE(v + (4 * r + 1) * vk, ADD(e[r][1], e[r][2]));                                           \
    STORE(v + (4 * r + 2) * vk, SUB(e[r][2], e[r][1]));                                           \
    STORE(v + (4 * r + 3) * vk, SUB(e[r][1], e[r][3]));                                           \
  }
#define VSUB(a, b) wasm_f32x4_sub(a, b)
#define VADD(a, b) wasm_f32x4_add(a, b)
#define SSUB(a, b) ((a) - (b))
#define SADD(a, b) ((a) + (b))
#define VSTORE(p, x) wasm_v128_store(p, x)
#define SSTORE(p, x) (*(p) = (x))

// One tile's transform for channels [c, c + 4) (vec) or channel c: the patch's rows from x row
// `row0` (image row r0 .. r0 + 3, valid where 0 <= r < H), columns from q0, into v (its k-th
// value vk floats further on).
static inline void in_tile4(const float *x, float *v, long vk, int H, int W, int C, int r0, int q0,
                            int c, int inside) {
  v128_t d[4][4], e[4][4];
  const v128_t zero = wasm_f32x4_splat(0.f);
  _Pragma("clang loop unroll(full)") for (int a = 0; a < 4; a++) {
    _Pragma("clang loop unroll(full)") for (int b = 0; b < 4; b++) {
      const int r = r0 + a, q = q0 + b;
      d[a][b] = inside || (r >= 0 && r < H && q >= 0 && q < W)
                    ? wasm_v128_load(x + ((long)r * W + q) * C + c)
                    : zero;
    }
  }
  BTD_ROWS(v128_t, d, e, VSUB, VADD)
  BTD_COLS(v, e, VSUB, VADD, VSTORE)
}

static inline void in_tile1(const float *x, float *v, long vk, int H, int W, int C, int r0, int q0,
                            int c) {
  float d[4][4], e[4][4];
  _Pragma("clang loop unroll(full)") for (int a = 0; a < 4; a++) {
    _Pragma("clang loop unroll(full)") for (int b = 0; b < 4; b++) {
      const int r = r0 + a, q = q0 + b;
      d[a][b] = (r >= 0 && r < H && q >= 0 && q < W) ? x[((long)r * W + q) * C + c] : 0.f;
    }
  }
  BTD_ROWS(float, d, e, SSUB, SADD)
  BTD_COLS(v, e, SSUB, SADD, SSTORE)
}

// The tile t0 (flat index over the batch: n * th * tw + ti * tw + tj) as (n, ti, tj), and the
// step to the next tile, without a division per tile.
#define TILE_CURSOR(t0)                                                                           \
  int n = (int)((t0) / ((long)th * tw)), ti = (int)((t0) % ((long)th * tw)) / tw,                 \
      tj = (int)((t0) % tw)
#define NEXT_TILE (++tj == tw ? (tj = 0, ++ti == th ? (ti = 0, n++) : 0) : 0)

// V [16, TB, C] for the tiles [t0, t0 + count) (flat index over the batch: n * th * tw + ti * tw
// + tj) of x [N, H, W, C], patches from (2 ti - pt, 2 tj - pl).
static void in_transform(const float *x, float *v, int TB, int H, int W, int C, int th, int tw,
                         int pt, int pl, long t0, int count) {
  const long vk = (long)TB * C;
  TILE_CURSOR(t0);
  for (int i = 0; i < count; i++, NEXT_TILE) {
    const int r0 = 2 * ti - pt, q0 = 2 * tj - pl;
    const float *xn = x + (long)n * H * W * C;
    float *vt = v + (long)i * C;
    const int inside = r0 >= 0 && r0 + 4 <= H && q0 >= 0 && q0 + 4 <= W;
    if (C >= 4) {
      for (int c = 0; c + 4 <= C; c += 4) in_tile4(xn, vt + c, vk, H, W, C, r0, q0, c, inside);
      if (C % 4) in_tile4(xn, vt + C - 4, vk, H, W, C, r0, q0, C - 4, inside);
    } else {
      for (int c = 0; c < C; c++) in_tile1(xn, vt + c, vk, H, W, C, r0, q0, c);
    }
  }
}

// ---- The 16 products: M[k] [count, CoP] = V[k] [count, Ci] x U[k] [Ci, CoP].

// R tiles x NV vectors of output channels: v the first tile's Ci values (tiles Ci apart), u the
// filter from the block's first channel (rows CoP apart), m the first tile's outputs.
#define DEFINE_MM(Rv, NVv)                                                                        \
  static inline void mm_##Rv##x##NVv(const float *v, const float *u, float *m, int Ci, int CoP) { \
    v128_t c[Rv][NVv];                                                                            \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) {                             \
      _Pragma("clang loop unroll(full)") for (int q = 0; q < NVv; q++) c[r][q] =                  \
          wasm_f32x4_splat(0.f);                                                                  \
    }                                                                                             \
    for (int ci = 0; ci < Ci; ci++) {                                                             \
      v128_t uv[NVv];                                                                             \
      _Pragma("clang loop unroll(full)") for (int q = 0; q < NVv; q++) uv[q] =                    \
          wasm_v128_load(u + 4 * q);                                                              \
      _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) {                           \
        v128_t xv = wasm_v128_load32_splat(v + (long)r * Ci + ci);                                \
        _Pragma("clang loop unroll(full)") for (int q = 0; q < NVv; q++) c[r][q] =                \
            MADD(c[r][q], xv, uv[q]);                                                             \
      }                                                                                           \
      u += CoP;                                                                                   \
    }                                                                                             \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) {                             \
      _Pragma("clang loop unroll(full)") for (int q = 0; q < NVv; q++)                            \
          wasm_v128_store(m + (long)r * CoP + 4 * q, c[r][q]);                                    \
    }                                                                                             \
  }

DEFINE_MM(2, 4)
DEFINE_MM(1, 4)
DEFINE_MM(3, 3)
DEFINE_MM(1, 3)
DEFINE_MM(4, 2)
DEFINE_MM(1, 2)
DEFINE_MM(4, 1)
DEFINE_MM(1, 1)

static void products(const float *v, const float *u, float *m, int count, int Ci, int CoP) {
  for (int c0 = 0; c0 < CoP;) {
    const int left = (CoP - c0) / 4;
    const int nv = left == 5 || left == 6 ? 3 : left >= 4 ? 4 : left;
    int t = 0;
    switch (nv) {
    case 4:
      for (; t + 2 <= count; t += 2) mm_2x4(v + (long)t * Ci, u + c0, m + (long)t * CoP + c0, Ci, CoP);
      for (; t < count; t++) mm_1x4(v + (long)t * Ci, u + c0, m + (long)t * CoP + c0, Ci, CoP);
      break;
    case 3:
      for (; t + 3 <= count; t += 3) mm_3x3(v + (long)t * Ci, u + c0, m + (long)t * CoP + c0, Ci, CoP);
      for (; t < count; t++) mm_1x3(v + (long)t * Ci, u + c0, m + (long)t * CoP + c0, Ci, CoP);
      break;
    case 2:
      for (; t + 4 <= count; t += 4) mm_4x2(v + (long)t * Ci, u + c0, m + (long)t * CoP + c0, Ci, CoP);
      for (; t < count; t++) mm_1x2(v + (long)t * Ci, u + c0, m + (long)t * CoP + c0, Ci, CoP);
      break;
    default:
      for (; t + 4 <= count; t += 4) mm_4x1(v + (long)t * Ci, u + c0, m + (long)t * CoP + c0, Ci, CoP);
      for (; t < count; t++) mm_1x1(v + (long)t * Ci, u + c0, m + (long)t * CoP + c0, Ci, CoP);
    }
    c0 += 4 * nv;
  }
}

// ---- Output transform: y = A^T M A (+ bias, ReLU), the tile's four outputs where inside.

static void out_transform(const float *m, const float *bias, float *out, int TB, int Ho, int Wo,
                          int Co, int CoP, int th, int tw, int relu, long t0, int count) {
  const long mk = (long)TB * CoP;
  const v128_t zero = wasm_f32x4_splat(0.f);
  TILE_CURSOR(t0);
  for (int i = 0; i < count; i++, NEXT_TILE) {
    const int i0 = 2 * ti, j0 = 2 * tj;
    float *o = out + (((long)n * Ho + i0) * Wo + j0) * Co;
    const int rows = i0 + 1 < Ho ? 2 : 1, cols = j0 + 1 < Wo ? 2 : 1;
    for (int c = 0; c < Co; c += 4) {
      const float *src = m + (long)i * CoP + c;
      v128_t s[2][4];
      _Pragma("clang loop unroll(full)") for (int b = 0; b < 4; b++) { // s = A^T M
        const v128_t m0 = wasm_v128_load(src + (0 * 4 + b) * mk);
        const v128_t m1 = wasm_v128_load(src + (1 * 4 + b) * mk);
        const v128_t m2 = wasm_v128_load(src + (2 * 4 + b) * mk);
        const v128_t m3 = wasm_v128_load(src + (3 * 4 + b) * mk);
        s[0][b] = wasm_f32x4_add(wasm_f32x4_add(m0, m1), m2);
        s[1][b] = wasm_f32x4_sub(wasm_f32x4_sub(m1, m2), m3);
      }
      const int lanes = Co - c < 4 ? Co - c : 4;
      const v128_t bv = bias == 0 ? zero : lanes == 4 ? wasm_v128_load(bias + c)
                                                      : load_tail(bias + c, lanes);
      _Pragma("clang loop unroll(full)") for (int a = 0; a < 2; a++) { // y = s A
        v128_t y0 = wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(s[a][0], s[a][1]), s[a][2]), bv);
        v128_t y1 = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_sub(s[a][1], s[a][2]), s[a][3]), bv);
        if (relu) {
          y0 = wasm_f32x4_pmax(y0, zero);
          y1 = wasm_f32x4_pmax(y1, zero);
        }
        if (a < rows) {
          float *oa = o + (long)a * Wo * Co + c;
          store_lanes(oa, y0, lanes);
          if (cols == 2) store_lanes(oa + Co, y1, lanes);
        }
      }
    }
  }
}

// Tile rows [from, to) (row r: image r / th, tile row r % th) of out [N, Ho, Wo, Co] = act(conv(x,
// g) + bias) for x [N, H, W, Ci] and U from wg_filter; bias [Co] or 0. scratch: V and M for TB
// tiles (16 * TB * (Ci + CoP) floats), this part's own.
__attribute__((export_name("wg_conv"))) void wg_conv(const float *x, const float *u,
                                                      const float *bias, float *out, int H, int W,
                                                      int Ci, int Ho, int Wo, int Co, int CoP,
                                                      int pt, int pl, int relu, int TB,
                                                      float *scratch, int from, int to) {
  const int th = (Ho + 1) / 2, tw = (Wo + 1) / 2;
  float *v = scratch, *m = scratch + 16L * TB * Ci;
  const long end = (long)to * tw;
  for (long t0 = (long)from * tw; t0 < end; t0 += TB) {
    const int count = end - t0 < TB ? (int)(end - t0) : TB;
    in_transform(x, v, TB, H, W, Ci, th, tw, pt, pl, t0, count);
    for (int k = 0; k < 16; k++) {
      products(v + (long)k * TB * Ci, u + (long)k * Ci * CoP, m + (long)k * TB * CoP, count, Ci,
               CoP);
    }
    out_transform(m, bias, out, TB, Ho, Wo, Co, CoP, th, tw, relu, t0, count);
  }
}

// ---- F(4x4, 3x3): each 4x4 block of outputs from a 6x6 patch, 36 products per channel pair
// for 16 outputs (2.25 a output, against F(2x2, 3x3)'s 4). Same layouts with 36 positions:
// U [36, Ci, CoP], V [36, TB, Ci], M [36, TB, CoP]; patches from (4 ti - pt, 4 tj - pl).
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
//          0 4 0 -5 0 1],
//   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1],
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1].

// G applied to (g0, g1, g2) (vectors), into u[0..5]:
//   g0/4, -(g0 + g1 + g2)/6, -(g0 - g1 + g2)/6, g0/24 + g1/12 + g2/6, g0/24 - g1/12 + g2/6, g2.
#define G6(u, g0, g1, g2)                                                                         \
  {                                                                                               \
    const v128_t sixth = wasm_f32x4_splat(-1.f / 6.f);                                            \
    const v128_t a24 = wasm_f32x4_mul((g0), wasm_f32x4_splat(1.f / 24.f));                        \
    const v128_t b12 = wasm_f32x4_mul((g1), wasm_f32x4_splat(1.f / 12.f));                        \
    const v128_t c6 = wasm_f32x4_mul((g2), wasm_f32x4_splat(1.f / 6.f));                          \
    (u)[0] = wasm_f32x4_mul((g0), wasm_f32x4_splat(0.25f));                                       \
    (u)[1] = wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_add((g0), (g1)), (g2)), sixth);             \
    (u)[2] = wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_sub((g0), (g1)), (g2)), sixth);             \
    (u)[3] = wasm_f32x4_add(wasm_f32x4_add(a24, b12), c6);                                        \
    (u)[4] = wasm_f32x4_add(wasm_f32x4_sub(a24, b12), c6);                                        \
    (u)[5] = (g2);                                                                                \
  }

// U [36, Ci, CoP] from W, as wg_filter (flip: the input gradient's filter), four output channels
// at a time.
__attribute__((export_name("wg4_filter"))) void wg4_filter(const float *w, float *u, int Ci, int Co,
                                                            int CoP, int flip) {
  const long plane = (long)Ci * CoP;
  const v128_t zero = wasm_f32x4_splat(0.f);
  for (int ci = 0; ci < Ci; ci++) {
    for (int co = 0; co < CoP; co += 4) {
      float *dst = u + (long)ci * CoP + co;
      if (co >= Co) {
        for (int k = 0; k < 36; k++) wasm_v128_store(dst + k * plane, zero);
        continue;
      }
      v128_t g[3][3], t[6][3], r[6];
      _Pragma("clang loop unroll(full)") for (int a = 0; a < 3; a++) {
        _Pragma("clang loop unroll(full)") for (int b = 0; b < 3; b++) {
          g[a][b] = filter_tap(w, Ci, Co, ci, co, a, b, flip);
        }
      }
      _Pragma("clang loop unroll(full)") for (int b = 0; b < 3; b++) { // t = G g, by columns
        G6(r, g[0][b], g[1][b], g[2][b]);
        _Pragma("clang loop unroll(full)") for (int a = 0; a < 6; a++) t[a][b] = r[a];
      }
      _Pragma("clang loop unroll(full)") for (int a = 0; a < 6; a++) { // U = t G^T, by rows
        G6(r, t[a][0], t[a][1], t[a][2]);
        _Pragma("clang loop unroll(full)") for (int b = 0; b < 6; b++) {
          wasm_v128_store(dst + (6 * a + b) * plane, r[b]);
        }
      }
    }
  }
}

// B^T applied to d[0..5] (vectors), into e[0..5].
#define BT6(e, d)                                                                                 \
  {                                                                                               \
    const v128_t four = wasm_f32x4_splat(4.f), five = wasm_f32x4_splat(5.f);                      \
    const v128_t two = wasm_f32x4_splat(2.f);                                                     \
    const v128_t s14 = wasm_f32x4_mul(four, (d)[1]), s24 = wasm_f32x4_mul(four, (d)[2]);          \
    const v128_t s12 = wasm_f32x4_mul(two, (d)[1]), s32 = wasm_f32x4_mul(two, (d)[3]);            \
    const v128_t d34 = wasm_f32x4_add((d)[3], (d)[4]), n24 = wasm_f32x4_sub((d)[4], (d)[2]);      \
    (e)[0] = wasm_f32x4_add(wasm_f32x4_sub(wasm_f32x4_mul(four, (d)[0]),                          \
                                           wasm_f32x4_mul(five, (d)[2])), (d)[4]);                \
    (e)[1] = wasm_f32x4_sub(d34, wasm_f32x4_add(s14, s24));                                       \
    (e)[2] = wasm_f32x4_add(wasm_f32x4_sub(s14, s24), wasm_f32x4_sub((d)[4], (d)[3]));            \
    (e)[3] = wasm_f32x4_add(wasm_f32x4_sub(s32, s12), n24);                                       \
    (e)[4] = wasm_f32x4_add(wasm_f32x4_sub(s12, s32), n24);                                       \
    (e)[5] = wasm_f32x4_add(wasm_f32x4_sub(s14, wasm_f32x4_mul(five, (d)[3])), (d)[5]);           \
  }

// One tile's V = B^T d B for channels [c, c + 4): the 6x6 patch from image row r0, column q0.
static inline void in_tile6(const float *x, float *v, long vk, int H, int W, int C, int r0, int q0,
                            int c, int inside) {
  v128_t d[6][6], e[6][6];
  const v128_t zero = wasm_f32x4_splat(0.f);
  _Pragma("clang loop unroll(full)") for (int a = 0; a < 6; a++) {
    _Pragma("clang loop unroll(full)") for (int b = 0; b < 6; b++) {
      const int r = r0 + a, q = q0 + b;
      d[a][b] = inside || (r >= 0 && r < H && q >= 0 && q < W)
                    ? wasm_v128_load(x + ((long)r * W + q) * C + c)
                    : zero;
    }
  }
  _Pragma("clang loop unroll(full)") for (int b = 0; b < 6; b++) { // columns: e = B^T d
    v128_t col[6], out[6];
    _Pragma("clang loop unroll(full)") for (int a = 0; a < 6; a++) col[a] = d[a][b];
    BT6(out, col);
    _Pragma("clang loop unroll(full)") for (int a = 0; a < 6; a++) e[a][b] = out[a];
  }
  _Pragma("clang loop unroll(full)") for (int a = 0; a < 6; a++) { // rows: V = e B
    v128_t out[6];
    BT6(out, e[a]);
    _Pragma("clang loop unroll(full)") for (int b = 0; b < 6; b++) {
      wasm_v128_store(v + (6 * a + b) * vk, out[b]);
    }
  }
}

// V [36, TB, C] for the tiles [t0, t0 + count) of x (C >= 4).
static void in_transform6(const float *x, float *v, int TB, int H, int W, int C, int th, int tw,
                          int pt, int pl, long t0, int count) {
  const long vk = (long)TB * C;
  TILE_CURSOR(t0);
  for (int i = 0; i < count; i++, NEXT_TILE) {
    const int r0 = 4 * ti - pt, q0 = 4 * tj - pl;
    const float *xn = x + (long)n * H * W * C;
    float *vt = v + (long)i * C;
    const int inside = r0 >= 0 && r0 + 6 <= H && q0 >= 0 && q0 + 6 <= W;
    for (int c = 0; c + 4 <= C; c += 4) in_tile6(xn, vt + c, vk, H, W, C, r0, q0, c, inside);
    if (C % 4) in_tile6(xn, vt + C - 4, vk, H, W, C, r0, q0, C - 4, inside);
  }
}

// A^T applied to m[0..5] (vectors), into y[0..3].
#define AT6(y, m)                                                                                 \
  {                                                                                               \
    const v128_t p12 = wasm_f32x4_add((m)[1], (m)[2]), d12 = wasm_f32x4_sub((m)[1], (m)[2]);      \
    const v128_t p34 = wasm_f32x4_add((m)[3], (m)[4]), d34 = wasm_f32x4_sub((m)[3], (m)[4]);      \
    (y)[0] = wasm_f32x4_add(wasm_f32x4_add((m)[0], p12), p34);                                    \
    (y)[1] = wasm_f32x4_add(d12, wasm_f32x4_mul(wasm_f32x4_splat(2.f), d34));                     \
    (y)[2] = wasm_f32x4_add(p12, wasm_f32x4_mul(wasm_f32x4_splat(4.f), p34));                     \
    (y)[3] = wasm_f32x4_add(wasm_f32x4_add(d12, wasm_f32x4_mul(wasm_f32x4_splat(8.f), d34)),      \
                            (m)[5]);                                                              \
  }

// y = A^T M A (+ bias, ReLU) for the tiles [t0, t0 + count): their 4x4 outputs where inside.
static void out_transform4(const float *m, const float *bias, float *out, int TB, int Ho, int Wo,
                           int Co, int CoP, int th, int tw, int relu, long t0, int count) {
  const long mk = (long)TB * CoP;
  const v128_t zero = wasm_f32x4_splat(0.f);
  TILE_CURSOR(t0);
  for (int i = 0; i < count; i++, NEXT_TILE) {
    const int i0 = 4 * ti, j0 = 4 * tj;
    float *o = out + (((long)n * Ho + i0) * Wo + j0) * Co;
    const int rows = Ho - i0 < 4 ? Ho - i0 : 4, cols = Wo - j0 < 4 ? Wo - j0 : 4;
    for (int c = 0; c < Co; c += 4) {
      const float *src = m + (long)i * CoP + c;
      v128_t s[4][6];
      _Pragma("clang loop unroll(full)") for (int b = 0; b < 6; b++) { // s = A^T M, by columns
        v128_t col[6], y[4];
        _Pragma("clang loop unroll(full)") for (int a = 0; a < 6; a++) col[a] =
            wasm_v128_load(src + (6 * a + b) * mk);
        AT6(y, col);
        _Pragma("clang loop unroll(full)") for (int a = 0; a < 4; a++) s[a][b] = y[a];
      }
      const int lanes = Co - c < 4 ? Co - c : 4;
      const v128_t bv = bias == 0 ? zero : lanes == 4 ? wasm_v128_load(bias + c)
                                                      : load_tail(bias + c, lanes);
      _Pragma("clang loop unroll(full)") for (int a = 0; a < 4; a++) { // y = s A, by rows
        v128_t y[4];
        AT6(y, s[a]);
        if (a < rows) {
          float *oa = o + (long)a * Wo * Co + c;
          _Pragma("clang loop unroll(full)") for (int b = 0; b < 4; b++) {
            v128_t value = wasm_f32x4_add(y[b], bv);
            if (relu) value = wasm_f32x4_pmax(value, zero);
            if (b < cols) store_lanes(oa + (long)b * Co, value, lanes);
          }
        }
      }
    }
  }
}

// Tile rows [from, to) (4 output rows each) of out = act(conv(x, g) + bias) by F(4x4, 3x3), as
// wg_conv; U from wg4_filter; x with 4 channels or more. scratch: 36 * TB * (Ci + CoP) floats.
__attribute__((export_name("wg4_conv"))) void wg4_conv(const float *x, const float *u,
                                                        const float *bias, float *out, int H, int W,
                                                        int Ci, int Ho, int Wo, int Co, int CoP,
                                                        int pt, int pl, int relu, int TB,
                                                        float *scratch, int from, int to) {
  const int th = (Ho + 3) / 4, tw = (Wo + 3) / 4;
  float *v = scratch, *m = scratch + 36L * TB * Ci;
  const long end = (long)to * tw;
  for (long t0 = (long)from * tw; t0 < end; t0 += TB) {
    const int count = end - t0 < TB ? (int)(end - t0) : TB;
    in_transform6(x, v, TB, H, W, Ci, th, tw, pt, pl, t0, count);
    for (int k = 0; k < 36; k++) {
      products(v + (long)k * TB * Ci, u + (long)k * Ci * CoP, m + (long)k * TB * CoP, count, Ci,
               CoP);
    }
    out_transform4(m, bias, out, TB, Ho, Wo, Co, CoP, th, tw, relu, t0, count);
  }
}

// ---- Filter gradient.

// dM [16, TB, width] = A dy A^T for the tiles [t0, t0 + count) of dy [N, Ho, Wo, Co], channels
// [c0, c0 + width) (rows or columns past Ho or Wo, and channels past Co, are zeros), with
// A = [1 0; 1 1; 1 -1; 0 -1]: row r of A applied to (a, b) is a, a + b, a - b or -b.
static void dy_transform(const float *dy, float *m, int TB, int Ho, int Wo, int Co, int th, int tw,
                         long t0, int count, int c0, int width) {
  const long mk = (long)TB * width;
  const v128_t zero = wasm_f32x4_splat(0.f);
  TILE_CURSOR(t0);
  for (int i = 0; i < count; i++, NEXT_TILE) {
    const int i0 = 2 * ti, j0 = 2 * tj;
    const int down = i0 + 1 < Ho, right = j0 + 1 < Wo;
    const float *p00 = dy + (((long)n * Ho + i0) * Wo + j0) * Co;
    const float *p01 = p00 + Co, *p10 = p00 + (long)Wo * Co, *p11 = p10 + Co;
    float *dst = m + (long)i * width - c0;
    for (int c = c0; c < c0 + width; c += 4) {
      v128_t d[2][2];
      if (c + 4 <= Co) {
        d[0][0] = wasm_v128_load(p00 + c);
        d[0][1] = right ? wasm_v128_load(p01 + c) : zero;
        d[1][0] = down ? wasm_v128_load(p10 + c) : zero;
        d[1][1] = down && right ? wasm_v128_load(p11 + c) : zero;
      } else { // the channels' tail, the lanes past Co zeros
        const int left = Co - c;
        d[0][0] = load_tail(p00 + c, left);
        d[0][1] = right ? load_tail(p01 + c, left) : zero;
        d[1][0] = down ? load_tail(p10 + c, left) : zero;
        d[1][1] = down && right ? load_tail(p11 + c, left) : zero;
      }
      v128_t e[4][2];
      _Pragma("clang loop unroll(full)") for (int b = 0; b < 2; b++) {
        e[0][b] = d[0][b];
        e[1][b] = wasm_f32x4_add(d[0][b], d[1][b]);
        e[2][b] = wasm_f32x4_sub(d[0][b], d[1][b]);
        e[3][b] = wasm_f32x4_neg(d[1][b]);
      }
      _Pragma("clang loop unroll(full)") for (int r = 0; r < 4; r++) {
        wasm_v128_store(dst + (4 * r + 0) * mk + c, e[r][0]);
        wasm_v128_store(dst + (4 * r + 1) * mk + c, wasm_f32x4_add(e[r][0], e[r][1]));
        wasm_v128_store(dst + (4 * r + 2) * mk + c, wasm_f32x4_sub(e[r][0], e[r][1]));
        wasm_v128_store(dst + (4 * r + 3) * mk + c, wasm_f32x4_neg(e[r][1]));
      }
    }
  }
}

// dU[k] [Ci, .] += V[k]^T [Ci, count] x dM[k] [count, .]: R input channels x NV vectors, every
// tile in order; dM's rows `ms` floats apart, dU's `us`.
#define DEFINE_GM(Rv, NVv)                                                                        \
  static inline void gm_##Rv##x##NVv(const float *v, const float *m, float *du, int count,       \
                                     int Ci, int ms, int us) {                                    \
    v128_t c[Rv][NVv];                                                                            \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) {                             \
      _Pragma("clang loop unroll(full)") for (int q = 0; q < NVv; q++) c[r][q] =                  \
          wasm_v128_load(du + (long)r * us + 4 * q);                                             \
    }                                                                                             \
    for (int t = 0; t < count; t++) {                                                             \
      v128_t mv[NVv];                                                                             \
      _Pragma("clang loop unroll(full)") for (int q = 0; q < NVv; q++) mv[q] =                    \
          wasm_v128_load(m + 4 * q);                                                              \
      _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) {                           \
        v128_t xv = wasm_v128_load32_splat(v + r);                                                \
        _Pragma("clang loop unroll(full)") for (int q = 0; q < NVv; q++) c[r][q] =                \
            MADD(c[r][q], xv, mv[q]);                                                             \
      }                                                                                           \
      v += Ci;                                                                                    \
      m += ms;                                                                                    \
    }                                                                                             \
    _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) {                             \
      _Pragma("clang loop unroll(full)") for (int q = 0; q < NVv; q++)                            \
          wasm_v128_store(du + (long)r * us + 4 * q, c[r][q]);                                   \
    }                                                                                             \
  }

DEFINE_GM(2, 4)
DEFINE_GM(1, 4)
DEFINE_GM(3, 3)
DEFINE_GM(1, 3)
DEFINE_GM(4, 2)
DEFINE_GM(1, 2)
DEFINE_GM(4, 1)
DEFINE_GM(1, 1)

static void grad_products(const float *v, const float *m, float *du, int count, int Ci, int width,
                          int us) {
  for (int c0 = 0; c0 < width;) {
    const int left = (width - c0) / 4;
    const int nv = left == 5 || left == 6 ? 3 : left >= 4 ? 4 : left;
    int r = 0;
    switch (nv) {
    case 4:
      for (; r + 2 <= Ci; r += 2) gm_2x4(v + r, m + c0, du + (long)r * us + c0, count, Ci, width, us);
      for (; r < Ci; r++) gm_1x4(v + r, m + c0, du + (long)r * us + c0, count, Ci, width, us);
      break;
    case 3:
      for (; r + 3 <= Ci; r += 3) gm_3x3(v + r, m + c0, du + (long)r * us + c0, count, Ci, width, us);
      for (; r < Ci; r++) gm_1x3(v + r, m + c0, du + (long)r * us + c0, count, Ci, width, us);
      break;
    case 2:
      for (; r + 4 <= Ci; r += 4) gm_4x2(v + r, m + c0, du + (long)r * us + c0, count, Ci, width, us);
      for (; r < Ci; r++) gm_1x2(v + r, m + c0, du + (long)r * us + c0, count, Ci, width, us);
      break;
    default:
      for (; r + 4 <= Ci; r += 4) gm_4x1(v + r, m + c0, du + (long)r * us + c0, count, Ci, width, us);
      for (; r < Ci; r++) gm_1x1(v + r, m + c0, du + (long)r * us + c0, count, Ci, width, us);
    }
    c0 += 4 * nv;
  }
}

// Output channels [4 from, 4 to) of dU [16, Ci, CoP] = sum over every tile (in order) of
// V[k]^T dM[k], for x [N, H, W, Ci] and dy [N, Ho, Wo, Co] of a convolution with padding (pt, pl).
// scratch: V and dM for TB tiles (16 * TB * (Ci + 4 (to - from)) floats), this part's own.
__attribute__((export_name("wg_filter_grad"))) void wg_filter_grad(
    const float *x, const float *dy, float *du, int N, int H, int W, int Ci, int Ho, int Wo, int Co,
    int CoP, int pt, int pl, int TB, float *scratch, int from, int to) {
  const int th = (Ho + 1) / 2, tw = (Wo + 1) / 2;
  const long tiles = (long)N * th * tw;
  const int c0 = 4 * from, width = 4 * (to - from);
  float *v = scratch, *m = scratch + 16L * TB * Ci;
  for (int k = 0; k < 16; k++) {
    for (int ci = 0; ci < Ci; ci++) {
      __builtin_memset(du + ((long)k * Ci + ci) * CoP + c0, 0, (long)width * 4);
    }
  }
  for (long t0 = 0; t0 < tiles; t0 += TB) {
    const int count = tiles - t0 < TB ? (int)(tiles - t0) : TB;
    in_transform(x, v, TB, H, W, Ci, th, tw, pt, pl, t0, count);
    dy_transform(dy, m, TB, Ho, Wo, Co, th, tw, t0, count, c0, width);
    for (int k = 0; k < 16; k++) {
      grad_products(v + (long)k * TB * Ci, m + (long)k * TB * width, du + (long)k * Ci * CoP + c0,
                    count, Ci, width, CoP);
    }
  }
}

// Chunks [from, to) of images (chunk c: images [c * per, min(N, (c + 1) * per))) of the filter
// gradient, each into its own partial [16, Ci, CoP] = the sum over its tiles (in order) of
// V[k]^T dM[k]; wg_sum_partial_range then adds the chunks in order. For layers with few channels,
// where a range of output channels would transform every tile's input on every thread.
// scratch: V and dM for TB tiles (16 * TB * (Ci + CoP) floats), this part's own.
__attribute__((export_name("wg_filter_grad_chunks"))) void wg_filter_grad_chunks(
    const float *x, const float *dy, float *partial, int N, int H, int W, int Ci, int Ho, int Wo,
    int Co, int CoP, int pt, int pl, int TB, int per, float *scratch, int from, int to) {
  const int th = (Ho + 1) / 2, tw = (Wo + 1) / 2;
  const long size = 16L * Ci * CoP;
  float *v = scratch, *m = scratch + 16L * TB * Ci;
  for (int chunk = from; chunk < to; chunk++) {
    float *du = partial + chunk * size;
    __builtin_memset(du, 0, size * 4);
    const int last = (chunk + 1) * per < N ? (chunk + 1) * per : N;
    const long end = (long)last * th * tw;
    for (long t0 = (long)chunk * per * th * tw; t0 < end; t0 += TB) {
      const int count = end - t0 < TB ? (int)(end - t0) : TB;
      in_transform(x, v, TB, H, W, Ci, th, tw, pt, pl, t0, count);
      dy_transform(dy, m, TB, Ho, Wo, Co, th, tw, t0, count, 0, CoP);
      for (int k = 0; k < 16; k++) {
        grad_products(v + (long)k * TB * Ci, m + (long)k * TB * CoP, du + (long)k * Ci * CoP,
                      count, Ci, CoP, CoP);
      }
    }
  }
}

// du[i] = partial[0][i] + partial[1][i] + ... + partial[chunks - 1][i], in that order, for i in
// [from, to) (a thread's part; each element summed in the same order in any range).
__attribute__((export_name("wg_sum_partial_range"))) void wg_sum_partial_range(
    const float *partial, float *du, int chunks, int size, int from, int to) {
  int i = from;
  for (; i + 4 <= to; i += 4) {
    v128_t sum = wasm_v128_load(partial + i);
    for (int c = 1; c < chunks; c++) {
      sum = wasm_f32x4_add(sum, wasm_v128_load(partial + (long)c * size + i));
    }
    wasm_v128_store(du + i, sum);
  }
  for (; i < to; i++) {
    float sum = partial[i];
    for (int c = 1; c < chunks; c++) sum += partial[(long)c * size + i];
    du[i] = sum;
  }
}
