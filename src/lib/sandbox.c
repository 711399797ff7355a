#include "config.h"
#include "sandbox.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <linux/mount.h>

#include "caps.h"
#include "cgroup.h"
#include "cleanup.h"
#include "mount.h"
#include "net.h"
#include "seccomp-filter.h"
#include "userns.h"
#include "units.h"

/* What the sandbox's init tells the parent over the SOCK_SEQPACKET pair.
 * The parent treats every field as untrusted. Sync points:
 *   parent: maps written, cgroup joined  -> one byte "go"
 *   child:  setup failed                 -> MSG_SETUP_FAILED
 *   child:  command could not be exec'd  -> MSG_EXEC_FAILED
 *   child:  command ended                -> MSG_EXITED (wait status)
 * EOF without MSG_EXITED means init itself died. */
enum child_msg_type { MSG_SETUP_FAILED = 1, MSG_EXEC_FAILED, MSG_EXITED };
struct child_msg {
	int32_t type;
	int32_t err;
	int32_t status;
	char step[96];
	char path[192];
};

/* Everything the child needs, prepared by the parent: between clone and
 * exec the child only applies it. */
struct child_plan {
	const struct sandbox_spec *spec;
	const struct policy *policy;
	const struct uid_range *ids;
	const struct mount_plan *mounts;
	const struct caps_plan *caps;
	const struct seccomp_program *seccomp;
	char **envp;
	const char *cwd;
	const char *path_env;   /* the PATH searched for argv[0] */
	int sock;
	sigset_t parent_mask;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- child side -------------------------------------------------------- */

static void copy_str(char *dst, size_t len, const char *src)
{
	size_t i = 0;
	for (; src && src[i] && i + 1 < len; i++)
		dst[i] = src[i];
	dst[i] = '\0';
}

static void child_send(int sock, int type, int err, int status, const char *step, const char *path)
{
	struct child_msg m = { .type = type, .err = err, .status = status };
	copy_str(m.step, sizeof m.step, step);
	copy_str(m.path, sizeof m.path, path);
	(void)!send(sock, &m, sizeof m, MSG_NOSIGNAL);
}

static _Noreturn void child_fail(const struct child_plan *c, int err, const char *step, const char *path)
{
	child_send(c->sock, MSG_SETUP_FAILED, err < 0 ? -err : err, 0, step, path);
	_exit(WARREN_EXIT_SETUP);
}

static void child_apply_rlimits(const struct child_plan *c)
{
	for (int i = 0; i < POLICY_RLIMIT_COUNT; i++) {
		const struct policy_rlimit *rl = &c->policy->rlimits[i];
		if (!rl->set)
			continue;
		struct rlimit lim = { .rlim_cur = rl->value, .rlim_max = rl->value };
		if (setrlimit(rl->resource, &lim) < 0)
			child_fail(c, errno, "setrlimit", NULL);
	}
}

/* execvpe without allocation: PATH is walked with a stack buffer. */
static int exec_in_path(const struct child_plan *c)
{
	const char *file = c->spec->argv[0];
	if (strchr(file, '/')) {
		execve(file, c->spec->argv, c->envp);
		return -errno;
	}
	int saved = -ENOENT;
	const char *p = c->path_env;
	char buf[PATH_MAX];
	while (p && *p) {
		const char *end = strchr(p, ':');
		size_t dlen = end ? (size_t)(end - p) : strlen(p);
		size_t flen = strlen(file);
		if (dlen + 1 + flen < sizeof buf) {
			memcpy(buf, p, dlen);
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, file, flen + 1);
			execve(buf, c->spec->argv, c->envp);
			if (errno != ENOENT && errno != ENOTDIR)
				saved = -errno;
		}
		p = end ? end + 1 : NULL;
	}
	return saved;
}

static _Noreturn void command_child(const struct child_plan *c)
{
	/* A new session: the command cannot reach the caller's terminal's
	 * job control, and TIOCSTI is denied by seccomp anyway. */
	setsid();
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	for (int sig = 1; sig < _NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigprocmask(SIG_SETMASK, &c->parent_mask, NULL);
	if (chdir(c->cwd) < 0)
		child_fail(c, errno, "chdir", c->cwd);
	/* Only 0, 1 and 2 survive exec: nothing of warren's leaks in. */
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		child_fail(c, errno, "close_range", NULL);
	int r = seccomp_program_load(c->seccomp);
	if (r < 0)
		child_fail(c, r, "load the seccomp filter", NULL);
	r = exec_in_path(c);
	child_send(c->sock, MSG_EXEC_FAILED, -r, 0, "exec", c->spec->argv[0]);
	_exit(r == -ENOENT ? WARREN_EXIT_NOTFOUND : WARREN_EXIT_NOEXEC);
}

/* The sandbox's pid 1. The parent process that cloned us is single
 * threaded (warren run; the daemon clones from a single-threaded spawner),
 * so the libnl call below cannot meet a lock held by another thread. */
static _Noreturn void sandbox_init(const struct child_plan *c)
{
	const char *step = NULL, *path = NULL;
	char go;
	int r;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (read(c->sock, &go, 1) != 1)
		_exit(WARREN_EXIT_SETUP); /* the parent is gone */

	if (!c->ids->rootless && (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0))
		child_fail(c, errno, "become root in the user namespace", NULL);
	/* The parent moved us into our cgroup before "go": it becomes our
	 * cgroup namespace's root. */
	if (unshare(CLONE_NEWCGROUP) < 0)
		child_fail(c, errno, "unshare the cgroup namespace", NULL);
	if (sethostname(c->policy->hostname, strlen(c->policy->hostname)) < 0)
		child_fail(c, errno, "sethostname", c->policy->hostname);
	if (c->policy->network == NET_NONE) {
		wr_error e = { 0 };
		if (net_loopback_up(&e) < 0)
			child_fail(c, e.code, e.message, NULL);
	}
	if ((r = mount_setup_scratch_root(&step)) < 0)
		child_fail(c, r, step, NULL);
	if ((r = mount_plan_apply(c->mounts, &step, &path)) < 0)
		child_fail(c, r, step, path);
	if ((r = mount_enter_new_root(&step)) < 0)
		child_fail(c, r, step, NULL);

	if ((r = caps_drop_to_user(c->caps, SANDBOX_UID, SANDBOX_GID, &step)) < 0)
		child_fail(c, r, step, NULL);
	child_apply_rlimits(c);
	/* Credential changes cleared these: no core, no ptrace-style access to
	 * init from the command (same uid), and die with the parent. */
	prctl(PR_SET_DUMPABLE, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	struct pollfd alive = { .fd = c->sock, .events = POLLIN };
	if (poll(&alive, 1, 0) > 0 && (alive.revents & (POLLHUP | POLLERR)))
		_exit(WARREN_EXIT_SETUP);

	pid_t cmd = fork();
	if (cmd < 0)
		child_fail(c, errno, "fork the command", NULL);
	if (cmd == 0)
		command_child(c);

	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid == cmd) {
			child_send(c->sock, MSG_EXITED, 0, status, NULL, NULL);
			_exit(0);
		}
		if (pid < 0 && errno != EINTR)
			_exit(WARREN_EXIT_SETUP);
	}
}

/* ---- parent side ------------------------------------------------------- */

static const char *display_path(const char *path)
{
	size_t n = strlen(MOUNT_NEWROOT);
	if (path && !strncmp(path, MOUNT_NEWROOT, n) && (path[n] == '/' || path[n] == '\0'))
		return path[n] ? path + n : "/";
	return path;
}

/* envp: the policy's env, then the caller's additions replacing same keys. */
static char **build_env(const struct policy *p, char *const *extra)
{
	size_t n = p->n_env, m = 0;
	while (extra && extra[m])
		m++;
	char **env = calloc(n + m + 1, sizeof *env);
	if (!env)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(p->env[i], '=');
		size_t klen = eq ? (size_t)(eq - p->env[i]) : strlen(p->env[i]);
		bool replaced = false;
		for (size_t j = 0; j < m && !replaced; j++)
			replaced = !strncmp(extra[j], p->env[i], klen) && extra[j][klen] == '=';
		if (!replaced)
			env[k++] = p->env[i];
	}
	for (size_t j = 0; j < m; j++)
		env[k++] = extra[j];
	env[k] = NULL;
	return env;
}

static const char *env_lookup(char **envp, const char *key)
{
	size_t len = strlen(key);
	for (; envp && *envp; envp++)
		if (!strncmp(*envp, key, len) && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif

/* As root, the host directory is bind-mounted through an idmapping so that
 * what the sandbox user writes is owned by the caller on the host. */
static int open_idmapped_workspace(const char *dir, const struct uid_range *ids, int *out, wr_error *e)
{
	_cleanup_close_ int userns = -1;
	int r = userns_open_idmap(ids->caller_uid, ids->caller_gid,
				  uid_range_host_uid(ids, SANDBOX_UID),
				  (gid_t)uid_range_host_uid(ids, SANDBOX_GID), &userns, e);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = (int)syscall(SYS_open_tree, AT_FDCWD, dir,
					      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return wr_error_set(e, errno, "open_tree %s", dir);
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
		.userns_fd = (uint64_t)userns,
	};
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
		return wr_error_set(e, errno, "idmapped mount of %s (the filesystem must support idmapped mounts)", dir);
	*out = TAKE_FD(fd);
	return 0;
}

struct run_state {
	struct uid_range ids;
	struct cgroup *cg;
	struct mount_plan mounts;
	struct caps_plan caps;
	struct seccomp_program seccomp;
	char **envp;
	char *workspace;
	int workspace_fd;
	int sock[2];
	int sigfd;
	sigset_t old_mask;
	bool mask_changed;
	pid_t pid;
};

static void run_state_cleanup(struct run_state *s, wr_error *e)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	wr_error cg_err = { 0 };
	if (s->cg && cgroup_destroy(s->cg, &cg_err) < 0 && e && e->message[0] == '\0')
		*e = cg_err;
	uid_range_release(&s->ids);
	mount_plan_free(&s->mounts);
	caps_plan_free(&s->caps);
	seccomp_program_free(&s->seccomp);
	free(s->envp);
	free(s->workspace);
	for (int i = 0; i < 2; i++)
		if (s->sock[i] >= 0)
			close(s->sock[i]);
	if (s->workspace_fd >= 0)
		close(s->workspace_fd);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->mask_changed)
		sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
}

static void verbose(const struct sandbox_spec *spec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void verbose(const struct sandbox_spec *spec, const char *fmt, ...)
{
	if (spec->verbose < 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("warren: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int prepare(const struct sandbox_spec *spec, struct run_state *s, wr_error *e)
{
	const struct policy *p = spec->policy;
	int r;
	char a[32], b[32], c[32];

	if ((r = uid_range_acquire(&s->ids, NULL, e)) < 0)
		return r;
	if (s->ids.rootless)
		verbose(spec, "rootless: sandbox uid %u is host uid %u", SANDBOX_UID, (unsigned)s->ids.caller_uid);
	else
		verbose(spec, "user namespace: uids 0-%u are host uids %u-%u (range %u)", s->ids.count - 1,
			(unsigned)s->ids.host_base, (unsigned)(s->ids.host_base + s->ids.count - 1), s->ids.slot);

	char name[64];
	if (spec->cgroup_name)
		snprintf(name, sizeof name, "%s", spec->cgroup_name);
	else
		snprintf(name, sizeof name, "run-%d-%u", (int)getpid(), s->ids.slot);
	struct cgroup_limits lim = {
		.memory = p->limits.memory, .pids = p->limits.pids, .cpu_millis = p->limits.cpu_millis,
	};
	if ((r = cgroup_create(name, &lim, &s->cg, e)) < 0) {
		if (s->ids.rootless && (r == -EACCES || r == -EPERM || r == -EROFS))
			wr_error_prefix(e, "rootless: no cgroup to enforce the limits in (run as root, or in a "
					"delegated cgroup: systemd-run --user --scope -p Delegate=yes warren run ...): ");
		return r;
	}
	format_size(lim.memory, a, sizeof a);
	format_cpus(lim.cpu_millis, b, sizeof b);
	format_duration(p->limits.timeout_ms, c, sizeof c);
	verbose(spec, "%s: memory %s, pids %llu, cpus %s; timeout %s", cgroup_describe(s->cg), a,
		(unsigned long long)lim.pids, b, c);

	if (spec->workspace_dir) {
		s->workspace = realpath(spec->workspace_dir, NULL);
		struct stat st;
		if (!s->workspace || stat(s->workspace, &st) < 0)
			return wr_error_set(e, errno, "--workspace %s", spec->workspace_dir);
		if (!S_ISDIR(st.st_mode))
			return wr_error_set(e, ENOTDIR, "--workspace %s", spec->workspace_dir);
		if (!s->ids.rootless && (r = open_idmapped_workspace(s->workspace, &s->ids, &s->workspace_fd, e)) < 0)
			return r;
		verbose(spec, "workspace: %s%s", s->workspace, s->ids.rootless ? "" : " (idmapped to the caller)");
	}
	struct mount_config mc = {
		.image_dir = spec->image, .workspace_dir = s->workspace, .workspace_fd = s->workspace_fd,
		.workspace_size = p->limits.workspace, .tmp_size = p->limits.tmp, .network = p->network,
		.extra = p->mounts, .n_extra = p->n_mounts,
		.sandbox_uid = SANDBOX_UID, .sandbox_gid = SANDBOX_GID,
	};
	if ((r = mount_plan_build(&s->mounts, &mc, e)) < 0)
		return r;
	if (spec->verbose >= 2)
		mount_plan_describe(&s->mounts, STDERR_FILENO);
	if ((r = caps_plan_prepare(&s->caps, e)) < 0)
		return r;
	if ((r = seccomp_program_build(p, &s->seccomp, e)) < 0)
		return r;
	if (spec->verbose >= 2 && (r = seccomp_program_dump(p, STDERR_FILENO, e)) < 0)
		return r;
	verbose(spec, "seccomp: %zu syscalls denied, filter of %u instructions", p->n_seccomp_deny,
		(unsigned)s->seccomp.len);
	verbose(spec, "network: %s", p->network == NET_NONE ? "none (a new namespace with lo up)" : "host");
	if (!(s->envp = build_env(p, spec->extra_env)))
		return wr_error_set(e, ENOMEM, "environment");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s->sock) < 0)
		return wr_error_set(e, errno, "socketpair");

	/* The caller's Ctrl-C or kill ends the sandbox, through a signalfd so
	 * the wait loop sees it in order with the child's messages. */
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, &s->old_mask) < 0)
		return wr_error_set(e, errno, "sigprocmask");
	s->mask_changed = true;
	if ((s->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK)) < 0)
		return wr_error_set(e, errno, "signalfd");
	return 0;
}

static void result_from_status(struct sandbox_result *res, int status)
{
	if (WIFEXITED(status)) {
		res->exited = true;
		res->exit_code = WEXITSTATUS(status);
		res->exit_status = res->exit_code;
	} else if (WIFSIGNALED(status)) {
		res->signal = WTERMSIG(status);
		res->exit_status = 128 + res->signal;
	}
}

/* Waits for the command, the timeout or a signal to the caller. */
static int wait_for_command(const struct sandbox_spec *spec, struct run_state *s,
			    struct sandbox_result *res, wr_error *e)
{
	uint64_t start = now_ms(), limit = spec->policy->limits.timeout_ms;
	for (;;) {
		uint64_t elapsed = now_ms() - start;
		if (limit && elapsed >= limit) {
			res->timed_out = true;
			res->exit_status = WARREN_EXIT_TIMEOUT;
			res->duration_ms = elapsed;
			return 0;
		}
		struct pollfd fds[2] = {
			{ .fd = s->sock[0], .events = POLLIN },
			{ .fd = s->sigfd, .events = POLLIN },
		};
		int wait = limit ? (int)(limit - elapsed) : -1;
		int n = poll(fds, 2, wait);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return wr_error_set(e, errno, "poll");
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
				res->signal = (int)si.ssi_signo;
				res->exit_status = 128 + (int)si.ssi_signo;
				return wr_error_set(e, 0, "interrupted by signal %d: sandbox killed", (int)si.ssi_signo);
			}
		}
		if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		struct child_msg m;
		ssize_t got = recv(s->sock[0], &m, sizeof m, 0);
		res->duration_ms = now_ms() - start;
		if (got == (ssize_t)sizeof m) {
			m.step[sizeof m.step - 1] = m.path[sizeof m.path - 1] = '\0';
			int err = m.err > 0 && m.err < 4096 ? m.err : EIO;
			switch (m.type) {
			case MSG_EXITED:
				result_from_status(res, m.status);
				return 0;
			case MSG_EXEC_FAILED:
				res->exit_status = err == ENOENT ? WARREN_EXIT_NOTFOUND : WARREN_EXIT_NOEXEC;
				return wr_error_set(e, err, "exec %s", m.path);
			case MSG_SETUP_FAILED:
				res->exit_status = WARREN_EXIT_SETUP;
				if (m.path[0])
					return wr_error_set(e, err, "%s %s", m.step, display_path(m.path));
				return wr_error_set(e, err, "%s", m.step);
			}
			return wr_error_set(e, EPROTO, "unexpected message %d from the sandbox", m.type);
		}
		if (got < 0 && errno == EINTR)
			continue;
		/* EOF: init died without reporting (killed, or OOM with oom.group). */
		int status = 0;
		while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
			;
		s->pid = 0;
		result_from_status(res, status);
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			return 0; /* the OOM check below decides what it was */
		res->exit_status = WARREN_EXIT_SETUP;
		return wr_error_set(e, 0, "the sandbox's init ended unexpectedly (status 0x%x)", (unsigned)status);
	}
}

int sandbox_run(const struct sandbox_spec *spec, struct sandbox_result *res, wr_error *e)
{
	struct run_state s = { .workspace_fd = -1, .sock = { -1, -1 }, .sigfd = -1 };
	*res = (struct sandbox_result){ .exit_status = WARREN_EXIT_SETUP };
	int r = prepare(spec, &s, e);
	if (r < 0)
		goto out;

	struct child_plan plan = {
		.spec = spec, .policy = spec->policy, .ids = &s.ids, .mounts = &s.mounts,
		.caps = &s.caps, .seccomp = &s.seccomp, .envp = s.envp,
		.cwd = spec->cwd ? spec->cwd : "/workspace",
		.sock = s.sock[1], .parent_mask = s.old_mask,
	};
	plan.path_env = env_lookup(s.envp, "PATH");
	if (!plan.path_env)
		plan.path_env = "/usr/local/bin:/usr/bin:/bin";

	unsigned long flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
			      (spec->policy->network == NET_NONE ? CLONE_NEWNET : 0) | SIGCHLD;
	fflush(stdout);
	fflush(stderr);
	/* Fork-like clone (no new stack): the child runs on a copy of ours. */
	s.pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (s.pid < 0) {
		s.pid = 0;
		r = wr_error_set(e, errno, "clone the sandbox namespaces");
		goto out;
	}
	if (s.pid == 0) {
		close(s.sock[0]);
		sandbox_init(&plan);
	}
	close(s.sock[1]);
	s.sock[1] = -1;

	if ((r = userns_write_maps(s.pid, &s.ids, e)) < 0 || (r = cgroup_add_pid(s.cg, s.pid, e)) < 0)
		goto out;
	if (write(s.sock[0], "g", 1) != 1) {
		r = wr_error_set(e, errno, "start the sandbox");
		goto out;
	}
	r = wait_for_command(spec, &s, res, e);
	res->memory_peak = cgroup_memory_peak(s.cg);
	if (!res->timed_out && res->signal == SIGKILL && cgroup_oom_killed(s.cg)) {
		res->oom_killed = true;
		res->exit_status = 128 + SIGKILL;
	}
	cgroup_kill(s.cg);
out:
	run_state_cleanup(&s, r < 0 ? NULL : e);
	return r;
}
