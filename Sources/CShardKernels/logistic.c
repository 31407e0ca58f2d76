// Entry points with runtime CPU dispatch, and the portable (scalar, all-double) implementations.
#include "CShardKernels.h"
#include "kernels_internal.h"

#include <math.h>

// Set once before main (constructors run single-threaded), read by every call afterwards.
// __builtin_cpu_supports("avx2") also checks that the OS saves the YMM state (XGETBV).
static int shard_cpu_has_avx2_fma = 0;
static int shard_cpu_has_avx512 = 0;

__attribute__((constructor)) static void shard_detect_cpu(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    shard_cpu_has_avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    // As for AVX2, __builtin_cpu_supports("avx512f") is only true when the OS saves the ZMM state.
    shard_cpu_has_avx512 = shard_cpu_has_avx2_fma && __builtin_cpu_supports("avx512f") &&
                           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
                           __builtin_cpu_supports("avx512vl");
#endif
}

int shardtrain_kernels_have_avx2_fma(void) { return shard_cpu_has_avx2_fma; }
int shardtrain_kernels_have_avx512(void) { return shard_cpu_has_avx512; }

// One row at a time in double: z, then loss and residual, then r x_i added to the gradient sums.
#define DEFINE_PORTABLE_LOGISTIC(NAME, T, PARAM)                                             \
void NAME(const T *x, const T *y, size_t rows, size_t cols, const double *w, double b,     \
          double *out) {                                                                    \
    for (size_t j = 0; j < cols + 2; j++) out[j] = 0.0;                                     \
    for (size_t i = 0; i < rows; i++) {                                                     \
        const T *row = x + i * cols;                                                        \
        double z = (double)(PARAM)b;                                                        \
        for (size_t j = 0; j < cols; j++) z += (double)row[j] * (double)(PARAM)w[j];        \
        double loss, r;                                                                     \
        shard_logistic_row(z, (double)y[i], &loss, &r);                                     \
        out[0] += loss;                                                                     \
        for (size_t j = 0; j < cols; j++) out[1 + j] += r * (double)row[j];                 \
        out[1 + cols] += r;                                                                 \
    }                                                                                       \
}
DEFINE_PORTABLE_LOGISTIC(shardtrain_logistic_sums_f32_portable, float, float)
DEFINE_PORTABLE_LOGISTIC(shardtrain_logistic_sums_f64_portable, double, double)

#if defined(__x86_64__) || defined(__i386__)
#define SHARD_HAS_AVX2_BUILD 1
#else
#define SHARD_HAS_AVX2_BUILD 0
#endif

void shardtrain_logistic_sums_f32(const float *x, const float *y, size_t rows, size_t cols,
                                  const double *w, double b, double *out) {
#if SHARD_HAS_AVX2_BUILD
    if (shardtrain_kernels_have_avx2_fma()) {
        shardtrain_logistic_sums_f32_avx2(x, y, rows, cols, w, b, out);
        return;
    }
#endif
    shardtrain_logistic_sums_f32_portable(x, y, rows, cols, w, b, out);
}

void shardtrain_logistic_sums_f64(const double *x, const double *y, size_t rows, size_t cols,
                                  const double *w, double b, double *out) {
#if SHARD_HAS_AVX2_BUILD
    if (shardtrain_kernels_have_avx2_fma()) {
        shardtrain_logistic_sums_f64_avx2(x, y, rows, cols, w, b, out);
        return;
    }
#endif
    shardtrain_logistic_sums_f64_portable(x, y, rows, cols, w, b, out);
}

double shardtrain_read_sum_f32(const float *x, size_t count) {
#if SHARD_HAS_AVX2_BUILD
    if (shardtrain_kernels_have_avx2_fma()) return shardtrain_read_sum_f32_avx2(x, count);
#endif
    double sum = 0.0;
    for (size_t i = 0; i < count; i++) sum += (double)x[i];
    return sum;
}

double shardtrain_read_sum_f64(const double *x, size_t count) {
#if SHARD_HAS_AVX2_BUILD
    if (shardtrain_kernels_have_avx2_fma()) return shardtrain_read_sum_f64_avx2(x, count);
#endif
    double sum = 0.0;
    for (size_t i = 0; i < count; i++) sum += x[i];
    return sum;
}

int shardtrain_exp_f32(const float *in, float *out, size_t count) {
#if SHARD_HAS_AVX2_BUILD
    if (shardtrain_kernels_have_avx2_fma()) return shardtrain_exp_f32_avx2(in, out, count);
#endif
    for (size_t i = 0; i < count; i++) out[i] = expf(in[i]);
    return 0;
}

int shardtrain_log1p_unit_f32(const float *in, float *out, size_t count) {
#if SHARD_HAS_AVX2_BUILD
    if (shardtrain_kernels_have_avx2_fma()) return shardtrain_log1p_unit_f32_avx2(in, out, count);
#endif
    for (size_t i = 0; i < count; i++) out[i] = log1pf(in[i]);
    return 0;
}

size_t shardtrain_linear_sums_f32(const shardtrain_linear_params *params, const float *x, const float *y, size_t rows,
                                  size_t cols, const double *parameters, double *out) {
#if SHARD_HAS_AVX2_BUILD
    if (shardtrain_kernels_have_avx2_fma()) {
        return shardtrain_linear_sums_f32_avx2(params, x, y, rows, cols, parameters, out);
    }
#endif
    return SHARDTRAIN_UNSUPPORTED;
}

size_t shardtrain_linear_sums_f64(const shardtrain_linear_params *params, const double *x, const double *y, size_t rows,
                                  size_t cols, const double *parameters, double *out) {
#if SHARD_HAS_AVX2_BUILD
    if (shardtrain_kernels_have_avx2_fma()) {
        return shardtrain_linear_sums_f64_avx2(params, x, y, rows, cols, parameters, out);
    }
#endif
    return SHARDTRAIN_UNSUPPORTED;
}
