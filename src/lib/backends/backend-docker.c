/* The docker backend: sandboxes as containers of a Docker Engine API
 * (dockerd, or podman's `podman system service`) over its unix socket.
 *
 * The event loop never talks to the engine: each conversation (create,
 * exec, a file, an update, the removal) runs in a child started with
 * proc_start_fn that does the blocking HTTP and exits; poll() reaps the
 * children and turns their ends into events. An exec's child tells the
 * parent what it learnt (the engine's exec id, the host pid, how it
 * ended) through a small file under STATE_DIR/docker, because children
 * keep no fd but their stdio. A background process's client outlives the
 * daemon (backend-docker-keep.c says how). The exec client itself is in
 * backend-docker-exec.c, file execs in backend-docker-files.c, what
 * restarts of the daemon need in backend-docker-keep.c. */
#include "config.h"
#include "backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend-docker-internal.h"
#include "backend-proc.h"
#include "cleanup.h"
#include "clock.h"
#include "docker-client.h"
#include "fdio.h"
#include "encode.h"
#include "files.h"
#include "init-protocol.h"
#include "keep-waiter.h"
#include "mount.h"
#include "oci-spec.h"
#include "userns.h"

#define PING_TIMEOUT_MS 1000
#define DESTROY_ATTEMPTS 3

struct docker_settings docker_cfg = { .socket = "/run/docker.sock", .prefix = "warren-", .host_image = "warren-minimal" };

struct dexec {
	struct dexec *next;
	uint32_t id;
	enum backend_exec_kind kind;
	struct proc proc;
	bool ended;                /* reaped; its events are out or queued */
	bool killed;               /* exec_kill asked for it */
	bool exited_pending;       /* EXEC_FAILED was reported, EXITED is next */
	int status;                /* EXITED's wait status */
	uint64_t oom_before;       /* the container's OOM kills when it started */
	bool kept;                 /* its client outlives the daemon, holding our ends */
	int client_pidfd;          /* kept, taken back: its client is not our child, -1 */
	char argv0[256];           /* for the message native gives: "exec ARGV0: …" */
	char info_path[600];
};

struct backend_box {
	char name[128];            /* its engine name (kept: once the rename is through) */
	char created_as[128];      /* kept: the name it was created with */
	char image[256];
	char id[72];               /* the engine's container id, once created */
	pid_t init_pid;
	unsigned long long init_start; /* its start time, so a reused pid is not ours */
	json_t *create_body;
	json_t *seccomp;
	uint64_t tmp_size, workspace_size;
	struct proc create;
	enum { BOX_CREATING, BOX_READY, BOX_FAILED, BOX_DESTROYING } state;
	bool died_reported;
	struct dexec *execs;
	struct proc destroy;
	unsigned destroy_attempts;
	uint64_t alive_checked_ms;  /* when init_gone last read /proc */
	bool kept;                  /* it outlives the daemon (docker_keep) */
	struct proc rename;         /* kept: the rename to its kept name */
};

/* ---- settings and health --------------------------------------------- */

static int docker_init(const struct backend_settings *s, wr_error *e)
{
	if (s->docker.socket)
		snprintf(docker_cfg.socket, sizeof docker_cfg.socket, "%s", s->docker.socket);
	if (s->docker.image_prefix)
		snprintf(docker_cfg.prefix, sizeof docker_cfg.prefix, "%s", s->docker.image_prefix);
	if (s->docker.host_image)
		snprintf(docker_cfg.host_image, sizeof docker_cfg.host_image, "%s", s->docker.host_image);
	if (s->cgroup_prefix)
		snprintf(docker_cfg.cgroup_prefix, sizeof docker_cfg.cgroup_prefix, "%s", s->cgroup_prefix);
	docker_cfg.verbose = s->verbose;
	docker_cfg.daemon_pid = getpid();
	snprintf(docker_cfg.state_dir, sizeof docker_cfg.state_dir, "%s/docker", s->state_dir ? s->state_dir : "/run/warren");
	if (mkdir(docker_cfg.state_dir, 0700) < 0 && errno != EEXIST)
		return wr_error_set(e, errno, "mkdir %s", docker_cfg.state_dir);
	return 0;
}

static void docker_fini(void)
{
	if (docker_cfg.state_dir[0])
		rmdir(docker_cfg.state_dir); /* empty unless a sandbox is still being removed */
}

static int docker_health(wr_error *e)
{
	struct stat st;
	if (stat(docker_cfg.socket, &st) < 0)
		return wr_error_set(e, errno, "docker engine socket %s", docker_cfg.socket);
	struct docker_request rq = { .method = "GET", .path = "/_ping", .timeout_ms = PING_TIMEOUT_MS };
	struct docker_http h;
	wr_error ce = { 0 };
	int r = docker_call(docker_cfg.socket, &rq, &h, &ce);
	if (r < 0) {
		docker_http_free(&h);
		return wr_error_set(e, -r, "docker engine at %s: %s", docker_cfg.socket, ce.message);
	}
	_cleanup_free_ char *api = docker_http_header(&h, "Api-Version");
	bool ok = h.status == 200 && api && h.body_len >= 2 && !memcmp(h.body, "OK", 2);
	r = ok ? 0 : wr_error_set(e, EPROTO, "%s does not answer as a Docker API (GET /_ping: HTTP %d)", docker_cfg.socket,
				  h.status);
	docker_http_free(&h);
	/* A healthy engine, checked from a child: what daemons that died
	 * since start-up left goes now, and an engine that cannot list its
	 * containers is this check's warning (backend.h). */
	if (r == 0)
		docker_sweep(e);
	return r;
}

/* podman's compat API differs from dockerd in two places we use: seccomp=
 * takes a file instead of the profile, and tmpfs wants "U" for ownership. */
static bool engine_is_podman(void)
{
	struct docker_request rq = { .method = "GET", .path = "/_ping", .timeout_ms = CALL_TIMEOUT_MS };
	struct docker_http h;
	bool podman = false;
	if (docker_call(docker_cfg.socket, &rq, &h, NULL) >= 0) {
		_cleanup_free_ char *v = docker_http_header(&h, "Libpod-Api-Version");
		podman = v != NULL;
	}
	docker_http_free(&h);
	return podman;
}

/* ---- create ---------------------------------------------------------- */

static const char *ulimit_name(int resource)
{
	switch (resource) {
	case RLIMIT_CORE: return "core";
	case RLIMIT_NOFILE: return "nofile";
	case RLIMIT_FSIZE: return "fsize";
	case RLIMIT_STACK: return "stack";
	case RLIMIT_CPU: return "cpu";
	case RLIMIT_NPROC: return "nproc";
	case RLIMIT_MEMLOCK: return "memlock";
	case RLIMIT_AS: return "as";
	}
	return NULL;
}

static json_t *ulimit_json(int resource, uint64_t soft, uint64_t hard)
{
	json_int_t s = soft == RLIM_INFINITY ? -1 : (json_int_t)soft;
	json_int_t h = hard == RLIM_INFINITY ? -1 : (json_int_t)hard;
	return json_pack("{s:s, s:I, s:I}", "Name", ulimit_name(resource), "Soft", s, "Hard", h);
}

/* The policy's rlimits; nofile and nproc are always set because engines
 * default them above what a process without CAP_SYS_RESOURCE may raise
 * to (podman: nproc 4M, fails in runc): unset, they are the daemon's own,
 * as natively, nproc at most pid_max (no more processes can exist). */
static json_t *ulimits_json(const struct policy *p)
{
	json_t *a = json_array();
	bool have_nofile = false, have_nproc = false;
	for (size_t i = 0; a && i < POLICY_RLIMIT_COUNT; i++) {
		const struct policy_rlimit *rl = &p->rlimits[i];
		if (!rl->set || !ulimit_name(rl->resource))
			continue;
		have_nofile |= rl->resource == RLIMIT_NOFILE;
		have_nproc |= rl->resource == RLIMIT_NPROC;
		json_array_append_new(a, ulimit_json(rl->resource, rl->value, rl->value));
	}
	struct rlimit own;
	if (a && !have_nofile && getrlimit(RLIMIT_NOFILE, &own) == 0)
		json_array_append_new(a, ulimit_json(RLIMIT_NOFILE, own.rlim_cur, own.rlim_max));
	if (a && !have_nproc && getrlimit(RLIMIT_NPROC, &own) == 0) {
		unsigned long long pid_max = 4194304;
		_cleanup_fclose_ FILE *f = fopen("/proc/sys/kernel/pid_max", "re");
		if (f && fscanf(f, "%llu", &pid_max) != 1)
			pid_max = 4194304;
		if (own.rlim_max > pid_max)
			own.rlim_max = pid_max;
		if (own.rlim_cur > own.rlim_max)
			own.rlim_cur = own.rlim_max;
		json_array_append_new(a, ulimit_json(RLIMIT_NPROC, own.rlim_cur, own.rlim_max));
	}
	return a;
}

json_t *docker_strv_json(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; a && v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* The body of POST /containers/create, engine-neutral; create_child adds
 * what differs between engines (seccomp, tmpfs ownership). Init: the
 * engine's small init (docker-init, podman's catatonit) is pid 1 and reaps
 * what commands orphan, so zombies never count against the pids limit. */
static json_t *create_body(const struct backend_spec *spec, const char *image)
{
	const struct policy *p = spec->policy;
	const struct policy_limits *l = &p->limits;
	json_t *binds = json_array();
	for (size_t i = 0; binds && i < p->n_mounts; i++) {
		_cleanup_free_ char *b = NULL;
		if (asprintf(&b, "%s:%s:ro", p->mounts[i].source, p->mounts[i].target) > 0)
			json_array_append_new(binds, json_string(b));
	}
	json_t *host = json_pack("{s:s, s:b, s:[s], s:o, s:b, s:b, s:o}", "NetworkMode",
				 p->network == NET_HOST ? "host" : "none", "ReadonlyRootfs", 1, "CapDrop", "ALL",
				 "Ulimits", ulimits_json(p), "Init", 1, "AutoRemove", 0, "Binds", binds);
	if (!host)
		return NULL;
	if (l->memory) {
		json_object_set_new(host, "Memory", json_integer((json_int_t)l->memory));
		json_object_set_new(host, "MemorySwap", json_integer((json_int_t)l->memory)); /* no swap */
	}
	if (l->pids)
		json_object_set_new(host, "PidsLimit", json_integer((json_int_t)l->pids));
	/* what a native sandbox masks, in place of the engine's defaults (the
	 * list replaces them), and the policy's "hide" */
	json_t *masked = docker_strv_json((char *const *)mount_masked_paths);
	for (size_t i = 0; masked && i < p->n_hide; i++)
		json_array_append_new(masked, json_string(p->hide[i]));
	json_object_set_new(host, "MaskedPaths", masked);
	json_object_set_new(host, "ReadonlyPaths", docker_strv_json((char *const *)mount_readonly_paths));
	if (l->cpu_millis)
		json_object_set_new(host, "NanoCpus", json_integer((json_int_t)l->cpu_millis * 1000000));
	return json_pack("{s:s, s:[s,s], s:s, s:s, s:s, s:o, s:{s:s, s:s, s:s}, s:o}", "Image", image, "Cmd", "sleep",
			 "infinity", "User", "1000:1000", "WorkingDir", "/workspace", "Hostname",
			 p->hostname ? p->hostname : "sandbox", "Env", docker_strv_json(p->env), "Labels",
			 "io.warren.daemon", "1", "io.warren.image", spec->image, DOCKER_LABEL_STATE, docker_cfg.state_dir,
			 "HostConfig", host);
}

/* Adds Tmpfs and SecurityOpt for the engine at hand. */
static int finish_create_body(struct backend_box *b, bool podman,
			      char *profile_path, size_t path_len, wr_error *e)
{
	json_t *host = json_object_get(b->create_body, "HostConfig");
	char tmp[128], ws[160];
	snprintf(tmp, sizeof tmp, "rw,nosuid,nodev,size=%" PRIu64 ",mode=1777", b->tmp_size);
	/* podman 4 refuses uid=/gid=; its "U" chowns the tmpfs to the User */
	snprintf(ws, sizeof ws, "rw,nosuid,nodev,size=%" PRIu64 ",mode=0755,%s", b->workspace_size,
		 podman ? "U" : "uid=1000,gid=1000");
	json_object_set_new(host, "Tmpfs", json_pack("{s:s, s:s}", "/tmp", tmp, "/workspace", ws));
	/* /dev/shm as natively: the size of /tmp, not the engine's 64M */
	json_object_set_new(host, "ShmSize", json_integer((json_int_t)b->tmp_size));
	_cleanup_free_ char *profile = json_dumps(b->seccomp, JSON_COMPACT);
	if (!profile)
		return wr_error_set(e, ENOMEM, "seccomp profile");
	_cleanup_free_ char *opt = NULL;
	if (podman) {
		/* podman reads seccomp=PATH as a file (dockerd takes the JSON) */
		snprintf(profile_path, path_len, "%s/%s.seccomp.json", docker_cfg.state_dir, b->name);
		_cleanup_close_ int fd = open(profile_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, profile, strlen(profile)) != (ssize_t)strlen(profile))
			return wr_error_set(e, errno, "write %s", profile_path);
		if (asprintf(&opt, "seccomp=%s", profile_path) < 0)
			return wr_error_set(e, ENOMEM, "seccomp");
	} else if (asprintf(&opt, "seccomp=%s", profile) < 0) {
		return wr_error_set(e, ENOMEM, "seccomp");
	}
	json_t *sec = json_pack("[s,s]", "no-new-privileges", opt);
	if (podman && sec) {
		/* podman 4's compat API ignores MaskedPaths; it takes
		 * "mask=P1:P2" (and dockerd would refuse that) */
		json_t *masked = json_object_get(host, "MaskedPaths");
		size_t len = strlen("mask="), i;
		json_t *v;
		json_array_foreach(masked, i, v)
			len += strlen(json_string_value(v)) + 1;
		_cleanup_free_ char *mask = malloc(len + 1);
		if (!mask)
			return wr_error_set(e, ENOMEM, "mask");
		char *o = stpcpy(mask, "mask=");
		json_array_foreach(masked, i, v)
			o = stpcpy(stpcpy(o, i ? ":" : ""), json_string_value(v));
		json_array_append_new(sec, json_string(mask));
	}
	json_object_set_new(host, "SecurityOpt", sec);
	return 0;
}

/* A create is cancelled by SIGTERM (docker_destroy_step sends it, and
 * PR_SET_PDEATHSIG when the daemon dies), never in the middle of a
 * request: the engine goes on with a create whose client is gone, so the
 * container would stay with nobody to remove it, and a removal by name
 * meeting it there breaks the engine (backend-docker-stale.c). The
 * child finishes the request, then removes what it made. */
static volatile sig_atomic_t create_cancelled;

static void cancel_create(int sig)
{
	(void)sig;
	create_cancelled = 1;
}

static void cancel_on_sigterm(void)
{
	struct sigaction sa = { .sa_handler = cancel_create };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN); /* with the daemon gone, our output has no reader */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != docker_cfg.daemon_pid)
		create_cancelled = 1; /* it died before the prctl */
}

/* The last line of a cancelled create that left nothing in the engine. */
#define CREATE_CANCELLED "cancelled"

static int remove_cancelled(const struct backend_box *b)
{
	wr_error e = { 0 };
	if (docker_remove_by_id(b->id, CALL_TIMEOUT_MS, &e) < 0) {
		fprintf(stderr, "container %s: %s\n", b->name, e.message);
		return 1;
	}
	dprintf(1, CREATE_CANCELLED "\n");
	return 1;
}

/* Child: creates and starts the container. It says "created ID" once the
 * engine made it; its last line is "ready ID PID", CREATE_CANCELLED, or
 * why it failed. */
static int create_child(void *arg)
{
	struct backend_box *b = arg;
	cancel_on_sigterm();
	wr_error e = { 0 };
	char profile_path[700] = "", url[256];
	if (finish_create_body(b, engine_is_podman(), profile_path, sizeof profile_path, &e) < 0) {
		fprintf(stderr, "%s\n", e.message);
		return 1;
	}
	if (create_cancelled) {
		if (profile_path[0])
			unlink(profile_path);
		dprintf(1, CREATE_CANCELLED "\n");
		return 1;
	}
	_cleanup_free_ char *name = docker_url_escape(b->name);
	snprintf(url, sizeof url, DOCKER_API_PREFIX "/containers/create?name=%s", name);
	json_t *out = NULL;
	int st = docker_call_json(docker_cfg.socket, "POST", url, b->create_body, CALL_TIMEOUT_MS, &out, &e);
	if (profile_path[0])
		unlink(profile_path); /* the engine has read it into the container's config */
	const char *id = json_string_value(json_object_get(out, "Id"));
	if (st != 201 || !id) {
		fprintf(stderr, "create container %s (image %s): %s\n", b->name, b->image,
			st == 201 ? "the engine's answer has no Id" : e.message);
		json_decref(out);
		return 1;
	}
	snprintf(b->id, sizeof b->id, "%s", id);
	json_decref(out);
	/* dprintf: stdio's buffer may still hold bytes of the daemon's from before the fork */
	dprintf(1, "created %s\n", b->id);
	if (create_cancelled)
		return remove_cancelled(b);
	/* by id from here on: the name may be a new container's one day */
	snprintf(url, sizeof url, DOCKER_API_PREFIX "/containers/%s/start", b->id);
	st = docker_call_json(docker_cfg.socket, "POST", url, NULL, CALL_TIMEOUT_MS, NULL, &e);
	if (create_cancelled)
		return remove_cancelled(b);
	if (st != 204 && st != 304) {
		fprintf(stderr, "start container %s: %s\n", b->name, e.message);
		return 1;
	}
	snprintf(url, sizeof url, DOCKER_API_PREFIX "/containers/%s/json", b->id);
	st = docker_call_json(docker_cfg.socket, "GET", url, NULL, CALL_TIMEOUT_MS, &out, &e);
	if (create_cancelled) {
		json_decref(out);
		return remove_cancelled(b);
	}
	json_t *state = json_object_get(out, "State");
	json_int_t pid = json_integer_value(json_object_get(state, "Pid"));
	if (st != 200 || !json_is_true(json_object_get(state, "Running"))) {
		fprintf(stderr, "container %s did not stay up: %.400s\n", b->name,
			json_string_value(json_object_get(state, "Error")) ?: e.message);
		json_decref(out);
		return 1;
	}
	dprintf(1, "ready %s %lld\n", b->id, (long long)pid);
	json_decref(out);
	return 0;
}

/* The engine's image for a warren image name, into buf. */
static void engine_image(const struct backend_spec *spec, char *buf, size_t len)
{
	if (!spec->image || !strcmp(spec->image, "host"))
		snprintf(buf, len, "%s", docker_cfg.host_image);
	else
		snprintf(buf, len, "%s%s", docker_cfg.prefix, spec->image);
}

/* The id a create child said the engine made ("created ID"), into b->id:
 * its container is removed by that id. */
static void learn_created_id(struct backend_box *b)
{
	char out[sizeof b->create.tail + 1];
	memcpy(out, b->create.tail, b->create.tail_len);
	out[b->create.tail_len] = '\0';
	for (const char *line = out; line;) {
		size_t n = strncmp(line, "created ", 8) ? 0 : strspn(line + 8, "0123456789abcdef");
		if (n >= 12 && n < sizeof b->id) {
			snprintf(b->id, sizeof b->id, "%.*s", (int)n, line + 8);
			return;
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
}

static void box_free(struct backend_box *b)
{
	json_decref(b->create_body);
	json_decref(b->seccomp);
	free(b);
}

static int docker_create(const struct backend_spec *spec, struct backend_box **out, wr_error *e)
{
	int r = backend_check_network(&backend_docker_ops, spec->policy, e);
	if (r < 0)
		return r;
	struct backend_box *b = calloc(1, sizeof *b);
	if (!b)
		return wr_error_set(e, ENOMEM, "sandbox");
	b->create = b->destroy = b->rename = (struct proc)PROC_INIT;
	b->init_pid = -1;
	snprintf(b->name, sizeof b->name, "%s", spec->name);
	engine_image(spec, b->image, sizeof b->image);
	b->tmp_size = policy_tmpfs_size(spec->policy->limits.tmp, spec->policy->limits.memory);
	b->workspace_size = policy_tmpfs_size(spec->policy->limits.workspace, spec->policy->limits.memory);
	b->seccomp = oci_seccomp_json(spec->policy, e);
	if (!b->seccomp) {
		box_free(b);
		return -EINVAL;
	}
	b->create_body = create_body(spec, b->image);
	if (!b->create_body) {
		box_free(b);
		return wr_error_set(e, ENOMEM, "container spec");
	}
	r = proc_start_fn(&b->create, create_child, b, NULL, e);
	if (r < 0) {
		box_free(b);
		return r;
	}
	*out = b;
	return 0;
}

/* ---- command execs (child side) -------------------------------------- */

struct exec_job {
	const struct backend_box *box;
	const struct backend_exec *x;
	const char *info_path;
	bool keep;                 /* the client outlives the daemon */
	const char *stdin_closed;  /* kept: the marker that asks it to drop stdin */
};

static int command_child(void *arg)
{
	struct exec_job *j = arg;
	wr_error e = { 0 };
	_cleanup_close_ int info = open(j->info_path, O_RDWR | O_APPEND | O_CLOEXEC);
	if (j->keep) {
		keep_waiter_enter(j->stdin_closed);
		/* (held until pump_stream waits: no call of the engine's is cut short) */
		sigset_t urg;
		sigemptyset(&urg);
		sigaddset(&urg, SIGURG);
		sigprocmask(SIG_BLOCK, &urg, NULL);
		/* what proves it to the next daemon, before the command exists */
		docker_info_append(info, "client %d %llu\n", (int)getpid(), docker_proc_start_time(getpid()));
	}
	int r = docker_engine_exec(j->box->id, j->x->argv, j->x->envp, j->x->cwd, info, &e);
	if (r < 0)
		docker_info_append(info, "failed %d %s\n", -r, e.message);
	else
		docker_info_append(info, "exit %d\n", r);
	if (j->keep)
		keep_waiter_linger(docker_info_taker, &info);
	return r < 0 ? 127 : r;
}

static int file_child(void *arg)
{
	struct exec_job *j = arg;
	return docker_file_exec(j->box->id, j->x);
}

/* ---- execs (parent side) --------------------------------------------- */

static struct dexec *find_exec(struct backend_box *b, uint32_t id)
{
	for (struct dexec *d = b->execs; d; d = d->next)
		if (d->id == id)
			return d;
	return NULL;
}

static int docker_stats(struct backend_box *b, struct backend_stats *st);

static int docker_exec_start(struct backend_box *b, const struct backend_exec *x, wr_error *e)
{
	if (b->state != BOX_READY)
		return wr_error_set(e, EAGAIN, "container %s is not running", b->name);
	if (find_exec(b, x->id))
		return wr_error_set(e, EEXIST, "exec %u", x->id);
	struct dexec *d = calloc(1, sizeof *d);
	if (!d)
		return wr_error_set(e, ENOMEM, "exec");
	d->id = x->id;
	d->kind = x->kind;
	d->proc = (struct proc)PROC_INIT;
	d->client_pidfd = -1;
	/* started after the session took the sandbox: the client holds our ends */
	d->kept = x->keep && b->kept && x->kind == BACKEND_EXEC_COMMAND;
	struct backend_stats st;
	docker_stats(b, &st);
	d->oom_before = st.oom_kills;
	if (x->kind == BACKEND_EXEC_COMMAND)
		snprintf(d->argv0, sizeof d->argv0, "%s", x->argv[0]);
	snprintf(d->info_path, sizeof d->info_path, "%s/%s.%u", docker_cfg.state_dir, b->name, x->id);
	char marker[sizeof d->info_path + 16];
	docker_stdin_marker(d->info_path, marker, sizeof marker);
	unlink(marker);
	/* created here, so the child only appends: it never makes one again */
	int r;
	_cleanup_close_ int info = open(d->info_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (info < 0) {
		r = wr_error_set(e, errno, "%s", d->info_path);
		free(d);
		return r;
	}
	/* the child gets a copy of this memory at fork: pointers into x stay good */
	struct exec_job job = { .box = b, .x = x, .info_path = d->info_path, .keep = d->kept, .stdin_closed = marker };
	int (*child)(void *) = x->kind == BACKEND_EXEC_COMMAND ? command_child : file_child;
	r = d->kept ? proc_start_fn_keeping(&d->proc, child, &job, x->stdio, x->own, e)
			: proc_start_fn(&d->proc, child, &job, x->stdio, e);
	if (r < 0) {
		unlink(d->info_path);
		free(d);
		return r;
	}
	d->next = b->execs;
	b->execs = d;
	return 0;
}

static int docker_exec_kill(struct backend_box *b, uint32_t id)
{
	struct dexec *d = find_exec(b, id);
	if (!d)
		return -ENOENT;
	if (d->ended)
		return 0;
	d->killed = true;
	if (d->kind != BACKEND_EXEC_COMMAND && d->kind != BACKEND_FILE_DELETE) {
		/* a file exec is our own client: its end is the end */
		if (d->proc.pid > 0)
			kill(d->proc.pid, SIGKILL);
		return 0;
	}
	struct exec_info in;
	docker_info_read(d->info_path, &in);
	/* until the child learnt the pid there is nothing to kill: next tick */
	if (in.pid > 0 && docker_proc_start_time(in.pid) == in.start)
		docker_kill_tree(in.pid);
	return 0;
}

/* Its files and what it holds; the process is gone or being killed. */
static void exec_free(struct dexec *d)
{
	char marker[sizeof d->info_path + 16];
	docker_stdin_marker(d->info_path, marker, sizeof marker);
	unlink(d->info_path);
	unlink(marker);
	if (d->client_pidfd >= 0)
		close(d->client_pidfd);
	free(d);
}

/* A kept command's stdin: its client drops the copy it holds. */
static int docker_exec_close_stdin(struct backend_box *b, uint32_t id)
{
	struct dexec *d = find_exec(b, id);
	if (!d || !d->kept || d->ended)
		return 0;
	char marker[sizeof d->info_path + 16];
	docker_stdin_marker(d->info_path, marker, sizeof marker);
	return keep_close_stdin(marker, d->proc.pid, d->client_pidfd);
}

static int docker_exec_release(struct backend_box *b, uint32_t id)
{
	for (struct dexec **pp = &b->execs; *pp; pp = &(*pp)->next) {
		struct dexec *d = *pp;
		if (d->id != id)
			continue;
		if (!d->ended || d->exited_pending)
			return -EBUSY;
		*pp = d->next;
		exec_free(d);
		return 0;
	}
	return -ENOENT;
}

/* The reaped child of d as events: EXEC_FAILED (+ EXITED next) or EXITED. */
static int exec_end_event(struct backend_box *b, struct dexec *d, struct backend_event *ev)
{
	struct exec_info in;
	int child = d->proc.status;
	ev->exec_id = d->id;
	ev->type = BACKEND_EV_EXITED;
	if (d->kind != BACKEND_EXEC_COMMAND) {
		ev->status = d->killed && WIFSIGNALED(child) ? W_EXITCODE(0, SIGKILL) : child;
		return 1;
	}
	docker_info_read(d->info_path, &in);
	if (d->killed) {
		ev->status = W_EXITCODE(0, SIGKILL);
	} else if (in.failed_err) {
		ev->type = BACKEND_EV_EXEC_FAILED;
		ev->err = in.failed_err;
		if (in.failed_err == ENOENT || in.failed_err == EACCES || in.failed_err == ENOEXEC)
			snprintf(ev->message, sizeof ev->message, "exec %s: %s", d->argv0, strerror(in.failed_err));
		else
			snprintf(ev->message, sizeof ev->message, "%s", in.message);
		d->status = W_EXITCODE(in.failed_err == ENOENT ? 127 : 126, 0);
		d->exited_pending = true;
	} else if (in.have_exit) {
		struct backend_stats st;
		/* engines report a death by signal as 128+N; an OOM kill we can tell */
		if (in.exit_code == 128 + SIGKILL && docker_stats(b, &st) == 0 && st.oom_kills > d->oom_before)
			ev->status = W_EXITCODE(0, SIGKILL);
		else
			ev->status = W_EXITCODE(in.exit_code & 0xff, 0);
	} else {
		ev->status = child; /* the client itself died: its status is all we know */
	}
	return 1;
}

/* ---- poll ------------------------------------------------------------ */

/* poll runs for every box on every tick (20 ms): whether a container's
 * init still lives is read from /proc at most every 250 ms. */
#define ALIVE_CHECK_MS 250

static bool alive_check_due(struct backend_box *b)
{
	uint64_t now = monotonic_ms();
	if (now - b->alive_checked_ms < ALIVE_CHECK_MS)
		return false;
	b->alive_checked_ms = now;
	return true;
}

static bool init_gone(const struct backend_box *b)
{
	return b->init_pid > 0 && docker_proc_start_time(b->init_pid) != b->init_start;
}

static int docker_poll(struct backend_box *b, struct backend_event *ev)
{
	memset(ev, 0, sizeof *ev);
	if (b->state == BOX_CREATING) {
		char msg[1024];
		if (proc_poll(&b->create, msg, sizeof msg) != 1)
			return 0;
		int pid;
		if (WIFEXITED(b->create.status) && WEXITSTATUS(b->create.status) == 0 &&
		    sscanf(msg, "ready %71s %d", b->id, &pid) == 2) {
			b->state = BOX_READY;
			b->init_pid = pid > 0 ? pid : -1;
			b->init_start = pid > 0 ? docker_proc_start_time(pid) : 0;
			ev->type = BACKEND_EV_READY;
		} else {
			b->state = BOX_FAILED;
			learn_created_id(b);
			ev->type = BACKEND_EV_SETUP_FAILED;
			ev->err = EIO;
			snprintf(ev->message, sizeof ev->message, "%s", msg[0] ? msg : "docker create failed");
		}
		return 1;
	}
	char msg[1024];
	if (b->rename.pid > 0 && proc_poll(&b->rename, msg, sizeof msg) == 1 && b->rename.status != 0)
		fprintf(stderr, "warrend: docker: %s (a restart takes it back under either name)\n", msg);
	for (struct dexec *d = b->execs; d; d = d->next) {
		if (d->exited_pending) {
			d->exited_pending = false;
			ev->type = BACKEND_EV_EXITED;
			ev->exec_id = d->id;
			ev->status = d->status;
			return 1;
		}
		if (!d->ended && proc_poll(&d->proc, NULL, 0) == 1) {
			d->ended = true;
			return exec_end_event(b, d, ev);
		}
		/* taken back: its client (not our child) ended; without an exit
		 * line in its file it was killed */
		if (!d->ended && d->client_pidfd >= 0 && keep_pidfd_ended(d->client_pidfd)) {
			d->ended = true;
			d->proc.status = W_EXITCODE(0, SIGKILL);
			return exec_end_event(b, d, ev);
		}
	}
	if (b->state == BOX_READY && !b->died_reported && alive_check_due(b) && init_gone(b)) {
		b->died_reported = true;
		ev->type = BACKEND_EV_DIED;
		snprintf(ev->message, sizeof ev->message, "container %s stopped", b->name);
		return 1;
	}
	return 0;
}

static int docker_event_fd(const struct backend_box *b)
{
	(void)b;
	return -1;
}

static ssize_t docker_parse_event(struct backend_box *b, const void *buf, size_t len, struct backend_event *ev)
{
	(void)b, (void)buf, (void)len, (void)ev;
	return -EBADMSG; /* no event fd: everything comes through poll */
}

/* ---- limits, stats ---------------------------------------------------- */

/* The init's cgroup directory of a controller ("memory" on v1, NULL for
 * the v2 line) as seen from the host. */
static bool init_cgroup(const struct backend_box *b, char *dir, size_t len)
{
	char path[64], line[1024];
	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)b->init_pid);
	_cleanup_fclose_ FILE *f = b->init_pid > 0 ? fopen(path, "re") : NULL;
	bool found = false;
	while (f && fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		char *ctl = strchr(line, ':'), *cg = ctl ? strchr(ctl + 1, ':') : NULL;
		if (!cg)
			continue;
		*cg++ = '\0';
		ctl++;
		bool v1_memory = !strcmp(ctl, "memory");
		if (v1_memory || (!found && !*ctl)) {
			snprintf(dir, len, "/sys/fs/cgroup%s%s", v1_memory ? "/memory" : "", cg);
			found = true;
			if (v1_memory)
				break;
		}
	}
	return found;
}

static uint64_t read_u64(const char *dir, const char *file, const char *key)
{
	char path[700], line[256];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	size_t klen = key ? strlen(key) : 0;
	while (f && fgets(line, sizeof line, f))
		if (!key)
			return strtoull(line, NULL, 10);
		else if (!strncmp(line, key, klen) && line[klen] == ' ')
			return strtoull(line + klen + 1, NULL, 10);
	return 0;
}

static int docker_stats(struct backend_box *b, struct backend_stats *st)
{
	char dir[600];
	memset(st, 0, sizeof *st);
	if (!init_cgroup(b, dir, sizeof dir))
		return 0;
	if (strstr(dir, "/sys/fs/cgroup/memory/") == dir) {
		st->memory_peak = read_u64(dir, "memory.max_usage_in_bytes", NULL);
		st->oom_kills = read_u64(dir, "memory.oom_control", "oom_kill");
	} else {
		st->memory_peak = read_u64(dir, "memory.peak", NULL) ?: read_u64(dir, "memory.current", NULL);
		st->oom_kills = read_u64(dir, "memory.events", "oom_kill");
	}
	return 0;
}

/* ---- teardown -------------------------------------------------------- */

/* Removes the container by the id its create gave, or by the one an
 * inspect of its name gives (never by name: backend-docker-stale.c). It
 * is seen through when the daemon dies meanwhile: cut off, the engine may
 * drop the removal and leave the container to a sweep (remove_stale). */
static int remove_child(void *arg)
{
	const struct backend_box *b = arg;
	prctl(PR_SET_PDEATHSIG, 0);
	signal(SIGPIPE, SIG_IGN);
	wr_error e = { 0 };
	int r = b->id[0] ? docker_remove_by_id(b->id, CALL_TIMEOUT_MS, &e)
			 : docker_remove_by_name(b->name, CALL_TIMEOUT_MS, &e);
	if (r == 0)
		return 0;
	fprintf(stderr, "container %s: %s\n", b->name, e.message);
	return 1;
}

static int docker_destroy_step(struct backend_box *b)
{
	char msg[1024];
	if (b->state != BOX_DESTROYING) {
		b->state = BOX_DESTROYING;
		/* a create in flight finishes its request, then removes what it
		 * made (create_child); the removal waits for it */
		if (b->create.pid > 0)
			kill(b->create.pid, SIGTERM);
		if (b->rename.pid > 0)
			proc_kill(&b->rename); /* (it is removed by its id) */
		/* removing the container kills everything in it; our clients go
		 * first (those taken back are not our children: below) */
		for (struct dexec **pp = &b->execs; *pp;) {
			struct dexec *d = *pp;
			proc_kill(&d->proc);
			if (d->client_pidfd >= 0 && !keep_pidfd_ended(d->client_pidfd)) {
				keep_kill(d->client_pidfd);
				pp = &d->next;
				continue;
			}
			*pp = d->next;
			exec_free(d);
		}
	}
	/* ... and are waited for: none outlives its container's removal */
	for (struct dexec **pp = &b->execs; *pp;) {
		struct dexec *d = *pp;
		if (!keep_pidfd_ended(d->client_pidfd))
			return -EBUSY;
		*pp = d->next;
		exec_free(d);
	}
	if (b->create.pid > 0) {
		if (proc_poll(&b->create, msg, sizeof msg) == 0)
			return -EBUSY;
		if (!strcmp(msg, CREATE_CANCELLED)) {
			box_free(b);
			return 0;
		}
		learn_created_id(b);
	}
	if (b->destroy.pid > 0) {
		if (proc_poll(&b->destroy, msg, sizeof msg) == 0)
			return -EBUSY;
		if (b->destroy.status == 0 || b->destroy_attempts >= DESTROY_ATTEMPTS) {
			if (b->destroy.status != 0)
				fprintf(stderr, "warrend: docker: %s (left for the next start's cleanup)\n", msg);
			box_free(b);
			return 0;
		}
	}
	b->destroy_attempts++;
	if (proc_start_fn(&b->destroy, remove_child, b, NULL, NULL) < 0 &&
	    b->destroy_attempts >= DESTROY_ATTEMPTS) {
		box_free(b);
		return 0;
	}
	return -EBUSY;
}

/* ---- restarts (backend-docker-keep.c) ---------------------------------- */

/* The container takes its kept name (what other daemons' sweeps spare)
 * through the engine, off the loop; execs address it by its id meanwhile.
 * Seen through when the daemon dies meanwhile, as removals are. */
static int rename_child(void *arg)
{
	const struct backend_box *b = arg;
	prctl(PR_SET_PDEATHSIG, 0);
	signal(SIGPIPE, SIG_IGN);
	wr_error e = { 0 };
	if (docker_rename(b->id, b->name, &e) == 0)
		return 0;
	fprintf(stderr, "rename container %s to %s: %s\n", b->created_as, b->name, e.message);
	return 1;
}

static int docker_keep(struct backend_box *b, const char *name, wr_error *e)
{
	if (b->state != BOX_READY || b->init_pid <= 0 || !b->id[0])
		return wr_error_set(e, ESRCH, "container %s is not running", b->name);
	if (b->kept)
		return wr_error_set(e, EALREADY, "container %s is kept already", b->name);
	snprintf(b->created_as, sizeof b->created_as, "%s", b->name);
	snprintf(b->name, sizeof b->name, "%s", name);
	int r = proc_start_fn(&b->rename, rename_child, b, NULL, e);
	if (r < 0) {
		snprintf(b->name, sizeof b->name, "%s", b->created_as);
		return r;
	}
	b->kept = true;
	return 0;
}

static json_t *docker_save(const struct backend_box *b)
{
	if (!b->kept || b->state != BOX_READY || init_gone(b))
		return NULL;
	return docker_saved_json(b->name, b->created_as, b->id, b->init_pid, b->init_start);
}

/* A kept command that runs on: followed through its client's pidfd. */
static void adopt_exec(struct backend_box *b, struct init_greeting_exec *x, int client)
{
	struct dexec *d = calloc(1, sizeof *d);
	if (d) {
		*d = (struct dexec){ .id = x->id, .kind = BACKEND_EXEC_COMMAND, .proc = PROC_INIT, .kept = true,
				     .client_pidfd = client, .next = b->execs };
		struct backend_stats st;
		docker_stats(b, &st);
		d->oom_before = st.oom_kills;
		snprintf(d->info_path, sizeof d->info_path, "%s/%s.%u", docker_cfg.state_dir, b->name, x->id);
		b->execs = d;
		return;
	}
	char path[700];
	struct exec_info in;
	snprintf(path, sizeof path, "%s/%s.%u", docker_cfg.state_dir, b->name, x->id);
	docker_info_read(path, &in);
	keep_kill(client);
	close(client);
	if (in.pid > 0 && docker_proc_start_time(in.pid) == in.start)
		docker_kill_tree(in.pid);
	unlink(path);
	for (int i = 0; i < x->n_fds; i++)
		close(x->fds[i]);
	x->n_fds = 0;
	x->running = false;
	x->status = W_EXITCODE(0, SIGKILL);
	snprintf(x->error, sizeof x->error, "killed when warrend restarted: out of memory");
}

static int docker_adopt(const json_t *saved, char *name, struct backend_box **out, struct init_greeting *found,
			wr_error *e)
{
	struct docker_saved sv;
	char image[256];
	int r = docker_saved_parse(saved, &sv, e);
	if (r < 0 || (r = docker_saved_prove(&sv, image, sizeof image, e)) < 0)
		return r;
	struct backend_box *b = calloc(1, sizeof *b);
	if (!b)
		return wr_error_set(e, ENOMEM, "sandbox");
	b->create = b->destroy = b->rename = (struct proc)PROC_INIT;
	b->state = BOX_READY;
	b->kept = true;
	b->init_pid = sv.init_pid;
	b->init_start = (unsigned long long)sv.init_start;
	if (strcmp(name, sv.name) && (r = docker_rename(sv.id, name, e)) < 0) {
		free(b);
		return r;
	}
	snprintf(b->name, sizeof b->name, "%s", name);
	snprintf(b->created_as, sizeof b->created_as, "%s", sv.created_as);
	snprintf(b->id, sizeof b->id, "%s", sv.id);
	snprintf(b->image, sizeof b->image, "%s", image);
	int clients[ARRAY_SIZE(found->execs)];
	docker_settle_left_execs(&sv, name, found, clients);
	for (size_t i = 0; i < found->n; i++)
		if (found->execs[i].running)
			adopt_exec(b, &found->execs[i], clients[i]);
	*out = b;
	return 0;
}

/* ---- the rest --------------------------------------------------------- */

static pid_t docker_init_pid(const struct backend_box *b)
{
	return b->init_pid;
}

/* "docker container ID (IMAGE), cgroup v1 /sys/fs/cgroup/{memory,pids,cpu}/REL"
 * (the engine's cgroupfs layout puts every controller at REL) or
 * "…, cgroup v2 DIR", as native sandboxes describe theirs. */
static void docker_describe(const struct backend_box *b, char *buf, size_t len)
{
	char dir[600];
	int n = snprintf(buf, len, "docker container %.12s (%s)", b->id[0] ? b->id : b->name, b->image);
	if (n < 0 || (size_t)n >= len || !init_cgroup(b, dir, sizeof dir))
		return;
	const char *v1 = "/sys/fs/cgroup/memory/";
	if (!strncmp(dir, v1, strlen(v1)))
		snprintf(buf + n, len - (size_t)n, ", cgroup v1 /sys/fs/cgroup/{memory,pids,cpu}/%s", dir + strlen(v1));
	else
		snprintf(buf + n, len - (size_t)n, ", cgroup v2 %s", dir);
}

const struct backend_ops backend_docker_ops = {
	.name = "docker",
	.start_timeout_ms = 60000,
	.init = docker_init,
	.fini = docker_fini,
	.health = docker_health,
	.create = docker_create,
	.event_fd = docker_event_fd,
	.parse_event = docker_parse_event,
	.poll = docker_poll,
	.exec_start = docker_exec_start,
	.exec_kill = docker_exec_kill,
	.exec_release = docker_exec_release,
	.exec_close_stdin = docker_exec_close_stdin,
	.stats = docker_stats,
	.destroy_step = docker_destroy_step,
	/* no open_workspace: files are execs through the archive API */
	.init_pid = docker_init_pid,
	.describe = docker_describe,
	.remove_stale = docker_remove_stale,
	.keep = docker_keep,
	.save = docker_save,
	.adopt = docker_adopt,
	.discard = docker_discard,
};
