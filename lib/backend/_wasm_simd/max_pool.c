// Max pooling's gradient for the common CNN pool (2x2, stride 2, no padding) in WebAssembly SIMD,
// for the wasm backend; x, dy and dx NHWC. Each window's four elements are written once: dy at
// the first maximum (ties go to the earliest in window order (0,0), (0,1), (1,0), (1,1), as the
// cpu backend and PyTorch do), 0 elsewhere. The winner is found by six comparisons turned into
// 0/1 factors, not branches, and dy is multiplied by them, then 0 is added, exactly as the
// TypeScript fallback in max_pool_grad.ts does, so the two agree bit for bit (a NaN dy stays
// NaN, a negative dy times 0 becomes +0). Four channels a vector; a tail of fewer than four
// channels is done as one more vector over the last four (it rewrites a few elements with the
// same values), or one at a time where there are fewer than four channels in all. The window
// rows [from, to) (row r: image r / OH, window row r % OH) are one thread's part: each part
// writes only its own rows of dx. The module works in place on tfjs' heap: no C stack, no static
// data (build.sh checks).
#include <wasm_simd128.h>

static inline v128_t gt(v128_t a, v128_t b, v128_t one) {
  return wasm_v128_and(wasm_f32x4_gt(a, b), one); // 1.0f where a > b, else 0.0f
}

static inline float gts(float a, float b) { return a > b ? 1.0f : 0.0f; }

// The same for one channel.
static inline __attribute__((always_inline)) void first_max1(float v0, float v1, float v2,
                                                             float v3, float *w0, float *w1,
                                                             float *w2, float *w3) {
  const float gt10 = gts(v1, v0), gt20 = gts(v2, v0), gt30 = gts(v3, v0);
  const float gt21 = gts(v2, v1), gt31 = gts(v3, v1), gt32 = gts(v3, v2);
  *w0 = (1 - gt10) * (1 - gt20) * (1 - gt30);
  *w1 = gt10 * (1 - gt21) * (1 - gt31);
  *w2 = gt20 * gt21 * (1 - gt32);
  *w3 = gt30 * gt31 * gt32;
}

// The 0/1 factors of a window's elements (0,0), (0,1), (1,0), (1,1): 1 at the first maximum. A
// later element wins only where it beats every earlier one strictly (ties: the first).
static inline __attribute__((always_inline)) void first_max(v128_t v0, v128_t v1, v128_t v2,
                                                            v128_t v3, v128_t one, v128_t *w0,
                                                            v128_t *w1, v128_t *w2, v128_t *w3) {
  const v128_t gt10 = gt(v1, v0, one), gt20 = gt(v2, v0, one), gt30 = gt(v3, v0, one);
  const v128_t gt21 = gt(v2, v1, one), gt31 = gt(v3, v1, one), gt32 = gt(v3, v2, one);
  *w0 = wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_sub(one, gt10), wasm_f32x4_sub(one, gt20)),
                       wasm_f32x4_sub(one, gt30));
  *w1 = wasm_f32x4_mul(wasm_f32x4_mul(gt10, wasm_f32x4_sub(one, gt21)), wasm_f32x4_sub(one, gt31));
  *w2 = wasm_f32x4_mul(wasm_f32x4_mul(gt20, gt21), wasm_f32x4_sub(one, gt32));
  *w3 = wasm_f32x4_mul(wasm_f32x4_mul(gt30, gt31), gt32);
}

// One vector of four channels from c of the window at p00 (p01, p10, p11 its other elements).
static inline void window4(const float *x, const float *g, float *dx, long p00, long p01,
                           long p10, long p11, int c, v128_t one, v128_t zero) {
  const v128_t v0 = wasm_v128_load(x + p00 + c), v1 = wasm_v128_load(x + p01 + c);
  const v128_t v2 = wasm_v128_load(x + p10 + c), v3 = wasm_v128_load(x + p11 + c);
  v128_t w0, w1, w2, w3;
  first_max(v0, v1, v2, v3, one, &w0, &w1, &w2, &w3);
  const v128_t d = wasm_v128_load(g + c);
  wasm_v128_store(dx + p00 + c, wasm_f32x4_add(wasm_f32x4_mul(d, w0), zero));
  wasm_v128_store(dx + p01 + c, wasm_f32x4_add(wasm_f32x4_mul(d, w1), zero));
  wasm_v128_store(dx + p10 + c, wasm_f32x4_add(wasm_f32x4_mul(d, w2), zero));
  wasm_v128_store(dx + p11 + c, wasm_f32x4_add(wasm_f32x4_mul(d, w3), zero));
}

__attribute__((export_name("max_pool_2x2_grad"))) void max_pool_2x2_grad(
    const float *x, const float *dy, float *dx, int H, int W, int C, int OH, int OW, int from,
    int to) {
  const v128_t one = wasm_f32x4_splat(1.0f);
  const v128_t zero = wasm_f32x4_splat(0.0f);
  const long row = (long)W * C;
  const int vectorEnd = C & ~3;
  for (int r = from; r < to; r++) {
    const int n = r / OH, oh = r % OH;
    for (int ow = 0; ow < OW; ow++) {
      const long p00 = ((long)n * H + oh * 2) * row + (long)ow * 2 * C;
      const long p01 = p00 + C, p10 = p00 + row, p11 = p10 + C;
      const float *g = dy + (((long)n * OH + oh) * OW + ow) * C;
      int c = 0;
      for (; c < vectorEnd; c += 4) window4(x, g, dx, p00, p01, p10, p11, c, one, zero);
      if (c < C && C >= 4) {
        window4(x, g, dx, p00, p01, p10, p11, C - 4, one, zero);
        c = C;
      }
      for (; c < C; c++) {
        float w0, w1, w2, w3;
        first_max1(x[p00 + c], x[p01 + c], x[p10 + c], x[p11 + c], &w0, &w1, &w2, &w3);
        const float d = g[c];
        dx[p00 + c] = d * w0 + 0.0f;
        dx[p01 + c] = d * w1 + 0.0f;
        dx[p10 + c] = d * w2 + 0.0f;
        dx[p11 + c] = d * w3 + 0.0f;
      }
    }
  }
}

// The gradient of relu then a 2x2, stride-2 max pool of a convolution with a bias, from the
// pool's output gradient dy [N, OH, OW, C] and the ReLU's output y [N, H, W, C] (H = 2 * OH,
// W = 2 * OW): dz [N, H, W, C], the gradient at the convolution's output, and per image n its
// sum over pixels partial[n, c] (doubles), the bias's gradient before the sum over images.
// Each window's four elements are written once, as max_pool_2x2_grad writes dx and the ReLU's
// gradient then masks it: dz = (dy * w + 0) * (y > 0) with w the 0/1 factor of the first
// maximum. A window's four values (one at most non-zero) are added in float, then into the
// image's double sum, window by window in order. Images [from, to) are one thread's part, so no
// sum depends on the split. Four channels a vector; a tail of fewer than four is one more
// vector over the last four with the lanes already done kept out of the sums (its dz are
// rewritten with the same values), or one channel at a time below four.
static inline void window_grad4(const float *y, const float *g, float *dz, double *sum, long p00,
                                long p01, long p10, long p11, int c, v128_t keep, v128_t one,
                                v128_t zero) {
  const v128_t v0 = wasm_v128_load(y + p00 + c), v1 = wasm_v128_load(y + p01 + c);
  const v128_t v2 = wasm_v128_load(y + p10 + c), v3 = wasm_v128_load(y + p11 + c);
  v128_t w0, w1, w2, w3;
  first_max(v0, v1, v2, v3, one, &w0, &w1, &w2, &w3);
  const v128_t d = wasm_v128_load(g + c);
  const v128_t z0 = wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_mul(d, w0), zero), gt(v0, zero, one));
  const v128_t z1 = wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_mul(d, w1), zero), gt(v1, zero, one));
  const v128_t z2 = wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_mul(d, w2), zero), gt(v2, zero, one));
  const v128_t z3 = wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_mul(d, w3), zero), gt(v3, zero, one));
  wasm_v128_store(dz + p00 + c, z0);
  wasm_v128_store(dz + p01 + c, z1);
  wasm_v128_store(dz + p10 + c, z2);
  wasm_v128_store(dz + p11 + c, z3);
  const v128_t total = wasm_v128_and(
      wasm_f32x4_add(wasm_f32x4_add(wasm_f32x4_add(z0, z1), z2), z3), keep);
  double *s = sum + c;
  wasm_v128_store(s, wasm_f64x2_add(wasm_v128_load(s), wasm_f64x2_promote_low_f32x4(total)));
  wasm_v128_store(s + 2, wasm_f64x2_add(wasm_v128_load(s + 2),
                                        wasm_f64x2_promote_low_f32x4(
                                            wasm_i32x4_shuffle(total, total, 2, 3, 0, 1))));
}

__attribute__((export_name("pool_relu_bias_grad"))) void pool_relu_bias_grad(
    const float *y, const float *dy, float *dz, double *partial, int OH, int OW, int C, int from,
    int to) {
  const v128_t one = wasm_f32x4_splat(1.0f);
  const v128_t zero = wasm_f32x4_splat(0.0f);
  const v128_t all = wasm_i32x4_splat(-1);
  const int vectorEnd = C & ~3;
  // The tail vector over the last four channels adds only its lanes past vectorEnd.
  const int done = vectorEnd - (C - 4); // lanes of the tail vector already summed
  const v128_t tailKeep = wasm_i32x4_gt(wasm_i32x4_make(0, 1, 2, 3), wasm_i32x4_splat(done - 1));
  const long row = 2L * OW * C; // a row of y and dz
  for (int n = from; n < to; n++) {
    double *sum = partial + (long)n * C;
    for (int c = 0; c < C; c++) sum[c] = 0;
    for (int oh = 0; oh < OH; oh++) {
      for (int ow = 0; ow < OW; ow++) {
        const long b00 = ((long)n * 2 * OH + 2L * oh) * row + 2L * ow * C;
        const long b01 = b00 + C, b10 = b00 + row, b11 = b10 + C;
        const float *g = dy + (((long)n * OH + oh) * OW + ow) * C;
        int c = 0;
        for (; c < vectorEnd; c += 4)
          window_grad4(y, g, dz, sum, b00, b01, b10, b11, c, all, one, zero);
        if (c < C && C >= 4) {
          window_grad4(y, g, dz, sum, b00, b01, b10, b11, C - 4, tailKeep, one, zero);
          c = C;
        }
        for (; c < C; c++) {
          const float v0 = y[b00 + c], v1 = y[b01 + c], v2 = y[b10 + c], v3 = y[b11 + c];
          float w0, w1, w2, w3;
          first_max1(v0, v1, v2, v3, &w0, &w1, &w2, &w3);
          const float d = g[c];
          const float z0 = (d * w0 + 0.0f) * gts(v0, 0.0f);
          const float z1 = (d * w1 + 0.0f) * gts(v1, 0.0f);
          const float z2 = (d * w2 + 0.0f) * gts(v2, 0.0f);
          const float z3 = (d * w3 + 0.0f) * gts(v3, 0.0f);
          dz[b00 + c] = z0;
          dz[b01 + c] = z1;
          dz[b10 + c] = z2;
          dz[b11 + c] = z3;
          sum[c] += (double)(((z0 + z1) + z2) + z3);
        }
      }
    }
  }
}

// bias[c] = the sum over images n of partial[n, c], in image order, rounded to float.
__attribute__((export_name("sum_partials"))) void sum_partials(const double *partial,
                                                               float *bias, int N, int C) {
  for (int c = 0; c < C; c++) {
    double s = 0;
    for (int n = 0; n < N; n++) s += partial[(long)n * C + c];
    bias[c] = (float)s;
  }
}

// ---- Global average pooling: the mean over a run of middle axes and its gradient.

// out[o, i] = (sum over r in order of x[o, r, i], in float32) / reduced for o in [from, to): the
// bits tfjs-backend-wasm's Mean gives after moving the reduced axes last (each lane its own
// sum, in the same order). Four of the `inner` positions a vector, then one at a time.
__attribute__((export_name("mean_middle"))) void mean_middle(const float *x, float *out,
                                                             int reduced, int inner, int from,
                                                             int to) {
  const float count = (float)reduced;
  const v128_t divisor = wasm_f32x4_splat(count);
  for (int o = from; o < to; o++) {
    const float *xo = x + (long)o * reduced * inner;
    float *dst = out + (long)o * inner;
    int i = 0;
    for (; i + 4 <= inner; i += 4) {
      v128_t sum = wasm_f32x4_splat(0.f);
      for (int r = 0; r < reduced; r++) sum = wasm_f32x4_add(sum, wasm_v128_load(xo + (long)r * inner + i));
      wasm_v128_store(dst + i, wasm_f32x4_div(sum, divisor));
    }
    for (; i < inner; i++) {
      float sum = 0.f;
      for (int r = 0; r < reduced; r++) sum += xo[(long)r * inner + i];
      dst[i] = sum / count;
    }
  }
}

// dx[o, r, i] = dy[o, i] / reduced for o in [from, to): tfjs' gradient of Mean (dy times ones,
// divided by the count), written across the reduced axes.
__attribute__((export_name("mean_middle_grad"))) void mean_middle_grad(const float *dy, float *dx,
                                                                       int reduced, int inner,
                                                                       int from, int to) {
  const float count = (float)reduced;
  const v128_t divisor = wasm_f32x4_splat(count);
  for (int o = from; o < to; o++) {
    const float *g = dy + (long)o * inner;
    float *dst = dx + (long)o * reduced * inner;
    int i = 0;
    for (; i + 4 <= inner; i += 4) {
      const v128_t v = wasm_f32x4_div(wasm_v128_load(g + i), divisor);
      for (int r = 0; r < reduced; r++) wasm_v128_store(dst + (long)r * inner + i, v);
    }
    for (; i < inner; i++) {
      const float v = g[i] / count;
      for (int r = 0; r < reduced; r++) dst[(long)r * inner + i] = v;
    }
  }
}
