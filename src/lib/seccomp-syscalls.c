/* What the seccomp filter names: the system calls a sandbox may make, the
 * ones the isolation contract denies in every policy, and the numbers of
 * calls newer than the libseccomp warren may be built with. seccomp.c turns
 * them into a filter; oci-spec.c into a runtime's profile. */
#include "config.h"
#include "seccomp-filter.h"

#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/stat.h>

#include "cleanup.h"

/* The allowlist: everything else fails with the policy's errno, or ENOSYS
 * when its number is above every number named here (a call newer than this
 * list, so that C libraries fall back as on an older kernel). Modelled on
 * Docker's default profile, without the calls it allows only to holders
 * of a capability (a sandbox holds none) and without the contract's
 * denials. Calls of other architectures (open, stat ... on arm64) resolve
 * to pseudo numbers libseccomp skips. Deliberately absent besides the
 * contract list: io_uring_* (its own path to sockets, files and the
 * kernel's least hardened code; libuv and others fall back), lsm_* (what
 * the host's security modules are), process_madvise, migrate_pages,
 * set_mempolicy_home_node (NUMA, as the contract's), sethostname and
 * setdomainname (no capability to use them), epoll_ctl_old and
 * epoll_wait_old (never implemented). */
const char *const seccomp_allowed[] = {
	/* Processes: clone only without namespace flags (seccomp.c), clone3
	 * answers ENOSYS so libc falls back to it. */
	"execve", "execveat", "exit", "exit_group", "fork", "vfork", "clone", "wait4", "waitid",
	"kill", "tkill", "tgkill", "getpid", "getppid", "gettid", "getpgid", "getpgrp", "setpgid",
	"getsid", "setsid", "set_tid_address", "set_robust_list", "get_robust_list", "rseq",
	"restart_syscall", "pidfd_open", "pidfd_send_signal", "process_mrelease", "prctl",
	"arch_prctl", "modify_ldt", "get_thread_area", "set_thread_area", "personality",
	"uname", "sysinfo", "umask", "getcpu", "uretprobe",
	/* Resources and scheduling of the sandbox's own processes. */
	"getrlimit", "setrlimit", "prlimit64", "getrusage", "times", "getpriority",
	"setpriority", "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getattr",
	"sched_setattr", "sched_getparam", "sched_setparam", "sched_getscheduler",
	"sched_setscheduler", "sched_get_priority_max", "sched_get_priority_min",
	"sched_rr_get_interval", "ioprio_get", "ioprio_set",
	/* Credentials: changing them needs capabilities the sandbox lacks,
	 * but programs call them to drop what they have. */
	"getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups", "setuid",
	"setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid",
	"setgroups", "capget", "capset",
	/* Signals. */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend",
	"rt_sigtimedwait", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "sigaltstack", "signalfd",
	"signalfd4", "pause", "alarm",
	/* Time (reading it and sleeping; setting clocks is the contract's). */
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
	"getitimer", "setitimer", "timer_create", "timer_delete", "timer_getoverrun",
	"timer_gettime", "timer_settime", "timerfd_create", "timerfd_gettime", "timerfd_settime",
	/* Memory. */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "mlock",
	"mlock2", "mlockall", "munlock", "munlockall", "membarrier", "memfd_create",
	"memfd_secret", "pkey_alloc", "pkey_free", "pkey_mprotect", "remap_file_pages",
	"map_shadow_stack", "mseal",
	/* Threads. */
	"futex", "futex_waitv", "futex_wake", "futex_wait", "futex_requeue",
	/* File descriptors and I/O; ioctl without TIOCSTI/TIOCLINUX (seccomp.c). */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "preadv2", "pwritev",
	"pwritev2", "close", "close_range", "dup", "dup2", "dup3", "pipe", "pipe2", "lseek",
	"fcntl", "ioctl", "flock", "fsync", "fdatasync", "sync", "syncfs", "sync_file_range",
	"fadvise64", "readahead", "fallocate", "ftruncate", "truncate", "sendfile",
	"copy_file_range", "splice", "tee", "vmsplice", "cachestat",
	/* Paths and metadata; the mode-setting calls never with set-ID bits,
	 * openat2 answers ENOSYS (seccomp.c). */
	"open", "openat", "creat", "stat", "fstat", "lstat", "newfstatat", "statx", "statfs",
	"fstatfs", "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getcwd",
	"chdir", "fchdir", "getdents", "getdents64", "mkdir", "mkdirat", "rmdir", "rename",
	"renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "unlink", "unlinkat",
	"mknod", "mknodat", "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown",
	"fchownat", "lchown", "utime", "utimes", "utimensat", "futimesat", "statmount",
	"listmount",
	/* Extended attributes. */
	"getxattr", "lgetxattr", "fgetxattr", "getxattrat", "setxattr", "lsetxattr", "fsetxattr",
	"setxattrat", "listxattr", "llistxattr", "flistxattr", "listxattrat", "removexattr",
	"lremovexattr", "fremovexattr", "removexattrat",
	/* Watching files (fanotify_init is the contract's, so marks stay unused). */
	"inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch", "fanotify_mark",
	/* Waiting for events. */
	"poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
	/* Linux AIO (not io_uring). */
	"io_setup", "io_destroy", "io_submit", "io_cancel", "io_getevents", "io_pgetevents",
	/* System V and POSIX IPC: the sandbox has its own IPC namespace. */
	"shmget", "shmat", "shmdt", "shmctl", "semget", "semop", "semtimedop", "semctl", "msgget",
	"msgsnd", "msgrcv", "msgctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
	"mq_notify", "mq_getsetattr",
	/* Sockets: socket and socketpair only for the policy's address
	 * families (seccomp.c); the network namespace does the rest. */
	"socket", "socketpair", "bind", "listen", "accept", "accept4", "connect", "getsockname",
	"getpeername", "getsockopt", "setsockopt", "sendto", "recvfrom", "sendmsg", "recvmsg",
	"sendmmsg", "recvmmsg", "shutdown",
	/* Sandboxing oneself further. */
	"seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
	"getrandom",
	NULL,
};

const char *const seccomp_contract_deny[] = {
	/* Mounting and changing the root: would undo the prepared filesystem
	 * view (the new mount API included, or it is the same door). */
	"mount", "umount2", "pivot_root", "chroot",
	"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
	/* Namespaces: a new user namespace hands out a full capability set
	 * again and setns joins someone else's (clone flags: see seccomp.c). */
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
	"mbind", "set_mempolicy", "set_mempolicy_home_node", "get_mempolicy", "move_pages",
	/* Obsolete interfaces nothing current needs. */
	"_sysctl", "sysfs", "uselib", "ustat",
	NULL,
};

#define NAMESPACE_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | \
			 CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME)
#define SETID_BITS (S_ISUID | S_ISGID)

const struct seccomp_conditional_allow seccomp_conditional_allows[] = {
	/* A plain deny of unshare/setns is bypassed by clone() with the same
	 * flags: clone runs only without any of them. */
	{ "clone", 0, NAMESPACE_FLAGS },
	/* No set-user-ID or set-group-ID bits, ever: a workspace bound from the
	 * host is owned by the caller there (root, for a root caller), so a
	 * set-ID file made inside would run with the caller's rights on the
	 * host. Inside they are useless anyway (nosuid, no_new_privs). */
	{ "chmod", 1, SETID_BITS }, { "fchmod", 1, SETID_BITS }, { "fchmodat", 2, SETID_BITS },
	{ "fchmodat2", 2, SETID_BITS }, { "creat", 1, SETID_BITS }, { "open", 2, SETID_BITS },
	{ "openat", 3, SETID_BITS }, { "mknod", 1, SETID_BITS }, { "mknodat", 2, SETID_BITS },
};
const size_t seccomp_n_conditional_allows = ARRAY_SIZE(seccomp_conditional_allows);

#define SETID_RULES(name, arg) \
	{ name, EPERM, true, arg, S_ISUID, S_ISUID }, { name, EPERM, true, arg, S_ISGID, S_ISGID }

const struct seccomp_deny_rule seccomp_deny_rules[] = {
	/* one rule per flag, so any combination containing it fails */
	{ "clone", EPERM, true, 0, CLONE_NEWNS, CLONE_NEWNS },
	{ "clone", EPERM, true, 0, CLONE_NEWUTS, CLONE_NEWUTS },
	{ "clone", EPERM, true, 0, CLONE_NEWIPC, CLONE_NEWIPC },
	{ "clone", EPERM, true, 0, CLONE_NEWUSER, CLONE_NEWUSER },
	{ "clone", EPERM, true, 0, CLONE_NEWPID, CLONE_NEWPID },
	{ "clone", EPERM, true, 0, CLONE_NEWNET, CLONE_NEWNET },
	{ "clone", EPERM, true, 0, CLONE_NEWCGROUP, CLONE_NEWCGROUP },
	{ "clone", EPERM, true, 0, CLONE_NEWTIME, CLONE_NEWTIME },
	/* clone3's flags sit behind a pointer seccomp cannot read; ENOSYS
	 * makes glibc fall back to clone(), which the rules above check. */
	{ "clone3", ENOSYS, false, 0, 0, 0 },
	SETID_RULES("chmod", 1), SETID_RULES("fchmod", 1), SETID_RULES("fchmodat", 2),
	SETID_RULES("fchmodat2", 2), SETID_RULES("creat", 1), SETID_RULES("open", 2),
	SETID_RULES("openat", 3), SETID_RULES("mknod", 1), SETID_RULES("mknodat", 2),
	/* openat2's mode sits behind a pointer: ENOSYS, and callers fall back
	 * to openat, which the rules above check. */
	{ "openat2", ENOSYS, false, 0, 0, 0 },
};
const size_t seccomp_n_deny_rules = ARRAY_SIZE(seccomp_deny_rules);

/* PER_LINUX is 0, so PER_LINUX | UNAME26 is UNAME26; 0xffffffff only
 * queries. Anything else (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE,
 * PER_LINUX32 ...) is refused. */
const uint32_t seccomp_personality_allowed[] = { PER_LINUX, PER_LINUX | UNAME26, 0xffffffffu };
const size_t seccomp_n_personality_allowed = ARRAY_SIZE(seccomp_personality_allowed);
/* Pushing input into the controlling terminal escapes to whoever reads it. */
const uint32_t seccomp_ioctl_denied[] = { TIOCSTI, TIOCLINUX };
const size_t seccomp_n_ioctl_denied = ARRAY_SIZE(seccomp_ioctl_denied);

#ifdef __x86_64__
/* x86_64 calls newer than some libseccomp 2.5 builds know by name
 * (Debian 12's knows up to 456, upstream 2.5.4 less). */
static const struct { const char *name; int nr; } late_syscalls[] = {
	{ "uretprobe", 335 }, { "set_mempolicy_home_node", 450 }, { "cachestat", 451 },
	{ "fchmodat2", 452 }, { "map_shadow_stack", 453 }, { "futex_wake", 454 },
	{ "futex_wait", 455 }, { "futex_requeue", 456 }, { "statmount", 457 }, { "listmount", 458 },
	{ "lsm_get_self_attr", 459 }, { "lsm_set_self_attr", 460 }, { "lsm_list_modules", 461 },
	{ "mseal", 462 }, { "setxattrat", 463 }, { "getxattrat", 464 }, { "listxattrat", 465 },
	{ "removexattrat", 466 },
};
#endif

int seccomp_syscall_number(const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr != __NR_SCMP_ERROR)
		return nr;
#ifdef __x86_64__
	for (size_t i = 0; i < ARRAY_SIZE(late_syscalls); i++)
		if (strcmp(late_syscalls[i].name, name) == 0)
			return late_syscalls[i].nr;
#endif
	return __NR_SCMP_ERROR;
}

const char *seccomp_syscall_name(int nr)
{
	/* libseccomp's own table, as its resolve function (which allocates) reads it */
	static __thread char name[64];
	char *found = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	if (found) {
		snprintf(name, sizeof name, "%s", found);
		free(found);
		return name;
	}
#ifdef __x86_64__
	for (size_t i = 0; i < ARRAY_SIZE(late_syscalls); i++)
		if (late_syscalls[i].nr == nr)
			return late_syscalls[i].name;
#endif
	return NULL;
}

bool seccomp_syscall_known(const char *name)
{
	return seccomp_syscall_number(name) != __NR_SCMP_ERROR;
}
