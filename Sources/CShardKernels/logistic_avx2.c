// AVX2+FMA logistic-regression sums (see CShardKernels.h for the math and the layout of `out`).
//
// Both precisions walk the block in tiles of rows that fit in L1 (about 8 KiB, at most 64 rows):
//   1. groups of G rows (8 floats / 4 doubles): one SIMD accumulator per row over column chunks, then a
//      horizontal-add tree turns the G accumulators into one vector z with lane k = z of row k;
//   2. loss and residual per row (f32: 8 lanes with the vector exp/log1p of simd_math.h, tile sums in
//      float lanes; f64: 4 lanes with the double exp/log1p of simd_math_f64.h, sums in double lanes);
//      residuals go to a tile buffer;
//   3. Σ_i r_i x_i over the tile: f32 takes up to 4 column chunks (32 columns) at a time with separate
//      accumulators for even and odd rows, f64 one 4-column chunk with 4 interleaved accumulators;
//      the tile's partial sums are then added to `out` in double.
// Column tails use masked loads; a partial last group points its missing rows at the group's last real
// row and zeroes their lanes. The summation order depends only on (rows, cols), never on the data or
// on the caller, so a block's result is the same bits on every call.
#if defined(__x86_64__) || defined(__i386__)

#include "CShardKernels.h"
#include "kernels_internal.h"
#include "simd_math_f64.h"
#include "simd_tile.h"

#include <math.h>
#include <stdint.h>

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

#define WEIGHT_BUFFER_COLS 1024

SHARD_AVX2 void shardtrain_logistic_sums_f32_avx2(const float *x, const float *y, size_t rows, size_t cols,
                                                  const double *w, double b, double *out) {
    for (size_t j = 0; j < cols + 2; j++) out[j] = 0.0;
    double *grad = out + 1;
    const size_t full_cols = cols & ~(size_t)7;
    const size_t tail_cols = cols - full_cols;
    const __m256i col_tail_mask = tail_mask_epi32(tail_cols);
    const size_t tile = tile_rows(cols, sizeof(float));
    const __m256 bias = _mm256_set1_ps((float)b);
    const __m256 zero = _mm256_setzero_ps();
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 sign_bit = _mm256_set1_ps(-0.0f);
    __m256d loss_sum = _mm256_setzero_pd();
    __m256d bias_sum = _mm256_setzero_pd();
    const size_t feature_bytes = rows * cols * sizeof(float);
    float logit[MAX_TILE_ROWS] __attribute__((aligned(32)));
    float residual[MAX_TILE_ROWS] __attribute__((aligned(32)));

    // The float weights (rounded once), zero-padded to a multiple of 8, when they fit on the stack;
    // wider rows convert each chunk from `w` as they go (same values).
    float weight_buffer[WEIGHT_BUFFER_COLS] __attribute__((aligned(32)));
    const int buffered = cols <= WEIGHT_BUFFER_COLS;
    if (buffered) {
        for (size_t j = 0; j < full_cols; j += 8) _mm256_store_ps(weight_buffer + j, load_weights_ps(w, j, 8));
        if (tail_cols) _mm256_store_ps(weight_buffer + full_cols, load_weights_ps(w, full_cols, tail_cols));
    }

    for (size_t start = 0; start < rows; start += tile) {
        const size_t count = rows - start < tile ? rows - start : tile;
        const float *tile_x = x + start * cols;
        shard_prefetch_labels(y, start, tile, rows, sizeof(float));

        // 1. logits, 8 rows per group.
        for (size_t g = 0; g < count; g += 8) {
            const size_t valid = count - g < 8 ? count - g : 8;
            const float *row[8];
            if (valid == 8) {
                for (size_t k = 0; k < 8; k++) row[k] = tile_x + (g + k) * cols;
            } else {
                for (size_t k = 0; k < 8; k++) row[k] = tile_x + (g + (k < valid ? k : valid - 1)) * cols;
            }

            shard_prefetch_ahead(x, (start + g) * cols * sizeof(float), valid * cols * sizeof(float), feature_bytes);

            __m256 a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
            for (size_t j = 0; j < full_cols; j += 8) {
                __m256 wv = buffered ? _mm256_load_ps(weight_buffer + j) : load_weights_ps(w, j, 8);
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row[0] + j), wv, a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(row[1] + j), wv, a1);
                a2 = _mm256_fmadd_ps(_mm256_loadu_ps(row[2] + j), wv, a2);
                a3 = _mm256_fmadd_ps(_mm256_loadu_ps(row[3] + j), wv, a3);
                a4 = _mm256_fmadd_ps(_mm256_loadu_ps(row[4] + j), wv, a4);
                a5 = _mm256_fmadd_ps(_mm256_loadu_ps(row[5] + j), wv, a5);
                a6 = _mm256_fmadd_ps(_mm256_loadu_ps(row[6] + j), wv, a6);
                a7 = _mm256_fmadd_ps(_mm256_loadu_ps(row[7] + j), wv, a7);
            }
            if (tail_cols) {
                const size_t j = full_cols;
                __m256 wv = buffered ? _mm256_load_ps(weight_buffer + j) : load_weights_ps(w, j, tail_cols);
                a0 = _mm256_fmadd_ps(_mm256_maskload_ps(row[0] + j, col_tail_mask), wv, a0);
                a1 = _mm256_fmadd_ps(_mm256_maskload_ps(row[1] + j, col_tail_mask), wv, a1);
                a2 = _mm256_fmadd_ps(_mm256_maskload_ps(row[2] + j, col_tail_mask), wv, a2);
                a3 = _mm256_fmadd_ps(_mm256_maskload_ps(row[3] + j, col_tail_mask), wv, a3);
                a4 = _mm256_fmadd_ps(_mm256_maskload_ps(row[4] + j, col_tail_mask), wv, a4);
                a5 = _mm256_fmadd_ps(_mm256_maskload_ps(row[5] + j, col_tail_mask), wv, a5);
                a6 = _mm256_fmadd_ps(_mm256_maskload_ps(row[6] + j, col_tail_mask), wv, a6);
                a7 = _mm256_fmadd_ps(_mm256_maskload_ps(row[7] + j, col_tail_mask), wv, a7);
            }
            _mm256_store_ps(logit + g, _mm256_add_ps(transpose_sum8(a0, a1, a2, a3, a4, a5, a6, a7), bias));
        }

        // 2. loss and residual per row; lanes past the tile's last row are zeroed. Loss and residual
        //    sums run in float lanes over the tile and are widened to double once per tile.
        __m256 tile_loss = zero, tile_residual = zero;
        for (size_t g = 0; g < count; g += 8) {
            const size_t valid = count - g < 8 ? count - g : 8;
            const __m256 z = _mm256_load_ps(logit + g);
            const __m256i row_mask = tail_mask_epi32(valid);
            const __m256 label = valid == 8 ? _mm256_loadu_ps(y + start + g)
                                            : _mm256_maskload_ps(y + start + g, row_mask);
            const __m256 e = shard_exp_nonpositive_ps(_mm256_or_ps(z, sign_bit));  // exp(-|z|)
            const __m256 q = _mm256_div_ps(e, _mm256_add_ps(one, e));
            const __m256 softplus_tail = shard_log1p_unit_ps(e);
            __m256 loss = _mm256_add_ps(_mm256_fnmadd_ps(label, z, _mm256_max_ps(z, zero)), softplus_tail);
            const __m256 nonnegative = _mm256_cmp_ps(z, zero, _CMP_GE_OQ);
            __m256 r = _mm256_blendv_ps(_mm256_sub_ps(q, label), _mm256_sub_ps(_mm256_sub_ps(one, label), q),
                                        nonnegative);
            if (valid < 8) {
                const __m256 lane_mask = _mm256_castsi256_ps(row_mask);
                loss = _mm256_and_ps(loss, lane_mask);
                r = _mm256_and_ps(r, lane_mask);
            }
            tile_loss = _mm256_add_ps(tile_loss, loss);
            tile_residual = _mm256_add_ps(tile_residual, r);
            _mm256_store_ps(residual + g, r);
        }
        loss_sum = _mm256_add_pd(loss_sum, widen_sum_pd(tile_loss));
        bias_sum = _mm256_add_pd(bias_sum, widen_sum_pd(tile_residual));

        // 3. gradient sums, up to 32 columns (4 chunks) at a time.
        for (size_t j = 0; j < cols; j += 32) {
            const size_t width = cols - j < 32 ? cols - j : 32;
            const int chunks = (int)((width + 7) / 8);
            const __m256i last_mask = width % 8 ? col_tail_mask : _mm256_set1_epi32(-1);
            const float *p = tile_x + j;
            switch (chunks) {
            case 1: tile_gradient_chunks(1, p, cols, residual, count, last_mask, grad + j, width); break;
            case 2: tile_gradient_chunks(2, p, cols, residual, count, last_mask, grad + j, width); break;
            case 3: tile_gradient_chunks(3, p, cols, residual, count, last_mask, grad + j, width); break;
            default: tile_gradient_chunks(4, p, cols, residual, count, last_mask, grad + j, width); break;
            }
        }
    }
    out[0] = sum4_pd(loss_sum);
    out[1 + cols] = sum4_pd(bias_sum);
}

SHARD_AVX2 void shardtrain_logistic_sums_f64_avx2(const double *x, const double *y, size_t rows, size_t cols,
                                                  const double *w, double b, double *out) {
    for (size_t j = 0; j < cols + 2; j++) out[j] = 0.0;
    double *grad = out + 1;
    const __m256i col_tail_mask = tail_mask_epi64(cols % 4);
    const size_t tile = tile_rows(cols, sizeof(double));
    const size_t feature_bytes = rows * cols * sizeof(double);
    const __m256d zero = _mm256_setzero_pd();
    const __m256d one = _mm256_set1_pd(1.0);
    const __m256d sign_bit = _mm256_set1_pd(-0.0);
    const __m256d bias = _mm256_set1_pd(b);
    // Lane k sums the loss (residual) of rows 4g + k over the whole block.
    __m256d loss_sum = zero, bias_sum = zero;
    double residual[MAX_TILE_ROWS] __attribute__((aligned(32)));

    for (size_t start = 0; start < rows; start += tile) {
        const size_t count = rows - start < tile ? rows - start : tile;
        const double *tile_x = x + start * cols;
        shard_prefetch_labels(y, start, tile, rows, sizeof(double));

        for (size_t g = 0; g < count; g += 4) {
            const size_t valid = count - g < 4 ? count - g : 4;
            const double *row[4];
            for (size_t k = 0; k < 4; k++) row[k] = tile_x + (g + (k < valid ? k : valid - 1)) * cols;
            shard_prefetch_ahead(x, (start + g) * cols * sizeof(double), valid * cols * sizeof(double), feature_bytes);

            // Loss and residual of the 4 rows (the formulas of shard_logistic_row, vector exp and log1p);
            // lanes past the tile's last row are zeroed.
            const __m256d z = _mm256_add_pd(dot4_rows_f64(row, w, cols, col_tail_mask), bias);
            const __m256i row_mask = tail_mask_epi64(valid);
            const __m256d label = valid == 4 ? _mm256_loadu_pd(y + start + g) : _mm256_maskload_pd(y + start + g, row_mask);
            const __m256d e = shard_exp_nonpositive_pd(_mm256_or_pd(z, sign_bit));  // exp(-|z|)
            const __m256d q = _mm256_div_pd(e, _mm256_add_pd(one, e));
            __m256d loss = _mm256_add_pd(_mm256_sub_pd(_mm256_max_pd(z, zero), _mm256_mul_pd(label, z)),
                                         shard_log1p_unit_pd(e));
            const __m256d nonnegative = _mm256_cmp_pd(z, zero, _CMP_GE_OQ);
            __m256d r = _mm256_blendv_pd(_mm256_sub_pd(q, label), _mm256_sub_pd(_mm256_sub_pd(one, label), q),
                                         nonnegative);
            if (valid < 4) {
                const __m256d lane_mask = _mm256_castsi256_pd(row_mask);
                loss = _mm256_and_pd(loss, lane_mask);
                r = _mm256_and_pd(r, lane_mask);
            }
            loss_sum = _mm256_add_pd(loss_sum, loss);
            bias_sum = _mm256_add_pd(bias_sum, r);
            _mm256_store_pd(residual + g, r);
        }

        tile_gradient_f64(tile_x, cols, residual, count, col_tail_mask, grad);
    }
    out[0] = sum4_pd(loss_sum);
    out[1 + cols] = sum4_pd(bias_sum);
}

SHARD_AVX2 int shardtrain_exp_f32_avx2(const float *in, float *out, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(out + i, shard_exp_ps(_mm256_loadu_ps(in + i)));
    if (i < count) {
        __m256i mask = tail_mask_epi32(count - i);
        _mm256_maskstore_ps(out + i, mask, shard_exp_ps(_mm256_maskload_ps(in + i, mask)));
    }
    return 1;
}

SHARD_AVX2 int shardtrain_log1p_unit_f32_avx2(const float *in, float *out, size_t count) {
    size_t i = 0;
    for (; i + 8 <= count; i += 8) _mm256_storeu_ps(out + i, shard_log1p_unit_ps(_mm256_loadu_ps(in + i)));
    if (i < count) {
        __m256i mask = tail_mask_epi32(count - i);
        _mm256_maskstore_ps(out + i, mask, shard_log1p_unit_ps(_mm256_maskload_ps(in + i, mask)));
    }
    return 1;
}

SHARD_AVX2 double shardtrain_read_sum_f32_avx2(const float *x, size_t count) {
    // Runs of 4096 values: four float accumulators (8 lanes each), then widened into a double sum.
    __m256d total = _mm256_setzero_pd();
    size_t i = 0;
    while (i + 32 <= count) {
        size_t end = count - i > 4096 ? i + 4096 : count;
        end = i + ((end - i) & ~(size_t)31);
        __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        for (; i < end; i += 32) {
            s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x + i));
            s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + i + 8));
            s2 = _mm256_add_ps(s2, _mm256_loadu_ps(x + i + 16));
            s3 = _mm256_add_ps(s3, _mm256_loadu_ps(x + i + 24));
        }
        total = _mm256_add_pd(total, widen_sum_pd(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3))));
    }
    double sum = sum4_pd(total);
    for (; i < count; i++) sum += (double)x[i];
    return sum;
}

SHARD_AVX2 double shardtrain_read_sum_f64_avx2(const double *x, size_t count) {
    __m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        s0 = _mm256_add_pd(s0, _mm256_loadu_pd(x + i));
        s1 = _mm256_add_pd(s1, _mm256_loadu_pd(x + i + 4));
        s2 = _mm256_add_pd(s2, _mm256_loadu_pd(x + i + 8));
        s3 = _mm256_add_pd(s3, _mm256_loadu_pd(x + i + 12));
    }
    double sum = sum4_pd(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3)));
    for (; i < count; i++) sum += x[i];
    return sum;
}

#endif
