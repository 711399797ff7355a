#include "config.h"
#include "seccomp-filter.h"
#include "cleanup.h"

#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

const char *const seccomp_contract_deny[] = {
	/* Mounting and changing the root: would undo the prepared filesystem
	 * view (the new mount API included, or it is the same door). */
	"mount", "umount2", "pivot_root", "chroot",
	"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
	/* Namespaces: a new user namespace hands out a full capability set
	 * again and setns joins someone else's (clone flags: see below). */
	"unshare", "setns",
	/* Reading or steering other processes and their memory. */
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
	/* Large kernel attack surface with a history of exploits. */
	"bpf", "perf_event_open", "userfaultfd", "fanotify_init", "lookup_dcookie",
	/* Kernel keyrings are not namespaced. */
	"keyctl", "add_key", "request_key",
	/* Loading code into the kernel or booting another one. */
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	"create_module", "query_module", "get_kernel_syms",
	/* File handles open files by inode, around every path check. */
	"open_by_handle_at", "name_to_handle_at",
	/* Host-wide state: power, swap, kernel log, accounting, quotas, ttys. */
	"reboot", "swapon", "swapoff", "syslog", "acct", "quotactl", "quotactl_fd",
	"vhangup", "nfsservctl",
	/* The clocks are shared with the host (time namespaces only offset). */
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	/* Raw I/O port access. */
	"ioperm", "iopl",
	/* NUMA placement: moves or pins memory beyond the cgroup's view. */
	"mbind", "set_mempolicy", "get_mempolicy", "move_pages",
	/* Obsolete interfaces nothing current needs. */
	"_sysctl", "sysfs", "uselib", "ustat",
	NULL,
};

bool seccomp_syscall_known(const char *name)
{
	return seccomp_syscall_resolve_name(name) != __NR_SCMP_ERROR;
}

/* The contract's argument rules, added to every filter. */
struct arg_rule {
	const char *syscall;
	int err;
	int raw_nr;       /* when libseccomp does not know the name yet (0: use it) */
	bool has_arg;
	unsigned arg;
	uint64_t mask, value;
};

#define SETID_RULES(name, nr, arg) \
	{ name, EPERM, nr, true, arg, S_ISUID, S_ISUID }, { name, EPERM, nr, true, arg, S_ISGID, S_ISGID }
#ifdef __x86_64__
#define FCHMODAT2_NR 452   /* Linux 6.6; libseccomp 2.5.4 has no name for it */
#else
#define FCHMODAT2_NR 0     /* left out elsewhere */
#endif

static const struct arg_rule arg_rules[] = {
	/* A plain deny of unshare/setns is bypassed by clone() with the same
	 * flags: one rule per flag, so any combination containing it fails. */
	{ "clone", EPERM, 0, true, 0, CLONE_NEWNS, CLONE_NEWNS },
	{ "clone", EPERM, 0, true, 0, CLONE_NEWUTS, CLONE_NEWUTS },
	{ "clone", EPERM, 0, true, 0, CLONE_NEWIPC, CLONE_NEWIPC },
	{ "clone", EPERM, 0, true, 0, CLONE_NEWUSER, CLONE_NEWUSER },
	{ "clone", EPERM, 0, true, 0, CLONE_NEWPID, CLONE_NEWPID },
	{ "clone", EPERM, 0, true, 0, CLONE_NEWNET, CLONE_NEWNET },
	{ "clone", EPERM, 0, true, 0, CLONE_NEWCGROUP, CLONE_NEWCGROUP },
	{ "clone", EPERM, 0, true, 0, CLONE_NEWTIME, CLONE_NEWTIME },
	/* clone3's flags sit behind a pointer seccomp cannot read; ENOSYS
	 * makes glibc fall back to clone(), which the rules above check. */
	{ "clone3", ENOSYS, 0, false, 0, 0, 0 },
	/* Pushing input into the controlling terminal escapes to whoever reads
	 * it. The kernel truncates the request to 32 bits, so compare only
	 * those: a full 64-bit compare is bypassed by setting high bits. */
	{ "ioctl", EPERM, 0, true, 1, 0xffffffffu, TIOCSTI },
	{ "ioctl", EPERM, 0, true, 1, 0xffffffffu, TIOCLINUX },
	/* No set-user-ID or set-group-ID bits, ever: a workspace bound from the
	 * host is owned by the caller there (root, for a root caller), so a
	 * set-ID file made inside would run with the caller's rights on the
	 * host. Inside they are useless anyway (nosuid, no_new_privs). */
	SETID_RULES("chmod", 0, 1), SETID_RULES("fchmod", 0, 1), SETID_RULES("fchmodat", 0, 2),
	SETID_RULES(NULL, FCHMODAT2_NR, 2), SETID_RULES("creat", 0, 1), SETID_RULES("open", 0, 2),
	SETID_RULES("openat", 0, 3), SETID_RULES("mknod", 0, 1), SETID_RULES("mknodat", 0, 2),
	/* openat2's mode sits behind a pointer: ENOSYS, and callers fall back
	 * to openat, which the rules above check. */
	{ "openat2", ENOSYS, 0, false, 0, 0, 0 },
};

/* personality() values allowed; anything else (READ_IMPLIES_EXEC,
 * ADDR_NO_RANDOMIZE, PER_LINUX32 ...) fails with EPERM. PER_LINUX is 0, so
 * PER_LINUX | UNAME26 is UNAME26; 0xffffffff only queries.
 * libseccomp takes one comparison per argument in a rule and no ALLOW rule
 * under an ALLOW default, so "anything but these" cannot be said through
 * it: a short classic BPF prefix checks it before libseccomp's program. */
static const uint32_t personality_allowed[] = { PER_LINUX, PER_LINUX | UNAME26, 0xffffffffu };

static bool policy_denies(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_seccomp_deny; i++)
		if (strcmp(p->seccomp_deny[i], name) == 0)
			return true;
	return false;
}

static int add_arg_rule(scmp_filter_ctx ctx, const struct arg_rule *rule, wr_error *e)
{
	int nr = rule->syscall ? seccomp_syscall_resolve_name(rule->syscall) : rule->raw_nr;
	int r;
	if (rule->has_arg)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)rule->err), nr, 1,
				     SCMP_CMP(rule->arg, SCMP_CMP_MASKED_EQ, rule->mask, rule->value));
	else
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)rule->err), nr, 0);
	if (r < 0)
		return wr_error_set(e, -r, "seccomp: rule for %s", rule->syscall ? rule->syscall : "a raw syscall");
	return 0;
}

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}
#define _cleanup_seccomp_ _cleanup_(seccomp_releasep)

/* The one place the policy becomes rules; build and dump both use it. */
static int filter_new(const struct policy *p, scmp_filter_ctx *out, wr_error *e)
{
	/* ERRNO(0) would make a denied call "succeed" without running. */
	if (p->seccomp_errno <= 0 || p->seccomp_errno > 4095)
		return wr_error_set(e, EINVAL, "seccomp.errno %d: expected an errno between 1 and 4095",
				    p->seccomp_errno);

	_cleanup_seccomp_ scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return wr_error_set(e, ENOMEM, "seccomp_init");
	/* Only the native architecture is in the filter: i386 (int 0x80) and
	 * x32 numbers on x86_64 hit the bad-arch action. */
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		return wr_error_set(e, -r, "seccomp: set bad-arch action");
	/* We only export; the child sets no_new_privs itself before loading. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (r < 0)
		return wr_error_set(e, -r, "seccomp: clear no_new_privs attribute");

	for (size_t i = 0; i < p->n_seccomp_deny; i++) {
		const char *name = p->seccomp_deny[i];
		int nr = seccomp_syscall_resolve_name(name);
		if (nr == __NR_SCMP_ERROR)
			return wr_error_set(e, EINVAL, "seccomp.deny: unknown system call \"%s\"", name);
		/* A name libseccomp knows but x86_64 lacks (socketcall ...)
		 * resolves to a pseudo number that seccomp_rule_add skips. */
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)p->seccomp_errno), nr, 0);
		if (r < 0)
			return wr_error_set(e, -r, "seccomp: deny %s", name);
	}
	for (size_t i = 0; i < ARRAY_SIZE(arg_rules); i++) {
		/* A syscall the policy denies outright is already stricter;
		 * a second action for it would make libseccomp pick one. */
		if (arg_rules[i].syscall && policy_denies(p, arg_rules[i].syscall))
			continue;
		if (!arg_rules[i].syscall && !arg_rules[i].raw_nr)
			continue; /* a raw number this architecture does not have */
		r = add_arg_rule(ctx, &arg_rules[i], e);
		if (r < 0)
			return r;
	}
	*out = TAKE_PTR(ctx);
	return 0;
}

#define PERSONALITY_PREFIX_LEN (6 + ARRAY_SIZE(personality_allowed))

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG0_LOW offsetof(struct seccomp_data, args[0])
#else
#define ARG0_LOW (offsetof(struct seccomp_data, args[0]) + 4)
#endif

/* Native personality() calls whose low 32 bits are not allowed return
 * EPERM; everything else falls through to libseccomp's program, which
 * also kills foreign architectures. Jumps count from the next insn. */
static void personality_prefix(struct sock_filter *f)
{
	const size_t end = PERSONALITY_PREFIX_LEN;
	size_t i = 0;
	f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, seccomp_arch_native(), 0,
					    (uint8_t)(end - i - 1));
	i++;
	f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	f[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_personality, 0,
					    (uint8_t)(end - i - 1));
	i++;
	f[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG0_LOW);
	for (size_t k = 0; k < ARRAY_SIZE(personality_allowed); k++, i++)
		f[i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, personality_allowed[k],
						    (uint8_t)(end - i - 1), 0);
	f[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA));
}

/* libseccomp 2.5 exports only to an fd: go through a memfd. */
static int export_bpf(scmp_filter_ctx ctx, struct seccomp_program *out, wr_error *e)
{
	_cleanup_close_ int fd = memfd_create("warren-seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return wr_error_set(e, errno, "memfd_create");
	int r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return wr_error_set(e, -r, "seccomp_export_bpf");
	struct stat st;
	if (fstat(fd, &st) < 0)
		return wr_error_set(e, errno, "fstat seccomp memfd");
	size_t bytes = (size_t)st.st_size;
	size_t total = PERSONALITY_PREFIX_LEN + bytes / sizeof(struct sock_filter);
	if (bytes == 0 || bytes % sizeof(struct sock_filter) != 0 || total > BPF_MAXINSNS)
		return wr_error_set(e, EINVAL, "seccomp: exported filter of %zu bytes is not usable", bytes);

	_cleanup_free_ struct sock_filter *filter = calloc(total, sizeof *filter);
	if (!filter)
		return wr_error_set(e, ENOMEM, "seccomp: allocate filter");
	personality_prefix(filter);
	char *dst = (char *)(filter + PERSONALITY_PREFIX_LEN);
	for (size_t done = 0; done < bytes;) {
		ssize_t n = pread(fd, dst + done, bytes - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return wr_error_set(e, errno, "read seccomp memfd");
		if (n == 0)
			return wr_error_set(e, EIO, "read seccomp memfd: short read");
		done += (size_t)n;
	}
	out->filter = TAKE_PTR(filter);
	out->len = (unsigned short)total;
	return 0;
}

int seccomp_program_build(const struct policy *p, struct seccomp_program *out, wr_error *e)
{
	_cleanup_seccomp_ scmp_filter_ctx ctx = NULL;
	int r = filter_new(p, &ctx, e);
	if (r < 0)
		return r;
	return export_bpf(ctx, out, e);
}

int seccomp_program_load(const struct seccomp_program *prog)
{
	if (!prog->filter || prog->len == 0)
		return -EINVAL;
	/* Cast away const: the kernel copies the program and never writes it. */
	struct sock_fprog fprog = { .len = prog->len, .filter = (struct sock_filter *)prog->filter };
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) < 0)
		return -errno;
	return 0;
}

void seccomp_program_free(struct seccomp_program *prog)
{
	free(prog->filter);
	prog->filter = NULL;
	prog->len = 0;
}

int seccomp_program_dump(const struct policy *p, int fd, wr_error *e)
{
	_cleanup_seccomp_ scmp_filter_ctx ctx = NULL;
	int r = filter_new(p, &ctx, e);
	if (r < 0)
		return r;
	/* The hand-written prefix is not libseccomp's to print. */
	if (dprintf(fd, "# prefix (before libseccomp's program):\n"
			"#   native personality() with low 32 bits not one of") < 0)
		return wr_error_set(e, errno, "write seccomp dump");
	for (size_t k = 0; k < ARRAY_SIZE(personality_allowed); k++)
		if (dprintf(fd, " 0x%x", personality_allowed[k]) < 0)
			return wr_error_set(e, errno, "write seccomp dump");
	if (dprintf(fd, ": action ERRNO(%d);\n", EPERM) < 0)
		return wr_error_set(e, errno, "write seccomp dump");
	r = seccomp_export_pfc(ctx, fd);
	if (r < 0)
		return wr_error_set(e, -r, "seccomp_export_pfc");
	return 0;
}
