// Element-wise classification losses: entry points with runtime CPU dispatch, and the portable
// (scalar, libm) implementations. See CShardKernels.h for the formulas and the summation order.
#include "CShardKernels.h"
#include "kernels_internal.h"

#include <math.h>

// Products and sums are rounded one by one, as in the Swift code these kernels replace.
#pragma STDC FP_CONTRACT OFF

#define S double
#define SCALAR_NAME(name) shard_scalar_loss_f64_##name
#define S_EXP exp
#define S_LOG log
#define S_LOG1P log1p
#include "elementwise_losses_scalar_template.h"
#undef S
#undef SCALAR_NAME
#undef S_EXP
#undef S_LOG
#undef S_LOG1P

#define S float
#define SCALAR_NAME(name) shard_scalar_loss_f32_##name
#define S_EXP expf
#define S_LOG logf
#define S_LOG1P log1pf
#include "elementwise_losses_scalar_template.h"
#undef S
#undef SCALAR_NAME
#undef S_EXP
#undef S_LOG
#undef S_LOG1P

#if defined(__x86_64__) || defined(__i386__)
#define SHARD_HAS_AVX2_BUILD 1
#else
#define SHARD_HAS_AVX2_BUILD 0
#endif

size_t shardtrain_elementwise_loss_f64_portable(const shardtrain_elementwise_params *params, const double *target,
                                                const double *prediction, size_t count, double *loss,
                                                double *gradient, double *total) {
    return shard_scalar_loss_f64_pass(params, target, prediction, count, loss, gradient, total);
}

size_t shardtrain_elementwise_loss_f32_portable(const shardtrain_elementwise_params *params, const float *target,
                                                const float *prediction, size_t count, float *loss, float *gradient,
                                                float *total) {
    return shard_scalar_loss_f32_pass(params, target, prediction, count, loss, gradient, total);
}

size_t shardtrain_elementwise_loss_f64(const shardtrain_elementwise_params *params, const double *target,
                                       const double *prediction, size_t count, double *loss, double *gradient,
                                       double *total) {
#if SHARD_HAS_AVX2_BUILD
    if (shardtrain_kernels_have_avx2_fma()) {
        return shardtrain_elementwise_loss_f64_avx2(params, target, prediction, count, loss, gradient, total);
    }
#endif
    return shard_scalar_loss_f64_pass(params, target, prediction, count, loss, gradient, total);
}

size_t shardtrain_elementwise_loss_f32(const shardtrain_elementwise_params *params, const float *target,
                                       const float *prediction, size_t count, float *loss, float *gradient,
                                       float *total) {
#if SHARD_HAS_AVX2_BUILD
    if (shardtrain_kernels_have_avx2_fma()) {
        return shardtrain_elementwise_loss_f32_avx2(params, target, prediction, count, loss, gradient, total);
    }
#endif
    return shard_scalar_loss_f32_pass(params, target, prediction, count, loss, gradient, total);
}

int shardtrain_exp_f64(const double *in, double *out, size_t count) {
#if SHARD_HAS_AVX2_BUILD
    if (shardtrain_kernels_have_avx2_fma()) return shardtrain_exp_f64_avx2(in, out, count);
#endif
    for (size_t i = 0; i < count; i++) out[i] = exp(in[i]);
    return 0;
}

int shardtrain_log_f64(const double *in, double *out, size_t count) {
#if SHARD_HAS_AVX2_BUILD
    if (shardtrain_kernels_have_avx2_fma()) return shardtrain_log_f64_avx2(in, out, count);
#endif
    for (size_t i = 0; i < count; i++) out[i] = log(in[i]);
    return 0;
}

int shardtrain_log1p_unit_f64(const double *in, double *out, size_t count) {
#if SHARD_HAS_AVX2_BUILD
    if (shardtrain_kernels_have_avx2_fma()) return shardtrain_log1p_unit_f64_avx2(in, out, count);
#endif
    for (size_t i = 0; i < count; i++) out[i] = log1p(in[i]);
    return 0;
}

int shardtrain_log_f32(const float *in, float *out, size_t count) {
#if SHARD_HAS_AVX2_BUILD
    if (shardtrain_kernels_have_avx2_fma()) return shardtrain_log_f32_avx2(in, out, count);
#endif
    for (size_t i = 0; i < count; i++) out[i] = logf(in[i]);
    return 0;
}
