#define _GNU_SOURCE
#include "wharf_sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#define MFD_ALLOW_SEALING 0x0002U
#endif

static const int wharf_full_seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

int wharf_sandbox_memfd_create(const char *name) {
    return (int)syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
}

int wharf_sandbox_seal(int fd) {
    return fcntl(fd, F_ADD_SEALS, wharf_full_seals);
}

int wharf_sandbox_is_sealed(int fd) {
    int seals = fcntl(fd, F_GET_SEALS);
    return seals >= 0 && (seals & wharf_full_seals) == wharf_full_seals;
}

int wharf_sandbox_pipe(int ends[2]) {
    return pipe2(ends, O_CLOEXEC);
}

int wharf_sandbox_close_from(int lowest) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)lowest, ~0U, 0U) == 0) {
        return 0;
    }
#endif
    long highest = sysconf(_SC_OPEN_MAX);
    for (long fd = lowest; fd < highest; fd++) {
        close((int)fd);
    }
    return 0;
}

int wharf_sandbox_set_limit(int resource, uint64_t soft, uint64_t hard) {
    struct rlimit limit = {.rlim_cur = (rlim_t)soft, .rlim_max = (rlim_t)hard};
    return setrlimit(resource, &limit);
}

const int WHARF_SANDBOX_LIMIT_ADDRESS_SPACE = RLIMIT_AS;
const int WHARF_SANDBOX_LIMIT_CPU_SECONDS = RLIMIT_CPU;
const int WHARF_SANDBOX_LIMIT_OPEN_FILES = RLIMIT_NOFILE;
const int WHARF_SANDBOX_LIMIT_CORE_BYTES = RLIMIT_CORE;
const int WHARF_SANDBOX_LIMIT_FILE_BYTES = RLIMIT_FSIZE;

uint64_t wharf_sandbox_cpu_seconds_used(void) {
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) != 0) {
        return 0;
    }
    uint64_t micros = (uint64_t)usage.ru_utime.tv_sec * 1000000u + (uint64_t)usage.ru_utime.tv_usec
        + (uint64_t)usage.ru_stime.tv_sec * 1000000u + (uint64_t)usage.ru_stime.tv_usec;
    return (micros + 999999u) / 1000000u;
}
