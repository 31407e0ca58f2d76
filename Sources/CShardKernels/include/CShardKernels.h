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
void shardtrain_logistic_sums_f32(const float *x, const float *y, size_t rows, size_t cols,
                                  const double *w, double b, double *out);
void shardtrain_logistic_sums_f64(const double *x, const double *y, size_t rows, size_t cols,
                                  const double *w, double b, double *out);

#endif
