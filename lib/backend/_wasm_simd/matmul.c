// A small matrix product (with an optional bias and a linear or ReLU activation) in WebAssembly
// SIMD, for the wasm backend's BatchMatMul and _FusedMatMul of dense layers:
//   c[i, j] = act(bias[j] + sum_k A(i, k) * B(k, j))
// with A(i, k) = a[i * ai + k * ak] (row-major A: ai = K, ak = 1; a transposed operand: ai = 1,
// ak = M) and B packed by mm_pack into bp [K + 1, NP]: B's rows with their N columns padded with
// zeros to NP (a multiple of 4), the bias last (zeros without one), so a row of B is contiguous
// vectors whatever B's layout was. The module imports tfjs-backend-wasm's shared memory and works
// on its tensors in place, so it must never use the C stack nor hold static data (build.sh checks
// the output for both): every buffer is a tensor the caller allocated on tfjs' heap.
//
// A register tile is R rows of c x NV vectors of 4 columns: the accumulators start at the bias,
// then for each k in order one B row is loaded (NV vectors), R values of A broadcast, and R * NV
// multiply-adds fused (relaxed SIMD); the activation is applied and only the real columns stored.
// Threads: mm takes a range of rows [from, to); each output is summed in the same order whatever
// the split, so results do not depend on it. Build: sh lib/backend/_wasm_simd/build.sh
#include "_simd.h"

// bp [K + 1, NP] from B (element (k, j) at b[k * bk + j * bn]) and bias [N] (0: none) last.
__attribute__((export_name("mm_pack"))) void mm_pack(const float *b, const float *bias, float *bp,
                                                      int K, int N, int NP, int bk, int bn) {
  for (long k = 0; k < K; k++) {
    float *dst = bp + k * NP;
    const float *src = b + k * bk;
    if (bn == 1) {
      for (int j = 0; j < N; j++) dst[j] = src[j];
    } else {
      for (int j = 0; j < N; j++) dst[j] = src[(long)j * bn];
    }
    for (int j = N; j < NP; j++) dst[j] = 0.f;
  }
  float *dst = bp + (long)K * NP;
  for (int j = 0; j < NP; j++) dst[j] = (bias != 0 && j < N) ? bias[j] : 0.f;
}

// One tile: rows i.. i + R of c, columns j0.. j0 + 4 * NV.
#define DEFINE_TILE(Rv, NVv)                                                                      \
  static inline void tile_##Rv##x##NVv(const float *a, const float *bp, float *c, int i, int j0, \
                                       int N, int NP, int K, long ai, long ak, int relu) {       \
    v128_t acc[Rv][NVv];                                                                          \
    const float *bias = bp + (long)K * NP + j0;                                                   \
    _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) {                            \
      v128_t b = wasm_v128_load(bias + 4 * v);                                                    \
      _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) acc[r][v] = b;              \
    }                                                                                             \
    const float *ar = a + (long)i * ai;                                                           \
    const float *br = bp + j0;                                                                    \
    for (int k = 0; k < K; k++) {                                                                 \
      v128_t bv[NVv];                                                                             \
      _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) bv[v] =                    \
          wasm_v128_load(br + 4 * v);                                                             \
      _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) {                           \
        v128_t av = wasm_v128_load32_splat(ar + r * ai);                                          \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) acc[r][v] =            \
            MADD(acc[r][v], av, bv[v]);                                                           \
      }                                                                                           \
      ar += ak;                                                                                   \
      br += NP;                                                                                   \
    }                                                                                             \
    if (relu) {                                                                                   \
      const v128_t zero = wasm_f32x4_splat(0.f);                                                  \
      _Pragma("clang loop unroll(full)") for (int r = 0; r < Rv; r++) {                           \
        _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) acc[r][v] =            \
            wasm_f32x4_pmax(acc[r][v], zero);                                                     \
      }                                                                                           \
    }                                                                                             \
    for (int r = 0; r < Rv; r++) {                                                                \
      float *o = c + (long)(i + r) * N + j0;                                                      \
      _Pragma("clang loop unroll(full)") for (int v = 0; v < NVv; v++) {                          \
        if (j0 + 4 * v + 4 <= N) wasm_v128_store(o + 4 * v, acc[r][v]);                           \
        else if (j0 + 4 * v < N) store_lanes(o + 4 * v, acc[r][v], N - j0 - 4 * v);              \
      }                                                                                           \
    }                                                                                             \
  }

// As conv2d_forward.c: at most 12 accumulators plus the B vectors and a broadcast in x86-64's 16
// registers.
DEFINE_TILE(2, 4)
DEFINE_TILE(1, 4)
DEFINE_TILE(3, 3)
DEFINE_TILE(1, 3)
DEFINE_TILE(4, 2)
DEFINE_TILE(1, 2)
DEFINE_TILE(8, 1)
DEFINE_TILE(1, 1)

// The vectors of 4 columns a block of `left` remaining ones takes: 4, except 3 for 5 and 6.
static inline int block_vectors(int left) {
  if (left == 5 || left == 6) return 3;
  return left >= 4 ? 4 : left;
}

// Rows [from, to) of c [M, N]. Touches nothing outside those rows, so it may run again.
__attribute__((export_name("mm"))) void mm(const float *a, const float *bp, float *c, int N,
                                            int NP, int K, int ai, int ak, int relu, int from,
                                            int to) {
  for (int j0 = 0; j0 < NP;) {
    const int nv = block_vectors((NP - j0) / 4);
    int i = from;
    switch (nv) {
    case 4:
      for (; i + 2 <= to; i += 2) tile_2x4(a, bp, c, i, j0, N, NP, K, ai, ak, relu);
      for (; i < to; i++) tile_1x4(a, bp, c, i, j0, N, NP, K, ai, ak, relu);
      break;
    case 3:
      for (; i + 3 <= to; i += 3) tile_3x3(a, bp, c, i, j0, N, NP, K, ai, ak, relu);
      for (; i < to; i++) tile_1x3(a, bp, c, i, j0, N, NP, K, ai, ak, relu);
      break;
    case 2:
      for (; i + 4 <= to; i += 4) tile_4x2(a, bp, c, i, j0, N, NP, K, ai, ak, relu);
      for (; i < to; i++) tile_1x2(a, bp, c, i, j0, N, NP, K, ai, ak, relu);
      break;
    default:
      for (; i + 8 <= to; i += 8) tile_8x1(a, bp, c, i, j0, N, NP, K, ai, ak, relu);
      for (; i < to; i++) tile_1x1(a, bp, c, i, j0, N, NP, K, ai, ak, relu);
    }
    j0 += 4 * nv;
  }
}
