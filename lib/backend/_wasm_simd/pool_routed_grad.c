// The backward pass of a stride-1 convolution + bias + ReLU + 2x2, stride-2 max pool, for the
// wasm backend, computed only where the gradient is not zero.
//
// The pool sends each window's gradient to one element (its first maximum) and the ReLU keeps
// it only where that element is positive, so at most a quarter of the convolution's output
// gradient dz is non-zero. Dense kernels multiply the other three quarters and more by zero.
// Here route_pool lists, per image and output channel, the windows whose gradient goes through
// (the value and where its element sits), and the filter and input gradients read that list:
//   dW[a, b, ci, co] = sum over entries (g, p) of channel co of g * x[p + (a, b), ci]
//   dx[p + (a, b), ci] += g * W[a, b, ci, co]                      for each entry of co
// with p the entry's output pixel, which (stride 1) is its input window's top-left corner on the
// padded input grid [Hg = Ho + KH - 1, Wg = Wo + KW - 1]. One kernel row of a window, KW * Ci
// floats, is contiguous in an NHWC image, so both run four of those floats a vector.
//
// Lists: g [N, C, P] and off [N, C, P] (P = pooled pixels per image; off = the grid pixel
// row * Wg + column), cnt [N, C] entries used. Thread parts: images for route_pool and the input
// gradient (each writes only its images), output channels for the filter gradient (each sums
// only its channels); each sum runs in one fixed order whatever the cut, so results do not
// depend on the thread count. The module works in place on tfjs' heap: no C stack, no static
// data (build.sh checks). Build: sh lib/backend/_wasm_simd/build.sh pool_routed_grad
#include <stdint.h>
#include "_simd.h"

// One vector of four channels from c of the window at y + p00 (row = a row of y): each lane's
// first maximum (ties to the earliest in window order (0,0), (0,1), (1,0), (1,1), as MaxPoolGrad),
// z = dy where that element is positive, else 0, and the element's grid pixel, stored at zt and
// at (this window's C channels).
static inline __attribute__((always_inline)) void route4(const float *y, const float *dy,
                                                         float *zt, int32_t *at, long p00,
                                                         long row, int C, int c, int32_t pixel,
                                                         int Wg) {
  const v128_t v0 = wasm_v128_load(y + p00 + c), v1 = wasm_v128_load(y + p00 + C + c);
  const v128_t v2 = wasm_v128_load(y + p00 + row + c), v3 = wasm_v128_load(y + p00 + row + C + c);
  // A later element wins only where it beats the best so far strictly (a NaN never does; a NaN
  // first element keeps the window, whose gradient the ReLU then stops).
  v128_t best = v0, where = wasm_i32x4_splat(pixel);
  v128_t m = wasm_f32x4_gt(v1, best);
  best = wasm_v128_bitselect(v1, best, m);
  where = wasm_v128_bitselect(wasm_i32x4_splat(pixel + 1), where, m);
  m = wasm_f32x4_gt(v2, best);
  best = wasm_v128_bitselect(v2, best, m);
  where = wasm_v128_bitselect(wasm_i32x4_splat(pixel + Wg), where, m);
  m = wasm_f32x4_gt(v3, best);
  best = wasm_v128_bitselect(v3, best, m);
  where = wasm_v128_bitselect(wasm_i32x4_splat(pixel + Wg + 1), where, m);
  const v128_t zero = wasm_f32x4_splat(0.0f);
  // d + 0 as MaxPoolGrad writes it (a -0 becomes +0), kept where the ReLU passed it.
  const v128_t z = wasm_v128_and(wasm_f32x4_add(wasm_v128_load(dy + c), zero),
                                 wasm_f32x4_gt(best, zero));
  wasm_v128_store(zt + c, z);
  wasm_v128_store(at + c, where);
}

// Images [from, to) of y [N, 2 PH, 2 PW, C] (the ReLU's output) and dy [N, PH, PW, C] (the
// pool's output gradient): their lists (g, off with the grid width Wg, cnt: image n's list of
// channel c from (n * C + c) * P, cnt[n * C + c] entries) and partial [N, C] (doubles), each
// image's sum of z, the bias's gradient before the sum over images (the same sums, in the same
// order, as max_pool.c's pool_relu_bias_grad). C >= 4. `scratch` holds 2 * P * C floats of this
// part's own: an image's z and grid pixels, window by window, before they are listed.
__attribute__((export_name("route_pool"))) void route_pool(const float *y, const float *dy,
                                                           float *g, int32_t *off, int32_t *cnt,
                                                           double *partial, int PH, int PW, int C,
                                                           int Wg, float *scratch, int from,
                                                           int to) {
  const long row = 2L * PW * C, P = (long)PH * PW;
  float *zt = scratch;
  int32_t *at = (int32_t *)(scratch + P * C);
  for (int n = from; n < to; n++) {
    for (int ph = 0; ph < PH; ph++) {
      for (int pw = 0; pw < PW; pw++) {
        const long p00 = ((long)n * 2 * PH + 2L * ph) * row + 2L * pw * C;
        const long w = ((long)ph * PW + pw) * C;
        const float *d = dy + ((long)n * P) * C + w;
        const int32_t pixel = 2 * ph * Wg + 2 * pw;
        int c = 0;
        for (; c + 4 <= C; c += 4) route4(y, d, zt + w, at + w, p00, row, C, c, pixel, Wg);
        if (c < C) route4(y, d, zt + w, at + w, p00, row, C, C - 4, pixel, Wg);
      }
    }
    // Each channel's list: the windows with z != 0, in window order (written branch-free), and
    // the sum of z over the image.
    for (int c = 0; c < C; c++) {
      const long list = ((long)n * C + c) * P;
      float *gl = g + list;
      int32_t *ol = off + list;
      int k = 0;
      double sum = 0;
      for (long p = 0; p < P; p++) {
        const float zl = zt[p * C + c];
        gl[k] = zl;
        ol[k] = at[p * C + c];
        k += zl != 0.0f;
        sum += (double)zl;
      }
      cnt[(long)n * C + c] = k;
      partial[(long)n * C + c] = sum;
    }
  }
}

// xp [N, Hg, Wg, Ci] (images imageStride floats apart): x [N, H, W, Ci] placed at (top, left),
// zeros around. Images [from, to).
__attribute__((export_name("pad_images"))) void pad_images(const float *x, float *xp, int H, int W,
                                                           int Ci, int Hg, int Wg, int top,
                                                           int left, long imageStride, int from,
                                                           int to) {
  for (int n = from; n < to; n++) {
    float *dst = xp + (long)n * imageStride;
    __builtin_memset(dst, 0, (long)Hg * Wg * Ci * 4);
    for (int r = 0; r < H; r++)
      __builtin_memcpy(dst + ((long)(r + top) * Wg + left) * Ci, x + (((long)n * H + r) * W) * Ci,
                       (long)W * Ci * 4);
  }
}

// Accumulators for one channel's list over up to eight vectors of a window (offsets o0..o7 from
// the entry's pixel): the sums of g * x, entry by entry in list order, stored at d0..d7.
#define SLOT_VARS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define SLOT_VARS4(X) X(0) X(1) X(2) X(3)
#define DEFINE_SLOTS(NAME, VARS)                                                                  \
  static inline void NAME(const float *x, const float *g, const int32_t *off,                     \
                          const int32_t *cnt, int N, int C, long P, long imageStride, int Ci,     \
                          const long *o, float *dw, const long *d) {                              \
    VARS(SLOT_DECLARE)                                                                            \
    for (int n = 0; n < N; n++) {                                                                 \
      const float *image = x + (long)n * imageStride;                                             \
      const float *gn = g + (long)n * C * P;                                                      \
      const int32_t *on = off + (long)n * C * P;                                                  \
      const int count = cnt[(long)n * C];                                                         \
      for (int k = 0; k < count; k++) {                                                           \
        const v128_t gv = wasm_v128_load32_splat(gn + k);                                         \
        const float *base = image + (long)on[k] * Ci;                                             \
        VARS(SLOT_MADD)                                                                           \
      }                                                                                           \
    }                                                                                             \
    VARS(SLOT_STORE)                                                                              \
  }
#define SLOT_DECLARE(J)                                                                           \
  v128_t acc##J = wasm_f32x4_splat(0.0f);                                                         \
  const long o##J = o[J];
#define SLOT_MADD(J) acc##J = MADD(acc##J, gv, wasm_v128_load(base + o##J));
#define SLOT_STORE(J) wasm_v128_store(dw + d[J], acc##J);
DEFINE_SLOTS(slots8, SLOT_VARS)
DEFINE_SLOTS(slots4, SLOT_VARS4)

// The vectors of a window the filter gradient sums, into slots [2, S4] (longs): each one's offset
// on the grid from the window's pixel (o) and in dwt's row of the channel (d). A kernel row (L =
// KW * Ci >= 4 floats) is ceil(L / 4) vectors, the last one ending at L (overlapping the one
// before: both compute the same sums for the lanes they share); S4 = KH * ceil(L / 4) rounded up
// to a multiple of 4, the extra slots repeating the last one. Returns S4.
__attribute__((export_name("routed_slots"))) int routed_slots(long *slots, int KH, int L,
                                                              long rowStride) {
  const int V = (L + 3) / 4;
  const int S = KH * V, padded = (S + 3) & ~3;
  for (int s = 0; s < padded; s++) {
    const int t = s < S ? s : S - 1;
    const int a = t / V, v = t % V;
    const int col = 4 * v + 4 <= L ? 4 * v : L - 4;
    slots[s] = a * rowStride + col;
    slots[padded + s] = (long)a * L + col;
  }
  return padded;
}

// The filter gradient of output channels [from, to) into dwt [C, KH, KW * Ci], from x on the
// padded grid (xp, or x itself where unpadded: images imageStride floats apart) and the lists,
// over the S4 slots of routed_slots.
__attribute__((export_name("routed_filter_grad"))) void routed_filter_grad(
    const float *x, const float *g, const int32_t *off, const int32_t *cnt, float *dwt,
    const long *slots, int S4, int N, int P, int C, int Ci, int KH, int L, long imageStride,
    int from, int to) {
  const long *o = slots, *d = slots + S4;
  for (int co = from; co < to; co++) {
    const float *gc = g + (long)co * P;
    const int32_t *oc = off + (long)co * P;
    const int32_t *cc = cnt + co;
    float *dw = dwt + (long)co * KH * L;
    int s = 0;
    for (; s + 8 <= S4; s += 8) slots8(x, gc, oc, cc, N, C, P, imageStride, Ci, o + s, dw, d + s);
    if (s < S4) slots4(x, gc, oc, cc, N, C, P, imageStride, Ci, o + s, dw, d + s);
  }
}

// dW [KH, KW, Ci, C] (HWIO) from dwt [C, KH, KW, Ci].
__attribute__((export_name("routed_filter_out"))) void routed_filter_out(const float *dwt,
                                                                         float *dw, int K, int C) {
  for (int k = 0; k < K; k++)
    for (int co = 0; co < C; co++) dw[(long)k * C + co] = dwt[(long)co * K + k];
}

// wt [C, KH, 4 * V] (V = ceil(L / 4)): each output channel's kernel rows, KW * Ci floats from
// W [KH, KW, Ci, C] (HWIO), zeros to the end of the row's last vector.
__attribute__((export_name("routed_prepare_filter"))) void routed_prepare_filter(
    const float *w, float *wt, int KH, int KW, int Ci, int C) {
  const int L = KW * Ci, R = 4 * ((L + 3) / 4);
  for (int co = 0; co < C; co++)
    for (int a = 0; a < KH; a++) {
      float *dst = wt + ((long)co * KH + a) * R;
      for (int i = 0; i < L; i++) dst[i] = w[((long)a * L + i) * C + co];
      for (int i = L; i < R; i++) dst[i] = 0.0f;
    }
}

// The input gradient of images [from, to): each channel's entries, in channel then list order,
// scatter g * W into dxp (the padded grid, images imageStride = Hg * Wg * Ci + 4 floats apart:
// a row's last vector may reach 3 floats past the image, never into the next), then dx
// [N, H, W, Ci] is copied out of it at (top, left). The last vector of a kernel row adds only
// its lanes below L (the others keep their value exactly).
__attribute__((export_name("routed_input_grad"))) void routed_input_grad(
    const float *g, const int32_t *off, const int32_t *cnt, const float *wt, float *dxp,
    float *dx, int N, int P, int C, int Ci, int KH, int L, int H, int W, int Hg, int Wg, int top,
    int left, int from, int to) {
  const int V = (L + 3) / 4, R = 4 * V;
  const long imageStride = (long)Hg * Wg * Ci + 4, rowStride = (long)Wg * Ci;
  const v128_t tail = wasm_i32x4_gt(wasm_i32x4_splat(L - 4 * (V - 1)), wasm_i32x4_make(0, 1, 2, 3));
  for (int n = from; n < to; n++) {
    float *image = dxp + (long)n * imageStride;
    __builtin_memset(image, 0, imageStride * 4);
    for (int co = 0; co < C; co++) {
      const long list = ((long)n * C + co) * P;
      const int count = cnt[(long)n * C + co];
      const float *w = wt + (long)co * KH * R;
      for (int k = 0; k < count; k++) {
        const v128_t gv = wasm_v128_load32_splat(g + list + k);
        float *base = image + (long)off[list + k] * Ci;
        for (int a = 0; a < KH; a++) {
          float *t = base + a * rowStride;
          const float *wa = w + (long)a * R;
          int v = 0;
          for (; v + 1 < V; v++)
            wasm_v128_store(t + 4 * v, MADD(wasm_v128_load(t + 4 * v), gv, wasm_v128_load(wa + 4 * v)));
          const v128_t old = wasm_v128_load(t + 4 * v);
          wasm_v128_store(t + 4 * v, wasm_v128_bitselect(MADD(old, gv, wasm_v128_load(wa + 4 * v)),
                                                         old, tail));
        }
      }
    }
    float *out = dx + (long)n * H * W * Ci;
    for (int r = 0; r < H; r++)
      __builtin_memcpy(out + (long)r * W * Ci, image + ((long)(r + top) * Wg + left) * Ci,
                       (long)W * Ci * 4);
  }
}
