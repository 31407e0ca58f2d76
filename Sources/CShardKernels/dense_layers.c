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

// ---------------------------------------------------------------------------------------------------------
// Nearest other row (recall@1 of the embedding metrics).

void shardtrain_pack_rows4_f64(const double *rows, size_t count, size_t width, double *packed) {
    const size_t groups = (count + 3) / 4;
    for (size_t g = 0; g < groups; g++) {
        for (size_t k = 0; k < width; k++) {
            for (size_t lane = 0; lane < 4; lane++) {
                const size_t row = 4 * g + lane;
                packed[(g * width + k) * 4 + lane] = row < count ? rows[row * width + k] : 0.0;
            }
        }
    }
}

// The argmin rule of the Swift loop it replaces: the first candidate is taken, later ones only when strictly
// nearer (lowest index on ties; a NaN distance never replaces and, taken first, is never replaced).
static inline void shard_consider(size_t candidate, double distance, int64_t *best, double *best_distance) {
    if (*best < 0 || distance < *best_distance) {
        *best = (int64_t)candidate;
        *best_distance = distance;
    }
}

#pragma clang fp contract(off)
static void shard_nearest_portable(const double *rows, size_t count, size_t width, size_t first, size_t last,
                                   int64_t *nearest) {
    for (size_t query = first; query < last; query++) {
        const double *q = rows + query * width;
        int64_t best = -1;
        double best_distance = __builtin_inf();
        for (size_t candidate = 0; candidate < count; candidate++) {
            if (candidate == query) continue;
            const double *c = rows + candidate * width;
            double sum = 0.0;
            for (size_t k = 0; k < width; k++) {
                const double difference = q[k] - c[k];
                sum += difference * difference;
            }
            shard_consider(candidate, sum, &best, &best_distance);
        }
        nearest[query - first] = best;
    }
}

#if defined(__x86_64__) || defined(__i386__)
// Four candidates per vector (lane = candidate), components added in order in each lane: every distance has
// the bits of the scalar loop (explicit sub, mul, add: nothing fused). Sixteen candidates at a time are held
// against every query of the range (they stay in L1 while the queries pass), and each query still considers
// the candidates in increasing order, so its answer is the scalar loop's.
SHARD_AVX2 static void shard_nearest_avx2(const double *rows, const double *packed, size_t count, size_t width,
                                          size_t first, size_t last, int64_t *nearest, double *best_distances) {
    const size_t groups = (count + 3) / 4;
    double lanes[16];
    for (size_t query = first; query < last; query++) {
        nearest[query - first] = -1;
        best_distances[query - first] = __builtin_inf();
    }
    for (size_t g = 0; g < groups; g += 4) {
        const size_t take = groups - g < 4 ? groups - g : 4;
        const double *p = packed + g * width * 4;
        for (size_t query = first; query < last; query++) {
            const double *q = rows + query * width;
            __m256d acc0 = _mm256_setzero_pd(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
            if (take == 4) {
                for (size_t k = 0; k < width; k++) {
                    const __m256d x = _mm256_set1_pd(q[k]);
                    const __m256d d0 = _mm256_sub_pd(x, _mm256_loadu_pd(p + k * 4));
                    const __m256d d1 = _mm256_sub_pd(x, _mm256_loadu_pd(p + (width + k) * 4));
                    const __m256d d2 = _mm256_sub_pd(x, _mm256_loadu_pd(p + (2 * width + k) * 4));
                    const __m256d d3 = _mm256_sub_pd(x, _mm256_loadu_pd(p + (3 * width + k) * 4));
                    acc0 = _mm256_add_pd(acc0, _mm256_mul_pd(d0, d0));
                    acc1 = _mm256_add_pd(acc1, _mm256_mul_pd(d1, d1));
                    acc2 = _mm256_add_pd(acc2, _mm256_mul_pd(d2, d2));
                    acc3 = _mm256_add_pd(acc3, _mm256_mul_pd(d3, d3));
                }
            } else {
                __m256d *accs[4] = {&acc0, &acc1, &acc2, &acc3};
                for (size_t t = 0; t < take; t++) {
                    __m256d acc = _mm256_setzero_pd();
                    for (size_t k = 0; k < width; k++) {
                        const __m256d d = _mm256_sub_pd(_mm256_set1_pd(q[k]), _mm256_loadu_pd(p + (t * width + k) * 4));
                        acc = _mm256_add_pd(acc, _mm256_mul_pd(d, d));
                    }
                    *accs[t] = acc;
                }
            }
            _mm256_storeu_pd(lanes, acc0);
            _mm256_storeu_pd(lanes + 4, acc1);
            _mm256_storeu_pd(lanes + 8, acc2);
            _mm256_storeu_pd(lanes + 12, acc3);
            int64_t *best = nearest + (query - first);
            double *best_distance = best_distances + (query - first);
            for (size_t lane = 0; lane < 4 * take; lane++) {
                const size_t candidate = 4 * g + lane;
                if (candidate >= count || candidate == query) continue;
                shard_consider(candidate, lanes[lane], best, best_distance);
            }
        }
    }
}
#endif

void shardtrain_nearest_rows_f64(const double *rows, const double *packed, size_t count, size_t width, size_t first,
                                 size_t last, int64_t *nearest) {
#if defined(__x86_64__) || defined(__i386__)
    if (packed != NULL && shardtrain_kernels_have_avx2_fma()) {
        double best_distances[256];
        for (size_t start = first; start < last; start += 256) {
            const size_t end = last - start < 256 ? last : start + 256;
            shard_nearest_avx2(rows, packed, count, width, start, end, nearest + (start - first), best_distances);
        }
        return;
    }
#endif
    shard_nearest_portable(rows, count, width, first, last, nearest);
}
