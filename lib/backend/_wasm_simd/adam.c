// Adam's update of one variable in WebAssembly SIMD, for the wasm backend (lib/train/_fused_adam.ts).
// The arithmetic is the TypeScript loop's, which is tfjs' Adam kernel by kernel: each operation
// rounded to float32, in the same order, no fused multiply-add (contraction off below); float32
// sqrt and division are correctly rounded, as `Math.fround(Math.sqrt(x))` and `fround(a / b)` are.
// So the results are bit-identical to the loop's (tested). The new weight and moments go to
// fresh buffers (XNNPACK caches packed weights by tensor, so a weight must never change in place).
// The module works in place on tfjs' heap: no C stack, no static data (build.sh checks).
#pragma clang fp contract(off)
#include <wasm_simd128.h>

__attribute__((export_name("adam_update"))) void adam_update(
    const float *w, const float *g, const float *m, const float *v, float *wOut, float *mOut,
    float *vOut, int n, float beta1, float beta2, float oneMinusBeta1, float oneMinusBeta2,
    float oneMinusAccBeta1, float oneMinusAccBeta2, float epsilon, float negativeLr) {
  const v128_t b1 = wasm_f32x4_splat(beta1), b2 = wasm_f32x4_splat(beta2);
  const v128_t c1 = wasm_f32x4_splat(oneMinusBeta1), c2 = wasm_f32x4_splat(oneMinusBeta2);
  const v128_t a1 = wasm_f32x4_splat(oneMinusAccBeta1), a2 = wasm_f32x4_splat(oneMinusAccBeta2);
  const v128_t eps = wasm_f32x4_splat(epsilon), lr = wasm_f32x4_splat(negativeLr);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t gi = wasm_v128_load(g + i);
    const v128_t mi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + i), b1),
                                     wasm_f32x4_mul(gi, c1));
    const v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), b2),
                                     wasm_f32x4_mul(wasm_f32x4_mul(gi, gi), c2));
    wasm_v128_store(mOut + i, mi);
    wasm_v128_store(vOut + i, vi);
    const v128_t mHat = wasm_f32x4_div(mi, a1);
    const v128_t vHat = wasm_f32x4_div(vi, a2);
    const v128_t step =
        wasm_f32x4_mul(wasm_f32x4_div(mHat, wasm_f32x4_add(wasm_f32x4_sqrt(vHat), eps)), lr);
    wasm_v128_store(wOut + i, wasm_f32x4_add(step, wasm_v128_load(w + i)));
  }
  for (; i < n; i++) {
    const float gi = g[i];
    const float mi = m[i] * beta1 + gi * oneMinusBeta1;
    const float vi = v[i] * beta2 + (gi * gi) * oneMinusBeta2;
    mOut[i] = mi;
    vOut[i] = vi;
    const float mHat = mi / oneMinusAccBeta1;
    const float vHat = vi / oneMinusAccBeta2;
    const float step = (mHat / (__builtin_sqrtf(vHat) + epsilon)) * negativeLr;
    wOut[i] = step + w[i];
  }
}
