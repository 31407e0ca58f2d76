// Helpers of the AVX2 block kernels that walk a block in L1-sized tiles of rows (internal header).
#ifndef SHARDTRAIN_SIMD_TILE_H
#define SHARDTRAIN_SIMD_TILE_H

#include "simd_math.h"

#include <stddef.h>

#define MAX_TILE_ROWS 64

/// Rows per tile: about 8 KiB of features, a multiple of 8, between 8 and MAX_TILE_ROWS.
static inline size_t tile_rows(size_t cols, size_t bytes_per_value) {
    size_t fit = 8192 / (cols * bytes_per_value + 1);
    fit &= ~(size_t)7;
    if (fit < 8) return 8;
    return fit > MAX_TILE_ROWS ? MAX_TILE_ROWS : fit;
}

SHARD_AVX2_INLINE __m256i tail_mask_epi32(size_t valid) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)valid), lanes);
}

SHARD_AVX2_INLINE __m256i tail_mask_epi64(size_t valid) {
    const __m256i lanes = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x((long long)valid), lanes);
}

SHARD_AVX2_INLINE double sum4_pd(__m256d v) {
    double lanes[4];
    _mm256_storeu_pd(lanes, v);
    return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

// How far ahead of the current 8-row group features are prefetched. On Zen 4 (1M x 20 floats,
// 4096-row blocks) 8 KiB was the fastest of 1, 2, 4, 8, 12, 16 and 32 KiB; without it the pass ran
// 1.7x slower, since the hardware prefetcher alone does not keep up with the compute between loads.
#define PREFETCH_BYTES 8192

/// Software prefetch of the lines PREFETCH_BYTES ahead of the `length` bytes at `offset` of `base`
/// (inside the block's `limit` bytes only).
SHARD_AVX2_INLINE void shard_prefetch_ahead(const void *base, size_t offset, size_t length, size_t limit) {
    const size_t begin = offset + PREFETCH_BYTES;
    const size_t end = begin + length < limit ? begin + length : limit;
    for (size_t k = begin; k < end; k += 64) _mm_prefetch((const char *)base + k, _MM_HINT_T0);
}

/// Prefetch of the labels two tiles ahead (`tile` labels of `bytes_per_label` bytes from label `start`,
/// inside the block's `rows` only): the label stream is too thin for the hardware prefetcher to follow.
SHARD_AVX2_INLINE void shard_prefetch_labels(const void *labels, size_t start, size_t tile, size_t rows,
                                             size_t bytes_per_label) {
    const size_t begin = (start + 2 * tile) * bytes_per_label;
    const size_t end_row = start + 3 * tile < rows ? start + 3 * tile : rows;
    const size_t end = end_row * bytes_per_label;
    for (size_t k = begin; k < end; k += 64) _mm_prefetch((const char *)labels + k, _MM_HINT_T0);
}

/// Lane k = horizontal sum of a[k].
SHARD_AVX2_INLINE __m256d transpose_sum4(__m256d a0, __m256d a1, __m256d a2, __m256d a3) {
    __m256d t0 = _mm256_hadd_pd(a0, a1);
    __m256d t1 = _mm256_hadd_pd(a2, a3);
    __m256d lo = _mm256_permute2f128_pd(t0, t1, 0x20);
    __m256d hi = _mm256_permute2f128_pd(t0, t1, 0x31);
    return _mm256_add_pd(lo, hi);
}

/// Lane k = Σ_j row[k][j] w[j] over `cols` doubles: one accumulator per row over 4-column chunks (the
/// tail loaded with `col_tail_mask`), then the horizontal-add tree of transpose_sum4.
SHARD_AVX2_INLINE __m256d dot4_rows_f64(const double *const row[4], const double *w, size_t cols,
                                        __m256i col_tail_mask) {
    const size_t full_cols = cols & ~(size_t)3;
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t j = 0; j < full_cols; j += 4) {
        const __m256d wv = _mm256_loadu_pd(w + j);
        a0 = _mm256_fmadd_pd(_mm256_loadu_pd(row[0] + j), wv, a0);
        a1 = _mm256_fmadd_pd(_mm256_loadu_pd(row[1] + j), wv, a1);
        a2 = _mm256_fmadd_pd(_mm256_loadu_pd(row[2] + j), wv, a2);
        a3 = _mm256_fmadd_pd(_mm256_loadu_pd(row[3] + j), wv, a3);
    }
    if (full_cols < cols) {
        const size_t j = full_cols;
        const __m256d wv = _mm256_maskload_pd(w + j, col_tail_mask);
        a0 = _mm256_fmadd_pd(_mm256_maskload_pd(row[0] + j, col_tail_mask), wv, a0);
        a1 = _mm256_fmadd_pd(_mm256_maskload_pd(row[1] + j, col_tail_mask), wv, a1);
        a2 = _mm256_fmadd_pd(_mm256_maskload_pd(row[2] + j, col_tail_mask), wv, a2);
        a3 = _mm256_fmadd_pd(_mm256_maskload_pd(row[3] + j, col_tail_mask), wv, a3);
    }
    return transpose_sum4(a0, a1, a2, a3);
}

/// grad[j] += Σ_i r[i] x_ij over `count` rows of the double tile `x` (row stride `cols`), one 4-column
/// chunk at a time (the last one loaded with `col_tail_mask`), rows i ≡ 0, 1, 2, 3 (mod 4) in separate
/// accumulators, added as (a0 + a1) + (a2 + a3).
SHARD_AVX2_INLINE void tile_gradient_f64(const double *x, size_t cols, const double *r, size_t count,
                                         __m256i col_tail_mask, double *grad) {
    const __m256d zero = _mm256_setzero_pd();
    for (size_t j = 0; j < cols; j += 4) {
        const __m256i mask = cols - j >= 4 ? _mm256_set1_epi64x(-1) : col_tail_mask;
        __m256d g0 = zero, g1 = zero, g2 = zero, g3 = zero;
        const double *p = x + j;
        size_t i = 0;
        for (; i + 4 <= count; i += 4, p += 4 * cols) {
            g0 = _mm256_fmadd_pd(_mm256_broadcast_sd(r + i), _mm256_maskload_pd(p, mask), g0);
            g1 = _mm256_fmadd_pd(_mm256_broadcast_sd(r + i + 1), _mm256_maskload_pd(p + cols, mask), g1);
            g2 = _mm256_fmadd_pd(_mm256_broadcast_sd(r + i + 2), _mm256_maskload_pd(p + 2 * cols, mask), g2);
            g3 = _mm256_fmadd_pd(_mm256_broadcast_sd(r + i + 3), _mm256_maskload_pd(p + 3 * cols, mask), g3);
        }
        for (; i < count; i++, p += cols) {
            g0 = _mm256_fmadd_pd(_mm256_broadcast_sd(r + i), _mm256_maskload_pd(p, mask), g0);
        }
        const __m256d sum = _mm256_add_pd(_mm256_add_pd(g0, g1), _mm256_add_pd(g2, g3));
        _mm256_maskstore_pd(grad + j, mask, _mm256_add_pd(_mm256_maskload_pd(grad + j, mask), sum));
    }
}

#endif
