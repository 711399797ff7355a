/* The seccomp filter: compiled from a policy with libseccomp in the parent,
 * exported as classic BPF, and loaded by the child with one prctl() just
 * before execve (async-signal-safe). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <linux/filter.h>

#include "error.h"
#include "policy.h"

struct seccomp_program {
	struct sock_filter *filter;
	unsigned short len;
};

/* Builds the filter: default allow; every syscall in p->seccomp_deny fails
 * with p->seccomp_errno; the contract's argument rules are always added
 * (clone with namespace flags -> EPERM, clone3 -> ENOSYS, ioctl TIOCSTI and
 * TIOCLINUX -> EPERM, personality other than the harmless ones -> EPERM);
 * any non-native architecture (i386 int 0x80, x32) kills the process. */
int seccomp_program_build(const struct policy *p, struct seccomp_program *out, wr_error *e);
/* Loads it into the calling thread; needs no_new_privs already set.
 * Async-signal-safe. Returns 0 or -errno. */
int seccomp_program_load(const struct seccomp_program *prog);
void seccomp_program_free(struct seccomp_program *prog);
/* Writes the filter in libseccomp's pseudo-filter-code text (--verbose). */
int seccomp_program_dump(const struct policy *p, int fd, wr_error *e);

/* The syscalls every policy's seccomp.deny must hold: the isolation
 * contract, at least Docker's default profile. NULL-terminated. */
extern const char *const seccomp_contract_deny[];
/* True when libseccomp knows the name on this architecture. */
bool seccomp_syscall_known(const char *name);
