#define _GNU_SOURCE
#include "CShardSystem.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <string.h>
#if defined(__linux__)
#include <elf.h>
#include <link.h>
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

#if defined(__linux__)
struct build_id_search {
    unsigned char *out;
    int capacity;
    int length;
};

/// Walks the PT_NOTE segments of the first object `dl_iterate_phdr` reports, which is the executable.
static int find_build_id(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct build_id_search *search = data;
    for (int index = 0; index < info->dlpi_phnum; index++) {
        const ElfW(Phdr) *segment = &info->dlpi_phdr[index];
        if (segment->p_type != PT_NOTE) continue;
        const unsigned char *notes = (const unsigned char *)(info->dlpi_addr + segment->p_vaddr);
        size_t offset = 0;
        while (offset + sizeof(ElfW(Nhdr)) <= segment->p_memsz) {
            const ElfW(Nhdr) *header = (const ElfW(Nhdr) *)(notes + offset);
            size_t name_size = (header->n_namesz + 3u) & ~(size_t)3u;
            size_t description_size = (header->n_descsz + 3u) & ~(size_t)3u;
            size_t end = offset + sizeof(ElfW(Nhdr)) + name_size + description_size;
            if (end > segment->p_memsz) break;
            const unsigned char *name = notes + offset + sizeof(ElfW(Nhdr));
            if (header->n_type == NT_GNU_BUILD_ID && header->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                int length = (int)header->n_descsz;
                memcpy(search->out, name + name_size, (size_t)(length < search->capacity ? length : search->capacity));
                search->length = length;
                return 1;
            }
            offset = end;
        }
    }
    return 1;  // only the executable, never a shared library's ID
}
#endif

int shardtrain_executable_build_id(unsigned char *out, int capacity) {
#if defined(__linux__)
    struct build_id_search search = {out, capacity < 0 ? 0 : capacity, 0};
    dl_iterate_phdr(find_build_id, &search);
    return search.length;
#else
    (void)out;
    (void)capacity;
    return 0;
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

int shardtrain_punch_hole(int descriptor, long long offset, long long length) {
#ifdef __linux__
    return fallocate(descriptor, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length);
#else
    (void)descriptor;
    (void)offset;
    (void)length;
    errno = ENOSYS;
    return -1;
#endif
}

int shardtrain_write_without_sigpipe(int descriptor, const void *bytes, long length) {
    sigset_t pipe_only, previous;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    // A SIGPIPE already pending for this thread is someone else's: leave it alone.
    sigset_t pending;
    sigpending(&pending);
    const int was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &previous);
    long done = 0;
    int failure = 0;
    while (done < length) {
        const ssize_t written = write(descriptor, (const char *)bytes + done, (size_t)(length - done));
        if (written < 0 && errno == EINTR) continue;
        if (written <= 0) {
            failure = written < 0 ? errno : EIO;
            break;
        }
        done += written;
    }
    if (failure == EPIPE && !was_pending) {
        const struct timespec now = {0, 0};
        while (sigtimedwait(&pipe_only, NULL, &now) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (failure) {
        errno = failure;
        return -1;
    }
    return 0;
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
