/* The security battery's attacker: one binary, one subcommand per attempt,
 * compiled on the host by the tests and run inside a sandbox (never on the
 * host: as root there, several of these would damage the machine).
 *
 * Every subcommand tries each way it knows to do one forbidden thing. A try
 * must fail with the errno the isolation contract promises, and says which
 * layer answers: "blocked: <what>: <errno> (<layer>)". A try that worked
 * prints "ESCAPED: <what>"; one refused with another errno prints
 * "UNEXPECTED: <what>: ..." (the layer we count on did not answer: something
 * else did, or the try never reached it). The run ends with "RESULT:
 * BLOCKED" (exit 0), "RESULT: ESCAPED" (42) or "RESULT: UNEXPECTED" (43); a
 * usage error exits 2. The tests parse those lines and check the host.
 *
 * `attack --control NAME ARGS` is the control run (tests/vm/attack-control.sh):
 * the same tries as root OUTSIDE any sandbox, in the throwaway qemu guest of
 * tests/vm where loading modules or kexec harm nothing. There each try must
 * succeed ("works: <what>"); one that fails anyway prints "BROKEN: <what>"
 * (its arguments, not a sandbox, made it fail, so a sandbox run of it proves
 * nothing) and the run ends "RESULT: CONTROL BROKEN" (exit 44). Tries that
 * cannot succeed for anyone say why ("uncontrolled: <what>: <why>"). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/kexec.h>
#include <linux/keyctl.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/userfaultfd.h>
#include <linux/vm_sockets.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <grp.h>
#include <ifaddrs.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The errno a denied system call gets from the policy's seccomp filter: the
 * battery runs policy/default.json and copies of it ("errno": "EPERM"), as
 * a deny list today and as an allowlist (issue 10) alike. The filter answers
 * before the kernel looks at capabilities or arguments. */
#define SECCOMP_ERRNO EPERM

/* The layer each try counts on, printed beside its errno. */
#define BY_SECCOMP "seccomp"
#define BY_CLONE3 "seccomp: clone3 is ENOSYS so libc falls back to clone"
#define BY_CAPS "no capability in any namespace"
#define BY_INIT "pid 1 is the sandbox's root and not dumpable"
#define BY_MNTNS "mount namespace: not in the sandbox's root"
#define BY_RO "read-only mount, checked before ownership"
#define BY_DAC "file permissions: the image's files are root's"
#define BY_DEV "the sandbox's minimal /dev has no such node"
#define BY_MASK "masked: /dev/null bound on a nodev mount"
#define BY_SYSCTL "sysctl: only the host's root may write it"
#define BY_XDEV "mount boundary: links never cross mounts"

static bool control;
static int escapes, unexpected, broken, works, uncontrolled;

/* What a check found: the forbidden thing happened (V_ESCAPED), it did not
 * (V_HELD), or the attempt could not tell (V_SURPRISE: a wrong errno, a
 * setup step that failed). In the control run the forbidden thing would
 * happen: there V_HELD means the check cannot see it. */
enum verdict { V_ESCAPED, V_HELD, V_SURPRISE };

static void verdict(enum verdict v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void verdict(enum verdict v, const char *fmt, ...)
{
	static const char *const tags[2][3] = { { "ESCAPED", "blocked", "UNEXPECTED" }, { "works", "BROKEN", "BROKEN" } };
	int *const counters[2][3] = { { &escapes, NULL, &unexpected }, { &works, &broken, &broken } };
	va_list ap;
	va_start(ap, fmt);
	printf("%s: ", tags[control][v]);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	if (counters[control][v])
		(*counters[control][v])++;
}

#define escaped(...) verdict(V_ESCAPED, __VA_ARGS__)
#define held(...) verdict(V_HELD, __VA_ARGS__)
#define surprise(...) verdict(V_SURPRISE, __VA_ARGS__)

static const char *errname(int err)
{
	const char *name = strerrorname_np(err);
	return name ? name : "an unknown errno";
}

/* What a try must fail with inside a sandbox: `want` (or `also`, when two
 * filters of the contract answer differently), for the reason `layer`
 * gives. `optional`: ENOENT is right when this kernel lacks the file (the
 * control run, on a kernel that has it, checks the path). `why_not`: the try
 * cannot succeed outside a sandbox either; the control run says why. */
struct expect {
	int want, also;
	const char *layer;
	bool optional;
	const char *why_not;
};

static void judge(const char *what, long r, int err, struct expect x)
{
	if (control && x.why_not) {
		printf("uncontrolled: %s: %s\n", what, x.why_not);
		uncontrolled++;
	} else if (r >= 0) {
		escaped("%s succeeded (returned %ld)", what, r);
	} else if (control) {
		held("%s: %s, outside any sandbox too", what, errname(err));
	} else if (err == x.want || (x.also && err == x.also)) {
		printf("blocked: %s: %s (%s)\n", what, errname(err), x.layer);
	} else if (x.optional && err == ENOENT) {
		printf("absent: %s: this kernel has no such file\n", what);
	} else {
		surprise("%s: %s, expected %s%s%s (%s)", what, errname(err), errname(x.want), x.also ? " or " : "",
			 x.also ? errname(x.also) : "", x.layer);
	}
}

/* One try; r < 0 with errno is a refusal. Each reads errno before anything
 * else can change it (the try is evaluated before the call). */
static void expect_x(const char *what, long r, struct expect x)
{
	judge(what, r, errno, x);
}

static void expect_fd_x(const char *what, long fd, struct expect x)
{
	judge(what, fd, errno, x);
	if (fd >= 0)
		close((int)fd);
}

#define expect_errno(what, r, want, layer) expect_x(what, r, (struct expect){ want, 0, layer, false, NULL })
#define expect_errno_fd(what, fd, want, layer) expect_fd_x(what, fd, (struct expect){ want, 0, layer, false, NULL })

/* Runs a try in a forked child and hands back its result, errno included:
 * what the try does to its own process (a new namespace, another root, a
 * tracer) ends with the child, so the next try starts from the same place. */
struct child_try {
	int fds[2];
	pid_t pid;
};

static bool child_begin(struct child_try *c)
{
	c->pid = -1;
	if (pipe2(c->fds, O_CLOEXEC) < 0) {
		c->fds[0] = c->fds[1] = -1;
		return false;
	}
	fflush(stdout);
	c->pid = fork();
	return c->pid == 0;
}

static void child_report(struct child_try *c, long r)
{
	long msg[2] = { r, errno };
	(void)!write(c->fds[1], msg, sizeof(msg));
	_exit(0);
}

static long child_end(struct child_try *c)
{
	int err = errno;
	long msg[2] = { -1, err };
	if (c->pid > 0) {
		close(c->fds[1]);
		if (read(c->fds[0], msg, sizeof(msg)) != (ssize_t)sizeof(msg))
			msg[0] = -1, msg[1] = ECHILD; /* it died before answering */
		close(c->fds[0]);
		waitpid(c->pid, NULL, 0);
	} else if (c->fds[0] >= 0) {
		close(c->fds[0]);
		close(c->fds[1]);
	}
	errno = (int)msg[1];
	return msg[0];
}

#define IN_CHILD(expr)                                  \
	({                                              \
		struct child_try c_;                    \
		if (child_begin(&c_))                   \
			child_report(&c_, (long)(expr)); \
		child_end(&c_);                         \
	})

/* Starts BIN as "sleep 30" and returns once it has exec'd (the pipe is
 * close-on-exec: EOF means the exec happened, or the child died). */
static pid_t spawn_sleeper_of(const char *bin)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl(bin, "sleep", "30", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char c;
	while (read(p[0], &c, 1) < 0 && errno == EINTR)
		;
	close(p[0]);
	return pid;
}

static pid_t spawn_sleeper(void)
{
	return spawn_sleeper_of("/bin/sleep");
}

static void reap(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* --- privilege ------------------------------------------------------------ */

static void at_setuid0(void)
{
	expect_errno("setuid(0)", setuid(0), EPERM, BY_CAPS);
	expect_errno("setgid(0)", setgid(0), EPERM, BY_CAPS);
	expect_errno("setresuid(0,0,0)", setresuid(0, 0, 0), EPERM, BY_CAPS);
	expect_errno("setresgid(0,0,0)", setresgid(0, 0, 0), EPERM, BY_CAPS);
	gid_t zero = 0;
	expect_errno("setgroups([0])", setgroups(1, &zero), EPERM, BY_CAPS);
	setfsuid(0);
	uid_t fsuid = (uid_t)setfsuid((uid_t)-1);
	if (fsuid == 0)
		escaped("fsuid is 0 after setfsuid(0)");
	else
		held("setfsuid(0): fsuid stays %u", fsuid);
	if (geteuid() == 0 || getegid() == 0)
		escaped("euid %u egid %u", geteuid(), getegid());
	else
		held("euid %u egid %u", geteuid(), getegid());
}

/* A mount flag the contract sets (ST_NOSUID, ST_RDONLY), as a check. */
static void check_mount_flag(const char *path, unsigned long flag, const char *name)
{
	struct statvfs sv;
	if (statvfs(path, &sv) < 0)
		surprise("statvfs %s: %s", path, strerror(errno));
	else if (!(sv.f_flag & flag))
		escaped("%s is mounted without %s", path, name);
	else
		held("%s is %s", path, name);
}

static bool caps_all_zero(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	bool zero = true;
	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "Cap", 3) == 0 && !strstr(line, "0000000000000000"))
			zero = false, printf("  %s", line);
	if (f)
		fclose(f);
	return zero;
}

/* argv: the mounts that must be nosuid (default: every mount a command
 * sees; a backend whose engine mounts the root says which it promises). */
static void at_caps(int argc, char **argv)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	memset(d, 0xff, sizeof(d));
	/* capset only lowers what is permitted, and nothing is. (As root, it
	 * fills the inheritable set the ambient raise below needs.) */
	expect_errno("capset(all)", syscall(SYS_capset, &h, d), EPERM, "the permitted set is empty");
	expect_errno("PR_CAP_AMBIENT_RAISE CAP_SYS_ADMIN", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0),
		     EPERM, "not in the permitted and inheritable sets");
	prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0); /* cannot be cleared: EINVAL for everyone */
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		escaped("no_new_privs is not set");
	else
		held("no_new_privs is set");
	int mode = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
	if (mode != 2)
		escaped("seccomp mode is %d, not 2 (filter)", mode);
	else
		held("seccomp mode 2 (filter)");
	if (!caps_all_zero())
		escaped("a capability set is not empty");
	else
		held("every capability set is empty");
	/* Set-user-ID programs of the image (su, passwd, mount) must not raise
	 * anything: every mount is nosuid (and no_new_privs is set anyway). */
	const char *mounts[] = { "/", "/usr", "/workspace", "/tmp", "/dev/shm", "/dev", NULL };
	if (argc > 0)
		for (int i = 0; i < argc; i++)
			check_mount_flag(argv[i], ST_NOSUID, "nosuid");
	else
		for (const char **m = mounts; *m; m++)
			check_mount_flag(*m, ST_NOSUID, "nosuid");
}

/* A user namespace's maps are written once, by whoever sets it up: the
 * kernel refuses a second write to anyone (EPERM), so those writes have no
 * control; the initial namespace's maps outside a sandbox are as final. */
#define MAPS_ONCE "the kernel takes a namespace's maps once, from anyone"

static void at_uid_map(void)
{
	const char *maps[] = { "/proc/self/uid_map", "/proc/self/gid_map", NULL };
	char what[128];
	for (const char **f = maps; *f; f++) {
		int fd = open(*f, O_WRONLY | O_CLOEXEC); /* our own file: opening is allowed */
		if (fd < 0) {
			surprise("open %s for writing: %s", *f, strerror(errno));
			continue;
		}
		snprintf(what, sizeof(what), "write %s", *f);
		expect_x(what, write(fd, "0 0 4294967295\n", 15),
		      (struct expect){ EPERM, 0, "maps are written once", false, MAPS_ONCE });
		close(fd);
	}
	/* setgroups is opened for writing only with CAP_SYS_ADMIN over the
	 * namespace (the sandbox user has none anywhere). */
	int fd = open("/proc/self/setgroups", O_WRONLY | O_CLOEXEC);
	expect_errno("open /proc/self/setgroups for writing", fd, EACCES, BY_CAPS);
	if (fd >= 0) {
		expect_errno("write allow to /proc/self/setgroups", write(fd, "allow", 5), EPERM, BY_CAPS);
		close(fd);
	}
	fd = open("/proc/1/uid_map", O_WRONLY | O_CLOEXEC);
	expect_errno("open /proc/1/uid_map for writing", fd, EACCES, BY_INIT);
	if (fd >= 0) {
		expect_x("write /proc/1/uid_map", write(fd, "0 0 4294967295\n", 15),
		      (struct expect){ EPERM, 0, "maps are written once", false, MAPS_ONCE });
		close(fd);
	}
}

static const struct { const char *name; int flag; } ns_flags[] = {
	{ "CLONE_NEWUSER", CLONE_NEWUSER }, { "CLONE_NEWNS", CLONE_NEWNS }, { "CLONE_NEWPID", CLONE_NEWPID },
	{ "CLONE_NEWNET", CLONE_NEWNET }, { "CLONE_NEWUTS", CLONE_NEWUTS }, { "CLONE_NEWIPC", CLONE_NEWIPC },
	{ "CLONE_NEWCGROUP", CLONE_NEWCGROUP }, { "CLONE_NEWTIME", CLONE_NEWTIME },
};
#define N_NS_FLAGS (sizeof(ns_flags) / sizeof(ns_flags[0]))

/* Without the filter the sandbox user could unshare a user namespace (and
 * every other with it): seccomp is the layer here. Each in a child, so one
 * new namespace does not change what the next try does. */
static void at_unshare(void)
{
	char what[96];
	for (size_t i = 0; i < N_NS_FLAGS; i++) {
		snprintf(what, sizeof(what), "unshare(%s)", ns_flags[i].name);
		expect_errno(what, IN_CHILD(unshare(ns_flags[i].flag)), SECCOMP_ERRNO, BY_SECCOMP);
	}
	expect_errno("unshare(all namespaces)",
		     IN_CHILD(unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET)), SECCOMP_ERRNO,
		     BY_SECCOMP);
}

/* After a raw clone: the child exits at once; the parent waits for it and
 * keeps the call's errno. */
static long cloned(long pid)
{
	if (pid == 0)
		_exit(0);
	int err = errno;
	if (pid > 0)
		waitpid((pid_t)pid, NULL, 0);
	errno = err;
	return pid;
}

static long raw_clone(unsigned long flags)
{
	return cloned(syscall(SYS_clone, flags, NULL, NULL, NULL, 0));
}

/* clone() and clone3() straight through syscall(). */
static void at_clone_ns(void)
{
	char what[96];
	for (size_t i = 0; i < N_NS_FLAGS; i++) {
		/* clone() cannot ask for a time namespace: CLONE_NEWTIME (0x80)
		 * lies in its exit-signal byte, so the kernel reads it as part of
		 * the signal, never as a flag (the call works and makes no
		 * namespace); unshare and clone3 can. */
		if (ns_flags[i].flag != CLONE_NEWTIME) {
			snprintf(what, sizeof(what), "clone(%s)", ns_flags[i].name);
			expect_errno(what, raw_clone((unsigned long)(ns_flags[i].flag | SIGCHLD)), SECCOMP_ERRNO,
				     "seccomp: one rule per clone flag");
			/* High bits above the 32-bit flags word must not hide a flag. */
			snprintf(what, sizeof(what), "clone(%s | 1<<40)", ns_flags[i].name);
			expect_errno(what, raw_clone((unsigned long)ns_flags[i].flag | SIGCHLD | (1UL << 40)),
				     SECCOMP_ERRNO, "seccomp: one rule per clone flag");
		}
		struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; } args = {
			.flags = (uint64_t)ns_flags[i].flag, .exit_signal = SIGCHLD };
		snprintf(what, sizeof(what), "clone3(%s)", ns_flags[i].name);
		expect_errno(what, cloned(syscall(SYS_clone3, &args, sizeof(args))), ENOSYS, BY_CLONE3);
	}
}

static void at_setns(void)
{
	const char *ns[] = { "user", "mnt", "pid", "net", "uts", "ipc", "cgroup", NULL };
	char path[64], what[96];
	for (const char **n = ns; *n; n++) {
		bool user = strcmp(*n, "user") == 0;
		for (int who = 0; who < 2; who++) {
			snprintf(path, sizeof(path), who ? "/proc/1/ns/%s" : "/proc/self/ns/%s", *n);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (who) {
				snprintf(what, sizeof(what), "open %s", path);
				expect_errno(what, fd, EACCES, BY_INIT);
			} else if (fd < 0) {
				surprise("open %s: %s", path, strerror(errno));
			}
			if (fd < 0)
				continue;
			/* Joining one's own user namespace is EINVAL for anyone (it
			 * would hand back every capability); pid 1's is ours too. */
			snprintf(what, sizeof(what), "setns(%s)", path);
			expect_x(what, IN_CHILD(setns(fd, 0)),
			      (struct expect){ SECCOMP_ERRNO, 0, BY_SECCOMP, false,
					       user ? "joining one's own user namespace is EINVAL for anyone" : NULL });
			close(fd);
		}
	}
	/* A pidfd of our parent (the sandbox's init), namespaces by flag. */
	long pidfd = syscall(SYS_pidfd_open, getppid() > 0 ? getppid() : 1, 0);
	if (pidfd < 0) {
		surprise("pidfd_open(parent): %s", strerror(errno));
		return;
	}
	expect_errno("setns(pidfd of parent, CLONE_NEWNS|CLONE_NEWNET|CLONE_NEWUTS|CLONE_NEWIPC)",
		     IN_CHILD(setns((int)pidfd, CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC)), SECCOMP_ERRNO,
		     BY_SECCOMP);
	close((int)pidfd);
}

/* Every try below is a mount-family call the filter denies. The control
 * run gives its throwaway mount namespace the sandbox's shape first (/usr a
 * read-only bind mount, /proc/kcore masked by a bind of /dev/null), so the
 * same arguments find what they find in a sandbox; the order keeps each
 * try's target in place for the next (umounts and pivot_root last). */
static void at_mount(void)
{
	mkdir("/tmp/m", 0755);
	expect_errno("mount tmpfs on /tmp/m", mount("none", "/tmp/m", "tmpfs", 0, NULL), SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno("mount proc on /tmp/m", mount("proc", "/tmp/m", "proc", 0, NULL), SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno("remount /usr read-write", mount(NULL, "/usr", NULL, MS_REMOUNT | MS_BIND, NULL), SECCOMP_ERRNO,
		     BY_SECCOMP);
	expect_errno("remount / read-write", mount(NULL, "/", NULL, MS_REMOUNT, NULL), SECCOMP_ERRNO, BY_SECCOMP);
	struct mount_attr rw = { .attr_clr = MOUNT_ATTR_RDONLY };
	expect_errno("mount_setattr(/usr, clear MOUNT_ATTR_RDONLY)",
		     syscall(SYS_mount_setattr, AT_FDCWD, "/usr", 0, &rw, sizeof(rw)), SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno_fd("fspick(/usr)", syscall(SYS_fspick, AT_FDCWD, "/usr", 0), SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno_fd("fsopen(tmpfs)", syscall(SYS_fsopen, "tmpfs", 0), SECCOMP_ERRNO, BY_SECCOMP);
	long tree = syscall(SYS_open_tree, AT_FDCWD, "/usr", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	expect_errno("open_tree(/usr, OPEN_TREE_CLONE)", tree, SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno("move_mount(the clone of /usr onto /tmp/m)",
		     syscall(SYS_move_mount, (int)tree, "", AT_FDCWD, "/tmp/m", MOVE_MOUNT_F_EMPTY_PATH), SECCOMP_ERRNO,
		     BY_SECCOMP);
	if (tree >= 0)
		close((int)tree);
	expect_errno("chroot(/tmp)", IN_CHILD(chroot("/tmp")), SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno("umount2(/proc/kcore, MNT_DETACH)", umount2("/proc/kcore", MNT_DETACH), SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno("umount2(/proc, MNT_DETACH)", umount2("/proc", MNT_DETACH), SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno("umount2(/usr)", umount2("/usr", 0), SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno("pivot_root(/tmp, /tmp/m)", IN_CHILD(syscall(SYS_pivot_root, "/tmp", "/tmp/m")), SECCOMP_ERRNO,
		     BY_SECCOMP);
}

static void at_bind_mount(void)
{
	mkdir("/tmp/b", 0755);
	expect_errno("bind / onto /tmp/b", mount("/", "/tmp/b", NULL, MS_BIND | MS_REC, NULL), SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno("bind /proc/self/root onto /tmp/b", mount("/proc/self/root", "/tmp/b", NULL, MS_BIND, NULL),
		     SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno("bind /proc/1/root onto /tmp/b", mount("/proc/1/root", "/tmp/b", NULL, MS_BIND, NULL),
		     SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno("bind /tmp over /usr/bin", mount("/tmp", "/usr/bin", NULL, MS_BIND, NULL), SECCOMP_ERRNO,
		     BY_SECCOMP);
	expect_errno("make / shared", mount(NULL, "/", NULL, MS_SHARED | MS_REC, NULL), SECCOMP_ERRNO, BY_SECCOMP);
	/* A detached copy of the writable /tmp grafted over /usr. */
	long tree = syscall(SYS_open_tree, AT_FDCWD, "/tmp", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	expect_errno("move_mount(a clone of /tmp over /usr)",
		     syscall(SYS_move_mount, (int)tree, "", AT_FDCWD, "/usr", MOVE_MOUNT_F_EMPTY_PATH), SECCOMP_ERRNO,
		     BY_SECCOMP);
	if (tree >= 0)
		close((int)tree);
}

/* A mapped address of PID for process_vm_*: its first writable mapping as
 * /proc/PID/maps shows it. Where the maps are closed (pid 1 in a sandbox)
 * any address does: the filter answers first, and the kernel checks ptrace
 * access (mm_access) before it touches memory. */
static char probe[64] = "warren-sec process_vm probe";

static unsigned long writable_address(pid_t pid)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	FILE *f = fopen(path, "re");
	unsigned long start = (unsigned long)probe, end;
	char perms[8];
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) == 3 && strncmp(perms, "rw", 2) == 0)
			break;
	if (f)
		fclose(f);
	return start;
}

/* In a child: PTRACE_ATTACH, and should it work, wait for the tracee's
 * stop and detach with no signal, which swallows the attach's SIGSTOP (a
 * tracer that just exits leaves the tracee to stop on it). 10 s at most. */
static long attach_and_detach(pid_t pid)
{
	long r = ptrace(PTRACE_ATTACH, pid, NULL, NULL);
	if (r < 0)
		return r;
	for (int tries = 0; tries < 1000; tries++) {
		if (waitpid(pid, NULL, __WALL | WNOHANG) == pid) {
			ptrace(PTRACE_DETACH, pid, NULL, NULL);
			break;
		}
		usleep(10 * 1000);
	}
	return r;
}

static void ptrace_tries(pid_t pid)
{
	char what[96];
	/* Each in a child: the tracer's exit detaches, and the next try
	 * attaches afresh (a second attach would be EPERM for anyone). */
	snprintf(what, sizeof(what), "ptrace(PTRACE_ATTACH, %d)", pid);
	expect_errno(what, IN_CHILD(attach_and_detach(pid)), SECCOMP_ERRNO, BY_SECCOMP);
	snprintf(what, sizeof(what), "ptrace(PTRACE_SEIZE, %d)", pid);
	expect_errno(what, IN_CHILD(ptrace(PTRACE_SEIZE, pid, NULL, NULL)), SECCOMP_ERRNO, BY_SECCOMP);
	char buf[64];
	memset(buf, 0, sizeof(buf));
	struct iovec local = { buf, sizeof(buf) }, remote = { (void *)writable_address(pid), sizeof(buf) };
	snprintf(what, sizeof(what), "process_vm_readv(%d)", pid);
	expect_errno(what, process_vm_readv(pid, &local, 1, &remote, 1, 0), SECCOMP_ERRNO, BY_SECCOMP);
	/* Writes back what was just read: in the control run nothing changes. */
	snprintf(what, sizeof(what), "process_vm_writev(%d)", pid);
	expect_errno(what, process_vm_writev(pid, &local, 1, &remote, 1, 0), SECCOMP_ERRNO, BY_SECCOMP);
	long pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		snprintf(what, sizeof(what), "pidfd_getfd(%d, 0)", pid);
		expect_errno_fd(what, syscall(SYS_pidfd_getfd, (int)pidfd, 0, 0), SECCOMP_ERRNO, BY_SECCOMP);
		close((int)pidfd);
	} else {
		surprise("pidfd_open(%d): %s", pid, strerror(errno));
	}
	snprintf(what, sizeof(what), "kcmp(self, %d)", pid);
	expect_errno(what, syscall(SYS_kcmp, getpid(), pid, 0 /* KCMP_FILE */, 0, 0), SECCOMP_ERRNO, BY_SECCOMP);
}

static void at_ptrace(int argc, char **argv)
{
	/* init, a process named on the command line (another exec), our own
	 * child, and PTRACE_TRACEME. */
	ptrace_tries(1);
	for (int i = 0; i < argc; i++)
		ptrace_tries(atoi(argv[i]));
	pid_t child = spawn_sleeper();
	ptrace_tries(child);
	reap(child);
	expect_errno("ptrace(PTRACE_TRACEME)", IN_CHILD(ptrace(PTRACE_TRACEME, 0, NULL, NULL)), SECCOMP_ERRNO,
		     BY_SECCOMP);
}

static void at_proc_mem(void)
{
	const char *files[] = { "/proc/1/mem", "/proc/1/environ", "/proc/1/maps", "/proc/1/fd/0", "/proc/1/exe",
				"/proc/1/root/", "/proc/1/cwd/", NULL };
	char what[96];
	for (const char **f = files; *f; f++) {
		snprintf(what, sizeof(what), "open %s", *f);
		expect_errno_fd(what, open(*f, O_RDONLY | O_CLOEXEC), EACCES, BY_INIT);
	}
	expect_errno_fd("open /proc/1/mem for writing", open("/proc/1/mem", O_RDWR | O_CLOEXEC), EACCES, BY_INIT);
}

/* argv: MODULE_FILE MODULE_NAME. The control run loads and unloads a
 * small module of its kernel (loop) twice; in a sandbox the file and name
 * never reach the kernel's checks: the filter answers first. */
static void at_kmod(int argc, char **argv)
{
	const char *file = argc > 0 ? argv[0] : "/proc/self/exe", *name = argc > 1 ? argv[1] : "loop";
	char what[PATH_MAX + 64];
	void *image = NULL;
	size_t len = 0;
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
		image = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		len = image == MAP_FAILED ? 0 : (size_t)st.st_size;
		if (image == MAP_FAILED)
			image = NULL;
	}
	snprintf(what, sizeof(what), "init_module(image of %s)", file);
	expect_errno(what, syscall(SYS_init_module, image, len, ""), SECCOMP_ERRNO, BY_SECCOMP);
	snprintf(what, sizeof(what), "delete_module(%s)", name);
	expect_errno(what, syscall(SYS_delete_module, name, O_NONBLOCK), SECCOMP_ERRNO, BY_SECCOMP);
	snprintf(what, sizeof(what), "finit_module(%s)", file);
	expect_errno(what, syscall(SYS_finit_module, fd, "", 0), SECCOMP_ERRNO, BY_SECCOMP);
	snprintf(what, sizeof(what), "delete_module(%s) after finit_module", name);
	expect_errno(what, syscall(SYS_delete_module, name, O_NONBLOCK), SECCOMP_ERRNO, BY_SECCOMP);
	if (image)
		munmap(image, len);
	if (fd >= 0)
		close(fd);
	/* Kernels without module support have no such sysctl. */
	expect_fd_x("open /proc/sys/kernel/modprobe for writing", open("/proc/sys/kernel/modprobe", O_WRONLY | O_CLOEXEC),
		 (struct expect){ EACCES, 0, BY_SYSCTL, true, NULL });
}

static void at_kexec(void)
{
	/* Unloading, with no kernel loaded: the least harmful call that
	 * succeeds with CAP_SYS_BOOT. */
	expect_errno("kexec_load(unload)", syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL), SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno("kexec_file_load(KEXEC_FILE_UNLOAD)", syscall(SYS_kexec_file_load, -1, -1, 0UL, NULL, KEXEC_FILE_UNLOAD),
		     SECCOMP_ERRNO, BY_SECCOMP);
}

static void at_bpf(void)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 8;
	a.max_entries = 1;
	expect_errno_fd("bpf(BPF_MAP_CREATE)", syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a)), SECCOMP_ERRNO, BY_SECCOMP);
	struct bpf_insn prog[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uintptr_t)prog;
	a.insn_cnt = 2;
	a.license = (uintptr_t) "GPL";
	expect_errno_fd("bpf(BPF_PROG_LOAD socket filter)", syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a)), SECCOMP_ERRNO,
			BY_SECCOMP);
}

static void at_perf(void)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	a.exclude_kernel = 1;
	expect_errno_fd("perf_event_open(self)", syscall(SYS_perf_event_open, &a, 0, -1, -1, 0), SECCOMP_ERRNO,
			BY_SECCOMP);
	expect_errno_fd("perf_event_open(all cpus)", syscall(SYS_perf_event_open, &a, -1, 0, -1, 0), SECCOMP_ERRNO,
			BY_SECCOMP);
}

static void at_keyctl(void)
{
	expect_errno("add_key(user)", syscall(SYS_add_key, "user", "warren-sec", "x", 1, KEY_SPEC_SESSION_KEYRING),
		     SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno("request_key(user)", syscall(SYS_request_key, "user", "warren-sec", NULL, KEY_SPEC_SESSION_KEYRING),
		     SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno("keyctl(GET_KEYRING_ID session)", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0),
		     SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno("keyctl(JOIN_SESSION_KEYRING)", syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "warren-sec"),
		     SECCOMP_ERRNO, BY_SECCOMP);
}

static void at_userfaultfd(void)
{
	expect_errno_fd("userfaultfd(0)", syscall(SYS_userfaultfd, O_CLOEXEC), SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno_fd("userfaultfd(UFFD_USER_MODE_ONLY)", syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY),
			SECCOMP_ERRNO, BY_SECCOMP);
	expect_errno_fd("open /dev/userfaultfd", open("/dev/userfaultfd", O_RDWR | O_CLOEXEC), ENOENT, BY_DEV);
}

static void at_io_uring(void)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	long ring = syscall(SYS_io_uring_setup, 8, &p);
	expect_errno("io_uring_setup(8)", ring, SECCOMP_ERRNO, BY_SECCOMP);
	/* With the ring, or -1 in a sandbox: EPERM (not EBADF) shows the filter answered. */
	expect_errno("io_uring_enter(ring, 0)", syscall(SYS_io_uring_enter, (int)ring, 0, 0, 0, NULL, 0), SECCOMP_ERRNO,
		     BY_SECCOMP);
	if (ring >= 0)
		close((int)ring);
}

static void at_personality(void)
{
	const struct { const char *name; unsigned long v; } tries[] = {
		{ "READ_IMPLIES_EXEC", READ_IMPLIES_EXEC }, { "ADDR_NO_RANDOMIZE", ADDR_NO_RANDOMIZE },
		{ "PER_LINUX32", PER_LINUX32 }, { "MMAP_PAGE_ZERO", MMAP_PAGE_ZERO },
		{ "ADDR_COMPAT_LAYOUT", ADDR_COMPAT_LAYOUT }, { "PER_BSD", PER_BSD },
		{ "READ_IMPLIES_EXEC | 1<<32", READ_IMPLIES_EXEC | (1UL << 32) },
	};
	char what[96];
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		snprintf(what, sizeof(what), "personality(%s)", tries[i].name);
		long r = syscall(SYS_personality, tries[i].v);
		int err = errno;
		long now = syscall(SYS_personality, 0xffffffffUL);
		if (r >= 0 && now != 0) {
			escaped("%s took effect (personality now %#lx)", what, now);
			syscall(SYS_personality, 0UL);
		} else if (r >= 0) {
			held("%s: no effect", what);
		} else {
			judge(what, r, err, (struct expect){ EPERM, 0, "seccomp: the personality prefix", false, NULL });
		}
	}
}

/* A 32-bit system call through int 0x80 (i386 getuid32 = 199, setuid32 =
 * 213). The filter knows only the native architecture: the child must die
 * of SIGSYS (bad-arch action), never get a result or an errno. */
static void at_int80(void)
{
	const struct { const char *name; long nr, arg; } calls[] = {
		{ "i386 getuid32", 199, 0 }, { "i386 setuid32(0)", 213, 0 }, { "i386 getpid", 20, 0 },
	};
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		int pfd[2];
		if (pipe(pfd) < 0)
			return;
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			long ret;
			__asm__ volatile("int $0x80" : "=a"(ret) : "a"(calls[i].nr), "b"(calls[i].arg) : "memory");
			(void)!write(pfd[1], &ret, sizeof(ret));
			_exit(0);
		}
		close(pfd[1]);
		long ret = 0;
		ssize_t n = read(pfd[0], &ret, sizeof(ret));
		close(pfd[0]);
		int st = 0;
		waitpid(pid, &st, 0);
		if (n == (ssize_t)sizeof(ret) && (ret >= 0 || ret < -4095))
			escaped("int 0x80 %s returned %ld", calls[i].name, ret);
		else if (n == (ssize_t)sizeof(ret))
			surprise("int 0x80 %s: returned %s, expected death by SIGSYS", calls[i].name, errname((int)-ret));
		else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS && !control)
			printf("blocked: int 0x80 %s: killed by SIGSYS (seccomp: foreign architecture)\n", calls[i].name);
		else
			surprise("int 0x80 %s: child %s %d, expected death by SIGSYS", calls[i].name,
				 WIFSIGNALED(st) ? "killed by signal" : "exited",
				 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	}
}

#define BY_TIOCSTI "seccomp: TIOCSTI, compared on its low 32 bits"

static void tiocsti_tries(int fd, const char *name)
{
	char what[128], c = '#';
	snprintf(what, sizeof(what), "ioctl(%s, TIOCSTI)", name);
	expect_errno(what, ioctl(fd, TIOCSTI, &c), SECCOMP_ERRNO, BY_TIOCSTI);
	/* The request is 32 bits in the kernel: high bits must not dodge the filter. */
	snprintf(what, sizeof(what), "ioctl(%s, TIOCSTI | 1<<32)", name);
	expect_errno(what, syscall(SYS_ioctl, fd, (unsigned long)TIOCSTI | (1UL << 32), &c), SECCOMP_ERRNO, BY_TIOCSTI);
}

/* In a child: a new session whose controlling terminal is our own pty,
 * where the kernel itself lets anyone push input (only the filter stops it). */
static long tiocsti_own_ctty(const char *slave, unsigned long request)
{
	char c = '#';
	setsid();
	int fd = open(slave, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -1;
	return syscall(SYS_ioctl, fd, request, &c);
}

static void at_tiocsti(void)
{
	for (int fd = 0; fd < 3; fd++) {
		char name[16];
		snprintf(name, sizeof(name), "fd %d", fd);
		if (isatty(fd))
			tiocsti_tries(fd, name);
		else
			printf("  fd %d is not a terminal\n", fd);
	}
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
		surprise("a pty of our own: %s", strerror(errno));
		if (master >= 0)
			close(master);
		return;
	}
	char slave[64];
	snprintf(slave, sizeof(slave), "%s", ptsname(master));
	expect_errno("ioctl(own controlling pty, TIOCSTI)", IN_CHILD(tiocsti_own_ctty(slave, TIOCSTI)), SECCOMP_ERRNO,
		     BY_TIOCSTI);
	expect_errno("ioctl(own controlling pty, TIOCSTI | 1<<32)",
		     IN_CHILD(tiocsti_own_ctty(slave, (unsigned long)TIOCSTI | (1UL << 32))), SECCOMP_ERRNO, BY_TIOCSTI);
	/* TIOCLINUX pastes the console selection as input, on a virtual
	 * console only: a pty says ENOTTY to anyone, so EPERM is the filter's. */
	int fd = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
	char sub = 3; /* TIOCL_PASTESEL */
	expect_x("ioctl(own pty, TIOCLINUX)", fd < 0 ? -1 : ioctl(fd, TIOCLINUX, &sub),
	      (struct expect){ SECCOMP_ERRNO, 0, "seccomp: TIOCLINUX", false,
			       "TIOCLINUX works on a virtual console only, and a sandbox has none" });
	if (fd >= 0)
		close(fd);
	close(master);
	/* A virtual console (the control run's guest has one). */
	int vt = open("/dev/tty1", O_RDWR | O_NOCTTY | O_CLOEXEC);
	expect_errno("open /dev/tty1 (a virtual console)", vt, ENOENT, BY_DEV);
	if (vt >= 0) {
		sub = 3;
		expect_errno("ioctl(/dev/tty1, TIOCLINUX)", ioctl(vt, TIOCLINUX, &sub), SECCOMP_ERRNO, "seccomp: TIOCLINUX");
		close(vt);
	}
}

/* A terminal as a way out (warren run -t gives the command one, and any
 * process may open more in the sandbox's devpts): taking over another
 * session's controlling terminal (TIOCSCTTY with force) and redirecting
 * what is written to the console into one's own (TIOCCONS). Both need
 * CAP_SYS_ADMIN in the host's namespace. */
static long steal_ctty(const char *slave)
{
	setsid();
	int fd = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
	return fd < 0 ? -1 : ioctl(fd, TIOCSCTTY, 1);
}

static void at_pty(void)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0) {
		surprise("a pty of our own: %s", strerror(errno));
		return;
	}
	char slave[64];
	snprintf(slave, sizeof(slave), "%s", ptsname(master));
	/* the victim: a session whose controlling terminal the pty is */
	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0) {
		surprise("pipe: %s", strerror(errno));
		return;
	}
	fflush(stdout);
	pid_t victim = fork();
	if (victim == 0) {
		setsid();
		int fd = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
		char ok = fd >= 0 && ioctl(fd, TIOCSCTTY, 0) == 0;
		(void)!write(ready[1], &ok, 1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	char ok = 0;
	if (read(ready[0], &ok, 1) != 1 || !ok)
		surprise("the victim session could not take the pty as its terminal");
	else
		expect_errno("TIOCSCTTY with force: another session's terminal", IN_CHILD(steal_ctty(slave)), EPERM,
			     BY_CAPS);
	close(ready[0]);
	reap(victim);

	int fd = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
	long r = fd < 0 ? -1 : ioctl(fd, TIOCCONS);
	expect_errno("ioctl(own pty, TIOCCONS): the console's output into it", r, EPERM, BY_CAPS);
	if (r == 0) { /* the control run: the console's own device undoes it */
		int console = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (console >= 0) {
			ioctl(console, TIOCCONS);
			close(console);
		}
	}
	if (fd >= 0)
		close(fd);
	close(master);
}

static void at_reboot(void)
{
	/* CAD_OFF is the least harmful command should the call ever pass. */
	expect_errno("reboot(CAD_OFF)",
		     syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_OFF, NULL),
		     SECCOMP_ERRNO, BY_SECCOMP);
	int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
	expect_x("open /proc/sysrq-trigger for writing", fd, (struct expect){ EACCES, 0, BY_MASK, true, NULL });
	if (fd >= 0) {
		/* "h" prints the help: harmless in the control run. */
		expect_errno("write h to /proc/sysrq-trigger", write(fd, "h", 1), EACCES, BY_MASK);
		close(fd);
	}
}

/* --- filesystem ------------------------------------------------------------- */

static void try_create(const char *path)
{
	char what[PATH_MAX + 32];
	snprintf(what, sizeof(what), "create %s", path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	expect_errno(what, fd, EROFS, BY_RO);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
}

/* Every try leaves the file as it was when it works (the control run):
 * chmod to its own mode, rename and back, unlink with a link kept aside. */
static void try_write_existing(const char *path)
{
	char what[PATH_MAX + 32], aside[PATH_MAX];
	struct stat st;
	if (stat(path, &st) < 0) {
		surprise("stat %s: %s", path, strerror(errno));
		return;
	}
	snprintf(what, sizeof(what), "open %s for writing", path);
	expect_errno_fd(what, open(path, O_WRONLY | O_APPEND | O_CLOEXEC), EACCES, BY_DAC);
	snprintf(what, sizeof(what), "chmod %s", path);
	expect_errno(what, chmod(path, st.st_mode & 07777), EROFS, BY_RO);
	snprintf(what, sizeof(what), "utimensat %s", path);
	expect_errno(what, utimensat(AT_FDCWD, path, NULL, 0), EROFS, BY_RO);
	snprintf(aside, sizeof(aside), "%s.warren-sec", path);
	snprintf(what, sizeof(what), "rename %s", path);
	long r = rename(path, aside);
	expect_errno(what, r, EROFS, BY_RO);
	if (r == 0)
		rename(aside, path);
	bool kept = link(path, aside) == 0; /* EROFS in a sandbox: nothing to keep */
	snprintf(what, sizeof(what), "unlink %s", path);
	r = unlink(path);
	expect_errno(what, r, EROFS, BY_RO);
	if (kept && r == 0)
		rename(aside, path);
	else if (kept)
		unlink(aside);
}

/* argv: the existing files to try (default: some of the image's; the
 * control run names files no process of its guest is running). */
static void at_write_image(int argc, char **argv)
{
	const char *defaults[] = { "/usr/bin/env", "/etc/passwd", "/etc/ld.so.cache", "/bin/sh",
				   "/lib64/ld-linux-x86-64.so.2", NULL };
	const char *fresh[] = { "/usr/bin/warren-sec-probe", "/etc/warren-sec-probe", "/warren-sec-probe",
				"/bin/warren-sec-probe", "/usr/lib/warren-sec-probe", "/var/warren-sec-probe",
				"/dev/warren-sec-probe", NULL };
	if (argc > 0)
		for (int i = 0; i < argc; i++)
			try_write_existing(argv[i]);
	else
		for (const char **p = defaults; *p; p++)
			try_write_existing(*p);
	for (const char **p = fresh; *p; p++)
		try_create(*p);
	long r = mkdir("/etc/warren-sec-dir", 0755);
	expect_errno("mkdir /etc/warren-sec-dir", r, EROFS, BY_RO);
	if (r == 0)
		rmdir("/etc/warren-sec-dir");
	r = symlink("/tmp", "/etc/warren-sec-link");
	expect_errno("symlink /etc/warren-sec-link", r, EROFS, BY_RO);
	if (r == 0)
		unlink("/etc/warren-sec-link");
}

static void at_mknod(void)
{
	const struct { const char *path; mode_t mode; dev_t dev; } nodes[] = {
		{ "/tmp/mem", S_IFCHR | 0666, makedev(1, 1) },     { "/tmp/null", S_IFCHR | 0666, makedev(1, 3) },
		{ "/tmp/vda", S_IFBLK | 0666, makedev(253, 0) },   { "/workspace/sda", S_IFBLK | 0666, makedev(8, 0) },
		{ "/dev/shm/kmsg", S_IFCHR | 0666, makedev(1, 11) },
	};
	char what[128];
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		snprintf(what, sizeof(what), "mknod %s", nodes[i].path);
		long r = mknod(nodes[i].path, nodes[i].mode, nodes[i].dev);
		expect_errno(what, r, EPERM, "no CAP_MKNOD in the initial user namespace");
		if (r == 0)
			unlink(nodes[i].path);
	}
	/* Device nodes that reach hardware are not in the sandbox's /dev. */
	expect_errno_fd("open /dev/mem", open("/dev/mem", O_RDONLY | O_CLOEXEC), ENOENT, BY_DEV);
	expect_errno_fd("open /dev/rtc0", open("/dev/rtc0", O_RDONLY | O_CLOEXEC), ENOENT, BY_DEV);
	expect_fd_x("open /dev/vda", open("/dev/vda", O_RDONLY | O_CLOEXEC),
		 (struct expect){ ENOENT, 0, BY_DEV, false, "the control guest has no disk (the same open works on /dev/mem)" });
	expect_errno_fd("open /dev/kmsg", open("/dev/kmsg", O_RDONLY | O_CLOEXEC), ENOENT, BY_DEV);
}

/* In a child: climb above / and open a host path relative to where we land. */
static long climb_and_open(const char *host_path)
{
	if (chdir("/../../..") < 0)
		return -1;
	return open(host_path + strspn(host_path, "/"), O_RDONLY | O_CLOEXEC);
}

/* argv: host paths of canary files. Reads them through every door there is. */
static void at_host_root(int argc, char **argv)
{
	char path[PATH_MAX + 64], what[PATH_MAX + 96];
	const struct { const char *prefix; int want; const char *layer; } doors[] = {
		{ "", ENOENT, BY_MNTNS }, { "/proc/self/root", ENOENT, BY_MNTNS }, { "/proc/1/root", EACCES, BY_INIT },
		{ "/proc/1/cwd/../../../../..", EACCES, BY_INIT }, { "/proc/self/cwd/../../../../..", ENOENT, BY_MNTNS },
		{ "/proc/thread-self/root", ENOENT, BY_MNTNS },
	};
	for (int i = 0; i < argc; i++) {
		for (size_t k = 0; k < sizeof(doors) / sizeof(doors[0]); k++) {
			snprintf(path, sizeof(path), "%s%s", doors[k].prefix, argv[i]);
			snprintf(what, sizeof(what), "open %s", path);
			expect_errno_fd(what, open(path, O_RDONLY | O_CLOEXEC), doors[k].want, doors[k].layer);
		}
		/* Every process's root and cwd: only an opening counts. */
		DIR *d = opendir("/proc");
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (de->d_name[0] < '1' || de->d_name[0] > '9')
				continue;
			for (int k = 0; k < 2; k++) {
				snprintf(path, sizeof(path), "/proc/%s/%s%s", de->d_name, k ? "cwd/../../../../.." : "root",
					 argv[i]);
				int fd = open(path, O_RDONLY | O_CLOEXEC);
				if (fd >= 0)
					escaped("open %s", path), close(fd);
			}
		}
		if (d)
			closedir(d);
		snprintf(what, sizeof(what), "climb above / and open %s", argv[i]);
		expect_errno_fd(what, IN_CHILD(climb_and_open(argv[i])), ENOENT, BY_MNTNS);
	}
	/* The sandbox's / is not the host's /: a host-only directory is absent. */
	struct stat st;
	expect_errno("stat /proc/1/root/home (host /home)", stat("/proc/1/root/home", &st), EACCES, BY_INIT);
}

static void at_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		surprise("cannot list /proc/self/fd: %s", strerror(errno));
		return;
	}
	int self = dirfd(d), before = escapes + works;
	bool listed[4096] = { false };
	struct dirent *de;
	int count = 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		int fd = atoi(de->d_name);
		char target[PATH_MAX] = "", link[64];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		target[n > 0 ? n : 0] = 0;
		if (fd == self)
			continue;
		count++;
		if (fd >= 0 && fd < 4096)
			listed[fd] = true;
		if (fd > 2)
			escaped("fd %d is open at start: %s", fd, target);
		else
			printf("  fd %d -> %s\n", fd, target);
	}
	closedir(d);
	/* Closed-on-listing fds would not show: probe every number too. */
	for (int fd = 3; fd < 4096; fd++)
		if (!listed[fd] && fcntl(fd, F_GETFD) >= 0)
			escaped("fd %d answers fcntl(F_GETFD)", fd);
	if (escapes + works == before)
		held("only fds 0-2 open at start (%d listed)", count);
}

/* CVE-2019-5736: the runtime's binary through /proc/1/exe, and a binary the
 * runtime's exec path ran, opened for writing: directly while it runs, and
 * by reopening a file descriptor of it through /proc/self/fd once it no
 * longer runs. argv: the binary to run as "sleep" (default /bin/sleep; the
 * control run gives it a copy no other process runs). */
#define RUNNING "a running binary is ETXTBSY to anyone"

static void at_exe_overwrite(int argc, char **argv)
{
	/* pid 1 is the runtime (a fork of warren or warrend, never exec'd). */
	expect_errno_fd("open /proc/1/exe O_PATH", open("/proc/1/exe", O_PATH | O_CLOEXEC), EACCES, BY_INIT);
	expect_fd_x("open /proc/1/exe O_WRONLY", open("/proc/1/exe", O_WRONLY | O_CLOEXEC),
		 (struct expect){ EACCES, 0, BY_INIT, false, RUNNING });
	expect_fd_x("open /proc/1/exe O_RDWR|O_TRUNC", open("/proc/1/exe", O_RDWR | O_TRUNC | O_CLOEXEC),
		 (struct expect){ EACCES, 0, BY_INIT, false, RUNNING });

	char exe[64], what[128], re[64];
	pid_t child = spawn_sleeper_of(argc > 0 ? argv[0] : "/bin/sleep");
	snprintf(exe, sizeof(exe), "/proc/%d/exe", child);
	int opath = open(exe, O_PATH | O_CLOEXEC), ro = open(exe, O_RDONLY | O_CLOEXEC); /* our own child's */
	if (opath < 0 || ro < 0)
		surprise("open %s of our own child: %s", exe, strerror(errno));
	snprintf(what, sizeof(what), "open %s O_WRONLY while it runs", exe);
	expect_fd_x(what, open(exe, O_WRONLY | O_CLOEXEC), (struct expect){ EACCES, 0, BY_DAC, false, RUNNING });
	reap(child);
	snprintf(re, sizeof(re), "/proc/self/fd/%d", opath);
	snprintf(what, sizeof(what), "reopen an O_PATH fd of %s O_WRONLY", exe);
	expect_errno_fd(what, open(re, O_WRONLY | O_CLOEXEC), EACCES, BY_DAC);
	snprintf(re, sizeof(re), "/proc/self/fd/%d", ro);
	snprintf(what, sizeof(what), "reopen an O_RDONLY fd of %s O_RDWR|O_TRUNC", exe);
	expect_errno_fd(what, open(re, O_RDWR | O_TRUNC | O_CLOEXEC), EROFS, "read-only mount: truncating asks for it first");
	if (opath >= 0)
		close(opath);
	if (ro >= 0)
		close(ro);
}

/* argv: a directory (the workspace) and host files outside it. A link
 * never crosses a mount, and everything outside /workspace is another mount:
 * EXDEV. (The control run's guest has them all on its root filesystem.) */
static void at_hardlink(int argc, char **argv)
{
	const char *dir = argc > 0 ? argv[0] : "/tmp";
	const char *targets[] = { "/etc/passwd", "/usr/bin/env", "/etc/ld.so.cache", NULL };
	char to[PATH_MAX], what[PATH_MAX + 64];
	int n = 0;
	for (const char **t = targets; *t; t++, n++) {
		snprintf(to, sizeof(to), "%s/hl%d", dir, n);
		snprintf(what, sizeof(what), "link %s -> %s", *t, to);
		long r = link(*t, to);
		expect_errno(what, r, EXDEV, BY_XDEV);
		if (r == 0)
			unlink(to);
		int fd = open(*t, O_PATH | O_CLOEXEC);
		if (fd < 0) {
			surprise("open %s O_PATH: %s", *t, strerror(errno));
			continue;
		}
		char from[64];
		snprintf(from, sizeof(from), "/proc/self/fd/%d", fd);
		snprintf(to, sizeof(to), "%s/hlfd%d", dir, n);
		snprintf(what, sizeof(what), "linkat(/proc/self/fd of %s, AT_SYMLINK_FOLLOW)", *t);
		r = linkat(AT_FDCWD, from, AT_FDCWD, to, AT_SYMLINK_FOLLOW);
		expect_errno(what, r, EXDEV, BY_XDEV);
		if (r == 0)
			unlink(to);
		/* Before Linux 6.10 AT_EMPTY_PATH needed CAP_DAC_READ_SEARCH
		 * (ENOENT without); since, it is the mount boundary. */
		snprintf(what, sizeof(what), "linkat(fd of %s, AT_EMPTY_PATH)", *t);
		r = linkat(fd, "", AT_FDCWD, to, AT_EMPTY_PATH);
		expect_x(what, r, (struct expect){ EXDEV, ENOENT, BY_XDEV, false, NULL });
		if (r == 0)
			unlink(to);
		close(fd);
	}
	for (int i = 1; i < argc; i++) {
		snprintf(to, sizeof(to), "%s/hlhost%d", dir, i);
		snprintf(what, sizeof(what), "link host %s", argv[i]);
		long r = link(argv[i], to);
		expect_errno(what, r, ENOENT, BY_MNTNS);
		if (r == 0)
			unlink(to);
	}
}

/* Plants set-user-ID and set-group-ID executables in the (shared) workspace:
 * whatever the sandbox user writes there must never become a privileged
 * program on the host. The host side checks the modes afterwards. */
#define BY_SETID "seccomp: no set-ID mode bits"

static void setid_result(const char *what, long r, int err, const char *path, mode_t bits)
{
	struct stat st;
	if (r == 0 && stat(path, &st) == 0 && (st.st_mode & bits & 06000))
		escaped("%s: the file is now %04o", what, st.st_mode & 07777);
	else if (r == 0)
		held("%s: the bits were dropped", what);
	else
		judge(what, r, err, (struct expect){ SECCOMP_ERRNO, 0, BY_SETID, false, NULL });
}

static void at_suid_plant(int argc, char **argv)
{
	const char *dir = argc > 0 ? argv[0] : "/workspace";
	char path[PATH_MAX], what[PATH_MAX + 64];
	const mode_t modes[] = { 04755, 02755, 06755 };
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/suid%zu", dir, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
		if (fd < 0) {
			surprise("create %s: %s", path, strerror(errno));
			continue;
		}
		(void)!write(fd, "#!/bin/sh\nid\n", 13);
		snprintf(what, sizeof(what), "fchmod %s %04o", path, modes[i]);
		long r = fchmod(fd, modes[i]);
		int err = errno;
		close(fd);
		setid_result(what, r, err, path, modes[i]);

		snprintf(path, sizeof(path), "%s/suidc%zu", dir, i);
		snprintf(what, sizeof(what), "open(%s, O_CREAT, %04o)", path, modes[i]);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, modes[i]);
		err = errno;
		if (fd >= 0)
			close(fd);
		setid_result(what, fd >= 0 ? 0 : -1, err, path, modes[i]);

		snprintf(path, sizeof(path), "%s/suidm%zu", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
		if (fd < 0) {
			surprise("create %s: %s", path, strerror(errno));
			continue;
		}
		close(fd);
		snprintf(what, sizeof(what), "chmod %s %04o", path, modes[i]);
		r = fchmodat(AT_FDCWD, path, modes[i], 0);
		setid_result(what, r, errno, path, modes[i]);
	}
}

/* argv: NAME CONTENT [HOST_PATH...]: another sandbox holds NAME with CONTENT
 * in its workspace; look for it everywhere this sandbox can reach. */
static void at_find_secret(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "find_secret NAME CONTENT [HOST_PATH...]\n");
		exit(2);
	}
	const char *name = argv[0], *content = argv[1];
	char path[PATH_MAX];
	int tried = 0, before = escapes + works;
#define TRY_PATH(...)                                                                   \
	do {                                                                            \
		snprintf(path, sizeof(path), __VA_ARGS__);                              \
		tried++;                                                                \
		int fd_ = open(path, O_RDONLY | O_CLOEXEC);                             \
		if (fd_ >= 0) {                                                         \
			char buf[256] = "";                                             \
			(void)!read(fd_, buf, sizeof(buf) - 1);                         \
			close(fd_);                                                     \
			if (strstr(buf, content))                                       \
				escaped("read the other sandbox's secret at %s", path); \
		}                                                                       \
	} while (0)
	TRY_PATH("/workspace/%s", name);
	TRY_PATH("/tmp/%s", name);
	TRY_PATH("/workspace/../%s", name);
	for (int i = 2; i < argc; i++) {
		TRY_PATH("%s/%s", argv[i], name);
		TRY_PATH("/proc/1/root%s/%s", argv[i], name);
	}
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		TRY_PATH("/proc/%s/root/workspace/%s", de->d_name, name);
		TRY_PATH("/proc/%s/cwd/%s", de->d_name, name);
	}
	if (d)
		closedir(d);
	if (escapes + works == before)
		held("%s not found through %d paths", name, tried);
}

/* --- network ---------------------------------------------------------------- */

static void at_ifaces(void)
{
	struct if_nameindex *ifs = if_nameindex();
	int before = escapes + works;
	if (!ifs)
		surprise("if_nameindex: %s", strerror(errno));
	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		if (strcmp(i->if_name, "lo") != 0)
			escaped("network interface %s is visible", i->if_name);
		else
			printf("  interface lo\n");
	if (ifs)
		if_freenameindex(ifs);
	if (ifs && escapes + works == before)
		held("only lo");
}

/* "ADDR:PORT" (IPv4), "unix:/PATH" or "abstract:NAME" as a socket address. */
static bool parse_target(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof(*ss));
	if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "abstract:", 9) == 0) {
		struct sockaddr_un *sa = (struct sockaddr_un *)ss;
		bool abstract = s[0] == 'a';
		const char *p = strchr(s, ':') + 1;
		if (strlen(p) + 1 + abstract > sizeof(sa->sun_path))
			return false;
		sa->sun_family = AF_UNIX;
		memcpy(sa->sun_path + abstract, p, strlen(p));
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + abstract + strlen(p));
		return true;
	}
	char host[64];
	snprintf(host, sizeof(host), "%s", s);
	char *colon = strrchr(host, ':');
	if (!colon)
		return false;
	*colon = 0;
	struct sockaddr_in *sa = (struct sockaddr_in *)ss;
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	*len = sizeof(*sa);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

/* argv: ADDR:PORT... (IPv4), unix:/PATH, abstract:NAME. */
static void at_connect(int argc, char **argv)
{
	char what[256];
	for (int i = 0; i < argc; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		if (!parse_target(argv[i], &ss, &len)) {
			fprintf(stderr, "attack connect: bad target %s\n", argv[i]);
			exit(2);
		}
		snprintf(what, sizeof(what), "connect %s", argv[i]);
		if (ss.ss_family == AF_UNIX) {
			bool abstract = argv[i][0] == 'a';
			int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (abstract)
				expect_errno(what, connect(fd, (struct sockaddr *)&ss, len), ECONNREFUSED,
					     "network namespace: abstract names are per namespace");
			else
				expect_errno(what, connect(fd, (struct sockaddr *)&ss, len), ENOENT, BY_MNTNS);
			close(fd);
			continue;
		}
		struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
		bool loopback = (ntohl(sa->sin_addr.s_addr) >> 24) == 127;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct timeval tv = { 2, 0 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (loopback)
			expect_errno(what, connect(fd, (struct sockaddr *)sa, len), ECONNREFUSED,
				     "network namespace: nothing listens on the sandbox's own lo");
		else
			expect_errno(what, connect(fd, (struct sockaddr *)sa, len), ENETUNREACH,
				     "network namespace: no route but lo");
		close(fd);
		if (loopback)
			continue; /* UDP to this namespace's own lo "succeeds" with no one listening */
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		snprintf(what, sizeof(what), "sendto udp %s", argv[i]);
		expect_errno(what, sendto(fd, "x", 1, 0, (struct sockaddr *)sa, len), ENETUNREACH,
			     "network namespace: no route but lo");
		close(fd);
	}
}

/* The default route's gateway (the host's side of an egress sandbox's
 * link), from /proc/net/route; 0 when there is none. */
static in_addr_t default_gateway(void)
{
	FILE *f = fopen("/proc/net/route", "re");
	char line[256];
	unsigned long dest, gw;
	in_addr_t found = 0;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %lx %lx", &dest, &gw) == 2 && dest == 0)
			found = (in_addr_t)gw;
	if (f)
		fclose(f);
	return found;
}

#define BY_EGRESS "egress rules: refused (administratively prohibited) or dropped"

/* An egress sandbox (network.mode "egress"): argv ADDR:PORT... must all be
 * refused, over TCP and UDP, and so must the host's side of the link on a
 * few ports; the sandbox cannot take over its resolver's address or change
 * its own. A refusal is EHOSTUNREACH (the rules' reject); a drop shows as
 * a connect that times out (EINPROGRESS under SO_SNDTIMEO). */
static void at_egress(int argc, char **argv)
{
	char what[256], gw_targets[4][40];
	char *targets[64];
	int n = 0;
	in_addr_t gw = default_gateway();
	if (!gw)
		surprise("no default route: not an egress sandbox");
	for (int i = 0; i < argc && n < 56; i++)
		targets[n++] = argv[i];
	static const int gw_ports[] = { 22, 53, 80, 8080 };
	for (int i = 0; gw && i < 4; i++) {
		char a[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &gw, a, sizeof(a));
		snprintf(gw_targets[i], sizeof(gw_targets[i]), "%s:%d", a, gw_ports[i]);
		targets[n++] = gw_targets[i];
	}
	struct expect refused = { EHOSTUNREACH, EINPROGRESS, BY_EGRESS, false, NULL };
	struct ifaddrs *own = NULL;
	getifaddrs(&own);
	for (int i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		if (!parse_target(targets[i], &ss, &len) || ss.ss_family != AF_INET) {
			fprintf(stderr, "attack egress: bad target %s\n", targets[i]);
			exit(2);
		}
		/* the pool's addresses are listed whole: this sandbox's own is not a way out */
		bool mine = false;
		for (struct ifaddrs *a = own; a && !mine; a = a->ifa_next)
			mine = a->ifa_addr && a->ifa_addr->sa_family == AF_INET &&
			       ((struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr ==
				       ((struct sockaddr_in *)&ss)->sin_addr.s_addr;
		if (mine) {
			printf("  skipped %s: the sandbox's own address\n", targets[i]);
			continue;
		}
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct timeval tv = { 3, 0 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		snprintf(what, sizeof(what), "connect %s", targets[i]);
		expect_x(what, connect(fd, (struct sockaddr *)&ss, len), refused);
		close(fd);
		/* UDP: the refusal comes back as an error on the next receive */
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct timeval rtv = { 2, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rtv, sizeof(rtv));
		char c;
		snprintf(what, sizeof(what), "udp %s (a reply)", targets[i]);
		if (connect(fd, (struct sockaddr *)&ss, len) < 0 || send(fd, "x", 1, 0) < 0)
			expect_x(what, -1, refused);
		else
			expect_x(what, recv(fd, &c, 1, 0), (struct expect){ EHOSTUNREACH, EAGAIN, BY_EGRESS, false, NULL });
		close(fd);
	}
	freeifaddrs(own);
	/* its resolver's address and port: warren's, bound before the sandbox ran */
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in dns = { .sin_family = AF_INET, .sin_port = htons(53) };
	inet_pton(AF_INET, "127.0.0.53", &dns.sin_addr);
	expect_x("bind 127.0.0.53:53 (the sandbox's resolver)", bind(fd, (struct sockaddr *)&dns, sizeof(dns)),
		 (struct expect){ EACCES, EADDRINUSE, "no CAP_NET_BIND_SERVICE; warren holds it", false, NULL });
	close(fd);
	/* its own address, and its link */
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { 0 };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "eth0");
	struct sockaddr_in *sa = (struct sockaddr_in *)&ifr.ifr_addr;
	sa->sin_family = AF_INET;
	inet_pton(AF_INET, "198.18.0.99", &sa->sin_addr);
	expect_errno("SIOCSIFADDR eth0 198.18.0.99", ioctl(fd, SIOCSIFADDR, &ifr), EPERM, "no CAP_NET_ADMIN");
	ifr.ifr_flags = 0;
	expect_errno("SIOCSIFFLAGS eth0 down", ioctl(fd, SIOCSIFFLAGS, &ifr), EPERM, "no CAP_NET_ADMIN");
	close(fd);
}

#define BY_NET_RAW "no CAP_NET_RAW"

static void at_raw(void)
{
	expect_errno_fd("socket(AF_INET, SOCK_RAW, ICMP)", socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP), EPERM,
			BY_NET_RAW);
	expect_errno_fd("socket(AF_INET, SOCK_RAW, RAW)", socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW), EPERM,
			BY_NET_RAW);
	expect_errno_fd("socket(AF_INET6, SOCK_RAW, ICMPV6)", socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6),
			EPERM, BY_NET_RAW);
	/* A filter that allowlists address families (issue 10) refuses
	 * AF_PACKET itself, before the capability check. */
	struct expect packet = { EPERM, EAFNOSUPPORT, "no CAP_NET_RAW, or a family the filter does not allow", false,
				 NULL };
	expect_fd_x("socket(AF_PACKET, SOCK_RAW)", socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(0x0003)), packet);
	expect_fd_x("socket(AF_PACKET, SOCK_DGRAM)", socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(0x0003)), packet);
	/* A ping socket needs the group in the namespace's ping_group_range,
	 * which is empty ("1 0") in a new network namespace. */
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_ICMP);
	expect_errno("socket(AF_INET, SOCK_DGRAM, ICMP) (a ping socket)", fd, EACCES,
		     "network namespace: an empty ping_group_range");
	if (fd >= 0) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		inet_pton(AF_INET, "192.0.2.1", &sa.sin_addr);
		struct icmphdr echo = { .type = ICMP_ECHO };
		expect_errno("ping 192.0.2.1", sendto(fd, &echo, sizeof(echo), 0, (struct sockaddr *)&sa, sizeof(sa)),
			     ENETUNREACH, "network namespace: no route but lo");
		close(fd);
	}
}

/* Not an attempt: the control run's listeners for `connect` (TCP, unix and
 * abstract addresses, as `connect` takes them). Accepts until killed. */
static void at_listen(int argc, char **argv)
{
	struct pollfd pfd[16];
	int n = 0;
	for (int i = 0; i < argc && n < 16; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		if (!parse_target(argv[i], &ss, &len)) {
			fprintf(stderr, "attack listen: bad address %s\n", argv[i]);
			exit(2);
		}
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0) {
			fprintf(stderr, "attack listen: %s: %s\n", argv[i], strerror(errno));
			exit(1);
		}
		pfd[n++] = (struct pollfd){ .fd = fd, .events = POLLIN };
	}
	printf("listening\n");
	fflush(stdout);
	for (;;) {
		if (poll(pfd, (nfds_t)n, -1) < 0 && errno != EINTR)
			exit(1);
		for (int i = 0; i < n; i++)
			if (pfd[i].revents & POLLIN) {
				int c = accept4(pfd[i].fd, NULL, NULL, SOCK_CLOEXEC);
				if (c >= 0)
					close(c);
			}
	}
}

/* --- information -------------------------------------------------------------- */

/* argv: strings that must not show in any command line, written backwards:
 * as given they would be in our own argv and in pid 1's (a copy of the
 * runtime's argv when warren run started us). */
static void at_host_procs(int argc, char **argv)
{
	/* Reversed into copies: /proc/self/cmdline reads argv's own memory. */
	char **marks = calloc((size_t)argc + 1, sizeof(char *));
	for (int i = 0; i < argc; i++) {
		size_t len = strlen(argv[i]);
		marks[i] = malloc(len + 1);
		for (size_t k = 0; k < len; k++)
			marks[i][k] = argv[i][len - 1 - k];
		marks[i][len] = 0;
	}
	argv = marks;
	int before = escapes + works;
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		n++;
		char path[300], buf[4096];
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : 0;
		if (fd >= 0)
			close(fd);
		for (ssize_t k = 0; k < len; k++)
			if (!buf[k])
				buf[k] = ' ';
		buf[len > 0 ? len : 0] = 0;
		for (int i = 0; i < argc; i++)
			if (strstr(buf, argv[i]))
				escaped("pid %s shows host string \"%s\": %s", de->d_name, argv[i], buf);
		printf("  pid %s: %.100s\n", de->d_name, buf);
	}
	if (d)
		closedir(d);
	if (n > 50)
		escaped("%d processes visible", n);
	if (escapes + works == before)
		held("%d processes visible, no host string", n);
}

/* argv: the host's hostname and domain name. */
static void at_hostname(int argc, char **argv)
{
	struct utsname u;
	uname(&u);
	int before = escapes + works;
	const char *files[] = { "/proc/sys/kernel/hostname", "/etc/hostname", "/etc/hosts", "/etc/mailname", NULL };
	for (int i = 0; i < argc; i++) {
		if (strcmp(u.nodename, argv[i]) == 0)
			escaped("uname nodename is the host's: %s", u.nodename);
		for (const char **f = files; *f; f++) {
			char buf[8192] = "";
			int fd = open(*f, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			ssize_t n = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			buf[n > 0 ? n : 0] = 0;
			if (strstr(buf, argv[i]))
				escaped("%s holds the host's name %s", *f, argv[i]);
		}
	}
	if (escapes + works == before)
		held("nodename %s", u.nodename);
	/* Only this sandbox's UTS namespace would change: the host checks its own. */
	int fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
	expect_errno("open /proc/sys/kernel/hostname for writing", fd, EACCES, BY_SYSCTL);
	if (fd >= 0) {
		expect_errno("write /proc/sys/kernel/hostname", write(fd, "warren-sec-pwned", 16), EACCES, BY_SYSCTL);
		close(fd);
	}
	expect_errno("sethostname", sethostname("warren-sec-pwned", 16), EPERM,
		     "no CAP_SYS_ADMIN over the UTS namespace");
}

static void at_kernel_info(void)
{
	char buf[4096];
	int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
	expect_x("open /proc/kcore", fd, (struct expect){ EACCES, 0, BY_MASK, true, NULL });
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0)
			escaped("read %zd bytes of /proc/kcore", n);
		else
			held("/proc/kcore reads empty");
		close(fd);
	}
	FILE *f = fopen("/proc/kallsyms", "re");
	expect_x("open /proc/kallsyms", f ? 0 : -1, (struct expect){ EACCES, 0, BY_MASK, true, NULL });
	int lines = 0, nonzero = 0;
	while (f && fgets(buf, sizeof(buf), f)) {
		lines++;
		if (strtoull(buf, NULL, 16) != 0)
			nonzero++;
	}
	if (f) {
		fclose(f);
		if (nonzero)
			escaped("/proc/kallsyms shows %d kernel addresses", nonzero);
		else
			held("/proc/kallsyms: %d lines, no address", lines);
	}
	/* optional: kernels may lack them (no IKCONFIG; sched_debug moved to
	 * debugfs in 5.13), the control run's among them. */
	const struct { const char *path; bool optional; } masked[] = {
		{ "/proc/keys", false }, { "/proc/timer_list", false }, { "/proc/sched_debug", true },
		{ "/proc/kmsg", false }, { "/proc/kpagecount", false }, { "/proc/kpageflags", false },
		{ "/proc/config.gz", true },
	};
	char what[96];
	for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++) {
		snprintf(what, sizeof(what), "open %s", masked[i].path);
		fd = open(masked[i].path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0 && errno == ENOENT && control && masked[i].optional) {
			printf("uncontrolled: %s: this kernel has no such file\n", what);
			uncontrolled++;
			continue;
		}
		expect_fd_x(what, fd, (struct expect){ EACCES, 0, BY_MASK, true, NULL });
	}
	expect_errno_fd("open /dev/kmsg", open("/dev/kmsg", O_RDONLY | O_CLOEXEC | O_NONBLOCK), ENOENT, BY_DEV);
	/* No /sys at all; /proc's hardware directories masked by empty tmpfs
	 * (or absent on this kernel). */
	const char *dirs[] = { "/sys/firmware", "/proc/acpi", "/proc/scsi", "/proc/driver", "/sys/kernel", "/sys/fs/cgroup",
			       NULL };
	for (const char **m = dirs; *m; m++) {
		DIR *dd = opendir(*m);
		int entries = 0;
		struct dirent *de;
		while (dd && (de = readdir(dd)))
			if (de->d_name[0] != '.')
				entries++;
		if (dd)
			closedir(dd);
		if (entries)
			escaped("%s lists %d entries", *m, entries);
		else if (control && !dd)
			printf("uncontrolled: %s: absent on this kernel\n", *m), uncontrolled++;
		else
			held("%s %s", *m, dd ? "empty" : "absent");
	}
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	expect_errno("open /proc/sys/vm/drop_caches for writing", fd, EACCES, BY_SYSCTL);
	if (fd >= 0) {
		expect_errno("write /proc/sys/vm/drop_caches", write(fd, "1", 1), EACCES, BY_SYSCTL);
		close(fd);
	}
	/* Written back as it was, should the write pass. */
	char pattern[256] = "core\n";
	fd = open("/proc/sys/kernel/core_pattern", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, pattern, sizeof(pattern) - 1);
		pattern[n > 0 ? n : 0] = 0;
		close(fd);
	}
	fd = open("/proc/sys/kernel/core_pattern", O_WRONLY | O_CLOEXEC);
	expect_errno("open /proc/sys/kernel/core_pattern for writing", fd, EACCES, BY_SYSCTL);
	if (fd >= 0) {
		expect_errno("write /proc/sys/kernel/core_pattern", write(fd, pattern, strlen(pattern)), EACCES, BY_SYSCTL);
		close(fd);
	}
	expect_errno("syslog(READ_ALL)", syscall(SYS_syslog, 3, buf, (int)sizeof(buf)), SECCOMP_ERRNO, BY_SECCOMP);
}

/* --- exhaustion (reports what it reached; the tests judge) ------------------ */

static void at_forkbomb(int argc, char **argv)
{
	int seconds = argc > 0 ? atoi(argv[0]) : 3;
	time_t end = time(NULL) + seconds;
	int made = 0, eagain = 0;
	pid_t me = getpid();
	while (time(NULL) < end) {
		pid_t p = fork();
		if (p == 0) {
			/* Children fork too, forever: the classic bomb. */
			for (;;)
				if (fork() < 0)
					pause();
		}
		if (p > 0)
			made++;
		else if (errno == EAGAIN)
			eagain++;
		if (made > 100000)
			break;
	}
	if (getpid() != me)
		_exit(0);
	printf("forkbomb: %d forks by the first process, %d EAGAIN\n", made, eagain);
	kill(-1, SIGKILL); /* everything we may signal in this sandbox, not init */
	printf(eagain ? "blocked: the process limit held\n" : "RESULT: no fork ever failed\n");
	exit(eagain ? 0 : 42);
}

/* argv: NOFILE, the policy's limit (default 1024). Opens /dev/null until
 * refused: no fd number may reach the limit, and the refusal is EMFILE. */
static void at_fdbomb(int argc, char **argv)
{
	long nofile = argc > 0 ? atol(argv[0]) : 1024;
	int n = 0, last = -1, fd;
	while ((fd = open("/dev/null", O_RDONLY)) >= 0)
		n++, last = fd;
	int err = errno;
	if (last >= nofile)
		escaped("opened fd %d: more than the policy's nofile %ld allows", last, nofile);
	else if (err != EMFILE)
		surprise("opening fds stopped at %d with %s, expected EMFILE", n, errname(err));
	else
		held("%d fds (the highest %d) then EMFILE under nofile %ld", n, last, nofile);
	struct rlimit rl = { 1 << 20, 1 << 20 };
	expect_errno("setrlimit(NOFILE, 1M)", setrlimit(RLIMIT_NOFILE, &rl), EPERM, "no CAP_SYS_RESOURCE");
}

static void at_membomb(int argc, char **argv)
{
	long mib = argc > 0 ? atol(argv[0]) : 1024;
	for (long i = 0; i < mib; i++) {
		char *p = malloc(1 << 20);
		if (!p) {
			printf("blocked: malloc failed after %ld MiB\n", i);
			return;
		}
		memset(p, 1, 1 << 20);
	}
	escaped("allocated and touched %ld MiB", mib);
}

/* argv: DIR [MiB]: write until the filesystem says ENOSPC. */
static void at_fill(int argc, char **argv)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/fill", argc > 0 ? argv[0] : "/tmp");
	long max = argc > 1 ? atol(argv[1]) : 4096;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		printf("blocked: create %s: %s\n", path, strerror(errno));
		return;
	}
	static char block[1 << 20];
	memset(block, 'x', sizeof(block));
	long written = 0;
	for (;;) {
		ssize_t n = write(fd, block, sizeof(block));
		if (n <= 0) {
			printf("fill: %ld bytes then %s\n", written, n < 0 ? strerror(errno) : "short write");
			if (n < 0 && errno == ENOSPC)
				printf("blocked: ENOSPC\n");
			else
				escaped("no ENOSPC in %s", path);
			break;
		}
		written += n;
		if (written >= max << 20) {
			escaped("wrote %ld MiB into %s without ENOSPC", max, path);
			break;
		}
	}
	close(fd);
}

/* Orphans reparented to init must be reaped: N children fork N
 * grandchildren that exit at once; the children exit without waiting. */
static void at_zombies(int argc, char **argv)
{
	int n = argc > 0 ? atoi(argv[0]) : 200;
	pid_t mid = fork();
	if (mid == 0) {
		setsid();
		for (int i = 0; i < n; i++)
			if (fork() == 0)
				_exit(0);
		_exit(0);
	}
	waitpid(mid, NULL, 0);
	int zombies = 0;
	for (int tries = 0; tries < 50; tries++) {
		usleep(100 * 1000);
		zombies = 0;
		DIR *d = opendir("/proc");
		struct dirent *de;
		while (d && (de = readdir(d))) {
			char path[300], buf[512];
			snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				continue;
			ssize_t len = read(fd, buf, sizeof(buf) - 1);
			close(fd);
			buf[len > 0 ? len : 0] = 0;
			char *paren = strrchr(buf, ')');
			if (paren && paren[1] == ' ' && paren[2] == 'Z')
				zombies++;
		}
		if (d)
			closedir(d);
		if (!zombies)
			break;
	}
	if (zombies)
		escaped("%d zombies never reaped", zombies);
	else
		printf("blocked: %d orphans reaped by init\n", n);
}

/* argv: SECONDS NPROC: spin NPROC processes, print CPU seconds used / wall. */
static void at_spin(int argc, char **argv)
{
	double seconds = argc > 0 ? atof(argv[0]) : 3;
	int nproc = argc > 1 ? atoi(argv[1]) : 2;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < nproc; i++)
		if (fork() == 0) {
			struct timespec now;
			volatile unsigned long x = 0;
			do {
				for (int k = 0; k < 100000; k++)
					x++;
				clock_gettime(CLOCK_MONOTONIC, &now);
			} while ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
			_exit(0);
		}
	while (wait(NULL) > 0)
		;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	struct rusage ru;
	getrusage(RUSAGE_CHILDREN, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("SPIN cpu=%.3f wall=%.3f\n", cpu, wall);
}

/* Ignores SIGTERM in itself and in a double-forked, setsid() descendant. */
static void at_ignore_term(void)
{
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	if (fork() == 0) {
		setsid();
		if (fork() == 0) {
			execl("/bin/sh", "sh", "-c", "trap '' TERM HUP INT; while :; do sleep 1; done", (char *)NULL);
			_exit(127);
		}
		_exit(0);
	}
	printf("ignoring SIGTERM\n");
	fflush(stdout);
	for (;;)
		pause();
}

/* --- the seccomp allowlist (socket families, unknown and unlisted calls) ------ */

#define BY_ALLOWLIST "seccomp: not on the allowlist (families: EAFNOSUPPORT; calls newer than the list: ENOSYS)"

/* One try that must fail with exactly `want`, the allowlist's answer. */
#define fails_with(what, r, want) expect_errno(what, r, want, BY_ALLOWLIST)

static void socket_fails(const char *what, long family, int type, int protocol, int want)
{
	long fd = syscall(SYS_socket, family, type | SOCK_CLOEXEC, protocol);
	fails_with(what, fd, want);
	if (fd >= 0)
		close((int)fd);
}

/* AF_VSOCK ignores network namespaces: an open one reaches the
 * hypervisor's and the host's vsock services and shares their port space. */
static void at_vsock(void)
{
	socket_fails("socket(AF_VSOCK, SOCK_STREAM)", AF_VSOCK, SOCK_STREAM, 0, EAFNOSUPPORT);
	socket_fails("socket(AF_VSOCK, SOCK_DGRAM)", AF_VSOCK, SOCK_DGRAM, 0, EAFNOSUPPORT);
	socket_fails("socket(AF_VSOCK, SOCK_SEQPACKET)", AF_VSOCK, SOCK_SEQPACKET, 0, EAFNOSUPPORT);
	/* the kernel reads the family as 32 bits */
	socket_fails("socket(1<<32 | AF_VSOCK)", (1L << 32) | AF_VSOCK, SOCK_STREAM, 0, EAFNOSUPPORT);
	int sv[2] = { -1, -1 };
	fails_with("socketpair(AF_VSOCK)", socketpair(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), EAFNOSUPPORT);
	/* squatting a host port: bind(VMADDR_CID_ANY, port) on whatever vsock
	 * socket could be had */
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = 7370 };
	fails_with("bind(AF_VSOCK, VMADDR_CID_ANY, 7370)",
		   fd < 0 ? fd : bind(fd, (struct sockaddr *)&sa, sizeof(sa)), EAFNOSUPPORT);
	if (fd >= 0)
		close(fd);
}

/* Families outside the allowlist: link-level, kernel crypto, radios,
 * host-wide netlink event streams. */
static void at_socket_families(void)
{
	static const struct { const char *what; int family, type, protocol; } tries[] = {
		{ "socket(AF_PACKET, SOCK_RAW)", AF_PACKET, SOCK_RAW, 0x0300 /* htons(ETH_P_ALL) */ },
		{ "socket(AF_PACKET, SOCK_DGRAM)", AF_PACKET, SOCK_DGRAM, 0x0300 },
		{ "socket(AF_ALG, SOCK_SEQPACKET)", AF_ALG, SOCK_SEQPACKET, 0 },
		{ "socket(AF_BLUETOOTH, SOCK_STREAM)", AF_BLUETOOTH, SOCK_STREAM, 0 },
		{ "socket(AF_KEY, SOCK_RAW)", AF_KEY, SOCK_RAW, 2 /* PF_KEY_V2 */ },
		{ "socket(AF_XDP, SOCK_RAW)", AF_XDP, SOCK_RAW, 0 },
		{ "socket(AF_TIPC, SOCK_RDM)", AF_TIPC, SOCK_RDM, 0 },
		{ "socket(AF_CAN, SOCK_RAW)", AF_CAN, SOCK_RAW, 1 },
		{ "socket(AF_UNSPEC)", AF_UNSPEC, SOCK_STREAM, 0 },
		{ "socket(AF_NETLINK, NETLINK_AUDIT)", AF_NETLINK, SOCK_RAW, NETLINK_AUDIT },
		{ "socket(AF_NETLINK, NETLINK_KOBJECT_UEVENT)", AF_NETLINK, SOCK_DGRAM, NETLINK_KOBJECT_UEVENT },
		{ "socket(AF_NETLINK, NETLINK_SOCK_DIAG)", AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG },
		{ "socket(AF_NETLINK, NETLINK_GENERIC)", AF_NETLINK, SOCK_RAW, NETLINK_GENERIC },
		{ "socket(AF_NETLINK, NETLINK_XFRM)", AF_NETLINK, SOCK_RAW, NETLINK_XFRM },
	};
	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++)
		socket_fails(tries[i].what, tries[i].family, tries[i].type, tries[i].protocol, EAFNOSUPPORT);
	long fd = syscall(SYS_socket, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, (1L << 32) | NETLINK_AUDIT);
	fails_with("socket(AF_NETLINK, 1<<32 | NETLINK_AUDIT)", fd, EAFNOSUPPORT);
	if (fd >= 0)
		close((int)fd);

	/* The families kept must still work: printed as controls, checked by
	 * the test (a failed control is no escape, but a broken sandbox). */
	static const struct { const char *what; int family, type, protocol; } kept[] = {
		{ "socket(AF_UNIX, SOCK_STREAM)", AF_UNIX, SOCK_STREAM, 0 },
		{ "socket(AF_INET, SOCK_STREAM)", AF_INET, SOCK_STREAM, 0 },
		{ "socket(AF_INET6, SOCK_DGRAM)", AF_INET6, SOCK_DGRAM, 0 },
		{ "socket(AF_NETLINK, NETLINK_ROUTE)", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE },
	};
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		int k = socket(kept[i].family, kept[i].type | SOCK_CLOEXEC, kept[i].protocol);
		printf(k >= 0 ? "control ok: %s\n" : "CONTROL FAILED: %s: %s\n", kept[i].what, strerror(errno));
		if (k >= 0)
			close(k);
	}
	struct ifaddrs *ifa = NULL;
	bool lo = false;
	int r = getifaddrs(&ifa);
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next)
		lo |= strcmp(i->ifa_name, "lo") == 0;
	printf(r == 0 && lo ? "control ok: getifaddrs lists lo\n" : "CONTROL FAILED: getifaddrs: %s\n", strerror(errno));
	if (ifa)
		freeifaddrs(ifa);
}

/* Calls newer than the filter's list answer ENOSYS (as on an older
 * kernel, so libc falls back); a call inside the list's range but not
 * allowed answers the policy's errno, argv[0] (default EPERM). */
static void at_unlisted_syscalls(int argc, char **argv)
{
	int policy_errno = argc > 0 ? atoi(argv[0]) : EPERM;
	fails_with("syscall(467) (open_tree_attr)", syscall(467, -1, "", 0, NULL, 0), ENOSYS);
	fails_with("syscall(468) (file_getattr)", syscall(468, -1, "", NULL, 0, 0), ENOSYS);
	fails_with("syscall(500)", syscall(500, 0, 0, 0), ENOSYS);
	fails_with("syscall(1023)", syscall(1023), ENOSYS);
	/* process_madvise(2) on our own memory: needs no privilege since
	 * Linux 6.13 (MADV_COLD only ages pages), yet it steers memory by
	 * pidfd; Docker allows it only with CAP_SYS_PTRACE. */
	static char page[4096] __attribute__((aligned(4096)));
	page[0] = 1;
	struct iovec iov = { page, sizeof(page) };
	int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	fails_with("process_madvise(self, MADV_COLD)", syscall(440, pidfd, &iov, 1, 20 /* MADV_COLD */, 0),
		   policy_errno);
	if (pidfd >= 0)
		close(pidfd);
}

/* --- the contract's settings (checked once per backend) -------------------- */

static void check_rlimit(const char *name, int resource, const char *value)
{
	rlim_t want = strcmp(value, "unlimited") == 0 ? RLIM_INFINITY : (rlim_t)strtoull(value, NULL, 10);
	struct rlimit rl;
	char what[96];
	if (getrlimit(resource, &rl) < 0) {
		surprise("getrlimit(%s): %s", name, strerror(errno));
		return;
	}
	if (rl.rlim_cur != want || rl.rlim_max != want)
		escaped("RLIMIT_%s is %llu soft, %llu hard: the policy says %s for both", name,
			(unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, value);
	else
		held("RLIMIT_%s is %s, soft and hard", name, value);
	if (want == RLIM_INFINITY)
		return;
	struct rlimit more = { want + 1, want + 1 };
	snprintf(what, sizeof(what), "raise RLIMIT_%s to %llu", name, (unsigned long long)want + 1);
	long r = setrlimit(resource, &more);
	expect_errno(what, r, EPERM, "no CAP_SYS_RESOURCE");
	if (r == 0)
		setrlimit(resource, &rl);
}

/* argv: CORE NOFILE FSIZE (bytes, or "unlimited"): the policy's rlimits,
 * soft and hard alike, and a write past the file size limit refused. */
static void at_rlimits(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "rlimits CORE NOFILE FSIZE\n");
		exit(2);
	}
	check_rlimit("CORE", RLIMIT_CORE, argv[0]);
	check_rlimit("NOFILE", RLIMIT_NOFILE, argv[1]);
	check_rlimit("FSIZE", RLIMIT_FSIZE, argv[2]);
	if (strcmp(argv[2], "unlimited") == 0)
		return;
	off_t limit = (off_t)strtoull(argv[2], NULL, 10);
	signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of the signal */
	int fd = open("/tmp/warren-sec-fsize", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		surprise("create /tmp/warren-sec-fsize: %s", strerror(errno));
		return;
	}
	char what[96];
	snprintf(what, sizeof(what), "write one byte at offset %lld (the fsize limit)", (long long)limit);
	expect_errno(what, pwrite(fd, "x", 1, limit), EFBIG, "RLIMIT_FSIZE");
	close(fd);
	unlink("/tmp/warren-sec-fsize");
}

/* argv: UID GID: who commands run as (real, effective, saved; no other
 * group), and a read-only / and /usr. */
static void at_identity(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "identity UID GID\n");
		exit(2);
	}
	uid_t want_uid = (uid_t)atol(argv[0]);
	gid_t want_gid = (gid_t)atol(argv[1]);
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	getresuid(&ru, &eu, &su);
	getresgid(&rg, &eg, &sg);
	if (ru != want_uid || eu != want_uid || su != want_uid)
		escaped("uids %u/%u/%u, the contract says %u", ru, eu, su, want_uid);
	else
		held("uid %u (real, effective, saved)", want_uid);
	if (rg != want_gid || eg != want_gid || sg != want_gid)
		escaped("gids %u/%u/%u, the contract says %u", rg, eg, sg, want_gid);
	else
		held("gid %u (real, effective, saved)", want_gid);
	gid_t groups[64];
	int n = getgroups(64, groups), other = 0;
	for (int i = 0; i < n; i++)
		if (groups[i] != want_gid)
			other++, escaped("supplementary group %u", groups[i]);
	if (n >= 0 && !other)
		held("no supplementary group but %u (%d listed)", want_gid, n);
	const char *ro[] = { "/", "/usr", NULL };
	char what[96];
	for (const char **m = ro; *m; m++) {
		check_mount_flag(*m, ST_RDONLY, "ro");
		snprintf(what, sizeof(what), "%s/warren-sec-probe", strcmp(*m, "/") ? *m : "");
		try_create(what);
	}
}

/* --- the battery's own test (tests/security/test_control.py) ---------------- */

/* Not an attempt: one try with deliberately broken arguments (the old
 * mount_setattr try: no struct, so EINVAL for anyone), which a sandbox run
 * reports blocked and only the control run catches; and one that expects
 * the wrong errno, which a sandbox run reports UNEXPECTED. */
static void at_selftest(void)
{
	expect_errno("mount_setattr(/usr, NULL, 0) [broken on purpose]",
		     syscall(SYS_mount_setattr, AT_FDCWD, "/usr", 0, NULL, 0), SECCOMP_ERRNO, BY_SECCOMP);
	long r = mkdir("/usr/warren-sec-selftest", 0755);
	expect_errno("mkdir /usr/warren-sec-selftest [the wrong errno on purpose]", r, EPERM, "deliberately wrong: EROFS");
	if (r == 0)
		rmdir("/usr/warren-sec-selftest");
}

/* --- what the kernel shows across namespaces (audit item 10) ------------------- */

/* A masked path: a file under /dev/null reads empty, a directory under an
 * empty read-only tmpfs lists nothing (or, mode 0500, cannot be opened);
 * absent is fine too (a kernel may lack it). Anything read is an escape,
 * another errno a surprise. In the control run, where nothing is masked,
 * each path that exists must be readable. */
static void expect_masked(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			printf("absent: %s: this kernel has no such file\n", path);
		else if (errno == EACCES)
			held("%s: %s (masked)", path, strerror(errno));
		else
			surprise("stat %s: %s", path, strerror(errno));
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (!d) {
			if (errno == EACCES)
				held("list %s: %s (masked)", path, strerror(errno));
			else
				surprise("list %s: %s", path, strerror(errno));
			return;
		}
		int n = 0;
		char first[256] = "";
		for (struct dirent *de; (de = readdir(d));)
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && !n++)
				snprintf(first, sizeof first, "%s", de->d_name);
		closedir(d);
		if (n)
			escaped("%s lists %d entries (%s, ...)", path, n, first);
		else
			held("%s is empty (masked)", path);
		return;
	}
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == EACCES)
			held("open %s: %s (masked)", path, strerror(errno));
		else
			surprise("open %s: %s", path, strerror(errno));
		return;
	}
	ssize_t n = read(fd, buf, sizeof buf);
	int err = errno;
	close(fd);
	if (n > 0)
		escaped("read %zd bytes of %s", n, path);
	else if (n == 0)
		held("%s reads empty (masked)", path);
	else
		surprise("read %s: %s", path, strerror(err));
}

/* Docker's masked list plus /proc/locks (the audit read /proc/interrupts
 * and /proc/locks), with a lock of our own held so /proc/locks has
 * something to show. */
static void at_proc_leaks(void)
{
	int fd = open("/tmp/.attack-lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		printf("note: no lock of our own: %s\n", strerror(errno));
	const char *paths[] = { "/proc/interrupts", "/proc/locks", "/proc/timer_stats", "/proc/timer_list",
				"/proc/sched_debug", "/proc/latency_stats", "/proc/keys", "/proc/kcore", "/proc/asound",
				"/proc/acpi", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap", NULL };
	for (const char **p = paths; *p; p++)
		expect_masked(*p);
	if (fd >= 0)
		close(fd);
}

/* Paths the sandbox must not see: the host image's /usr/local/etc, a
 * policy's "hide". */
static void at_hidden(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		expect_masked(argv[i]);
}

/* --- dispatch ------------------------------------------------------------------ */

typedef void (*plain_fn)(void);
typedef void (*args_fn)(int, char **);
static const struct { const char *name; plain_fn plain; args_fn args; } attempts[] = {
	{ "setuid0", at_setuid0, NULL }, { "caps", NULL, at_caps }, { "uid_map", at_uid_map, NULL },
	{ "unshare", at_unshare, NULL }, { "clone_ns", at_clone_ns, NULL }, { "setns", at_setns, NULL },
	{ "mount", at_mount, NULL }, { "bind_mount", at_bind_mount, NULL }, { "ptrace", NULL, at_ptrace },
	{ "proc_mem", at_proc_mem, NULL }, { "kmod", NULL, at_kmod }, { "kexec", at_kexec, NULL }, { "bpf", at_bpf, NULL },
	{ "perf", at_perf, NULL }, { "keyctl", at_keyctl, NULL }, { "userfaultfd", at_userfaultfd, NULL },
	{ "io_uring", at_io_uring, NULL }, { "personality", at_personality, NULL }, { "int80", at_int80, NULL },
	{ "tiocsti", at_tiocsti, NULL }, { "pty", at_pty, NULL }, { "reboot", at_reboot, NULL }, { "write_image", NULL, at_write_image },
	{ "mknod", at_mknod, NULL }, { "host_root", NULL, at_host_root }, { "fds", at_fds, NULL },
	{ "exe_overwrite", NULL, at_exe_overwrite }, { "hardlink", NULL, at_hardlink },
	{ "suid_plant", NULL, at_suid_plant }, { "find_secret", NULL, at_find_secret }, { "ifaces", at_ifaces, NULL },
	{ "connect", NULL, at_connect }, { "egress", NULL, at_egress }, { "raw", at_raw, NULL }, { "host_procs", NULL, at_host_procs },
	{ "hostname", NULL, at_hostname }, { "kernel_info", at_kernel_info, NULL }, { "forkbomb", NULL, at_forkbomb },
	{ "fdbomb", NULL, at_fdbomb }, { "membomb", NULL, at_membomb }, { "fill", NULL, at_fill },
	{ "zombies", NULL, at_zombies }, { "spin", NULL, at_spin }, { "ignore_term", at_ignore_term, NULL },
	{ "vsock", at_vsock, NULL }, { "socket_families", at_socket_families, NULL },
	{ "unlisted_syscalls", NULL, at_unlisted_syscalls },
	{ "rlimits", NULL, at_rlimits }, { "identity", NULL, at_identity }, { "selftest", at_selftest, NULL },
	{ "listen", NULL, at_listen },
	{ "proc_leaks", at_proc_leaks, NULL }, { "hidden", NULL, at_hidden },
};

/* The closing line, and the exit status the tests read with it. */
static int result(void)
{
	if (control) {
		printf("RESULT: CONTROL %s (%d work, %d uncontrolled, %d broken)\n", broken ? "BROKEN" : "OK", works,
		       uncontrolled, broken);
		return broken ? 44 : 0;
	}
	printf("RESULT: %s\n", escapes ? "ESCAPED" : unexpected ? "UNEXPECTED" : "BLOCKED");
	return escapes ? 42 : unexpected ? 43 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "--control") == 0) {
		control = true;
		argc--, argv++;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: attack [--control] NAME [ARG...]\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
		if (strcmp(argv[1], attempts[i].name) != 0)
			continue;
		if (attempts[i].plain)
			attempts[i].plain();
		else
			attempts[i].args(argc - 2, argv + 2);
		return result();
	}
	fprintf(stderr, "attack: unknown attempt %s\n", argv[1]);
	return 2;
}
