/* Children of the daemon: see child.h. */
#include "config.h"
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "list.h"
#include "loop.h"

#define CHILD_FDS_MAX 8

struct child {
	pid_t pid;
	struct loop_io *pidfd;      /* readable once the child has exited */
	uint64_t deadline_ms;
	bool timed_out;
	child_done_fn done;
	void *data;
	struct list link;
};

static struct list children = LIST_INIT(children);

/* Puts fds at CHILD_FD_BASE.. and closes the rest. */
static int keep_only(const int *fds, size_t n)
{
	int lifted[CHILD_FDS_MAX];
	for (size_t i = 0; i < n; i++)
		if ((lifted[i] = fds[i] < 0 ? -1 : fcntl(fds[i], F_DUPFD_CLOEXEC, CHILD_FD_BASE + CHILD_FDS_MAX)) < 0 &&
		    fds[i] >= 0)
			return -errno;
	for (size_t i = 0; i < n; i++)
		if (lifted[i] >= 0 && dup3(lifted[i], CHILD_FD_BASE + (int)i, O_CLOEXEC) < 0)
			return -errno;
	syscall(SYS_close_range, CHILD_FD_BASE + (unsigned)n, ~0U, 0U);
	return 0;
}

static _Noreturn void run_child(const int *fds, size_t n, child_fn fn, void *arg)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (keep_only(fds, n) < 0)
		_exit(126);
	_exit(fn(arg));
}

static void child_ended(struct loop_io *io, const char *unused)
{
	struct child *c = loop_io_data(io);
	int status = 0;
	pid_t w;
	while ((w = waitpid(c->pid, &status, WNOHANG)) < 0 && errno == EINTR)
		;
	if (w == 0)
		return; /* not yet: readable again when it is */
	list_unlink(&c->link);
	loop_io_close(c->pidfd);
	c->done(c->data, w > 0 ? status : W_EXITCODE(126, 0), c->timed_out);
	free(c);
}

int child_start(const int *fds, size_t n, child_fn fn, void *arg, uint64_t timeout_ms, child_done_fn done,
		void *data, struct child **out, wr_error *e)
{
	if (n > CHILD_FDS_MAX)
		return wr_error_set(e, EINVAL, "a child with %zu fds", n);
	struct child *c = calloc(1, sizeof *c);
	if (!c)
		return wr_error_set(e, ENOMEM, "child");
	*c = (struct child){ .done = done, .data = data, .deadline_ms = daemon_now_ms() + timeout_ms };
	c->pid = fork();
	if (c->pid == 0)
		run_child(fds, n, fn, arg);
	if (c->pid < 0) {
		free(c);
		return wr_error_set(e, errno, "fork");
	}
	int pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (pidfd < 0 || !(c->pidfd = loop_io_new(pidfd, LOOP_IO_NOTIFY, c))) {
		int err = pidfd < 0 ? errno : ENOMEM;
		kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		free(c);
		return wr_error_set(e, err, "pidfd_open");
	}
	loop_io_read_start(c->pidfd, child_ended);
	list_insert(&children, &c->link);
	*out = c;
	return 0;
}

void child_kill(struct child *c)
{
	kill(c->pid, SIGKILL); /* child_ended reaps it */
}

void children_tick(uint64_t now)
{
	for (struct list *n = children.next; n != &children; n = n->next) {
		struct child *c = LIST_ENTRY(struct child, link, n);
		if (!c->timed_out && now >= c->deadline_ms) {
			c->timed_out = true;
			kill(c->pid, SIGKILL);
		}
	}
}
