/* The security battery's attacker: one binary, one subcommand per attempt,
 * compiled on the host by the tests and run ONLY inside a sandbox (never on
 * the host: as root there, several of these would damage the machine).
 *
 * Every subcommand tries each way it knows to do one forbidden thing and
 * prints one line per try: "ESCAPED: <what>" when the forbidden thing
 * worked, "blocked: <what>: <why>" otherwise. It ends with "RESULT: BLOCKED"
 * (exit 0) or "RESULT: ESCAPED" (exit 42); a usage error exits 2. The tests
 * parse those lines and check the host afterwards. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/userfaultfd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <limits.h>
#include <grp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/file.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
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

static int escapes;

static void escaped(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void escaped(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("ESCAPED: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	escapes++;
}

/* One try: r >= 0 is success (= an escape), r < 0 with errno is a block. */
static void expect_fail(const char *what, long r)
{
	if (r >= 0)
		escaped("%s succeeded (returned %ld)", what, r);
	else
		printf("blocked: %s: %s\n", what, strerror(errno));
}

static void expect_fail_fd(const char *what, long fd)
{
	expect_fail(what, fd);
	if (fd >= 0)
		close((int)fd);
}

/* --- privilege ------------------------------------------------------------ */

static void at_setuid0(void)
{
	expect_fail("setuid(0)", setuid(0));
	expect_fail("setgid(0)", setgid(0));
	expect_fail("setresuid(0,0,0)", setresuid(0, 0, 0));
	expect_fail("setresgid(0,0,0)", setresgid(0, 0, 0));
	gid_t zero = 0;
	expect_fail("setgroups([0])", setgroups(1, &zero));
	setfsuid(0);
	if (setfsuid((uid_t)-1) == 0)
		escaped("fsuid is 0 after setfsuid(0)");
	if (geteuid() == 0 || getegid() == 0)
		escaped("euid %u egid %u", geteuid(), getegid());
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

static void at_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	memset(d, 0xff, sizeof(d));
	expect_fail("capset(all)", syscall(SYS_capset, &h, d));
	expect_fail("PR_CAP_AMBIENT_RAISE CAP_SYS_ADMIN", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0));
	prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0);
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		escaped("no_new_privs is not set");
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2)
		escaped("no seccomp filter");
	if (!caps_all_zero())
		escaped("a capability set is not empty");
	/* Set-user-ID programs of the image (su, passwd, mount) must not raise
	 * anything: every mount is nosuid (and no_new_privs is set anyway). */
	const char *mounts[] = { "/", "/usr", "/workspace", "/tmp", "/dev/shm", "/dev", NULL };
	for (const char **m = mounts; *m; m++) {
		struct statvfs sv;
		if (statvfs(*m, &sv) == 0 && !(sv.f_flag & ST_NOSUID))
			escaped("%s is mounted without nosuid", *m);
	}
}

static void at_uid_map(void)
{
	const char *files[] = { "/proc/self/uid_map", "/proc/self/gid_map", "/proc/self/setgroups",
				"/proc/1/uid_map", NULL };
	for (const char **f = files; *f; f++) {
		int fd = open(*f, O_WRONLY | O_CLOEXEC);
		char what[128];
		snprintf(what, sizeof(what), "open %s for writing", *f);
		if (fd < 0) {
			expect_fail(what, -1);
			continue;
		}
		const char *map = strstr(*f, "setgroups") ? "allow" : "0 0 4294967295\n";
		snprintf(what, sizeof(what), "write %s", *f);
		expect_fail(what, write(fd, map, strlen(map)));
		close(fd);
	}
}

static const struct { const char *name; int flag; } ns_flags[] = {
	{ "CLONE_NEWUSER", CLONE_NEWUSER }, { "CLONE_NEWNS", CLONE_NEWNS }, { "CLONE_NEWPID", CLONE_NEWPID },
	{ "CLONE_NEWNET", CLONE_NEWNET }, { "CLONE_NEWUTS", CLONE_NEWUTS }, { "CLONE_NEWIPC", CLONE_NEWIPC },
	{ "CLONE_NEWCGROUP", CLONE_NEWCGROUP }, { "CLONE_NEWTIME", CLONE_NEWTIME },
};

static void at_unshare(void)
{
	char what[96];
	for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
		snprintf(what, sizeof(what), "unshare(%s)", ns_flags[i].name);
		expect_fail(what, unshare(ns_flags[i].flag));
	}
	expect_fail("unshare(all namespaces)", unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET));
}

/* clone() and clone3() straight through syscall(): the child, if any, exits. */
static void at_clone_ns(void)
{
	char what[96];
	for (size_t i = 0; i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
		long pid = syscall(SYS_clone, (unsigned long)(ns_flags[i].flag | SIGCHLD), NULL, NULL, NULL, 0);
		if (pid == 0)
			_exit(0);
		snprintf(what, sizeof(what), "clone(%s)", ns_flags[i].name);
		expect_fail(what, pid);
		if (pid > 0)
			waitpid((pid_t)pid, NULL, 0);
		/* High bits above the 32-bit flags word must not hide a flag. */
		pid = syscall(SYS_clone, (unsigned long)ns_flags[i].flag | SIGCHLD | (1UL << 40), NULL, NULL, NULL, 0);
		if (pid == 0)
			_exit(0);
		snprintf(what, sizeof(what), "clone(%s | 1<<40)", ns_flags[i].name);
		expect_fail(what, pid);
		if (pid > 0)
			waitpid((pid_t)pid, NULL, 0);

		struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; } args = {
			.flags = (uint64_t)ns_flags[i].flag, .exit_signal = SIGCHLD };
		pid = syscall(SYS_clone3, &args, sizeof(args));
		if (pid == 0)
			_exit(0);
		snprintf(what, sizeof(what), "clone3(%s)", ns_flags[i].name);
		expect_fail(what, pid);
		if (pid > 0)
			waitpid((pid_t)pid, NULL, 0);
	}
}

static void at_setns(void)
{
	const char *ns[] = { "user", "mnt", "pid", "net", "uts", "ipc", "cgroup", NULL };
	char path[64], what[96];
	for (const char **n = ns; *n; n++) {
		for (int who = 0; who < 2; who++) {
			snprintf(path, sizeof(path), who ? "/proc/1/ns/%s" : "/proc/self/ns/%s", *n);
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			snprintf(what, sizeof(what), "setns(%s)", path);
			if (fd < 0) {
				printf("blocked: open %s: %s\n", path, strerror(errno));
				continue;
			}
			expect_fail(what, setns(fd, 0));
			close(fd);
		}
	}
	/* A pidfd of a process in this namespace: setns with namespace flags. */
	long pidfd = syscall(SYS_pidfd_open, getppid() > 0 ? getppid() : 1, 0);
	if (pidfd >= 0) {
		expect_fail("setns(pidfd of parent, CLONE_NEWUSER|CLONE_NEWNS)",
			    setns((int)pidfd, CLONE_NEWUSER | CLONE_NEWNS));
		close((int)pidfd);
	}
}

static void at_mount(void)
{
	mkdir("/tmp/m", 0755);
	expect_fail("mount tmpfs on /tmp/m", mount("none", "/tmp/m", "tmpfs", 0, NULL));
	expect_fail("mount proc on /tmp/m", mount("proc", "/tmp/m", "proc", 0, NULL));
	expect_fail("remount /usr read-write", mount(NULL, "/usr", NULL, MS_REMOUNT | MS_BIND, NULL));
	expect_fail("remount / read-write", mount(NULL, "/", NULL, MS_REMOUNT, NULL));
	expect_fail("umount2(/proc/kcore, MNT_DETACH)", umount2("/proc/kcore", MNT_DETACH));
	expect_fail("umount2(/proc, MNT_DETACH)", umount2("/proc", MNT_DETACH));
	expect_fail("umount2(/usr)", umount2("/usr", 0));
	expect_fail("pivot_root(/tmp, /tmp/m)", syscall(SYS_pivot_root, "/tmp", "/tmp/m"));
	expect_fail("chroot(/tmp)", chroot("/tmp"));
	expect_fail_fd("fsopen(tmpfs)", syscall(SYS_fsopen, "tmpfs", 0));
	expect_fail_fd("open_tree(/usr, OPEN_TREE_CLONE)", syscall(SYS_open_tree, AT_FDCWD, "/usr", 1 /* CLONE */));
	expect_fail("move_mount", syscall(SYS_move_mount, AT_FDCWD, "/tmp", AT_FDCWD, "/tmp/m", 0));
	expect_fail("mount_setattr(/usr, rw)", syscall(SYS_mount_setattr, AT_FDCWD, "/usr", 0, NULL, 0));
	expect_fail_fd("fspick(/usr)", syscall(SYS_fspick, AT_FDCWD, "/usr", 0));
}

static void at_bind_mount(void)
{
	mkdir("/tmp/b", 0755);
	expect_fail("bind / onto /tmp/b", mount("/", "/tmp/b", NULL, MS_BIND | MS_REC, NULL));
	expect_fail("bind /proc/self/root onto /tmp/b", mount("/proc/self/root", "/tmp/b", NULL, MS_BIND, NULL));
	expect_fail("bind /proc/1/root onto /tmp/b", mount("/proc/1/root", "/tmp/b", NULL, MS_BIND, NULL));
	expect_fail("bind /tmp over /usr/bin", mount("/tmp", "/usr/bin", NULL, MS_BIND, NULL));
	expect_fail("make / shared", mount(NULL, "/", NULL, MS_SHARED | MS_REC, NULL));
	int fd = open("/tmp/b", O_PATH | O_CLOEXEC);
	if (fd >= 0) {
		expect_fail("move_mount(fd of /tmp/b onto /usr)",
			    syscall(SYS_move_mount, fd, "", AT_FDCWD, "/usr", 4 /* F_EMPTY_PATH */));
		close(fd);
	}
}

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(127);
	}
	usleep(100 * 1000);
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void ptrace_tries(pid_t pid)
{
	char what[96];
	snprintf(what, sizeof(what), "ptrace(PTRACE_ATTACH, %d)", pid);
	expect_fail(what, ptrace(PTRACE_ATTACH, pid, NULL, NULL));
	snprintf(what, sizeof(what), "ptrace(PTRACE_SEIZE, %d)", pid);
	expect_fail(what, ptrace(PTRACE_SEIZE, pid, NULL, NULL));
	char buf[64];
	struct iovec local = { buf, sizeof(buf) }, remote = { (void *)0x400000, sizeof(buf) };
	snprintf(what, sizeof(what), "process_vm_readv(%d)", pid);
	expect_fail(what, process_vm_readv(pid, &local, 1, &remote, 1, 0));
	snprintf(what, sizeof(what), "process_vm_writev(%d)", pid);
	expect_fail(what, process_vm_writev(pid, &local, 1, &remote, 1, 0));
	long pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd >= 0) {
		snprintf(what, sizeof(what), "pidfd_getfd(%d, 0)", pid);
		expect_fail_fd(what, syscall(SYS_pidfd_getfd, (int)pidfd, 0, 0));
		close((int)pidfd);
	}
	snprintf(what, sizeof(what), "kcmp(self, %d)", pid);
	expect_fail(what, syscall(SYS_kcmp, getpid(), pid, 0 /* KCMP_FILE */, 0, 0));
}

static void at_ptrace(int argc, char **argv)
{
	/* init, a process named on the command line (another exec), our own
	 * child, and PTRACE_TRACEME followed by exec. */
	ptrace_tries(1);
	for (int i = 0; i < argc; i++)
		ptrace_tries(atoi(argv[i]));
	pid_t child = spawn_sleeper();
	ptrace_tries(child);
	reap(child);
	expect_fail("ptrace(PTRACE_TRACEME)", ptrace(PTRACE_TRACEME, 0, NULL, NULL));
}

static void at_proc_mem(void)
{
	const char *files[] = { "/proc/1/mem", "/proc/1/environ", "/proc/1/maps", "/proc/1/fd/0", "/proc/1/exe",
				"/proc/1/root/", "/proc/1/cwd/", NULL };
	char what[96];
	for (const char **f = files; *f; f++) {
		snprintf(what, sizeof(what), "open %s", *f);
		expect_fail_fd(what, open(*f, O_RDONLY | O_CLOEXEC));
	}
	expect_fail_fd("open /proc/1/mem for writing", open("/proc/1/mem", O_RDWR | O_CLOEXEC));
}

static void at_kmod(void)
{
	expect_fail("init_module", syscall(SYS_init_module, "\x7f" "ELF", 4, ""));
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	expect_fail("finit_module", syscall(SYS_finit_module, fd, "", 0));
	close(fd);
	expect_fail("delete_module(loop)", syscall(SYS_delete_module, "loop", O_NONBLOCK));
	expect_fail_fd("open /proc/sys/kernel/modprobe for writing",
		       open("/proc/sys/kernel/modprobe", O_WRONLY | O_CLOEXEC));
}

static void at_kexec(void)
{
	expect_fail("kexec_load", syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0UL));
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	expect_fail("kexec_file_load", syscall(SYS_kexec_file_load, fd, fd, 0UL, "", 0UL));
	close(fd);
}

static void at_bpf(void)
{
	union bpf_attr a;
	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 8;
	a.max_entries = 1;
	expect_fail_fd("bpf(BPF_MAP_CREATE)", syscall(SYS_bpf, BPF_MAP_CREATE, &a, sizeof(a)));
	struct bpf_insn prog[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	a.insns = (uintptr_t)prog;
	a.insn_cnt = 2;
	a.license = (uintptr_t) "GPL";
	expect_fail_fd("bpf(BPF_PROG_LOAD socket filter)", syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof(a)));
}

static void at_perf(void)
{
	struct perf_event_attr a;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	a.exclude_kernel = 1;
	expect_fail_fd("perf_event_open(self)", syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
	expect_fail_fd("perf_event_open(all cpus)", syscall(SYS_perf_event_open, &a, -1, 0, -1, 0));
}

static void at_keyctl(void)
{
	expect_fail("add_key(user)", syscall(SYS_add_key, "user", "warren-sec", "x", 1, KEY_SPEC_SESSION_KEYRING));
	expect_fail("request_key(user)", syscall(SYS_request_key, "user", "warren-sec", NULL, KEY_SPEC_SESSION_KEYRING));
	expect_fail("keyctl(GET_KEYRING_ID session)", syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0));
	expect_fail("keyctl(JOIN_SESSION_KEYRING)", syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "warren-sec"));
}

static void at_userfaultfd(void)
{
	expect_fail_fd("userfaultfd(0)", syscall(SYS_userfaultfd, O_CLOEXEC));
	expect_fail_fd("userfaultfd(UFFD_USER_MODE_ONLY)", syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY));
	expect_fail_fd("open /dev/userfaultfd", open("/dev/userfaultfd", O_RDWR | O_CLOEXEC));
}

static void at_io_uring(void)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	expect_fail_fd("io_uring_setup(8)", syscall(SYS_io_uring_setup, 8, &p));
	expect_fail("io_uring_enter(-1)", syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0) < 0 && errno == EBADF
							 ? 0 : -1);
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
		} else {
			printf("blocked: %s: %s\n", what, r < 0 ? strerror(err) : "no effect");
		}
	}
}

/* A 32-bit system call through int 0x80 (i386 getuid32 = 199, setuid32 =
 * 213). The kernel here has no ia32 emulation: the child must die (SIGSEGV,
 * or SIGSYS from seccomp's bad-arch action) or get an error, never a result. */
static void at_int80(void)
{
	const struct { const char *name; long nr, arg; } calls[] = {
		{ "i386 getuid32", 199, 0 }, { "i386 setuid32(0)", 213, 0 }, { "i386 getpid", 20, 0 },
	};
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		int pfd[2];
		if (pipe(pfd) < 0)
			return;
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
		int st;
		waitpid(pid, &st, 0);
		if (n == (ssize_t)sizeof(ret) && (ret >= 0 || ret < -4095))
			escaped("int 0x80 %s returned %ld", calls[i].name, ret);
		else if (n == (ssize_t)sizeof(ret))
			printf("blocked: int 0x80 %s: returned %s\n", calls[i].name, strerror((int)-ret));
		else
			printf("blocked: int 0x80 %s: child %s %d\n", calls[i].name,
			       WIFSIGNALED(st) ? "killed by signal" : "exited", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	}
}

static void tiocsti_tries(int fd, const char *name)
{
	char what[128], c = '#';
	snprintf(what, sizeof(what), "ioctl(%s, TIOCSTI)", name);
	expect_fail(what, ioctl(fd, TIOCSTI, &c));
	/* The request is 32 bits in the kernel: high bits must not dodge the filter. */
	snprintf(what, sizeof(what), "ioctl(%s, TIOCSTI | 1<<32)", name);
	expect_fail(what, syscall(SYS_ioctl, fd, (unsigned long)TIOCSTI | (1UL << 32), &c));
	snprintf(what, sizeof(what), "ioctl(%s, TIOCLINUX)", name);
	char sub = 3; /* TIOCL_PASTESEL */
	expect_fail(what, ioctl(fd, TIOCLINUX, &sub));
}

static void at_tiocsti(void)
{
	for (int fd = 0; fd < 3; fd++) {
		char name[16];
		snprintf(name, sizeof(name), "fd %d", fd);
		tiocsti_tries(fd, name);
	}
	int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty >= 0) {
		tiocsti_tries(tty, "/dev/tty");
		close(tty);
	}
	/* A terminal the sandbox owns: only seccomp stands between it and TIOCSTI. */
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0) {
		int slave = open(ptsname(master), O_RDWR | O_CLOEXEC | O_NOCTTY);
		if (slave >= 0) {
			tiocsti_tries(slave, "own pty");
			close(slave);
		}
	}
	if (master >= 0)
		close(master);
}

static void at_reboot(void)
{
	/* CAD_OFF is the least harmful command should the call ever pass. */
	expect_fail("reboot(CAD_OFF)", syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
					       LINUX_REBOOT_CMD_CAD_OFF, NULL));
	int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
	expect_fail("write /proc/sysrq-trigger", fd < 0 ? -1 : write(fd, "h", 1));
	if (fd >= 0)
		close(fd);
}

/* --- filesystem ------------------------------------------------------------- */

static void try_create(const char *path)
{
	char what[PATH_MAX + 32];
	snprintf(what, sizeof(what), "create %s", path);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	expect_fail(what, fd);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
}

static void try_write_existing(const char *path)
{
	char what[PATH_MAX + 32];
	snprintf(what, sizeof(what), "open %s for writing", path);
	expect_fail_fd(what, open(path, O_WRONLY | O_APPEND | O_CLOEXEC));
	snprintf(what, sizeof(what), "chmod %s", path);
	expect_fail(what, chmod(path, 0777));
	snprintf(what, sizeof(what), "rename %s", path);
	char to[PATH_MAX];
	snprintf(to, sizeof(to), "%s.warren-sec", path);
	expect_fail(what, rename(path, to));
	snprintf(what, sizeof(what), "unlink %s", path);
	expect_fail(what, unlink(path));
	snprintf(what, sizeof(what), "utimensat %s", path);
	expect_fail(what, utimensat(AT_FDCWD, path, NULL, 0));
}

static void at_write_image(int argc, char **argv)
{
	const char *existing[] = { "/usr/bin/env", "/etc/passwd", "/etc/ld.so.cache", "/bin/sh", "/lib64/ld-linux-x86-64.so.2", NULL };
	const char *fresh[] = { "/usr/bin/warren-sec-probe", "/etc/warren-sec-probe", "/warren-sec-probe",
				"/bin/warren-sec-probe", "/usr/lib/warren-sec-probe", "/var/warren-sec-probe",
				"/dev/warren-sec-probe", "/proc/warren-sec-probe", NULL };
	for (const char **p = existing; *p; p++)
		try_write_existing(*p);
	for (const char **p = fresh; *p; p++)
		try_create(*p);
	for (int i = 0; i < argc; i++)
		try_create(argv[i]);
	expect_fail("mkdir /etc/warren-sec-dir", mkdir("/etc/warren-sec-dir", 0755));
	expect_fail("symlink /etc/warren-sec-link", symlink("/tmp", "/etc/warren-sec-link"));
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
		expect_fail(what, mknod(nodes[i].path, nodes[i].mode, nodes[i].dev));
	}
	/* Device nodes that exist must not reach hardware either. */
	expect_fail_fd("open /dev/mem", open("/dev/mem", O_RDONLY | O_CLOEXEC));
	expect_fail_fd("open /dev/vda", open("/dev/vda", O_RDONLY | O_CLOEXEC));
	expect_fail_fd("open /dev/kmsg", open("/dev/kmsg", O_RDONLY | O_CLOEXEC));
}

/* argv: host paths of canary files. Reads them through every door there is. */
static void at_host_root(int argc, char **argv)
{
	char path[PATH_MAX + 64], what[PATH_MAX + 96];
	const char *prefixes[] = { "", "/proc/self/root", "/proc/1/root", "/proc/1/cwd/../../../../..",
				   "/proc/self/cwd/../../../../..", "/proc/thread-self/root", NULL };
	for (int i = 0; i < argc; i++) {
		for (const char **p = prefixes; *p; p++) {
			snprintf(path, sizeof(path), "%s%s", *p, argv[i]);
			snprintf(what, sizeof(what), "open %s", path);
			expect_fail_fd(what, open(path, O_RDONLY | O_CLOEXEC));
		}
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
	}
	/* The sandbox's / is not the host's /: a host-only directory is absent. */
	struct stat st;
	expect_fail("stat /proc/1/root/home (host /home)", stat("/proc/1/root/home", &st));
	expect_fail("chdir .. out of / reaches the host", chdir("/../../..") == 0 && access("boot", F_OK) == 0 ? 0 : -1);
}

static void at_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		escaped("cannot list /proc/self/fd: %s (cannot check)", strerror(errno));
		return;
	}
	int self = dirfd(d);
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
		if (fd > 2)
			escaped("fd %d is open at start: %s", fd, target);
		else
			printf("  fd %d -> %s\n", fd, target);
	}
	closedir(d);
	/* Closed-on-listing fds would not show: probe every number too. */
	for (int fd = 3; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			escaped("fd %d answers fcntl(F_GETFD)", fd);
	printf("blocked: only fds 0-2 open at start (%d listed)\n", count);
}

/* /proc/self/exe and the runtime's /proc/1/exe opened for writing, directly
 * and by re-opening an O_PATH fd through /proc/self/fd (CVE-2019-5736). */
static void exe_tries(const char *exe)
{
	char what[128];
	snprintf(what, sizeof(what), "open %s O_WRONLY", exe);
	expect_fail_fd(what, open(exe, O_WRONLY | O_CLOEXEC));
	snprintf(what, sizeof(what), "open %s O_RDWR|O_TRUNC", exe);
	expect_fail_fd(what, open(exe, O_RDWR | O_TRUNC | O_CLOEXEC));
	int fd = open(exe, O_PATH | O_CLOEXEC);
	if (fd >= 0) {
		char re[64];
		snprintf(re, sizeof(re), "/proc/self/fd/%d", fd);
		snprintf(what, sizeof(what), "reopen O_PATH %s for writing", exe);
		expect_fail_fd(what, open(re, O_WRONLY | O_CLOEXEC));
		close(fd);
	}
	fd = open(exe, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		char re[64];
		snprintf(re, sizeof(re), "/proc/self/fd/%d", fd);
		snprintf(what, sizeof(what), "reopen O_RDONLY %s for writing", exe);
		expect_fail_fd(what, open(re, O_WRONLY | O_CLOEXEC));
		close(fd);
	}
}

static void at_exe_overwrite(int argc, char **argv)
{
	exe_tries("/proc/1/exe");
	char path[64];
	pid_t child = spawn_sleeper(); /* a binary of the image, run by the runtime's exec path */
	snprintf(path, sizeof(path), "/proc/%d/exe", child);
	exe_tries(path);
	reap(child);
	snprintf(path, sizeof(path), "/proc/%d/exe", getppid());
	exe_tries(path);
	for (int i = 0; i < argc; i++)
		exe_tries(argv[i]);
}

/* argv: a host directory (the workspace) and host files outside it. */
static void at_hardlink(int argc, char **argv)
{
	const char *dir = argc > 0 ? argv[0] : "/tmp";
	const char *targets[] = { "/etc/passwd", "/usr/bin/env", "/etc/ld.so.cache", NULL };
	char to[PATH_MAX], what[PATH_MAX + 64];
	int n = 0;
	for (const char **t = targets; *t; t++, n++) {
		snprintf(to, sizeof(to), "%s/hl%d", dir, n);
		snprintf(what, sizeof(what), "link %s -> %s", *t, to);
		expect_fail(what, link(*t, to));
		int fd = open(*t, O_PATH | O_CLOEXEC);
		if (fd >= 0) {
			char from[64];
			snprintf(from, sizeof(from), "/proc/self/fd/%d", fd);
			snprintf(to, sizeof(to), "%s/hlfd%d", dir, n);
			snprintf(what, sizeof(what), "linkat(/proc/self/fd of %s, AT_SYMLINK_FOLLOW)", *t);
			expect_fail(what, linkat(AT_FDCWD, from, AT_FDCWD, to, AT_SYMLINK_FOLLOW));
			snprintf(what, sizeof(what), "linkat(fd of %s, AT_EMPTY_PATH)", *t);
			expect_fail(what, linkat(fd, "", AT_FDCWD, to, AT_EMPTY_PATH));
			close(fd);
		}
	}
	for (int i = 1; i < argc; i++) {
		snprintf(to, sizeof(to), "%s/hlhost%d", dir, i);
		snprintf(what, sizeof(what), "link host %s", argv[i]);
		expect_fail(what, link(argv[i], to));
	}
}

/* Plants set-user-ID and set-group-ID executables in the (shared) workspace:
 * whatever the sandbox user writes there must never become a privileged
 * program on the host. The host side checks the modes afterwards. */
static void at_suid_plant(int argc, char **argv)
{
	const char *dir = argc > 0 ? argv[0] : "/workspace";
	char path[PATH_MAX], what[PATH_MAX + 64];
	const mode_t modes[] = { 04755, 02755, 06755 };
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/suid%zu", dir, i);
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
		if (fd < 0) {
			printf("blocked: create %s: %s\n", path, strerror(errno));
			continue;
		}
		(void)!write(fd, "#!/bin/sh\nid\n", 13);
		snprintf(what, sizeof(what), "fchmod %s %04o", path, modes[i]);
		long r = fchmod(fd, modes[i]);
		close(fd);
		struct stat st;
		if (r == 0 && stat(path, &st) == 0 && (st.st_mode & modes[i] & 06000))
			escaped("%s: the file is now %04o", what, st.st_mode & 07777);
		else
			printf("blocked: %s: %s\n", what, r ? strerror(errno) : "bits dropped");
		snprintf(path, sizeof(path), "%s/suidc%zu", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, modes[i]);
		if (fd >= 0) {
			fstat(fd, &st);
			close(fd);
			if (st.st_mode & 06000)
				escaped("open(O_CREAT, %04o) made %s %04o", modes[i], path, st.st_mode & 07777);
			else
				printf("blocked: open(O_CREAT, %04o): bits dropped\n", modes[i]);
		}
		snprintf(path, sizeof(path), "%s/suidm%zu", dir, i);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
		if (fd >= 0) {
			close(fd);
			r = fchmodat(AT_FDCWD, path, modes[i], 0);
			if (r == 0 && stat(path, &st) == 0 && (st.st_mode & 06000))
				escaped("chmod %s %04o: the file is now %04o", path, modes[i], st.st_mode & 07777);
			else
				printf("blocked: chmod %s %04o: %s\n", path, modes[i], r ? strerror(errno) : "bits dropped");
		}
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
	int tried = 0;
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
	printf("blocked: %s not found through %d paths\n", name, tried);
}

/* --- network ---------------------------------------------------------------- */

static void at_ifaces(void)
{
	struct if_nameindex *ifs = if_nameindex();
	for (struct if_nameindex *i = ifs; i && i->if_index; i++)
		if (strcmp(i->if_name, "lo") != 0)
			escaped("network interface %s is visible", i->if_name);
		else
			printf("  interface lo\n");
	if (ifs)
		if_freenameindex(ifs);
	printf("blocked: only lo\n");
}

/* argv: ADDR:PORT... (IPv4), unix:/PATH, abstract:NAME. */
static void at_connect(int argc, char **argv)
{
	char what[256];
	for (int i = 0; i < argc; i++) {
		snprintf(what, sizeof(what), "connect %s", argv[i]);
		if (strncmp(argv[i], "unix:", 5) == 0 || strncmp(argv[i], "abstract:", 9) == 0) {
			struct sockaddr_un sa = { .sun_family = AF_UNIX };
			bool abstract = argv[i][0] == 'a';
			const char *p = strchr(argv[i], ':') + 1;
			strncpy(sa.sun_path + abstract, p, sizeof(sa.sun_path) - 2);
			socklen_t len = offsetof(struct sockaddr_un, sun_path) + abstract + strlen(p);
			int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			expect_fail(what, connect(fd, (struct sockaddr *)&sa, len));
			close(fd);
			continue;
		}
		char host[64];
		snprintf(host, sizeof(host), "%s", argv[i]);
		char *colon = strrchr(host, ':');
		if (!colon)
			exit(2);
		*colon = 0;
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
		inet_pton(AF_INET, host, &sa.sin_addr);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct timeval tv = { 2, 0 };
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		expect_fail(what, connect(fd, (struct sockaddr *)&sa, sizeof(sa)));
		close(fd);
		if (strncmp(host, "127.", 4) == 0)
			continue; /* UDP to this namespace's own lo "succeeds" with no one listening */
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		snprintf(what, sizeof(what), "sendto udp %s", argv[i]);
		expect_fail(what, sendto(fd, "x", 1, 0, (struct sockaddr *)&sa, sizeof(sa)));
		close(fd);
	}
}

static void at_raw(void)
{
	expect_fail_fd("socket(AF_INET, SOCK_RAW, ICMP)", socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
	expect_fail_fd("socket(AF_INET, SOCK_RAW, RAW)", socket(AF_INET, SOCK_RAW, IPPROTO_RAW));
	expect_fail_fd("socket(AF_INET6, SOCK_RAW, ICMPV6)", socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6));
	expect_fail_fd("socket(AF_PACKET, SOCK_RAW)", socket(AF_PACKET, SOCK_RAW, htons(0x0003)));
	expect_fail_fd("socket(AF_PACKET, SOCK_DGRAM)", socket(AF_PACKET, SOCK_DGRAM, htons(0x0003)));
	/* A ping socket would still only reach this namespace's lo; the
	 * sandbox's group is outside ping_group_range anyway. */
	int fd = socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
	if (fd >= 0) {
		struct sockaddr_in sa = { .sin_family = AF_INET };
		inet_pton(AF_INET, "192.0.2.1", &sa.sin_addr);
		char echo[8] = { 8 };
		expect_fail("ping socket to 192.0.2.1", sendto(fd, echo, sizeof(echo), 0, (struct sockaddr *)&sa, sizeof(sa)));
		close(fd);
	} else {
		printf("blocked: ping socket: %s\n", strerror(errno));
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
	printf("blocked: %d processes visible, no host string\n", n);
}

/* argv: the host's hostname and domain name. */
static void at_hostname(int argc, char **argv)
{
	struct utsname u;
	uname(&u);
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
	int fd = open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		/* Only this sandbox's UTS namespace would change: the host checks its own. */
		(void)!write(fd, "warren-sec-pwned", 16);
		close(fd);
	}
	expect_fail("sethostname", sethostname("warren-sec-pwned", 16));
	printf("blocked: nodename %s\n", u.nodename);
}

static void at_kernel_info(void)
{
	char buf[4096];
	int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n > 0)
			escaped("read %zd bytes of /proc/kcore", n);
		else
			printf("blocked: /proc/kcore reads empty\n");
		close(fd);
	} else {
		printf("blocked: open /proc/kcore: %s\n", strerror(errno));
	}
	FILE *f = fopen("/proc/kallsyms", "re");
	int lines = 0, nonzero = 0;
	while (f && fgets(buf, sizeof(buf), f)) {
		lines++;
		if (strtoull(buf, NULL, 16) != 0)
			nonzero++;
	}
	if (f)
		fclose(f);
	if (nonzero)
		escaped("/proc/kallsyms shows %d kernel addresses", nonzero);
	else
		printf("blocked: /proc/kallsyms: %d lines, no address\n", lines);
	const char *masked[] = { "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/proc/kmsg", "/proc/kpagecount",
				 "/proc/kpageflags", "/proc/config.gz", "/dev/kmsg", NULL };
	for (const char **m = masked; *m; m++) {
		fd = open(*m, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : -1;
		if (fd >= 0)
			close(fd);
		if (n > 0)
			escaped("read %zd bytes of %s", n, *m);
		else
			printf("blocked: %s\n", *m);
	}
	const char *dirs[] = { "/sys/firmware", "/proc/acpi", "/proc/scsi", "/proc/driver", "/sys/kernel", "/sys/fs/cgroup",
			       "/proc/firmware", NULL };
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
		else
			printf("blocked: %s %s\n", *m, dd ? "empty" : "absent");
	}
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
	expect_fail("write /proc/sys/vm/drop_caches", fd < 0 ? -1 : write(fd, "1", 1));
	if (fd >= 0)
		close(fd);
	fd = open("/proc/sys/kernel/core_pattern", O_WRONLY | O_CLOEXEC);
	expect_fail("write /proc/sys/kernel/core_pattern", fd < 0 ? -1 : write(fd, "|/tmp/x", 7));
	if (fd >= 0)
		close(fd);
	expect_fail("syslog(READ_ALL)", syscall(SYS_syslog, 3, buf, (int)sizeof(buf)));
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

static void at_fdbomb(void)
{
	int n = 0;
	while (open("/dev/null", O_RDONLY) >= 0)
		n++;
	int err = errno;
	struct rlimit rl = { 1 << 20, 1 << 20 };
	expect_fail("setrlimit(NOFILE, 1M)", setrlimit(RLIMIT_NOFILE, &rl));
	getrlimit(RLIMIT_NOFILE, &rl);
	if (n > 65536)
		escaped("opened %d fds", n);
	printf("blocked: %d fds then %s (nofile %lu)\n", n, strerror(err), (unsigned long)rl.rlim_cur);
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

/* --- what the kernel shows across namespaces (audit item 10) ------------------- */

/* A masked path: a file under /dev/null reads empty, a directory under an
 * empty read-only tmpfs lists nothing (or, mode 0500, cannot be opened);
 * absent is fine too. Anything read, or another errno, is an escape. */
static void expect_masked(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno == ENOENT || errno == EACCES)
			printf("blocked: %s: %s\n", path, strerror(errno));
		else
			escaped("stat %s: unexpected %s", path, strerror(errno));
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		if (!d) {
			if (errno == EACCES)
				printf("blocked: list %s: %s\n", path, strerror(errno));
			else
				escaped("list %s: unexpected %s", path, strerror(errno));
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
			printf("blocked: %s is empty\n", path);
		return;
	}
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT || errno == EACCES)
			printf("blocked: open %s: %s\n", path, strerror(errno));
		else
			escaped("open %s: unexpected %s", path, strerror(errno));
		return;
	}
	ssize_t n = read(fd, buf, sizeof buf);
	int err = errno;
	close(fd);
	if (n > 0)
		escaped("read %zd bytes of %s", n, path);
	else if (n == 0)
		printf("blocked: %s reads empty\n", path);
	else
		escaped("read %s: unexpected %s", path, strerror(err));
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
	{ "setuid0", at_setuid0, NULL }, { "caps", at_caps, NULL }, { "uid_map", at_uid_map, NULL },
	{ "unshare", at_unshare, NULL }, { "clone_ns", at_clone_ns, NULL }, { "setns", at_setns, NULL },
	{ "mount", at_mount, NULL }, { "bind_mount", at_bind_mount, NULL }, { "ptrace", NULL, at_ptrace },
	{ "proc_mem", at_proc_mem, NULL }, { "kmod", at_kmod, NULL }, { "kexec", at_kexec, NULL }, { "bpf", at_bpf, NULL },
	{ "perf", at_perf, NULL }, { "keyctl", at_keyctl, NULL }, { "userfaultfd", at_userfaultfd, NULL },
	{ "io_uring", at_io_uring, NULL }, { "personality", at_personality, NULL }, { "int80", at_int80, NULL },
	{ "tiocsti", at_tiocsti, NULL }, { "reboot", at_reboot, NULL }, { "write_image", NULL, at_write_image },
	{ "mknod", at_mknod, NULL }, { "host_root", NULL, at_host_root }, { "fds", at_fds, NULL },
	{ "exe_overwrite", NULL, at_exe_overwrite }, { "hardlink", NULL, at_hardlink },
	{ "suid_plant", NULL, at_suid_plant }, { "find_secret", NULL, at_find_secret }, { "ifaces", at_ifaces, NULL },
	{ "connect", NULL, at_connect }, { "raw", at_raw, NULL }, { "host_procs", NULL, at_host_procs },
	{ "hostname", NULL, at_hostname }, { "kernel_info", at_kernel_info, NULL }, { "forkbomb", NULL, at_forkbomb },
	{ "fdbomb", at_fdbomb, NULL }, { "membomb", NULL, at_membomb }, { "fill", NULL, at_fill },
	{ "zombies", NULL, at_zombies }, { "spin", NULL, at_spin }, { "ignore_term", at_ignore_term, NULL },
	{ "proc_leaks", at_proc_leaks, NULL }, { "hidden", NULL, at_hidden },
};

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: attack NAME [ARG...]\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
		if (strcmp(argv[1], attempts[i].name) != 0)
			continue;
		if (attempts[i].plain)
			attempts[i].plain();
		else
			attempts[i].args(argc - 2, argv + 2);
		printf("RESULT: %s\n", escapes ? "ESCAPED" : "BLOCKED");
		return escapes ? 42 : 0;
	}
	fprintf(stderr, "attack: unknown attempt %s\n", argv[1]);
	return 2;
}
