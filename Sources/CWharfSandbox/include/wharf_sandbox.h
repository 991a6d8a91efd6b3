/*
 * wharf_sandbox.h — the few Linux calls the plugin host needs that Swift's Glibc module does not
 * expose: sealed anonymous memory files (memfd) and the limits a plugin host process sets on itself.
 * Internal to the gateway; not part of the plugin ABI.
 */
#ifndef WHARF_SANDBOX_H
#define WHARF_SANDBOX_H

#include <stdint.h>

/** Creates an anonymous memory file that can be sealed, closed on exec. Returns the descriptor or -1 (errno set). */
int wharf_sandbox_memfd_create(const char *name);

/** Seals `fd` so that its size and bytes can never change again. Returns 0 or -1 (errno set). */
int wharf_sandbox_seal(int fd);

/** Whether `fd` carries the seals of wharf_sandbox_seal. */
int wharf_sandbox_is_sealed(int fd);

/** A pipe whose ends are closed on exec: ends[0] to read, ends[1] to write. Returns 0 or -1 (errno set). */
int wharf_sandbox_pipe(int ends[2]);

/** Closes every descriptor from `lowest` up. Returns 0 or -1. */
int wharf_sandbox_close_from(int lowest);

/** Sets the soft and hard limit of one resource (a RLIMIT_* value). Returns 0 or -1 (errno set). */
int wharf_sandbox_set_limit(int resource, uint64_t soft, uint64_t hard);

/** The resource numbers, for Swift. */
extern const int WHARF_SANDBOX_LIMIT_ADDRESS_SPACE;
extern const int WHARF_SANDBOX_LIMIT_CPU_SECONDS;
extern const int WHARF_SANDBOX_LIMIT_OPEN_FILES;
extern const int WHARF_SANDBOX_LIMIT_CORE_BYTES;
extern const int WHARF_SANDBOX_LIMIT_FILE_BYTES;

/** CPU time this process has used, user and system, in whole seconds (rounded up). */
uint64_t wharf_sandbox_cpu_seconds_used(void);

#endif /* WHARF_SANDBOX_H */
