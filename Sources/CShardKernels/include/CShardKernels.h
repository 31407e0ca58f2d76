#ifndef SHARDTRAIN_CSHARDKERNELS_H
#define SHARDTRAIN_CSHARDKERNELS_H

#include <stddef.h>

/// Logistic-regression sums over one block of rows (row-major `x`, `rows x cols`).
///
///     z_i  = x_i · w + b
///     l_i  = softplus(z_i) - y_i z_i          (softplus(z) = max(z,0) + log(1 + exp(-|z|)))
///     r_i  = sigmoid(z_i) - y_i
///     out[0]          = Σ_i l_i
///     out[1 + j]      = Σ_i r_i x_ij          (j < cols)
///     out[1 + cols]   = Σ_i r_i               (bias)
///
/// `out` has `cols + 2` doubles and is overwritten. Parameters are float64; the f32 variant rounds them
/// to float once. Sums are accumulated in double across tiles, so the block result does not depend on
/// anything but the block's rows and the parameters.
///
/// With e = exp(-|z|) and q = e / (1 + e) the residual is evaluated without cancellation:
///
///     r_i = (1 - y_i) - q     if z_i >= 0
///     r_i = q - y_i           if z_i <  0
///
/// The entry points pick the AVX2+FMA path when the CPU has it and the portable path otherwise; the
/// same inputs on the same CPU always give the same bits (the summation order depends only on `rows`
/// and `cols`). The f32 AVX2 path computes z, the sigmoid and the softplus in float and sums within a
/// tile of at most 64 rows in float lanes; the f64 AVX2 path computes everything in double (libm exp
/// and log1p). The `_portable` variants compute everything in double, one row at a time.
void shardtrain_logistic_sums_f32(const float *x, const float *y, size_t rows, size_t cols,
                                  const double *w, double b, double *out);
void shardtrain_logistic_sums_f64(const double *x, const double *y, size_t rows, size_t cols,
                                  const double *w, double b, double *out);
void shardtrain_logistic_sums_f32_portable(const float *x, const float *y, size_t rows, size_t cols,
                                           const double *w, double b, double *out);
void shardtrain_logistic_sums_f64_portable(const double *x, const double *y, size_t rows, size_t cols,
                                           const double *w, double b, double *out);

/// 1 when this CPU runs the AVX2+FMA paths, 0 when the entry points fall back to the portable code.
int shardtrain_kernels_have_avx2_fma(void);

/// Σ_i x_i over `count` floats, read once each with SIMD loads (the read-bandwidth baseline).
/// Lanes are summed in float within runs of 4096 values and in double across runs.
double shardtrain_read_sum_f32(const float *x, size_t count);
/// Σ_i x_i over `count` doubles, read once each with SIMD loads (four double lanes per load).
double shardtrain_read_sum_f64(const double *x, size_t count);

/// The float exp used by the f32 logistic path, applied element-wise (`out[i] = exp(in[i])`).
/// Range reduction x = n ln2 + t (|t| <= ln2/2), degree-7 polynomial for exp(t), scaling by 2^n in
/// two steps so results down to the smallest subnormal are produced; exp(x) = +inf for
/// x > 88.7228394 and 0 for x < -103.972084. Returns 1 if the AVX2 code ran, 0 if libm expf was used.
int shardtrain_exp_f32(const float *in, float *out, size_t count);

/// The float log1p used by the f32 logistic path on its domain 0 <= x <= 1 (the softplus term
/// log1p(exp(-|z|))). Uses log1p(x) = 2 atanh(s), s = x / (2 + x), after mapping x >= 0.5 to
/// ln 2 + log1p((x - 1) / 2), so |s| <= 0.2. Returns 1 if the AVX2 code ran, 0 if libm log1pf was used.
int shardtrain_log1p_unit_f32(const float *in, float *out, size_t count);

#endif
