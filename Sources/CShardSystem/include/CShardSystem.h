#ifndef SHARDTRAIN_CSHARDSYSTEM_H
#define SHARDTRAIN_CSHARDSYSTEM_H

/// Asks the kernel to send `signal` to this process when its parent thread exits
/// (`prctl(PR_SET_PDEATHSIG, signal)`, which Swift cannot call because prctl is variadic).
/// Returns 0 on success, -1 with errno set on failure, and -1 with errno = ENOSYS off Linux.
int shardtrain_set_parent_death_signal(int signal);

/// The C library's version string (e.g. "2.36"), or "unknown" where it cannot be asked. Part of a
/// worker's build identity: libm's exp/log/cos are part of the arithmetic.
const char *shardtrain_libc_version(void);

/// Copies the linker's GNU build ID of the running executable (the `NT_GNU_BUILD_ID` note: a hash of the
/// executable's contents written at link time) into `out`, at most `capacity` bytes. Returns the ID's length
/// (which may exceed `capacity`), or 0 when the executable has none or off Linux.
int shardtrain_executable_build_id(unsigned char *out, int capacity);

/// The number of CPUs this process may run on (`sched_getaffinity` + `CPU_COUNT`, which respects
/// `taskset` and container cpusets; `CPU_COUNT` is a macro, so Swift cannot call it), or the online CPU count
/// where affinity cannot be asked. Always at least 1.
int shardtrain_available_cpus(void);

/// An anonymous shared-memory file that can be sealed (`memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)`;
/// glibc declares it only under _GNU_SOURCE, which Swift's Glibc module does not set). Returns the descriptor, or
/// -1 with errno set (ENOSYS off Linux).
int shardtrain_memfd_create(const char *name);

/// Seals a file of `shardtrain_memfd_create` for good: no write, no change of size, no further seal
/// (`F_ADD_SEALS` with `F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL`), so that the pages other processes
/// map never change under them and never vanish (reading a truncated mapping is SIGBUS). Returns 0, or -1 with
/// errno set (EBUSY while a writable shared mapping exists; ENOSYS off Linux).
int shardtrain_memfd_seal(int descriptor);

/// Frees the pages of bytes [offset, offset + length) of a shared-memory file, keeping its size: they read as zeros
/// afterwards (`fallocate(descriptor, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length)`, declared only
/// under _GNU_SOURCE). Returns 0, or -1 with errno set (EPERM once the file is sealed against writes; ENOSYS off
/// Linux).
int shardtrain_punch_hole(int descriptor, long long offset, long long length);

/// Writes all `length` bytes at `bytes` to `descriptor` (a pipe), without the SIGPIPE that writing to a pipe
/// whose reader is gone sends (its default action ends the process): the signal is blocked in the calling thread
/// for the write and a pending one is consumed (`pthread_sigmask`, `sigtimedwait`). Returns 0, or -1 with errno set
/// (EPIPE: nobody reads the pipe any more).
int shardtrain_write_without_sigpipe(int descriptor, const void *bytes, long length);

/// Moves the calling thread into the network namespace of the open file `descriptor` (e.g. of
/// /var/run/netns/NAME; `setns(descriptor, CLONE_NEWNET)`, declared only under _GNU_SOURCE). Threads the caller
/// creates afterwards start there. Returns 0, or -1 with errno set (ENOSYS off Linux).
int shardtrain_enter_network_namespace(int descriptor);

#endif
