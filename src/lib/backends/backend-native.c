/* The native backend: warren's own runtime (sandbox.c), the fast path.
 * Its events are init's messages on the init socket. */
#include "config.h"
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "mount.h"
#include "init-protocol.h"
#include "sandbox.h"
#include "spawn.h"
#include "spawner.h"
#include "userns.h"

struct backend_box {
	struct sandbox *sb;
	char name[64];         /* its cgroup's */
	bool kept;             /* its listener is bound in control_dir under NAME.sock */
};

/* STATE/control (root only): where kept sandboxes' inits listen for the
 * next daemon (sandbox.h); -1 until init. */
static int control_dir = -1;

static int native_init(const struct backend_settings *s, wr_error *e)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/control", s->state_dir);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return wr_error_set(e, errno, "mkdir %s", path);
	if (chmod(path, 0700) < 0 || (control_dir = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return wr_error_set(e, errno, "%s", path);
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
	snprintf(b->name, sizeof b->name, "%s", spec->name);
	*out = b;
	return 0;
}

static void control_path(const char *name, struct sockaddr_un *a)
{
	*a = (struct sockaddr_un){ .sun_family = AF_UNIX };
	snprintf(a->sun_path, sizeof a->sun_path, "/proc/self/fd/%d/%s.sock", control_dir, name);
}

static void control_unlink(const char *name)
{
	char file[80];
	snprintf(file, sizeof file, "%s.sock", name);
	unlinkat(control_dir, file, 0);
}

/* The sandbox's listener under STATE/control, handed to its init (with
 * an egress sandbox's slot lock and resolver socket, sandbox_keep). */
static int native_keep(struct backend_box *b, const char *name, wr_error *e)
{
	if (control_dir < 0)
		return wr_error_set(e, EOPNOTSUPP, "no control directory");
	struct cgroup *cg = sandbox_cgroup(b->sb);
	if (!cg)
		return wr_error_set(e, EIO, "the sandbox has no cgroup");
	struct sockaddr_un a;
	control_path(name, &a);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return wr_error_set(e, errno, "socket");
	control_unlink(name);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4) < 0)
		return wr_error_set(e, errno, "bind its control socket %s.sock", name);
	int r = cgroup_rename(cg, name, e);
	if (r == 0 && (r = sandbox_keep(b->sb, fd, e)) < 0)
		cgroup_rename(cg, b->name, NULL);
	if (r < 0) {
		control_unlink(name);
		return r;
	}
	snprintf(b->name, sizeof b->name, "%s", name);
	b->kept = true;
	return 0;
}

static json_t *native_save(const struct backend_box *b)
{
	pid_t pid = sandbox_pid(b->sb);
	struct cgroup *cg = sandbox_cgroup(b->sb);
	const struct uid_range *ids = sandbox_ids(b->sb);
	unsigned long long started = 0;
	char cgroup[4096];
	if (!b->kept || pid <= 0 || !cg || proc_start_time(pid, &started) < 0 ||
	    cgroup_export(cg, cgroup, sizeof cgroup) < 0)
		return NULL;
	char control[80];
	snprintf(control, sizeof control, "%s.sock", b->name);
	return json_pack("{s:i, s:I, s:s, s:s, s:s, s:{s:i, s:I, s:I, s:b, s:b}, s:o}", "init_pid", (int)pid,
			 "init_start_time", (json_int_t)started, "cgroup_name", b->name, "cgroup", cgroup, "control", control,
			 "host_ids", "slot", (int)ids->slot, "base", (json_int_t)ids->host_base, "count",
			 (json_int_t)ids->count, "rootless", ids->rootless, "held_by_init", ids->handed, "egress",
			 net_egress_save(sandbox_net(b->sb)));
}

struct saved_native {
	int pid;
	json_int_t started, slot, base, count;
	const char *name, *cgroup, *control;
	int rootless, held_by_init;
	json_t *egress;        /* its link (net-egress-keep.c); null or absent without */
};

static int saved_parse(const json_t *saved, struct saved_native *out, wr_error *e)
{
	json_error_t je;
	*out = (struct saved_native){ 0 };
	if (json_unpack_ex((json_t *)saved, &je, JSON_STRICT,
			   "{s:i, s:I, s:s, s:s, s:s, s:{s:I, s:I, s:I, s:b, s:b}, s?o}", "init_pid", &out->pid,
			   "init_start_time", &out->started, "cgroup_name", &out->name, "cgroup", &out->cgroup, "control",
			   &out->control, "host_ids", "slot", &out->slot, "base", &out->base, "count", &out->count,
			   "rootless", &out->rootless, "held_by_init", &out->held_by_init, "egress", &out->egress) < 0)
		return wr_error_set(e, EBADMSG, "its native state: %s", je.text);
	if (out->pid <= 1 || out->started < 0 || out->slot < 0 || out->base < 0 || out->count < 0 ||
	    out->base > UINT32_MAX || out->count > UINT32_MAX || strncmp(out->name, "wd-", 3) || strchr(out->name, '/'))
		return wr_error_set(e, EBADMSG, "its native state holds values out of range");
	return 0;
}

/* cgroup v2 cannot rename a cgroup: the sandbox is named kept from its
 * creation, and keeps that name through restarts (as the oci backend's) */
static bool native_names_fixed(void)
{
	return !cgroup_renamable();
}

/* A sandbox taken back and then refused: destroyed (its processes killed). */
static int adopt_failed(struct backend_box *b, struct init_greeting *found, int r)
{
	init_greeting_release(found);
	sandbox_destroy(b->sb);
	free(b);
	return r;
}

static int native_adopt(const json_t *saved, char *name, struct backend_box **out, struct init_greeting *found,
			wr_error *e)
{
	struct saved_native sv;
	int r = saved_parse(saved, &sv, e);
	if (r < 0)
		return r;
	char control[80];
	snprintf(control, sizeof control, "%s.sock", sv.name);
	if (strcmp(sv.control, control))
		return wr_error_set(e, EBADMSG, "its control socket is not %s", control);
	struct uid_range want = { .slot = (unsigned)sv.slot, .host_base = (uid_t)sv.base, .count = (uint32_t)sv.count,
				  .rootless = sv.rootless, .handed = sv.held_by_init, .lock_fd = -1 }, ids;
	if ((r = spawner_take_ids(&want, &ids, e)) < 0)
		return r;
	struct sandbox_record rec = {
		.pid = sv.pid, .start_time = (unsigned long long)sv.started, .cgroup = sv.cgroup, .cgroup_name = sv.name,
		.control_dir = control_dir, .control_name = control, .ids = ids,
	};
	struct backend_box *b = calloc(1, sizeof *b);
	if (!b) {
		uid_range_release(&ids);
		return wr_error_set(e, ENOMEM, "sandbox");
	}
	if ((r = sandbox_adopt(&rec, &b->sb, found, e)) < 0) {
		uid_range_release(&ids);
		free(b);
		return r;
	}
	/* its link and rules, with what its init held of them (taken), before
	 * anything is renamed: a failure leaves what discard removes */
	if (sv.egress && !json_is_null(sv.egress)) {
		if ((r = net_egress_adopt(sv.egress, sv.pid, found->held, found->n_held, sandbox_net(b->sb), e)) < 0)
			return adopt_failed(b, found, r);
		found->n_held = 0;
	}
	/* under a name of this daemon's (the stale sweep of others spares it),
	 * or the one it has (cgroup v2: its kept name, spared as held) */
	if (native_names_fixed())
		snprintf(name, 64, "%s", sv.name);
	if ((r = cgroup_rename(sandbox_cgroup(b->sb), name, e)) < 0)
		return adopt_failed(b, found, r);
	char renamed[80];
	snprintf(renamed, sizeof renamed, "%s.sock", name);
	if (renameat(control_dir, control, control_dir, renamed) < 0)
		r = wr_error_set(e, errno, "rename its control socket");
	if (r < 0)
		return adopt_failed(b, found, r);
	snprintf(b->name, sizeof b->name, "%s", name);
	b->kept = true;
	/* execs that ended unseen (their end went to the old daemon) may have
	 * left their cgroups: the next are numbered above them */
	found->last_id = cgroup_child_max(sandbox_cgroup(b->sb), "exec-");
	sandbox_give_fd(b->sb);
	*out = b;
	return 0;
}

static void native_discard(const json_t *saved)
{
	struct saved_native sv;
	wr_error e = { 0 };
	if (saved_parse(saved, &sv, &e) < 0)
		return;
	cgroup_remove_named(sv.name);
	control_unlink(sv.name);
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
		.stdio = { x->stdio[0], x->stdio[1], x->stdio[2] }, .keep = x->keep && b->kept,
		.own = { x->own[0], x->own[1], x->own[2] },
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
		.pty = true, .pty_cols = t->cols, .pty_rows = t->rows, .pty_reply = t->reply, .keep = x->keep && b->kept,
		.own = { -1, -1, -1 },
	};
	return sandbox_exec_start(b->sb, &req, e);
}

static int native_exec_signal(struct backend_box *b, uint32_t id, int sig) { return sandbox_exec_signal(b->sb, id, sig); }
static int native_exec_kill(struct backend_box *b, uint32_t id) { return sandbox_exec_kill(b->sb, id); }
static int native_exec_close_stdin(struct backend_box *b, uint32_t id) { return sandbox_exec_close_stdin(b->sb, id); }
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
	if (b->kept) {
		control_unlink(b->name);
		b->kept = false;
	}
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
	.exec_close_stdin = native_exec_close_stdin,
	.net = native_net,
	.keep = native_keep,
	.save = native_save,
	.adopt = native_adopt,
	.names_fixed = native_names_fixed,
	.discard = native_discard,
};
