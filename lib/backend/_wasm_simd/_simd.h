// Shared by this folder's kernels (included, not built on its own): the fused multiply-add and a
// store of a vector's first lanes.
#ifndef DENOVISION_SIMD_H
#define DENOVISION_SIMD_H
#include <wasm_simd128.h>

// acc + a * b, fused where the machine has FMA (relaxed SIMD: V8 picks one instruction per
// machine, so both threads and both builds compute the same). clang 14 knows only the draft
// builtin, which build.sh patches to f32x4.relaxed_madd (a * b + c, operands in stack order).
static inline v128_t wasm_f32x4_relaxed_madd(v128_t a, v128_t b, v128_t c) {
  return __builtin_wasm_fma_f32x4(a, b, c);
}
#define MADD(acc, a, b) wasm_f32x4_relaxed_madd(a, b, acc)

// Stores the `n` (1 to 4) first lanes of v at p.
static inline void store_lanes(float *p, v128_t v, int n) {
  if (n >= 4) {
    wasm_v128_store(p, v);
  } else {
    if (n >= 2) {
      wasm_v128_store64_lane(p, v, 0);
      if (n == 3) wasm_v128_store32_lane(p + 2, v, 2);
    } else {
      wasm_v128_store32_lane(p, v, 0);
    }
  }
}

#endif
