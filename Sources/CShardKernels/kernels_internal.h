// Declarations shared by the portable and AVX2 translation units (not part of the module interface).
#ifndef SHARDTRAIN_KERNELS_INTERNAL_H
#define SHARDTRAIN_KERNELS_INTERNAL_H

#include <math.h>
#include <stddef.h>

#include "CShardKernels.h"

/// Loss and residual of one row in double (see CShardKernels.h):
///
///     e = exp(-|z|),  q = e / (1 + e)
///     loss = max(z, 0) - y z + log1p(e)
///     r    = z >= 0 ? (1 - y) - q : q - y
static inline void shard_logistic_row(double z, double y, double *loss, double *residual) {
    double e = exp(-fabs(z));
    double q = e / (1.0 + e);
    *loss = (z > 0 ? z : 0.0) - y * z + log1p(e);
    *residual = z >= 0 ? (1.0 - y) - q : q - y;
}

void shardtrain_logistic_sums_f32_avx2(const float *x, const float *y, size_t rows, size_t cols,
                                       const double *w, double b, double *out);
void shardtrain_logistic_sums_f64_avx2(const double *x, const double *y, size_t rows, size_t cols,
                                       const double *w, double b, double *out);
int shardtrain_exp_f32_avx2(const float *in, float *out, size_t count);
int shardtrain_log1p_unit_f32_avx2(const float *in, float *out, size_t count);
double shardtrain_read_sum_f32_avx2(const float *x, size_t count);
double shardtrain_read_sum_f64_avx2(const double *x, size_t count);

/// Elements per block of the element-wise loss passes (domain check and partial sum per block).
#define SHARD_LOSS_BLOCK 1024

/// The focal exponent as 0, 1 or 2, or -1 when it is another value (not handled by the kernels).
static inline int shard_focal_gamma_code(const shardtrain_elementwise_params *params) {
    if (params->gamma == 0.0) return 0;
    if (params->gamma == 1.0) return 1;
    if (params->gamma == 2.0) return 2;
    return -1;
}

size_t shardtrain_elementwise_loss_f64_avx2(const shardtrain_elementwise_params *params, const double *target,
                                            const double *prediction, size_t count, double *loss, double *gradient,
                                            double *total);
size_t shardtrain_elementwise_loss_f32_avx2(const shardtrain_elementwise_params *params, const float *target,
                                            const float *prediction, size_t count, float *loss, float *gradient,
                                            float *total);
int shardtrain_exp_f64_avx2(const double *in, double *out, size_t count);
int shardtrain_log_f64_avx2(const double *in, double *out, size_t count);
int shardtrain_log1p_unit_f64_avx2(const double *in, double *out, size_t count);
int shardtrain_log_f32_avx2(const float *in, float *out, size_t count);

size_t shardtrain_linear_sums_f32_avx2(const shardtrain_linear_params *params, const float *x, const float *y,
                                       size_t rows, size_t cols, const double *parameters, double *out);
size_t shardtrain_linear_sums_f64_avx2(const shardtrain_linear_params *params, const double *x, const double *y,
                                       size_t rows, size_t cols, const double *parameters, double *out);

/// The SHARDTRAIN_LINEAR_SOFTMAX sums of shardtrain_linear_sums_f32/_f64 for K = `classes` >= 2
/// (softmax_avx2.c; `class_weights` K values or NULL = all 1).
size_t shardtrain_softmax_sums_f32_avx2(size_t classes, const double *class_weights, const float *x, const float *y,
                                        size_t rows, size_t cols, const double *parameters, double *out);
size_t shardtrain_softmax_sums_f64_avx2(size_t classes, const double *class_weights, const double *x, const double *y,
                                        size_t rows, size_t cols, const double *parameters, double *out);
/// The same with every stage in AVX-512 (only on CPUs where shardtrain_kernels_have_avx512() is nonzero).
size_t shardtrain_softmax_sums_f32_avx512(size_t classes, const double *class_weights, const float *x, const float *y,
                                          size_t rows, size_t cols, const double *parameters, double *out);
size_t shardtrain_softmax_sums_f64_avx512(size_t classes, const double *class_weights, const double *x,
                                          const double *y, size_t rows, size_t cols, const double *parameters,
                                          double *out);
/// The SHARDTRAIN_LINEAR_PINBALL sums at `levels` τ values with smoothing μ >= 0 in the same AVX-512 pass
/// (softmax_avx2.c, shard_pinball_tile_f32_avx512).
size_t shardtrain_pinball_sums_f32_avx512(size_t levels, const double *taus, double smoothing, const float *x,
                                          const float *y, size_t rows, size_t cols, const double *parameters,
                                          double *out);
size_t shardtrain_pinball_sums_f64_avx512(size_t levels, const double *taus, double smoothing, const double *x,
                                          const double *y, size_t rows, size_t cols, const double *parameters,
                                          double *out);

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>

/// Software prefetch distances of the softmax kernel (see shard_softmax_prefetch_to): into L1 NEAR_BYTES ahead of
/// the rows being read, and into L2 FAR_BYTES beyond that. On the 2-core Xeon of issue 7 (20 columns, 4096-row
/// blocks from memory) the L2 stream made the pass 3–5% faster; a near distance of 4 KiB and far distances of 32
/// and 64 KiB were not faster.
#define SHARD_SOFTMAX_NEAR_BYTES 8192
#define SHARD_SOFTMAX_FAR_BYTES 16384

/// Software prefetch of the block's features, spread over a tile's four loops (a quarter of its bytes each, row by
/// row or sweep by sweep; without it the pass ran at 0.43 of the read bandwidth on the Xeon, 0.6 on Zen 4): the
/// lines from `*cursor` (a byte offset into the block, only moving forward) up to `target` (clamped to the block's
/// `limit` bytes) are requested into L1, and the lines FAR_BYTES further into L2, so that a steady trickle of
/// requests runs NEAR_BYTES (and NEAR_BYTES + FAR_BYTES) ahead of the rows being read.
static inline void shard_softmax_prefetch_to(const void *base, size_t *cursor, size_t target, size_t limit) {
    const size_t end = target < limit ? target : limit, start = *cursor;
    if (start >= end) return;
    const char *near = (const char *)base, *far = near + SHARD_SOFTMAX_FAR_BYTES;
    // The far lines stop where they would pass the block: k + FAR_BYTES < limit.
    const size_t far_end = limit <= SHARD_SOFTMAX_FAR_BYTES ? 0 : end < limit - SHARD_SOFTMAX_FAR_BYTES ? end : limit - SHARD_SOFTMAX_FAR_BYTES;
    size_t k = start;
    for (; k < end; k += 64) _mm_prefetch(near + k, _MM_HINT_T0);
    for (size_t f = start; f < far_end; f += 64) _mm_prefetch(far + f, _MM_HINT_T1);
    *cursor = k;
}
#endif

/// Stages 2 and 3 of the pinball loss on a tile (softmax_avx512.c: the loss, `level`'s layout and the lanes);
/// `smoothed` is μ > 0.
int shard_pinball_tile_f32_avx512(int smoothed, size_t outputs, const float *scores, float *slopes, size_t tile,
                                  size_t count, const float *labels, const float *level, float *lanes,
                                  const void *features, size_t *prefetched, size_t prefetch_from, size_t prefetch_span,
                                  size_t feature_bytes);
int shard_pinball_tile_f64_avx512(int smoothed, size_t outputs, const double *scores, double *slopes, size_t tile,
                                  size_t count, const double *labels, const double *level, double *lanes,
                                  const void *features, size_t *prefetched, size_t prefetch_from,
                                  size_t prefetch_span, size_t feature_bytes);

/// Stage 4 of the softmax kernel in vectors of W bits (256: softmax_avx2.c, 512: softmax_avx512.c):
/// acc[k·stride + WIDTH·c + lane] += Σ_i slope[k·tile + i] x_i,(WIDTH·c + lane) for `count` rows, NQ (at most 4)
/// classes and NCH (at most MAX_CHUNKS) chunks of WIDTH columns from `x` (row stride `cols`); the last chunk is
/// read with LAST_LOAD(SUFFIX, address), which may use MASKED and `last_mask`. Each chunk of a row is loaded once
/// and multiplied by the broadcast slopes of the classes. With at most 4 accumulators (too few to hide the FMA
/// latency) odd rows go to separate ones: START + (Σ even rows) + (Σ odd rows). The accumulators (of type ACC)
/// start as START(address) and end with FINISH(address, sum): a load and a store of the same type, or (float
/// tiles added to double sums) zero and a widening addition.
#define SHARD_DEFINE_SOFTMAX_SWEEP(NAME, ATTR, W, SCALAR, VECTOR, SUFFIX, WIDTH, MAX_CHUNKS, MASK, LAST_LOAD, ACC,      \
                                   START, FINISH)                                                                      \
    ATTR void NAME(const int NQ, const int NCH, const int MASKED, const SCALAR *x, size_t cols, const SCALAR *slope,  \
                   size_t tile, size_t count, MASK last_mask, ACC *acc, size_t stride) {                              \
        const int split = NQ * NCH <= 4;                                                                               \
        VECTOR even[4][MAX_CHUNKS], odd[4][MAX_CHUNKS];                                                                \
        for (int k = 0; k < NQ; k++) {                                                                                 \
            for (int c = 0; c < NCH; c++) {                                                                            \
                even[k][c] = START(acc + k * stride + WIDTH * c);                                                      \
                odd[k][c] = _mm##W##_setzero_##SUFFIX();                                                               \
            }                                                                                                          \
        }                                                                                                              \
        const SCALAR *p = x;                                                                                           \
        size_t i = 0;                                                                                                  \
        if (split) {                                                                                                   \
            for (; i + 2 <= count; i += 2, p += 2 * cols) {                                                            \
                VECTOR x0[MAX_CHUNKS], x1[MAX_CHUNKS];                                                                 \
                for (int c = 0; c < NCH - 1; c++) {                                                                    \
                    x0[c] = _mm##W##_loadu_##SUFFIX(p + WIDTH * c);                                                    \
                    x1[c] = _mm##W##_loadu_##SUFFIX(p + cols + WIDTH * c);                                             \
                }                                                                                                      \
                x0[NCH - 1] = LAST_LOAD(SUFFIX, p + WIDTH * (NCH - 1));                                                \
                x1[NCH - 1] = LAST_LOAD(SUFFIX, p + cols + WIDTH * (NCH - 1));                                         \
                for (int k = 0; k < NQ; k++) {                                                                         \
                    const VECTOR s0 = _mm##W##_set1_##SUFFIX(slope[k * tile + i]);                                     \
                    const VECTOR s1 = _mm##W##_set1_##SUFFIX(slope[k * tile + i + 1]);                                 \
                    for (int c = 0; c < NCH; c++) {                                                                    \
                        even[k][c] = _mm##W##_fmadd_##SUFFIX(s0, x0[c], even[k][c]);                                   \
                        odd[k][c] = _mm##W##_fmadd_##SUFFIX(s1, x1[c], odd[k][c]);                                     \
                    }                                                                                                  \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
        for (; i < count; i++, p += cols) {                                                                            \
            VECTOR xv[MAX_CHUNKS];                                                                                     \
            for (int c = 0; c < NCH - 1; c++) xv[c] = _mm##W##_loadu_##SUFFIX(p + WIDTH * c);                         \
            xv[NCH - 1] = LAST_LOAD(SUFFIX, p + WIDTH * (NCH - 1));                                                    \
            for (int k = 0; k < NQ; k++) {                                                                             \
                const VECTOR s = _mm##W##_set1_##SUFFIX(slope[k * tile + i]);                                          \
                for (int c = 0; c < NCH; c++) even[k][c] = _mm##W##_fmadd_##SUFFIX(s, xv[c], even[k][c]);              \
            }                                                                                                          \
        }                                                                                                              \
        for (int k = 0; k < NQ; k++) {                                                                                 \
            for (int c = 0; c < NCH; c++) {                                                                            \
                FINISH(acc + k * stride + WIDTH * c, split ? _mm##W##_add_##SUFFIX(even[k][c], odd[k][c]) : even[k][c]);  \
            }                                                                                                          \
        }                                                                                                              \
    }

/// The AVX-512 stages of the softmax kernel (softmax_avx512.c, called by softmax_avx2.c on CPUs with AVX-512 F, DQ,
/// BW and VL; see the file comment of softmax_avx2.c for the layouts).
///
/// Stage 1 of a tile: the scores of its `count` rows from `rows` (row stride `cols`), class vector k stored at
/// scores + k · tile (64-byte aligned), 8 rows at a time, up to a multiple of 16 (float) or 8 (double) rows: the
/// rows past the tile's last repeat it; with the prefetch of stage 1 (shard_softmax_prefetch_to up to prefetch_from + prefetch_span).
/// Per class group c of 4 classes: float32 `packed` holds ceil(cols / 4) vectors of 16 with lane 4k + p =
/// W_(4q+p),(4c+k), `bias` one vector with lane 4k = b_(4c+k); float64 ceil(cols / 2) vectors of 8 with lane 2k + p
/// = W_(2q+p),(4c+k), bias lane 2k (zeros past the last column and class, and in the other bias lanes).
void shard_softmax_scores_f32_avx512(const float *rows, size_t count, size_t cols, size_t classes, const float *packed,
                                     const float *bias, float *scores, size_t tile, const void *features,
                                     size_t *prefetched, size_t prefetch_from, size_t prefetch_span,
                                     size_t feature_bytes);
void shard_softmax_scores_f64_avx512(const double *rows, size_t count, size_t cols, size_t classes,
                                     const double *packed, const double *bias, double *scores, size_t tile,
                                     const void *features, size_t *prefetched, size_t prefetch_from,
                                     size_t prefetch_span, size_t feature_bytes);
/// Stages 2 and 3 of a tile of `count` rows (class vectors k at k · tile of `scores` and `slopes`, `highs` and
/// `sums` one tile each, all 64-byte aligned; `labels` the tile's first label), with the prefetch of stages 2 and 3
/// (shard_softmax_prefetch_to up to prefetch_from + prefetch_span and prefetch_from + 2 · prefetch_span). Writes the
/// tile's loss and bias sums Σ_i slope_ik in 8 lanes each to `lanes` (64-byte aligned; the loss, then class by
/// class; lane r: the rows ≡ r (mod 8), float32 summed as (rows ≡ r mod 16) + (rows ≡ r + 8 mod 16)). Returns 1
/// when a label in the tile is not a class index, else 0.
int shard_softmax_tile_f32_avx512(size_t classes, const float *scores, float *slopes, size_t tile, size_t count,
                                  float *highs, float *sums, const float *labels, const float *class_weight,
                                  float *lanes, const void *features, size_t *prefetched, size_t prefetch_from,
                                  size_t prefetch_span, size_t feature_bytes);
int shard_softmax_tile_f64_avx512(size_t classes, const double *scores, double *slopes, size_t tile, size_t count,
                                  double *highs, double *sums, const double *labels, const double *class_weight,
                                  double *lanes, const void *features, size_t *prefetched, size_t prefetch_from,
                                  size_t prefetch_span, size_t feature_bytes);
/// acc[k·stride + j] += Σ_i slope[k·tile + i] x_ij for the `count` rows from `x` (row stride `cols`), `classes`
/// (1…4) classes and `chunks` (1…3) chunks of 16 floats / 8 doubles, the last one `last_columns` wide; `acc` (double
/// sums, 64-byte aligned) gets float32's sum over the rows in float, then widened.
void shard_softmax_sweep_f32_avx512(size_t classes, size_t chunks, const float *x, size_t cols, size_t last_columns,
                                    const float *slope, size_t tile, size_t count, double *acc, size_t stride);
void shard_softmax_sweep_f64_avx512(size_t classes, size_t chunks, const double *x, size_t cols, size_t last_columns,
                                    const double *slope, size_t tile, size_t count, double *acc, size_t stride);

#endif
