// Element-wise passes of the dense networks (ShardModels' DenseLayer, the VAE and the triplet embedding).
//
// Each pass is written once as an always-inline body and compiled twice: inside an AVX2 function (clang
// vectorises the loop 8 floats / 4 doubles wide) and inside a portable one. The operations are exact
// (comparisons, selects, conversions) or additions in a fixed order (column sums: rows in order, one
// column per lane), so both paths give the same bits. Only `shardtrain_tanh_f64` is AVX2-only (it reports
// whether it ran; the caller then uses libm).
#include "CShardKernels.h"
#include "kernels_internal.h"

#include <math.h>
#include <stdint.h>

#define SHARD_BODY static inline __attribute__((always_inline))

SHARD_BODY void relu_f32_body(float *values, size_t count) {
    for (size_t i = 0; i < count; i++) values[i] = values[i] > 0.0f ? values[i] : 0.0f;
}
SHARD_BODY void relu_f64_body(double *values, size_t count) {
    for (size_t i = 0; i < count; i++) values[i] = values[i] > 0.0 ? values[i] : 0.0;
}
SHARD_BODY void relu_backward_f32_body(const float *activation, float *gradient, size_t count) {
    for (size_t i = 0; i < count; i++) gradient[i] = activation[i] > 0.0f ? gradient[i] : 0.0f;
}
SHARD_BODY void relu_backward_f64_body(const double *activation, double *gradient, size_t count) {
    for (size_t i = 0; i < count; i++) gradient[i] = activation[i] > 0.0 ? gradient[i] : 0.0;
}
SHARD_BODY void column_sums_f32_body(const float *matrix, size_t rows, size_t width, float *sums) {
    for (size_t c = 0; c < width; c++) sums[c] = 0.0f;
    for (size_t r = 0; r < rows; r++) {
        const float *row = matrix + r * width;
        for (size_t c = 0; c < width; c++) sums[c] += row[c];
    }
}
SHARD_BODY void column_sums_f64_body(const double *matrix, size_t rows, size_t width, double *sums) {
    for (size_t c = 0; c < width; c++) sums[c] = 0.0;
    for (size_t r = 0; r < rows; r++) {
        const double *row = matrix + r * width;
        for (size_t c = 0; c < width; c++) sums[c] += row[c];
    }
}
SHARD_BODY void widen_body(const float *in, double *out, size_t count) {
    for (size_t i = 0; i < count; i++) out[i] = (double)in[i];
}
SHARD_BODY void narrow_body(const double *in, float *out, size_t count) {
    for (size_t i = 0; i < count; i++) out[i] = (float)in[i];
}
// Whole runs of 256 values are tested with a branch-free AND (vectorised), then the run with a bad value
// is searched in order.
#define SHARD_UNIT_RUN 256
#define DEFINE_FIRST_OUTSIDE_UNIT_BODY(NAME, T)                                                   \
    SHARD_BODY size_t NAME(const T *values, size_t count) {                                      \
        for (size_t start = 0; start < count; start += SHARD_UNIT_RUN) {                         \
            const size_t end = count - start < SHARD_UNIT_RUN ? count : start + SHARD_UNIT_RUN;   \
            int inside = 1;                                                                       \
            for (size_t i = start; i < end; i++) inside &= (values[i] >= 0) & (values[i] <= 1);   \
            if (inside) continue;                                                                 \
            for (size_t i = start; i < end; i++) {                                                \
                if (!(values[i] >= 0 && values[i] <= 1)) return i;                                \
            }                                                                                     \
        }                                                                                         \
        return count;                                                                             \
    }
DEFINE_FIRST_OUTSIDE_UNIT_BODY(first_outside_unit_f32_body, float)
DEFINE_FIRST_OUTSIDE_UNIT_BODY(first_outside_unit_f64_body, double)

#if defined(__x86_64__) || defined(__i386__)
#include "simd_math_f64.h"
#define SHARD_AVX2_VARIANT(RET, NAME, PARAMS, ARGS)                                               \
    SHARD_AVX2 static RET NAME##_avx2 PARAMS { return NAME##_body ARGS; }                         \
    static RET NAME##_portable PARAMS { return NAME##_body ARGS; }
#else
#define SHARD_AVX2_VARIANT(RET, NAME, PARAMS, ARGS) static RET NAME##_portable PARAMS { return NAME##_body ARGS; }
#endif

SHARD_AVX2_VARIANT(void, relu_f32, (float *v, size_t n), (v, n))
SHARD_AVX2_VARIANT(void, relu_f64, (double *v, size_t n), (v, n))
SHARD_AVX2_VARIANT(void, relu_backward_f32, (const float *a, float *g, size_t n), (a, g, n))
SHARD_AVX2_VARIANT(void, relu_backward_f64, (const double *a, double *g, size_t n), (a, g, n))
SHARD_AVX2_VARIANT(void, column_sums_f32, (const float *m, size_t r, size_t w, float *s), (m, r, w, s))
SHARD_AVX2_VARIANT(void, column_sums_f64, (const double *m, size_t r, size_t w, double *s), (m, r, w, s))
SHARD_AVX2_VARIANT(void, widen, (const float *in, double *out, size_t n), (in, out, n))
SHARD_AVX2_VARIANT(void, narrow, (const double *in, float *out, size_t n), (in, out, n))
SHARD_AVX2_VARIANT(size_t, first_outside_unit_f32, (const float *v, size_t n), (v, n))
SHARD_AVX2_VARIANT(size_t, first_outside_unit_f64, (const double *v, size_t n), (v, n))

#if defined(__x86_64__) || defined(__i386__)
#define SHARD_DISPATCH(NAME, ARGS)                                                                \
    if (shardtrain_kernels_have_avx2_fma()) return NAME##_avx2 ARGS;                              \
    return NAME##_portable ARGS;
#else
#define SHARD_DISPATCH(NAME, ARGS) return NAME##_portable ARGS;
#endif

void shardtrain_relu_f32(float *values, size_t count) { SHARD_DISPATCH(relu_f32, (values, count)) }
void shardtrain_relu_f64(double *values, size_t count) { SHARD_DISPATCH(relu_f64, (values, count)) }
void shardtrain_relu_backward_f32(const float *activation, float *gradient, size_t count) {
    SHARD_DISPATCH(relu_backward_f32, (activation, gradient, count))
}
void shardtrain_relu_backward_f64(const double *activation, double *gradient, size_t count) {
    SHARD_DISPATCH(relu_backward_f64, (activation, gradient, count))
}
void shardtrain_column_sums_f32(const float *matrix, size_t rows, size_t width, float *sums) {
    SHARD_DISPATCH(column_sums_f32, (matrix, rows, width, sums))
}
void shardtrain_column_sums_f64(const double *matrix, size_t rows, size_t width, double *sums) {
    SHARD_DISPATCH(column_sums_f64, (matrix, rows, width, sums))
}
void shardtrain_widen_f32_to_f64(const float *in, double *out, size_t count) { SHARD_DISPATCH(widen, (in, out, count)) }
void shardtrain_round_f64_to_f32(const double *in, float *out, size_t count) { SHARD_DISPATCH(narrow, (in, out, count)) }
size_t shardtrain_first_outside_unit_f32(const float *values, size_t count) {
    SHARD_DISPATCH(first_outside_unit_f32, (values, count))
}
size_t shardtrain_first_outside_unit_f64(const double *values, size_t count) {
    SHARD_DISPATCH(first_outside_unit_f64, (values, count))
}

#if defined(__x86_64__) || defined(__i386__)
/// tanh of 4 doubles (see `shardtrain_tanh_f64`).
SHARD_AVX2_INLINE __m256d shard_tanh_pd(__m256d x) {
    const __m256d sign = _mm256_set1_pd(-0.0);
    const __m256d a = _mm256_min_pd(_mm256_set1_pd(20.0), _mm256_andnot_pd(sign, x)); // NaN stays NaN
    __m256d n;
    const __m256d s = shard_exp_reduced_pd(_mm256_mul_pd(a, _mm256_set1_pd(-2.0)), &n);
    // 2^n for -58 <= n <= 0 from the exponent bits (NaN lanes: some finite n, s stays NaN).
    const __m256d clean = _mm256_blendv_pd(n, _mm256_setzero_pd(), _mm256_cmp_pd(n, n, _CMP_UNORD_Q));
    const __m256i biased = _mm256_castpd_si256(_mm256_add_pd(clean, _mm256_set1_pd(4503599627370496.0 + 1023.0)));
    const __m256d scale = _mm256_castsi256_pd(_mm256_slli_epi64(biased, 52));
    const __m256d m = _mm256_fmadd_pd(scale, s, _mm256_sub_pd(scale, _mm256_set1_pd(1.0)));
    const __m256d magnitude = _mm256_div_pd(m, _mm256_sub_pd(_mm256_set1_pd(-2.0), m));
    return _mm256_or_pd(_mm256_andnot_pd(sign, magnitude), _mm256_and_pd(sign, x));
}

SHARD_AVX2 static void shard_tanh_f64_avx2(double *values, size_t count) {
    size_t i = 0;
    for (; i + 4 <= count; i += 4) _mm256_storeu_pd(values + i, shard_tanh_pd(_mm256_loadu_pd(values + i)));
    if (i < count) {
        double tail[4] = {0, 0, 0, 0};
        for (size_t j = i; j < count; j++) tail[j - i] = values[j];
        _mm256_storeu_pd(tail, shard_tanh_pd(_mm256_loadu_pd(tail)));
        for (size_t j = i; j < count; j++) values[j] = tail[j - i];
    }
}
#endif

int shardtrain_tanh_f64(double *values, size_t count) {
#if defined(__x86_64__) || defined(__i386__)
    if (shardtrain_kernels_have_avx2_fma()) {
        shard_tanh_f64_avx2(values, count);
        return 1;
    }
#endif
    (void)values;
    (void)count;
    return 0;
}
