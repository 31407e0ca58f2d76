// AVX2+FMA element-wise classification losses (4 doubles or 8 floats per vector) and the array
// forms of the double vector exp/log/log1p and the float log. See CShardKernels.h.
#if defined(__x86_64__) || defined(__i386__)

#include "CShardKernels.h"
#include "kernels_internal.h"
#include "simd_math_f64.h"

#include <math.h>

#pragma STDC FP_CONTRACT OFF

// The scalar functions (only the domain check `outside` is used here, to find the first bad element).
#define S double
#define SCALAR_NAME(name) shard_scalar_loss_f64_##name
#define S_EXP exp
#define S_LOG log
#define S_LOG1P log1p
#include "elementwise_losses_scalar_template.h"
#undef S_EXP
#undef S_LOG
#undef S_LOG1P

#define V __m256d
#define LANES 4
#define VECTORS_PER_GROUP 2
#define LANE_BITS 0xf
#define LOSS_NAME(name) shard_loss_f64_##name
#define V_SET1 _mm256_set1_pd
#define V_ZERO _mm256_setzero_pd
#define V_ADD _mm256_add_pd
#define V_SUB _mm256_sub_pd
#define V_MUL _mm256_mul_pd
#define V_DIV _mm256_div_pd
#define V_MIN _mm256_min_pd
#define V_MAX _mm256_max_pd
#define V_AND _mm256_and_pd
#define V_ANDNOT _mm256_andnot_pd
#define V_OR _mm256_or_pd
#define V_XOR _mm256_xor_pd
#define V_CMP _mm256_cmp_pd
#define V_BLEND _mm256_blendv_pd
#define V_MOVEMASK _mm256_movemask_pd
#define V_LOADU _mm256_loadu_pd
#define V_STOREU _mm256_storeu_pd
#define V_EXP shard_exp_nonpositive_pd
#define V_LOG shard_log_unit_pd
#define V_LOG1P shard_log1p_unit_pd
#include "elementwise_losses_avx2_template.h"
#undef S
#undef SCALAR_NAME
#undef V
#undef LANES
#undef VECTORS_PER_GROUP
#undef LANE_BITS
#undef LOSS_NAME
#undef V_SET1
#undef V_ZERO
#undef V_ADD
#undef V_SUB
#undef V_MUL
#undef V_DIV
#undef V_MIN
#undef V_MAX
#undef V_AND
#undef V_ANDNOT
#undef V_OR
#undef V_XOR
#undef V_CMP
#undef V_BLEND
#undef V_MOVEMASK
#undef V_LOADU
#undef V_STOREU
#undef V_EXP
#undef V_LOG
#undef V_LOG1P

#define S float
#define SCALAR_NAME(name) shard_scalar_loss_f32_##name
#define S_EXP expf
#define S_LOG logf
#define S_LOG1P log1pf
#include "elementwise_losses_scalar_template.h"
#undef S_EXP
#undef S_LOG
#undef S_LOG1P

#define V __m256
#define LANES 8
#define VECTORS_PER_GROUP 1
#define LANE_BITS 0xff
#define LOSS_NAME(name) shard_loss_f32_##name
#define V_SET1 _mm256_set1_ps
#define V_ZERO _mm256_setzero_ps
#define V_ADD _mm256_add_ps
#define V_SUB _mm256_sub_ps
#define V_MUL _mm256_mul_ps
#define V_DIV _mm256_div_ps
#define V_MIN _mm256_min_ps
#define V_MAX _mm256_max_ps
#define V_AND _mm256_and_ps
#define V_ANDNOT _mm256_andnot_ps
#define V_OR _mm256_or_ps
#define V_XOR _mm256_xor_ps
#define V_CMP _mm256_cmp_ps
#define V_BLEND _mm256_blendv_ps
#define V_MOVEMASK _mm256_movemask_ps
#define V_LOADU _mm256_loadu_ps
#define V_STOREU _mm256_storeu_ps
#define V_EXP shard_exp_nonpositive_fast_ps
#define V_LOG shard_log_unit_ps
#define V_LOG1P shard_log1p_unit_ps
#include "elementwise_losses_avx2_template.h"

size_t shardtrain_elementwise_loss_f64_avx2(const shardtrain_elementwise_params *params, const double *target,
                                            const double *prediction, size_t count, double *loss, double *gradient,
                                            double *total) {
    return shard_loss_f64_avx2(params, target, prediction, count, loss, gradient, total);
}

size_t shardtrain_elementwise_loss_f32_avx2(const shardtrain_elementwise_params *params, const float *target,
                                            const float *prediction, size_t count, float *loss, float *gradient,
                                            float *total) {
    return shard_loss_f32_avx2(params, target, prediction, count, loss, gradient, total);
}

SHARD_AVX2 int shardtrain_exp_f64_avx2(const double *in, double *out, size_t count) {
    size_t i = 0;
    for (; i + 4 <= count; i += 4) _mm256_storeu_pd(out + i, shard_exp_pd(_mm256_loadu_pd(in + i)));
    for (; i < count; i++) _mm256_maskstore_pd(out + i, _mm256_setr_epi64x(-1, 0, 0, 0), shard_exp_pd(_mm256_set1_pd(in[i])));
    return 1;
}

SHARD_AVX2 int shardtrain_log_f64_avx2(const double *in, double *out, size_t count) {
    size_t i = 0;
    for (; i + 4 <= count; i += 4) _mm256_storeu_pd(out + i, shard_log_pd(_mm256_loadu_pd(in + i)));
    for (; i < count; i++) _mm256_maskstore_pd(out + i, _mm256_setr_epi64x(-1, 0, 0, 0), shard_log_pd(_mm256_set1_pd(in[i])));
    return 1;
}

SHARD_AVX2 int shardtrain_log1p_unit_f64_avx2(const double *in, double *out, size_t count) {
    size_t i = 0;
    for (; i + 4 <= count; i += 4) _mm256_storeu_pd(out + i, shard_log1p_unit_pd(_mm256_loadu_pd(in + i)));
    for (; i < count; i++) {
        _mm256_maskstore_pd(out + i, _mm256_setr_epi64x(-1, 0, 0, 0), shard_log1p_unit_pd(_mm256_set1_pd(in[i])));
    }
    return 1;
}

SHARD_AVX2 int shardtrain_log_f32_avx2(const float *in, float *out, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(out + i, shard_log_ps(_mm256_loadu_ps(in + i)));
    for (; i < count; i++) {
        _mm256_maskstore_ps(out + i, _mm256_setr_epi32(-1, 0, 0, 0, 0, 0, 0, 0), shard_log_ps(_mm256_set1_ps(in[i])));
    }
    return 1;
}

#endif
