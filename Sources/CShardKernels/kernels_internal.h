// Declarations shared by the portable and AVX2 translation units (not part of the module interface).
#ifndef SHARDTRAIN_KERNELS_INTERNAL_H
#define SHARDTRAIN_KERNELS_INTERNAL_H

#include <math.h>
#include <stddef.h>

#include "CShardKernels.h"

/// Loss and residual of one row in double (see CShardKernels.h):
///
///     e = exp(-|z|),  q = e / (1 + e)
///     loss = max(z, 0) - y z + log1p(e)
///     r    = z >= 0 ? (1 - y) - q : q - y
static inline void shard_logistic_row(double z, double y, double *loss, double *residual) {
    double e = exp(-fabs(z));
    double q = e / (1.0 + e);
    *loss = (z > 0 ? z : 0.0) - y * z + log1p(e);
    *residual = z >= 0 ? (1.0 - y) - q : q - y;
}

void shardtrain_logistic_sums_f32_avx2(const float *x, const float *y, size_t rows, size_t cols,
                                       const double *w, double b, double *out);
void shardtrain_logistic_sums_f64_avx2(const double *x, const double *y, size_t rows, size_t cols,
                                       const double *w, double b, double *out);
int shardtrain_exp_f32_avx2(const float *in, float *out, size_t count);
int shardtrain_log1p_unit_f32_avx2(const float *in, float *out, size_t count);
double shardtrain_read_sum_f32_avx2(const float *x, size_t count);
double shardtrain_read_sum_f64_avx2(const double *x, size_t count);

/// Elements per block of the element-wise loss passes (domain check and partial sum per block).
#define SHARD_LOSS_BLOCK 1024

/// The focal exponent as 0, 1 or 2, or -1 when it is another value (not handled by the kernels).
static inline int shard_focal_gamma_code(const shardtrain_elementwise_params *params) {
    if (params->gamma == 0.0) return 0;
    if (params->gamma == 1.0) return 1;
    if (params->gamma == 2.0) return 2;
    return -1;
}

size_t shardtrain_elementwise_loss_f64_avx2(const shardtrain_elementwise_params *params, const double *target,
                                            const double *prediction, size_t count, double *loss, double *gradient,
                                            double *total);
size_t shardtrain_elementwise_loss_f32_avx2(const shardtrain_elementwise_params *params, const float *target,
                                            const float *prediction, size_t count, float *loss, float *gradient,
                                            float *total);
int shardtrain_exp_f64_avx2(const double *in, double *out, size_t count);
int shardtrain_log_f64_avx2(const double *in, double *out, size_t count);
int shardtrain_log1p_unit_f64_avx2(const double *in, double *out, size_t count);
int shardtrain_log_f32_avx2(const float *in, float *out, size_t count);

size_t shardtrain_linear_sums_f32_avx2(const shardtrain_linear_params *params, const float *x, const float *y,
                                       size_t rows, size_t cols, const double *parameters, double *out);
size_t shardtrain_linear_sums_f64_avx2(const shardtrain_linear_params *params, const double *x, const double *y,
                                       size_t rows, size_t cols, const double *parameters, double *out);

/// The SHARDTRAIN_LINEAR_SOFTMAX sums of shardtrain_linear_sums_f32/_f64 for K = `classes` >= 2
/// (softmax_avx2.c; `class_weights` K values or NULL = all 1).
size_t shardtrain_softmax_sums_f32_avx2(size_t classes, const double *class_weights, const float *x, const float *y,
                                        size_t rows, size_t cols, const double *parameters, double *out);
size_t shardtrain_softmax_sums_f64_avx2(size_t classes, const double *class_weights, const double *x, const double *y,
                                        size_t rows, size_t cols, const double *parameters, double *out);

#endif
