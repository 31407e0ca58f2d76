#include "CShardKernels.h"
#include <math.h>

// Scalar reference implementation. Kept simple and exact; the SIMD path replaces it.
#define DEFINE_LOGISTIC(NAME, T)                                                              \
void NAME(const T *x, const T *y, size_t rows, size_t cols, const double *w, double b,     \
          double *out) {                                                                    \
    for (size_t j = 0; j < cols + 2; j++) out[j] = 0.0;                                      \
    for (size_t i = 0; i < rows; i++) {                                                     \
        const T *row = x + i * cols;                                                        \
        double z = b;                                                                       \
        for (size_t j = 0; j < cols; j++) z += (double)row[j] * w[j];                       \
        double yi = (double)y[i];                                                           \
        double e = exp(-fabs(z));                                                           \
        out[0] += (z > 0 ? z : 0) - yi * z + log1p(e);                                      \
        double s = z >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);                                \
        double r = s - yi;                                                                  \
        for (size_t j = 0; j < cols; j++) out[1 + j] += r * (double)row[j];                 \
        out[1 + cols] += r;                                                                 \
    }                                                                                       \
}
DEFINE_LOGISTIC(shardtrain_logistic_sums_f32, float)
DEFINE_LOGISTIC(shardtrain_logistic_sums_f64, double)
