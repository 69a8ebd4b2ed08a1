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

// ---- Batch norm + ReLU + 2x2, stride-2 max pool (batch_norm_pool.ts), in single precision
// (f32x4, four channels a vector: twice the lanes of the double-precision kernels above) but for
// the statistics (bn_train) and the gradient's sums (doubles per image, floats within a row of
// windows). The forward pass writes only the pooled output; the gradient recomputes y from x (the
// same numbers) to route the pooled gradient to each window's first maximum, as MaxPoolGrad
// does. Windows: row r of windows is image r / OH, window row r % OH, its pixel rows 2r and
// 2r + 1 of x [N, 2 OH, 2 OW, C]. Channels go in blocks of up to 16 (four vectors, their
// constants in locals), a tail of 1 to 3 channels one at a time. The arithmetic is float32's,
// a multiply then an add (no contraction), as the TypeScript loops round it.

#define QUADS(X) X(0) X(1) X(2) X(3)
#define FSPLAT wasm_f32x4_splat

// scale = invStd·γ and shift = β − mean·scale for quad q (channels 4q..4q+3) of a block.
#define QUAD_CONSTANTS(q)                                                                        \
  v128_t scale##q = FSPLAT(0.f), shift##q = scale##q;                                            \
  if (q < nq) {                                                                                  \
    scale##q = wasm_f32x4_mul(wasm_v128_load(invStd + 4 * q), wasm_v128_load(gamma + 4 * q));    \
    shift##q = wasm_f32x4_sub(wasm_v128_load(beta + 4 * q),                                      \
                              wasm_f32x4_mul(wasm_v128_load(mean + 4 * q), scale##q));           \
  }

// relu(x·scale + shift): 0 < z ? z : 0 (NaN and −0 give +0).
INLINE v128_t y4(const float *xp, v128_t scale, v128_t shift) {
  return wasm_f32x4_pmax(FSPLAT(0.f), wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(xp), scale), shift));
}
INLINE float y1f(float x, float scale, float shift) {
  const float z = x * scale + shift;
  return 0.f < z ? z : 0.f;
}
INLINE float pmax1f(float a, float b) { return a < b ? b : a; }

// The pooled output over one block of 4·nq + tail channels for window rows [from, to).
INLINE void apply_pool_body(const float *x, const float *gamma, const float *beta, float *p,
                            const float *mean, const float *invStd, int stride, int OW, int nq,
                            int tail, int from, int to) {
  QUADS(QUAD_CONSTANTS)
  const long row = 2L * OW * stride;
  const int c0 = 4 * nq;
  for (int r = from; r < to; r++) {
    const float *x0 = x + 2L * r * row, *x1 = x0 + row;
    float *pr = p + (long)r * OW * stride;
    for (int j = 0; j < OW; j++) {
      const long a = 2L * j * stride, b = a + stride;
      float *o = pr + (long)j * stride;
#define POOL_QUAD(q)                                                                             \
  if (q < nq) {                                                                                  \
    const int c = 4 * q;                                                                         \
    v128_t m = wasm_f32x4_pmax(y4(x0 + a + c, scale##q, shift##q), y4(x0 + b + c, scale##q, shift##q)); \
    m = wasm_f32x4_pmax(m, y4(x1 + a + c, scale##q, shift##q));                                  \
    m = wasm_f32x4_pmax(m, y4(x1 + b + c, scale##q, shift##q));                                  \
    wasm_v128_store(o + c, m);                                                                   \
  }
      QUADS(POOL_QUAD)
#undef POOL_QUAD
      for (int c = c0; c < c0 + tail; c++) {
        const float sc = invStd[c] * gamma[c], sh = beta[c] - mean[c] * sc;
        o[c] = pmax1f(pmax1f(pmax1f(y1f(x0[a + c], sc, sh), y1f(x0[b + c], sc, sh)),
                             y1f(x1[a + c], sc, sh)),
                      y1f(x1[b + c], sc, sh));
      }
    }
  }
}

// Blocks of up to 16 channels: nq = full vectors (0..4), the rest a scalar tail.
#define CHANNEL_BLOCKS(BODY)                                                                     \
  for (int c = 0; c < C; c += 16) {                                                              \
    const int n = C - c < 16 ? C - c : 16;                                                       \
    switch (n >> 2) {                                                                            \
      BODY(0)                                                                                    \
      BODY(1)                                                                                    \
      BODY(2)                                                                                    \
      BODY(3)                                                                                    \
      BODY(4)                                                                                    \
    }                                                                                            \
  }

// The pooled output from bn_train's statistics for window rows [from, to) (a thread's part,
// every channel; each value computed alike in any part): p [N, OH, OW, C], the ReLU's.
__attribute__((export_name("bn_apply_pool"))) void bn_apply_pool(
    const float *x, const float *gamma, const float *beta, float *p, const float *mean,
    const float *invStd, int C, int OW, int from, int to) {
#define APPLY_POOL(k)                                                                            \
  case k:                                                                                        \
    apply_pool_body(x + c, gamma + c, beta + c, p + c, mean + c, invStd + c, C, OW, k, n & 3,    \
                    from, to);                                                                   \
    break;
  CHANNEL_BLOCKS(APPLY_POOL)
#undef APPLY_POOL
}

// The first maximum's selector masks of four vectors (lanes all ones or zeros): 0 where no later
// value is greater, each later one where it is greater than every earlier one and no later one
// is greater than it (max_pool.c's first_max).
INLINE void first_max_masks(v128_t y0, v128_t y1, v128_t y2, v128_t y3, v128_t *sel) {
  const v128_t gt10 = wasm_f32x4_gt(y1, y0), gt20 = wasm_f32x4_gt(y2, y0);
  const v128_t gt30 = wasm_f32x4_gt(y3, y0), gt21 = wasm_f32x4_gt(y2, y1);
  const v128_t gt31 = wasm_f32x4_gt(y3, y1), gt32 = wasm_f32x4_gt(y3, y2);
  sel[0] = wasm_v128_not(wasm_v128_or(wasm_v128_or(gt10, gt20), gt30));
  sel[1] = wasm_v128_andnot(wasm_v128_andnot(gt10, gt21), gt31);
  sel[2] = wasm_v128_andnot(wasm_v128_and(gt20, gt21), gt32);
  sel[3] = wasm_v128_and(wasm_v128_and(gt30, gt31), gt32);
}
INLINE int first_max1(float y0, float y1, float y2, float y3) {
  const int gt10 = y1 > y0, gt20 = y2 > y0, gt30 = y3 > y0;
  const int gt21 = y2 > y1, gt31 = y3 > y1, gt32 = y3 > y2;
  if (!gt10 && !gt20 && !gt30) return 0;
  if (gt10 && !gt21 && !gt31) return 1;
  if (gt20 && gt21 && !gt32) return 2;
  return 3;
}

// A window of one vector of channels: its four x, the first maximum's selectors of their ReLU
// outputs (as bn_apply_pool pooled them), the x there (`chosen`), and d, the gradient at the batch norm's output where
// that maximum is: the pooled gradient times the ReLU's mask (+(z > 0), as a number). Every
// other pixel's d is 0.
INLINE v128_t window_grad(const float *x00, const float *x01, const float *x10, const float *x11,
                          const float *g, v128_t scale, v128_t shift, v128_t *v, v128_t *sel,
                          v128_t *chosen) {
  v[0] = wasm_v128_load(x00);
  v[1] = wasm_v128_load(x01);
  v[2] = wasm_v128_load(x10);
  v[3] = wasm_v128_load(x11);
#define Y(i) wasm_f32x4_pmax(FSPLAT(0.f), wasm_f32x4_add(wasm_f32x4_mul(v[i], scale), shift))
  first_max_masks(Y(0), Y(1), Y(2), Y(3), sel);
#undef Y
  *chosen = wasm_v128_or(
      wasm_v128_or(wasm_v128_and(v[0], sel[0]), wasm_v128_and(v[1], sel[1])),
      wasm_v128_or(wasm_v128_and(v[2], sel[2]), wasm_v128_and(v[3], sel[3])));
  const v128_t z = wasm_f32x4_add(wasm_f32x4_mul(*chosen, scale), shift);
  const v128_t mask = wasm_v128_and(wasm_f32x4_gt(z, FSPLAT(0.f)), FSPLAT(1.f));
  return wasm_f32x4_mul(wasm_v128_load(g), mask);
}
// The same for one channel: the first maximum's index, and d.
INLINE float window_grad1(const float *x0, const float *x1, long a, long b, float g, float scale,
                          float shift, int *first) {
  const float v0 = x0[a], v1 = x0[b], v2 = x1[a], v3 = x1[b];
  *first = first_max1(y1f(v0, scale, shift), y1f(v1, scale, shift), y1f(v2, scale, shift),
                      y1f(v3, scale, shift));
  const float chosen = *first == 0 ? v0 : *first == 1 ? v1 : *first == 2 ? v2 : v3;
  const float z = chosen * scale + shift;
  return g * (float)(z > 0.f);
}

// One image's Σd and Σd·x̂ over one block of 4·nq + tail channels, window by window, in floats
// within a row of windows, then in doubles: into sums [2, C].
INLINE void pool_grad_body(const float *dy, const float *x, const float *mean, const float *invStd,
                           const float *gamma, const float *beta, int OH, int OW, int stride,
                           int nq, int tail, double *sumsB, double *sumsG) {
#define SUMS(q)                                                                                  \
  QUAD_CONSTANTS(q)                                                                              \
  const v128_t m##q = q < nq ? wasm_v128_load(mean + 4 * q) : FSPLAT(0.f);                       \
  const v128_t s##q = q < nq ? wasm_v128_load(invStd + 4 * q) : FSPLAT(0.f);                     \
  v128_t totalB##q##lo = wasm_f64x2_splat(0), totalB##q##hi = totalB##q##lo;                     \
  v128_t totalG##q##lo = totalB##q##lo, totalG##q##hi = totalB##q##lo;
  QUADS(SUMS)
#undef SUMS
  const int c0 = 4 * nq;
  const long row = 2L * OW * stride;
  for (int r = 0; r < OH; r++) {
    const float *x0 = x + 2L * r * row, *x1 = x0 + row;
    const float *gr = dy + (long)r * OW * stride;
#define ROW_START(q) v128_t rowB##q = FSPLAT(0.f), rowG##q = rowB##q;
    QUADS(ROW_START)
#undef ROW_START
    for (int j = 0; j < OW; j++) {
      const long a = 2L * j * stride, b = a + stride;
      const float *g = gr + (long)j * stride;
#define ACCUMULATE(q)                                                                            \
  if (q < nq) {                                                                                  \
    const int c = 4 * q;                                                                         \
    v128_t v[4], sel[4], chosen;                                                                 \
    const v128_t d = window_grad(x0 + a + c, x0 + b + c, x1 + a + c, x1 + b + c, g + c,          \
                                 scale##q, shift##q, v, sel, &chosen);                           \
    const v128_t xHat = wasm_f32x4_mul(wasm_f32x4_sub(chosen, m##q), s##q);                      \
    rowB##q = wasm_f32x4_add(rowB##q, d);                                                        \
    rowG##q = wasm_f32x4_add(rowG##q, wasm_f32x4_mul(d, xHat));                                  \
  }
      QUADS(ACCUMULATE)
#undef ACCUMULATE
    }
#define ROW_END(q)                                                                               \
  if (q < nq) {                                                                                  \
    totalB##q##lo = wasm_f64x2_add(totalB##q##lo, wasm_f64x2_promote_low_f32x4(rowB##q));        \
    totalB##q##hi = wasm_f64x2_add(totalB##q##hi,                                                \
                                   wasm_f64x2_promote_low_f32x4(wasm_i64x2_shuffle(rowB##q, rowB##q, 1, 0))); \
    totalG##q##lo = wasm_f64x2_add(totalG##q##lo, wasm_f64x2_promote_low_f32x4(rowG##q));        \
    totalG##q##hi = wasm_f64x2_add(totalG##q##hi,                                                \
                                   wasm_f64x2_promote_low_f32x4(wasm_i64x2_shuffle(rowG##q, rowG##q, 1, 0))); \
  }
    QUADS(ROW_END)
#undef ROW_END
  }
#define STORE_SUMS(q)                                                                            \
  if (q < nq) {                                                                                  \
    wasm_v128_store(sumsB + 4 * q, totalB##q##lo);                                               \
    wasm_v128_store(sumsB + 4 * q + 2, totalB##q##hi);                                           \
    wasm_v128_store(sumsG + 4 * q, totalG##q##lo);                                               \
    wasm_v128_store(sumsG + 4 * q + 2, totalG##q##hi);                                           \
  }
  QUADS(STORE_SUMS)
#undef STORE_SUMS
  // The tail's channels one at a time, row by row as the vectors.
  for (int c = c0; c < c0 + tail; c++) {
    const float sc = invStd[c] * gamma[c], sh = beta[c] - mean[c] * sc;
    double totalB = 0, totalG = 0;
    for (int r = 0; r < OH; r++) {
      const float *x0 = x + 2L * r * row, *x1 = x0 + row;
      const float *gr = dy + (long)r * OW * stride;
      float rowB = 0.f, rowG = 0.f;
      for (int j = 0; j < OW; j++) {
        const long a = 2L * j * stride + c, b = a + stride;
        int first;
        const float d = window_grad1(x0, x1, a, b, gr[(long)j * stride + c], sc, sh, &first);
        const float chosen = first == 0 ? x0[a] : first == 1 ? x0[b] : first == 2 ? x1[a] : x1[b];
        rowB = rowB + d;
        rowG = rowG + d * ((chosen - mean[c]) * invStd[c]);
      }
      totalB += rowB;
      totalG += rowG;
    }
    sumsB[c] = totalB;
    sumsG[c] = totalG;
  }
}

// The fused gradient's sums per image, for images [from, to): dy [N, OH, OW, C] (the pooled
// output's gradient), x [N, 2 OH, 2 OW, C], mean, invStd, gamma, beta [C] → partial [N, 2, C]
// (doubles: image n's Σd, then Σd·x̂). bn_pool_sums then adds the images in order.
__attribute__((export_name("bn_pool_grad"))) void bn_pool_grad(
    const float *dy, const float *x, const float *mean, const float *invStd, const float *gamma,
    const float *beta, int OH, int OW, int C, double *partial, int from, int to) {
  for (int image = from; image < to; image++) {
    const float *xi = x + 4L * image * OH * OW * C, *gi = dy + (long)image * OH * OW * C;
    double *pi = partial + 2L * image * C;
#define POOL_GRAD(k)                                                                             \
  case k:                                                                                        \
    pool_grad_body(gi + c, xi + c, mean + c, invStd + c, gamma + c, beta + c, OH, OW, C, k,      \
                   n & 3, pi + c, pi + C + c);                                                   \
    break;
    CHANNEL_BLOCKS(POOL_GRAD)
#undef POOL_GRAD
  }
}

// The images' partial sums [N, 2, C] added in order (from 0) into sums [2, C] (doubles, for
// bn_pool_grad_apply) and dBeta, dGamma [C] (float32).
__attribute__((export_name("bn_pool_sums"))) void bn_pool_sums(const double *partial, int N, int C,
                                                                double *sums, float *dGamma,
                                                                float *dBeta) {
  for (int c = 0; c < 2 * C; c++) {
    double total = 0;
    for (int n = 0; n < N; n++) total += partial[2L * n * C + c];
    sums[c] = total;
  }
  for (int c = 0; c < C; c++) {
    dBeta[c] = (float)sums[c];
    dGamma[c] = (float)sums[C + c];
  }
}

// dx over one block of 4·nq + tail channels for window rows [from, to), from the sums (rounded
// to float32): dx = k·((count·d − Σd) − x̂·Σd·x̂), k = (γ·invStd)/count, d as window_grad's at
// the first maximum and 0 elsewhere.
INLINE void pool_grad_apply_body(const float *dy, const float *x, const float *mean,
                                 const float *invStd, const float *gamma, const float *beta,
                                 float *dx, const double *sumsB, const double *sumsG, int count,
                                 int OW, int stride, int nq, int tail, int from, int to) {
  const v128_t countv = FSPLAT((float)count);
#define CONSTANTS(q)                                                                             \
  QUAD_CONSTANTS(q)                                                                              \
  v128_t m##q = FSPLAT(0.f), s##q = m##q, sumB##q = m##q, sumG##q = m##q, k##q = m##q;           \
  if (q < nq) {                                                                                  \
    m##q = wasm_v128_load(mean + 4 * q);                                                         \
    s##q = wasm_v128_load(invStd + 4 * q);                                                       \
    sumB##q = wasm_f32x4_make((float)sumsB[4 * q], (float)sumsB[4 * q + 1],                      \
                              (float)sumsB[4 * q + 2], (float)sumsB[4 * q + 3]);                 \
    sumG##q = wasm_f32x4_make((float)sumsG[4 * q], (float)sumsG[4 * q + 1],                      \
                              (float)sumsG[4 * q + 2], (float)sumsG[4 * q + 3]);                 \
    k##q = wasm_f32x4_div(wasm_f32x4_mul(wasm_v128_load(gamma + 4 * q), s##q), countv);          \
  }
  QUADS(CONSTANTS)
#undef CONSTANTS
  const int c0 = 4 * nq;
  const long row = 2L * OW * stride;
  for (int r = from; r < to; r++) {
    const float *x0 = x + 2L * r * row, *x1 = x0 + row;
    float *d0 = dx + 2L * r * row, *d1 = d0 + row;
    const float *gr = dy + (long)r * OW * stride;
    for (int j = 0; j < OW; j++) {
      const long a = 2L * j * stride, b = a + stride;
      const float *g = gr + (long)j * stride;
#define DX(i, q)                                                                                 \
  wasm_f32x4_mul(k##q, wasm_f32x4_sub(wasm_f32x4_sub(wasm_f32x4_mul(countv, wasm_v128_and(d, sel[i])), sumB##q), \
                                      wasm_f32x4_mul(wasm_f32x4_mul(wasm_f32x4_sub(v[i], m##q), s##q), sumG##q)))
#define WRITE_DX(q)                                                                              \
  if (q < nq) {                                                                                  \
    const int c = 4 * q;                                                                         \
    v128_t v[4], sel[4], chosen;                                                                 \
    const v128_t d = window_grad(x0 + a + c, x0 + b + c, x1 + a + c, x1 + b + c, g + c,          \
                                 scale##q, shift##q, v, sel, &chosen);                           \
    wasm_v128_store(d0 + a + c, DX(0, q));                                                       \
    wasm_v128_store(d0 + b + c, DX(1, q));                                                       \
    wasm_v128_store(d1 + a + c, DX(2, q));                                                       \
    wasm_v128_store(d1 + b + c, DX(3, q));                                                       \
  }
      QUADS(WRITE_DX)
#undef WRITE_DX
#undef DX
      for (int c = c0; c < c0 + tail; c++) {
        const float sc = invStd[c] * gamma[c], sh = beta[c] - mean[c] * sc;
        const float sB = (float)sumsB[c], sG = (float)sumsG[c], k = (gamma[c] * invStd[c]) / count;
        int first;
        const float d = window_grad1(x0, x1, a + c, b + c, g[c], sc, sh, &first);
#define DX1(i, out, v)                                                                           \
  (out) = k * (((float)count * ((i) == first ? d : 0.f) - sB) - (((v) - mean[c]) * invStd[c]) * sG)
        DX1(0, d0[a + c], x0[a + c]);
        DX1(1, d0[b + c], x0[b + c]);
        DX1(2, d1[a + c], x1[a + c]);
        DX1(3, d1[b + c], x1[b + c]);
#undef DX1
      }
    }
  }
}

// dx [N, 2 OH, 2 OW, C] for window rows [from, to) (a thread's part, every channel) from
// bn_pool_sums' sums; count = the batch's pixels (N · 2 OH · 2 OW).
__attribute__((export_name("bn_pool_grad_apply"))) void bn_pool_grad_apply(
    const float *dy, const float *x, const float *mean, const float *invStd, const float *gamma,
    const float *beta, float *dx, const double *sums, int count, int OW, int C, int from,
    int to) {
#define POOL_GRAD_APPLY(q)                                                                       \
  case q:                                                                                        \
    pool_grad_apply_body(dy + c, x + c, mean + c, invStd + c, gamma + c, beta + c, dx + c,       \
                         sums + c, sums + C + c, count, OW, C, q, n & 3, from, to);              \
    break;
  CHANNEL_BLOCKS(POOL_GRAD_APPLY)
#undef POOL_GRAD_APPLY
}

// ---- Batch norm in inference mode: y = act(x·scale + shift) in float32, for pixels [from, to).

// scaleShift holds C scales then C shifts, float32, worked out per channel by the caller from the
// moving statistics; y = x·scale, rounded, + shift, rounded (no contraction: the TypeScript
// fallback's fround(fround(x·s) + b)), then mode 1: z < 0 ? 0 : z (pmax), mode 2: that, then
// v > cap ? cap : v (pmin), cap given as its float32 bits. One pass over the pixels, every
// channel four at a time: the training pass's f64 pairs of channels by blocks (bn_apply) took
// twice as long on MobileNetV2's expanded activations.
__attribute__((export_name("bn_infer"))) void bn_infer(const float *x, const float *scaleShift,
                                                        float *y, int C, int mode, int capBits,
                                                        int from, int to) {
  const float *scale = scaleShift, *shift = scaleShift + C;
  const float cap = __builtin_bit_cast(float, capBits);
  const v128_t zero = wasm_f32x4_splat(0.f), capv = wasm_f32x4_splat(cap);
  const int vectorEnd = C & ~3;
  for (long p = from; p < to; p++) {
    const float *xr = x + p * C;
    float *yr = y + p * C;
    int c = 0;
    for (; c < vectorEnd; c += 4) {
      v128_t z = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(xr + c), wasm_v128_load(scale + c)),
                                wasm_v128_load(shift + c));
      if (mode >= 1) z = wasm_f32x4_pmax(z, zero);
      if (mode == 2) z = wasm_f32x4_pmin(z, capv);
      wasm_v128_store(yr + c, z);
    }
    for (; c < C; c++) {
      float z = xr[c] * scale[c] + shift[c];
      if (mode >= 1) z = z < 0.f ? 0.f : z;
      if (mode == 2) z = z > cap ? cap : z;
      yr[c] = z;
    }
  }
}
