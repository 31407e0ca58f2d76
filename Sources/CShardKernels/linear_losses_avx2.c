// AVX2+FMA block sums of the linear models hinge, pinball (Q levels) and focal logistic (softmax has its own
// kernel, softmax_avx2.c, which also computes pinball on CPUs with AVX-512); the math and the layout of `out` are
// in CShardKernels.h.
//
// The block is walked in tiles of T rows (tile_rows: about 8 KiB of features, a multiple of 8, at most 64).
//
// float32 (linear_pass_f32), everything in float lanes, 8 rows per vector:
//   1. scores, output by output for groups of 8 rows (dot8_f32: one accumulator per row over 8-column
//      chunks, a tail of D mod 8 columns read as each row's last 8 columns with zero weights on the
//      columns already taken when D > 8, a horizontal-add tree) + b_q, into a float tile buffer;
//   2. loss and slopes ∂loss/∂s_q per group (lanes past the tile's last row zeroed); the loss and
//      Σ_i slope_iq are summed in float lanes over the tile, then added to 4 double lanes each;
//   3. Σ_i slope_iq x_i over the tile: column groups of up to 32 columns, Q = 1 with even and odd rows in
//      separate accumulators (tile_gradient_f32), else up to 4 outputs per sweep with each x chunk loaded
//      once per row (tile_gradient_outputs_f32); tile sums are added to the block's sums in double.
// float64 (linear_pass_f64):
//   1. scores, output by output for groups of 4 rows, one accumulator per row over column chunks (masked
//      tail), a horizontal-add tree gives lane k = Σ_j x_(g+k)j W_jq, + b_q;
//   2. loss and slopes ∂loss/∂s_q for 4 rows per vector (the vector exp/log of simd_math_f64.h); lanes past
//      the tile's last row are zeroed. The loss and Σ_i slope_iq (the bias sums) are summed in 4 double lanes
//      over the block (lane k: rows 4g + k);
//   3. Σ_i slope_iq x_i over the tile: up to 4 outputs per sweep over column groups of up to 16 columns, each
//      x chunk loaded once per row (tile_gradient_outputs_f64); tile sums are added to the block's gradient
//      sums.
// Labels outside the loss's domain are collected in a mask and located after the block. Features are
// prefetched ahead in two steps (simd_tile.h). The summation order depends only on (rows, cols, Q).
#if defined(__x86_64__) || defined(__i386__)

#include "CShardKernels.h"
#include "kernels_internal.h"
#include "simd_math_f64.h"
#include "simd_tile.h"

#include <math.h>
#include <stdlib.h>

#pragma STDC FP_CONTRACT OFF

/// The loss's scalar constants, broadcast where used.
typedef struct {
    size_t outputs;
    double smoothing, half_smoothing, twice_smoothing, share;
    const double *levels;
    /// Smoothed pinball, per level: τμ, −(1 − τ)μ, τ·τμ/2, (1 − τ)·(−(1 − τ)μ)/2.
    double *upper, *lower, *upper_offset, *lower_offset;
    /// Focal: the class weights [c_0, c_1] (1 when absent).
    double class_weight[2];
    double gamma, weight_positive, weight_negative;
} linear_constants;

SHARD_AVX2_INLINE __m256d negate_pd(__m256d x) { return _mm256_xor_pd(x, _mm256_set1_pd(-0.0)); }

/// A label that lies in every loss's domain, for the lanes past a tile's last row.
static double padding_label(int kind) { return kind == SHARDTRAIN_LINEAR_HINGE ? 1.0 : 0.0; }

/// Whether `y` is outside the loss's label domain (the scalar form of the vector checks below).
static int invalid_label(int kind, double y) {
    switch (kind) {
    case SHARDTRAIN_LINEAR_HINGE: return fabs(y) != 1.0;
    case SHARDTRAIN_LINEAR_PINBALL: return !isfinite(y);
    default: return y * (1 - y) != 0;
    }
}

/// Lanes of `y` outside the loss's label domain (the vector form of invalid_label), for double (pd) and float (ps)
/// lanes: hinge |y| != 1, pinball not finite (y − y != 0), focal y (1 − y) != 0.
#define DEFINE_INVALID_LABELS(NAME, VECTOR, SUFFIX)                                                                    \
    SHARD_AVX2_INLINE VECTOR NAME(const int kind, VECTOR y) {                                                         \
        const VECTOR zero = _mm256_setzero_##SUFFIX(), one = _mm256_set1_##SUFFIX(1.0);                                \
        switch (kind) {                                                                                                \
        case SHARDTRAIN_LINEAR_HINGE:                                                                                  \
            return _mm256_cmp_##SUFFIX(_mm256_andnot_##SUFFIX(_mm256_set1_##SUFFIX(-0.0), y), one, _CMP_NEQ_UQ);      \
        case SHARDTRAIN_LINEAR_PINBALL: return _mm256_cmp_##SUFFIX(_mm256_sub_##SUFFIX(y, y), zero, _CMP_NEQ_UQ);      \
        default: return _mm256_cmp_##SUFFIX(_mm256_mul_##SUFFIX(y, _mm256_sub_##SUFFIX(one, y)), zero, _CMP_NEQ_UQ);   \
        }                                                                                                              \
    }
DEFINE_INVALID_LABELS(invalid_labels_pd, __m256d, pd)
DEFINE_INVALID_LABELS(invalid_labels_ps, __m256, ps)

/// Hinge on 4 rows: m = 1 − y s; exact: (max(m, 0), m > 0 ? −y : 0); smoothed (μ > 0):
/// m <= 0: (0, 0);  m >= μ: (m − μ/2, −y);  else (m²/(2μ), (−y) m / μ).
SHARD_AVX2_INLINE __m256d hinge_pd(const int smoothed, const linear_constants *c, __m256d y, __m256d s, __m256d *slope) {
    const __m256d zero = _mm256_setzero_pd();
    const __m256d m = _mm256_sub_pd(_mm256_set1_pd(1.0), _mm256_mul_pd(y, s));
    const __m256d active = _mm256_cmp_pd(m, zero, _CMP_GT_OQ);
    const __m256d minus_y = negate_pd(y);
    if (!smoothed) {
        *slope = _mm256_and_pd(active, minus_y);
        return _mm256_and_pd(active, m);
    }
    const __m256d mu = _mm256_set1_pd(c->smoothing);
    const __m256d linear = _mm256_cmp_pd(m, mu, _CMP_GE_OQ);
    const __m256d loss = _mm256_blendv_pd(_mm256_div_pd(_mm256_mul_pd(m, m), _mm256_set1_pd(c->twice_smoothing)),
                                          _mm256_sub_pd(m, _mm256_set1_pd(c->half_smoothing)), linear);
    *slope = _mm256_and_pd(active, _mm256_blendv_pd(_mm256_div_pd(_mm256_mul_pd(minus_y, m), mu), minus_y, linear));
    return _mm256_and_pd(active, loss);
}

/// Pinball at level q on 4 rows, e = y − s. Exact: with b = [e < 0], a = [e > 0]:
/// (e (τ − b), b − τ (a + b)). Smoothed: e >= τμ: (τ e − τ·τμ/2, −τ); e <= −(1 − τ)μ:
/// ((τ − 1) e + (1 − τ)·(−(1 − τ)μ)/2, 1 − τ); else (e²/(2μ), −e/μ).
SHARD_AVX2_INLINE __m256d pinball_pd(const int smoothed, const linear_constants *c, size_t q, __m256d y, __m256d s,
                                     __m256d *slope) {
    const __m256d zero = _mm256_setzero_pd(), one = _mm256_set1_pd(1.0);
    const __m256d tau = _mm256_set1_pd(c->levels[q]);
    const __m256d e = _mm256_sub_pd(y, s);
    if (!smoothed) {
        const __m256d below = _mm256_and_pd(_mm256_cmp_pd(e, zero, _CMP_LT_OQ), one);
        const __m256d above = _mm256_and_pd(_mm256_cmp_pd(e, zero, _CMP_GT_OQ), one);
        *slope = _mm256_sub_pd(below, _mm256_mul_pd(tau, _mm256_add_pd(above, below)));
        return _mm256_mul_pd(e, _mm256_sub_pd(tau, below));
    }
    const __m256d upper = _mm256_cmp_pd(e, _mm256_set1_pd(c->upper[q]), _CMP_GE_OQ);
    const __m256d lower = _mm256_cmp_pd(e, _mm256_set1_pd(c->lower[q]), _CMP_LE_OQ);
    const __m256d complement = _mm256_sub_pd(one, tau);
    __m256d loss = _mm256_div_pd(_mm256_mul_pd(e, e), _mm256_set1_pd(c->twice_smoothing));
    loss = _mm256_blendv_pd(loss, _mm256_sub_pd(_mm256_mul_pd(tau, e), _mm256_set1_pd(c->upper_offset[q])), upper);
    loss = _mm256_blendv_pd(loss, _mm256_add_pd(_mm256_mul_pd(_mm256_sub_pd(tau, one), e),
                                                _mm256_set1_pd(c->lower_offset[q])), lower);
    __m256d d = _mm256_div_pd(negate_pd(e), _mm256_set1_pd(c->smoothing));
    d = _mm256_blendv_pd(d, negate_pd(tau), upper);
    *slope = _mm256_blendv_pd(d, complement, lower);
    return loss;
}

/// (q^γ) for γ in {0, 1, 2} (`gamma_code` a compile-time constant).
SHARD_AVX2_INLINE __m256d focus_pd(const int gamma_code, __m256d miss) {
    switch (gamma_code) {
    case 2: return _mm256_mul_pd(miss, miss);
    case 1: return miss;
    default: return _mm256_set1_pd(1.0);
    }
}

/// Focal loss from logits on 4 rows (the formulas of FocalLossWithLogits / CShardKernels.h), times the
/// class weight c_y:
///     e = exp(−|z|), ce = max(z, 0) − y z + log1p(e), large = 1/(1 + e), small = e · large
///     p_t, q = sigmoid(±z) from large/small, w = α_t
///     loss = c_y ((w q^γ) ce),  slope = c_y (∓(w q^γ) (γ p_t ce + q))   (minus for y = 1)
SHARD_AVX2_INLINE __m256d focal_pd(const int gamma_code, const linear_constants *c, __m256d y, __m256d z,
                                   __m256d *slope) {
    const __m256d one = _mm256_set1_pd(1.0), zero = _mm256_setzero_pd();
    const __m256d decay = shard_exp_nonpositive_pd(_mm256_or_pd(z, _mm256_set1_pd(-0.0)));
    const __m256d cross_entropy = _mm256_add_pd(_mm256_sub_pd(_mm256_max_pd(z, zero), _mm256_mul_pd(y, z)),
                                                shard_log1p_unit_pd(decay));
    const __m256d large = _mm256_div_pd(one, _mm256_add_pd(one, decay));
    const __m256d small = _mm256_mul_pd(decay, large);
    const __m256d positive = _mm256_cmp_pd(y, one, _CMP_EQ_OQ);
    const __m256d signed_nonnegative = _mm256_xor_pd(positive, _mm256_cmp_pd(z, zero, _CMP_LT_OQ));
    const __m256d true_class = _mm256_blendv_pd(small, large, signed_nonnegative);
    const __m256d miss = _mm256_blendv_pd(large, small, signed_nonnegative);
    const __m256d signed_weight = _mm256_blendv_pd(_mm256_set1_pd(c->weight_negative),
                                                   _mm256_set1_pd(-c->weight_positive), positive);
    const __m256d signed_weighted_focus = _mm256_mul_pd(signed_weight, focus_pd(gamma_code, miss));
    const __m256d loss = _mm256_mul_pd(_mm256_andnot_pd(_mm256_set1_pd(-0.0), signed_weighted_focus), cross_entropy);
    const __m256d derivative = _mm256_mul_pd(
        signed_weighted_focus,
        _mm256_add_pd(_mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(c->gamma), true_class), cross_entropy), miss));
    const __m256d class_weight =
        _mm256_blendv_pd(_mm256_set1_pd(c->class_weight[0]), _mm256_set1_pd(c->class_weight[1]), positive);
    *slope = _mm256_mul_pd(class_weight, derivative);
    return _mm256_mul_pd(class_weight, loss);
}

/// focal_pd in float lanes for 8 rows (float32 storage): the same formulas with the float exp and log1p
/// of simd_math.h (relative error a few 1e-7) and γ, α_t and c_y rounded to float.
SHARD_AVX2_INLINE __m256 focal_ps(const int gamma_code, const linear_constants *c, __m256 y, __m256 z, __m256 *slope) {
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    const __m256 decay = shard_exp_nonpositive_ps(_mm256_or_ps(z, _mm256_set1_ps(-0.0f)));
    const __m256 cross_entropy = _mm256_add_ps(_mm256_sub_ps(_mm256_max_ps(z, zero), _mm256_mul_ps(y, z)),
                                               shard_log1p_unit_ps(decay));
    const __m256 large = _mm256_div_ps(one, _mm256_add_ps(one, decay));
    const __m256 small = _mm256_mul_ps(decay, large);
    const __m256 positive = _mm256_cmp_ps(y, one, _CMP_EQ_OQ);
    const __m256 signed_nonnegative = _mm256_xor_ps(positive, _mm256_cmp_ps(z, zero, _CMP_LT_OQ));
    const __m256 true_class = _mm256_blendv_ps(small, large, signed_nonnegative);
    const __m256 miss = _mm256_blendv_ps(large, small, signed_nonnegative);
    const __m256 signed_weight = _mm256_blendv_ps(_mm256_set1_ps((float)c->weight_negative),
                                                  _mm256_set1_ps(-(float)c->weight_positive), positive);
    __m256 focus = _mm256_set1_ps(1.0f);
    if (gamma_code == 2) focus = _mm256_mul_ps(miss, miss);
    if (gamma_code == 1) focus = miss;
    const __m256 signed_weighted_focus = _mm256_mul_ps(signed_weight, focus);
    const __m256 loss = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), signed_weighted_focus), cross_entropy);
    const __m256 derivative = _mm256_mul_ps(
        signed_weighted_focus,
        _mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps((float)c->gamma), true_class), cross_entropy), miss));
    const __m256 class_weight = _mm256_blendv_ps(_mm256_set1_ps((float)c->class_weight[0]),
                                                 _mm256_set1_ps((float)c->class_weight[1]), positive);
    *slope = _mm256_mul_ps(class_weight, derivative);
    return _mm256_mul_ps(class_weight, loss);
}

/// The 8 doubles at p as floats.
/// GROUP(NQ, CHUNKS) with compile-time constants for the runtime nq and chunks, each in 1…4.
#define SHARD_SWITCH_GROUP(nq, chunks, GROUP)                                                                         \
    switch ((nq) * 4 + (chunks) - 5) {                                                                                 \
    case 0: GROUP(1, 1); break;                                                                                        \
    case 1: GROUP(1, 2); break;                                                                                        \
    case 2: GROUP(1, 3); break;                                                                                        \
    case 3: GROUP(1, 4); break;                                                                                        \
    case 4: GROUP(2, 1); break;                                                                                        \
    case 5: GROUP(2, 2); break;                                                                                        \
    case 6: GROUP(2, 3); break;                                                                                        \
    case 7: GROUP(2, 4); break;                                                                                        \
    case 8: GROUP(3, 1); break;                                                                                        \
    case 9: GROUP(3, 2); break;                                                                                        \
    case 10: GROUP(3, 3); break;                                                                                       \
    case 11: GROUP(3, 4); break;                                                                                       \
    case 12: GROUP(4, 1); break;                                                                                       \
    case 13: GROUP(4, 2); break;                                                                                       \
    case 14: GROUP(4, 3); break;                                                                                       \
    default: GROUP(4, 4); break;                                                                                       \
    }

/// gradient[k·cols + j] += Σ_i slopes[k·stride + i] x_ij for NQ outputs k and the CHUNKS 4-column chunks of
/// one column group at `p` (row stride `cols`, the last chunk loaded and stored with `last_mask`), over
/// `count` rows: rows in order, each x chunk loaded once per row for the NQ outputs; NQ = 1: even and odd
/// rows in separate accumulators, added at the end.
SHARD_AVX2_INLINE void tile_gradient_group_f64(const int NQ, const int CHUNKS, const double *p, size_t cols,
                                               const double *slopes, size_t stride, size_t count, __m256i last_mask,
                                               double *gradient) {
    const __m256i all = _mm256_set1_epi64x(-1);
    __m256d even[4][4], odd[4];
    for (int m = 0; m < CHUNKS; m++) {
        odd[m] = _mm256_setzero_pd();
        for (int k = 0; k < NQ; k++) even[k][m] = odd[m];
    }
    size_t i = 0;
    if (NQ == 1) {
        for (; i + 2 <= count; i += 2, p += 2 * cols) {
            const __m256d r0 = _mm256_broadcast_sd(slopes + i), r1 = _mm256_broadcast_sd(slopes + i + 1);
            for (int m = 0; m < CHUNKS; m++) {
                const __m256i mask = m == CHUNKS - 1 ? last_mask : all;
                even[0][m] = _mm256_fmadd_pd(r0, _mm256_maskload_pd(p + 4 * m, mask), even[0][m]);
                odd[m] = _mm256_fmadd_pd(r1, _mm256_maskload_pd(p + cols + 4 * m, mask), odd[m]);
            }
        }
    }
    for (; i < count; i++, p += cols) {
        __m256d xv[4];
        for (int m = 0; m < CHUNKS; m++) xv[m] = _mm256_maskload_pd(p + 4 * m, m == CHUNKS - 1 ? last_mask : all);
        for (int k = 0; k < NQ; k++) {
            const __m256d r = _mm256_broadcast_sd(slopes + k * stride + i);
            for (int m = 0; m < CHUNKS; m++) even[k][m] = _mm256_fmadd_pd(r, xv[m], even[k][m]);
        }
    }
    for (int k = 0; k < NQ; k++) {
        for (int m = 0; m < CHUNKS; m++) {
            const __m256i mask = m == CHUNKS - 1 ? last_mask : all;
            const __m256d sum = NQ == 1 ? _mm256_add_pd(even[k][m], odd[m]) : even[k][m];
            double *grad = gradient + k * cols + 4 * m;
            _mm256_maskstore_pd(grad, mask, _mm256_add_pd(_mm256_maskload_pd(grad, mask), sum));
        }
    }
}

/// gradient[q·cols + j] += Σ_i slopes[q·stride + i] x_ij over a double tile for every output: up to 4 outputs
/// per sweep, each over column groups of 4 chunks (1 or 2 outputs), 3 (3 outputs) or 2 (4 outputs) with
/// tile_gradient_group_f64. The order depends only on (count, cols, Q).
static SHARD_AVX2 void tile_gradient_outputs_f64(const double *x, size_t cols, size_t outputs, const double *slopes,
                                                 size_t stride, size_t count, __m256i col_tail_mask, double *gradient) {
    for (size_t q = 0; q < outputs; q += 4) {
        const int nq = (int)(outputs - q < 4 ? outputs - q : 4);
        const size_t group_cols = nq <= 2 ? 16 : nq == 3 ? 12 : 8;
        for (size_t j = 0; j < cols; j += group_cols) {
            const size_t width = cols - j < group_cols ? cols - j : group_cols;
            const int chunks = (int)((width + 3) / 4);
            const __m256i last_mask = width % 4 ? col_tail_mask : _mm256_set1_epi64x(-1);
            const double *p = x + j;
            const double *r = slopes + q * stride;
            double *grad = gradient + q * cols + j;
#define SHARD_GROUP(NQ, CH) tile_gradient_group_f64(NQ, CH, p, cols, r, stride, count, last_mask, grad)
            SHARD_SWITCH_GROUP(nq, chunks, SHARD_GROUP);
#undef SHARD_GROUP
        }
    }
}

/// The end of a block: returns the first row whose label is invalid when `any_invalid` (else `rows`), and
/// writes `out` from the loss, the gradient sums (Q x D, output-major) and the bias lanes (Q x 4 doubles).
static SHARD_AVX2 size_t finish_block(int kind, int single, const void *y, size_t rows, int any_invalid, size_t cols,
                                      size_t outputs, double loss, const double *gradient, const double *bias_lanes,
                                      double *out) {
    size_t result = rows;
    for (size_t i = 0; any_invalid && i < rows; i++) {
        if (invalid_label(kind, single ? (double)((const float *)y)[i] : ((const double *)y)[i])) {
            result = i;
            break;
        }
    }
    out[0] = loss;
    for (size_t d = 0; d < cols; d++) {
        for (size_t q = 0; q < outputs; q++) out[1 + d * outputs + q] = gradient[q * cols + d];
    }
    for (size_t q = 0; q < outputs; q++) out[1 + cols * outputs + q] = sum4_pd(_mm256_loadu_pd(bias_lanes + 4 * q));
    return result;
}

/// hinge_pd in float lanes for 8 rows (μ, μ/2 and 2μ rounded to float).
SHARD_AVX2_INLINE __m256 hinge_ps(const int smoothed, const linear_constants *c, __m256 y, __m256 s, __m256 *slope) {
    const __m256 zero = _mm256_setzero_ps();
    const __m256 m = _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_mul_ps(y, s));
    const __m256 active = _mm256_cmp_ps(m, zero, _CMP_GT_OQ);
    const __m256 minus_y = _mm256_xor_ps(y, _mm256_set1_ps(-0.0f));
    if (!smoothed) {
        *slope = _mm256_and_ps(active, minus_y);
        return _mm256_and_ps(active, m);
    }
    const __m256 mu = _mm256_set1_ps((float)c->smoothing);
    const __m256 linear = _mm256_cmp_ps(m, mu, _CMP_GE_OQ);
    const __m256 loss = _mm256_blendv_ps(_mm256_div_ps(_mm256_mul_ps(m, m), _mm256_set1_ps((float)c->twice_smoothing)),
                                         _mm256_sub_ps(m, _mm256_set1_ps((float)c->half_smoothing)), linear);
    *slope = _mm256_and_ps(active, _mm256_blendv_ps(_mm256_div_ps(_mm256_mul_ps(minus_y, m), mu), minus_y, linear));
    return _mm256_and_ps(active, loss);
}

/// pinball_pd in float lanes for 8 rows; `level` holds level q's constants rounded to float:
/// τ, τμ, −(1 − τ)μ, τ·τμ/2, (1 − τ)·(−(1 − τ)μ)/2 (the last four used when smoothed).
SHARD_AVX2_INLINE __m256 pinball_ps(const int smoothed, const linear_constants *c, const float *level, __m256 y,
                                    __m256 s, __m256 *slope) {
    const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
    const __m256 tau = _mm256_broadcast_ss(level);
    const __m256 e = _mm256_sub_ps(y, s);
    if (!smoothed) {
        const __m256 below = _mm256_and_ps(_mm256_cmp_ps(e, zero, _CMP_LT_OQ), one);
        const __m256 above = _mm256_and_ps(_mm256_cmp_ps(e, zero, _CMP_GT_OQ), one);
        *slope = _mm256_sub_ps(below, _mm256_mul_ps(tau, _mm256_add_ps(above, below)));
        return _mm256_mul_ps(e, _mm256_sub_ps(tau, below));
    }
    const __m256 upper = _mm256_cmp_ps(e, _mm256_broadcast_ss(level + 1), _CMP_GE_OQ);
    const __m256 lower = _mm256_cmp_ps(e, _mm256_broadcast_ss(level + 2), _CMP_LE_OQ);
    __m256 loss = _mm256_div_ps(_mm256_mul_ps(e, e), _mm256_set1_ps((float)c->twice_smoothing));
    loss = _mm256_blendv_ps(loss, _mm256_sub_ps(_mm256_mul_ps(tau, e), _mm256_broadcast_ss(level + 3)), upper);
    loss = _mm256_blendv_ps(loss, _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(tau, one), e), _mm256_broadcast_ss(level + 4)),
                            lower);
    __m256 d = _mm256_div_ps(_mm256_xor_ps(e, _mm256_set1_ps(-0.0f)), _mm256_set1_ps((float)c->smoothing));
    d = _mm256_blendv_ps(d, _mm256_xor_ps(tau, _mm256_set1_ps(-0.0f)), upper);
    *slope = _mm256_blendv_ps(d, _mm256_sub_ps(one, tau), lower);
    return loss;
}

/// grad[k·cols + j] += Σ_i slopes[k·stride + i] x_i[c0 + j] for NQ outputs k and the CHUNKS 8-column chunks
/// of one column group (the last chunk loaded with `last_mask`) over `count` rows from `p` (row stride
/// `cols`): each x chunk is loaded once per row for the NQ outputs; one float accumulator per (output,
/// chunk), rows in order; added to `grad` in double.
SHARD_AVX2_INLINE void tile_gradient_group_f32(const int NQ, const int CHUNKS, const float *p, size_t cols,
                                               const float *slopes, size_t stride, size_t count, __m256i last_mask,
                                               double *grad, size_t width) {
    __m256 acc[4][4];
    for (int k = 0; k < NQ; k++) {
        for (int m = 0; m < CHUNKS; m++) acc[k][m] = _mm256_setzero_ps();
    }
    for (size_t i = 0; i < count; i++, p += cols) {
        __m256 xv[4];
        for (int m = 0; m < CHUNKS - 1; m++) xv[m] = _mm256_loadu_ps(p + 8 * m);
        xv[CHUNKS - 1] = _mm256_maskload_ps(p + 8 * (CHUNKS - 1), last_mask);
        for (int k = 0; k < NQ; k++) {
            const __m256 r = _mm256_broadcast_ss(slopes + k * stride + i);
            for (int m = 0; m < CHUNKS; m++) acc[k][m] = _mm256_fmadd_ps(r, xv[m], acc[k][m]);
        }
    }
    for (int k = 0; k < NQ; k++) {
        for (int m = 0; m < CHUNKS; m++) {
            const size_t lanes = width - 8 * (size_t)m < 8 ? width - 8 * (size_t)m : 8;
            add_to_double_ps(grad + k * cols + 8 * m, acc[k][m], lanes);
        }
    }
}

/// gradient[q·cols + j] += Σ_i slopes[q·stride + i] x_ij over a float tile for every output: column groups
/// of up to 32 columns; one output at a time with tile_gradient_chunks (even and odd rows apart) when
/// Q = 1, else up to 12 / chunks outputs (at most 4) per sweep with tile_gradient_group_f32. The order
/// depends only on (count, cols, Q).
static SHARD_AVX2 void tile_gradient_outputs_f32(const float *x, size_t cols, size_t outputs, const float *slopes,
                                                 size_t stride, size_t count, __m256i col_tail_mask, double *gradient) {
    if (outputs == 1) {
        tile_gradient_f32(x, cols, slopes, count, col_tail_mask, gradient);
        return;
    }
    for (size_t j = 0; j < cols; j += 32) {
        const size_t width = cols - j < 32 ? cols - j : 32;
        const int chunks = (int)((width + 7) / 8);
        const __m256i last_mask = width % 8 ? col_tail_mask : _mm256_set1_epi32(-1);
        const size_t per_sweep = chunks == 4 ? 2 : chunks == 3 ? 3 : 4;
        for (size_t q = 0; q < outputs; q += per_sweep) {
            const int nq = (int)(outputs - q < per_sweep ? outputs - q : per_sweep);
            const float *p = x + j;
            const float *r = slopes + q * stride;
            double *grad = gradient + q * cols + j;
#define SHARD_GROUP(NQ, CH) tile_gradient_group_f32(NQ, CH, p, cols, r, stride, count, last_mask, grad, width)
            SHARD_SWITCH_GROUP(nq, chunks, SHARD_GROUP);
#undef SHARD_GROUP
        }
    }
}

/// linear_pass for float32 storage and the hinge, pinball and focal losses, all in float lanes, 8 rows per
/// vector: per tile, 8-row groups give the Q scores (dot8_f32 + b_q rounded to float), the loss and
/// the slopes (masked past the tile's last row; pinball: × 1/Q), which go to a float tile buffer; the loss
/// and Σ_i slope_iq are summed in float lanes over the tile and then added to 4 double lanes each; then
/// tile_gradient_outputs_f32. Returns as linear_pass.
SHARD_AVX2_INLINE size_t linear_pass_f32(const int kind, const int smoothed, const int gamma_code,
                                         const linear_constants *c, const float *x, const float *y, size_t rows,
                                         size_t cols, const double *theta, double *out) {
    const size_t outputs = c->outputs;
    const size_t tile = tile_rows(cols, sizeof(float));
    const size_t padded_cols = (cols + 7) & ~(size_t)7;
    // Scratch: gradient sums (Q x D doubles), bias lanes (Q x 4 doubles), per output its weights (padded D
    // floats, zero past D) and tail weights (8 floats, the overlap_tail of dot8_f32), the tile's scores and
    // slopes (Q x tile floats each), bias sums (Q x 8 floats), b (Q floats), pinball constants (Q x 5 floats),
    // a partial last group of rows (8 x D floats).
    const size_t weight_stride = padded_cols + 8;
    const size_t bytes = (outputs * cols + 4 * outputs) * sizeof(double) +
                         (outputs * weight_stride + 2 * outputs * tile + 14 * outputs + 8 * cols) * sizeof(float);
    double *gradient = aligned_alloc(32, ((bytes + 31) / 32) * 32);
    if (!gradient) return SHARDTRAIN_UNSUPPORTED;
    double *bias_lanes = gradient + outputs * cols;
    float *weights = (float *)(bias_lanes + 4 * outputs);
    float *slopes = weights + outputs * weight_stride;
    float *scores = slopes + outputs * tile;
    float *tile_bias = scores + outputs * tile;
    float *biases = tile_bias + 8 * outputs;
    float *levels = biases + outputs;
    float *partial = levels + 5 * outputs;
    const int overlap = cols > 8 && cols % 8 != 0;
    for (size_t q = 0; q < outputs; q++) {
        biases[q] = (float)theta[cols * outputs + q];
        float *w = weights + q * weight_stride;
        for (size_t d = 0; d < padded_cols; d++) w[d] = d < cols ? (float)theta[d * outputs + q] : 0.0f;
        for (size_t k = 0; k < 8; k++) w[padded_cols + k] = overlap && cols - 8 + k >= (cols & ~(size_t)7) ? w[cols - 8 + k] : 0.0f;
        if (kind == SHARDTRAIN_LINEAR_PINBALL) {
            levels[5 * q] = (float)c->levels[q];
            if (smoothed) {
                levels[5 * q + 1] = (float)c->upper[q];
                levels[5 * q + 2] = (float)c->lower[q];
                levels[5 * q + 3] = (float)c->upper_offset[q];
                levels[5 * q + 4] = (float)c->lower_offset[q];
            }
        }
    }
    for (size_t k = 0; k < outputs * cols + 4 * outputs; k++) gradient[k] = 0.0;
    const __m256i col_tail_mask = tail_mask_epi32(cols % 8);
    const size_t feature_bytes = rows * cols * sizeof(float);
    const __m256 share = _mm256_set1_ps((float)c->share);
    const __m256 padding = _mm256_set1_ps((float)padding_label(kind));
    __m256d loss_sum = _mm256_setzero_pd();
    __m256 invalid = _mm256_setzero_ps();
    size_t prefetched = 0;

    for (size_t start = 0; start < rows; start += tile) {
        const size_t count = rows - start < tile ? rows - start : tile;
        const float *tile_x = x + start * cols;
        // Prefetch targets: PREFETCH_NEAR_BYTES ahead of this tile, plus half of its bytes in each of the
        // score and loss loops, a little per group (not all at once: the memory requests keep flowing).
        const size_t ahead = start * cols * sizeof(float) + PREFETCH_NEAR_BYTES;
        const size_t tile_bytes = count * cols * sizeof(float);
        shard_prefetch_labels(y, start, tile, rows, sizeof(float));
        __m256 tile_loss = _mm256_setzero_ps();
        for (size_t q = 0; q < outputs; q++) _mm256_storeu_ps(tile_bias + 8 * q, _mm256_setzero_ps());
        // Scores first (independent groups), then the losses: the two loops overlap better than one.
        for (size_t g = 0; g < count; g += 8) {
            const size_t valid = count - g < 8 ? count - g : 8;
            const float *base = tile_x + g * cols;
            if (valid < 8) {
                // The block's last rows, then zero rows (their lanes are masked below).
                for (size_t k = 0; k < 8 * cols; k++) partial[k] = k < valid * cols ? base[k] : 0.0f;
                base = partial;
            }
            prefetch_until(x, &prefetched, ahead + (g + valid) * tile_bytes / (2 * count), feature_bytes);
            for (size_t q = 0; q < outputs; q++) {
                const float *w = weights + q * weight_stride;
                const __m256 z = dot8_f32(NULL, base, w, NULL, cols, col_tail_mask, overlap ? w + padded_cols : NULL);
                _mm256_storeu_ps(scores + q * tile + g, _mm256_add_ps(z, _mm256_broadcast_ss(biases + q)));
            }
        }
        for (size_t g = 0; g < count; g += 8) {
            const size_t valid = count - g < 8 ? count - g : 8;
            prefetch_until(x, &prefetched, ahead + tile_bytes / 2 + (g + valid) * tile_bytes / (2 * count), feature_bytes);
            const __m256i row_mask = tail_mask_epi32(valid);
            const __m256 lane_mask = _mm256_castsi256_ps(row_mask);
            const __m256 labels = valid == 8 ? _mm256_loadu_ps(y + start + g)
                                             : _mm256_blendv_ps(padding, _mm256_maskload_ps(y + start + g, row_mask), lane_mask);
            invalid = _mm256_or_ps(invalid, invalid_labels_ps(kind, labels));
            __m256 loss = _mm256_setzero_ps();
            for (size_t q = 0; q < outputs; q++) {
                const __m256 s = _mm256_loadu_ps(scores + q * tile + g);
                __m256 slope;
                switch (kind) {
                case SHARDTRAIN_LINEAR_HINGE: loss = hinge_ps(smoothed, c, labels, s, &slope); break;
                case SHARDTRAIN_LINEAR_PINBALL: {
                    // (1/Q) Σ_q ρ_q, levels in order; slopes ρ_q' / Q.
                    loss = _mm256_add_ps(loss, pinball_ps(smoothed, c, levels + 5 * q, labels, s, &slope));
                    slope = _mm256_mul_ps(slope, share);
                    break;
                }
                default: loss = focal_ps(gamma_code, c, labels, s, &slope); break;
                }
                slope = _mm256_and_ps(lane_mask, slope);
                _mm256_storeu_ps(slopes + q * tile + g, slope);
                _mm256_storeu_ps(tile_bias + 8 * q, _mm256_add_ps(_mm256_loadu_ps(tile_bias + 8 * q), slope));
            }
            if (kind == SHARDTRAIN_LINEAR_PINBALL) loss = _mm256_mul_ps(loss, share);
            tile_loss = _mm256_add_ps(tile_loss, _mm256_and_ps(lane_mask, loss));
        }
        loss_sum = _mm256_add_pd(loss_sum, widen_sum_pd(tile_loss));
        for (size_t q = 0; q < outputs; q++) {
            _mm256_storeu_pd(bias_lanes + 4 * q,
                             _mm256_add_pd(_mm256_loadu_pd(bias_lanes + 4 * q), widen_sum_pd(_mm256_loadu_ps(tile_bias + 8 * q))));
        }
        tile_gradient_outputs_f32(tile_x, cols, outputs, slopes, tile, count, col_tail_mask, gradient);
    }

    const size_t result = finish_block(kind, 1, y, rows, _mm256_movemask_ps(invalid), cols, outputs, sum4_pd(loss_sum),
                                       gradient, bias_lanes, out);
    free(gradient);
    return result;
}

/// Stores the 4 slopes at `slopes` and adds them to the 4 bias lanes at `lanes`.
SHARD_AVX2_INLINE void add_slopes_pd(double *slopes, double *lanes, __m256d slope) {
    _mm256_storeu_pd(slopes, slope);
    _mm256_storeu_pd(lanes, _mm256_add_pd(_mm256_loadu_pd(lanes), slope));
}

/// One float64 block: see the file comment; returns `rows`, the first row with an invalid label, or
/// SHARDTRAIN_UNSUPPORTED when the scratch memory cannot be allocated.
SHARD_AVX2_INLINE size_t linear_pass_f64(const int kind, const int smoothed, const int gamma_code,
                                         const linear_constants *c, const double *x, const double *y, size_t rows,
                                         size_t cols, const double *theta, double *out) {
    const size_t outputs = c->outputs;
    const size_t tile = tile_rows(cols, sizeof(double));
    // Scratch (doubles): labels (tile), W transposed (Q x D), gradient sums (Q x D), scores and slopes (Q x tile),
    // bias lanes (Q x 4).
    const size_t doubles = tile + 2 * outputs * cols + 2 * outputs * tile + 4 * outputs;
    double *scratch = aligned_alloc(32, ((doubles * sizeof(double) + 31) / 32) * 32);
    if (!scratch) return SHARDTRAIN_UNSUPPORTED;
    double *labels = scratch;
    double *weights = labels + tile;
    double *gradient = weights + outputs * cols;
    double *scores = gradient + outputs * cols;
    double *slopes = scores + outputs * tile;
    double *bias_lanes = slopes + outputs * tile;

    for (size_t q = 0; q < outputs; q++) {
        for (size_t d = 0; d < cols; d++) weights[q * cols + d] = theta[d * outputs + q];
    }
    for (size_t k = 0; k < outputs * cols; k++) gradient[k] = 0.0;
    const __m256d zero = _mm256_setzero_pd();
    for (size_t q = 0; q < outputs; q++) _mm256_storeu_pd(bias_lanes + 4 * q, zero);
    __m256d loss_sum = zero;
    __m256d invalid = zero;
    const __m256i col_tail_mask = tail_mask_epi64(cols % 4);
    const size_t feature_bytes = rows * cols * sizeof(double);
    size_t prefetched = 0;

    for (size_t start = 0; start < rows; start += tile) {
        const size_t count = rows - start < tile ? rows - start : tile;
        // Prefetch targets: PREFETCH_NEAR_BYTES ahead of this tile, plus a third of its bytes per finished step.
        const size_t ahead = start * cols * sizeof(double) + PREFETCH_NEAR_BYTES;
        const size_t tile_bytes = count * cols * sizeof(double);
        const double *tile_x = x + start * cols;
        shard_prefetch_labels(y, start, tile, rows, sizeof(double));
        size_t i = 0;
        for (; i + 4 <= count; i += 4) _mm256_storeu_pd(labels + i, _mm256_loadu_pd(y + start + i));
        for (; i < count; i++) labels[i] = y[start + i];
        for (; i < tile; i++) labels[i] = padding_label(kind);

        // 1. scores[q * tile + i] in groups of 4 rows.
        for (size_t g = 0; g < count; g += 4) {
            const size_t valid = count - g < 4 ? count - g : 4;
            const double *row[4];
            for (size_t k = 0; k < 4; k++) row[k] = tile_x + (g + (k < valid ? k : valid - 1)) * cols;
            prefetch_until(x, &prefetched, ahead + (g + valid) * tile_bytes / (3 * count), feature_bytes);
            for (size_t q = 0; q < outputs; q++) {
                const __m256d bias = _mm256_set1_pd(theta[cols * outputs + q]);
                const __m256d z = dot4_rows_f64(row, weights + q * cols, cols, col_tail_mask);
                _mm256_storeu_pd(scores + q * tile + g, _mm256_add_pd(z, bias));
            }
        }

        // 2. loss and slopes[q * tile + i] (masked past the tile's last row), added to the bias lanes.
        for (size_t g = 0; g < count; g += 4) {
            const size_t valid = count - g < 4 ? count - g : 4;
            prefetch_until(x, &prefetched, ahead + tile_bytes / 3 + (g + valid) * tile_bytes / (3 * count),
                           feature_bytes);
            const __m256d lane_mask = _mm256_castsi256_pd(tail_mask_epi64(valid));
            const __m256d label = _mm256_loadu_pd(labels + g);
            invalid = _mm256_or_pd(invalid, invalid_labels_pd(kind, label));
            __m256d loss;
            if (kind == SHARDTRAIN_LINEAR_PINBALL) {
                // (1/Q) Σ_q ρ_q, levels in order; slopes ρ_q' / Q.
                const __m256d share = _mm256_set1_pd(c->share);
                __m256d total = zero;
                for (size_t q = 0; q < outputs; q++) {
                    __m256d slope;
                    total = _mm256_add_pd(total, pinball_pd(smoothed, c, q, label, _mm256_loadu_pd(scores + q * tile + g), &slope));
                    add_slopes_pd(slopes + q * tile + g, bias_lanes + 4 * q, _mm256_and_pd(lane_mask, _mm256_mul_pd(slope, share)));
                }
                loss = _mm256_mul_pd(total, share);
            } else {
                __m256d slope;
                const __m256d s = _mm256_loadu_pd(scores + g);
                loss = kind == SHARDTRAIN_LINEAR_HINGE ? hinge_pd(smoothed, c, label, s, &slope)
                                                       : focal_pd(gamma_code, c, label, s, &slope);
                add_slopes_pd(slopes + g, bias_lanes, _mm256_and_pd(lane_mask, slope));
            }
            loss_sum = _mm256_add_pd(loss_sum, _mm256_and_pd(lane_mask, loss));
        }

        // 3. gradient[q * cols + j] += Σ_i slopes[q * tile + i] x_ij, up to 4 outputs per sweep.
        prefetch_until(x, &prefetched, ahead + tile_bytes, feature_bytes);
        tile_gradient_outputs_f64(tile_x, cols, outputs, slopes, tile, count, col_tail_mask, gradient);
    }

    const size_t result = finish_block(kind, 0, y, rows, _mm256_movemask_pd(invalid), cols, outputs,
                                       sum4_pd(loss_sum), gradient, bias_lanes, out);
    free(scratch);
    return result;
}

/// One block of either precision.
SHARD_AVX2_INLINE size_t linear_pass(const int single, const int kind, const int smoothed, const int gamma_code,
                                     const linear_constants *c, const void *x, const void *y, size_t rows,
                                     size_t cols, const double *theta, double *out) {
    return single ? linear_pass_f32(kind, smoothed, gamma_code, c, x, y, rows, cols, theta, out)
                  : linear_pass_f64(kind, smoothed, gamma_code, c, x, y, rows, cols, theta, out);
}

/// Dispatches to linear_pass with the loss kind, smoothing and γ as compile-time constants.
SHARD_AVX2_INLINE size_t linear_dispatch(const int single, const shardtrain_linear_params *params, const void *x,
                                         const void *y, size_t rows, size_t cols, const double *theta, double *out) {
    const size_t outputs = params->outputs;
    if (outputs == 0 || (params->kind != SHARDTRAIN_LINEAR_PINBALL && params->kind != SHARDTRAIN_LINEAR_SOFTMAX && outputs != 1)) {
        return SHARDTRAIN_UNSUPPORTED;
    }
    linear_constants c = {0};
    c.outputs = outputs;
    c.smoothing = params->smoothing;
    c.half_smoothing = params->smoothing / 2;
    c.twice_smoothing = 2 * params->smoothing;
    c.share = 1 / (double)outputs;
    c.levels = params->levels;
    c.class_weight[0] = params->class_weights ? params->class_weights[0] : 1.0;
    c.class_weight[1] = params->class_weights ? params->class_weights[1] : 1.0;
    c.gamma = params->gamma;
    c.weight_positive = params->weight_positive;
    c.weight_negative = params->weight_negative;
    const int smoothed = params->smoothing > 0;
    switch (params->kind) {
    case SHARDTRAIN_LINEAR_HINGE:
        return smoothed ? linear_pass(single, SHARDTRAIN_LINEAR_HINGE, 1, 0, &c, x, y, rows, cols, theta, out)
                        : linear_pass(single, SHARDTRAIN_LINEAR_HINGE, 0, 0, &c, x, y, rows, cols, theta, out);
    case SHARDTRAIN_LINEAR_PINBALL: {
        if (!params->levels) return SHARDTRAIN_UNSUPPORTED;
        if (params->vectors == SHARDTRAIN_VECTORS_WIDEST && shardtrain_kernels_have_avx512()) {
            // The multi-output pass of softmax_avx2.c, all in AVX-512.
            return single ? shardtrain_pinball_sums_f32_avx512(outputs, params->levels, params->smoothing, x, y, rows,
                                                               cols, theta, out)
                          : shardtrain_pinball_sums_f64_avx512(outputs, params->levels, params->smoothing, x, y, rows,
                                                               cols, theta, out);
        }
        if (!smoothed) return linear_pass(single, SHARDTRAIN_LINEAR_PINBALL, 0, 0, &c, x, y, rows, cols, theta, out);
        double *pieces = malloc(4 * outputs * sizeof(double));
        if (!pieces) return SHARDTRAIN_UNSUPPORTED;
        c.upper = pieces;
        c.lower = pieces + outputs;
        c.upper_offset = pieces + 2 * outputs;
        c.lower_offset = pieces + 3 * outputs;
        for (size_t q = 0; q < outputs; q++) {
            const double tau = params->levels[q], mu = params->smoothing;
            c.upper[q] = tau * mu;
            c.lower[q] = -(1 - tau) * mu;
            c.upper_offset[q] = tau * c.upper[q] / 2;
            c.lower_offset[q] = (1 - tau) * c.lower[q] / 2;
        }
        const size_t result = linear_pass(single, SHARDTRAIN_LINEAR_PINBALL, 1, 0, &c, x, y, rows, cols, theta, out);
        free(pieces);
        return result;
    }
    case SHARDTRAIN_LINEAR_SOFTMAX:
        if (outputs < 2) return SHARDTRAIN_UNSUPPORTED;
        if (params->vectors == SHARDTRAIN_VECTORS_WIDEST && shardtrain_kernels_have_avx512()) {
            return single ? shardtrain_softmax_sums_f32_avx512(outputs, params->class_weights, x, y, rows, cols, theta, out)
                          : shardtrain_softmax_sums_f64_avx512(outputs, params->class_weights, x, y, rows, cols, theta, out);
        }
        return single ? shardtrain_softmax_sums_f32_avx2(outputs, params->class_weights, x, y, rows, cols, theta, out)
                      : shardtrain_softmax_sums_f64_avx2(outputs, params->class_weights, x, y, rows, cols, theta, out);
    case SHARDTRAIN_LINEAR_FOCAL:
        if (params->gamma == 0.0) return linear_pass(single, SHARDTRAIN_LINEAR_FOCAL, 0, 0, &c, x, y, rows, cols, theta, out);
        if (params->gamma == 1.0) return linear_pass(single, SHARDTRAIN_LINEAR_FOCAL, 0, 1, &c, x, y, rows, cols, theta, out);
        if (params->gamma == 2.0) return linear_pass(single, SHARDTRAIN_LINEAR_FOCAL, 0, 2, &c, x, y, rows, cols, theta, out);
        return SHARDTRAIN_UNSUPPORTED;
    }
    return SHARDTRAIN_UNSUPPORTED;
}

SHARD_AVX2 size_t shardtrain_linear_sums_f32_avx2(const shardtrain_linear_params *params, const float *x, const float *y,
                                                  size_t rows, size_t cols, const double *parameters, double *out) {
    return linear_dispatch(1, params, x, y, rows, cols, parameters, out);
}

SHARD_AVX2 size_t shardtrain_linear_sums_f64_avx2(const shardtrain_linear_params *params, const double *x,
                                                  const double *y, size_t rows, size_t cols, const double *parameters,
                                                  double *out) {
    return linear_dispatch(0, params, x, y, rows, cols, parameters, out);
}

#endif
