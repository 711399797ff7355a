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
#include "child.h"
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
	struct child *child;
	int report_fd;              /* the child's job_report, one write */
	char cgroup_dir[PATH_MAX];  /* v2: the child cgroup to remove, "" on v1 */
	bool abandoned;
	workspace_job_done_fn done;
	void *data;
};

static unsigned long job_counter;

/* ---- the child ------------------------------------------------------------ */

struct job_call {
	workspace_job_fn fn;
	void *arg;
	uid_t uid;
	gid_t gid;
};

static int job_child(void *arg)
{
	const struct job_call *call = arg;
	struct job_report rep = { 0 };
	enum { WS = CHILD_FD_BASE, PROCS, REPORT };
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
		rep.r = call->fn(WS, call->uid, call->gid, call->arg, &rep.e);
	(void)!write(REPORT, &rep, sizeof rep); /* < PIPE_BUF: whole or not at all */
	return rep.r ? 1 : 0;
}

/* ---- the daemon's side ---------------------------------------------------- */

static void job_free(struct workspace_job *j)
{
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

static void job_ended(void *data, int status, bool timed_out)
{
	struct workspace_job *j = data;
	struct job_report rep = { 0 };
	ssize_t n = read(j->report_fd, &rep, sizeof rep);
	if (n != (ssize_t)sizeof rep) {
		if (timed_out)
			rep.r = wr_error_set(&rep.e, ETIMEDOUT, "the write took longer than %d s", WORKSPACE_JOB_TIMEOUT_MS / 1000);
		else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			rep.r = job_killed(&rep.e);
		else
			rep.r = wr_error_set(&rep.e, EIO, "the writer ended without a word (status %#x)",
					     (unsigned)status);
	}
	if (!j->abandoned)
		j->done(j->data, rep.r, &rep.e);
	job_free(j);
}

void workspace_job_abandon(struct workspace_job *j)
{
	j->abandoned = true;
	child_kill(j->child); /* job_ended follows and frees j */
}

int workspace_job_start(struct box *b, workspace_job_fn fn, void *arg, workspace_job_done_fn done, void *data,
			struct workspace_job **out, wr_error *e)
{
	const struct backend_ops *ops = box_ops(b);
	struct cgroup *cg = ops->cgroup ? ops->cgroup(box_backend(b)) : NULL;
	if (!ops->open_workspace || !cg)
		return -EOPNOTSUPP;
	struct job_call call = { .fn = fn, .arg = arg };
	_cleanup_close_ int ws = ops->open_workspace(box_backend(b), &call.uid, &call.gid);
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
	_cleanup_close_ int procs = -1, report_w = -1;
	int report[2] = { -1, -1 }, r;
	if ((r = cgroup_charge_open(cg, name, &procs, j->cgroup_dir, sizeof j->cgroup_dir, e)) < 0 ||
	    (pipe2(report, O_CLOEXEC | O_NONBLOCK) < 0 && (r = wr_error_set(e, errno, "pipe")) < 0))
		goto fail;
	j->report_fd = report[0];
	report_w = report[1];
	const int fds[] = { ws, procs, report_w };
	if ((r = child_start(fds, 3, job_child, &call, WORKSPACE_JOB_TIMEOUT_MS, job_ended, j, &j->child, e)) < 0)
		goto fail;
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
