// AVX2+FMA block sums of softmax regression (SHARDTRAIN_LINEAR_SOFTMAX of shardtrain_linear_sums_f32/_f64;
// the math and the layout of `out` are in CShardKernels.h).
//
// The block is walked in tiles of T rows (softmax_tile_rows: about 8 KiB of features, a multiple of 8, at
// most 64); K classes are handled in class groups of 4. Per tile, four loops, each short enough that the
// processor overlaps its iterations (a fused loop was slower: its exp, log and division chains stalled it):
//   1. Scores, 8 rows at a time, class group by class group, with the 4 classes side by side in the lanes
//      (no weight is multiplied by a padding lane), one accumulator per row (8 FMA chains side by side):
//        float32: lane 2k + p of row r = b_k [p = 0] + Σ_{j ≡ p (mod 2)} x_rj W_jk (float), the columns
//                 (x_rj, x_r,j+1) broadcast as one 8-byte pair against the packed [W_jk, W_(j+1)k]_k (an
//                 odd last column alone, against zeros in the odd lanes); s_rk = lane 2k + lane 2k + 1 (hadd),
//                 then rearranged so that lane r of class vector k is s_rk;
//        float64: lane k = b_k + Σ_j x_rj W_jk (x_rj broadcast), then a 4 × 4 transpose per 4 rows.
//      Stored class-major: scores[k · T + i].
//   2. With the rows in the lanes (8 float or 4 double rows per vector): h = max_k s_k, e_k = exp(s_k − h),
//      Σ = Σ_k e_k (k ascending); the exp's one-step path when min_k s_k − h stays in the normal range.
//   3. lse = h + log Σ, w = c_y · (1/Σ), slope_k = e_k · w − c_y [k = y] (class-major, over the e_k),
//      loss = c_y (lse − s_y), with c_y gathered (0 for a label outside 0…K−1 and past the tile's last row,
//      which zeroes loss and slopes; such labels are located after the block).
//   4. Σ_i slope_ik x_i over the tile, row by row, up to 4 classes × 2 column chunks (8 floats or 4 doubles)
//      per sweep: each x chunk is loaded once per row and multiplied by the broadcast slopes of the classes.
// float32 computes in float (W, b and c rounded to float; exp_normal_ps below, else the float exp of simd_math.h,
// and the float log of simd_math_f64.h) and sums the gradient, the loss and the bias sums in float lanes within a
// tile, added to double sums per tile; float64 computes and sums in double. The loss and each bias sum end in 8
// double lanes (lane r: rows ≡ r mod 8), added as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)). Every
// summation order depends only on (rows, cols, K).
#if defined(__x86_64__) || defined(__i386__)

#include "CShardKernels.h"
#include "kernels_internal.h"
#include "simd_math_f64.h"
#include "simd_tile.h"

#include <stdlib.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

/// Rows of one score computation (group_scores_f32 / _f64): one float vector, two double vectors.
#define GROUP_ROWS 8
/// Classes side by side in one score accumulator.
#define GROUP_CLASSES 4
/// At most this many classes × column chunks of the gradient are accumulated per sweep over a tile.
#define SWEEP_CLASSES 4
#define SWEEP_CHUNKS 2
#define MAX_SOFTMAX_TILE_ROWS 64
/// Software prefetch distances (see prefetch_to): into L1 NEAR_BYTES ahead of the rows being read, and into L2
/// FAR_BYTES beyond that. On the 2-core Xeon of issue 7 (20 columns, 4096-row blocks from memory) the L2 stream
/// made the pass 3–5% faster; a near distance of 4 KiB and far distances of 32 and 64 KiB were not faster.
#define NEAR_BYTES 8192
#define FAR_BYTES 16384

/// Rows per tile: about 8 KiB of features, a multiple of GROUP_ROWS, between 8 and MAX_SOFTMAX_TILE_ROWS.
static size_t softmax_tile_rows(size_t cols, size_t bytes_per_value) {
    size_t fit = 8192 / (cols * bytes_per_value + 1);
    fit &= ~(size_t)(GROUP_ROWS - 1);
    if (fit < GROUP_ROWS) return GROUP_ROWS;
    return fit > MAX_SOFTMAX_TILE_ROWS ? MAX_SOFTMAX_TILE_ROWS : fit;
}

/// Carves 32-byte aligned pieces out of one allocation.
typedef struct {
    char *next;
} scratch_cursor;

static void *take(scratch_cursor *cursor, size_t bytes) {
    void *piece = cursor->next;
    cursor->next += (bytes + 31) & ~(size_t)31;
    return piece;
}

/// Lanes of a label vector outside 0…K−1 (not an integer, negative, ≥ K or NaN).
SHARD_AVX2_INLINE __m256 invalid_classes_ps(__m256 y, size_t classes) {
    const __m256 outside = _mm256_or_ps(_mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_NGE_UQ),
                                        _mm256_cmp_ps(y, _mm256_set1_ps((float)classes), _CMP_NLT_UQ));
    return _mm256_or_ps(outside, _mm256_cmp_ps(_mm256_round_ps(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC), y, _CMP_NEQ_UQ));
}

SHARD_AVX2_INLINE __m256d invalid_classes_pd(__m256d y, size_t classes) {
    const __m256d outside = _mm256_or_pd(_mm256_cmp_pd(y, _mm256_setzero_pd(), _CMP_NGE_UQ),
                                         _mm256_cmp_pd(y, _mm256_set1_pd((double)classes), _CMP_NLT_UQ));
    return _mm256_or_pd(outside, _mm256_cmp_pd(_mm256_round_pd(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC), y, _CMP_NEQ_UQ));
}

/// The first row whose label is not a class index in 0…K−1, or `rows`.
static size_t first_invalid_label(const float *yf, const double *yd, size_t rows, size_t classes) {
    for (size_t i = 0; i < rows; i++) {
        const double y = yf ? (double)yf[i] : yd[i];
        if (!(y >= 0 && y < (double)classes && trunc(y) == y)) return i;
    }
    return rows;
}

/// exp(x) for 8 floats with -87 <= x <= 0 (n >= -126: a normal result, one scaling step), cheaper than
/// shard_exp_nonpositive_ps and within about 1 ulp of it (the branch to that one is taken once per group by the
/// caller): n = round(x / ln 2) by adding 1.5 · 2^23 (its low mantissa bits are then n, the scale's exponent),
/// r = x − n ln 2 in two steps (|r| <= ln 2 / 2), exp(r) by its Taylor polynomial of degree 6 (remainder below
/// |r|^7 / 5040 < 1.2e-7), times 2^n.
SHARD_AVX2_INLINE __m256 exp_normal_ps(__m256 x) {
    const __m256 shifter = _mm256_set1_ps(12582912.0f);
    const __m256 shifted = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), shifter);
    const __m256 n = _mm256_sub_ps(shifted, shifter);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 720.0f), r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    // The low 9 bits of shifted's bit pattern are n mod 512; (n + 127) << 23 keeps them as the exponent field.
    const __m256i biased = _mm256_add_epi32(_mm256_castps_si256(shifted), _mm256_set1_epi32(127));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(biased, 23)));
}

/// exp(x) for 4 doubles with -708 <= x <= 0 (n >= -1021: a normal result, one scaling step): the values of
/// shard_exp_nonpositive_pd, without its branches.
SHARD_AVX2_INLINE __m256d exp_normal_pd(__m256d x) {
    __m256d n;
    const __m256d p = _mm256_add_pd(_mm256_set1_pd(1.0), shard_exp_reduced_pd(x, &n));
    const __m256i biased = _mm256_castpd_si256(_mm256_add_pd(n, _mm256_set1_pd(4503599627370496.0 + 1023.0)));
    return _mm256_mul_pd(p, _mm256_castsi256_pd(_mm256_slli_epi64(biased, 52)));
}

/// Software prefetch of the block's features, spread over a tile's four loops (a quarter of its bytes each, row by
/// row or sweep by sweep; without it the pass ran at 0.43 of the read bandwidth on the Xeon, 0.6 on Zen 4): the
/// lines from `*cursor` (a byte offset into the block, only moving forward) up to `target` (clamped to the block's
/// `limit` bytes) are requested into L1, and the lines FAR_BYTES further into L2, so that a steady trickle of
/// requests runs NEAR_BYTES (and NEAR_BYTES + FAR_BYTES) ahead of the rows being read.
SHARD_AVX2_INLINE void prefetch_to(const void *base, size_t *cursor, size_t target, size_t limit) {
    const size_t end = target < limit ? target : limit;
    size_t k = *cursor;
    for (; k < end; k += 64) {
        _mm_prefetch((const char *)base + k, _MM_HINT_T0);
        if (k + FAR_BYTES < limit) _mm_prefetch((const char *)base + k + FAR_BYTES, _MM_HINT_T1);
    }
    if (k > *cursor) *cursor = k;
}

/// ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)) of the 8 double lanes lo, hi.
SHARD_AVX2_INLINE double sum8_lanes(__m256d lo, __m256d hi) {
    double lanes[8];
    _mm256_storeu_pd(lanes, lo);
    _mm256_storeu_pd(lanes + 4, hi);
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

// MARK: float32

/// Scores of 8 rows for one class group (4 classes): `packed` holds ceil(cols / 2) vectors
/// [W_j,k  W_j+1,k]_(k = 0…3) (zeros past the last column and the last class), `bias` is [b_k 0]_k.
/// On return score[k] lane r = s_rk.
SHARD_AVX2_INLINE void group_scores_f32(const float *const row[GROUP_ROWS], const float *packed, __m256 bias,
                                        size_t cols, __m256 score[GROUP_CLASSES]) {
    __m256 a[GROUP_ROWS];
    for (int r = 0; r < GROUP_ROWS; r++) a[r] = bias;
    const size_t pairs = cols / 2;
    for (size_t p = 0; p < pairs; p++) {
        const __m256 w = _mm256_load_ps(packed + 8 * p);
        for (int r = 0; r < GROUP_ROWS; r++) {
            double pair;
            memcpy(&pair, row[r] + 2 * p, sizeof pair);
            a[r] = _mm256_fmadd_ps(_mm256_castpd_ps(_mm256_set1_pd(pair)), w, a[r]);
        }
    }
    if (cols % 2) {
        // The odd lanes of the last packed vector are zero: x_r,last lands in the even lanes only.
        const __m256 w = _mm256_load_ps(packed + 8 * pairs);
        for (int r = 0; r < GROUP_ROWS; r++) a[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(row[r] + cols - 1), w, a[r]);
    }
    // hadd: [r0 s0, r0 s1, r1 s0, r1 s1 | r0 s2, r0 s3, r1 s2, r1 s3] for rows (0, 1), (2, 3), ...
    const __m256 h01 = _mm256_hadd_ps(a[0], a[1]), h23 = _mm256_hadd_ps(a[2], a[3]);
    const __m256 h45 = _mm256_hadd_ps(a[4], a[5]), h67 = _mm256_hadd_ps(a[6], a[7]);
    // [r0..r3 s0 | r0..r3 s2], [r0..r3 s1 | r0..r3 s3], and the same for rows 4…7.
    const __m256 even_low = _mm256_shuffle_ps(h01, h23, _MM_SHUFFLE(2, 0, 2, 0));
    const __m256 odd_low = _mm256_shuffle_ps(h01, h23, _MM_SHUFFLE(3, 1, 3, 1));
    const __m256 even_high = _mm256_shuffle_ps(h45, h67, _MM_SHUFFLE(2, 0, 2, 0));
    const __m256 odd_high = _mm256_shuffle_ps(h45, h67, _MM_SHUFFLE(3, 1, 3, 1));
    score[0] = _mm256_permute2f128_ps(even_low, even_high, 0x20);
    score[1] = _mm256_permute2f128_ps(odd_low, odd_high, 0x20);
    score[2] = _mm256_permute2f128_ps(even_low, even_high, 0x31);
    score[3] = _mm256_permute2f128_ps(odd_low, odd_high, 0x31);
}

// MARK: float64

/// Lane r of out[k] = lane k of in[r] (4 × 4).
SHARD_AVX2_INLINE void transpose4_pd(const __m256d in[4], __m256d out[4]) {
    const __m256d t0 = _mm256_unpacklo_pd(in[0], in[1]), t1 = _mm256_unpackhi_pd(in[0], in[1]);
    const __m256d t2 = _mm256_unpacklo_pd(in[2], in[3]), t3 = _mm256_unpackhi_pd(in[2], in[3]);
    out[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    out[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    out[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    out[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

/// Scores of 8 rows for one class group: `packed` holds `cols` vectors [W_jk]_(k = 0…3) (zeros past the last
/// class), `bias` is [b_k]_k. On return low[k] lane r = s_rk (rows 0…3) and high[k] lane r = s_(4+r)k.
SHARD_AVX2_INLINE void group_scores_f64(const double *const row[GROUP_ROWS], const double *packed, __m256d bias,
                                        size_t cols, __m256d low[GROUP_CLASSES], __m256d high[GROUP_CLASSES]) {
    __m256d a[GROUP_ROWS];
    for (int r = 0; r < GROUP_ROWS; r++) a[r] = bias;
    for (size_t j = 0; j < cols; j++) {
        const __m256d w = _mm256_load_pd(packed + 4 * j);
        for (int r = 0; r < GROUP_ROWS; r++) a[r] = _mm256_fmadd_pd(_mm256_broadcast_sd(row[r] + j), w, a[r]);
    }
    transpose4_pd(a, low);
    transpose4_pd(a + 4, high);
}

/// The softmax of one vector of rows (lane r = row r: 8 float or 4 double rows), class vectors at score[k · tile],
/// in two functions, so that the short loops over a tile overlap their long exp and log chains across iterations:
///
///     softmax_exps:    h = max_k s_k,  e_k = exp(s_k − h) into exps[k · tile],  Σ = Σ_k e_k (k ascending)
///     softmax_slopes:  lse = h + log Σ,  w = c_y · (1/Σ),  slope_k = e_k · w − c_y [k = y] replaces e_k,
///                      returns loss = c_y (lse − s_y)
///
/// The exp takes its one-step scaling path (exp_normal_ps / _pd) for all classes when min_k s_k − h >= LIMIT in
/// every lane, else shard_exp_nonpositive_ps / _pd (the same values in double, within about 1 ulp in float). Σ >= 1 (its largest term is
/// exp(0)): the log of a normal number. c_y is gathered for the lanes of `valid` (labels that are class indices,
/// rows inside the tile) and is 0 elsewhere, which zeroes their loss and slopes.
#define DEFINE_SOFTMAX(SUFFIX, SCALAR, VECTOR, LIMIT, EXP_NORMAL, EXP_FULL, LOG, GATHER, INDEX, SCALE)                 \
    SHARD_AVX2_INLINE void softmax_exps_##SUFFIX(size_t classes, const SCALAR *score, SCALAR *exps, size_t tile,      \
                                                 VECTOR *high_out, VECTOR *sum_out) {                                 \
        VECTOR high = _mm256_load_##SUFFIX(score), low = high;                                                         \
        for (size_t k = 1; k < classes; k++) {                                                                         \
            const VECTOR s = _mm256_load_##SUFFIX(score + k * tile);                                                   \
            high = _mm256_max_##SUFFIX(high, s);                                                                       \
            low = _mm256_min_##SUFFIX(low, s);                                                                         \
        }                                                                                                              \
        const VECTOR far = _mm256_cmp_##SUFFIX(_mm256_sub_##SUFFIX(low, high), _mm256_set1_##SUFFIX(LIMIT), _CMP_LT_OQ); \
        const int one_step = !_mm256_movemask_##SUFFIX(far);                                                           \
        VECTOR sum = _mm256_setzero_##SUFFIX();                                                                        \
        for (size_t k = 0; k < classes; k++) {                                                                         \
            const VECTOR exponent = _mm256_sub_##SUFFIX(_mm256_load_##SUFFIX(score + k * tile), high);                 \
            const VECTOR e = one_step ? EXP_NORMAL(exponent) : EXP_FULL(exponent);                                     \
            _mm256_store_##SUFFIX(exps + k * tile, e);                                                                 \
            sum = _mm256_add_##SUFFIX(sum, e);                                                                         \
        }                                                                                                              \
        *high_out = high;                                                                                              \
        *sum_out = sum;                                                                                                \
    }                                                                                                                  \
                                                                                                                       \
    SHARD_AVX2_INLINE VECTOR softmax_slopes_##SUFFIX(size_t classes, const SCALAR *score, SCALAR *exps, size_t tile,  \
                                                     VECTOR high, VECTOR sum, VECTOR y, const SCALAR *class_weight,   \
                                                     VECTOR valid) {                                                  \
        const VECTOR zero = _mm256_setzero_##SUFFIX();                                                                 \
        const VECTOR weight = GATHER(zero, class_weight, INDEX(y), valid, SCALE);                                      \
        const VECTOR log_sum_exp = _mm256_add_##SUFFIX(high, LOG(sum, 0, zero));                                       \
        const VECTOR w = _mm256_mul_##SUFFIX(weight, _mm256_div_##SUFFIX(_mm256_set1_##SUFFIX(1.0), sum));             \
        VECTOR target = zero;                                                                                          \
        for (size_t k = 0; k < classes; k++) {                                                                         \
            const VECTOR is_target = _mm256_cmp_##SUFFIX(y, _mm256_set1_##SUFFIX((SCALAR)k), _CMP_EQ_OQ);              \
            target = _mm256_or_##SUFFIX(target, _mm256_and_##SUFFIX(is_target, _mm256_load_##SUFFIX(score + k * tile))); \
            const VECTOR e = _mm256_load_##SUFFIX(exps + k * tile);                                                    \
            _mm256_store_##SUFFIX(exps + k * tile,                                                                     \
                                  _mm256_sub_##SUFFIX(_mm256_mul_##SUFFIX(e, w), _mm256_and_##SUFFIX(is_target, weight))); \
        }                                                                                                              \
        return _mm256_mul_##SUFFIX(weight, _mm256_sub_##SUFFIX(log_sum_exp, target));                                 \
    }

DEFINE_SOFTMAX(ps, float, __m256, -87.0f, exp_normal_ps, shard_exp_nonpositive_ps, shard_log_normal_ps,
               _mm256_mask_i32gather_ps, _mm256_cvttps_epi32, 4)
DEFINE_SOFTMAX(pd, double, __m256d, -708.0, exp_normal_pd, shard_exp_nonpositive_pd, shard_log_normal_pd,
               _mm256_mask_i32gather_pd, _mm256_cvttpd_epi32, 8)

/// acc[k·stride + j] += Σ_i slope[k·tile + i] x_ij for `count` rows, NQ classes and NCH chunks of WIDTH columns
/// starting at `x` (row stride `cols`), in the lanes of the storage type; the last chunk is loaded with
/// `last_mask` when MASKED, else whole (its lanes past the last column then read the next row: they only reach the
/// accumulators of padding columns, which are never read). With at most 4 accumulators (too few to hide the FMA
/// latency) odd rows go to separate ones: acc + (Σ even rows) + (Σ odd rows). Defined for float
/// (gradient_sweep_f32) and double (gradient_sweep_f64).
#define SWEEP_LAST_LOAD(SUFFIX, ADDRESS) \
    (MASKED ? _mm256_maskload_##SUFFIX(ADDRESS, last_mask) : _mm256_loadu_##SUFFIX(ADDRESS))
#define DEFINE_GRADIENT_SWEEP(NAME, SCALAR, VECTOR, WIDTH, SUFFIX, BROADCAST)                                         \
    SHARD_AVX2_INLINE void NAME(const int NQ, const int NCH, const int MASKED, const SCALAR *x, size_t cols,           \
                                const SCALAR *slope, size_t tile, size_t count, __m256i last_mask, SCALAR *acc,        \
                                size_t stride) {                                                                       \
        const int split = NQ * NCH <= 4;                                                                               \
        VECTOR even[SWEEP_CLASSES][SWEEP_CHUNKS], odd[SWEEP_CLASSES][SWEEP_CHUNKS];                                    \
        for (int k = 0; k < NQ; k++) {                                                                                 \
            for (int c = 0; c < NCH; c++) {                                                                            \
                even[k][c] = _mm256_load_##SUFFIX(acc + k * stride + WIDTH * c);                                       \
                odd[k][c] = _mm256_setzero_##SUFFIX();                                                                 \
            }                                                                                                          \
        }                                                                                                              \
        const SCALAR *p = x;                                                                                           \
        size_t i = 0;                                                                                                  \
        if (split) {                                                                                                   \
            for (; i + 2 <= count; i += 2, p += 2 * cols) {                                                            \
                VECTOR x0[SWEEP_CHUNKS], x1[SWEEP_CHUNKS];                                                             \
                for (int c = 0; c < NCH - 1; c++) {                                                                    \
                    x0[c] = _mm256_loadu_##SUFFIX(p + WIDTH * c);                                                      \
                    x1[c] = _mm256_loadu_##SUFFIX(p + cols + WIDTH * c);                                               \
                }                                                                                                      \
                x0[NCH - 1] = SWEEP_LAST_LOAD(SUFFIX, p + WIDTH * (NCH - 1));                                          \
                x1[NCH - 1] = SWEEP_LAST_LOAD(SUFFIX, p + cols + WIDTH * (NCH - 1));                                   \
                for (int k = 0; k < NQ; k++) {                                                                         \
                    const VECTOR s0 = BROADCAST(slope + k * tile + i), s1 = BROADCAST(slope + k * tile + i + 1);        \
                    for (int c = 0; c < NCH; c++) {                                                                    \
                        even[k][c] = _mm256_fmadd_##SUFFIX(s0, x0[c], even[k][c]);                                     \
                        odd[k][c] = _mm256_fmadd_##SUFFIX(s1, x1[c], odd[k][c]);                                       \
                    }                                                                                                  \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
        for (; i < count; i++, p += cols) {                                                                            \
            VECTOR xv[SWEEP_CHUNKS];                                                                                   \
            for (int c = 0; c < NCH - 1; c++) xv[c] = _mm256_loadu_##SUFFIX(p + WIDTH * c);                           \
            xv[NCH - 1] = SWEEP_LAST_LOAD(SUFFIX, p + WIDTH * (NCH - 1));                                              \
            for (int k = 0; k < NQ; k++) {                                                                             \
                const VECTOR s = BROADCAST(slope + k * tile + i);                                                      \
                for (int c = 0; c < NCH; c++) even[k][c] = _mm256_fmadd_##SUFFIX(s, xv[c], even[k][c]);                \
            }                                                                                                          \
        }                                                                                                              \
        for (int k = 0; k < NQ; k++) {                                                                                 \
            for (int c = 0; c < NCH; c++) {                                                                            \
                _mm256_store_##SUFFIX(acc + k * stride + WIDTH * c,                                                    \
                                      split ? _mm256_add_##SUFFIX(even[k][c], odd[k][c]) : even[k][c]);                \
            }                                                                                                          \
        }                                                                                                              \
    }

DEFINE_GRADIENT_SWEEP(gradient_sweep_f32, float, __m256, 8, ps, _mm256_broadcast_ss)
DEFINE_GRADIENT_SWEEP(gradient_sweep_f64, double, __m256d, 4, pd, _mm256_broadcast_sd)

/// gradient_sweep_f32 / _f64 (`single`) with NQ (1…4), NCH (1…2) and MASKED (`masked`) as compile-time constants.
SHARD_AVX2_INLINE void gradient_sweep(const int single, size_t nq, size_t nch, int masked, const void *x, size_t cols,
                                      const void *slope, size_t tile, size_t count, __m256i last_mask, void *grad,
                                      size_t stride) {
#define SWEEP_MASKED(Q, C, M)                                                                                  \
    (single ? gradient_sweep_f32(Q, C, M, x, cols, slope, tile, count, last_mask, grad, stride)                \
            : gradient_sweep_f64(Q, C, M, x, cols, slope, tile, count, last_mask, grad, stride))
#define SWEEP(Q, C) (masked ? SWEEP_MASKED(Q, C, 1) : SWEEP_MASKED(Q, C, 0))
    switch (nq * 4 + nch) {
    case 1 * 4 + 1: SWEEP(1, 1); break;
    case 1 * 4 + 2: SWEEP(1, 2); break;
    case 2 * 4 + 1: SWEEP(2, 1); break;
    case 2 * 4 + 2: SWEEP(2, 2); break;
    case 3 * 4 + 1: SWEEP(3, 1); break;
    case 3 * 4 + 2: SWEEP(3, 2); break;
    case 4 * 4 + 1: SWEEP(4, 1); break;
    default: SWEEP(4, 2); break;
    }
#undef SWEEP_MASKED
#undef SWEEP
}

/// The labels of `valid` (at most 8 / 4) rows at y as one vector, 0 past `valid`.
SHARD_AVX2_INLINE __m256 labels_ps(const float *y, size_t valid) {
    if (valid == 8) return _mm256_loadu_ps(y);
    float padded[8] = {0};
    memcpy(padded, y, valid * sizeof(float));
    return _mm256_loadu_ps(padded);
}

SHARD_AVX2_INLINE __m256d labels_pd(const double *y, size_t valid) {
    if (valid == 4) return _mm256_loadu_pd(y);
    double padded[4] = {0};
    memcpy(padded, y, valid * sizeof(double));
    return _mm256_loadu_pd(padded);
}

/// One block (see the file comment); `single`: float32 storage. FIXED_CLASSES is K when it is a
/// compile-time constant (the loops over classes are then unrolled), else 0.
SHARD_AVX2_INLINE size_t softmax_pass(const int single, const int FIXED_CLASSES, size_t runtime_classes,
                                      const double *class_weights, const void *x_any, const void *y_any, size_t rows,
                                      size_t cols, const double *theta, double *out) {
    const size_t classes = FIXED_CLASSES ? (size_t)FIXED_CLASSES : runtime_classes;
    const size_t class_groups = (classes + GROUP_CLASSES - 1) / GROUP_CLASSES;
    const size_t value_bytes = single ? sizeof(float) : sizeof(double);
    const size_t lanes = single ? 8 : 4;  // values per vector
    // float32: column pairs [W_jk W_(j+1)k]; float64: columns [W_jk]; one 32-byte vector each, per class group.
    const size_t packed_vectors = single ? (cols + 1) / 2 : cols;
    const size_t padded_cols = (cols + lanes - 1) / lanes * lanes;
    const size_t tile = softmax_tile_rows(cols, value_bytes);

    // Scratch, in 32-byte vectors: packed weights and biases, class weights; per tile the scores, the
    // exponentials (then the slopes), h and Σ of each row; the gradient sums (double, class-major, D padded to
    // whole vectors), float32 only: the tile's gradient sums in float; the bias sums (2 double vectors per class).
    const size_t tile_vectors = tile * value_bytes / 32;
    const size_t vectors = 8 + class_groups * (packed_vectors + 1) + (classes * value_bytes + 31) / 32 +
                           (2 * classes + 2) * tile_vectors + classes * padded_cols / 4 + classes * padded_cols / 8 +
                           2 * classes;
    void *memory = aligned_alloc(32, 32 * vectors);
    if (!memory) return SHARDTRAIN_UNSUPPORTED;
    scratch_cursor cursor = {memory};
    void *packed = take(&cursor, class_groups * packed_vectors * 32);
    void *bias = take(&cursor, class_groups * 32);
    void *class_weight = take(&cursor, classes * value_bytes);
    char *scores = take(&cursor, classes * tile_vectors * 32);
    char *slopes = take(&cursor, classes * tile_vectors * 32);
    char *highs = take(&cursor, tile_vectors * 32);
    char *sums = take(&cursor, tile_vectors * 32);
    double *gradient = take(&cursor, classes * padded_cols * sizeof(double));
    // float32: the tile's gradient sums in float; float64: the gradient sums themselves.
    void *accumulators = single ? take(&cursor, classes * padded_cols * sizeof(float)) : gradient;
    __m256d *bias_sums = take(&cursor, 2 * classes * sizeof(__m256d));

    for (size_t g = 0; g < class_groups; g++) {
        for (size_t v = 0; v < packed_vectors; v++) {
            for (size_t lane = 0; lane < lanes; lane++) {
                // float32 lane 2k + p: class k, column 2v + p; float64 lane k: class k, column v.
                const size_t k = g * GROUP_CLASSES + (single ? lane / 2 : lane), j = single ? 2 * v + lane % 2 : v;
                const double w = k < classes && j < cols ? theta[j * classes + k] : 0.0;
                if (single) {
                    ((float *)packed)[(g * packed_vectors + v) * 8 + lane] = (float)w;
                } else {
                    ((double *)packed)[(g * packed_vectors + v) * 4 + lane] = w;
                }
            }
        }
        for (size_t lane = 0; lane < lanes; lane++) {
            const size_t k = g * GROUP_CLASSES + (single ? lane / 2 : lane);
            const double b = k < classes && (!single || lane % 2 == 0) ? theta[cols * classes + k] : 0.0;
            if (single) {
                ((float *)bias)[g * 8 + lane] = (float)b;
            } else {
                ((double *)bias)[g * 4 + lane] = b;
            }
        }
    }
    for (size_t k = 0; k < classes; k++) {
        const double c = class_weights ? class_weights[k] : 1.0;
        if (single) {
            ((float *)class_weight)[k] = (float)c;
        } else {
            ((double *)class_weight)[k] = c;
        }
    }
    for (size_t k = 0; k < classes * padded_cols; k++) gradient[k] = 0.0;
    if (single) {
        for (size_t k = 0; k < classes * padded_cols; k++) ((float *)accumulators)[k] = 0.0f;
    }
    const __m256d zero = _mm256_setzero_pd();
    for (size_t k = 0; k < 2 * classes; k++) bias_sums[k] = zero;
    __m256d loss_sums[2] = {zero, zero}, invalid = zero;
    const __m256i col_tail_mask =
        single ? tail_mask_epi32(cols % 8 ? cols % 8 : 8) : tail_mask_epi64(cols % 4 ? cols % 4 : 4);
    const size_t feature_bytes = rows * cols * value_bytes;
    size_t prefetched = 0;
    const size_t chunks = padded_cols / lanes;
    const float *xf = x_any, *yf = y_any;
    const double *xd = x_any, *yd = y_any;

    for (size_t start = 0; start < rows; start += tile) {
        const size_t count = rows - start < tile ? rows - start : tile;
        shard_prefetch_labels(y_any, start, tile, rows, value_bytes);
        // Prefetch targets: NEAR_BYTES past this tile's start, plus a quarter of its bytes per loop.
        const size_t ahead = start * cols * value_bytes + NEAR_BYTES, tile_bytes = count * cols * value_bytes;
        // 1. scores[k · tile + i], 8 rows at a time (rows past `count` repeat the last row).
        for (size_t g = 0; g < count; g += GROUP_ROWS) {
            const size_t valid = count - g < GROUP_ROWS ? count - g : GROUP_ROWS;
            const size_t first = start + g;
            prefetch_to(x_any, &prefetched, ahead + (g + valid) * tile_bytes / (4 * count), feature_bytes);
            for (size_t c = 0; c < class_groups; c++) {
                const size_t in_group = classes - c * GROUP_CLASSES < GROUP_CLASSES ? classes - c * GROUP_CLASSES : GROUP_CLASSES;
                if (single) {
                    const float *row[GROUP_ROWS];
                    for (size_t r = 0; r < GROUP_ROWS; r++) row[r] = xf + (first + (r < valid ? r : valid - 1)) * cols;
                    __m256 group[GROUP_CLASSES];
                    group_scores_f32(row, (const float *)packed + c * packed_vectors * 8,
                                     _mm256_load_ps((const float *)bias + 8 * c), cols, group);
                    for (size_t k = 0; k < in_group; k++) {
                        _mm256_store_ps((float *)scores + (c * GROUP_CLASSES + k) * tile + g, group[k]);
                    }
                } else {
                    const double *row[GROUP_ROWS];
                    for (size_t r = 0; r < GROUP_ROWS; r++) row[r] = xd + (first + (r < valid ? r : valid - 1)) * cols;
                    __m256d low[GROUP_CLASSES], high[GROUP_CLASSES];
                    group_scores_f64(row, (const double *)packed + c * packed_vectors * 4,
                                     _mm256_load_pd((const double *)bias + 4 * c), cols, low, high);
                    for (size_t k = 0; k < in_group; k++) {
                        _mm256_store_pd((double *)scores + (c * GROUP_CLASSES + k) * tile + g, low[k]);
                        _mm256_store_pd((double *)scores + (c * GROUP_CLASSES + k) * tile + g + 4, high[k]);
                    }
                }
            }
        }
        // 2. h, the exponentials (into slopes) and Σ of each row, one vector of rows at a time.
        for (size_t v = 0; v < count; v += lanes) {
            const size_t done = v + lanes < count ? v + lanes : count;
            prefetch_to(x_any, &prefetched, ahead + tile_bytes / 4 + done * tile_bytes / (4 * count), feature_bytes);
            if (single) {
                softmax_exps_ps(classes, (const float *)scores + v, (float *)slopes + v, tile, (__m256 *)(highs + 4 * v),
                                (__m256 *)(sums + 4 * v));
            } else {
                softmax_exps_pd(classes, (const double *)scores + v, (double *)slopes + v, tile,
                                (__m256d *)(highs + 8 * v), (__m256d *)(sums + 8 * v));
            }
        }
        // 3. slopes[k · tile + i] (replacing the exponentials) and the losses, 8 rows (1 float or 2 double vectors)
        //    at a time; then the tile's bias sums Σ_i slope_ik in the same lanes.
        __m256 tile_loss = _mm256_setzero_ps();
        for (size_t g = 0; g < count; g += GROUP_ROWS) {
            const size_t done = g + GROUP_ROWS < count ? g + GROUP_ROWS : count;
            prefetch_to(x_any, &prefetched, ahead + tile_bytes / 2 + done * tile_bytes / (4 * count), feature_bytes);
            if (single) {
                const size_t valid = count - g < 8 ? count - g : 8;
                const __m256 labels = labels_ps(yf + start + g, valid);
                const __m256 outside = invalid_classes_ps(labels, classes);
                invalid = _mm256_or_pd(invalid, _mm256_castps_pd(outside));
                const __m256 use = _mm256_andnot_ps(outside, _mm256_castsi256_ps(tail_mask_epi32(valid)));
                const __m256 loss = softmax_slopes_ps(classes, (const float *)scores + g, (float *)slopes + g, tile,
                                                      _mm256_load_ps((const float *)(highs + 4 * g)),
                                                      _mm256_load_ps((const float *)(sums + 4 * g)), labels,
                                                      class_weight, use);
                tile_loss = _mm256_add_ps(tile_loss, loss);
                continue;
            }
            for (size_t h = 0; h < 2 && g + 4 * h < count; h++) {
                const size_t v = g + 4 * h, valid = count - v < 4 ? count - v : 4;
                const __m256d labels = labels_pd(yd + start + v, valid);
                const __m256d outside = invalid_classes_pd(labels, classes);
                invalid = _mm256_or_pd(invalid, outside);
                const __m256d use = _mm256_andnot_pd(outside, _mm256_castsi256_pd(tail_mask_epi64(valid)));
                const __m256d loss = softmax_slopes_pd(classes, (const double *)scores + v, (double *)slopes + v, tile,
                                                       _mm256_load_pd((const double *)(highs + 8 * v)),
                                                       _mm256_load_pd((const double *)(sums + 8 * v)), labels,
                                                       class_weight, use);
                loss_sums[h] = _mm256_add_pd(loss_sums[h], loss);
            }
        }
        for (size_t k = 0; k < classes; k++) {
            __m256d tile_bias[2] = {zero, zero};
            if (single) {
                __m256 lanes = _mm256_setzero_ps();
                for (size_t g = 0; g < count; g += 8) lanes = _mm256_add_ps(lanes, _mm256_load_ps((const float *)slopes + k * tile + g));
                tile_bias[0] = _mm256_cvtps_pd(_mm256_castps256_ps128(lanes));
                tile_bias[1] = _mm256_cvtps_pd(_mm256_extractf128_ps(lanes, 1));
            } else {
                for (size_t v = 0; v < count; v += 4) {
                    tile_bias[(v / 4) % 2] = _mm256_add_pd(tile_bias[(v / 4) % 2], _mm256_load_pd((const double *)slopes + k * tile + v));
                }
            }
            bias_sums[2 * k] = _mm256_add_pd(bias_sums[2 * k], tile_bias[0]);
            bias_sums[2 * k + 1] = _mm256_add_pd(bias_sums[2 * k + 1], tile_bias[1]);
        }
        // 4. the tile's gradient sums, up to SWEEP_CLASSES × SWEEP_CHUNKS accumulators per sweep over its rows.
        //    The last chunk is loaded with the column mask only where a whole vector would read past the block.
        const char *tile_x = (const char *)x_any + start * cols * value_bytes;
        const int past_block = (start + count - 1) * cols + padded_cols > rows * cols;
        for (size_t c0 = 0; c0 < chunks; c0 += SWEEP_CHUNKS) {
            const size_t nch = chunks - c0 < SWEEP_CHUNKS ? chunks - c0 : SWEEP_CHUNKS;
            const int masked = c0 + nch == chunks && past_block;
            for (size_t k0 = 0; k0 < classes; k0 += SWEEP_CLASSES) {
                const size_t nq = classes - k0 < SWEEP_CLASSES ? classes - k0 : SWEEP_CLASSES;
                prefetch_to(x_any, &prefetched,
                            ahead + 3 * tile_bytes / 4 + (c0 * classes + k0 + nq * nch) * tile_bytes / (4 * chunks * classes),
                            feature_bytes);
                gradient_sweep(single, nq, nch, masked, tile_x + c0 * lanes * value_bytes, cols,
                               slopes + k0 * tile * value_bytes, tile, count, col_tail_mask,
                               (char *)accumulators + (k0 * padded_cols + c0 * lanes) * value_bytes, padded_cols);
            }
        }
        if (single) {
            loss_sums[0] = _mm256_add_pd(loss_sums[0], _mm256_cvtps_pd(_mm256_castps256_ps128(tile_loss)));
            loss_sums[1] = _mm256_add_pd(loss_sums[1], _mm256_cvtps_pd(_mm256_extractf128_ps(tile_loss, 1)));
            // The tile's float gradient sums, added to the double sums.
            float *tile_gradient = accumulators;
            for (size_t j = 0; j < classes * padded_cols; j += 8) {
                const __m256 part = _mm256_load_ps(tile_gradient + j);
                _mm256_store_pd(gradient + j, _mm256_add_pd(_mm256_load_pd(gradient + j), _mm256_cvtps_pd(_mm256_castps256_ps128(part))));
                _mm256_store_pd(gradient + j + 4, _mm256_add_pd(_mm256_load_pd(gradient + j + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(part, 1))));
                _mm256_store_ps(tile_gradient + j, _mm256_setzero_ps());
            }
        }
    }

    out[0] = sum8_lanes(loss_sums[0], loss_sums[1]);
    for (size_t d = 0; d < cols; d++) {
        for (size_t k = 0; k < classes; k++) out[1 + d * classes + k] = gradient[k * padded_cols + d];
    }
    for (size_t k = 0; k < classes; k++) out[1 + cols * classes + k] = sum8_lanes(bias_sums[2 * k], bias_sums[2 * k + 1]);
    free(memory);
    // Any set bit: the float32 masks are 32-bit lanes.
    if (_mm256_testz_si256(_mm256_castpd_si256(invalid), _mm256_castpd_si256(invalid))) return rows;
    return first_invalid_label(single ? yf : NULL, single ? NULL : yd, rows, classes);
}

/// softmax_pass with K = 2, 3, 4 as compile-time constants.
SHARD_AVX2_INLINE size_t softmax_dispatch(const int single, size_t classes, const double *class_weights, const void *x,
                                          const void *y, size_t rows, size_t cols, const double *parameters,
                                          double *out) {
    switch (classes) {
    case 2: return softmax_pass(single, 2, classes, class_weights, x, y, rows, cols, parameters, out);
    case 3: return softmax_pass(single, 3, classes, class_weights, x, y, rows, cols, parameters, out);
    case 4: return softmax_pass(single, 4, classes, class_weights, x, y, rows, cols, parameters, out);
    default: return softmax_pass(single, 0, classes, class_weights, x, y, rows, cols, parameters, out);
    }
}

SHARD_AVX2 size_t shardtrain_softmax_sums_f32_avx2(size_t classes, const double *class_weights, const float *x,
                                                   const float *y, size_t rows, size_t cols, const double *parameters,
                                                   double *out) {
    return softmax_dispatch(1, classes, class_weights, x, y, rows, cols, parameters, out);
}

SHARD_AVX2 size_t shardtrain_softmax_sums_f64_avx2(size_t classes, const double *class_weights, const double *x,
                                                   const double *y, size_t rows, size_t cols, const double *parameters,
                                                   double *out) {
    return softmax_dispatch(0, classes, class_weights, x, y, rows, cols, parameters, out);
}

#endif
