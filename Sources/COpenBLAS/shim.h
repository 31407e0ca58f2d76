#ifndef SHARDTRAIN_COPENBLAS_SHIM_H
#define SHARDTRAIN_COPENBLAS_SHIM_H
// Debian's libopenblas-dev: the CBLAS interface plus OpenBLAS's own calls (thread count, core name, config).
#include <cblas.h>
#endif
