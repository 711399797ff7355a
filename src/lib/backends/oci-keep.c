/* Commands of the oci backend that outlive warrend (warrend(8) RESTARTS).
 *
 * Design. A native sandbox's init is the parent of its commands and holds
 * the daemon's ends of their pipes while no daemon runs. An oci
 * container's init is the runtime's (a shell that reaps), not ours; what
 * is ours is each command's exec waiter (backend-oci.c): a child of the
 * daemon, a child subreaper that runs `runtime exec --detach` and waits
 * for the command, which the runtime leaves to it. For a kept command (a
 * background process of a kept session) the waiter becomes what init is:
 *  - it does not die with the daemon (no PR_SET_PDEATHSIG), in a session
 *    of its own, as the holder of the container's host ids;
 *  - it holds the daemon's ends at fixed fds (keep-waiter.h: stdout's and
 *    stderr's read ends and, with "stdin": true, stdin's write end; a
 *    terminal's master alone), close-on-exec, so the command never writes
 *    into a pipe nobody holds, nor reads end-of-file, while no daemon runs;
 *  - it writes the command's wait status to exec-ID.status in the
 *    container's bundle (root only) before it exits, for a daemon that was
 *    not there to reap it.
 * The daemon writes exec-ID.waiter (the waiter's pid and start time) once
 * it started it. A restarted daemon, for every exec cgroup left in the
 * container (oci_keep_find): a .status says how the command ended; else a
 * waiter proven alive (its start time, as the holder is proven) is asked
 * for nothing: the daemon takes its fds with pidfd_getfd and watches its
 * pidfd, whose end means the .status is there. A waiter whose command
 * ended while no daemon ran lingers holding the output's read ends (what
 * the command wrote last waits there) until the daemon noted in
 * exec-ID.taken is alive, or the next daemon took them and saw the end
 * (keep_waiter_linger). What was not kept (a
 * request held it: no .waiter) is killed, as before, with a clear error.
 * The same init_greeting as a native sandbox's init sends is filled, so
 * the daemon restores processes without knowing the backend. Signals
 * (the command's pid file), kills and accounting (its exec cgroup) need
 * nothing new. Closing a kept stdin: the daemon creates
 * exec-ID.stdin-closed, then sends the waiter SIGURG (ignored by default:
 * one sent before the waiter's handler is in place is not fatal, and the
 * waiter looks for the marker once its handler is). A waiter writes into
 * the bundle: whoever removes a bundle not through its daemon (discard,
 * the stale sweep) first ends its waiters (oci_keep_wait_waiters).
 * Rejected: a per-container supervisor speaking init's protocol on a
 * control socket; it would run the runtime for every command and be one
 * more server to secure, while each waiter already is the command's
 * parent and the holder's proof (pid + start time, pidfd_getfd) serves. */
#include "config.h"
#include "oci-keep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "clock.h"
#include "sandbox.h"

/* ---- in the waiter ---------------------------------------------------------- */

/* path's content, renamed into place from path.tmp. */
static int write_atomic(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text);
	bool ok = write(fd, text, len) == (ssize_t)len;
	close(fd);
	if (!ok || rename(tmp, path) < 0) {
		int err = ok ? errno : EIO;
		unlink(tmp);
		return -err;
	}
	return 0;
}

void oci_waiter_write_status(const char *path, int status)
{
	char text[32];
	snprintf(text, sizeof text, "%d\n", status);
	write_atomic(path, text);
}

/* ---- in the daemon ---------------------------------------------------------- */

int oci_keep_note_waiter(const char *path, pid_t pid)
{
	unsigned long long started;
	int r = proc_start_time(pid, &started);
	if (r < 0)
		return r;
	char text[64];
	snprintf(text, sizeof text, "%d %llu\n", (int)pid, started);
	return write_atomic(path, text);
}

/* The first line of a small root-only file. */
static int read_small(const char *path, char *buf, size_t len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, len - 1);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	return 0;
}

int oci_keep_read_status(const char *path, int *status)
{
	char buf[32], *end;
	int r = read_small(path, buf, sizeof buf);
	if (r < 0)
		return r;
	errno = 0;
	long v = strtol(buf, &end, 10);
	if (errno || end == buf || *end != '\n' || v < 0 || v > 0xffff)
		return -EIO;
	*status = (int)v;
	return 0;
}

static int read_waiter(const char *path, pid_t *pid, long long *started)
{
	char buf[64];
	int r = read_small(path, buf, sizeof buf);
	if (r < 0)
		return r;
	int p;
	if (sscanf(buf, "%d %lld", &p, started) != 2 || p <= 1 || *started < 0)
		return -EIO;
	*pid = p;
	return 0;
}

int oci_keep_find(const char *bundle, uint32_t id, struct init_greeting_exec *x, int *waiter)
{
	char path[PATH_MAX], status_path[PATH_MAX], marker[PATH_MAX];
	snprintf(path, sizeof path, "%s/exec-%u.waiter", bundle, id);
	snprintf(status_path, sizeof status_path, "%s/exec-%u.status", bundle, id);
	snprintf(marker, sizeof marker, "%s/exec-%u.stdin-closed", bundle, id);
	*x = (struct init_greeting_exec){ .id = id, .fds = { -1, -1, -1 } };
	*waiter = -1;
	pid_t pid;
	long long started;
	if (read_waiter(path, &pid, &started) < 0)
		return -ENOENT;
	wr_error e = { 0 };
	int fd = keep_pidfd_of(pid, started, "waiter", &e);
	if (fd < 0) {
		/* (it may have ended between the two looks) */
		if (oci_keep_read_status(status_path, &x->status) == 0)
			return 0;
		x->status = W_EXITCODE(0, SIGKILL);
		snprintf(x->error, sizeof x->error, "killed when warrend restarted: %s", e.message);
		return -ESRCH;
	}
	bool stdin_closed = access(marker, F_OK) == 0;
	for (int i = 0; i < INIT_MAX_KEPT && !(i == 2 && stdin_closed); i++) {
		int got = (int)syscall(SYS_pidfd_getfd, fd, KEPT_OUT + i, 0);
		if (got < 0)
			break; /* a terminal's master alone, or no stdin */
		x->fds[x->n_fds++] = got;
	}
	/* one that ended lingers with its output (keep_waiter_linger): it
	 * goes once we noted ourselves as its taker, or we saw its end */
	snprintf(path, sizeof path, "%s/exec-%u.taken", bundle, id);
	oci_keep_note_waiter(path, getpid());
	int status;
	if (oci_keep_read_status(status_path, &status) == 0)
		keep_release(fd);
	x->running = true;
	*waiter = fd;
	return 1;
}

bool oci_waiter_taker(void *taken, pid_t *pid, unsigned long long *start)
{
	long long started;
	if (read_waiter(taken, pid, &started) < 0)
		return false;
	*start = (unsigned long long)started;
	return true;
}

void oci_keep_wait_waiters(const char *bundle, unsigned timeout_ms)
{
	_cleanup_closedir_ DIR *d = opendir(bundle);
	struct dirent *de;
	uint64_t deadline = monotonic_ms() + timeout_ms;
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		if (strncmp(de->d_name, "exec-", 5) || len < 7 || strcmp(de->d_name + len - 7, ".waiter"))
			continue;
		char path[PATH_MAX];
		pid_t pid;
		long long started;
		wr_error e = { 0 };
		if (snprintf(path, sizeof path, "%s/%s", bundle, de->d_name) >= (int)sizeof path ||
		    read_waiter(path, &pid, &started) < 0)
			continue;
		_cleanup_close_ int fd = keep_pidfd_of(pid, started, "waiter", &e);
		uint64_t now = monotonic_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		/* (one whose command ended would linger with its output) */
		if (fd >= 0)
			keep_kill(fd);
		if (fd >= 0 && now < deadline)
			poll(&p, 1, (int)(deadline - now));
	}
}
