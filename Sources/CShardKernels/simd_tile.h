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

// Software prefetch in two steps: into L2 (hint T2) PREFETCH_FAR_BYTES ahead of the current row group,
// and from there into L1 (hint T0) PREFETCH_NEAR_BYTES ahead. On Sapphire Rapids (1 thread, 20 columns,
// 4096-row blocks, `bench gradient`) this ran float32 focal 1.28x, float32 pinball 1.17x and float64
// logistic 1.25x faster than one T0 stream 8 KiB ahead: a T0 prefetch holds an L1 fill buffer until its
// line arrives from memory, so far-ahead T0 requests alone cannot keep enough lines in flight; without
// software prefetch the passes ran 1.2x slower still (measured on Zen 4 before: 1.7x).
#define PREFETCH_NEAR_BYTES 2048
#define PREFETCH_FAR_BYTES 16384

/// The two prefetch streams for the lines at byte offsets [begin, end) of `base` (end <= limit, the block's
/// bytes): those lines into L1, and the lines PREFETCH_FAR_BYTES − PREFETCH_NEAR_BYTES further on (inside
/// `limit`) into L2. One loop over both streams, two lines per step.
SHARD_AVX2_INLINE void shard_prefetch_lines(const void *base, size_t begin, size_t end, size_t limit) {
    const char *bytes = base;
    const size_t further = PREFETCH_FAR_BYTES - PREFETCH_NEAR_BYTES;
    const size_t both = limit > further ? (end < limit - further ? end : limit - further) : 0;
    size_t k = begin;
    for (; k + 64 < both; k += 128) {
        _mm_prefetch(bytes + k, _MM_HINT_T0);
        _mm_prefetch(bytes + k + further, _MM_HINT_T2);
        _mm_prefetch(bytes + k + 64, _MM_HINT_T0);
        _mm_prefetch(bytes + k + 64 + further, _MM_HINT_T2);
    }
    for (; k < both; k += 64) {
        _mm_prefetch(bytes + k, _MM_HINT_T0);
        _mm_prefetch(bytes + k + further, _MM_HINT_T2);
    }
    for (; k < end; k += 64) _mm_prefetch(bytes + k, _MM_HINT_T0);
}

/// The two prefetch streams for `length` bytes at `offset` of `base`, PREFETCH_NEAR_BYTES ahead, at lines
/// inside the block's `limit` bytes only.
SHARD_AVX2_INLINE void shard_prefetch_ahead(const void *base, size_t offset, size_t length, size_t limit) {
    const size_t begin = offset + PREFETCH_NEAR_BYTES;
    shard_prefetch_lines(base, begin, begin + length < limit ? begin + length : limit, limit);
}

/// Software prefetch spread over a tile's steps. The features of the rows ahead are requested
/// line by line from `*cursor` (a byte offset into the block, only moving forward) up to `target`
/// (clamped to the block's `limit` bytes) with shard_prefetch_lines: each step asks for a share of the
/// tile's bytes, so that the memory requests keep flowing while the tile computes, instead of in one burst
/// per tile.
SHARD_AVX2_INLINE void prefetch_until(const void *base, size_t *cursor, size_t target, size_t limit) {
    const size_t end = target < limit ? target : limit;
    if (*cursor >= end) return;
    shard_prefetch_lines(base, *cursor, end, limit);
    *cursor += (end - *cursor + 63) / 64 * 64;
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

/// Eight float weights w[j..j+8) (or the first `valid` of them, rest 0), each rounded from double.
SHARD_AVX2_INLINE __m256 load_weights_ps(const double *w, size_t j, size_t valid) {
    __m256d lo, hi;
    if (valid >= 8) {
        lo = _mm256_loadu_pd(w + j);
        hi = _mm256_loadu_pd(w + j + 4);
    } else {
        lo = _mm256_maskload_pd(w + j, tail_mask_epi64(valid));
        hi = _mm256_maskload_pd(w + j + 4, tail_mask_epi64(valid > 4 ? valid - 4 : 0));
    }
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm256_cvtpd_ps(lo)), _mm256_cvtpd_ps(hi), 1);
}

/// Lane k = horizontal sum of a[k].
SHARD_AVX2_INLINE __m256 transpose_sum8(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4, __m256 a5,
                                        __m256 a6, __m256 a7) {
    __m256 t0 = _mm256_hadd_ps(a0, a1);
    __m256 t1 = _mm256_hadd_ps(a2, a3);
    __m256 t2 = _mm256_hadd_ps(a4, a5);
    __m256 t3 = _mm256_hadd_ps(a6, a7);
    __m256 u0 = _mm256_hadd_ps(t0, t1);
    __m256 u1 = _mm256_hadd_ps(t2, t3);
    __m256 lo = _mm256_permute2f128_ps(u0, u1, 0x20);
    __m256 hi = _mm256_permute2f128_ps(u0, u1, 0x31);
    return _mm256_add_ps(lo, hi);
}

SHARD_AVX2_INLINE __m256d widen_sum_pd(__m256 v) {
    return _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

/// out[0..count) += float lanes of v, in double.
SHARD_AVX2_INLINE void add_to_double_ps(double *out, __m256 v, size_t count) {
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    if (count >= 8) {
        _mm256_storeu_pd(out, _mm256_add_pd(_mm256_loadu_pd(out), lo));
        _mm256_storeu_pd(out + 4, _mm256_add_pd(_mm256_loadu_pd(out + 4), hi));
    } else {
        double lanes[8];
        _mm256_storeu_pd(lanes, lo);
        _mm256_storeu_pd(lanes + 4, hi);
        for (size_t k = 0; k < count; k++) out[k] += lanes[k];
    }
}

/// Σ_i r_i x_i[c0 .. c0 + width) over `count` rows starting at `p` (row stride `cols`), for
/// CHUNKS = ceil(width / 8) column chunks; the last chunk is loaded with `last_mask`. Even and odd rows
/// go to separate float accumulators, which are added at the end and then to `grad` in double.
SHARD_AVX2_INLINE void tile_gradient_chunks(const int CHUNKS, const float *p, size_t cols, const float *residual,
                                            size_t count, __m256i last_mask, double *grad, size_t width) {
    __m256 even[4], odd[4];
    for (int k = 0; k < CHUNKS; k++) even[k] = odd[k] = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 2 <= count; i += 2, p += 2 * cols) {
        const __m256 r0 = _mm256_broadcast_ss(residual + i);
        const __m256 r1 = _mm256_broadcast_ss(residual + i + 1);
        for (int k = 0; k < CHUNKS - 1; k++) {
            even[k] = _mm256_fmadd_ps(r0, _mm256_loadu_ps(p + 8 * k), even[k]);
            odd[k] = _mm256_fmadd_ps(r1, _mm256_loadu_ps(p + cols + 8 * k), odd[k]);
        }
        const int last = CHUNKS - 1;
        even[last] = _mm256_fmadd_ps(r0, _mm256_maskload_ps(p + 8 * last, last_mask), even[last]);
        odd[last] = _mm256_fmadd_ps(r1, _mm256_maskload_ps(p + cols + 8 * last, last_mask), odd[last]);
    }
    if (i < count) {
        const __m256 r0 = _mm256_broadcast_ss(residual + i);
        for (int k = 0; k < CHUNKS - 1; k++) even[k] = _mm256_fmadd_ps(r0, _mm256_loadu_ps(p + 8 * k), even[k]);
        even[CHUNKS - 1] = _mm256_fmadd_ps(r0, _mm256_maskload_ps(p + 8 * (CHUNKS - 1), last_mask), even[CHUNKS - 1]);
    }
    for (int k = 0; k < CHUNKS; k++) {
        const size_t lanes = width - 8 * (size_t)k < 8 ? width - 8 * (size_t)k : 8;
        add_to_double_ps(grad + 8 * k, _mm256_add_ps(even[k], odd[k]), lanes);
    }
}

/// Σ_i r_i x_i[j .. j + 32) for every 32-column group of a float tile (`count` rows, stride `cols`) with
/// tile_gradient_chunks, added to grad[j ...] in double; the last chunk is loaded with `col_tail_mask`
/// (the mask of cols mod 8 lanes).
SHARD_AVX2_INLINE void tile_gradient_f32(const float *x, size_t cols, const float *residual, size_t count,
                                         __m256i col_tail_mask, double *grad) {
    for (size_t j = 0; j < cols; j += 32) {
        const size_t width = cols - j < 32 ? cols - j : 32;
        const int chunks = (int)((width + 7) / 8);
        const __m256i last_mask = width % 8 ? col_tail_mask : _mm256_set1_epi32(-1);
        const float *p = x + j;
        switch (chunks) {
        case 1: tile_gradient_chunks(1, p, cols, residual, count, last_mask, grad + j, width); break;
        case 2: tile_gradient_chunks(2, p, cols, residual, count, last_mask, grad + j, width); break;
        case 3: tile_gradient_chunks(3, p, cols, residual, count, last_mask, grad + j, width); break;
        default: tile_gradient_chunks(4, p, cols, residual, count, last_mask, grad + j, width); break;
        }
    }
}

/// acc[k] += x_k[j .. j + 8) · wv for 8 rows x_k: row[k], or base + k·stride when `row` is NULL (`masked`:
/// masked loads with `mask`, else plain ones).
SHARD_AVX2_INLINE void fma8_rows(const float *const *row, const float *base, size_t stride, size_t j, __m256 wv,
                                 int masked, __m256i mask, __m256 acc[8]) {
    for (int k = 0; k < 8; k++) {
        const float *x = (row ? row[k] : base + k * stride) + j;
        acc[k] = _mm256_fmadd_ps(masked ? _mm256_maskload_ps(x, mask) : _mm256_loadu_ps(x), wv, acc[k]);
    }
}

/// Lane k = Σ_j x_k[j] w[j] in float over `cols` values of 8 rows x_k (row[k], or base + k·cols when `row`
/// is NULL): one accumulator per row over 8-column chunks, then transpose_sum8. The weights come from
/// `buffer` (floats, zero-padded to a multiple of 8) or, when it is NULL, are rounded from the doubles `w`
/// chunk by chunk (the same values). A tail of cols mod 8 columns is loaded with `col_tail_mask`, or, when
/// `overlap_tail` is given (a buffer, cols > 8), as each row's last 8 columns (inside the row, no masked
/// loads) with the 8 weights at `overlap_tail`: those of the tail columns, 0 for the columns a full chunk
/// already took (exact zero products for finite features).
SHARD_AVX2_INLINE __m256 dot8_f32(const float *const *row, const float *base, const float *buffer, const double *w,
                                  size_t cols, __m256i col_tail_mask, const float *overlap_tail) {
    const size_t full_cols = cols & ~(size_t)7;
    const __m256i all = _mm256_set1_epi32(-1);
    __m256 acc[8];
    for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
    for (size_t j = 0; j < full_cols; j += 8) {
        fma8_rows(row, base, cols, j, buffer ? _mm256_loadu_ps(buffer + j) : load_weights_ps(w, j, 8), 0, all, acc);
    }
    if (full_cols < cols && overlap_tail) {
        fma8_rows(row, base, cols, cols - 8, _mm256_loadu_ps(overlap_tail), 0, all, acc);
    } else if (full_cols < cols) {
        const __m256 wv = buffer ? _mm256_loadu_ps(buffer + full_cols) : load_weights_ps(w, full_cols, cols - full_cols);
        fma8_rows(row, base, cols, full_cols, wv, 1, col_tail_mask, acc);
    }
    return transpose_sum8(acc[0], acc[1], acc[2], acc[3], acc[4], acc[5], acc[6], acc[7]);
}

/// dot8_f32 of the rows row[0..8).
SHARD_AVX2_INLINE __m256 dot8_rows_f32(const float *const row[8], const float *buffer, const double *w, size_t cols,
                                       __m256i col_tail_mask) {
    return dot8_f32(row, NULL, buffer, w, cols, col_tail_mask, NULL);
}

#endif
