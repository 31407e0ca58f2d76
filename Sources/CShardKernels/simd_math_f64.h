// Double vector exp, log and log1p, and a float vector log, for the AVX2 element-wise loss paths
// (internal header, not part of the module interface).
//
// The algorithms are the classic ones (Cody & Waite argument reduction for exp; the atanh form of
// log(1 + f) with the f - (hfsq - s (hfsq + R)) arrangement used by the public fdlibm/Cephes
// literature for log). The code is written here; the coefficients are Taylor coefficients or
// Chebyshev interpolants computed with mpmath's chebyfit (50 digits), rounded to double:
//
//     exp(r)      = 1 + r + r² q(r), q a degree-9 Chebyshev interpolant of (e^r - 1 - r) / r² on |r| <= ln2/2
//     log(1 + f)  = 2 atanh(s) = 2s + s R(s²),  s = f / (2 + f),  R(z) = Σ_{j>=1} 2 z^j / (2j + 1)
//                   (double: a degree-7 Chebyshev interpolant of R(z)/z; float: 4 Taylor terms)
// Errors are measured against libm in Tests/ShardNumericsTests/LossKernelTests.swift (max 1 ulp).
#ifndef SHARDTRAIN_SIMD_MATH_F64_H
#define SHARDTRAIN_SIMD_MATH_F64_H

#include "simd_math.h"

#include <stdint.h>

#define SHARD_LN2_HI 6.93147180369123816490e-01  // ln 2 rounded to 32 significant bits: k * hi is exact
#define SHARD_LN2_LO 1.90821492927058770002e-10  // ln 2 - hi
#define SHARD_EXP_F64_UPPER 709.782712893384     // above: exp overflows to +inf
#define SHARD_EXP_F64_LOWER (-745.1332191019412) // below: exp rounds to 0

// The polynomial cores below are written once for 256- and 512-bit vectors: SHARD_DEFINE_... (NAME, ATTR, W)
// defines the function NAME with the attributes ATTR on vectors of W bits (256: AVX2 + FMA here, 512: AVX-512 in
// softmax_avx512.c); both widths run the same operations, so they give the same values lane by lane.

/// The shared first half of the double exp: n = round(x / ln2) into `*n_out` and s = e^r − 1 = r + r² q(r)
/// with r = x − n ln2 (so e^x = (1 + s) · 2^n; `shard_tanh_pd` uses s for expm1 without cancellation).
/// ROUND(v, mode) rounds v to integers (_mm256_round_pd, _mm512_roundscale_pd).
#define SHARD_DEFINE_EXP_REDUCED_PD(NAME, ATTR, W, ROUND)                                                              \
    ATTR __m##W##d NAME(__m##W##d clamped, __m##W##d *n_out) {                                                         \
        const __m##W##d n = ROUND(_mm##W##_mul_pd(clamped, _mm##W##_set1_pd(1.4426950408889634074)),                  \
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);                                      \
        __m##W##d r = _mm##W##_fnmadd_pd(n, _mm##W##_set1_pd(SHARD_LN2_HI), clamped);                                  \
        r = _mm##W##_fnmadd_pd(n, _mm##W##_set1_pd(SHARD_LN2_LO), r);                                                  \
        const __m##W##d r2 = _mm##W##_mul_pd(r, r);                                                                    \
        const __m##W##d r4 = _mm##W##_mul_pd(r2, r2);                                                                  \
        const __m##W##d r8 = _mm##W##_mul_pd(r4, r4);                                                                  \
        /* q(r) by Estrin's scheme: the degree-9 Chebyshev interpolant of (e^r - 1 - r) / r² on [-ln2/2, ln2/2]     \
           (mpmath chebyfit; its error adds < 0.15 ulp to exp), in place of the Taylor coefficients 1/2!, ..., 1/13! \
           (two fewer terms). */                                                                                       \
        const __m##W##d q01 = _mm##W##_fmadd_pd(r, _mm##W##_set1_pd(0.16666666666666669), _mm##W##_set1_pd(0.5000000000000001)); \
        const __m##W##d q23 = _mm##W##_fmadd_pd(r, _mm##W##_set1_pd(0.008333333333330062), _mm##W##_set1_pd(0.04166666666662413)); \
        const __m##W##d q45 = _mm##W##_fmadd_pd(r, _mm##W##_set1_pd(0.00019841269863053618), _mm##W##_set1_pd(0.0013888888917213717)); \
        const __m##W##d q67 = _mm##W##_fmadd_pd(r, _mm##W##_set1_pd(2.7557268459997064e-06), _mm##W##_set1_pd(2.4801521295954376e-05)); \
        const __m##W##d q89 = _mm##W##_fmadd_pd(r, _mm##W##_set1_pd(2.510038549551032e-08), _mm##W##_set1_pd(2.7620088445409746e-07)); \
        const __m##W##d q03 = _mm##W##_fmadd_pd(q23, r2, q01);                                                         \
        const __m##W##d q47 = _mm##W##_fmadd_pd(q67, r2, q45);                                                         \
        const __m##W##d q = _mm##W##_fmadd_pd(q89, r8, _mm##W##_fmadd_pd(q47, r4, q03));                               \
        *n_out = n;                                                                                                    \
        return _mm##W##_fmadd_pd(r2, q, r);                                                                            \
    }

SHARD_DEFINE_EXP_REDUCED_PD(shard_exp_reduced_pd, SHARD_AVX2_INLINE, 256, _mm256_round_pd)

/// exp(x) for doubles x <= 0 from SHARD_DEFINE_EXP_REDUCED_PD's function EXP_REDUCED of width W: p = 1 + s,
/// then SCALE(p, n) = p · 2^n. SHARD_SCALE_NORMAL_PD builds 2^n in the exponent field: a normal result only,
/// -708 <= x (n >= -1021), the values of shard_exp_nonpositive_pd without its branches. AVX-512's scalef rounds
/// p · 2^n once for any n (0 below the subnormals, the same values), so that form needs only x >= -800 (clamped).
#define SHARD_DEFINE_EXP_NONPOSITIVE_PD(NAME, ATTR, W, EXP_REDUCED, SCALE)                                              \
    ATTR __m##W##d NAME(__m##W##d x) {                                                                                 \
        __m##W##d n;                                                                                                   \
        const __m##W##d p = _mm##W##_add_pd(_mm##W##_set1_pd(1.0), EXP_REDUCED(x, &n));                               \
        return SCALE(W, p, n);                                                                                         \
    }
#define SHARD_SCALE_NORMAL_PD(W, p, n)                                                                                 \
    _mm##W##_mul_pd(p, _mm##W##_castsi##W##_pd(_mm##W##_slli_epi64(                                                    \
                           _mm##W##_castpd_si##W(_mm##W##_add_pd(n, _mm##W##_set1_pd(4503599627370496.0 + 1023.0))), 52)))

/// exp(x) for floats x <= 0, cheaper than shard_exp_nonpositive_ps and within about 1 ulp of it: n = round(x / ln 2)
/// by adding 1.5 · 2^23 (its low mantissa bits are then n, the scale's exponent), r = x − n ln 2 in two steps
/// (|r| <= ln 2 / 2), exp(r) by its Taylor polynomial p of degree 6 (remainder below |r|^7 / 5040 < 1.2e-7), then
/// SCALE(p, n, shifted) = p · 2^n. SHARD_SCALE_NORMAL_PS puts n + 127 in the exponent field: a normal result only,
/// -87 <= x (n >= -126). AVX-512's scalef rounds p · 2^n once for any n, so that form needs only x >= -110
/// (clamped, NaN kept; the result is 0 below about -103.3).
#define SHARD_DEFINE_EXP_NONPOSITIVE_PS(NAME, ATTR, W, SCALE)                                                           \
    ATTR __m##W NAME(__m##W x) {                                                                                       \
        const __m##W shifter = _mm##W##_set1_ps(12582912.0f);                                                         \
        const __m##W shifted = _mm##W##_fmadd_ps(x, _mm##W##_set1_ps(1.44269504088896341f), shifter);                 \
        const __m##W n = _mm##W##_sub_ps(shifted, shifter);                                                            \
        __m##W r = _mm##W##_fnmadd_ps(n, _mm##W##_set1_ps(0.693359375f), x);                                           \
        r = _mm##W##_fnmadd_ps(n, _mm##W##_set1_ps(-2.12194440e-4f), r);                                               \
        __m##W p = _mm##W##_fmadd_ps(_mm##W##_set1_ps(1.0f / 720.0f), r, _mm##W##_set1_ps(1.0f / 120.0f));             \
        p = _mm##W##_fmadd_ps(p, r, _mm##W##_set1_ps(1.0f / 24.0f));                                                   \
        p = _mm##W##_fmadd_ps(p, r, _mm##W##_set1_ps(1.0f / 6.0f));                                                    \
        p = _mm##W##_fmadd_ps(p, r, _mm##W##_set1_ps(0.5f));                                                          \
        p = _mm##W##_fmadd_ps(p, r, _mm##W##_set1_ps(1.0f));                                                          \
        p = _mm##W##_fmadd_ps(p, r, _mm##W##_set1_ps(1.0f));                                                          \
        return SCALE(W, p, n, shifted);                                                                                \
    }
/// The low 9 bits of shifted's bit pattern are n mod 512; (n + 127) << 23 keeps them as the exponent.
#define SHARD_SCALE_NORMAL_PS(W, p, n, shifted)                                                                        \
    _mm##W##_mul_ps(p, _mm##W##_castsi##W##_ps(_mm##W##_slli_epi32(                                                    \
                           _mm##W##_add_epi32(_mm##W##_castps_si##W(shifted), _mm##W##_set1_epi32(127)), 23)))

/// exp(x) for 4 doubles already clamped to [-745.14, 709.79] (NaN passes through as NaN).
///
///     n = round(x / ln2),  r = (x - n ln2_hi) - n ln2_lo            (|r| <= ln2/2 + tiny)
///     p = 1 + (r + r² q(r)),  q(r) ≈ (e^r - 1 - r) / r², degree 9     (Estrin's scheme)
///     exp(x) = p · 2^n                          when -1022 <= n <= 1023 in every lane, else
///     exp(x) = (p · 2^(n>>1)) · 2^(n - (n>>1))  (two exact-exponent factors: subnormal results round once)
SHARD_AVX2_INLINE __m256d shard_exp_core_pd(__m256d clamped) {
    __m256d n;
    const __m256d p = _mm256_add_pd(_mm256_set1_pd(1.0), shard_exp_reduced_pd(clamped, &n));

    // Adding 2^52 + 1023 puts the biased exponent n + 1023 in the low mantissa bits (exact for
    // |n| <= 2^31); shifting it up by 52 gives 2^n whenever -1022 <= n <= 1023.
    const __m256d in_range = _mm256_and_pd(_mm256_cmp_pd(n, _mm256_set1_pd(-1022.0), _CMP_GE_OQ),
                                           _mm256_cmp_pd(n, _mm256_set1_pd(1023.0), _CMP_LE_OQ));
    if (_mm256_movemask_pd(in_range) == 0xf) {
        const __m256i biased = _mm256_castpd_si256(_mm256_add_pd(n, _mm256_set1_pd(4503599627370496.0 + 1023.0)));
        return _mm256_mul_pd(p, _mm256_castsi256_pd(_mm256_slli_epi64(biased, 52)));
    }
    // n fits in int32 (|n| <= 1075); both scale exponents stay in the normal range. NaN lanes give
    // some finite n here and keep p = NaN.
    const __m128i ni = _mm256_cvtpd_epi32(_mm256_blendv_pd(n, _mm256_setzero_pd(), _mm256_cmp_pd(n, n, _CMP_UNORD_Q)));
    const __m128i half = _mm_srai_epi32(ni, 1);
    const __m128i rest = _mm_sub_epi32(ni, half);
    const __m256i bias = _mm256_set1_epi64x(1023);
    const __m256d scaleA = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(half), bias), 52));
    const __m256d scaleB = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(rest), bias), 52));
    return _mm256_mul_pd(_mm256_mul_pd(p, scaleA), scaleB);
}

/// exp(x) for 4 doubles: x > 709.78 gives +inf, x < -745.13 gives 0, NaN stays NaN (max/min return
/// their second operand when one is NaN, so the clamp keeps NaN).
SHARD_AVX2_INLINE __m256d shard_exp_pd(__m256d x) {
    const __m256d upper = _mm256_set1_pd(SHARD_EXP_F64_UPPER);
    const __m256d lower = _mm256_set1_pd(SHARD_EXP_F64_LOWER);
    __m256d result = shard_exp_core_pd(_mm256_min_pd(upper, _mm256_max_pd(lower, x)));
    result = _mm256_blendv_pd(result, _mm256_set1_pd(__builtin_inf()), _mm256_cmp_pd(x, upper, _CMP_GT_OQ));
    return _mm256_andnot_pd(_mm256_cmp_pd(x, lower, _CMP_LT_OQ), result);
}

/// shard_exp_pd for x <= 0 or NaN (the losses' exp(-|z|)), the same values: when every lane has
/// x >= -708 (n >= -1021, a normal result) one scaling step and no underflow test; otherwise the
/// full clamp, two-step scaling and flush below -745.13.
SHARD_AVX2_INLINE __m256d shard_exp_nonpositive_pd(__m256d x) {
    const __m256d lower = _mm256_set1_pd(SHARD_EXP_F64_LOWER);
    // NaN compares false here and takes the first branch, where it stays NaN.
    if (_mm256_movemask_pd(_mm256_cmp_pd(x, _mm256_set1_pd(-708.0), _CMP_LT_OQ)) == 0) {
        return shard_exp_core_pd(x);
    }
    return _mm256_andnot_pd(_mm256_cmp_pd(x, lower, _CMP_LT_OQ), shard_exp_core_pd(_mm256_max_pd(lower, x)));
}

/// exp(x) for 8 floats with x <= 0 or NaN: shard_exp_nonpositive_ps (same polynomial, same values),
/// with one scaling step by 2^n when every lane has x >= -87 (n >= -126, a normal result).
SHARD_AVX2_INLINE __m256 shard_exp_nonpositive_fast_ps(__m256 x) {
    if (_mm256_movemask_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_LT_OQ)) != 0) {
        return shard_exp_nonpositive_ps(x);
    }
    __m256 n;
    const __m256 p = shard_exp_reduced_ps(x, &n);
    const __m256i biased = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23)));
}

/// k ln2 + log(1 + f), arranged as  k ln2_hi - ((hfsq - (s (hfsq + R) + k ln2_lo)) - f),
/// hfsq = f²/2, s = f / (2 + f), R = z P(z), z = s², |s| <= 0.2. P is the degree-7 Chebyshev
/// interpolant of R(z)/z = Σ_{j>=1} 2 z^(j-1) / (2j + 1) on [0, 0.04] (computed with mpmath's
/// chebyfit; max |P - R/z| < 4e-17 with the coefficients rounded to double, so the term's error is
/// below 1e-18 relative to log(1 + f)). It replaces the 11 Taylor terms 2/3, 2/5, ..., 2/23.
#define SHARD_DEFINE_LOG1P_CORE_PD(NAME, ATTR, W)                                                                      \
    ATTR __m##W##d NAME(__m##W##d f, __m##W##d k) {                                                                    \
        const __m##W##d s = _mm##W##_div_pd(f, _mm##W##_add_pd(f, _mm##W##_set1_pd(2.0)));                             \
        const __m##W##d z = _mm##W##_mul_pd(s, s);                                                                     \
        const __m##W##d z2 = _mm##W##_mul_pd(z, z);                                                                    \
        const __m##W##d z4 = _mm##W##_mul_pd(z2, z2);                                                                  \
        /* Estrin's scheme. */                                                                                         \
        const __m##W##d c01 = _mm##W##_fmadd_pd(z, _mm##W##_set1_pd(0.40000000000007807), _mm##W##_set1_pd(0.6666666666666666)); \
        const __m##W##d c23 = _mm##W##_fmadd_pd(z, _mm##W##_set1_pd(0.2222222303822691), _mm##W##_set1_pd(0.28571428567336676)); \
        const __m##W##d c45 = _mm##W##_fmadd_pd(z, _mm##W##_set1_pd(0.15388835999460426), _mm##W##_set1_pd(0.18181738421712204)); \
        const __m##W##d c67 = _mm##W##_fmadd_pd(z, _mm##W##_set1_pd(0.13604216246696962), _mm##W##_set1_pd(0.1321033443219967)); \
        const __m##W##d c03 = _mm##W##_fmadd_pd(c23, z2, c01);                                                         \
        const __m##W##d c47 = _mm##W##_fmadd_pd(c67, z2, c45);                                                         \
        const __m##W##d poly = _mm##W##_fmadd_pd(c47, z4, c03);                                                        \
        const __m##W##d R = _mm##W##_mul_pd(z, poly);                                                                  \
        const __m##W##d hfsq = _mm##W##_mul_pd(_mm##W##_mul_pd(f, f), _mm##W##_set1_pd(0.5));                          \
        const __m##W##d inner =                                                                                        \
            _mm##W##_fmadd_pd(s, _mm##W##_add_pd(hfsq, R), _mm##W##_mul_pd(k, _mm##W##_set1_pd(SHARD_LN2_LO)));        \
        return _mm##W##_fmsub_pd(k, _mm##W##_set1_pd(SHARD_LN2_HI), _mm##W##_sub_pd(_mm##W##_sub_pd(hfsq, inner), f)); \
    }

SHARD_DEFINE_LOG1P_CORE_PD(shard_log1p_core_pd, SHARD_AVX2_INLINE, 256)

/// The float form of SHARD_DEFINE_LOG1P_CORE_PD for f in [sqrt(1/2) − 1, sqrt(2) − 1] (R with 4 Taylor terms:
/// truncation < 3e-9 relative): k ln2 + log(1 + f).
#define SHARD_DEFINE_LOG_CORE_PS(NAME, ATTR, W)                                                                        \
    ATTR __m##W NAME(__m##W f, __m##W k) {                                                                             \
        const __m##W s = _mm##W##_div_ps(f, _mm##W##_add_ps(f, _mm##W##_set1_ps(2.0f)));                               \
        const __m##W z = _mm##W##_mul_ps(s, s);                                                                        \
        __m##W poly = _mm##W##_fmadd_ps(z, _mm##W##_set1_ps(2.0f / 9.0f), _mm##W##_set1_ps(2.0f / 7.0f));              \
        poly = _mm##W##_fmadd_ps(poly, z, _mm##W##_set1_ps(2.0f / 5.0f));                                              \
        poly = _mm##W##_fmadd_ps(poly, z, _mm##W##_set1_ps(2.0f / 3.0f));                                              \
        const __m##W R = _mm##W##_mul_ps(z, poly);                                                                     \
        const __m##W hfsq = _mm##W##_mul_ps(_mm##W##_mul_ps(f, f), _mm##W##_set1_ps(0.5f));                            \
        /* ln 2 = 0.693359375 - 2.12194440e-4 (the hi part has 9 significant bits: k hi is exact). */                  \
        const __m##W inner =                                                                                           \
            _mm##W##_fmadd_ps(s, _mm##W##_add_ps(hfsq, R), _mm##W##_mul_ps(k, _mm##W##_set1_ps(-2.12194440e-4f)));     \
        return _mm##W##_fmsub_ps(k, _mm##W##_set1_ps(0.693359375f), _mm##W##_sub_ps(_mm##W##_sub_ps(hfsq, inner), f)); \
    }

SHARD_DEFINE_LOG_CORE_PS(shard_log_core_ps, SHARD_AVX2_INLINE, 256)

/// log(x) for 4 positive normal finite doubles, minus `k_offset` ln2 (0 or 54, the subnormal scaling):
/// x = 2^k m with m in [sqrt(1/2), sqrt(2)), f = m - 1 (exact), then shard_log1p_core_pd.
SHARD_AVX2_INLINE __m256d shard_log_normal_pd(__m256d x, const int subtract_offset, __m256d k_offset) {
    const __m256i bits = _mm256_castpd_si256(x);
    // Biased exponent as a double: OR it into the mantissa of 2^52 and subtract 2^52 + 1023.
    const __m256i exponent_bits = _mm256_srli_epi64(bits, 52);
    __m256d k = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(exponent_bits, _mm256_set1_epi64x(0x4330000000000000LL))),
                              _mm256_set1_pd(4503599627370496.0 + 1023.0));
    if (subtract_offset) k = _mm256_sub_pd(k, k_offset);
    __m256d m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi64x(0x000fffffffffffffLL)),
                                                    _mm256_set1_epi64x(0x3ff0000000000000LL)));
    const __m256d big = _mm256_cmp_pd(m, _mm256_set1_pd(1.4142135623730951), _CMP_GT_OQ);
    m = _mm256_blendv_pd(m, _mm256_mul_pd(m, _mm256_set1_pd(0.5)), big);
    k = _mm256_add_pd(k, _mm256_and_pd(big, _mm256_set1_pd(1.0)));
    return shard_log1p_core_pd(_mm256_sub_pd(m, _mm256_set1_pd(1.0)), k);
}

/// log(x) for 4 doubles: subnormal x scaled by 2^54 first, then shard_log_normal_pd.
/// 0 gives -inf, +inf gives +inf, x < 0 and NaN give NaN.
SHARD_AVX2_INLINE __m256d shard_log_pd(__m256d x) {
    const __m256d subnormal = _mm256_cmp_pd(x, _mm256_set1_pd(2.2250738585072014e-308), _CMP_LT_OQ);
    const __m256d scaled = _mm256_blendv_pd(x, _mm256_mul_pd(x, _mm256_set1_pd(18014398509481984.0)), subnormal);
    __m256d result = shard_log_normal_pd(scaled, 1, _mm256_and_pd(subnormal, _mm256_set1_pd(54.0)));
    result = _mm256_blendv_pd(result, _mm256_set1_pd(-__builtin_inf()), _mm256_cmp_pd(x, _mm256_setzero_pd(), _CMP_EQ_OQ));
    result = _mm256_blendv_pd(result, x, _mm256_cmp_pd(x, _mm256_set1_pd(__builtin_inf()), _CMP_EQ_OQ));
    return _mm256_blendv_pd(result, _mm256_set1_pd(__builtin_nan("")), _mm256_cmp_pd(x, _mm256_setzero_pd(), _CMP_NGE_UQ));
}

/// shard_log_pd for 0 < x <= 1 (the probability losses' clipped probabilities), the same values:
/// when every lane is normal, shard_log_normal_pd without the special-value blends.
SHARD_AVX2_INLINE __m256d shard_log_unit_pd(__m256d x) {
    if (_mm256_movemask_pd(_mm256_cmp_pd(x, _mm256_set1_pd(2.2250738585072014e-308), _CMP_NGE_UQ)) != 0) {
        return shard_log_pd(x);
    }
    return shard_log_normal_pd(x, 0, _mm256_setzero_pd());
}

/// log1p(x) for 4 doubles with 0 <= x <= 1:
///
///     x <  0.5:  f = x,            k = 0      (s <= 0.2)
///     x >= 0.5:  f = (x - 1) / 2,  k = 1      (1 + x = 2 (1 + f), f in [-0.25, 0], exact)
SHARD_AVX2_INLINE __m256d shard_log1p_unit_pd(__m256d x) {
    const __m256d high = _mm256_cmp_pd(x, _mm256_set1_pd(0.5), _CMP_GE_OQ);
    const __m256d folded = _mm256_mul_pd(_mm256_sub_pd(x, _mm256_set1_pd(1.0)), _mm256_set1_pd(0.5));
    const __m256d f = _mm256_blendv_pd(x, folded, high);
    return shard_log1p_core_pd(f, _mm256_and_pd(high, _mm256_set1_pd(1.0)));
}

/// log(x) for 8 positive normal finite floats minus `k_offset` ln2, the float form of
/// shard_log_normal_pd (R with 4 Taylor terms: truncation < 3e-9 relative).
SHARD_AVX2_INLINE __m256 shard_log_normal_ps(__m256 x, const int subtract_offset, __m256 k_offset) {
    const __m256i bits = _mm256_castps_si256(x);
    __m256 k = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127)));
    if (subtract_offset) k = _mm256_sub_ps(k, k_offset);
    __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                                                   _mm256_set1_epi32(0x3f800000)));
    const __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
    m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
    k = _mm256_add_ps(k, _mm256_and_ps(big, _mm256_set1_ps(1.0f)));
    return shard_log_core_ps(_mm256_sub_ps(m, _mm256_set1_ps(1.0f)), k);
}

/// log(x) for 8 floats (subnormal x scaled by 2^24). 0 gives -inf, +inf gives +inf, x < 0 and NaN give NaN.
SHARD_AVX2_INLINE __m256 shard_log_ps(__m256 x) {
    const __m256 subnormal = _mm256_cmp_ps(x, _mm256_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
    const __m256 scaled = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(16777216.0f)), subnormal);
    __m256 result = shard_log_normal_ps(scaled, 1, _mm256_and_ps(subnormal, _mm256_set1_ps(24.0f)));
    result = _mm256_blendv_ps(result, _mm256_set1_ps(-__builtin_inff()), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_EQ_OQ));
    result = _mm256_blendv_ps(result, x, _mm256_cmp_ps(x, _mm256_set1_ps(__builtin_inff()), _CMP_EQ_OQ));
    return _mm256_blendv_ps(result, _mm256_set1_ps(__builtin_nanf("")), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NGE_UQ));
}

/// shard_log_ps for 0 < x <= 1, the same values without the special-value blends when every lane is normal.
SHARD_AVX2_INLINE __m256 shard_log_unit_ps(__m256 x) {
    if (_mm256_movemask_ps(_mm256_cmp_ps(x, _mm256_set1_ps(1.17549435e-38f), _CMP_NGE_UQ)) != 0) return shard_log_ps(x);
    return shard_log_normal_ps(x, 0, _mm256_setzero_ps());
}

#endif
