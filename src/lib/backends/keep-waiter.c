/* What a kept command's waiter does (keep-waiter.h). */
#include "config.h"
#include "keep-waiter.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"

/* ---- in the waiter ---------------------------------------------------------- */

static volatile sig_atomic_t stdin_asked;
static bool stdin_dropped;
static pid_t started_by;             /* the daemon that started the waiter */

static void on_sigurg(int sig)
{
	(void)sig;
	stdin_asked = 1;
}

void keep_waiter_enter(const char *stdin_closed)
{
	started_by = getppid();
	setsid();
	/* no SA_RESTART: the waiter's wait returns EINTR and drops it */
	struct sigaction sa = { .sa_handler = on_sigurg };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGURG, &sa, NULL);
	/* asked before the handler was there: the marker came before the signal */
	if (stdin_closed && access(stdin_closed, F_OK) == 0)
		stdin_asked = 1;
	keep_waiter_drop_stdin();
}

void keep_waiter_drop_stdin(void)
{
	if (stdin_dropped || !stdin_asked)
		return;
	close(KEPT_IN);
	stdin_dropped = true;
}

void keep_waiter_linger(bool (*taker)(void *arg, pid_t *pid, unsigned long long *start), void *arg)
{
	if (getppid() == started_by)
		return;
	close(KEPT_IN); /* (its command ended: nobody writes to it again) */
	/* what it holds of the pipes' write ends would keep them from EOF */
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3 && devnull >= 0; fd++)
		dup2(devnull, fd);
	for (;;) {
		pid_t pid = 0;
		unsigned long long start = 0, now;
		if (taker(arg, &pid, &start) && pid > 0 && proc_start_time(pid, &now) == 0 && now == start)
			return;
		pause(); /* (SIGTERM ends it; SIGURG looks again) */
	}
}

/* ---- in the daemon ---------------------------------------------------------- */

int keep_pidfd_of(pid_t pid, long long started, const char *what, wr_error *e)
{
	unsigned long long now;
	int r = proc_start_time(pid, &now);
	if (r < 0)
		return wr_error_set(e, -r, "its %s (pid %d) is gone", what, (int)pid);
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0)
		return wr_error_set(e, errno, "its %s (pid %d) is gone", what, (int)pid);
	if (now != (unsigned long long)started || proc_start_time(pid, &now) < 0 || now != (unsigned long long)started) {
		close(fd);
		return wr_error_set(e, ESRCH, "pid %d is another process now, not its %s (started at %llu, not %lld)",
				    (int)pid, what, now, started);
	}
	return fd;
}

int keep_close_stdin(const char *marker, pid_t pid, int pidfd)
{
	int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	/* (a waiter that ended meanwhile has nothing to drop) */
	if (pid > 0)
		kill(pid, SIGURG);
	else if (pidfd >= 0)
		syscall(SYS_pidfd_send_signal, pidfd, SIGURG, NULL, 0);
	return 0;
}

bool keep_pidfd_ended(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	return poll(&p, 1, 0) == 1;
}

void keep_release(int pidfd)
{
	syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0);
}

int keep_kill(int pidfd)
{
	return syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0 ? -errno : 0;
}
