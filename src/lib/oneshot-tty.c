/* warren run -t: the command runs with a terminal of the sandbox's own.
 * The sandbox is a persistent one (init waits for requests) given one
 * exec with INIT_EXEC_PTY: the same path warrend's terminals take, so the
 * pty pair is opened inside, by init, in the sandbox's devpts, and only
 * its master comes out to us. We relay it to our stdio (pty-relay.c). */
#include "config.h"
#include "sandbox.h"

#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock.h"
#include "init-protocol.h"
#include "oneshot-dns.h"
#include "pty-relay.h"
#include "pty.h"
#include "spawn.h"

/* How long the output left in the terminal may take to come once the
 * command has ended and the sandbox is being killed: a safety ceiling,
 * the end normally comes at once. */
#define DRAIN_IDLE_MS 5000

struct tty_run {
	const struct sandbox_spec *spec;
	struct sandbox *sb;
	struct sandbox_result *res;
	int sigfd;
	int reply;              /* our end of the exec's reply socket until the master came */
	uint64_t start;
	struct pty_relay relay;
	struct run_dns dns;     /* an egress sandbox's resolver */
};

/* READY: the exec, with a terminal the size of ours. */
static int start_command(struct tty_run *t, wr_error *e)
{
	const struct sandbox_spec *spec = t->spec;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return wr_error_set(e, errno, "socketpair");
	unsigned short cols = 80, rows = 24;
	pty_relay_caller_size(&t->relay, &cols, &rows);
	/* a terminal wants a TERM: docker's, below the policy's and ours */
	char *term[] = { "TERM=xterm", NULL };
	_cleanup_free_ char **with_term = env_merge(term, spec->policy->env);
	_cleanup_free_ char **envp = with_term ? env_merge(with_term, spec->extra_env) : NULL;
	struct sandbox_exec x = {
		.id = 1, .argv = spec->argv, .envp = envp, .cwd = spec->cwd ? spec->cwd : "/workspace",
		.stdio = { -1, -1, -1 }, .pty = true, .pty_cols = cols, .pty_rows = rows, .pty_reply = sv[1],
	};
	int r = envp ? sandbox_exec_start(t->sb, &x, e) : wr_error_set(e, ENOMEM, "environment");
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		return r;
	}
	t->reply = sv[0];
	/* From here every key is the sandbox's, Ctrl-C included. */
	if (spec->interactive && (r = pty_relay_make_raw(&t->relay)) < 0)
		return wr_error_set(e, -r, "make the terminal raw");
	return 0;
}

/* The master, once init sent it (or EOF: the command did not start, and
 * init's events say why). */
static int take_master(struct tty_run *t, wr_error *e)
{
	int master;
	int r = pty_receive_master(t->reply, &master);
	if (r == -EAGAIN)
		return 0;
	close(t->reply);
	t->reply = -1;
	if (r == -EPIPE)
		return 0;
	if (r == -EBADMSG)
		return wr_error_set(e, EPROTO, "the sandbox sent something other than its terminal");
	if (r < 0)
		return wr_error_set(e, -r, "receive the sandbox's terminal");
	if ((r = pty_relay_set_master(&t->relay, master)) < 0) {
		close(master);
		return wr_error_set(e, -r, "the sandbox's terminal");
	}
	pty_relay_resize(&t->relay); /* a SIGWINCH before it came had nowhere to go */
	return 0;
}

/* A signal to us: 1 for SIGWINCH (relayed), else -errno ending the run. */
static int on_signal(struct tty_run *t, wr_error *e)
{
	struct signalfd_siginfo si;
	if (read(t->sigfd, &si, sizeof si) != (ssize_t)sizeof si)
		return 1;
	if (si.ssi_signo == SIGWINCH) {
		pty_relay_resize(&t->relay);
		return 1;
	}
	t->res->signal = (int)si.ssi_signo;
	t->res->exit_status = 128 + (int)si.ssi_signo;
	return wr_error_set(e, 0, "interrupted by signal %d: sandbox killed", (int)si.ssi_signo);
}

/* One message from init: 1 when the command ended, 0 to go on, -errno. */
static int on_event(struct tty_run *t, wr_error *e)
{
	struct sandbox_result *res = t->res;
	struct init_event ev;
	ssize_t got = recv(sandbox_fd(t->sb), &ev, sizeof ev, MSG_DONTWAIT);
	res->duration_ms = monotonic_ms() - t->start;
	if (got < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (got == (ssize_t)sizeof ev) {
		int r = sandbox_event_result(&ev, res, e);
		if (r == 0 && t->reply < 0 && t->relay.master < 0)
			return start_command(t, e);
		if (r == 0)
			return wr_error_set(e, EPROTO, "the sandbox said it was ready twice");
		return r;
	}
	/* EOF: init died without reporting (killed, or OOM with oom.group) */
	int status = 0;
	sandbox_wait_init(t->sb, &status);
	sandbox_result_from_status(res, status);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return 1; /* the caller's OOM check decides what it was */
	res->exit_status = WARREN_EXIT_SETUP;
	return wr_error_set(e, 0, "the sandbox's init ended unexpectedly (status 0x%x)", (unsigned)status);
}

/* Until the command ends (1), the timeout (0) or a failure or signal. */
static int run_command(struct tty_run *t, wr_error *e)
{
	uint64_t limit = t->spec->policy->limits.timeout_ms;
	for (;;) {
		uint64_t elapsed = monotonic_ms() - t->start;
		if (limit && elapsed >= limit) {
			t->res->timed_out = true;
			t->res->exit_status = WARREN_EXIT_TIMEOUT;
			t->res->duration_ms = elapsed;
			return 0;
		}
		struct pollfd fds[6 + RUN_DNS_MAX_FDS] = {
			{ .fd = sandbox_fd(t->sb), .events = POLLIN },
			{ .fd = t->sigfd, .events = POLLIN },
			{ .fd = t->reply, .events = POLLIN }, /* ignored while -1 */
		};
		size_t n = 3 + pty_relay_pollfds(&t->relay, false, fds + 3);
		size_t n_dns = run_dns_pollfds(&t->dns, fds + n);
		if (poll(fds, n + n_dns, run_dns_timeout(&t->dns, limit ? (int)(limit - elapsed) : -1)) < 0) {
			if (errno == EINTR)
				continue;
			return wr_error_set(e, errno, "poll");
		}
		run_dns_io(&t->dns, fds + n, n_dns);
		int r;
		if ((fds[1].revents & POLLIN) && (r = on_signal(t, e)) <= 0)
			return r;
		/* before init's events: a master is sent before the EXITED that
		 * may follow at once */
		if (fds[2].revents && (r = take_master(t, e)) < 0)
			return r;
		pty_relay_io(&t->relay, fds + 3, n - 3);
		if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) && (r = on_event(t, e)) != 0)
			return r;
	}
}

/* The command has ended: what it wrote is still in the terminal. Killing
 * init ends everything else that holds the slave, after which the master
 * reads what is left, then EIO. */
static void drain(struct tty_run *t)
{
	wr_error ignored = { 0 };
	if (t->reply >= 0)
		take_master(t, &ignored);
	kill(sandbox_pid(t->sb), SIGKILL); /* not reaped yet: still ours */
	while (t->relay.master >= 0) {
		struct pollfd fds[4] = { { .fd = t->sigfd, .events = POLLIN } };
		size_t n = 1 + pty_relay_pollfds(&t->relay, true, fds + 1);
		if (n == 1 || poll(fds, n, DRAIN_IDLE_MS) <= 0)
			return;
		if ((fds[0].revents & POLLIN) && on_signal(t, &ignored) <= 0)
			return;
		pty_relay_io(&t->relay, fds + 1, n - 1);
	}
}

static int run_in_sandbox(struct tty_run *t, const sigset_t *command_mask, wr_error *e)
{
	const struct sandbox_spec *spec = t->spec;
	struct spawn_options o = {
		.policy = spec->policy, .image = spec->image, .workspace_dir = spec->workspace_dir,
		.cgroup_name = spec->cgroup_name, .verbose = spec->verbose, .command_mask = command_mask,
		.templates = spec->templates, .init_sock = -1,
	};
	t->start = monotonic_ms(); /* the timeout counts the setup, as a one-shot run's does */
	int r = sandbox_create(&o, &t->sb, e);
	if (r < 0)
		return r;
	if (spec->policy->network == NET_EGRESS &&
	    (r = run_dns_start(&t->dns, spec->policy, sandbox_net(t->sb), spec->verbose, e)) < 0) {
		sandbox_destroy(t->sb);
		return r;
	}
	r = run_command(t, e);
	if (r > 0) {
		drain(t);
		r = 0;
	}
	pty_relay_restore(&t->relay);
	struct sandbox_result *res = t->res;
	struct cgroup *cg = sandbox_cgroup(t->sb);
	res->memory_peak = cgroup_memory_peak(cg);
	if (!res->timed_out && res->signal == SIGKILL && cgroup_oom_killed(cg)) {
		res->oom_killed = true;
		res->exit_status = 128 + SIGKILL;
	}
	run_dns_end(&t->dns);
	sandbox_destroy(t->sb);
	return r;
}

int sandbox_run_terminal(const struct sandbox_spec *spec, struct sandbox_result *res, wr_error *e)
{
	*res = (struct sandbox_result){ .exit_status = WARREN_EXIT_SETUP };
	/* As sandbox_run, and SIGQUIT too: with our terminal raw, a signal
	 * that killed us would leave it so. SIGWINCH is relayed. */
	sigset_t mask, old;
	sigemptyset(&mask);
	int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH };
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaddset(&mask, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &mask, &old) < 0)
		return wr_error_set(e, errno, "sigprocmask");
	struct tty_run t = { .spec = spec, .res = res, .reply = -1 };
	t.sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (t.sigfd < 0) {
		int err = errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return wr_error_set(e, err, "signalfd");
	}
	/* A reader of our stdout that went away must not kill us raw: the
	 * write fails instead (commands get default signals back, init.c). */
	struct sigaction ignore = { .sa_handler = SIG_IGN }, old_pipe;
	sigaction(SIGPIPE, &ignore, &old_pipe);
	pty_relay_init(&t.relay, spec->interactive ? STDIN_FILENO : -1, STDOUT_FILENO);

	int r = run_in_sandbox(&t, &old, e);

	pty_relay_restore(&t.relay);
	pty_relay_close(&t.relay);
	if (t.reply >= 0)
		close(t.reply);
	sigaction(SIGPIPE, &old_pipe, NULL);
	close(t.sigfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r;
}
