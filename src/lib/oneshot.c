#include "config.h"
#include "sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "clock.h"
#include "collect.h"
#include "init-protocol.h"
#include "mount.h"
#include "oneshot-dns.h"
#include "pty.h"
#include "spawn.h"
#include "template.h"
#include "userns.h"

static const char *display_path(const char *path)
{
	size_t n = strlen(MOUNT_NEWROOT);
	if (path && !strncmp(path, MOUNT_NEWROOT, n) && (path[n] == '/' || path[n] == '\0'))
		return path[n] ? path + n : "/";
	return path;
}

void sandbox_result_from_status(struct sandbox_result *res, int status)
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

int sandbox_event_error(const struct init_event *ev, wr_error *e)
{
	int err = ev->err > 0 && ev->err < 4096 ? ev->err : EIO;
	const char *path = display_path(ev->path);
	if (ev->type == INIT_EV_EXEC_FAILED && !strcmp(ev->step, "exec"))
		return wr_error_set(e, err, "exec %s", ev->path);
	if (path && path[0])
		return wr_error_set(e, err, "%s %s", ev->step, path);
	return wr_error_set(e, err, "%s", ev->step);
}

int sandbox_event_result(struct init_event *ev, struct sandbox_result *res, wr_error *e)
{
	ev->step[sizeof ev->step - 1] = ev->path[sizeof ev->path - 1] = '\0';
	switch (ev->type) {
	case INIT_EV_READY:
		return 0;
	case INIT_EV_EXITED:
		sandbox_result_from_status(res, ev->status);
		return 1;
	case INIT_EV_EXEC_FAILED:
		res->exit_status = ev->err == ENOENT && !strcmp(ev->step, "exec") ? WARREN_EXIT_NOTFOUND
										   : WARREN_EXIT_NOEXEC;
		return sandbox_event_error(ev, e);
	case INIT_EV_SETUP_FAILED:
		res->exit_status = WARREN_EXIT_SETUP;
		return sandbox_event_error(ev, e);
	}
	return wr_error_set(e, EPROTO, "unexpected message %d from the sandbox", ev->type);
}

/* Waits for the command, the timeout or a signal to the caller, and
 * serves the sandbox's resolver meanwhile. */
static int wait_for_command(const struct sandbox_spec *spec, struct spawned *s, int sigfd, struct run_dns *dns,
			    struct sandbox_result *res, wr_error *e)
{
	uint64_t start = monotonic_ms(), limit = spec->policy->limits.timeout_ms;
	for (;;) {
		uint64_t elapsed = monotonic_ms() - start;
		if (limit && elapsed >= limit) {
			res->timed_out = true;
			res->exit_status = WARREN_EXIT_TIMEOUT;
			res->duration_ms = elapsed;
			return 0;
		}
		struct pollfd fds[2 + RUN_DNS_MAX_FDS] = {
			{ .fd = s->sock, .events = POLLIN },
			{ .fd = sigfd, .events = POLLIN },
		};
		size_t n_dns = run_dns_pollfds(dns, fds + 2);
		int n = poll(fds, 2 + n_dns, run_dns_timeout(dns, limit ? (int)(limit - elapsed) : -1));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return wr_error_set(e, errno, "poll");
		run_dns_io(dns, fds + 2, n_dns);
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
				res->signal = (int)si.ssi_signo;
				res->exit_status = 128 + (int)si.ssi_signo;
				return wr_error_set(e, 0, "interrupted by signal %d: sandbox killed", (int)si.ssi_signo);
			}
		}
		if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		struct init_event ev;
		ssize_t got = recv(s->sock, &ev, sizeof ev, 0);
		res->duration_ms = monotonic_ms() - start;
		if (got == (ssize_t)sizeof ev) {
			int r = sandbox_event_result(&ev, res, e);
			if (r == 0) /* READY: a one-shot init never says it */
				return wr_error_set(e, EPROTO, "unexpected message %d from the sandbox", ev.type);
			return r > 0 ? 0 : r;
		}
		if (got < 0 && errno == EINTR)
			continue;
		/* EOF: init died without reporting (killed, or OOM with oom.group). */
		int status = 0;
		while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
			;
		s->pid = 0;
		sandbox_result_from_status(res, status);
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			return 0; /* the caller's OOM check decides what it was */
		res->exit_status = WARREN_EXIT_SETUP;
		return wr_error_set(e, 0, "the sandbox's init ended unexpectedly (status 0x%x)", (unsigned)status);
	}
}

/* ---- what a SIGKILLed run leaves ----------------------------------------------
 * Its init dies with it (PDEATHSIG) but its cgroups stay. Each run as root
 * keeps a marker named after its cgroup in RUN_MARKERS_DIR while it runs,
 * and every run first removes the cgroups of markers whose process is
 * gone: a small directory, where listing warren's parent cgroup would read
 * a daemon's thousands of sandboxes on every run. */
#define RUN_MARKERS_DIR "/run/warren/runs"

/* run-PID-SLOT: is PID alive (a reused pid keeps it, until it too ends)? */
static bool run_owner_alive(const char *name)
{
	char *end;
	long pid = strtol(name + 4, &end, 10);
	return *end == '-' && pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static unsigned sweep_markers(void)
{
	_cleanup_closedir_ DIR *d = opendir(RUN_MARKERS_DIR);
	struct dirent *de;
	unsigned n = 0;
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, "run-", 4) || run_owner_alive(de->d_name))
			continue;
		n += cgroup_remove_named(de->d_name);
		unlinkat(dirfd(d), de->d_name, 0);
	}
	return n;
}

unsigned sandbox_run_sweep_stale(bool everything)
{
	if (geteuid() != 0)
		return 0;
	unsigned n = sweep_markers();
	/* runs of older versions left no marker */
	return everything ? n + cgroup_remove_stale("run-", run_owner_alive) : n;
}

static bool marker_create(const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, RUN_MARKERS_DIR "/%s", name);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 && errno == ENOENT && (mkdir(TEMPLATE_STATE_DIR, 0755) == 0 || errno == EEXIST) &&
	    (mkdir(RUN_MARKERS_DIR, 0755) == 0 || errno == EEXIST))
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

static void marker_remove(const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, RUN_MARKERS_DIR "/%s", name);
	unlink(path);
}

/* After the command and before the sandbox goes: its /workspace and /tmp
 * through the fds init sent before the command ran (the mounts outlive
 * the namespace while they are held). */
static void collect_outputs(const struct sandbox_spec *spec, const struct spawned *s, struct sandbox_result *res)
{
	struct collect_source src = {
		.area = { -1, -1 }, .uid = uid_range_host_uid(&s->ids, SANDBOX_UID),
		.gid = (gid_t)uid_range_host_uid(&s->ids, SANDBOX_GID),
	};
	struct stat st;
	for (int i = 0; i < COLLECT_N_AREAS; i++) {
		int fd = -1;
		if (pty_receive_fd(s->areas, &fd) < 0)
			break;
		if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
			close(fd);
			break;
		}
		src.area[i] = fd;
	}
	if (src.area[COLLECT_TMP] < 0) {
		snprintf(res->collect_error, sizeof res->collect_error,
			 "the sandbox's /workspace and /tmp could not be reached: nothing was collected");
	} else {
		const struct policy_collect *pc = &spec->policy->collect;
		struct collect_limits lim = { pc->file_max, pc->total_max, pc->count_max };
		wr_error ce = { 0 };
		if (collect_run(&src, spec->collect, spec->n_collect, &lim, collect_sink_dir, (void *)&spec->output_fd,
				&res->collected, &ce) < 0)
			snprintf(res->collect_error, sizeof res->collect_error, "%s", ce.message);
	}
	for (int i = 0; i < COLLECT_N_AREAS; i++)
		if (src.area[i] >= 0)
			close(src.area[i]);
}

int sandbox_run(const struct sandbox_spec *spec, struct sandbox_result *res, wr_error *e)
{
	if (spec->tty)
		return sandbox_run_terminal(spec, res, e);
	*res = (struct sandbox_result){ .exit_status = WARREN_EXIT_SETUP };

	/* The caller's Ctrl-C or kill ends the sandbox, through a signalfd so
	 * the wait loop sees it in order with init's messages. The sandbox's
	 * commands get the mask we had before. */
	sigset_t mask, old;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
		return wr_error_set(e, errno, "sigprocmask");
	int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0) {
		int err = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return wr_error_set(e, err, "signalfd");
	}

	/* The range first: the cgroup (and its marker) is named after it. */
	struct uid_range ids;
	int r = uid_range_acquire(&ids, NULL, e);
	if (r < 0) {
		close(sigfd);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return r;
	}
	char name[64];
	snprintf(name, sizeof name, "%s", spec->cgroup_name ? spec->cgroup_name : "");
	if (!spec->cgroup_name)
		snprintf(name, sizeof name, "run-%d-%u", (int)getpid(), ids.slot);
	sandbox_run_sweep_stale(false);
	bool marked = geteuid() == 0 && !spec->cgroup_name && marker_create(name);

	struct spawn_options o = {
		.policy = spec->policy, .image = spec->image, .workspace_dir = spec->workspace_dir,
		.cgroup_name = name, .verbose = spec->verbose,
		.argv = spec->argv, .extra_env = spec->extra_env, .cwd = spec->cwd,
		.command_mask = &old, .templates = spec->templates, .init_sock = -1, .ids = &ids,
		.send_areas = spec->n_collect > 0,
	};
	struct spawned s;
	struct run_dns dns = { 0 };
	r = spawn_sandbox(&o, &s, e);
	if (r == 0 && spec->policy->network == NET_EGRESS && (r = run_dns_start(&dns, spec->policy, &s.net, spec->verbose, e)) < 0)
		spawned_release(&s, NULL);
	else if (r == 0) {
		r = wait_for_command(spec, &s, sigfd, &dns, res, e);
		run_dns_end(&dns);
		if (spec->n_collect && (r == 0 || res->timed_out))
			collect_outputs(spec, &s, res);
		res->memory_peak = cgroup_memory_peak(s.cg);
		if (!res->timed_out && res->signal == SIGKILL && cgroup_oom_killed(s.cg)) {
			res->oom_killed = true;
			res->exit_status = 128 + SIGKILL;
		}
		wr_error cleanup = { 0 };
		int rr = spawned_release(&s, &cleanup);
		if (rr < 0 && r == 0) {
			*e = cleanup;
			r = rr;
		}
	}
	if (marked)
		marker_remove(name);
	uid_range_release(&ids);
	close(sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}
