/* The oci backend: each sandbox is a container of an OCI runtime binary
 * (runc; crun where cgroups allow) made from a config.json that oci-spec.c
 * translates from the policy and the native mount plan. Every runtime
 * call is a child process reaped from poll; warren keeps what it does
 * natively: the uid range, the cgroup (the runtime joins it), the
 * per-exec child cgroups. */
#include "config.h"
#include "backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend-oci-internal.h"
#include "backend-proc.h"
#include "cleanup.h"
#include "mount.h"
#include "oci-net.h"
#include "oci-console.h"
#include "oci-keep.h"
#include "oci-spec.h"
#include "init-protocol.h"
#include "sandbox.h"
#include "spawn.h"
#include "userns.h"

/* pid 1 does nothing but reap what execs leave behind (dash waits for any
 * child while its sleep runs); sh and sleep are in the host view and in
 * every image. */
static char *const init_argv[] = { "/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 86400; done", NULL };

struct oci_settings oci_cfg;

/* ---- small helpers -------------------------------------------------------- */

static int resolve_in_path(const char *name, char *out, size_t len)
{
	if (strchr(name, '/'))
		return access(name, X_OK) == 0 && snprintf(out, len, "%s", name) < (int)len ? 0 : -ENOENT;
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = strdup(path && *path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	char *save = NULL;
	for (char *dir = copy ? strtok_r(copy, ":", &save) : NULL; dir; dir = strtok_r(NULL, ":", &save))
		if (snprintf(out, len, "%s/%s", dir, name) < (int)len && access(out, X_OK) == 0)
			return 0;
	return -ENOENT;
}

static int write_json(const char *path, json_t *j, wr_error *e)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return wr_error_set(e, errno, "open %s", path);
	if (json_dumpfd(j, fd, JSON_COMPACT) < 0)
		return wr_error_set(e, EIO, "write %s", path);
	return 0;
}

/* The last "error" of a runtime's --log-format json log, "" when none. */
static void log_error(const char *path, char *msg, size_t len)
{
	msg[0] = '\0';
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[4096];
	while (f && fgets(line, sizeof line, f)) {
		json_auto_t *j = json_loads(line, 0, NULL);
		const char *level = json_string_value(json_object_get(j, "level"));
		const char *m = json_string_value(json_object_get(j, "msg"));
		if (level && m && (!strcmp(level, "error") || !strcmp(level, "fatal")))
			snprintf(msg, len, "%s", m);
	}
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if ((flag == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

/* rm -r without crossing into a mount (none should be there). */
int oci_remove_tree(const char *path)
{
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static void runtime_argv(const char **argv, size_t *n, const char *log)
{
	argv[(*n)++] = oci_cfg.runtime;
	argv[(*n)++] = "--root";
	argv[(*n)++] = oci_cfg.root;
	if (log) {
		argv[(*n)++] = "--log";
		argv[(*n)++] = log;
		argv[(*n)++] = "--log-format";
		argv[(*n)++] = "json";
	}
}

static const int no_stdio[3] = { -1, -1, -1 };

/* ---- init, health ------------------------------------------------------- */

/* The runtime mounts the rootfs as the sandbox's root, an unprivileged
 * host uid: every directory on the way to the bundles must let others
 * through, or every create fails deep inside the runtime. */
static int reachable_by_others(const char *path, wr_error *e)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	for (char *slash = dir + strlen(dir); slash; slash = strrchr(dir, '/')) {
		*slash = '\0';
		struct stat st;
		const char *d = dir[0] ? dir : "/";
		if (stat(d, &st) < 0)
			return wr_error_set(e, errno, "stat %s", d);
		if (!(st.st_mode & S_IXOTH))
			return wr_error_set(e, EACCES,
					    "%s is mode %04o: the sandboxes' root cannot reach %s (give it o+x or choose another state_dir)",
					    d, (unsigned)(st.st_mode & 07777), path);
		if (!dir[0])
			break;
	}
	return 0;
}

static int oci_init(const struct backend_settings *s, wr_error *e)
{
	const char *rt = s->oci.runtime && *s->oci.runtime ? s->oci.runtime : "runc";
	if (resolve_in_path(rt, oci_cfg.runtime, sizeof oci_cfg.runtime) < 0)
		return wr_error_set(e, ENOENT, "oci_runtime %s: not found in PATH", rt);
	snprintf(oci_cfg.root, sizeof oci_cfg.root, "%s/oci", s->state_dir);
	snprintf(oci_cfg.bundles, sizeof oci_cfg.bundles, "%s/oci-bundles", s->state_dir);
	oci_cfg.verbose = s->verbose;
	if (mkdir(s->state_dir, 0755) < 0 && errno != EEXIST)
		return wr_error_set(e, errno, "mkdir %s", s->state_dir);
	if (mkdir(oci_cfg.root, 0700) < 0 && errno != EEXIST)
		return wr_error_set(e, errno, "mkdir %s", oci_cfg.root);
	/* the sandbox's root (a host uid of its range) walks through to rootfs */
	if (mkdir(oci_cfg.bundles, 0711) < 0 && errno != EEXIST)
		return wr_error_set(e, errno, "mkdir %s", oci_cfg.bundles);
	return reachable_by_others(oci_cfg.bundles, e);
}

static void oci_fini(void)
{
	/* empty unless a container is still being removed */
	if (oci_cfg.bundles[0])
		rmdir(oci_cfg.bundles);
	if (oci_cfg.root[0])
		rmdir(oci_cfg.root);
}

static int oci_health(wr_error *e)
{
	char *argv[] = { oci_cfg.runtime, "--version", NULL };
	char msg[1024];
	int r = proc_run(argv, 1000, msg, sizeof msg, e);
	if (r < 0)
		return r;
	if (!WIFEXITED(r) || WEXITSTATUS(r) != 0)
		return wr_error_set(e, EIO, "%s --version failed: %s", oci_cfg.runtime, msg);
	if (access(oci_cfg.root, W_OK) < 0 || access(oci_cfg.bundles, W_OK) < 0)
		return wr_error_set(e, errno, "%s: not writable", oci_cfg.root);
	return 0;
}

/* ---- create ---------------------------------------------------------------- */

/* linux.cgroupsPath: our cgroup relative to the hierarchy root(s), taken
 * from its description ("cgroup v2 /sys/fs/cgroup/REL", "cgroup v1
 * /sys/fs/cgroup/{memory,pids,cpu}/REL"). */
int oci_cgroups_path(struct backend_box *b, char *out, size_t len, wr_error *e)
{
	const char *d = cgroup_describe(b->cg);
	const char *rel = NULL;
	if (!strncmp(d, "cgroup v2 /sys/fs/cgroup/", 25))
		rel = d + 25;
	else if (!strncmp(d, "cgroup v1 /sys/fs/cgroup/{memory,pids,cpu}/", 43))
		rel = d + 43;
	if (!rel || snprintf(out, len, "/%s", rel) >= (int)len)
		return wr_error_set(e, ENOTSUP, "%s: not a cgroup the runtime can join", d);
	b->cgroup_v1 = d[8] == '1';
	snprintf(b->cgroups_path, sizeof b->cgroups_path, "%s", out);
	return 0;
}

/* On hybrid hosts the runtime also makes the container's cgroup in the
 * hierarchies warren does not use (unified, freezer, devices, …) and its
 * delete gives up on one still emptying: remove them. -EBUSY while one
 * still has processes leaving. */
static int remove_runtime_cgroups(const struct backend_box *b)
{
	if (!b->cgroups_path[0])
		return 0;
	_cleanup_closedir_ DIR *d = opendir("/sys/fs/cgroup");
	struct dirent *de;
	int r = 0;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		char path[PATH_MAX + 300];
		snprintf(path, sizeof path, "/sys/fs/cgroup/%s%s", de->d_name, b->cgroups_path);
		if (rmdir(path) < 0 && errno == EBUSY)
			r = -EBUSY;
	}
	return r;
}

static bool is_mount_op(const struct mount_op *op)
{
	return op->kind == MOP_TMPFS || op->kind == MOP_BIND || op->kind == MOP_PROC || op->kind == MOP_DEVPTS;
}

/* Whether path lies below the target of one of the plan's first n mounts. */
static bool below_mount(const struct mount_plan *plan, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++) {
		const char *t = oci_plan_path(plan->ops[i].target);
		size_t len = strlen(t);
		if (is_mount_op(&plan->ops[i]) && strcmp(t, "/") && !strncmp(path, t, len) && path[len] == '/')
			return true;
	}
	return false;
}

/* runc gives a tmpfs the mode of the directory it mounts on, over any
 * mode= option: the mount point carries the plan's mode. */
static mode_t mount_point_mode(const struct mount_op *op)
{
	if (op->kind == MOP_MKDIR)
		return op->mode;
	const char *m = op->kind == MOP_TMPFS && op->data ? strstr(op->data, "mode=") : NULL;
	return m ? (mode_t)strtoul(m + 5, NULL, 8) : 0755;
}

static int mkdir_parents_at(int dfd, const char *rel)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof buf, "%s", rel) >= (int)sizeof buf)
		return -1;
	for (char *p = strchr(buf, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdirat(dfd, buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

/* What the plan makes in the root itself, made in the bundle's rootfs by
 * us (host root): directories, links, the host view's passwd/group/hosts,
 * and every mount point outside another mount, which the runtime would
 * otherwise have to create as the sandbox's root, without the right. */
static int write_skeleton(const char *rootfs, const struct mount_plan *plan, wr_error *e)
{
	_cleanup_close_ int dfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return wr_error_set(e, errno, "open %s", rootfs);
	for (size_t i = 0; i < plan->n; i++) {
		const struct mount_op *op = &plan->ops[i];
		const char *path = oci_plan_path(op->target), *rel = path + 1;
		if (!*rel || below_mount(plan, i, path) || (!is_mount_op(op) && !oci_plan_op_is_skeleton(op)))
			continue;
		int r = mkdir_parents_at(dfd, rel);
		if (r < 0)
			;
		else if (op->kind == MOP_SYMLINK)
			r = symlinkat(op->source, dfd, rel);
		else if (op->kind == MOP_WRITE_FILE) {
			_cleanup_close_ int fd = openat(dfd, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, op->mode);
			r = fd < 0 || write(fd, op->data, op->data_len) != (ssize_t)op->data_len ? -1 : 0;
		} else if (op->kind != MOP_BIND || op->is_dir)
			r = mkdirat(dfd, rel, mount_point_mode(op));
		else {
			int fd = openat(dfd, rel, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
			r = fd < 0 ? -1 : close(fd);
		}
		if (r < 0 && errno != EEXIST)
			return wr_error_set(e, errno, "%s/%s", rootfs, rel);
		/* mkdir's mode passes the umask: 1777 needs saying again */
		if (op->kind == MOP_TMPFS && fchmodat(dfd, rel, mount_point_mode(op), 0) < 0)
			return wr_error_set(e, errno, "chmod %s/%s", rootfs, rel);
	}
	return 0;
}

static int write_bundle(struct backend_box *b, const struct backend_spec *spec, wr_error *e)
{
	const struct policy *p = spec->policy;
	char rootfs[PATH_MAX + 16], path[PATH_MAX + 16], cg_path[PATH_MAX];
	int r = oci_cgroups_path(b, cg_path, sizeof cg_path, e);
	if (r < 0)
		return r;
	if (mkdir(b->bundle, 0711) < 0)
		return wr_error_set(e, errno, "mkdir %s", b->bundle);
	snprintf(rootfs, sizeof rootfs, "%s/rootfs", b->bundle);
	if (mkdir(rootfs, 0755) < 0)
		return wr_error_set(e, errno, "mkdir %s", rootfs);

	/* The native plan, with image entries as binds (not detached mounts)
	 * and a tmpfs workspace: config.json says each as a mount. */
	struct mount_config mc = {
		.image_dir = spec->image_path, .image_detached = false, .workspace_fd = -1,
		.workspace_size = policy_tmpfs_size(p->limits.workspace, p->limits.memory),
		.tmp_size = policy_tmpfs_size(p->limits.tmp, p->limits.memory), .network = p->network,
		.resolv_conf = p->network == NET_EGRESS ? NET_RESOLV_CONF : NULL,
		.extra = p->mounts, .n_extra = p->n_mounts, .hide = p->hide, .n_hide = p->n_hide,
		.sandbox_uid = SANDBOX_UID, .sandbox_gid = SANDBOX_GID,
	};
	struct mount_plan plan;
	if ((r = mount_plan_build(&plan, &mc, e)) < 0)
		return r;
	r = write_skeleton(rootfs, &plan, e);
	json_t *config = NULL;
	if (r == 0) {
		struct oci_config_params c = {
			.policy = p, .mounts = &plan, .rootfs = rootfs, .host_uid_base = b->ids.host_base,
			.id_count = b->ids.count, .cgroups_path = cg_path, .init_argv = init_argv,
			/* exec'd commands inherit it: they, not init, die first
			 * under memory pressure (init is set back to 0 once up) */
			.oom_score_adj = 1000,
		};
		config = oci_config_json(&c, e);
		r = config ? 0 : -EINVAL;
	}
	mount_plan_free(&plan);
	if (r < 0)
		return r;
	snprintf(path, sizeof path, "%s/config.json", b->bundle);
	r = write_json(path, config, e);
	b->process = json_incref(json_object_get(config, "process"));
	json_decref(config);
	return r;
}

void oci_box_free(struct backend_box *b)
{
	while (b->execs) {
		struct oci_exec *x = b->execs;
		b->execs = x->next;
		proc_kill(&x->proc);
		if (x->waiter_pidfd >= 0)
			close(x->waiter_pidfd);
		free(x);
	}
	if (b->init_pidfd >= 0)
		close(b->init_pidfd);
	oci_net_teardown(&b->net);
	json_decref(b->process);
	uid_range_release(&b->ids);
	free(b);
}

static int oci_create(const struct backend_spec *spec, struct backend_box **out, wr_error *e)
{
	int checked = backend_check_network(&backend_oci_ops, spec->policy, e);
	if (checked < 0)
		return checked;
	struct backend_box *b = calloc(1, sizeof *b);
	if (!b)
		return wr_error_set(e, ENOMEM, "sandbox");
	*b = (struct backend_box){ .ids = { .lock_fd = -1 }, .runtime = PROC_INIT, .init_pidfd = -1, .init_pid = -1,
				   .net = OCI_NET_INIT, .holder = -1 };
	snprintf(b->name, sizeof b->name, "%s", spec->name);
	snprintf(b->bundle, sizeof b->bundle, "%s/%s", oci_cfg.bundles, spec->name);
	int r = uid_range_acquire(&b->ids, NULL, e);
	if (r == 0 && b->ids.rootless)
		r = wr_error_set(e, EPERM, "the oci backend runs as root only");
	if (r < 0) {
		oci_box_free(b);
		return r;
	}
	const struct policy *p = spec->policy;
	struct cgroup_limits lim = { .memory = p->limits.memory, .pids = p->limits.pids,
				     .cpu_millis = p->limits.cpu_millis };
	if ((r = cgroup_create(spec->name, &lim, &b->cg, e)) < 0)
		goto fail;
	if ((r = oci_net_prepare(p, &b->net, e)) < 0 || (r = write_bundle(b, spec, e)) < 0)
		goto fail;

	char log[PATH_MAX + 16], pidfile[PATH_MAX + 16];
	snprintf(log, sizeof log, "%s/runtime.log", b->bundle);
	snprintf(pidfile, sizeof pidfile, "%s/init.pid", b->bundle);
	const char *argv[16];
	size_t n = 0;
	runtime_argv(argv, &n, log);
	argv[n++] = "run";
	argv[n++] = "--detach";
	argv[n++] = "--pid-file";
	argv[n++] = pidfile;
	argv[n++] = "--bundle";
	argv[n++] = b->bundle;
	argv[n++] = b->name;
	argv[n] = NULL;
	if ((r = proc_start(&b->runtime, (char *const *)argv, no_stdio, e)) < 0)
		goto fail;
	*out = b;
	return 0;
fail:
	oci_remove_tree(b->bundle);
	cgroup_destroy(b->cg, NULL);
	oci_box_free(b);
	return r;
}

static int oci_event_fd(const struct backend_box *b)
{
	(void)b;
	return -1;
}

static ssize_t oci_parse_event(struct backend_box *b, const void *buf, size_t len, struct backend_event *ev)
{
	(void)b, (void)buf, (void)len, (void)ev;
	return -EBADMSG;
}

/* ---- poll ------------------------------------------------------------------ */


/* The waiter of an exec taken back ended: its command ended as the
 * status it left says (none: it was killed before it could write it). */
static void adopted_exec_ended(struct backend_box *b, struct oci_exec *x)
{
	char path[PATH_MAX + 32];
	oci_exec_paths(b, x->id, "status", path, sizeof path);
	if (oci_keep_read_status(path, &x->proc.status) < 0)
		x->proc.status = W_EXITCODE(0, SIGKILL);
	x->ended = true;
}

static void deliver_pending_signals(struct backend_box *b, struct oci_exec *x);

static int read_pid_file(const char *path, pid_t *pid)
{
	char buf[32] = "";
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	long v = strtol(buf, NULL, 10);
	if (v <= 0)
		return -EIO;
	*pid = (pid_t)v;
	return 0;
}


/* The runtime's `run --detach` ended: the container is up, or never. */
static void create_finished(struct backend_box *b)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/runtime.log", b->bundle);
	if (!WIFEXITED(b->runtime.status) || WEXITSTATUS(b->runtime.status) != 0) {
		log_error(path, b->message, sizeof b->message);
		if (!b->message[0])
			snprintf(b->message, sizeof b->message, "%s run failed (status %#x)", oci_cfg.runtime,
				 (unsigned)b->runtime.status);
		b->state = OCI_FAILED;
		return;
	}
	snprintf(path, sizeof path, "%s/init.pid", b->bundle);
	int r = read_pid_file(path, &b->init_pid);
	if (r == 0 && (b->init_pidfd = (int)syscall(SYS_pidfd_open, b->init_pid, 0)) < 0)
		r = -errno;
	if (r < 0) {
		snprintf(b->message, sizeof b->message, "%s: %s", path, strerror(-r));
		b->state = OCI_FAILED;
		return;
	}
	/* init must not be the OOM killer's first choice, commands are (as
	 * natively): `runtime exec` gives each the config's 1000 before it
	 * runs, so init may be exempt */
	spawn_protect_init_from_oom(b->init_pid, true);
	wr_error e = { 0 };
	/* from now on the range stays locked as long as the container lives,
	 * with or without a daemon (a crashed one's pool containers too) */
	if (oci_net_setup(&b->net, b->init_pid, &e) < 0 || oci_start_holder(b, &e) < 0) {
		snprintf(b->message, sizeof b->message, "%s", e.message);
		b->state = OCI_FAILED;
		return;
	}
	b->state = OCI_READY;
}

void oci_exec_paths(const struct backend_box *b, uint32_t id, const char *what, char *buf, size_t len)
{
	snprintf(buf, len, "%s/exec-%u.%s", b->bundle, id, what);
}

/* One event for an ended exec: EXEC_FAILED (the runtime could not start
 * it: no pid file) first, then EXITED. */
static bool exec_event(struct backend_box *b, struct oci_exec *x, struct backend_event *ev)
{
	char path[PATH_MAX + 32];
	int st = x->proc.status;
	oci_exec_paths(b, x->id, "pid", path, sizeof path);
	bool started = access(path, F_OK) == 0;
	ev->exec_id = x->id;
	if (!started && x->killed) {
		/* killed while the runtime was starting it: the runtime's own
		 * "read init-p: connection reset" is the kill, not a failure */
		ev->type = BACKEND_EV_EXITED;
		ev->status = SIGKILL;
		return true;
	}
	if (!started && !x->failed_reported) {
		x->failed_reported = true;
		ev->type = BACKEND_EV_EXEC_FAILED;
		oci_exec_paths(b, x->id, "log", path, sizeof path);
		log_error(path, ev->message, sizeof ev->message);
		ev->err = EIO;
		/* runc: `exec: "x": executable file not found in $PATH`;
		 * crun: "executable file `x` not found in $PATH: No such file or directory" */
		if (strcasestr(ev->message, "not found in $PATH") || strcasestr(ev->message, "no such file or directory"))
			ev->err = strcasestr(ev->message, "chdir") ? ENOTDIR : ENOENT;
		else if (strcasestr(ev->message, "permission denied"))
			ev->err = EACCES;
		if (ev->err != EIO) /* understood: say it as a native sandbox does */
			snprintf(ev->message, sizeof ev->message, "exec %s: %s", x->argv0, strerror(ev->err));
		else if (!ev->message[0])
			snprintf(ev->message, sizeof ev->message, "%s exec failed", oci_cfg.runtime);
		x->err = ev->err;
		return true;
	}
	ev->type = BACKEND_EV_EXITED;
	if (!started)
		ev->status = W_EXITCODE(x->err == ENOENT ? WARREN_EXIT_NOTFOUND : WARREN_EXIT_NOEXEC, 0);
	else
		ev->status = st; /* the exec waiter's: the command's own */
	return true;
}

static void exec_forget(struct backend_box *b, struct oci_exec *x)
{
	char path[PATH_MAX + 32];
	static const char *const files[] = { "pid", "log", "json", "tty", "waiter", "status", "stdin-closed",
					     "taken", "waiter.tmp", "status.tmp", "taken.tmp" };
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		oci_exec_paths(b, x->id, files[i], path, sizeof path);
		unlink(path);
	}
	for (struct oci_exec **p = &b->execs; *p; p = &(*p)->next)
		if (*p == x) {
			*p = x->next;
			break;
		}
	if (x->waiter_pidfd >= 0)
		close(x->waiter_pidfd);
	free(x);
}

static int oci_poll(struct backend_box *b, struct backend_event *ev)
{
	memset(ev, 0, sizeof *ev);
	if (b->state == OCI_CREATING && b->teardown == TD_NONE) {
		if (proc_poll(&b->runtime, NULL, 0) != 1)
			return 0;
		create_finished(b);
	}
	if (!b->state_reported && b->state != OCI_CREATING) {
		b->state_reported = true;
		ev->type = b->state == OCI_READY ? BACKEND_EV_READY : BACKEND_EV_SETUP_FAILED;
		snprintf(ev->message, sizeof ev->message, "%s", b->message);
		return 1;
	}
	for (struct oci_exec *x = b->execs; x; x = x->next) {
		if (x->pending_signals && !x->ended)
			deliver_pending_signals(b, x);
		if (!x->ended && proc_poll(&x->proc, NULL, 0) == 1)
			x->ended = true;
		if (!x->ended && x->waiter_pidfd >= 0 && keep_pidfd_ended(x->waiter_pidfd))
			adopted_exec_ended(b, x);
		if (x->ended) {
			bool failed_before = x->failed_reported;
			exec_event(b, x, ev);
			if (ev->type == BACKEND_EV_EXITED || failed_before)
				exec_forget(b, x);
			return 1;
		}
	}
	if (b->state == OCI_READY && b->init_pidfd >= 0) {
		struct pollfd pfd = { .fd = b->init_pidfd, .events = POLLIN };
		if (poll(&pfd, 1, 0) == 1) {
			b->state = OCI_DIED;
			ev->type = BACKEND_EV_DIED;
			snprintf(ev->message, sizeof ev->message, "the container's init (pid %d) ended",
				 (int)b->init_pid);
			return 1;
		}
	}
	return 0;
}

/* ---- execs ----------------------------------------------------------------- */

/* ---- the exec waiter ---------------------------------------------------------
 * `runtime exec` without --detach copies the command's output through
 * pipes of its own and ends only when every holder of them has closed
 * them: a command that leaves `sleep 100 &` behind would not end for 100 s,
 * and its status would come back as 128+N for a signal. So a child of the
 * daemon, made a child subreaper, runs `runtime exec --detach` with the
 * command's pipes as its stdio, lets go of them, and waits for the command
 * itself, which the runtime leaves to it. It ends as the command did: the
 * same exit code, or death by the same signal. */

struct exec_waiter_args {
	char *const *argv;         /* runtime exec --detach … */
	const char *pidfile;
	/* With a terminal: the runtime sends its master to a socket at the
	 * path `console` the waiter listens on, and the waiter passes it on
	 * to its stdin (the daemon's reply socket, exec_start_terminal). */
	const char *console;
	uint16_t cols, rows;
	/* kept (oci-keep.c): the command outlives the daemon; the waiter
	 * writes its status at `status` and drops its copy of stdin once
	 * `stdin_closed` is there */
	bool keep;
	const char *status, *stdin_closed, *taken;
};

/* How long the runtime may take to send a terminal: a start's ceiling. */
#define CONSOLE_TIMEOUT_MS 30000

static int exec_waiter(void *arg)
{
	const struct exec_waiter_args *a = arg;
	if (a->keep)
		keep_waiter_enter(a->stdin_closed);
	int listener = a->console ? oci_console_listen(a->console) : -1;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || (a->console && listener < 0))
		return WARREN_EXIT_SETUP;
	pid_t runtime = fork();
	if (runtime < 0)
		return WARREN_EXIT_SETUP;
	if (runtime == 0) {
		if (listener >= 0) {
			int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
			dup2(devnull, 0); /* the reply socket is the waiter's, not the runtime's */
		}
		execvp(a->argv[0], a->argv);
		_exit(WARREN_EXIT_NOTFOUND);
	}
	int st;
	bool reaped = false;
	if (listener >= 0) {
		int r = oci_console_pass(listener, runtime, &st, 0, a->cols, a->rows, CONSOLE_TIMEOUT_MS,
					 a->keep ? KEPT_MASTER : -1);
		reaped = r == -ECHILD;
		close(listener);
		unlink(a->console);
		int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
		dup2(devnull, 0); /* EOF for the daemon when nothing was sent */
	}
	while (!reaped && waitpid(runtime, &st, 0) < 0)
		if (errno != EINTR)
			return WARREN_EXIT_SETUP;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return WIFEXITED(st) ? WEXITSTATUS(st) : WARREN_EXIT_SETUP; /* it did not start: no pid file */
	pid_t command;
	if (read_pid_file(a->pidfile, &command) < 0)
		return WARREN_EXIT_SETUP;
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3 && devnull >= 0; fd++)
		dup2(devnull, fd); /* only the command and what it starts hold the pipes now */
	for (;;) {
		keep_waiter_drop_stdin(); /* (when asked: SIGURG interrupts the wait) */
		pid_t w = waitpid(-1, &st, 0); /* reaps the runtime's leftovers too */
		if (w == command)
			break;
		if (w < 0 && errno != EINTR)
			return WARREN_EXIT_SETUP;
	}
	if (a->keep) {
		oci_waiter_write_status(a->status, st);
		keep_waiter_linger(oci_waiter_taker, (void *)a->taken);
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	struct rlimit no_core = { 0, 0 };
	setrlimit(RLIMIT_CORE, &no_core);
	signal(WTERMSIG(st), SIG_DFL);
	raise(WTERMSIG(st));
	return 128 + WTERMSIG(st); /* a signal whose default is not to end a process */
}

/* `runtime exec --detach` of x, through an exec waiter; with t, in a
 * terminal the runtime makes in the container's devpts. */
static int start_exec(struct backend_box *b, const struct backend_exec *x, const struct backend_terminal *t,
		      wr_error *e)
{
	if (x->kind != BACKEND_EXEC_COMMAND)
		return wr_error_set(e, EOPNOTSUPP, "the oci backend opens the workspace instead");
	if (b->state != OCI_READY)
		return wr_error_set(e, ESRCH, "container %s is not running", b->name);
	char cgname[32], cgarg[48], proc_path[PATH_MAX + 32], log[PATH_MAX + 32], pidfile[PATH_MAX + 32];
	char console[PATH_MAX + 32], waiter[PATH_MAX + 32], status[PATH_MAX + 32], stdin_closed[PATH_MAX + 32],
		taken[PATH_MAX + 32];
	bool keep = x->keep && b->kept;
	snprintf(cgname, sizeof cgname, "exec-%u", x->id);
	/* the exec's own cgroup, so exec_kill reaches exactly what it started;
	 * v1 keeps it in the pids hierarchy (cgroup.c), named per controller */
	snprintf(cgarg, sizeof cgarg, "%s%s", b->cgroup_v1 ? "pids:" : "", cgname);
	oci_exec_paths(b, x->id, "json", proc_path, sizeof proc_path);
	oci_exec_paths(b, x->id, "log", log, sizeof log);
	oci_exec_paths(b, x->id, "pid", pidfile, sizeof pidfile);
	oci_exec_paths(b, x->id, "tty", console, sizeof console);
	oci_exec_paths(b, x->id, "waiter", waiter, sizeof waiter);
	oci_exec_paths(b, x->id, "status", status, sizeof status);
	oci_exec_paths(b, x->id, "stdin-closed", stdin_closed, sizeof stdin_closed);
	oci_exec_paths(b, x->id, "taken", taken, sizeof taken);
	unlink(pidfile);
	unlink(status);
	unlink(stdin_closed);
	unlink(taken);

	/* the process of config.json with this command's args, env and cwd:
	 * `exec --process` takes it whole (no capabilities, no_new_privs,
	 * rlimits), unlike exec's flags which would add to config.json's env */
	json_auto_t *process = json_deep_copy(b->process);
	json_t *argv_j = json_array(), *env_j = json_array();
	for (size_t i = 0; x->argv && x->argv[i]; i++)
		json_array_append_new(argv_j, json_string(x->argv[i]));
	for (size_t i = 0; x->envp && x->envp[i]; i++)
		json_array_append_new(env_j, json_string(x->envp[i]));
	if (!process || json_object_set_new(process, "args", argv_j) < 0 ||
	    json_object_set_new(process, "env", env_j) < 0 ||
	    json_object_set_new(process, "cwd", json_string(x->cwd ? x->cwd : "/workspace")) < 0 ||
	    json_object_set_new(process, "terminal", json_boolean(t != NULL)) < 0)
		return wr_error_set(e, ENOMEM, "exec process");
	/* the runtime sizes the terminal before the command starts: set after
	 * the master came, its first `stty size` could still read 0 0 */
	if (t && t->cols && t->rows &&
	    json_object_set_new(process, "consoleSize", json_pack("{s:i, s:i}", "height", (int)t->rows, "width",
								   (int)t->cols)) < 0)
		return wr_error_set(e, ENOMEM, "exec process");
	int r = write_json(proc_path, process, e);
	if (r < 0)
		return r;

	struct sockaddr_un sa;
	if (t && strlen(console) >= sizeof sa.sun_path)
		return wr_error_set(e, ENAMETOOLONG, "the terminal's socket %s", console);
	struct oci_exec *ox = calloc(1, sizeof *ox);
	if (!ox)
		return wr_error_set(e, ENOMEM, "exec");
	*ox = (struct oci_exec){ .id = x->id, .proc = PROC_INIT, .waiter_pidfd = -1 };
	snprintf(ox->argv0, sizeof ox->argv0, "%s", x->argv[0]);
	_cleanup_close_ int procs = -1;
	if ((r = cgroup_child_create(b->cg, cgname, &procs, e)) < 0) {
		free(ox);
		return r;
	}
	const char *argv[24];
	size_t n = 0;
	runtime_argv(argv, &n, log);
	argv[n++] = "exec";
	argv[n++] = "--detach";
	argv[n++] = "--process";
	argv[n++] = proc_path;
	argv[n++] = "--pid-file";
	argv[n++] = pidfile;
	argv[n++] = "--cgroup";
	argv[n++] = cgarg;
	if (t) {
		argv[n++] = "--console-socket";
		argv[n++] = console;
	}
	argv[n++] = b->name;
	argv[n] = NULL;
	struct exec_waiter_args wa = { .argv = (char *const *)argv, .pidfile = pidfile, .console = t ? console : NULL,
				       .cols = t ? t->cols : 0, .rows = t ? t->rows : 0, .keep = keep, .status = status,
				       .stdin_closed = stdin_closed, .taken = taken };
	const int term_stdio[3] = { t ? t->reply : -1, -1, -1 };
	/* kept: the waiter holds our ends (a terminal's master it keeps itself) */
	const int own[3] = { t ? -1 : x->own[0], t ? -1 : x->own[1], t ? -1 : x->own[2] };
	r = keep ? proc_start_fn_keeping(&ox->proc, exec_waiter, &wa, t ? term_stdio : x->stdio, own, e)
		 : proc_start_fn(&ox->proc, exec_waiter, &wa, t ? term_stdio : x->stdio, e);
	if (r < 0) {
		cgroup_child_remove(b->cg, cgname);
		free(ox);
		return r;
	}
	/* what proves the waiter to the next daemon (without it, the command
	 * is killed when the daemon restarts, as a request's) */
	if (keep && (r = oci_keep_note_waiter(waiter, ox->proc.pid)) < 0)
		fprintf(stderr, "warrend: oci: %s: %s: exec %u will not outlive warrend\n", waiter, strerror(-r), x->id);
	ox->next = b->execs;
	b->execs = ox;
	return 0;
}

static int oci_exec_start(struct backend_box *b, const struct backend_exec *x, wr_error *e)
{
	return start_exec(b, x, NULL, e);
}

static int oci_exec_start_terminal(struct backend_box *b, const struct backend_exec *x,
				   const struct backend_terminal *t, wr_error *e)
{
	return start_exec(b, x, t, e);
}

/* The runtime leaves each command a session (and process group) of its
 * own, and writes its host pid to the pid file. The pid is taken only
 * while the process is still in the exec's cgroup (a pidfd holds it from
 * there on: a pid the kernel reused cannot be signalled by mistake).
 * -EAGAIN while the pid file is not there yet. */
static int signal_exec(struct backend_box *b, uint32_t id, int sig)
{
	char path[PATH_MAX + 32], cg[PATH_MAX], want[64];
	pid_t pid;
	oci_exec_paths(b, id, "pid", path, sizeof path);
	if (read_pid_file(path, &pid) < 0)
		return -EAGAIN;
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return 0; /* ended: its EXITED says so */
	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
	snprintf(want, sizeof want, "/exec-%u\n", id);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	bool ours = false;
	while (f && !ours && fgets(cg, sizeof cg, f))
		ours = strstr(cg, b->name) && strstr(cg, want);
	if (!ours)
		return 0;
	if (getpgid(pid) == pid && kill(-pid, sig) == 0)
		return 0;
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 && errno != ESRCH ? -errno : 0;
}

/* Signals that came before the pid file, once it is there (from poll). */
static void deliver_pending_signals(struct backend_box *b, struct oci_exec *x)
{
	for (int sig = 1; sig <= 64 && x->pending_signals; sig++) {
		uint64_t bit = 1ULL << (sig - 1);
		if ((x->pending_signals & bit) && signal_exec(b, x->id, sig) == -EAGAIN)
			return;
		x->pending_signals &= ~bit;
	}
}

static int oci_exec_signal(struct backend_box *b, uint32_t id, int sig)
{
	if (sig < 1 || sig > 64)
		return -EINVAL;
	int r = signal_exec(b, id, sig);
	if (r != -EAGAIN)
		return r;
	/* the runtime is still starting it: sent once its pid is known */
	for (struct oci_exec *x = b->execs; x; x = x->next)
		if (x->id == id && !x->ended)
			x->pending_signals |= 1ULL << (sig - 1);
	return 0;
}

static int oci_exec_kill(struct backend_box *b, uint32_t id)
{
	for (struct oci_exec *x = b->execs; x; x = x->next)
		if (x->id == id)
			x->killed = true;
	char name[32];
	snprintf(name, sizeof name, "exec-%u", id);
	return cgroup_child_kill(b->cg, name);
}

/* A kept command's stdin: its waiter drops the copy it holds. */
static int oci_exec_close_stdin(struct backend_box *b, uint32_t id)
{
	for (struct oci_exec *x = b->execs; x; x = x->next)
		if (x->id == id && !x->ended) {
			char marker[PATH_MAX + 32];
			oci_exec_paths(b, id, "stdin-closed", marker, sizeof marker);
			return keep_close_stdin(marker, x->proc.pid, x->waiter_pidfd);
		}
	return 0;
}

static int oci_exec_release(struct backend_box *b, uint32_t id)
{
	char name[32];
	snprintf(name, sizeof name, "exec-%u", id);
	return cgroup_child_remove(b->cg, name);
}

/* ---- stats, limits --------------------------------------------------------- */

static int oci_stats(struct backend_box *b, struct backend_stats *st)
{
	st->memory_peak = cgroup_memory_peak(b->cg);
	st->oom_kills = cgroup_oom_kills(b->cg);
	return 0;
}

static int oci_set_limits(struct backend_box *b, const struct cgroup_limits *l, wr_error *e)
{
	int r = cgroup_set_limits(b->cg, l, e);
	/* the tmpfs mounts leave room in the new memory limit (policy.h) */
	return r < 0 ? r : mount_fit_tmpfs_to_memory(b->init_pid, l->memory, e);
}

/* ---- destroy --------------------------------------------------------------- */

void oci_delete_argv(const char **argv, const char *name)
{
	size_t n = 0;
	runtime_argv(argv, &n, NULL);
	argv[n++] = "delete";
	argv[n++] = "--force";
	argv[n++] = name;
	argv[n] = NULL;
}

static void start_delete(struct backend_box *b)
{
	const char *argv[12];
	oci_delete_argv(argv, b->name);
	wr_error e = { 0 };
	if (proc_start(&b->runtime, (char *const *)argv, NULL, &e) < 0)
		fprintf(stderr, "warrend: oci: %s\n", e.message);
	b->delete_tries++;
}

/* Whether the runtime still keeps state for the container. */
static bool runtime_knows(const struct backend_box *b)
{
	char path[PATH_MAX * 2];
	snprintf(path, sizeof path, "%s/%s", oci_cfg.root, b->name);
	return access(path, F_OK) == 0;
}

static int oci_destroy_step(struct backend_box *b)
{
	char msg[1024];
	for (struct oci_exec *x = b->execs; x; x = x->next) {
		char name[32];
		snprintf(name, sizeof name, "exec-%u", x->id);
		cgroup_child_kill(b->cg, name);
	}
	if (b->teardown == TD_NONE) {
		/* a `run` still going is killed; its half-made container is
		 * what delete --force is for */
		proc_kill(&b->runtime);
		b->teardown = TD_DELETING;
		start_delete(b);
	}
	if (b->teardown == TD_DELETING) {
		if (b->runtime.pid > 0 && proc_poll(&b->runtime, msg, sizeof msg) == 0)
			return -EBUSY;
		if (runtime_knows(b) && b->delete_tries < 5) {
			if (b->delete_tries == 4 || oci_cfg.verbose)
				fprintf(stderr, "warrend: oci: delete %s: %s\n", b->name, msg);
			start_delete(b);
			return -EBUSY;
		}
		b->teardown = TD_CLEANUP;
	}
	for (struct oci_exec *x = b->execs; x; x = x->next)
		if ((x->proc.pid > 0 && proc_poll(&x->proc, NULL, 0) == 0) ||
		    (x->waiter_pidfd >= 0 && !keep_pidfd_ended(x->waiter_pidfd)))
			return -EBUSY; /* its container process is being killed */
	oci_net_teardown(&b->net); /* the container's processes are gone */
	if (b->cg && cgroup_try_destroy(b->cg) == -EBUSY)
		return -EBUSY;
	b->cg = NULL;
	if (b->cgroup_v1 && remove_runtime_cgroups(b) == -EBUSY)
		return -EBUSY;
	if (oci_remove_tree(b->bundle) < 0)
		fprintf(stderr, "warrend: oci: could not remove %s\n", b->bundle);
	oci_box_free(b);
	return 0;
}

/* ---- the rest ---------------------------------------------------------------- */

static int oci_open_workspace(struct backend_box *b, uid_t *uid, gid_t *gid)
{
	if (b->state != OCI_READY)
		return -ESRCH;
	int fd = backend_open_in_root(b->init_pid, "workspace");
	if (fd < 0)
		return fd;
	*uid = uid_range_host_uid(&b->ids, SANDBOX_UID);
	*gid = (gid_t)uid_range_host_uid(&b->ids, SANDBOX_GID);
	return fd;
}

static int oci_open_tmp(struct backend_box *b)
{
	return b->state == OCI_READY ? backend_open_in_root(b->init_pid, "tmp") : -ESRCH;
}

static struct cgroup *oci_cgroup(struct backend_box *b)
{
	return b->cg;
}

static struct net_egress *oci_net(struct backend_box *b) { return oci_net_egress(&b->net); }

static pid_t oci_init_pid(const struct backend_box *b)
{
	return b->state == OCI_READY ? b->init_pid : -1;
}

static void oci_describe(const struct backend_box *b, char *buf, size_t len)
{
	const char *rt = strrchr(oci_cfg.runtime, '/');
	snprintf(buf, len, "%s container %s, %s", rt ? rt + 1 : oci_cfg.runtime, b->name,
		 b->cg ? cgroup_describe(b->cg) : "no cgroup");
}

/* `list -q` into a memfd (its output may exceed what proc keeps). */
static int list_containers(char **out)
{
	_cleanup_close_ int mfd = memfd_create("oci-list", MFD_CLOEXEC);
	if (mfd < 0)
		return -errno;
	const char *argv[8];
	size_t n = 0;
	runtime_argv(argv, &n, NULL);
	argv[n++] = "list";
	argv[n++] = "-q";
	argv[n] = NULL;
	struct proc p = PROC_INIT;
	wr_error e = { 0 };
	int stdio[3] = { -1, mfd, -1 };
	if (proc_start(&p, (char *const *)argv, stdio, &e) < 0)
		return -EIO;
	for (int waited = 0; proc_poll(&p, NULL, 0) == 0; waited += 10) {
		if (waited >= 5000) {
			proc_kill(&p);
			return -ETIMEDOUT;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000000 }, NULL);
	}
	if (!WIFEXITED(p.status) || WEXITSTATUS(p.status) != 0)
		return -EIO;
	off_t size = lseek(mfd, 0, SEEK_END);
	char *text = calloc(1, (size_t)(size > 0 ? size : 0) + 1);
	if (!text)
		return -ENOMEM;
	if (size > 0 && pread(mfd, text, (size_t)size, 0) != size) {
		free(text);
		return -EIO;
	}
	*out = text;
	return 0;
}

static unsigned oci_remove_stale(const char *prefix, bool (*keep)(const char *name))
{
	unsigned removed = 0;
	size_t plen = strlen(prefix);
	_cleanup_free_ char *list = NULL;
	if (list_containers(&list) == 0) {
		char *save = NULL;
		for (char *name = strtok_r(list, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
			if (strncmp(name, prefix, plen) || (keep && keep(name)))
				continue;
			const char *argv[12];
			oci_delete_argv(argv, name);
			char msg[1024];
			wr_error e = { 0 };
			int st = proc_run((char *const *)argv, 5000, msg, sizeof msg, &e);
			if (st == 0)
				removed++;
			else
				fprintf(stderr, "warrend: oci: delete %s: %s\n", name, st < 0 ? e.message : msg);
		}
	}
	/* a `run` killed with its daemon before the runtime wrote the
	 * container's state leaves a directory (its exec.fifo) that `list`
	 * does not show and `delete` does not know: its processes went with
	 * its cgroup, the directory goes here */
	_cleanup_closedir_ DIR *rd = opendir(oci_cfg.root);
	struct dirent *de;
	while (rd && (de = readdir(rd))) {
		if (de->d_name[0] == '.' || strncmp(de->d_name, prefix, plen) || (keep && keep(de->d_name)))
			continue;
		char path[PATH_MAX * 2];
		snprintf(path, sizeof path, "%s/%s/state.json", oci_cfg.root, de->d_name);
		if (access(path, F_OK) < 0 && errno == ENOENT) {
			snprintf(path, sizeof path, "%s/%s", oci_cfg.root, de->d_name);
			oci_remove_tree(path);
		}
	}
	_cleanup_closedir_ DIR *d = opendir(oci_cfg.bundles);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || strncmp(de->d_name, prefix, plen) || (keep && keep(de->d_name)))
			continue;
		char path[PATH_MAX * 2];
		snprintf(path, sizeof path, "%s/%s", oci_cfg.bundles, de->d_name);
		oci_keep_wait_waiters(path, 5000); /* (a crashed daemon's kept commands: gone with their container) */
		oci_remove_tree(path);
	}
	return removed;
}

const struct backend_ops backend_oci_ops = {
	.name = "oci",
	.start_timeout_ms = 60000,
	.init = oci_init,
	.fini = oci_fini,
	.health = oci_health,
	.create = oci_create,
	.event_fd = oci_event_fd,
	.parse_event = oci_parse_event,
	.poll = oci_poll,
	.exec_start = oci_exec_start,
	.exec_kill = oci_exec_kill,
	.exec_release = oci_exec_release,
	.stats = oci_stats,
	.set_limits = oci_set_limits,
	.destroy_step = oci_destroy_step,
	.open_workspace = oci_open_workspace,
	.open_tmp = oci_open_tmp,
	.cgroup = oci_cgroup,
	.init_pid = oci_init_pid,
	.describe = oci_describe,
	.remove_stale = oci_remove_stale,
	.net = oci_net,
	.exec_start_terminal = oci_exec_start_terminal,
	.exec_signal = oci_exec_signal,
	.exec_close_stdin = oci_exec_close_stdin,
	.keep = oci_keep,
	.save = oci_save,
	.adopt = oci_adopt,
	.discard = oci_discard,
	.fixed_name = true,
};
