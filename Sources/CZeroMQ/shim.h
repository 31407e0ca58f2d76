#ifndef SHARDTRAIN_CZEROMQ_SHIM_H
#define SHARDTRAIN_CZEROMQ_SHIM_H
#include <zmq.h>
#endif
