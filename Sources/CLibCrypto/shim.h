#ifndef SHARDTRAIN_CLIBCRYPTO_SHIM_H
#define SHARDTRAIN_CLIBCRYPTO_SHIM_H
#include <openssl/evp.h>
#endif
