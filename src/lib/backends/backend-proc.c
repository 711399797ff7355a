#include "config.h"
#include "backend-proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock.h"

/* In the child, before exec or fn: stdio in place, nothing else open
 * (but `keep`, at PROC_KEPT_FD onwards, close-on-exec), signals as a
 * fresh process has them, dead with the daemon unless it keeps fds. */
static void child_setup(const int stdio[3], int capture_w, const int keep[3])
{
	sigset_t none;
	sigemptyset(&none);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (!keep)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	int want[3];
	for (int i = 0; i < 3; i++) {
		if (stdio)
			want[i] = stdio[i] >= 0 ? stdio[i] : devnull;
		else
			want[i] = i == 0 ? devnull : capture_w;
	}
	/* Lift the sources above 2 first, so dup2 never clobbers one of them. */
	for (int i = 0; i < 3; i++)
		if (want[i] >= 0 && want[i] <= 2)
			want[i] = fcntl(want[i], F_DUPFD_CLOEXEC, 3);
	int kept[3] = { -1, -1, -1 };
	for (int i = 0; keep && i < 3; i++)
		if (keep[i] >= 0 && (kept[i] = fcntl(keep[i], F_DUPFD_CLOEXEC, PROC_KEPT_FD + 3)) < 0)
			_exit(126);
	for (int i = 0; i < 3; i++)
		if (want[i] < 0 || dup2(want[i], i) < 0)
			_exit(126);
	for (int i = 0; i < 3; i++)
		if (kept[i] >= 0 && (dup3(kept[i], PROC_KEPT_FD + i, O_CLOEXEC) < 0))
			_exit(126);
	syscall(SYS_close_range, 3U, PROC_KEPT_FD - 1U, 0U);
	for (int i = 0; i < 3; i++)
		if (kept[i] < 0)
			close(PROC_KEPT_FD + i);
	syscall(SYS_close_range, PROC_KEPT_FD + 3U, ~0U, 0U);
}

static int start(struct proc *p, char *const argv[], int (*fn)(void *), void *arg, const int stdio[3],
		 const int keep[3], wr_error *e)
{
	int cap[2] = { -1, -1 };
	if (!stdio && pipe2(cap, O_CLOEXEC) < 0)
		return wr_error_set(e, errno, "pipe");
	pid_t pid = fork();
	if (pid < 0) {
		int err = errno;
		if (cap[0] >= 0) {
			close(cap[0]);
			close(cap[1]);
		}
		return wr_error_set(e, err, "fork");
	}
	if (pid == 0) {
		child_setup(stdio, cap[1], keep);
		if (fn)
			_exit(fn(arg) & 0xff);
		execvp(argv[0], argv);
		dprintf(2, "%s: %s\n", argv[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (cap[1] >= 0) {
		close(cap[1]);
		fcntl(cap[0], F_SETFL, O_NONBLOCK);
	}
	p->pid = pid;
	p->capture_fd = cap[0];
	p->status = 0;
	p->tail_len = 0;
	return 0;
}

int proc_start(struct proc *p, char *const argv[], const int stdio[3], wr_error *e)
{
	return start(p, argv, NULL, NULL, stdio, NULL, e);
}

int proc_start_fn(struct proc *p, int (*fn)(void *), void *arg, const int stdio[3], wr_error *e)
{
	return start(p, NULL, fn, arg, stdio, NULL, e);
}

int proc_start_fn_keeping(struct proc *p, int (*fn)(void *), void *arg, const int stdio[3], const int keep[3],
			  wr_error *e)
{
	return start(p, NULL, fn, arg, stdio, keep, e);
}

/* Empties the capture pipe into the tail buffer, so a chatty child never
 * blocks on a full pipe; at its end, the last non-empty line is the message. */
static void drain_capture(struct proc *p)
{
	char buf[4096];
	ssize_t n;
	while (p->capture_fd >= 0 && (n = read(p->capture_fd, buf, sizeof buf)) > 0) {
		size_t take = (size_t)n < sizeof p->tail ? (size_t)n : sizeof p->tail;
		const char *from = buf + n - take;
		if (p->tail_len + take > sizeof p->tail) {
			size_t drop = p->tail_len + take - sizeof p->tail;
			memmove(p->tail, p->tail + drop, p->tail_len - drop);
			p->tail_len -= drop;
		}
		memcpy(p->tail + p->tail_len, from, take);
		p->tail_len += take;
	}
}

static void read_capture(struct proc *p, char *msg, size_t len)
{
	drain_capture(p);
	if (p->capture_fd >= 0) {
		close(p->capture_fd);
		p->capture_fd = -1;
	}
	size_t have = p->tail_len;
	char buf[sizeof p->tail + 1];
	memcpy(buf, p->tail, have);
	while (have && (buf[have - 1] == '\n' || buf[have - 1] == ' '))
		have--;
	buf[have] = '\0';
	char *line = strrchr(buf, '\n');
	if (len)
		snprintf(msg, len, "%s", line ? line + 1 : buf);
}

int proc_poll(struct proc *p, char *msg, size_t len)
{
	if (p->pid <= 0)
		return -ECHILD;
	int status;
	pid_t r = waitpid(p->pid, &status, WNOHANG);
	if (r == 0) {
		drain_capture(p);
		return 0;
	}
	if (r < 0)
		status = W_EXITCODE(255, 0); /* someone else reaped it: a failure */
	p->pid = 0;
	p->status = status;
	read_capture(p, msg, len);
	return 1;
}

void proc_kill(struct proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR)
			;
		p->pid = 0;
	}
	if (p->capture_fd >= 0) {
		close(p->capture_fd);
		p->capture_fd = -1;
	}
}

int proc_run(char *const argv[], unsigned timeout_ms, char *msg, size_t len, wr_error *e)
{
	struct proc p = PROC_INIT;
	int r = proc_start(&p, argv, NULL, e);
	if (r < 0)
		return r;
	uint64_t deadline = monotonic_ms() + timeout_ms;
	while ((r = proc_poll(&p, msg, len)) == 0) {
		if (monotonic_ms() >= deadline) {
			proc_kill(&p);
			return wr_error_set(e, ETIMEDOUT, "%s did not finish within %u ms", argv[0], timeout_ms);
		}
		/* the capture pipe closes when the child ends: sleep on it */
		struct pollfd pfd = { .fd = p.capture_fd, .events = POLLIN };
		poll(&pfd, 1, 10);
	}
	return p.status;
}
