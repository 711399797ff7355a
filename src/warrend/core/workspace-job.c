/* Workspace work charged to the sandbox: see workspace-job.h. */
#include "config.h"
#include "workspace-job.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "box.h"
#include "cgroup.h"
#include "cleanup.h"
#include "daemon.h"
#include "files.h"
#include "list.h"
#include "loop.h"

struct job_report {
	int r;
	wr_error e;
};

struct workspace_job {
	pid_t pid;
	struct loop_io *pidfd;      /* readable once the child has exited */
	int report_fd;              /* the child's job_report, one write */
	char cgroup_dir[PATH_MAX];  /* v2: the child cgroup to remove, "" on v1 */
	uint64_t deadline_ms;
	struct list link;           /* in `jobs` while the child runs */
	bool timed_out, abandoned;
	workspace_job_done_fn done;
	void *data;
};

static struct list jobs = LIST_INIT(jobs);
static unsigned long job_counter;

/* ---- the child ------------------------------------------------------------ */

/* Puts the three fds the child keeps at 0, 1 and 2 and closes every other
 * one it inherited from the daemon (client connections, listeners, other
 * sandboxes' sockets). */
static int keep_only(const int fds[3])
{
	int lifted[3];
	for (int i = 0; i < 3; i++)
		if ((lifted[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0)
			return -errno;
	for (int i = 0; i < 3; i++)
		if (dup2(lifted[i], i) < 0)
			return -errno;
	syscall(SYS_close_range, 3U, ~0U, 0U);
	return 0;
}

static _Noreturn void job_child(const int fds[3], uid_t uid, gid_t gid, workspace_job_fn fn, void *arg)
{
	struct job_report rep = { 0 };
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (keep_only(fds) < 0)
		_exit(126);
	enum { WS = 0, PROCS = 1, REPORT = 2 };
	/* First into the sandbox's memory cgroup, then the OOM killer's first
	 * choice there, and only then a page of the sandbox's is touched. */
	if (write(PROCS, "0", 1) != 1) {
		rep.r = wr_error_set(&rep.e, errno, "join the sandbox's memory cgroup");
	} else {
		int oom = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		if (oom < 0 || write(oom, "1000", 4) != 4)
			rep.r = wr_error_set(&rep.e, errno, "raise the writer's OOM score");
		if (oom >= 0)
			close(oom);
	}
	if (rep.r == 0)
		rep.r = fn(WS, uid, gid, arg, &rep.e);
	(void)!write(REPORT, &rep, sizeof rep); /* < PIPE_BUF: whole or not at all */
	_exit(rep.r ? 1 : 0);
}

/* ---- the daemon's side ---------------------------------------------------- */

static void job_free(struct workspace_job *j)
{
	if (list_linked(&j->link))
		list_unlink(&j->link);
	if (j->pidfd)
		loop_io_close(j->pidfd);
	if (j->report_fd >= 0)
		close(j->report_fd);
	/* the child has been reaped: its cgroup is empty */
	if (j->cgroup_dir[0])
		rmdir(j->cgroup_dir);
	free(j);
}

/* Killed, not by us: the sandbox's memory was full and the OOM killer
 * took the writer (as it should), or the sandbox was destroyed under it. */
static int job_killed(wr_error *e)
{
	wr_error_set(e, 0, "the writer was killed: it did not fit in the sandbox's memory (limits.memory), "
		     "or the sandbox ended");
	e->code = ENOMEM;
	return -ENOMEM;
}

static void job_ended(struct loop_io *io, const char *err)
{
	struct workspace_job *j = loop_io_data(io);
	int status = 0;
	pid_t w;
	while ((w = waitpid(j->pid, &status, WNOHANG)) < 0 && errno == EINTR)
		;
	if (w == 0)
		return; /* not yet: readable again when it is */
	struct job_report rep = { 0 };
	ssize_t n = w > 0 ? read(j->report_fd, &rep, sizeof rep) : -1;
	if (n != (ssize_t)sizeof rep) {
		if (j->timed_out)
			rep.r = wr_error_set(&rep.e, ETIMEDOUT, "the write took longer than %d s", WORKSPACE_JOB_TIMEOUT_MS / 1000);
		else if (w > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			rep.r = job_killed(&rep.e);
		else
			rep.r = wr_error_set(&rep.e, EIO, "the writer ended without a word (status %#x)",
					     (unsigned)status);
	}
	if (!j->abandoned)
		j->done(j->data, rep.r, &rep.e);
	job_free(j);
}

void workspace_jobs_tick(uint64_t now)
{
	for (struct list *n = jobs.next; n != &jobs; n = n->next) {
		struct workspace_job *j = LIST_ENTRY(struct workspace_job, link, n);
		if (!j->timed_out && now >= j->deadline_ms) {
			j->timed_out = true;
			kill(j->pid, SIGKILL); /* job_ended reaps it */
		}
	}
}

void workspace_job_abandon(struct workspace_job *j)
{
	j->abandoned = true;
	kill(j->pid, SIGKILL); /* job_ended reaps it and frees j */
}

int workspace_job_start(struct box *b, workspace_job_fn fn, void *arg, workspace_job_done_fn done, void *data,
			struct workspace_job **out, wr_error *e)
{
	const struct backend_ops *ops = box_ops(b);
	struct cgroup *cg = ops->cgroup ? ops->cgroup(box_backend(b)) : NULL;
	if (!ops->open_workspace || !cg)
		return -EOPNOTSUPP;
	uid_t uid;
	gid_t gid;
	_cleanup_close_ int ws = ops->open_workspace(box_backend(b), &uid, &gid);
	if (ws < 0)
		return wr_error_set(e, -ws, "the sandbox's workspace cannot be opened");

	struct workspace_job *j = calloc(1, sizeof *j);
	if (!j)
		return wr_error_set(e, ENOMEM, "workspace job");
	j->report_fd = -1;
	j->done = done;
	j->data = data;
	char name[32];
	snprintf(name, sizeof name, "files-%lu", ++job_counter);
	_cleanup_close_ int procs = -1;
	int report[2] = { -1, -1 }, r;
	if ((r = cgroup_charge_open(cg, name, &procs, j->cgroup_dir, sizeof j->cgroup_dir, e)) < 0 ||
	    (pipe2(report, O_CLOEXEC | O_NONBLOCK) < 0 && (r = wr_error_set(e, errno, "pipe")) < 0))
		goto fail;
	j->report_fd = report[0];
	j->pid = fork();
	if (j->pid == 0)
		job_child((const int[3]){ ws, procs, report[1] }, uid, gid, fn, arg);
	close(report[1]);
	if (j->pid < 0) {
		r = wr_error_set(e, errno, "fork the writer");
		goto fail;
	}
	int pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
	if (pidfd < 0 || !(j->pidfd = loop_io_new(pidfd, LOOP_IO_NOTIFY, j))) {
		r = wr_error_set(e, pidfd < 0 ? errno : ENOMEM, "pidfd_open");
		kill(j->pid, SIGKILL);
		while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto fail;
	}
	loop_io_read_start(j->pidfd, job_ended);
	j->deadline_ms = daemon_now_ms() + WORKSPACE_JOB_TIMEOUT_MS;
	list_insert(&jobs, &j->link);
	if (out)
		*out = j;
	return 0;

fail:
	job_free(j);
	return r;
}

struct put_args {
	const char *rel;
	const void *data;
	size_t len;
	uint64_t max_size;
};

static int put_in_child(int ws_fd, uid_t uid, gid_t gid, void *arg, wr_error *e)
{
	const struct put_args *a = arg;
	return files_write(ws_fd, a->rel, a->data, a->len, a->max_size, uid, gid, e);
}

int workspace_put_start(struct box *b, const char *rel, const void *data, size_t len, uint64_t max_size,
			workspace_job_done_fn done, void *done_data, struct workspace_job **out, wr_error *e)
{
	struct put_args a = { .rel = rel, .data = data, .len = len, .max_size = max_size };
	return workspace_job_start(b, put_in_child, &a, done, done_data, out, e);
}
