/* The seccomp filter: generated from a policy as classic BPF in the parent
 * and loaded by the child with one prctl() just before execve
 * (async-signal-safe). libseccomp only names the system calls. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/filter.h>

#include "error.h"
#include "policy.h"

struct seccomp_program {
	struct sock_filter *filter;
	unsigned short len;
};

/* Builds the filter, an allowlist: the calls of seccomp_allowed run, minus
 * those in p->seccomp_deny; every other call fails with p->seccomp_errno,
 * and one numbered above every call the filter names fails with ENOSYS (a
 * call newer than the list: C libraries fall back). The contract's
 * argument rules hold whatever the policy says: clone with namespace flags
 * -> EPERM, clone3 and openat2 -> ENOSYS, ioctl TIOCSTI and TIOCLINUX ->
 * EPERM, personality other than the harmless ones -> EPERM, set-ID mode
 * bits -> EPERM; socket() and socketpair() of a family outside
 * p->socket_families -> EAFNOSUPPORT; any non-native architecture (i386
 * int 0x80, x32) kills the process. */
int seccomp_program_build(const struct policy *p, struct seccomp_program *out, wr_error *e);
/* Loads it into the calling thread; needs no_new_privs already set.
 * Async-signal-safe. Returns 0 or -errno. */
int seccomp_program_load(const struct seccomp_program *prog);
void seccomp_program_free(struct seccomp_program *prog);
/* How many calls the filter lets run on this architecture (-v). */
size_t seccomp_allowed_count(const struct policy *p);
/* Writes what the filter does, one line per run of calls (-vv). */
int seccomp_program_dump(const struct policy *p, int fd, wr_error *e);

/* The calls a sandbox may make (before the policy's deny list), modelled on
 * Docker's default profile. NULL-terminated. */
extern const char *const seccomp_allowed[];
/* The isolation contract's denials: they join every policy's seccomp.deny
 * and none is in seccomp_allowed. NULL-terminated. */
extern const char *const seccomp_contract_deny[];
/* Allowlisted calls that run only when argument `arg` has none of `mask`'s
 * bits (clone without namespace flags, the mode-setting calls without
 * set-ID bits); their other values are denied. */
struct seccomp_conditional_allow {
	const char *syscall;
	unsigned arg;
	uint64_t mask;
};
extern const struct seccomp_conditional_allow seccomp_conditional_allows[];
extern const size_t seccomp_n_conditional_allows;
/* The contract's own errors, whatever the policy's errno: the call fails
 * with `err` (when has_arg: if (args[arg] & mask) == value). A filter adds
 * them where `err` differs from its default. */
struct seccomp_deny_rule {
	const char *syscall;
	int err;
	bool has_arg;
	unsigned arg;
	uint64_t mask, value;
};
extern const struct seccomp_deny_rule seccomp_deny_rules[];
extern const size_t seccomp_n_deny_rules;
/* Compared on the low 32 bits, as the kernel reads them: the personality()
 * values allowed, and the ioctl() requests refused (with EPERM). */
extern const uint32_t seccomp_personality_allowed[];
extern const size_t seccomp_n_personality_allowed;
extern const uint32_t seccomp_ioctl_denied[];
extern const size_t seccomp_n_ioctl_denied;
/* The native number of a call: libseccomp's, or for a call newer than the
 * libseccomp built with, warren's own table. Negative for a name known
 * only on other architectures; __NR_SCMP_ERROR when unknown. */
int seccomp_syscall_number(const char *name);
/* The name of a native number, or NULL; valid until the next call. */
const char *seccomp_syscall_name(int nr);
/* True when the name has a number: a name seccomp.deny may hold. */
bool seccomp_syscall_known(const char *name);
