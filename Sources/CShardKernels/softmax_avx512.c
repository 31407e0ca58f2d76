// AVX-512 (F, DQ, BW, VL) versions of the four stages of the softmax kernel, and the pinball loss's stages 2 and 3:
// softmax_avx2.c walks the tiles and calls these in place of its own stages on a CPU that has AVX-512 (its file
// comment has the math). Per tile: the scores (stage 1), the exponentials, log and slopes (stages 2 and 3, 16 float
// or 8 double rows per vector; for pinball its loss and slopes instead) and the gradient sweeps (stage 4). With
// 512-bit vectors a row needs about half the instructions: float32 scores take 4 columns of 4 classes per
// multiply-add (2 on AVX2), the gradient 16 columns of one class (8).
#if defined(__x86_64__) || defined(__i386__)

#include "kernels_internal.h"
#include "simd_math.h"
#include "simd_math_f64.h"

#include <immintrin.h>

#define SHARD_AVX512 __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))
#define SHARD_AVX512_INLINE static inline __attribute__((always_inline, target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")))

/// Sweeps of the gradient: at most this many column chunks (of 4 classes) per pass over a tile's rows.
#define WIDE_SWEEP_CHUNKS 3

// MARK: scores

/// The 8 row vectors a[r] (lane 4k + p: class k, the columns ≡ p mod 4) summed over p, (p0 + p2) + (p1 + p3) in
/// each lane, and rearranged so that lane r of the 256-bit half h of out[j] is row r's score of class 2j + h.
SHARD_AVX512_INLINE void class_vectors_8_ps(const __m512 a[8], __m512 out[2]) {
    __m512 pairs[4];
    // Per 128-bit lane k: [a_r (p0 + p2), a_r (p1 + p3), a_r+1 (p0 + p2), a_r+1 (p1 + p3)].
    for (int j = 0; j < 4; j++) {
        pairs[j] = _mm512_add_ps(_mm512_shuffle_ps(a[2 * j], a[2 * j + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                                 _mm512_shuffle_ps(a[2 * j], a[2 * j + 1], _MM_SHUFFLE(3, 2, 3, 2)));
    }
    // Per 128-bit lane k: rows 0…3 (low) and rows 4…7 (high) of class k.
    const __m512 low = _mm512_add_ps(_mm512_shuffle_ps(pairs[0], pairs[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm512_shuffle_ps(pairs[0], pairs[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512 high = _mm512_add_ps(_mm512_shuffle_ps(pairs[2], pairs[3], _MM_SHUFFLE(2, 0, 2, 0)),
                                      _mm512_shuffle_ps(pairs[2], pairs[3], _MM_SHUFFLE(3, 1, 3, 1)));
    // [low.0, low.1, high.0, high.1] → [low.0, high.0, low.1, high.1], and the same for classes 2 and 3.
    const __m512 classes01 = _mm512_shuffle_f32x4(low, high, _MM_SHUFFLE(1, 0, 1, 0));
    const __m512 classes23 = _mm512_shuffle_f32x4(low, high, _MM_SHUFFLE(3, 2, 3, 2));
    out[0] = _mm512_shuffle_f32x4(classes01, classes01, _MM_SHUFFLE(3, 1, 2, 0));
    out[1] = _mm512_shuffle_f32x4(classes23, classes23, _MM_SHUFFLE(3, 1, 2, 0));
}

/// The 8 row vectors a[r] (lane 2k + p: class k, the columns ≡ p mod 2) summed over p and rearranged so that lane
/// r of out[k] is row r's score of class k.
SHARD_AVX512_INLINE void class_vectors_8_pd(const __m512d a[8], __m512d out[4]) {
    __m512d pairs[4];
    // Per 128-bit lane k: [a_2j (p0 + p1), a_2j+1 (p0 + p1)].
    for (int j = 0; j < 4; j++) {
        pairs[j] = _mm512_add_pd(_mm512_unpacklo_pd(a[2 * j], a[2 * j + 1]), _mm512_unpackhi_pd(a[2 * j], a[2 * j + 1]));
    }
    const __m512d low01 = _mm512_shuffle_f64x2(pairs[0], pairs[1], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512d high01 = _mm512_shuffle_f64x2(pairs[0], pairs[1], _MM_SHUFFLE(3, 2, 3, 2));
    const __m512d low23 = _mm512_shuffle_f64x2(pairs[2], pairs[3], _MM_SHUFFLE(1, 0, 1, 0));
    const __m512d high23 = _mm512_shuffle_f64x2(pairs[2], pairs[3], _MM_SHUFFLE(3, 2, 3, 2));
    out[0] = _mm512_shuffle_f64x2(low01, low23, _MM_SHUFFLE(2, 0, 2, 0));
    out[1] = _mm512_shuffle_f64x2(low01, low23, _MM_SHUFFLE(3, 1, 3, 1));
    out[2] = _mm512_shuffle_f64x2(high01, high23, _MM_SHUFFLE(2, 0, 2, 0));
    out[3] = _mm512_shuffle_f64x2(high01, high23, _MM_SHUFFLE(3, 1, 3, 1));
}

/// Row r's offset from the tile's first row (in values): the rows past `count` repeat the last one.
SHARD_AVX512_INLINE size_t row_offset(size_t r, size_t count, size_t cols) { return (r < count ? r : count - 1) * cols; }

/// Class vectors k of a group of 8 rows (class_vectors_8_ps / _pd of the row vectors a) stored at
/// scores + k · tile, for the `in_group` classes of the group.
SHARD_AVX512_INLINE void store_classes_ps(const __m512 a[8], size_t in_group, float *scores, size_t tile) {
    __m512 out[2];
    class_vectors_8_ps(a, out);
    for (size_t k = 0; k < in_group; k++) {
        _mm256_store_ps(scores + k * tile, k % 2 ? _mm512_extractf32x8_ps(out[k / 2], 1) : _mm512_castps512_ps256(out[k / 2]));
    }
}

SHARD_AVX512_INLINE void store_classes_pd(const __m512d a[8], size_t in_group, double *scores, size_t tile) {
    __m512d out[4];
    class_vectors_8_pd(a, out);
    for (size_t k = 0; k < in_group; k++) _mm512_store_pd(scores + k * tile, out[k]);
}

/// The scores stage (see shard_softmax_scores_f32_avx512 in kernels_internal.h) for PHASES columns per class and
/// lane group, BROADCAST(mask, address) putting the next PHASES columns of a row (those of `mask`) in every group;
/// the rows are padded to a multiple of PADDED_ROWS (the rows of a vector in stages 2 and 3), repeating the
/// tile's last row.
#define DEFINE_SCORES(NAME, SCALAR, VECTOR, SUFFIX, PHASES, PADDED_ROWS, BROADCAST)                                    \
    SHARD_AVX512 void NAME(const SCALAR *rows, size_t count, size_t cols, size_t classes, const SCALAR *packed,       \
                           const SCALAR *bias, SCALAR *scores, size_t tile, const void *features, size_t *prefetched,  \
                           size_t prefetch_from, size_t prefetch_span, size_t feature_bytes) {                        \
        const size_t lanes = 4 * PHASES, whole = cols / PHASES, per_group = (cols + PHASES - 1) / PHASES;              \
        const __mmask8 all = (__mmask8)((1u << PHASES) - 1), rest = (__mmask8)((1u << (cols % PHASES)) - 1);          \
        const size_t padded_count = (count + PADDED_ROWS - 1) / PADDED_ROWS * PADDED_ROWS;                             \
        for (size_t g = 0; g < padded_count; g += 8) {                                                                 \
            const size_t done = g + 8 < count ? g + 8 : count;                                                         \
            shard_softmax_prefetch_to(features, prefetched, prefetch_from + done * prefetch_span / count,              \
                                      feature_bytes);                                                                  \
            size_t offset[8];                                                                                          \
            for (size_t r = 0; r < 8; r++) offset[r] = row_offset(g + r, count, cols);                                 \
            for (size_t c = 0; 4 * c < classes; c++) {                                                                 \
                const SCALAR *weights = packed + c * per_group * lanes;                                                \
                VECTOR a[8];                                                                                           \
                const VECTOR b = _mm512_load_##SUFFIX(bias + lanes * c);                                               \
                for (int r = 0; r < 8; r++) a[r] = b;                                                                  \
                const SCALAR *column = rows;                                                                           \
                for (size_t q = 0; q < whole; q++, column += PHASES) {                                                 \
                    const VECTOR w = _mm512_load_##SUFFIX(weights + lanes * q);                                        \
                    for (int r = 0; r < 8; r++) a[r] = _mm512_fmadd_##SUFFIX(BROADCAST(all, column + offset[r]), w, a[r]); \
                }                                                                                                      \
                if (rest) {                                                                                            \
                    const VECTOR w = _mm512_load_##SUFFIX(weights + lanes * whole);                                    \
                    for (int r = 0; r < 8; r++) a[r] = _mm512_fmadd_##SUFFIX(BROADCAST(rest, column + offset[r]), w, a[r]); \
                }                                                                                                      \
                const size_t in_group = classes - 4 * c < 4 ? classes - 4 * c : 4;                                     \
                store_classes_##SUFFIX(a, in_group, scores + 4 * c * tile + g, tile);                                  \
            }                                                                                                          \
        }                                                                                                              \
    }

/// The columns of `mask` among the next 4 (float) or 2 (double) from `address`, in every 128-bit lane; masked
/// columns read as 0 and are not loaded.
#define BROADCAST_QUAD(MASK, ADDRESS) _mm512_broadcast_f32x4(_mm_maskz_loadu_ps(MASK, ADDRESS))
#define BROADCAST_PAIR(MASK, ADDRESS) _mm512_broadcast_f64x2(_mm_maskz_loadu_pd(MASK, ADDRESS))
DEFINE_SCORES(shard_softmax_scores_f32_avx512, float, __m512, ps, 4, 16, BROADCAST_QUAD)
DEFINE_SCORES(shard_softmax_scores_f64_avx512, double, __m512d, pd, 2, 8, BROADCAST_PAIR)

// MARK: exponentials and slopes

/// p · 2^n with one rounding for any n (scalef).
#define SCALE_ANY_PS(W, p, n, shifted) _mm512_scalef_ps(p, n)
#define SCALE_ANY_PD(W, p, n) _mm512_scalef_pd(p, n)
SHARD_DEFINE_EXP_NONPOSITIVE_PS(exp_scaled_16, SHARD_AVX512_INLINE, 512, SCALE_ANY_PS)
SHARD_DEFINE_EXP_REDUCED_PD(exp_reduced_8, SHARD_AVX512_INLINE, 512, _mm512_roundscale_pd)
SHARD_DEFINE_EXP_NONPOSITIVE_PD(exp_scaled_8, SHARD_AVX512_INLINE, 512, exp_reduced_8, SCALE_ANY_PD)
SHARD_DEFINE_LOG_CORE_PS(log_core_16, SHARD_AVX512_INLINE, 512)
SHARD_DEFINE_LOG1P_CORE_PD(log1p_core_8, SHARD_AVX512_INLINE, 512)

/// exp(x) for x <= 0 of any size (NaN stays NaN): the clamps of SHARD_DEFINE_EXP_NONPOSITIVE_PS / _PD's scalef form.
SHARD_AVX512_INLINE __m512 exp_nonpositive_16(__m512 x) { return exp_scaled_16(_mm512_max_ps(_mm512_set1_ps(-110.0f), x)); }
SHARD_AVX512_INLINE __m512d exp_nonpositive_8(__m512d x) { return exp_scaled_8(_mm512_max_pd(_mm512_set1_pd(-800.0), x)); }

/// log(x) for positive normal finite floats / doubles: the operations of shard_log_normal_ps / _pd
/// (simd_math_f64.h), so the same values.
SHARD_AVX512_INLINE __m512 log_normal_16(__m512 x) {
    const __m512i bits = _mm512_castps_si512(x);
    __m512 k = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(127)));
    __m512 m = _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)),
                                                   _mm512_set1_epi32(0x3f800000)));
    const __mmask16 big = _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421356f), _CMP_GT_OQ);
    m = _mm512_mask_mul_ps(m, big, m, _mm512_set1_ps(0.5f));
    k = _mm512_mask_add_ps(k, big, k, _mm512_set1_ps(1.0f));
    return log_core_16(_mm512_sub_ps(m, _mm512_set1_ps(1.0f)), k);
}

SHARD_AVX512_INLINE __m512d log_normal_8(__m512d x) {
    const __m512i bits = _mm512_castpd_si512(x);
    __m512d k = _mm512_sub_pd(
        _mm512_castsi512_pd(_mm512_or_si512(_mm512_srli_epi64(bits, 52), _mm512_set1_epi64(0x4330000000000000LL))),
        _mm512_set1_pd(4503599627370496.0 + 1023.0));
    __m512d m = _mm512_castsi512_pd(_mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi64(0x000fffffffffffffLL)),
                                                    _mm512_set1_epi64(0x3ff0000000000000LL)));
    const __mmask8 big = _mm512_cmp_pd_mask(m, _mm512_set1_pd(1.4142135623730951), _CMP_GT_OQ);
    m = _mm512_mask_mul_pd(m, big, m, _mm512_set1_pd(0.5));
    k = _mm512_mask_add_pd(k, big, k, _mm512_set1_pd(1.0));
    return log1p_core_8(_mm512_sub_pd(m, _mm512_set1_pd(1.0)), k);
}

/// The tile's loss or bias sum as 8 lanes: float32 lane r + lane r + 8 (stored as 8 floats), float64 as it is.
SHARD_AVX512_INLINE void store_lanes_ps(float *lanes, __m512 v) {
    _mm256_store_ps(lanes, _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

SHARD_AVX512_INLINE void store_lanes_pd(double *lanes, __m512d v) { _mm512_store_pd(lanes, v); }

/// The tile's loss lanes, then the bias sums Σ_i slope_iq of each output q (summed in the rows' lanes), as 8
/// lanes each at `lanes`.
#define DEFINE_STORE_TILE_SUMS(SUFFIX, SCALAR, VECTOR, LANES)                                                          \
    SHARD_AVX512_INLINE void store_tile_sums_##SUFFIX(VECTOR loss, const SCALAR *slopes, size_t outputs, size_t tile, \
                                                      size_t count, SCALAR *lanes) {                                   \
        store_lanes_##SUFFIX(lanes, loss);                                                                             \
        for (size_t q = 0; q < outputs; q++) {                                                                         \
            VECTOR bias = _mm512_setzero_##SUFFIX();                                                                   \
            for (size_t v = 0; v < count; v += LANES) bias = _mm512_add_##SUFFIX(bias, _mm512_load_##SUFFIX(slopes + q * tile + v)); \
            store_lanes_##SUFFIX(lanes + 8 * (q + 1), bias);                                                           \
        }                                                                                                              \
    }
DEFINE_STORE_TILE_SUMS(ps, float, __m512, 16)
DEFINE_STORE_TILE_SUMS(pd, double, __m512d, 8)

/// Stages 2 and 3 of one tile (see shard_softmax_tile_f32_avx512) for float (ps: 16 rows per vector) or double
/// (pd: 8 rows), with FIXED_CLASSES = K when it is a compile-time constant, else 0. The class weight c_y comes from
/// a permutation of the weights' vector when K fits in one, else from a gather.
#define DEFINE_SOFTMAX_TILE(SUFFIX, SCALAR, VECTOR, LANES, MASK, INDEX, PERMUTE, GATHER, SCALE)                 \
    SHARD_AVX512_INLINE int softmax_tile_##SUFFIX(                                                                     \
        const int FIXED_CLASSES, size_t runtime_classes, const SCALAR *scores, SCALAR *slopes, size_t tile,          \
        size_t count, SCALAR *highs, SCALAR *sums, const SCALAR *labels, const SCALAR *class_weight, SCALAR *lanes,  \
        const void *features, size_t *prefetched, size_t prefetch_from, size_t prefetch_span, size_t feature_bytes) {  \
        const size_t classes = FIXED_CLASSES ? (size_t)FIXED_CLASSES : runtime_classes;                               \
        const VECTOR zero = _mm512_setzero_##SUFFIX();                                                                 \
        /* 2. h = max_k s_k, e_k = exp(s_k − h) (scaled by 2^n in one step for any n), Σ = Σ_k e_k. */               \
        for (size_t v = 0; v < count; v += LANES) {                                                                    \
            const size_t done = v + LANES < count ? v + LANES : count;                                                 \
            shard_softmax_prefetch_to(features, prefetched, prefetch_from + done * prefetch_span / count,              \
                                      feature_bytes);                                                                  \
            VECTOR high = _mm512_load_##SUFFIX(scores + v);                                                            \
            for (size_t k = 1; k < classes; k++) high = _mm512_max_##SUFFIX(high, _mm512_load_##SUFFIX(scores + k * tile + v)); \
            VECTOR sum = zero;                                                                                         \
            for (size_t k = 0; k < classes; k++) {                                                                     \
                const VECTOR e = exp_nonpositive_##LANES(_mm512_sub_##SUFFIX(_mm512_load_##SUFFIX(scores + k * tile + v), high)); \
                _mm512_store_##SUFFIX(slopes + k * tile + v, e);                                                       \
                sum = _mm512_add_##SUFFIX(sum, e);                                                                     \
            }                                                                                                          \
            _mm512_store_##SUFFIX(highs + v, high);                                                                    \
            _mm512_store_##SUFFIX(sums + v, sum);                                                                      \
        }                                                                                                              \
        /* 3. lse = h + log Σ, w = c_y (1/Σ), slope_k = e_k w − c_y [k = y], loss = c_y (lse − s_y); c_y = 0 for     \
           rows past `count` and labels that are not class indices. */                                                 \
        const VECTOR all_weights =                                                                                     \
            classes <= LANES ? _mm512_maskz_loadu_##SUFFIX((MASK)((1u << classes) - 1), class_weight) : zero;          \
        MASK invalid = 0;                                                                                              \
        VECTOR loss = zero;                                                                                            \
        for (size_t v = 0; v < count; v += LANES) {                                                                    \
            const size_t done = v + LANES < count ? v + LANES : count;                                                 \
            shard_softmax_prefetch_to(features, prefetched,                                                            \
                                      prefetch_from + prefetch_span + done * prefetch_span / count, feature_bytes);   \
            const MASK rows = count - v >= LANES ? (MASK)~0u : (MASK)((1u << (count - v)) - 1);                        \
            const VECTOR y = _mm512_maskz_loadu_##SUFFIX(rows, labels + v);                                            \
            const MASK outside =                                                                                       \
                _mm512_cmp_##SUFFIX##_mask(y, zero, _CMP_NGE_UQ) |                                                     \
                _mm512_cmp_##SUFFIX##_mask(y, _mm512_set1_##SUFFIX((SCALAR)classes), _CMP_NLT_UQ) |                    \
                _mm512_cmp_##SUFFIX##_mask(_mm512_roundscale_##SUFFIX(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC), y,   \
                                           _CMP_NEQ_UQ);                                                               \
            invalid |= outside & rows;                                                                                 \
            const MASK use = rows & (MASK)~outside;                                                                    \
            const __m512i index = INDEX(y);                                                                            \
            const VECTOR weight = classes <= LANES ? PERMUTE(use, index, all_weights)                                  \
                                                   : GATHER(zero, use, index, class_weight, SCALE);                    \
            const VECTOR sum = _mm512_load_##SUFFIX(sums + v);                                                         \
            const VECTOR log_sum_exp = _mm512_add_##SUFFIX(_mm512_load_##SUFFIX(highs + v), log_normal_##LANES(sum));  \
            const VECTOR w = _mm512_mul_##SUFFIX(weight, _mm512_div_##SUFFIX(_mm512_set1_##SUFFIX(1.0), sum));         \
            VECTOR target = zero;                                                                                      \
            for (size_t k = 0; k < classes; k++) {                                                                     \
                const MASK is_target = _mm512_cmp_##SUFFIX##_mask(y, _mm512_set1_##SUFFIX((SCALAR)k), _CMP_EQ_OQ);     \
                target = _mm512_mask_mov_##SUFFIX(target, is_target, _mm512_load_##SUFFIX(scores + k * tile + v));     \
                const VECTOR scaled = _mm512_mul_##SUFFIX(_mm512_load_##SUFFIX(slopes + k * tile + v), w);             \
                _mm512_store_##SUFFIX(slopes + k * tile + v, _mm512_mask_sub_##SUFFIX(scaled, is_target, scaled, weight)); \
            }                                                                                                          \
            loss = _mm512_add_##SUFFIX(loss, _mm512_mul_##SUFFIX(weight, _mm512_sub_##SUFFIX(log_sum_exp, target)));   \
        }                                                                                                              \
        store_tile_sums_##SUFFIX(loss, slopes, classes, tile, count, lanes);                                           \
        return invalid != 0;                                                                                           \
    }

DEFINE_SOFTMAX_TILE(ps, float, __m512, 16, __mmask16, _mm512_cvttps_epi32, _mm512_maskz_permutexvar_ps,
                    _mm512_mask_i32gather_ps, 4)
DEFINE_SOFTMAX_TILE(pd, double, __m512d, 8, __mmask8, _mm512_cvttpd_epi64, _mm512_maskz_permutexvar_pd,
                    _mm512_mask_i64gather_pd, 8)

#define DISPATCH_SOFTMAX_TILE(SUFFIX)                                                                                  \
    switch (classes) {                                                                                                 \
    case 2: return TILE(SUFFIX, 2);                                                                                    \
    case 3: return TILE(SUFFIX, 3);                                                                                    \
    case 4: return TILE(SUFFIX, 4);                                                                                    \
    default: return TILE(SUFFIX, 0);                                                                                   \
    }
#define TILE(SUFFIX, K)                                                                                                \
    softmax_tile_##SUFFIX(K, classes, scores, slopes, tile, count, highs, sums, labels, class_weight, lanes, features, \
                          prefetched, prefetch_from, prefetch_span, feature_bytes)

/// The exported entry points.
#define DEFINE_SOFTMAX_TILE_ENTRY(NAME, SUFFIX, SCALAR)                                                                \
    SHARD_AVX512 int NAME(size_t classes, const SCALAR *scores, SCALAR *slopes, size_t tile, size_t count,             \
                          SCALAR *highs, SCALAR *sums, const SCALAR *labels, const SCALAR *class_weight,               \
                          SCALAR *lanes, const void *features, size_t *prefetched, size_t prefetch_from,               \
                          size_t prefetch_span, size_t feature_bytes) {                                                \
        DISPATCH_SOFTMAX_TILE(SUFFIX)                                                                                  \
    }
DEFINE_SOFTMAX_TILE_ENTRY(shard_softmax_tile_f32_avx512, ps, float)
DEFINE_SOFTMAX_TILE_ENTRY(shard_softmax_tile_f64_avx512, pd, double)
#undef TILE
#undef DISPATCH_SOFTMAX_TILE

// MARK: pinball

/// Stages 2 and 3 of the pinball loss on one tile (the multi-output kernel of softmax_avx2.c also serves
/// SHARDTRAIN_LINEAR_PINBALL on AVX-512), the operations of linear_losses_avx2.c's pinball_ps / pinball_pd per
/// level q with e = y − s_q: exact, (e (τ − [e < 0]), [e < 0] − τ ([e > 0] + [e < 0])); smoothed (μ > 0),
/// e >= τμ: (τ e − τ·τμ/2, −τ), e <= −(1 − τ)μ: ((τ − 1) e + (1 − τ)·(−(1 − τ)μ)/2, 1 − τ), else (e²/(2μ), −e/μ).
/// loss = (1/Q) Σ_q ρ_q (q ascending), slope_q = ρ_q' · (1/Q); rows past `count` get 0. `level` holds 5 constants
/// per level: τ, τμ, −(1 − τ)μ, τ·τμ/2, (1 − τ)·(−(1 − τ)μ)/2, then μ, 2μ and 1/Q. Lanes and the return value as
/// shard_softmax_tile_f32_avx512 (a label is invalid when it is not finite).
#define DEFINE_PINBALL_TILE(SUFFIX, SCALAR, VECTOR, LANES, MASK)                                                      \
    SHARD_AVX512_INLINE int pinball_tile_##SUFFIX(                                                                     \
        const int smoothed, size_t outputs, const SCALAR *scores, SCALAR *slopes, size_t tile, size_t count,         \
        const SCALAR *labels, const SCALAR *level, SCALAR *lanes, const void *features, size_t *prefetched,          \
        size_t prefetch_from, size_t prefetch_span, size_t feature_bytes) {                                            \
        const VECTOR zero = _mm512_setzero_##SUFFIX(), one = _mm512_set1_##SUFFIX(1.0);                                \
        const VECTOR smoothing = _mm512_set1_##SUFFIX(level[5 * outputs]);                                             \
        const VECTOR twice_smoothing = _mm512_set1_##SUFFIX(level[5 * outputs + 1]);                                   \
        const VECTOR share = _mm512_set1_##SUFFIX(level[5 * outputs + 2]);                                             \
        const VECTOR sign = _mm512_set1_##SUFFIX(-0.0);                                                                \
        MASK invalid = 0;                                                                                              \
        VECTOR total = zero;                                                                                           \
        for (size_t v = 0; v < count; v += LANES) {                                                                    \
            const size_t done = v + LANES < count ? v + LANES : count;                                                 \
            shard_softmax_prefetch_to(features, prefetched, prefetch_from + 2 * done * prefetch_span / count,          \
                                      feature_bytes);                                                                  \
            const MASK rows = count - v >= LANES ? (MASK)~0u : (MASK)((1u << (count - v)) - 1);                        \
            const VECTOR y = _mm512_maskz_loadu_##SUFFIX(rows, labels + v);                                            \
            invalid |= rows & _mm512_cmp_##SUFFIX##_mask(_mm512_sub_##SUFFIX(y, y), zero, _CMP_NEQ_UQ);                \
            VECTOR loss = zero;                                                                                        \
            for (size_t q = 0; q < outputs; q++) {                                                                     \
                const SCALAR *constants = level + 5 * q;                                                               \
                const VECTOR tau = _mm512_set1_##SUFFIX(constants[0]);                                                 \
                const VECTOR e = _mm512_sub_##SUFFIX(y, _mm512_load_##SUFFIX(scores + q * tile + v));                  \
                VECTOR slope;                                                                                          \
                if (!smoothed) {                                                                                       \
                    const VECTOR below = _mm512_maskz_mov_##SUFFIX(_mm512_cmp_##SUFFIX##_mask(e, zero, _CMP_LT_OQ), one); \
                    const VECTOR above = _mm512_maskz_mov_##SUFFIX(_mm512_cmp_##SUFFIX##_mask(e, zero, _CMP_GT_OQ), one); \
                    slope = _mm512_sub_##SUFFIX(below, _mm512_mul_##SUFFIX(tau, _mm512_add_##SUFFIX(above, below)));   \
                    loss = _mm512_add_##SUFFIX(loss, _mm512_mul_##SUFFIX(e, _mm512_sub_##SUFFIX(tau, below)));         \
                } else {                                                                                               \
                    const MASK upper = _mm512_cmp_##SUFFIX##_mask(e, _mm512_set1_##SUFFIX(constants[1]), _CMP_GE_OQ);  \
                    const MASK lower = _mm512_cmp_##SUFFIX##_mask(e, _mm512_set1_##SUFFIX(constants[2]), _CMP_LE_OQ);  \
                    VECTOR rho = _mm512_div_##SUFFIX(_mm512_mul_##SUFFIX(e, e), twice_smoothing);                      \
                    rho = _mm512_mask_sub_##SUFFIX(rho, upper, _mm512_mul_##SUFFIX(tau, e),                            \
                                                   _mm512_set1_##SUFFIX(constants[3]));                                \
                    rho = _mm512_mask_add_##SUFFIX(rho, lower, _mm512_mul_##SUFFIX(_mm512_sub_##SUFFIX(tau, one), e),  \
                                                   _mm512_set1_##SUFFIX(constants[4]));                                \
                    loss = _mm512_add_##SUFFIX(loss, rho);                                                             \
                    slope = _mm512_div_##SUFFIX(_mm512_xor_##SUFFIX(e, sign), smoothing);                              \
                    slope = _mm512_mask_mov_##SUFFIX(slope, upper, _mm512_xor_##SUFFIX(tau, sign));                    \
                    slope = _mm512_mask_mov_##SUFFIX(slope, lower, _mm512_sub_##SUFFIX(one, tau));                     \
                }                                                                                                      \
                _mm512_store_##SUFFIX(slopes + q * tile + v, _mm512_maskz_mul_##SUFFIX(rows, slope, share));           \
            }                                                                                                          \
            total = _mm512_add_##SUFFIX(total, _mm512_maskz_mul_##SUFFIX(rows, loss, share));                          \
        }                                                                                                              \
        store_tile_sums_##SUFFIX(total, slopes, outputs, tile, count, lanes);                                          \
        return invalid != 0;                                                                                           \
    }

DEFINE_PINBALL_TILE(ps, float, __m512, 16, __mmask16)
DEFINE_PINBALL_TILE(pd, double, __m512d, 8, __mmask8)

/// The exported entry points, with `smoothed` as a compile-time constant.
#define DEFINE_PINBALL_ENTRY(NAME, SUFFIX, SCALAR)                                                                     \
    SHARD_AVX512 int NAME(int smoothed, size_t outputs, const SCALAR *scores, SCALAR *slopes, size_t tile,            \
                          size_t count, const SCALAR *labels, const SCALAR *level, SCALAR *lanes, const void *features, \
                          size_t *prefetched, size_t prefetch_from, size_t prefetch_span, size_t feature_bytes) {      \
        return smoothed ? pinball_tile_##SUFFIX(1, outputs, scores, slopes, tile, count, labels, level, lanes,         \
                                                features, prefetched, prefetch_from, prefetch_span, feature_bytes)     \
                        : pinball_tile_##SUFFIX(0, outputs, scores, slopes, tile, count, labels, level, lanes,         \
                                                features, prefetched, prefetch_from, prefetch_span, feature_bytes);    \
    }
DEFINE_PINBALL_ENTRY(shard_pinball_tile_f32_avx512, ps, float)
DEFINE_PINBALL_ENTRY(shard_pinball_tile_f64_avx512, pd, double)

// MARK: gradient

/// Stage 4 in AVX-512 (SHARD_DEFINE_SOFTMAX_SWEEP): the last chunk is always loaded with `last_mask` (lanes past the
/// row's last column read as 0, never past the block).
#define WIDE_LAST_LOAD(SUFFIX, ADDRESS) ((void)MASKED, _mm512_maskz_loadu_##SUFFIX(last_mask, ADDRESS))
/// float32: the tile's float sums are added to the double sums as the sweep ends.
#define ZERO_START(ADDRESS) _mm512_setzero_ps()
#define WIDEN_ADD(ADDRESS, SUM)                                                                                        \
    (_mm512_store_pd(ADDRESS, _mm512_add_pd(_mm512_load_pd(ADDRESS), _mm512_cvtps_pd(_mm512_castps512_ps256(SUM)))),   \
     _mm512_store_pd((ADDRESS) + 8, _mm512_add_pd(_mm512_load_pd((ADDRESS) + 8),                                       \
                                                  _mm512_cvtps_pd(_mm512_extractf32x8_ps(SUM, 1)))))
SHARD_DEFINE_SOFTMAX_SWEEP(wide_sweep_f32, SHARD_AVX512_INLINE, 512, float, __m512, ps, 16, WIDE_SWEEP_CHUNKS,
                           __mmask16, WIDE_LAST_LOAD, double, ZERO_START, WIDEN_ADD)
SHARD_DEFINE_SOFTMAX_SWEEP(wide_sweep_f64, SHARD_AVX512_INLINE, 512, double, __m512d, pd, 8, WIDE_SWEEP_CHUNKS,
                           __mmask8, WIDE_LAST_LOAD, double, _mm512_load_pd, _mm512_store_pd)

/// wide_sweep_f32 / _f64 (SWEEP) with NQ (1…4) and NCH (1…3) as compile-time constants, on the arguments of
/// DEFINE_SWEEP_ENTRY's function.
#define DISPATCH_WIDE_SWEEP(SWEEP)                                                                                     \
    switch (classes * 4 + chunks) {                                                                                    \
    case 1 * 4 + 1: SWEEP(1, 1, 1, x, cols, slope, tile, count, mask, acc, stride); break;                             \
    case 1 * 4 + 2: SWEEP(1, 2, 1, x, cols, slope, tile, count, mask, acc, stride); break;                             \
    case 1 * 4 + 3: SWEEP(1, 3, 1, x, cols, slope, tile, count, mask, acc, stride); break;                             \
    case 2 * 4 + 1: SWEEP(2, 1, 1, x, cols, slope, tile, count, mask, acc, stride); break;                             \
    case 2 * 4 + 2: SWEEP(2, 2, 1, x, cols, slope, tile, count, mask, acc, stride); break;                             \
    case 2 * 4 + 3: SWEEP(2, 3, 1, x, cols, slope, tile, count, mask, acc, stride); break;                             \
    case 3 * 4 + 1: SWEEP(3, 1, 1, x, cols, slope, tile, count, mask, acc, stride); break;                             \
    case 3 * 4 + 2: SWEEP(3, 2, 1, x, cols, slope, tile, count, mask, acc, stride); break;                             \
    case 3 * 4 + 3: SWEEP(3, 3, 1, x, cols, slope, tile, count, mask, acc, stride); break;                             \
    case 4 * 4 + 1: SWEEP(4, 1, 1, x, cols, slope, tile, count, mask, acc, stride); break;                             \
    case 4 * 4 + 2: SWEEP(4, 2, 1, x, cols, slope, tile, count, mask, acc, stride); break;                             \
    default: SWEEP(4, 3, 1, x, cols, slope, tile, count, mask, acc, stride); break;                                    \
    }

/// The exported sweeps: `classes` × `chunks` as compile-time constants, the last chunk `last_columns` wide.
#define DEFINE_SWEEP_ENTRY(NAME, SWEEP, SCALAR, MASK)                                                                  \
    SHARD_AVX512 void NAME(size_t classes, size_t chunks, const SCALAR *x, size_t cols, size_t last_columns,           \
                           const SCALAR *slope, size_t tile, size_t count, double *acc, size_t stride) {              \
        const MASK mask = (MASK)((1u << last_columns) - 1);                                                            \
        DISPATCH_WIDE_SWEEP(SWEEP)                                                                                     \
    }
DEFINE_SWEEP_ENTRY(shard_softmax_sweep_f32_avx512, wide_sweep_f32, float, __mmask16)
DEFINE_SWEEP_ENTRY(shard_softmax_sweep_f64_avx512, wide_sweep_f64, double, __mmask8)

#endif
