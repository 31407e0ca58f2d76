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
    size_t prefetched = 0;
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
        // Prefetch targets: PREFETCH_NEAR_BYTES ahead of this tile, plus half of its bytes in each of the
        // logit and loss loops, a little per group.
        const size_t ahead = start * cols * sizeof(float) + PREFETCH_NEAR_BYTES;
        const size_t tile_bytes = count * cols * sizeof(float);
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

            prefetch_until(x, &prefetched, ahead + (g + valid) * tile_bytes / (2 * count), feature_bytes);

            const __m256 dot = dot8_rows_f32(row, buffered ? weight_buffer : NULL, w, cols, col_tail_mask);
            _mm256_store_ps(logit + g, _mm256_add_ps(dot, bias));
        }

        // 2. loss and residual per row; lanes past the tile's last row are zeroed. Loss and residual
        //    sums run in float lanes over the tile and are widened to double once per tile.
        __m256 tile_loss = zero, tile_residual = zero;
        for (size_t g = 0; g < count; g += 8) {
            const size_t valid = count - g < 8 ? count - g : 8;
            prefetch_until(x, &prefetched, ahead + tile_bytes / 2 + (g + valid) * tile_bytes / (2 * count), feature_bytes);
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
        tile_gradient_f32(tile_x, cols, residual, count, col_tail_mask, grad);
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
