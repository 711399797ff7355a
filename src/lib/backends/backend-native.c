/* The native backend: warren's own runtime (sandbox.c), the fast path.
 * Its events are init's messages on the init socket. */
#include "config.h"
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
#include "mount.h"
#include "init-protocol.h"
#include "sandbox.h"
#include "spawn.h"
#include "spawner.h"
#include "userns.h"

struct backend_box {
	struct sandbox *sb;
};

static int native_init(const struct backend_settings *s, wr_error *e)
{
	(void)s;
	(void)e;
	/* what SIGKILLed warren runs left (sandbox.h) */
	unsigned n = sandbox_run_sweep_stale(true);
	if (n)
		fprintf(stderr, "warrend: removed %u cgroup(s) of warren runs that were killed\n", n);
	return 0;
}

/* Namespaces and cgroups were checked when the daemon started; what can
 * change is whether a cgroup layout is still there. */
static int native_health(wr_error *e)
{
	enum cgroup_mode mode;
	int r = spawner_health(e);
	return r < 0 ? r : cgroup_detect(&mode, e);
}

static int native_create(const struct backend_spec *spec, struct backend_box **out, wr_error *e)
{
	struct spawn_options o = {
		.policy = spec->policy, .image = spec->image_path, .cgroup_name = spec->name,
		.seccomp = spec->seccomp, .init_sock = -1,
	};
	int r = backend_check_network(&backend_native_ops, spec->policy, e);
	if (r < 0)
		return r;
	struct backend_box *b = calloc(1, sizeof *b);
	if (!b)
		return wr_error_set(e, ENOMEM, "sandbox");
	r = sandbox_create(&o, &b->sb, e);
	if (r < 0) {
		free(b);
		return r;
	}
	sandbox_give_fd(b->sb); /* the daemon takes it with event_fd */
	*out = b;
	return 0;
}

static int native_event_fd(const struct backend_box *b)
{
	return sandbox_fd(b->sb);
}

static ssize_t native_parse_event(struct backend_box *b, const void *buf, size_t len, struct backend_event *ev)
{
	sandbox_settle(b->sb);
	struct init_event in;
	if (len < sizeof in)
		return 0;
	memcpy(&in, buf, sizeof in);
	if (sandbox_event_validate(&in) < 0)
		return -EBADMSG;
	memset(ev, 0, sizeof *ev);
	ev->exec_id = in.exec_id;
	ev->status = in.status;
	ev->err = in.err;
	wr_error e = { 0 };
	switch (in.type) {
	case INIT_EV_READY:
		ev->type = BACKEND_EV_READY;
		break;
	case INIT_EV_SETUP_FAILED:
		ev->type = BACKEND_EV_SETUP_FAILED;
		snprintf(ev->message, sizeof ev->message, "sandbox setup failed: %s: %s", in.step, strerror(in.err));
		break;
	case INIT_EV_EXEC_FAILED:
		ev->type = BACKEND_EV_EXEC_FAILED;
		sandbox_event_error(&in, &e);
		snprintf(ev->message, sizeof ev->message, "%s", e.message);
		/* "not found" only when exec itself said ENOENT (not a cwd) */
		if (in.err == ENOENT && strcmp(in.step, "exec"))
			ev->err = ENOTDIR;
		break;
	default:
		ev->type = BACKEND_EV_EXITED;
		break;
	}
	return (ssize_t)sizeof in;
}

static int native_exec_start(struct backend_box *b, const struct backend_exec *x, wr_error *e)
{
	if (x->kind != BACKEND_EXEC_COMMAND)
		return wr_error_set(e, EOPNOTSUPP, "the native backend opens the workspace instead");
	struct sandbox_exec req = {
		.id = x->id, .argv = x->argv, .envp = x->envp, .cwd = x->cwd,
		.stdio = { x->stdio[0], x->stdio[1], x->stdio[2] },
	};
	return sandbox_exec_start(b->sb, &req, e);
}

static int native_exec_start_terminal(struct backend_box *b, const struct backend_exec *x,
				      const struct backend_terminal *t, wr_error *e)
{
	if (x->kind != BACKEND_EXEC_COMMAND)
		return wr_error_set(e, EOPNOTSUPP, "a terminal is for commands only");
	struct sandbox_exec req = {
		.id = x->id, .argv = x->argv, .envp = x->envp, .cwd = x->cwd, .stdio = { -1, -1, -1 },
		.pty = true, .pty_cols = t->cols, .pty_rows = t->rows, .pty_reply = t->reply,
	};
	return sandbox_exec_start(b->sb, &req, e);
}

static int native_exec_signal(struct backend_box *b, uint32_t id, int sig) { return sandbox_exec_signal(b->sb, id, sig); }
static int native_exec_kill(struct backend_box *b, uint32_t id) { return sandbox_exec_kill(b->sb, id); }
static int native_exec_release(struct backend_box *b, uint32_t id) { return sandbox_exec_release(b->sb, id); }

static int native_stats(struct backend_box *b, struct backend_stats *st)
{
	struct cgroup *cg = sandbox_cgroup(b->sb);
	st->memory_peak = cg ? cgroup_memory_peak(cg) : 0;
	st->oom_kills = cg ? cgroup_oom_kills(cg) : 0;
	return 0;
}

static int native_set_limits(struct backend_box *b, const struct cgroup_limits *l, wr_error *e)
{
	int r = cgroup_set_limits(sandbox_cgroup(b->sb), l, e);
	/* the tmpfs mounts leave room in the new memory limit (policy.h) */
	return r < 0 ? r : mount_fit_tmpfs_to_memory(sandbox_pid(b->sb), l->memory, e);
}

static int native_destroy_step(struct backend_box *b)
{
	int r = sandbox_destroy_step(b->sb);
	if (r == 0)
		free(b);
	return r;
}

static int native_open_workspace(struct backend_box *b, uid_t *uid, gid_t *gid)
{
	int fd = backend_open_in_root(sandbox_pid(b->sb), "workspace");
	if (fd < 0)
		return fd;
	*uid = sandbox_host_uid(b->sb, SANDBOX_UID);
	*gid = (gid_t)sandbox_host_uid(b->sb, SANDBOX_GID);
	return fd;
}

static int native_open_tmp(struct backend_box *b)
{
	return backend_open_in_root(sandbox_pid(b->sb), "tmp");
}

static pid_t native_init_pid(const struct backend_box *b) { return sandbox_pid(b->sb); }

static struct net_egress *native_net(struct backend_box *b)
{
	struct net_egress *n = sandbox_net(b->sb);
	return n->lock_fd >= 0 ? n : NULL;
}
static struct cgroup *native_cgroup(struct backend_box *b) { return sandbox_cgroup(b->sb); }

static void native_describe(const struct backend_box *b, char *buf, size_t len)
{
	snprintf(buf, len, "%s", cgroup_describe(sandbox_cgroup(b->sb)));
}

const struct backend_ops backend_native_ops = {
	.name = "native",
	.start_timeout_ms = 10000,
	.init = native_init,
	.health = native_health,
	.create = native_create,
	.event_fd = native_event_fd,
	.parse_event = native_parse_event,
	.exec_start = native_exec_start,
	.exec_kill = native_exec_kill,
	.exec_release = native_exec_release,
	.stats = native_stats,
	.set_limits = native_set_limits,
	.destroy_step = native_destroy_step,
	.open_workspace = native_open_workspace,
	.open_tmp = native_open_tmp,
	.cgroup = native_cgroup,
	.init_pid = native_init_pid,
	.describe = native_describe,
	.exec_start_terminal = native_exec_start_terminal,
	.exec_signal = native_exec_signal,
	.net = native_net,
};
