// Block sums of softmax regression (SHARDTRAIN_LINEAR_SOFTMAX of shardtrain_linear_sums_f32/_f64; the math and
// the layout of `out` are in CShardKernels.h), in AVX2+FMA, or with all four stages below in AVX-512
// (softmax_avx512.c) on a CPU that has it: the entry points _avx2 and _avx512 share this tile walk. With AVX-512 the
// same walk serves the pinball loss at Q levels (shardtrain_pinball_sums_f32/_f64_avx512: the Q scores per row are
// computed like K class scores, stages 2 and 3 give the pinball loss and slopes instead).
//
// The block is walked in tiles of T rows (softmax_tile_rows: about 8 KiB of features, a multiple of 8 (AVX-512
// float32: 16), at most 64); K classes are handled in class groups of 4. Per tile, four loops, each short enough
// that the processor overlaps its iterations (a fused loop was slower: its exp, log and division chains stalled it):
//   1. Scores, 8 rows at a time, class group by class group, with the 4 classes side by side in the lanes
//      (no weight is multiplied by a padding lane), one accumulator per row (8 FMA chains side by side):
//        float32: lane 2k + p of row r = b_k [p = 0] + Σ_{j ≡ p (mod 2)} x_rj W_jk (float), the columns
//                 (x_rj, x_r,j+1) broadcast as one 8-byte pair against the packed [W_jk, W_(j+1)k]_k (an
//                 odd last column alone, against zeros in the odd lanes); s_rk = lane 2k + lane 2k + 1 (hadd),
//                 then rearranged so that lane r of class vector k is s_rk;
//        float64: lane k = b_k + Σ_j x_rj W_jk (x_rj broadcast), then a 4 × 4 transpose per 4 rows.
//      AVX-512 takes 4 (float32) or 2 (float64) columns per class and lane group: lane 4k + p (2k + p) sums the
//      columns j ≡ p, then (p0 + p2) + (p1 + p3) (p0 + p1).
//      Stored class-major: scores[k · T + i].
//   2. With the rows in the lanes (8 float or 4 double rows per vector; AVX-512: 16 or 8): h = max_k s_k,
//      e_k = exp(s_k − h), Σ = Σ_k e_k (k ascending); the exp's one-step path when min_k s_k − h stays in the
//      normal range.
//   3. lse = h + log Σ, w = c_y · (1/Σ), slope_k = e_k · w − c_y [k = y] (class-major, over the e_k),
//      loss = c_y (lse − s_y), with c_y gathered (0 for a label outside 0…K−1 and past the tile's last row,
//      which zeroes loss and slopes; such labels are located after the block). Both widths use the same
//      formulas; AVX-512 scales every exp by 2^n in one step (scalef), so where a score lies far below its row's
//      maximum (float32: by more than 87; float64: near the underflow at −745) an exp can differ by about 1 ulp.
//   4. Σ_i slope_ik x_i over the tile, row by row, up to 4 classes × 2 column chunks (8 floats or 4 doubles;
//      AVX-512: 3 chunks of 16 or 8) per sweep: each x chunk is loaded once per row and multiplied by the broadcast
//      slopes of the classes.
// float32 computes in float (W, b and c rounded to float; the one-step exp of simd_math_f64.h, else the float exp
// of simd_math.h, and the float log of simd_math_f64.h) and sums the gradient, the loss and the bias sums in float
// lanes within a tile, added to double sums per tile; float64 computes and sums in double. The loss and each bias
// sum end in 8 double lanes (lane r: rows ≡ r mod 8), added as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)).
// Every summation order depends only on (rows, cols, K) and the vector width.
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

/// Rows per tile: about 8 KiB of features, a multiple of `group` rows (a power of 2), between `group` and
/// MAX_SOFTMAX_TILE_ROWS.
static size_t softmax_tile_rows(size_t cols, size_t bytes_per_value, size_t group) {
    size_t fit = 8192 / (cols * bytes_per_value + 1);
    fit &= ~(group - 1);
    if (fit < group) return group;
    return fit > MAX_SOFTMAX_TILE_ROWS ? MAX_SOFTMAX_TILE_ROWS : fit;
}

/// Carves 64-byte aligned pieces out of one allocation.
typedef struct {
    char *next;
} scratch_cursor;

static void *take(scratch_cursor *cursor, size_t bytes) {
    void *piece = cursor->next;
    cursor->next += (bytes + 63) & ~(size_t)63;
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

/// The first row whose label is not a class index in 0…K−1 (pinball: not finite), or `rows`.
static size_t first_invalid_label(const float *yf, const double *yd, size_t rows, size_t classes, int pinball) {
    for (size_t i = 0; i < rows; i++) {
        const double y = yf ? (double)yf[i] : yd[i];
        if (pinball ? !isfinite(y) : !(y >= 0 && y < (double)classes && trunc(y) == y)) return i;
    }
    return rows;
}

/// The loss of a pass: softmax with its class weights (NULL: all 1), or, with AVX-512 only, pinball at `levels`
/// with smoothing μ (see shard_pinball_tile_f32_avx512).
typedef struct {
    int pinball;
    const double *class_weights;
    const double *levels;
    double smoothing;
} multi_output_loss;

/// The exponentials' one-step path (simd_math_f64.h).
SHARD_DEFINE_EXP_NONPOSITIVE_PS(exp_normal_ps, SHARD_AVX2_INLINE, 256, SHARD_SCALE_NORMAL_PS)
SHARD_DEFINE_EXP_NONPOSITIVE_PD(exp_normal_pd, SHARD_AVX2_INLINE, 256, shard_exp_reduced_pd, SHARD_SCALE_NORMAL_PD)

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

/// Stage 4 in AVX2 (SHARD_DEFINE_SOFTMAX_SWEEP): the last chunk is loaded with `last_mask` when MASKED, else whole
/// (its lanes past the last column then read the next row: they only reach the accumulators of padding columns,
/// which are never read).
#define SWEEP_LAST_LOAD(SUFFIX, ADDRESS) \
    (MASKED ? _mm256_maskload_##SUFFIX(ADDRESS, last_mask) : _mm256_loadu_##SUFFIX(ADDRESS))
SHARD_DEFINE_SOFTMAX_SWEEP(gradient_sweep_f32, SHARD_AVX2_INLINE, 256, float, __m256, ps, 8, SWEEP_CHUNKS, __m256i,
                           SWEEP_LAST_LOAD, float, _mm256_load_ps, _mm256_store_ps)
SHARD_DEFINE_SOFTMAX_SWEEP(gradient_sweep_f64, SHARD_AVX2_INLINE, 256, double, __m256d, pd, 4, SWEEP_CHUNKS, __m256i,
                           SWEEP_LAST_LOAD, double, _mm256_load_pd, _mm256_store_pd)

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

/// One block (see the file comment); `single`: float32 storage; WIDE: all stages in AVX-512 (softmax_avx512.c).
/// FIXED_CLASSES is K when it is a compile-time constant (the loops over classes are then unrolled), else 0. With
/// AVX-512 the pass also serves the pinball loss (`loss->pinball`): K is then the number of levels Q, and stages 2
/// and 3 are shard_pinball_tile_f32/_f64_avx512.
SHARD_AVX2_INLINE size_t softmax_pass(const int single, const int WIDE, const int FIXED_CLASSES, size_t runtime_classes,
                                      const multi_output_loss *loss, const void *x_any, const void *y_any, size_t rows,
                                      size_t cols, const double *theta, double *out) {
    const size_t classes = FIXED_CLASSES ? (size_t)FIXED_CLASSES : runtime_classes;
    const size_t class_groups = (classes + GROUP_CLASSES - 1) / GROUP_CLASSES;
    const size_t value_bytes = single ? sizeof(float) : sizeof(double);
    const size_t lanes = single ? 8 : 4;  // values per AVX2 vector (stages 2 and 3: rows in the lanes)
    // Stages 1 and 4 work in vectors of `vector_bytes`: the gradient in chunks of `width` columns; the scores of a
    // class group with `phases` columns side by side per class (packed lane k · phases + p: class k, column
    // v · phases + p), for `score_rows` rows per call.
    const size_t vector_bytes = WIDE ? 64 : 32, width = vector_bytes / value_bytes;
    const size_t phases = width / GROUP_CLASSES, score_rows = WIDE && single ? 16 : GROUP_ROWS;
    const size_t packed_vectors = (cols + phases - 1) / phases;
    const size_t padded_cols = (cols + width - 1) / width * width;
    const size_t tile = softmax_tile_rows(cols, value_bytes, score_rows);

    // Scratch: packed weights and biases, class weights (pinball: 5 constants per level, then μ, 2μ, 1/Q); per tile
    // the scores, the exponentials (then the slopes),
    // h and Σ of each row; the gradient sums (double, class-major, D padded to whole vectors), float32 only: the
    // tile's gradient sums in float; the bias sums (2 double vectors per class). Each piece 64-byte aligned.
    const size_t tile_bytes_per_class = tile * value_bytes;
    const size_t pieces[] = {class_groups * packed_vectors * vector_bytes, class_groups * vector_bytes,
                             (loss->pinball ? 5 * classes + 3 : classes) * value_bytes,
                             classes * tile_bytes_per_class, classes * tile_bytes_per_class,
                             tile_bytes_per_class, tile_bytes_per_class, classes * padded_cols * sizeof(double),
                             single && !WIDE ? classes * padded_cols * sizeof(float) : 0, 2 * classes * sizeof(__m256d),
                             WIDE ? (classes + 1) * 8 * value_bytes : 0};
    size_t scratch_bytes = 0;
    for (size_t p = 0; p < sizeof pieces / sizeof pieces[0]; p++) scratch_bytes += (pieces[p] + 63) & ~(size_t)63;
    void *memory = aligned_alloc(64, scratch_bytes);
    if (!memory) return SHARDTRAIN_UNSUPPORTED;
    scratch_cursor cursor = {memory};
    void *packed = take(&cursor, pieces[0]);
    void *bias = take(&cursor, pieces[1]);
    void *class_weight = take(&cursor, pieces[2]);
    char *scores = take(&cursor, pieces[3]);
    char *slopes = take(&cursor, pieces[4]);
    char *highs = take(&cursor, pieces[5]);
    char *sums = take(&cursor, pieces[6]);
    double *gradient = take(&cursor, pieces[7]);
    // float32 with AVX2: the tile's gradient sums in float; else the gradient sums themselves.
    void *accumulators = single && !WIDE ? take(&cursor, pieces[8]) : gradient;
    __m256d *bias_sums = take(&cursor, pieces[9]);
    // WIDE: the tile's loss and bias sums in 8 lanes each (shard_softmax_tile_f32_avx512 / _f64_avx512).
    void *tile_lanes = take(&cursor, pieces[10]);

    for (size_t g = 0; g < class_groups; g++) {
        for (size_t v = 0; v < packed_vectors; v++) {
            for (size_t lane = 0; lane < width; lane++) {
                const size_t k = g * GROUP_CLASSES + lane / phases, j = v * phases + lane % phases;
                const double w = k < classes && j < cols ? theta[j * classes + k] : 0.0;
                if (single) {
                    ((float *)packed)[(g * packed_vectors + v) * width + lane] = (float)w;
                } else {
                    ((double *)packed)[(g * packed_vectors + v) * width + lane] = w;
                }
            }
        }
        for (size_t lane = 0; lane < width; lane++) {
            const size_t k = g * GROUP_CLASSES + lane / phases;
            const double b = k < classes && lane % phases == 0 ? theta[cols * classes + k] : 0.0;
            if (single) {
                ((float *)bias)[g * width + lane] = (float)b;
            } else {
                ((double *)bias)[g * width + lane] = b;
            }
        }
    }
    const size_t constants = loss->pinball ? 5 * classes + 3 : classes;
    for (size_t k = 0; k < constants; k++) {
        double c = loss->class_weights ? loss->class_weights[k] : 1.0;
        if (loss->pinball) {
            // τ, τμ, −(1 − τ)μ, τ·τμ/2, (1 − τ)·(−(1 − τ)μ)/2 per level (as linear_losses_avx2.c), then μ, 2μ, 1/Q.
            const double mu = loss->smoothing, tau = k < 5 * classes ? loss->levels[k / 5] : 0.0;
            const double constant[] = {tau, tau * mu, -(1 - tau) * mu, tau * (tau * mu) / 2,
                                       (1 - tau) * (-(1 - tau) * mu) / 2};
            c = k < 5 * classes ? constant[k % 5] : k == 5 * classes ? mu : k == 5 * classes + 1 ? 2 * mu : 1 / (double)classes;
        }
        if (single) {
            ((float *)class_weight)[k] = (float)c;
        } else {
            ((double *)class_weight)[k] = c;
        }
    }
    for (size_t k = 0; k < classes * padded_cols; k++) gradient[k] = 0.0;
    if (single && !WIDE) {
        for (size_t k = 0; k < classes * padded_cols; k++) ((float *)accumulators)[k] = 0.0f;
    }
    const __m256d zero = _mm256_setzero_pd();
    for (size_t k = 0; k < 2 * classes; k++) bias_sums[k] = zero;
    __m256d loss_sums[2] = {zero, zero}, invalid = zero;
    const __m256i col_tail_mask =
        single ? tail_mask_epi32(cols % 8 ? cols % 8 : 8) : tail_mask_epi64(cols % 4 ? cols % 4 : 4);
    const size_t feature_bytes = rows * cols * value_bytes;
    size_t prefetched = 0;
    const size_t chunks = padded_cols / width, last_columns = cols - (chunks ? chunks - 1 : 0) * width;
    const float *xf = x_any, *yf = y_any;
    const double *xd = x_any, *yd = y_any;

    for (size_t start = 0; start < rows; start += tile) {
        const size_t count = rows - start < tile ? rows - start : tile;
        shard_prefetch_labels(y_any, start, tile, rows, value_bytes);
        // Prefetch targets: NEAR_BYTES past this tile's start, plus a quarter of its bytes per loop.
        const size_t ahead = start * cols * value_bytes + SHARD_SOFTMAX_NEAR_BYTES, tile_bytes = count * cols * value_bytes;
        if (WIDE) {
            // 1. scores[k · tile + i], 2. and 3. in 512-bit vectors of rows.
            if (single) {
                shard_softmax_scores_f32_avx512(xf + start * cols, count, cols, classes, packed, bias, (float *)scores,
                                                tile, x_any, &prefetched, ahead, tile_bytes / 4, feature_bytes);
            } else {
                shard_softmax_scores_f64_avx512(xd + start * cols, count, cols, classes, packed, bias,
                                                (double *)scores, tile, x_any, &prefetched, ahead, tile_bytes / 4,
                                                feature_bytes);
            }
            const size_t stage_bytes = tile_bytes / 4;
            const int smoothed = loss->smoothing > 0;
            const int any_invalid =
                loss->pinball
                    ? (single ? shard_pinball_tile_f32_avx512(smoothed, classes, (const float *)scores, (float *)slopes,
                                                              tile, count, yf + start, class_weight, tile_lanes, x_any,
                                                              &prefetched, ahead + stage_bytes, stage_bytes,
                                                              feature_bytes)
                              : shard_pinball_tile_f64_avx512(smoothed, classes, (const double *)scores,
                                                              (double *)slopes, tile, count, yd + start, class_weight,
                                                              tile_lanes, x_any, &prefetched, ahead + stage_bytes,
                                                              stage_bytes, feature_bytes))
                : single ? shard_softmax_tile_f32_avx512(classes, (const float *)scores, (float *)slopes, tile, count,
                                                       (float *)highs, (float *)sums, yf + start, class_weight,
                                                       tile_lanes, x_any, &prefetched, ahead + stage_bytes,
                                                       stage_bytes, feature_bytes)
                       : shard_softmax_tile_f64_avx512(classes, (const double *)scores, (double *)slopes, tile, count,
                                                       (double *)highs, (double *)sums, yd + start, class_weight,
                                                       tile_lanes, x_any, &prefetched, ahead + stage_bytes,
                                                       stage_bytes, feature_bytes);
            if (any_invalid) invalid = _mm256_castsi256_pd(_mm256_set1_epi32(-1));
            // The tile's loss and bias sums: 8 lanes each (lane r: the rows ≡ r mod 8, in row order).
            for (size_t k = 0; k <= classes; k++) {
                __m256d low, high;
                if (single) {
                    const __m256 lanes8 = _mm256_load_ps((const float *)tile_lanes + 8 * k);
                    low = _mm256_cvtps_pd(_mm256_castps256_ps128(lanes8));
                    high = _mm256_cvtps_pd(_mm256_extractf128_ps(lanes8, 1));
                } else {
                    low = _mm256_load_pd((const double *)tile_lanes + 8 * k);
                    high = _mm256_load_pd((const double *)tile_lanes + 8 * k + 4);
                }
                __m256d *sum = k == 0 ? loss_sums : bias_sums + 2 * (k - 1);
                sum[0] = _mm256_add_pd(sum[0], low);
                sum[1] = _mm256_add_pd(sum[1], high);
            }
        } else {
            // 1. scores[k · tile + i], 8 rows at a time (rows past `count` repeat the last row).
            for (size_t g = 0; g < count; g += GROUP_ROWS) {
                const size_t valid = count - g < GROUP_ROWS ? count - g : GROUP_ROWS;
                const size_t first = start + g;
                shard_softmax_prefetch_to(x_any, &prefetched, ahead + (g + valid) * tile_bytes / (4 * count), feature_bytes);
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
            __m256 tile_loss = _mm256_setzero_ps();
            // 2. h, the exponentials (into slopes) and Σ of each row, one vector of rows at a time.
            for (size_t v = 0; v < count; v += lanes) {
                const size_t done = v + lanes < count ? v + lanes : count;
                shard_softmax_prefetch_to(x_any, &prefetched, ahead + tile_bytes / 4 + done * tile_bytes / (4 * count), feature_bytes);
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
            for (size_t g = 0; g < count; g += GROUP_ROWS) {
                const size_t done = g + GROUP_ROWS < count ? g + GROUP_ROWS : count;
                shard_softmax_prefetch_to(x_any, &prefetched, ahead + tile_bytes / 2 + done * tile_bytes / (4 * count), feature_bytes);
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
            if (single) {
                loss_sums[0] = _mm256_add_pd(loss_sums[0], _mm256_cvtps_pd(_mm256_castps256_ps128(tile_loss)));
                loss_sums[1] = _mm256_add_pd(loss_sums[1], _mm256_cvtps_pd(_mm256_extractf128_ps(tile_loss, 1)));
            }
        }
        // 4. the tile's gradient sums, up to SWEEP_CLASSES × `sweep_chunks` accumulators per sweep over its rows.
        //    AVX2 loads the last chunk with the column mask only where a whole vector would read past the block;
        //    AVX-512 always masks it.
        const char *tile_x = (const char *)x_any + start * cols * value_bytes;
        const int past_block = (start + count - 1) * cols + padded_cols > rows * cols;
        const size_t sweep_chunks = WIDE ? 3 : SWEEP_CHUNKS;
        for (size_t c0 = 0; c0 < chunks; c0 += sweep_chunks) {
            const size_t nch = chunks - c0 < sweep_chunks ? chunks - c0 : sweep_chunks;
            const int masked = c0 + nch == chunks && past_block;
            for (size_t k0 = 0; k0 < classes; k0 += SWEEP_CLASSES) {
                const size_t nq = classes - k0 < SWEEP_CLASSES ? classes - k0 : SWEEP_CLASSES;
                shard_softmax_prefetch_to(x_any, &prefetched,
                            ahead + 3 * tile_bytes / 4 + (c0 * classes + k0 + nq * nch) * tile_bytes / (4 * chunks * classes),
                            feature_bytes);
                if (WIDE) {
                    const size_t last = c0 + nch == chunks ? last_columns : width;
                    if (single) {
                        shard_softmax_sweep_f32_avx512(nq, nch, xf + start * cols + c0 * width, cols, last,
                                                       (const float *)slopes + k0 * tile, tile, count,
                                                       gradient + k0 * padded_cols + c0 * width, padded_cols);
                    } else {
                        shard_softmax_sweep_f64_avx512(nq, nch, xd + start * cols + c0 * width, cols, last,
                                                       (const double *)slopes + k0 * tile, tile, count,
                                                       gradient + k0 * padded_cols + c0 * width, padded_cols);
                    }
                    continue;
                }
                gradient_sweep(single, nq, nch, masked, tile_x + c0 * lanes * value_bytes, cols,
                               slopes + k0 * tile * value_bytes, tile, count, col_tail_mask,
                               (char *)accumulators + (k0 * padded_cols + c0 * lanes) * value_bytes, padded_cols);
            }
        }
        if (single && !WIDE) {
            // The tile's float gradient sums, added to the double sums (AVX-512: by the sweeps).
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
    return first_invalid_label(single ? yf : NULL, single ? NULL : yd, rows, classes, loss->pinball);
}

/// softmax_pass with K = 2, 3, 4 as compile-time constants.
SHARD_AVX2_INLINE size_t softmax_dispatch(const int single, const int wide, size_t classes, const multi_output_loss *loss,
                                          const void *x, const void *y, size_t rows, size_t cols,
                                          const double *parameters, double *out) {
    switch (classes) {
    case 2: return softmax_pass(single, wide, 2, classes, loss, x, y, rows, cols, parameters, out);
    case 3: return softmax_pass(single, wide, 3, classes, loss, x, y, rows, cols, parameters, out);
    case 4: return softmax_pass(single, wide, 4, classes, loss, x, y, rows, cols, parameters, out);
    default: return softmax_pass(single, wide, 0, classes, loss, x, y, rows, cols, parameters, out);
    }
}

SHARD_AVX2 size_t shardtrain_softmax_sums_f32_avx2(size_t classes, const double *class_weights, const float *x,
                                                   const float *y, size_t rows, size_t cols, const double *parameters,
                                                   double *out) {
    const multi_output_loss loss = {0, class_weights, NULL, 0};
    return softmax_dispatch(1, 0, classes, &loss, x, y, rows, cols, parameters, out);
}

SHARD_AVX2 size_t shardtrain_softmax_sums_f64_avx2(size_t classes, const double *class_weights, const double *x,
                                                   const double *y, size_t rows, size_t cols, const double *parameters,
                                                   double *out) {
    const multi_output_loss loss = {0, class_weights, NULL, 0};
    return softmax_dispatch(0, 0, classes, &loss, x, y, rows, cols, parameters, out);
}

SHARD_AVX2 size_t shardtrain_softmax_sums_f32_avx512(size_t classes, const double *class_weights, const float *x,
                                                     const float *y, size_t rows, size_t cols,
                                                     const double *parameters, double *out) {
    const multi_output_loss loss = {0, class_weights, NULL, 0};
    return softmax_dispatch(1, 1, classes, &loss, x, y, rows, cols, parameters, out);
}

SHARD_AVX2 size_t shardtrain_softmax_sums_f64_avx512(size_t classes, const double *class_weights, const double *x,
                                                     const double *y, size_t rows, size_t cols,
                                                     const double *parameters, double *out) {
    const multi_output_loss loss = {0, class_weights, NULL, 0};
    return softmax_dispatch(0, 1, classes, &loss, x, y, rows, cols, parameters, out);
}

SHARD_AVX2 size_t shardtrain_pinball_sums_f32_avx512(size_t levels, const double *taus, double smoothing,
                                                     const float *x, const float *y, size_t rows, size_t cols,
                                                     const double *parameters, double *out) {
    const multi_output_loss loss = {1, NULL, taus, smoothing};
    return softmax_dispatch(1, 1, levels, &loss, x, y, rows, cols, parameters, out);
}

SHARD_AVX2 size_t shardtrain_pinball_sums_f64_avx512(size_t levels, const double *taus, double smoothing,
                                                     const double *x, const double *y, size_t rows, size_t cols,
                                                     const double *parameters, double *out) {
    const multi_output_loss loss = {1, NULL, taus, smoothing};
    return softmax_dispatch(0, 1, levels, &loss, x, y, rows, cols, parameters, out);
}

#endif
