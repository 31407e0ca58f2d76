// The Adam / AdamW update (see CShardKernels.h), 4 doubles at a time with AVX2 and one at a time otherwise.
// Both compute each coordinate with the same correctly rounded operations in the same order (no fused
// multiply-add), so they give the same bits as each other and as the Swift formula.
#pragma STDC FP_CONTRACT OFF

#include "CShardKernels.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

static inline double shard_adam_scalar(const shardtrain_adam_step *step, double g, double first, double second,
                                       double theta, int decayed, double *m_out, double *v_out) {
    const double m = step->beta1 * first + step->first_weight * g;
    const double v = step->beta2 * second + step->second_weight * (g * g);
    *m_out = m;
    *v_out = v;
    const double direction = (m / step->first_correction) / (sqrt(v / step->second_correction) + step->epsilon);
    return decayed ? theta - step->rate * (direction + step->decay * theta) : theta - step->rate * direction;
}

/// Σ lanes in the pairing of ShardNumerics' LaneSums: ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)).
static inline double shard_adam_lane_total(const double lanes[8]) {
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

/// g_i of `source` for i in [from, count) into out (see shardtrain_objective_gradient).
static inline void shard_objective_gradient(const shardtrain_objective_gradient *source, size_t from, size_t count,
                                            double *out) {
    for (size_t i = from; i < count; i++) {
        const double a = source->sums != NULL ? source->sums[i] : (double)source->sums_f32[i];
        const double sum = source->other != NULL      ? a + source->other[i]
                           : source->other_f32 != NULL ? a + (double)source->other_f32[i]
                                                       : a;
        double g = sum * source->scale;
        if (source->regularized) g += source->l2 * source->parameters[i];
        out[i] = g;
    }
}

/// The lanes continued with values[from..<count] (lane i mod 8), then their LaneSums total.
static inline double shard_lane_squares(const double *values, size_t from, size_t count, double lanes[8]) {
    for (size_t i = from; i < count; i++) lanes[i % 8] += values[i] * values[i];
    return shard_adam_lane_total(lanes);
}

/// The companions of θ'[from..<count]: the rounded copy (when out_rounded is not NULL) and, continuing `lanes`,
/// Σ θ'_i² into *out_squares (when not NULL).
static inline void shard_adam_companions(const double *out_theta, size_t from, size_t count, float *out_rounded,
                                         double *out_squares, double lanes[8]) {
    if (out_rounded != NULL) {
        for (size_t i = from; i < count; i++) out_rounded[i] = (float)out_theta[i];
    }
    if (out_squares != NULL) *out_squares = shard_lane_squares(out_theta, from, count, lanes);
}

static int shard_adam_portable(const shardtrain_adam_step *step, const double *gradient, const double *first,
                               const double *second, const double *theta, const _Bool *mask, size_t count,
                               double *out_first, double *out_second, double *out_theta) {
    int non_finite = 0;
    for (size_t i = 0; i < count; i++) {
        const int decayed = mask != NULL && mask[i];
        out_theta[i] = shard_adam_scalar(step, gradient[i], first[i], second[i], theta[i], decayed, out_first + i,
                                         out_second + i);
        non_finite |= !isfinite(out_first[i]) | !isfinite(out_second[i]) | !isfinite(out_theta[i]);
    }
    return non_finite;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define SHARD_ADAM_AVX2 __attribute__((target("avx2,fma")))

/// Lanes that are NaN or ±∞: not (|x| < ∞).
SHARD_ADAM_AVX2 static inline __m256d shard_adam_non_finite(__m256d x) {
    const __m256d magnitude = _mm256_andnot_pd(_mm256_set1_pd(-0.0), x);
    return _mm256_cmp_pd(magnitude, _mm256_set1_pd(INFINITY), _CMP_NLT_UQ);
}

/// The 8 lanes of a sum kept as a pair of vectors that swap after every 4-wide iteration: after an even number of
/// `i / 4` iterations `current` holds lanes 0…3 and `other` 4…7, after an odd one the reverse.
SHARD_ADAM_AVX2 static inline void shard_store_lanes(__m256d current, __m256d other, size_t i, double lanes[8]) {
    const int even = (i / 4) % 2 == 0;
    _mm256_storeu_pd(lanes, even ? current : other);
    _mm256_storeu_pd(lanes + 4, even ? other : current);
}

/// A constant divisor c (normal, > 0) of `shard_divide_by_constant`, with RN(1/c) and c/2.
typedef struct {
    __m256d divisor, reciprocal, half;
} shard_constant_divisor;

SHARD_ADAM_AVX2 static inline shard_constant_divisor shard_constant_divisor_make(double c) {
    return (shard_constant_divisor){_mm256_set1_pd(c), _mm256_set1_pd(1.0 / c), _mm256_set1_pd(0.5 * c)};
}

/// a / c rounded to nearest, the bits of _mm256_div_pd, mostly without the divider (which bounds this loop):
///
///     q0 = RN(a · RN(1/c)),   q = RN(q0 + RN(a − c·q0) · RN(1/c))     (one residual correction, FMA)
///     accept q when RN(|a − c·q|) < c · s/2 (and that bound is a normal number), or a = 0
///
/// where s = |q| − pred(|q|), the spacing of doubles just below |q| (the smaller of its two spacings). Rounding is
/// monotonic and the bound is exact, so an accepted q has |a/c − q| < s/2: q is the double nearest to a/c. Any
/// other lane (a tie or a near-tie, a non-finite or tiny value) is divided.
SHARD_ADAM_AVX2 static inline __m256d shard_divide_by_constant(__m256d a, const shard_constant_divisor *c) {
    const __m256d sign = _mm256_set1_pd(-0.0);
    const __m256d q0 = _mm256_mul_pd(a, c->reciprocal);
    const __m256d zero = _mm256_cmp_pd(a, _mm256_setzero_pd(), _CMP_EQ_OQ);
    // ±0 / c = ±0: a itself (the correction would turn −0 into +0).
    const __m256d q = _mm256_blendv_pd(_mm256_fmadd_pd(_mm256_fnmadd_pd(c->divisor, q0, a), c->reciprocal, q0), a, zero);
    const __m256d residual = _mm256_andnot_pd(sign, _mm256_fnmadd_pd(c->divisor, q, a));
    const __m256i magnitude = _mm256_castpd_si256(_mm256_andnot_pd(sign, q));
    const __m256d below = _mm256_castsi256_pd(_mm256_sub_epi64(magnitude, _mm256_set1_epi64x(1)));
    const __m256d bound = _mm256_mul_pd(_mm256_sub_pd(_mm256_castsi256_pd(magnitude), below), c->half);
    const __m256d accepted =
        _mm256_or_pd(_mm256_and_pd(_mm256_cmp_pd(residual, bound, _CMP_LT_OQ),
                                   _mm256_cmp_pd(bound, _mm256_set1_pd(DBL_MIN), _CMP_GE_OQ)),
                     zero);
    if (_mm256_movemask_pd(accepted) == 0xF) return q;
    return _mm256_blendv_pd(_mm256_div_pd(a, c->divisor), q, accepted);
}

SHARD_ADAM_AVX2 static void shard_divide_avx2(const double *a, size_t count, double c, double *out) {
    const shard_constant_divisor divisor = shard_constant_divisor_make(c);
    size_t i = 0;
    for (; i + 4 <= count; i += 4) _mm256_storeu_pd(out + i, shard_divide_by_constant(_mm256_loadu_pd(a + i), &divisor));
    for (; i < count; i++) out[i] = a[i] / c;
}

/// The vector loop, with `divide_first` / `divide_second` saying whether m / first_correction and
/// v / second_correction are computed: a correction 1 − β^t that has rounded to exactly 1 (β1 = 0.9 from
/// t = 356 on) divides nothing, since x / 1 = x exactly for every x, so skipping it keeps the bits and frees the
/// divider, which bounds this loop (two divisions and a square root per coordinate).
SHARD_ADAM_AVX2 static inline __attribute__((always_inline)) int shard_adam_avx2_loop(
    const shardtrain_adam_step *step, const double *gradient, const shardtrain_objective_gradient *source,
    const double *first, const double *second, const double *theta, const _Bool *mask, size_t count,
    double *out_gradient, double *out_first, double *out_second, double *out_theta, float *out_rounded,
    double *out_squares, double *out_gradient_squares, const int divide_first, const int divide_second) {
    const __m256d beta1 = _mm256_set1_pd(step->beta1), beta2 = _mm256_set1_pd(step->beta2);
    const __m256d first_weight = _mm256_set1_pd(step->first_weight);
    const __m256d second_weight = _mm256_set1_pd(step->second_weight);
    const shard_constant_divisor first_correction = shard_constant_divisor_make(step->first_correction);
    const shard_constant_divisor second_correction = shard_constant_divisor_make(step->second_correction);
    const __m256d epsilon = _mm256_set1_pd(step->epsilon), rate = _mm256_set1_pd(step->rate);
    const __m256d decay = _mm256_set1_pd(step->decay);
    const __m256d scale = _mm256_set1_pd(source != NULL ? source->scale : 0);
    const __m256d l2 = _mm256_set1_pd(source != NULL ? source->l2 : 0);
    const int summed = source != NULL && source->other != NULL;
    const int summed_f32 = source != NULL && source->other == NULL && source->other_f32 != NULL;
    const int sums_are_f32 = source != NULL && source->sums == NULL;
    const int regularized = source != NULL && source->regularized;
    __m256d non_finite = _mm256_setzero_pd();
    // Squares of θ': `current` holds the lanes of the coordinates this iteration writes (i mod 8 = 0…3, then
    // 4…7), `other` the other four; they swap after every iteration.
    __m256d current = _mm256_setzero_pd(), other = _mm256_setzero_pd();
    // The same for the squares of the gradient made from `source`.
    __m256d gradient_current = _mm256_setzero_pd(), gradient_other = _mm256_setzero_pd();
    size_t i = 0;
    for (; i + 4 <= count; i += 4) {
        __m256d g;
        if (source != NULL) {
            __m256d sum = sums_are_f32 ? _mm256_cvtps_pd(_mm_loadu_ps(source->sums_f32 + i))
                                     : _mm256_loadu_pd(source->sums + i);
            if (summed) sum = _mm256_add_pd(sum, _mm256_loadu_pd(source->other + i));
            if (summed_f32) sum = _mm256_add_pd(sum, _mm256_cvtps_pd(_mm_loadu_ps(source->other_f32 + i)));
            g = _mm256_mul_pd(sum, scale);
            if (regularized) g = _mm256_add_pd(g, _mm256_mul_pd(l2, _mm256_loadu_pd(source->parameters + i)));
            _mm256_storeu_pd(out_gradient + i, g);
            const __m256d squared = _mm256_add_pd(gradient_current, _mm256_mul_pd(g, g));
            gradient_current = gradient_other;
            gradient_other = squared;
        } else {
            g = _mm256_loadu_pd(gradient + i);
        }
        const __m256d m =
            _mm256_add_pd(_mm256_mul_pd(beta1, _mm256_loadu_pd(first + i)), _mm256_mul_pd(first_weight, g));
        const __m256d v = _mm256_add_pd(_mm256_mul_pd(beta2, _mm256_loadu_pd(second + i)),
                                        _mm256_mul_pd(second_weight, _mm256_mul_pd(g, g)));
        const __m256d m_hat = divide_first ? shard_divide_by_constant(m, &first_correction) : m;
        const __m256d v_hat = divide_second ? shard_divide_by_constant(v, &second_correction) : v;
        const __m256d direction = _mm256_div_pd(m_hat, _mm256_add_pd(_mm256_sqrt_pd(v_hat), epsilon));
        const __m256d value = _mm256_loadu_pd(theta + i);
        __m256d next = _mm256_sub_pd(value, _mm256_mul_pd(rate, direction));
        if (mask != NULL) {
            int32_t bytes;
            memcpy(&bytes, mask + i, sizeof bytes);
            const __m256i lanes = _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(bytes));
            const __m256d decayed = _mm256_castsi256_pd(_mm256_cmpgt_epi64(lanes, _mm256_setzero_si256()));
            const __m256d with_decay =
                _mm256_sub_pd(value, _mm256_mul_pd(rate, _mm256_add_pd(direction, _mm256_mul_pd(decay, value))));
            next = _mm256_blendv_pd(next, with_decay, decayed);
        }
        _mm256_storeu_pd(out_first + i, m);
        _mm256_storeu_pd(out_second + i, v);
        _mm256_storeu_pd(out_theta + i, next);
        if (out_rounded != NULL) _mm_storeu_ps(out_rounded + i, _mm256_cvtpd_ps(next));
        const __m256d squared = _mm256_add_pd(current, _mm256_mul_pd(next, next));
        current = other;
        other = squared;
        non_finite = _mm256_or_pd(non_finite, _mm256_or_pd(shard_adam_non_finite(m), shard_adam_non_finite(v)));
        non_finite = _mm256_or_pd(non_finite, shard_adam_non_finite(next));
    }
    if (source != NULL) shard_objective_gradient(source, i, count, out_gradient);
    const double *read = source != NULL ? out_gradient : gradient;
    const int tail = shard_adam_portable(step, read + i, first + i, second + i, theta + i,
                                         mask != NULL ? mask + i : NULL, count - i, out_first + i, out_second + i,
                                         out_theta + i);
    double lanes[8];
    shard_store_lanes(current, other, i, lanes);
    shard_adam_companions(out_theta, i, count, out_rounded, out_squares, lanes);
    if (out_gradient_squares != NULL) {
        shard_store_lanes(gradient_current, gradient_other, i, lanes);
        *out_gradient_squares = shard_lane_squares(out_gradient, i, count, lanes);
    }
    return tail | (_mm256_movemask_pd(non_finite) != 0);
}

SHARD_ADAM_AVX2 static int shard_adam_avx2(const shardtrain_adam_step *step, const double *gradient,
                                           const shardtrain_objective_gradient *source, const double *first,
                                           const double *second, const double *theta, const _Bool *mask,
                                           size_t count, double *out_gradient, double *out_first,
                                           double *out_second, double *out_theta, float *out_rounded,
                                           double *out_squares, double *out_gradient_squares) {
    const int divide_first = step->first_correction != 1.0, divide_second = step->second_correction != 1.0;
    if (divide_first && divide_second) {
        return shard_adam_avx2_loop(step, gradient, source, first, second, theta, mask, count, out_gradient,
                                    out_first, out_second, out_theta, out_rounded, out_squares, out_gradient_squares, 1, 1);
    }
    if (divide_second) {
        return shard_adam_avx2_loop(step, gradient, source, first, second, theta, mask, count, out_gradient,
                                    out_first, out_second, out_theta, out_rounded, out_squares, out_gradient_squares, 0, 1);
    }
    if (divide_first) {
        return shard_adam_avx2_loop(step, gradient, source, first, second, theta, mask, count, out_gradient,
                                    out_first, out_second, out_theta, out_rounded, out_squares, out_gradient_squares, 1, 0);
    }
    return shard_adam_avx2_loop(step, gradient, source, first, second, theta, mask, count, out_gradient, out_first,
                                out_second, out_theta, out_rounded, out_squares, out_gradient_squares, 0, 0);
}
#endif

int shardtrain_divide_by_constant_f64(const double *a, size_t count, double c, double *out) {
#if defined(__x86_64__) || defined(__i386__)
    if (shardtrain_kernels_have_avx2_fma() && c > 0 && c >= DBL_MIN && c < INFINITY) {
        shard_divide_avx2(a, count, c, out);
        return 1;
    }
#endif
    for (size_t i = 0; i < count; i++) out[i] = a[i] / c;
    return 0;
}

void shardtrain_objective_gradient_f64(const shardtrain_objective_gradient *source, size_t count, double *out) {
    shard_objective_gradient(source, 0, count, out);
}

/// The update from `gradient`, or from `source` (then written into out_gradient) when it is not NULL.
static int shard_adam_update(const shardtrain_adam_step *step, const double *gradient,
                             const shardtrain_objective_gradient *source, const double *first, const double *second,
                             const double *theta, const _Bool *mask, size_t count, double *out_gradient,
                             double *out_first, double *out_second, double *out_theta, float *out_rounded,
                             double *out_squares, double *out_gradient_squares) {
#if defined(__x86_64__) || defined(__i386__)
    if (shardtrain_kernels_have_avx2_fma()) {
        return shard_adam_avx2(step, gradient, source, first, second, theta, mask, count, out_gradient, out_first,
                               out_second, out_theta, out_rounded, out_squares, out_gradient_squares);
    }
#endif
    if (source != NULL) {
        shard_objective_gradient(source, 0, count, out_gradient);
        gradient = out_gradient;
        if (out_gradient_squares != NULL) {
            double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            *out_gradient_squares = shard_lane_squares(out_gradient, 0, count, lanes);
        }
    }
    const int non_finite =
        shard_adam_portable(step, gradient, first, second, theta, mask, count, out_first, out_second, out_theta);
    double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    shard_adam_companions(out_theta, 0, count, out_rounded, out_squares, lanes);
    return non_finite;
}

int shardtrain_adam_update_f64(const shardtrain_adam_step *step, const double *gradient, const double *first,
                               const double *second, const double *theta, const _Bool *mask, size_t count,
                               double *out_first, double *out_second, double *out_theta, float *out_rounded,
                               double *out_squares) {
    return shard_adam_update(step, gradient, NULL, first, second, theta, mask, count, NULL, out_first, out_second,
                             out_theta, out_rounded, out_squares, NULL);
}

int shardtrain_adam_update_objective_f64(const shardtrain_adam_step *step, const shardtrain_objective_gradient *source,
                                         const double *first, const double *second, const double *theta,
                                         const _Bool *mask, size_t count, double *out_gradient, double *out_first,
                                         double *out_second, double *out_theta, float *out_rounded,
                                         double *out_squares, double *out_gradient_squares) {
    return shard_adam_update(step, NULL, source, first, second, theta, mask, count, out_gradient, out_first,
                             out_second, out_theta, out_rounded, out_squares, out_gradient_squares);
}
