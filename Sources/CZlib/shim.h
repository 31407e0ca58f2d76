#ifndef SHARDTRAIN_CZLIB_SHIM_H
#define SHARDTRAIN_CZLIB_SHIM_H
#include <zlib.h>

/// inflateInit2 is a macro, which Swift cannot call: windowBits 15 + 16 = a 32 KiB window and a gzip wrapper.
static inline int shardtrain_inflate_init_gzip(z_stream *stream) {
    return inflateInit2(stream, 15 + 16);
}
#endif
