// Batch norm in training mode (with a ReLU or capped ReLU fused in), its gradient and a fused
// add + ReLU's gradient, in WebAssembly SIMD, for the wasm backend. The module imports
// tfjs-backend-wasm's memory and works on its tensors in place, so it must never use the C stack
// nor hold static data (build.sh checks the output for both): every buffer is a tensor the caller
// allocated on tfjs' heap, and the per-channel values are locals that the compiler keeps in
// registers (or V8 spills to its own stack), never arrays in memory.
//
// The arithmetic is the TypeScript kernels' (lib/backend/_wasm_kernels/batch_norm_train.ts), step
// for step, so that the results are bit-identical: double precision throughout (float32 inputs
// promoted, results rounded to float32 once, where TypeScript stores them into a Float32Array),
// per-channel sums accumulated pixel by pixel, no fused multiply-add (contraction is off below; a
// multiply then an add, as JavaScript does), the activation mask as the number 0 or 1 multiplying
// dy (so dy·0 keeps dy's sign, and NaN and ±Infinity give NaN, as in TypeScript). Lanes are f64x2
// over pairs of channels (NHWC: channels innermost); an odd channel count's last channel is a
// scalar tail.
//
// Threads: the reductions (bn_train's statistics, bn_train_grad's sums) take ranges of channels;
// y (bn_apply) and dx (bn_grad_apply) then take ranges of pixels, every channel, so that no two
// threads write parts of the same cache line.
//
// Channels go in blocks of up to 16 (8 pairs), each block's loops running over every pixel with
// its per-channel sums and constants in locals (registers), the loops unrolled for the block's
// size (switch over 0..8 pairs); more channels take more blocks, each reading its slice of every
// row. The order of each channel's sums is the same, pixel by pixel, so ranges of channels (cut at
// even channels) are threads' parts with the same results however they are cut. Measured on `compact-cnn`'s
// shapes, the blocks beat one pass over all channels with the sums in a scratch buffer: with 32
// and 64 channels the forward pass ran ~1.7 and the gradient ~1.25 times faster. Build:
// sh lib/backend/_wasm_simd/build.sh
#pragma clang fp contract(off)
#include <wasm_simd128.h>

#define INLINE static inline __attribute__((always_inline))
// Channel pairs per block: the per-channel values of one block are locals.
#define REG_PAIRS 8

// Two float32 channels promoted to f64x2, and an f64x2 rounded to two float32 channels.
INLINE v128_t load2(const float *p) {
  return wasm_f64x2_promote_low_f32x4(wasm_v128_load64_zero(p));
}
INLINE void store2(float *p, v128_t v) {
  v128_t f = wasm_f32x4_demote_f64x2_zero(v);
  // Without this (empty) barrier, clang 14 sees that the store reads only the low lanes and
  // demotes them one by one as scalars (extract, demote, replace: five times the instructions).
  __asm__("" : "+r"(f));
  wasm_v128_store64_lane(p, f, 0);
}

#define ADD wasm_f64x2_add
#define SUB wasm_f64x2_sub
#define MUL wasm_f64x2_mul
#define DIV wasm_f64x2_div
#define SPLAT wasm_f64x2_splat

// The activations (mode 0: none, 1: ReLU as (z + |z|)/2, 2: z < 0 ? 0 : z > cap ? cap : z).
INLINE v128_t activate(v128_t z, int mode, v128_t cap) {
  if (mode == 1) return MUL(ADD(z, wasm_f64x2_abs(z)), SPLAT(0.5));
  if (mode == 2) {
    v128_t clamped = wasm_v128_bitselect(cap, z, wasm_f64x2_gt(z, cap));
    return wasm_v128_andnot(clamped, wasm_f64x2_lt(z, SPLAT(0.0))); // +0 where z < 0
  }
  return z;
}
INLINE double activate1(double z, int mode, double cap) {
  if (mode == 1) return (z + __builtin_fabs(z)) * 0.5;
  if (mode == 2) return z < 0 ? 0 : z > cap ? cap : z;
  return z;
}

// +(z >= low) * +(z <= high): the number 1 or 0, as a mask of 1.0's bits.
INLINE v128_t window(v128_t z, v128_t low, v128_t high) {
  v128_t pass = wasm_v128_and(wasm_f64x2_ge(z, low), wasm_f64x2_le(z, high));
  return wasm_v128_and(pass, SPLAT(1.0));
}
INLINE double window1(double z, double low, double high) {
  return (double)(z >= low) * (double)(z <= high);
}

// The forward pass's statistics over one block of 2·np (+ odd) channels of P pixels, rows
// `stride` floats apart; acc and scale are the caller's locals of np (≤ REG_PAIRS) f64x2 each.
INLINE void train_body(const float *x, float *mean, float *variance, float *invStd, v128_t *acc,
                       v128_t *scale, int P, int stride, int np, int odd, double epsilon) {
  const double count = P;
  const int last = 2 * np;
  const int size = P * stride;
  // Σx per channel.
  double tail = 0;
  _Pragma("clang loop unroll(full)") for (int p = 0; p < np; p++) acc[p] = SPLAT(0.0);
  for (int at = 0; at < size; at += stride) {
    const float *xr = x + at;
    _Pragma("clang loop unroll(full)") for (int p = 0; p < np; p++) acc[p] =
        ADD(acc[p], load2(xr + 2 * p));
    if (odd) tail += xr[last];
  }
  _Pragma("clang loop unroll(full)") for (int p = 0; p < np; p++) {
    store2(mean + 2 * p, DIV(acc[p], SPLAT(count)));
    acc[p] = SPLAT(0.0);
    scale[p] = load2(mean + 2 * p); // the float32 mean, promoted (for now)
  }
  if (odd) mean[last] = (float)(tail / count);
  // Σ(x − mean)² per channel, with the float32 mean.
  const double meanTail = odd ? mean[last] : 0;
  tail = 0;
  for (int at = 0; at < size; at += stride) {
    const float *xr = x + at;
    _Pragma("clang loop unroll(full)") for (int p = 0; p < np; p++) {
      v128_t d = SUB(load2(xr + 2 * p), scale[p]);
      acc[p] = ADD(acc[p], MUL(d, d));
    }
    if (odd) {
      double d = xr[last] - meanTail;
      tail += d * d;
    }
  }
  // variance and 1/√(variance + ε), stored as float32 (bn_apply then writes y from them).
  _Pragma("clang loop unroll(full)") for (int p = 0; p < np; p++) {
    store2(variance + 2 * p, DIV(acc[p], SPLAT(count)));
    v128_t v = load2(variance + 2 * p);
    store2(invStd + 2 * p, DIV(SPLAT(1.0), wasm_f64x2_sqrt(ADD(v, SPLAT(epsilon)))));
  }
  if (odd) {
    variance[last] = (float)(tail / count);
    invStd[last] = (float)(1 / __builtin_sqrt((double)variance[last] + epsilon));
  }
}

// train_body unrolled for np = 0..8 pairs, its per-channel values in locals.
static void train_block(const float *x, float *mean, float *variance, float *invStd, int P,
                        int stride, int np, int odd, double epsilon) {
#define TRAIN_LOCALS(n)                                                                          \
  case n: {                                                                                      \
    v128_t acc[REG_PAIRS], scale[REG_PAIRS];                                                     \
    train_body(x, mean, variance, invStd, acc, scale, P, stride, n, odd, epsilon);               \
    return;                                                                                      \
  }
  switch (np) {
    TRAIN_LOCALS(0)
    TRAIN_LOCALS(1)
    TRAIN_LOCALS(2)
    TRAIN_LOCALS(3)
    TRAIN_LOCALS(4)
    TRAIN_LOCALS(5)
    TRAIN_LOCALS(6)
    TRAIN_LOCALS(7)
    TRAIN_LOCALS(8)
  }
#undef TRAIN_LOCALS
}

// The forward pass's statistics: x [P, C] → mean, variance, invStd [C], for channels [from, to)
// (from even: a thread's part; each channel is computed alike in any part). params: epsilon, cap
// (f64, on the heap: a helper thread gets int arguments only). bn_apply then writes y.
__attribute__((export_name("bn_train"))) void bn_train(const float *x, float *mean,
                                                        float *variance, float *invStd, int P,
                                                        int C, const double *params, int from,
                                                        int to) {
  const double epsilon = params[0];
  for (int c = from; c < to; c += 2 * REG_PAIRS) {
    const int n = to - c < 2 * REG_PAIRS ? to - c : 2 * REG_PAIRS;
    train_block(x + c, mean + c, variance + c, invStd + c, P, C, n >> 1, n & 1, epsilon);
  }
}

// y = act(x·scale + shift) over one block of 2·np (+ odd) channels for pixels [from, to), with
// scale = invStd·γ and shift = β − mean·scale from the float32 statistics bn_train stored.
INLINE void apply_body(const float *x, const float *gamma, const float *beta, float *y,
                       const float *mean, const float *invStd, v128_t *scale, v128_t *shift,
                       int stride, int np, int odd, int mode, double cap, int from, int to) {
  const int last = 2 * np;
  _Pragma("clang loop unroll(full)") for (int p = 0; p < np; p++) {
    v128_t sc = MUL(load2(invStd + 2 * p), load2(gamma + 2 * p));
    scale[p] = sc;
    shift[p] = SUB(load2(beta + 2 * p), MUL(load2(mean + 2 * p), sc));
  }
  double scaleTail = 0, shiftTail = 0;
  if (odd) {
    scaleTail = (double)invStd[last] * gamma[last];
    shiftTail = beta[last] - mean[last] * scaleTail;
  }
  const v128_t capv = SPLAT(cap);
  for (long at = (long)from * stride; at < (long)to * stride; at += stride) {
    const float *xr = x + at;
    float *yr = y + at;
    _Pragma("clang loop unroll(full)") for (int p = 0; p < np; p++) {
      v128_t z = ADD(MUL(load2(xr + 2 * p), scale[p]), shift[p]);
      store2(yr + 2 * p, activate(z, mode, capv));
    }
    if (odd) yr[last] = (float)activate1(xr[last] * scaleTail + shiftTail, mode, cap);
  }
}

INLINE void apply_mode(const float *x, const float *gamma, const float *beta, float *y,
                       const float *mean, const float *invStd, int C, int mode, double cap,
                       int from, int to) {
  for (int c = 0; c < C; c += 2 * REG_PAIRS) {
    const int n = C - c < 2 * REG_PAIRS ? C - c : 2 * REG_PAIRS;
#define APPLY_LOCALS(k)                                                                          \
  case k: {                                                                                      \
    v128_t scale[REG_PAIRS], shift[REG_PAIRS];                                                   \
    apply_body(x + c, gamma + c, beta + c, y + c, mean + c, invStd + c, scale, shift, C, k,      \
               n & 1, mode, cap, from, to);                                                      \
    break;                                                                                       \
  }
    switch (n >> 1) {
      APPLY_LOCALS(0)
      APPLY_LOCALS(1)
      APPLY_LOCALS(2)
      APPLY_LOCALS(3)
      APPLY_LOCALS(4)
      APPLY_LOCALS(5)
      APPLY_LOCALS(6)
      APPLY_LOCALS(7)
      APPLY_LOCALS(8)
    }
#undef APPLY_LOCALS
  }
}

// The forward pass's y from bn_train's statistics, for pixels [from, to) (a thread's part, every
// channel; each value is computed alike in any part). params: as bn_train's.
__attribute__((export_name("bn_apply"))) void bn_apply(const float *x, const float *gamma,
                                                        const float *beta, float *y,
                                                        const float *mean, const float *invStd,
                                                        int C, const double *params, int mode,
                                                        int from, int to) {
  const double cap = params[1];
  if (mode == 1)
    apply_mode(x, gamma, beta, y, mean, invStd, C, 1, cap, from, to);
  else if (mode == 2)
    apply_mode(x, gamma, beta, y, mean, invStd, C, 2, cap, from, to);
  else
    apply_mode(x, gamma, beta, y, mean, invStd, C, 0, cap, from, to);
}

// The gradient over one block of 2·np (+ odd) channels of P pixels, rows `stride` floats apart;
// the seven per-channel arrays are the caller's locals of np (≤ REG_PAIRS) f64x2 each.
INLINE void grad_body(const float *dy, const float *x, const float *mean, const float *invStd,
                      const float *gamma, const float *beta, float *dGamma, float *dBeta,
                      v128_t *scale, v128_t *shift, v128_t *m, v128_t *s, v128_t *sumB,
                      v128_t *sumG, int P, int stride, int np, int odd, double low, double high,
                      double *sumsB, double *sumsG) {
  const int last = 2 * np;
  const int size = P * stride;
  const v128_t lowv = SPLAT(low), highv = SPLAT(high);
  // scale = invStd·γ, shift = β − mean·scale: the forward pass's numbers.
  _Pragma("clang loop unroll(full)") for (int p = 0; p < np; p++) {
    m[p] = load2(mean + 2 * p);
    s[p] = load2(invStd + 2 * p);
    scale[p] = MUL(s[p], load2(gamma + 2 * p));
    shift[p] = SUB(load2(beta + 2 * p), MUL(m[p], scale[p]));
    sumB[p] = SPLAT(0.0);
    sumG[p] = SPLAT(0.0);
  }
  double mT = 0, sT = 0, scaleT = 0, shiftT = 0, sumBT = 0, sumGT = 0;
  if (odd) {
    mT = mean[last];
    sT = invStd[last];
    scaleT = sT * gamma[last];
    shiftT = beta[last] - mT * scaleT;
  }
  // Σd and Σd·x̂, d = dy·mask.
  for (int at = 0; at < size; at += stride) {
    const float *xr = x + at, *dyr = dy + at;
    _Pragma("clang loop unroll(full)") for (int p = 0; p < np; p++) {
      v128_t v = load2(xr + 2 * p);
      v128_t z = ADD(MUL(v, scale[p]), shift[p]);
      v128_t d = MUL(load2(dyr + 2 * p), window(z, lowv, highv));
      sumB[p] = ADD(sumB[p], d);
      sumG[p] = ADD(sumG[p], MUL(d, MUL(SUB(v, m[p]), s[p])));
    }
    if (odd) {
      double v = xr[last];
      double z = v * scaleT + shiftT;
      double d = dyr[last] * window1(z, low, high);
      sumBT += d;
      sumGT += d * ((v - mT) * sT);
    }
  }
  // dBeta and dGamma, and the sums kept in doubles for bn_grad_apply.
  _Pragma("clang loop unroll(full)") for (int p = 0; p < np; p++) {
    store2(dBeta + 2 * p, sumB[p]);
    store2(dGamma + 2 * p, sumG[p]);
    wasm_v128_store(sumsB + 2 * p, sumB[p]);
    wasm_v128_store(sumsG + 2 * p, sumG[p]);
  }
  if (odd) {
    dBeta[last] = (float)sumBT;
    dGamma[last] = (float)sumGT;
    sumsB[last] = sumBT;
    sumsG[last] = sumGT;
  }
}

// grad_body unrolled for np = 0..8 pairs, its per-channel values in locals.
static void grad_block(const float *dy, const float *x, const float *mean, const float *invStd,
                       const float *gamma, const float *beta, float *dGamma, float *dBeta, int P,
                       int stride, int np, int odd, double low, double high, double *sumsB,
                       double *sumsG) {
#define GRAD_LOCALS(n)                                                                           \
  case n: {                                                                                      \
    v128_t scale[REG_PAIRS], shift[REG_PAIRS], m[REG_PAIRS], s[REG_PAIRS], sumB[REG_PAIRS],      \
        sumG[REG_PAIRS];                                                                         \
    grad_body(dy, x, mean, invStd, gamma, beta, dGamma, dBeta, scale, shift, m, s, sumB, sumG,  \
              P, stride, n, odd, low, high, sumsB, sumsG);                                       \
    return;                                                                                      \
  }
  switch (np) {
    GRAD_LOCALS(0)
    GRAD_LOCALS(1)
    GRAD_LOCALS(2)
    GRAD_LOCALS(3)
    GRAD_LOCALS(4)
    GRAD_LOCALS(5)
    GRAD_LOCALS(6)
    GRAD_LOCALS(7)
    GRAD_LOCALS(8)
  }
#undef GRAD_LOCALS
}

// The gradient's sums: dy, x [P, C], mean, invStd, gamma, beta [C] → dGamma, dBeta [C], and the
// same sums kept in doubles in sums [2, C] (Σd, then Σd·x̂) for bn_grad_apply to write dx, for
// pre-activations passing where low ≤ z ≤ high (params: low, high), channels [from, to) as above.
__attribute__((export_name("bn_train_grad"))) void bn_train_grad(
    const float *dy, const float *x, const float *mean, const float *invStd, const float *gamma,
    const float *beta, float *dGamma, float *dBeta, int P, int C, const double *params,
    double *sums, int from, int to) {
  const double low = params[0], high = params[1];
  for (int c = from; c < to; c += 2 * REG_PAIRS) {
    const int n = to - c < 2 * REG_PAIRS ? to - c : 2 * REG_PAIRS;
    grad_block(dy + c, x + c, mean + c, invStd + c, gamma + c, beta + c, dGamma + c, dBeta + c, P,
               C, n >> 1, n & 1, low, high, sums + c, sums + C + c);
  }
}

// dx over one block of 2·np (+ odd) channels for pixels [from, to), from the sums bn_train_grad
// kept (sumsB, sumsG) and the constants as grad_body computes them.
INLINE void grad_apply_body(const float *dy, const float *x, const float *mean,
                            const float *invStd, const float *gamma, const float *beta,
                            float *dx, const double *sumsB, const double *sumsG, v128_t *scale,
                            v128_t *shift, v128_t *m, v128_t *s, v128_t *sumB, v128_t *sumG,
                            v128_t *k, int P, int stride, int np, int odd, double low,
                            double high, int from, int to) {
  const double count = P;
  const int last = 2 * np;
  const v128_t lowv = SPLAT(low), highv = SPLAT(high), countv = SPLAT(count);
  _Pragma("clang loop unroll(full)") for (int p = 0; p < np; p++) {
    m[p] = load2(mean + 2 * p);
    s[p] = load2(invStd + 2 * p);
    scale[p] = MUL(s[p], load2(gamma + 2 * p));
    shift[p] = SUB(load2(beta + 2 * p), MUL(m[p], scale[p]));
    sumB[p] = wasm_v128_load(sumsB + 2 * p);
    sumG[p] = wasm_v128_load(sumsG + 2 * p);
    k[p] = DIV(MUL(load2(gamma + 2 * p), s[p]), countv);
  }
  double mT = 0, sT = 0, scaleT = 0, shiftT = 0, sumBT = 0, sumGT = 0, kT = 0;
  if (odd) {
    mT = mean[last];
    sT = invStd[last];
    scaleT = sT * gamma[last];
    shiftT = beta[last] - mT * scaleT;
    sumBT = sumsB[last];
    sumGT = sumsG[last];
    kT = ((double)gamma[last] * sT) / count;
  }
  for (long at = (long)from * stride; at < (long)to * stride; at += stride) {
    const float *xr = x + at, *dyr = dy + at;
    float *dxr = dx + at;
    _Pragma("clang loop unroll(full)") for (int p = 0; p < np; p++) {
      v128_t v = load2(xr + 2 * p);
      v128_t z = ADD(MUL(v, scale[p]), shift[p]);
      v128_t d = MUL(load2(dyr + 2 * p), window(z, lowv, highv));
      v128_t xHat = MUL(SUB(v, m[p]), s[p]);
      store2(dxr + 2 * p, MUL(k[p], SUB(SUB(MUL(countv, d), sumB[p]), MUL(xHat, sumG[p]))));
    }
    if (odd) {
      double v = xr[last];
      double z = v * scaleT + shiftT;
      double d = dyr[last] * window1(z, low, high);
      double xHat = (v - mT) * sT;
      dxr[last] = (float)(kT * (count * d - sumBT - xHat * sumGT));
    }
  }
}

// dx for pixels [from, to) (a thread's part, every channel) of P, from bn_train_grad's sums (apply
// 0): each value computed as bn_train_grad computes it. params: as bn_train_grad's.
__attribute__((export_name("bn_grad_apply"))) void bn_grad_apply(
    const float *dy, const float *x, const float *mean, const float *invStd, const float *gamma,
    const float *beta, float *dx, const double *sums, int P, int C, const double *params,
    int from, int to) {
  const double low = params[0], high = params[1];
  for (int c = 0; c < C; c += 2 * REG_PAIRS) {
    const int n = C - c < 2 * REG_PAIRS ? C - c : 2 * REG_PAIRS;
#define GRAD_APPLY_LOCALS(q)                                                                     \
  case q: {                                                                                      \
    v128_t scale[REG_PAIRS], shift[REG_PAIRS], m[REG_PAIRS], s[REG_PAIRS], sumB[REG_PAIRS],      \
        sumG[REG_PAIRS], k[REG_PAIRS];                                                           \
    grad_apply_body(dy + c, x + c, mean + c, invStd + c, gamma + c, beta + c, dx + c, sums + c,  \
                    sums + C + c, scale, shift, m, s, sumB, sumG, k, P, C, q, n & 1, low, high,  \
                    from, to);                                                                   \
    break;                                                                                       \
  }
    switch (n >> 1) {
      GRAD_APPLY_LOCALS(0)
      GRAD_APPLY_LOCALS(1)
      GRAD_APPLY_LOCALS(2)
      GRAD_APPLY_LOCALS(3)
      GRAD_APPLY_LOCALS(4)
      GRAD_APPLY_LOCALS(5)
      GRAD_APPLY_LOCALS(6)
      GRAD_APPLY_LOCALS(7)
      GRAD_APPLY_LOCALS(8)
    }
#undef GRAD_APPLY_LOCALS
  }
}

// A fused add + activation's gradient: out[i] = dy[i]·(+(z ≥ low)·+(z ≤ high)), z = a[i] + b[i],
// for i in [from, n) (from even; params: low, high).
__attribute__((export_name("add_relu_grad"))) void add_relu_grad(
    const float *dy, const float *a, const float *b, float *out, const double *params, int from,
    int n) {
  const double low = params[0], high = params[1];
  const v128_t lowv = SPLAT(low), highv = SPLAT(high);
  int i = from;
  for (; i + 2 <= n; i += 2) {
    v128_t z = ADD(load2(a + i), load2(b + i));
    store2(out + i, MUL(load2(dy + i), window(z, lowv, highv)));
  }
  if (i < n) {
    double z = (double)a[i] + b[i];
    out[i] = (float)(dy[i] * window1(z, low, high));
  }
}

// A convolution's bias + ReLU gradient (relu_bias_grad.ts) over one block of 2·np (+ odd)
// channels: dz = dy·+(y > 0) and Σdz per channel (the bias's gradient), pixel by pixel.
INLINE void relu_bias_body(const float *dy, const float *y, float *dz, float *sums, v128_t *acc,
                           int P, int stride, int np, int odd) {
  const int last = 2 * np;
  const int size = P * stride;
  const v128_t zero = SPLAT(0.0), one = SPLAT(1.0);
  double tail = 0;
  _Pragma("clang loop unroll(full)") for (int p = 0; p < np; p++) acc[p] = zero;
  for (int at = 0; at < size; at += stride) {
    const float *dyr = dy + at, *yr = y + at;
    float *dzr = dz + at;
    _Pragma("clang loop unroll(full)") for (int p = 0; p < np; p++) {
      v128_t mask = wasm_v128_and(wasm_f64x2_gt(load2(yr + 2 * p), zero), one);
      v128_t d = MUL(load2(dyr + 2 * p), mask);
      store2(dzr + 2 * p, d);
      acc[p] = ADD(acc[p], d);
    }
    if (odd) {
      double d = dyr[last] * (double)(yr[last] > 0);
      dzr[last] = (float)d;
      tail += d;
    }
  }
  _Pragma("clang loop unroll(full)") for (int p = 0; p < np; p++) store2(sums + 2 * p, acc[p]);
  if (odd) sums[last] = (float)tail;
}

static void relu_bias_block(const float *dy, const float *y, float *dz, float *sums, int P,
                            int stride, int np, int odd) {
#define RELU_BIAS_LOCALS(n)                                                                      \
  case n: {                                                                                      \
    v128_t acc[REG_PAIRS];                                                                       \
    relu_bias_body(dy, y, dz, sums, acc, P, stride, n, odd);                                     \
    return;                                                                                      \
  }
  switch (np) {
    RELU_BIAS_LOCALS(0)
    RELU_BIAS_LOCALS(1)
    RELU_BIAS_LOCALS(2)
    RELU_BIAS_LOCALS(3)
    RELU_BIAS_LOCALS(4)
    RELU_BIAS_LOCALS(5)
    RELU_BIAS_LOCALS(6)
    RELU_BIAS_LOCALS(7)
    RELU_BIAS_LOCALS(8)
  }
#undef RELU_BIAS_LOCALS
}

// dy, y [P, C] (y the ReLU's output) → dz = dy where y > 0 else 0 (dy·0: dy's sign, NaN stays
// NaN), and sums [C] = Σdz per channel: the TypeScript loop's arithmetic, bit for bit; channels
// [from, to) (from even).
__attribute__((export_name("relu_bias_grad"))) void relu_bias_grad(const float *dy,
                                                                    const float *y, float *dz,
                                                                    float *sums, int P, int C,
                                                                    int from, int to) {
  for (int c = from; c < to; c += 2 * REG_PAIRS) {
    const int n = to - c < 2 * REG_PAIRS ? to - c : 2 * REG_PAIRS;
    relu_bias_block(dy + c, y + c, dz + c, sums + c, P, C, n >> 1, n & 1);
  }
}
