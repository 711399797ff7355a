#include "config.h"
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

#include "init-internal.h"
#include "init-protocol.h"
#include "init-request.h"
#include "net.h"
#include "pty.h"
#include "sandbox.h"

/* ---- reporting ----------------------------------------------------------- */

static void copy_str(char *dst, size_t len, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < len; i++)
		dst[i] = src[i];
	dst[i] = '\0';
}

bool init_send_event(int sock, int type, uint32_t exec_id, int err, int status,
		       const char *step, const char *path)
{
	struct init_event ev = { .type = type, .exec_id = exec_id, .err = err, .status = status };
	copy_str(ev.step, sizeof ev.step, step);
	copy_str(ev.path, sizeof ev.path, path);
	return sock >= 0 && send(sock, &ev, sizeof ev, MSG_NOSIGNAL) == (ssize_t)sizeof ev;
}

_Noreturn void init_setup_failed(const struct init_plan *p, int err, const char *step, const char *path)
{
	init_send_event(p->sock, INIT_EV_SETUP_FAILED, 0, err < 0 ? -err : err, 0, step, path);
	_exit(WARREN_EXIT_SETUP);
}

/* ---- one command --------------------------------------------------------- */

static const char *env_value(char *const *envp, const char *key)
{
	size_t len = strlen(key);
	for (; envp && *envp; envp++)
		if (!strncmp(*envp, key, len) && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

/* execvpe without allocation: PATH is walked with a stack buffer. */
static int exec_in_path(char *const *argv, char *const *envp)
{
	const char *file = argv[0];
	if (strchr(file, '/')) {
		execve(file, argv, envp);
		return -errno;
	}
	const char *p = env_value(envp, "PATH");
	if (!p)
		p = "/usr/local/bin:/usr/bin:/bin";
	int saved = -ENOENT;
	char buf[PATH_MAX];
	size_t flen = strlen(file);
	while (*p) {
		const char *end = strchr(p, ':');
		size_t dlen = end ? (size_t)(end - p) : strlen(p);
		if (dlen + 1 + flen < sizeof buf) {
			memcpy(buf, p, dlen);
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, file, flen + 1);
			execve(buf, argv, envp);
			if (errno != ENOENT && errno != ENOTDIR)
				saved = -errno;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return saved;
}

/* Set by the vfork child once it is traced (its writes are ours until it
 * execs); read by settle_command. */
static volatile sig_atomic_t child_traced;

/* In the forked command process: a fresh session (no way back to the
 * caller's terminal; with `ctty`, fd 0 is a pty slave of the sandbox's
 * that becomes its controlling terminal, so shells get job control),
 * default signals, only fds 0-2 across exec, seccomp loaded last. Never
 * returns. */
static _Noreturn void exec_command(const struct init_plan *p, uint32_t exec_id, char *const *argv,
				   char *const *envp, const char *cwd, bool ctty)
{
	setsid();
	/* init's dispositions are all default (init_main): the mask only */
	sigprocmask(SIG_SETMASK, &p->parent_mask, NULL);
	const char *step = "chdir", *path = cwd;
	bool at_exec = false;
	int r = 0;
	if (ctty && ioctl(0, TIOCSCTTY, 0) < 0) {
		r = -errno;
		step = "make the pty its controlling terminal";
		path = NULL;
	}
	if (r == 0 && chdir(cwd) < 0)
		r = -errno;
	if (r == 0 && syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		r = -errno;
		step = "close_range";
	}
	/* Stopped by the kernel once exec is done, so init can raise our OOM
	 * score before the command runs (make_oom_victim); before the filter,
	 * which denies ptrace. */
	if (r == 0)
		child_traced = ptrace(PTRACE_TRACEME, 0, NULL, NULL) == 0;
	if (r == 0 && (r = seccomp_program_load(p->seccomp)) < 0)
		step = "load the seccomp filter";
	if (r == 0) {
		r = exec_in_path(argv, envp);
		step = "exec";
		path = argv[0];
		at_exec = true;
	}
	init_send_event(p->sock, INIT_EV_EXEC_FAILED, exec_id, -r, 0, step, path);
	_exit(at_exec && r == -ENOENT ? WARREN_EXIT_NOTFOUND : WARREN_EXIT_NOEXEC);
}

/* vfork: init is a copy of its parent's address space (a daemon's, even);
 * copying its page tables for a child that execs at once was most of an
 * exec's cost. The child only makes system calls on its own stack frames,
 * then execs or _exits; the parent uses nothing from this frame but the
 * pid (so nothing here can be clobbered). fds: the command's 0, 1, 2 and
 * optionally its exec cgroup's cgroup.procs (persistent mode), or NULL;
 * ctty: fd 0 is a pty slave to become its controlling terminal. */
__attribute__((noinline)) pid_t init_vfork_command(const struct init_plan *p, uint32_t exec_id,
						     char *const *argv, char *const *envp, const char *cwd,
						     const int *fds, int n_fds, bool ctty)
{
	child_traced = 0;
	pid_t pid = vfork();
	if (pid != 0)
		return pid;
	/* Into this exec's own cgroup before anything runs, so a timeout can
	 * kill exactly what it started. */
	if (n_fds == 4 && write(fds[3], "0", 1) != 1)
		init_send_event(p->sock, INIT_EV_EXEC_FAILED, exec_id, errno, 0, "join the exec cgroup", NULL);
	else if (fds && (dup2(fds[0], 0) < 0 || dup2(fds[1], 1) < 0 || dup2(fds[2], 2) < 0))
		init_send_event(p->sock, INIT_EV_EXEC_FAILED, exec_id, errno, 0, "dup2", NULL);
	else
		exec_command(p, exec_id, argv, envp, cwd, ctty);
	_exit(WARREN_EXIT_NOEXEC);
}

/* Under the sandbox's memory limit the OOM killer must pick a command,
 * never init (that would end a whole session; where the host allows it
 * init is even exempt, spawn.c): a command's score goes to the maximum,
 * which needs no privilege. Neither the vfork child nor init can open the
 * child's /proc files before it execs: until then it shares init's memory,
 * which is not dumpable, and such files belong to the host's root. So the
 * child has itself traced, the kernel stops it at the end of exec, before
 * the command's first instruction, and init writes the score then. */
static void make_oom_victim(pid_t pid)
{
	char path[48] = "/proc/", digits[16];
	size_t n = 0, len = strlen(path);
	for (unsigned v = (unsigned)pid; n == 0 || v; v /= 10)
		digits[n++] = (char)('0' + v % 10);
	while (n)
		path[len++] = digits[--n];
	memcpy(path + len, "/oom_score_adj", sizeof "/oom_score_adj");
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)!write(fd, "1000", 4);
		close(fd);
	}
}

/* After vfork_command returned `pid`: raises the command's OOM score
 * before it runs and lets it go. Returns 0 when it runs, or 1 when it has
 * already ended (exec failed), its wait status in *status. Without
 * tracing (a Yama ptrace_scope of 2 or more refuses it) the score is
 * written at once: what the command forks in the next microseconds keeps
 * init's (spawn.c then does not exempt init). */
int init_settle_command(pid_t pid, int *status)
{
	if (!child_traced) {
		make_oom_victim(pid);
		return 0;
	}
	int st;
	while (waitpid(pid, &st, __WALL) < 0)
		if (errno != EINTR)
			return 0;
	if (!WIFSTOPPED(st)) {
		*status = st;
		return 1;
	}
	make_oom_victim(pid);
	ptrace(PTRACE_DETACH, pid, NULL, NULL); /* the exec's SIGTRAP is dropped */
	return 0;
}

/* ---- setup ---------------------------------------------------------------- */

static void apply_rlimits(const struct init_plan *p)
{
	for (int i = 0; i < POLICY_RLIMIT_COUNT; i++) {
		const struct policy_rlimit *rl = &p->policy->rlimits[i];
		if (!rl->set)
			continue;
		struct rlimit lim = { .rlim_cur = rl->value, .rlim_max = rl->value };
		if (setrlimit(rl->resource, &lim) < 0)
			init_setup_failed(p, errno, "setrlimit", NULL);
	}
}

/* Our memory is a copy of the parent's, argv strings included: commands
 * would read the daemon's command line as pid 1's. Blank it (the range is
 * in /proc/self/stat, fields 48 and 49) and name ourselves. */
static void hide_parent_identity(void)
{
	prctl(PR_SET_NAME, "warren-init");
	char buf[1024];
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long values[2] = { 0, 0 };
	/* after ')' comes field 3; arg_start is field 48, arg_end 49 */
	for (int field = 2; p && *p && field < 49;) {
		if (*p++ != ' ')
			continue;
		field++;
		if (field == 48 || field == 49) {
			unsigned long v = 0;
			while (*p >= '0' && *p <= '9')
				v = v * 10 + (unsigned long)(*p++ - '0');
			values[field - 48] = v;
		}
	}
	if (values[0] && values[1] > values[0] && values[1] - values[0] < (1UL << 20)) {
		memset((void *)values[0], 0, values[1] - values[0]);
		memcpy((void *)values[0], "warren-init", values[1] - values[0] > 12 ? 12 : values[1] - values[0] - 1);
	}
}

/* Copies a string into the static store; NULL when it is full. */
static char *store_string(const char *src, char *store, size_t size, size_t *used)
{
	size_t len = strlen(src) + 1;
	if (len > size - *used)
		return NULL;
	char *dst = store + *used;
	memcpy(dst, src, len);
	*used += len;
	return dst;
}

static int relocate_command(const struct init_plan *p, struct init_plan *out)
{
	static char store[INIT_MAX_REQUEST];
	static char *argv[INIT_MAX_ARGS], *envp[INIT_MAX_ARGS];
	size_t used = 0, n = 0;
	*out = *p;
	for (; p->argv[n]; n++)
		if (n + 1 >= INIT_MAX_ARGS || !(argv[n] = store_string(p->argv[n], store, sizeof store, &used)))
			return -E2BIG;
	argv[n] = NULL;
	n = 0;
	for (; p->envp && p->envp[n]; n++)
		if (n + 1 >= INIT_MAX_ARGS || !(envp[n] = store_string(p->envp[n], store, sizeof store, &used)))
			return -E2BIG;
	envp[n] = NULL;
	if (!(out->cwd = store_string(p->cwd, store, sizeof store, &used)))
		return -E2BIG;
	out->argv = argv;
	out->envp = envp;
	return 0;
}

/* Closes every fd but 0-2, the init socket and the detached mounts the
 * plan attaches. Async-signal-safe: close_range between the kept fds. */
static void close_inherited_fds(const struct init_plan *p)
{
	int keep[256];
	size_t n = 0;
	keep[n++] = p->sock;
	if (p->sync != p->sock)
		keep[n++] = p->sync;
	if (p->mounts->template_fd >= 0)
		keep[n++] = p->mounts->template_fd;
	if (p->areas_sock >= 0)
		keep[n++] = p->areas_sock;
	for (size_t i = 0; i < p->mounts->n && n < 256; i++)
		if (p->mounts->ops[i].kind == MOP_MOVE_FD)
			keep[n++] = p->mounts->ops[i].fd;
	for (size_t i = 1; i < n; i++) /* insertion sort: n is small */
		for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	unsigned lo = 3;
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < 3)
			continue;
		if ((unsigned)keep[i] > lo)
			syscall(SYS_close_range, lo, (unsigned)keep[i] - 1, 0);
		lo = (unsigned)keep[i] + 1;
	}
	syscall(SYS_close_range, lo, ~0U, 0);
}

/* warren run --collect reads what the command leaves in /workspace and
 * /tmp after it ends, when this namespace may be gone: through these fds,
 * which keep the mounts readable. Sent before any command runs, so
 * nothing of a command's can stand in for them; both or none. */
static void send_areas(const struct init_plan *p)
{
	if (p->areas_sock < 0)
		return;
	int ws = open("/workspace", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int tmp = open("/tmp", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (ws >= 0 && tmp >= 0 && pty_send_fd(p->areas_sock, ws) == 0)
		pty_send_fd(p->areas_sock, tmp);
	if (ws >= 0)
		close(ws);
	if (tmp >= 0)
		close(tmp);
	close(p->areas_sock);
}

/* The process that cloned us is single threaded (warren run; warrend's
 * spawner), so nothing below can meet a lock held by a thread that does
 * not exist here. */
_Noreturn void init_main(const struct init_plan *p)
{
	const char *step = NULL, *path = NULL;
	char go;
	int r;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* What our parent ignored or handled (SIGPIPE, a caller's nohup's
	 * SIGHUP) must not reach the commands: every disposition back to
	 * default once here, not at each command's start. */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	for (int sig = 1; sig < _NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	/* We are a copy of our parent: a daemon's listening sockets, client
	 * connections and other sandboxes' sockets must not live on in here
	 * (a connection the daemon closes would stay open). */
	close_inherited_fds(p);
	/* A one-shot command's argv, env and cwd point into the memory that
	 * is about to be blanked: copy them out first. */
	struct init_plan relocated;
	if (p->argv) {
		if (relocate_command(p, &relocated) < 0)
			init_setup_failed(p, E2BIG, "copy the command line", NULL);
		p = &relocated;
	}
	hide_parent_identity();
	if (read(p->sync, &go, 1) != 1 || go != INIT_GO_BYTE)
		_exit(WARREN_EXIT_SETUP); /* the parent is gone */

	if (!p->ids->rootless && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		init_setup_failed(p, errno, "become root in the user namespace", NULL);
	/* The parent moved us into our cgroup before "go": it becomes the
	 * root of our cgroup namespace. */
	if (unshare(CLONE_NEWCGROUP) < 0)
		init_setup_failed(p, errno, "unshare the cgroup namespace", NULL);
	if (sethostname(p->policy->hostname, strlen(p->policy->hostname)) < 0)
		init_setup_failed(p, errno, "sethostname", p->policy->hostname);
	if (p->policy->network == NET_NONE) {
		wr_error e = { 0 };
		if (net_loopback_up(&e) < 0)
			init_setup_failed(p, e.code, e.message, NULL);
	}
	if ((r = mount_setup_root(p->mounts, &step, &path)) < 0)
		init_setup_failed(p, r, step, path);
	mount_plan_close_fds(p->mounts);
	if ((r = caps_drop_to_user(p->caps, SANDBOX_UID, SANDBOX_GID, &step)) < 0)
		init_setup_failed(p, r, step, NULL);
	apply_rlimits(p);
	/* The credential change cleared these: no core dumps or ptrace-style
	 * access to init from the commands (same uid), die with the parent. */
	prctl(PR_SET_DUMPABLE, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	struct pollfd alive = { .fd = p->sock, .events = POLLIN };
	if (poll(&alive, 1, 0) > 0 && (alive.revents & (POLLHUP | POLLERR)))
		_exit(WARREN_EXIT_SETUP);

	send_areas(p);
	if (!p->argv) {
		if (p->sync != p->sock)
			close(p->sync);
		init_serve_requests(p);
	}

	/* The parent compiled the filter while we set up (one-shot runs). */
	struct init_plan with_filter = *p;
	if (!p->seccomp) {
		static struct sock_filter filter[8192];
		static struct seccomp_program received;
		ssize_t n = recv(p->sync, filter, sizeof filter, 0);
		if (n <= 0 || n % (ssize_t)sizeof filter[0])
			_exit(WARREN_EXIT_SETUP); /* the parent is gone or failed */
		received = (struct seccomp_program){ .filter = filter, .len = (unsigned short)(n / (ssize_t)sizeof filter[0]) };
		with_filter.seccomp = &received;
		p = &with_filter;
	}
	pid_t cmd = init_vfork_command(p, 0, p->argv, p->envp, p->cwd, NULL, 0, false);
	if (cmd < 0)
		init_setup_failed(p, errno, "fork the command", NULL);
	int status;
	if (init_settle_command(cmd, &status)) {
		init_send_event(p->sock, INIT_EV_EXITED, 0, 0, status, NULL, NULL);
		_exit(0);
	}
	for (;;) {
		pid_t pid = waitpid(-1, &status, 0);
		if (pid == cmd) {
			init_send_event(p->sock, INIT_EV_EXITED, 0, 0, status, NULL, NULL);
			_exit(0);
		}
		if (pid < 0 && errno != EINTR)
			_exit(WARREN_EXIT_SETUP);
	}
}
