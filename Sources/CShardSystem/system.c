#define _GNU_SOURCE
#include "CShardSystem.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#include <sys/prctl.h>
#endif
#if defined(__GLIBC__)
#include <gnu/libc-version.h>
#endif

int shardtrain_set_parent_death_signal(int signal) {
#if defined(__linux__)
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0UL, 0UL, 0UL);
#else
    (void)signal;
    errno = ENOSYS;
    return -1;
#endif
}

const char *shardtrain_libc_version(void) {
#if defined(__GLIBC__)
    return gnu_get_libc_version();
#else
    return "unknown";
#endif
}

int shardtrain_available_cpus(void) {
#if defined(__linux__)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        int count = CPU_COUNT(&set);
        if (count >= 1) return count;
    }
#endif
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online >= 1 ? (int)online : 1;
}

int shardtrain_memfd_create(const char *name) {
#ifdef __linux__
    return memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
#else
    (void)name;
    errno = ENOSYS;
    return -1;
#endif
}

int shardtrain_memfd_seal(int descriptor) {
#ifdef __linux__
    return fcntl(descriptor, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
#else
    (void)descriptor;
    errno = ENOSYS;
    return -1;
#endif
}

int shardtrain_enter_network_namespace(int descriptor) {
#if defined(__linux__)
    return setns(descriptor, CLONE_NEWNET);
#else
    (void)descriptor;
    errno = ENOSYS;
    return -1;
#endif
}
