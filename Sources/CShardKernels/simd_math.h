// Float vector math for the AVX2 paths (internal header, not part of the module interface).
#ifndef SHARDTRAIN_SIMD_MATH_H
#define SHARDTRAIN_SIMD_MATH_H

#include <immintrin.h>

#define SHARD_AVX2 __attribute__((target("avx2,fma")))
#define SHARD_AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/// exp(x) for 8 floats already clamped to [-103.972084, 88.7228394]:
///
///     n = round(x / ln2),  t = x - n ln2        (ln2 split in a high and a low part, |t| <= ln2/2)
///     p = Σ_{k=0..7} t^k / k!                   (truncation error < 6e-9 relative)
///     exp(x) = p · 2^(n/2) · 2^(n - n/2)        (two factors keep every step finite for -150 <= n <= 128)
/// The shared first half of the float exp: n = round(x / ln2) into `*n_out`, and p ≈ e^t with
/// t = x − n ln2 (Cody–Waite split of ln2, degree-7 Taylor polynomial). exp(x) = p · 2^n.
SHARD_AVX2_INLINE __m256 shard_exp_reduced_ps(__m256 x, __m256 *n_out) {
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 t = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    t = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), t);

    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.0f));
    *n_out = n;
    return p;
}

SHARD_AVX2_INLINE __m256 shard_exp_core_ps(__m256 clamped) {
    __m256 n;
    __m256 p = shard_exp_reduced_ps(clamped, &n);

    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i half = _mm256_srai_epi32(ni, 1);
    __m256i rest = _mm256_sub_epi32(ni, half);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 scaleA = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
    __m256 scaleB = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(rest, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, scaleA), scaleB);
}

#define SHARD_EXP_LOWER (-103.97208404541016f)
#define SHARD_EXP_UPPER (88.72283935546875f)

/// exp(x) for 8 floats: shard_exp_core_ps, with x > 88.7228394 giving +inf and x < -103.972084
/// giving 0. NaN stays NaN.
SHARD_AVX2_INLINE __m256 shard_exp_ps(__m256 x) {
    const __m256 lower = _mm256_set1_ps(SHARD_EXP_LOWER);
    const __m256 upper = _mm256_set1_ps(SHARD_EXP_UPPER);
    __m256 overflow = _mm256_cmp_ps(x, upper, _CMP_GT_OQ);
    __m256 underflow = _mm256_cmp_ps(x, lower, _CMP_LT_OQ);
    __m256 result = shard_exp_core_ps(_mm256_min_ps(_mm256_max_ps(x, lower), upper));
    result = _mm256_blendv_ps(result, _mm256_set1_ps(__builtin_inff()), overflow);
    result = _mm256_andnot_ps(underflow, result);
    return _mm256_blendv_ps(result, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

/// shard_exp_ps for x <= 0 (the logistic path's exp(-|z|)): the same values without the overflow branch.
SHARD_AVX2_INLINE __m256 shard_exp_nonpositive_ps(__m256 x) {
    const __m256 lower = _mm256_set1_ps(SHARD_EXP_LOWER);
    __m256 underflow = _mm256_cmp_ps(x, lower, _CMP_LT_OQ);
    __m256 result = _mm256_andnot_ps(underflow, shard_exp_core_ps(_mm256_max_ps(x, lower)));
    return _mm256_blendv_ps(result, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

/// log1p(x) for 8 floats with 0 <= x <= 1.
///
///     x <  0.5:  log1p(x) = L(x)
///     x >= 0.5:  log1p(x) = ln2 + L(f),  f = (x - 1) / 2 in [-0.25, 0]  (exact in float)
///     L(u) = 2 atanh(s) = 2s + 2s^3 (1/3 + s^2/5 + s^4/7 + s^6/9 + s^8/11),  s = u / (2 + u),  |s| <= 0.2
///
/// The dropped series terms are below 2e-9 relative.
SHARD_AVX2_INLINE __m256 shard_log1p_unit_ps(__m256 x) {
    __m256 high = _mm256_cmp_ps(x, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    __m256 folded = _mm256_mul_ps(_mm256_sub_ps(x, _mm256_set1_ps(1.0f)), _mm256_set1_ps(0.5f));
    __m256 u = _mm256_blendv_ps(x, folded, high);
    // 2s = 2u / (2 + u) directly (u + u is exact), so subnormal u keeps all its bits.
    __m256 twoS = _mm256_div_ps(_mm256_add_ps(u, u), _mm256_add_ps(u, _mm256_set1_ps(2.0f)));
    __m256 s2 = _mm256_mul_ps(_mm256_mul_ps(twoS, twoS), _mm256_set1_ps(0.25f));
    __m256 p = _mm256_set1_ps(1.0f / 11.0f);
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 9.0f));
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 7.0f));
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 5.0f));
    p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 3.0f));
    __m256 l = _mm256_fmadd_ps(_mm256_mul_ps(twoS, s2), p, twoS);
    __m256 offset = _mm256_and_ps(high, _mm256_set1_ps(0.693147180559945309f));
    return _mm256_add_ps(offset, l);
}

#endif
