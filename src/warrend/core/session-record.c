/* Session records: what a restarted warrend needs to take its sessions
 * back, one JSON file per kept session under STATE/sessions (root only),
 * replaced whole (written aside, synced, renamed over) whenever the
 * session changes; and, at start, taking back what the files describe
 * (warrend(8) RESTARTS). */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "backends.h"
#include "cleanup.h"
#include "daemon.h"
#include "init-protocol.h"
#include "process.h"
#include "sandbox.h"
#include "session-internal.h"

#define RECORD_VERSION 1
/* last_used alone is written this often at most (an exec touches it): a
 * restart may shorten an idle session's life by up to this much. */
#define RECORD_TOUCH_MS 5000

static int sessions_dir = -1;
static uint64_t last_flush_ms;

static void record_name(const char *id, char *buf, size_t len)
{
	snprintf(buf, len, "%s.json", id);
}

json_t *strv_json(char *const *v)
{
	json_t *a = json_array();
	for (; a && v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static json_t *record_of(const struct session *s)
{
	const struct policy_limits *l = &s->limits;
	struct policy effective = *pool_policy(s->pool);
	effective.limits = *l;
	time_t wall = time(NULL);
	uint64_t now = daemon_now_ms();
	uint64_t idle = now > s->last_used_ms ? now - s->last_used_ms : 0;
	char where[512];
	int pid;
	box_describe(s->box, where, sizeof where, &pid);
	json_t *backend_state = box_save(s->box);
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:o,"
			 " s:I, s:I, s:I, s:I, s:b, s:s, s:i, s:o, s:i, s:s, s:b, s:o, s:o}",
			 "version", RECORD_VERSION, "id", s->id, "owner", s->owner->name, "image", pool_image(s->pool),
			 "policy", pool_policy_name(s->pool), "backend", backend_kind_name(pool_backend(s->pool)),
			 "network", policy_net_mode_name(pool_policy(s->pool)->network),
			 "policy_effective", policy_to_json(&effective),
			 "limits", "memory", (json_int_t)l->memory, "pids", (json_int_t)l->pids, "cpu_millis",
			 (json_int_t)l->cpu_millis, "timeout_ms", (json_int_t)l->timeout_ms, "workspace",
			 (json_int_t)l->workspace, "tmp", (json_int_t)l->tmp, "output", (json_int_t)l->output,
			 "env", strv_json(s->env), "idle_timeout_ms", (json_int_t)s->idle_timeout_ms, "max_lifetime_ms",
			 (json_int_t)s->max_lifetime_ms, "created", (json_int_t)s->created, "last_used",
			 (json_int_t)(wall - (time_t)(idle / 1000)), "pooled", s->pooled, "request_id", s->request_id,
			 "next_pid", (int)s->next_pid, "processes", processes_save(s), "init_pid", pid, "cgroup", where,
			 "kept", box_kept(s->box), "backend_state", backend_state ? backend_state : json_null(),
			 "notes", s->notes ? json_incref(s->notes) : json_object());
}

/* write aside, sync, rename over: a reader (the next daemon) sees the
 * old record or the new, never half of one */
static int write_atomically(const char *name, const char *text)
{
	char tmp[128];
	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	_cleanup_close_ int fd = openat(sessions_dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	size_t len = strlen(text);
	int r = 0;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		r = errno ? -errno : -EIO;
	if (r == 0 && renameat(sessions_dir, tmp, sessions_dir, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(sessions_dir, tmp, 0);
	return r;
}

void session_record_write(struct session *s)
{
	if (s->kind != SESSION_KEPT || sessions_dir < 0 || !s->box || s->ending)
		return;
	s->record_dirty = false;
	json_t *o = record_of(s);
	session_net_save(s, o);
	_cleanup_free_ char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	char name[64];
	record_name(s->id, name, sizeof name);
	int r = text ? write_atomically(name, text) : -ENOMEM;
	if (r < 0) {
		LOG_CTX_SCOPE(NULL, s->id);
		daemon_log("session %s: could not write its record: %s (a restart would not find it)", s->id,
			   strerror(-r));
	}
}

void session_record_remove(const struct session *s)
{
	char name[64];
	record_name(s->id, name, sizeof name);
	if (s->kind == SESSION_KEPT && sessions_dir >= 0)
		unlinkat(sessions_dir, name, 0);
}

void session_records_flush(struct list *sessions, bool now)
{
	uint64_t t = daemon_now_ms();
	if (!now && t - last_flush_ms < RECORD_TOUCH_MS)
		return;
	last_flush_ms = t;
	for (struct list *n = sessions->next; n != sessions; n = n->next) {
		struct session *s = LIST_ENTRY(struct session, link, n);
		if (s->record_dirty || now)
			session_record_write(s);
	}
}

/* ---- taking sessions back at start ------------------------------------------- */

struct restore_counts {
	unsigned adopted, dropped, corrupted;
};

char **strv_from_json(const json_t *a)
{
	size_t n = json_array_size(a);
	char **v = calloc(n + 1, sizeof *v);
	for (size_t i = 0; v && i < n; i++) {
		const char *str = json_string_value(json_array_get(a, i));
		if (!str || !(v[i] = strdup(str))) {
			strv_freep(&v);
			return NULL;
		}
	}
	return v;
}

/* The fields of a record, checked; strings borrowed from it. */
struct record {
	int version;
	const char *id, *owner, *image, *policy, *backend, *network, *request_id;
	json_t *limits, *env, *processes, *backend_state;
	json_t *notes;                   /* NULL in a record of a warrend without them */
	json_int_t idle_timeout_ms, max_lifetime_ms, created, last_used;
	int pooled, kept, next_pid;
};

static int record_parse(json_t *o, struct record *r, char *why, size_t len)
{
	json_error_t je;
	*r = (struct record){ 0 };
	if (json_unpack_ex(o, &je, 0, "{s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:b, s:s,"
			   " s:i, s:o, s:b, s:o, s?o}",
			   "version", &r->version, "id", &r->id, "owner", &r->owner, "image", &r->image, "policy",
			   &r->policy, "backend", &r->backend, "network", &r->network, "limits", &r->limits, "env",
			   &r->env, "idle_timeout_ms", &r->idle_timeout_ms, "max_lifetime_ms", &r->max_lifetime_ms,
			   "created", &r->created, "last_used", &r->last_used, "pooled", &r->pooled, "request_id",
			   &r->request_id, "next_pid", &r->next_pid, "processes", &r->processes, "kept", &r->kept,
			   "backend_state", &r->backend_state, "notes", &r->notes) < 0) {
		snprintf(why, len, "%s", je.text);
		return -EBADMSG;
	}
	if (r->version != RECORD_VERSION) {
		snprintf(why, len, "version %d, not %d", r->version, RECORD_VERSION);
		return -EBADMSG;
	}
	size_t idlen = strlen(r->id);
	bool hex = idlen == 32;
	for (size_t i = 0; hex && i < idlen; i++)
		hex = (r->id[i] >= '0' && r->id[i] <= '9') || (r->id[i] >= 'a' && r->id[i] <= 'f');
	if (!hex || strlen(r->owner) >= sizeof ((struct owner *)0)->name || !json_is_array(r->env) ||
	    !json_is_array(r->processes) || (r->notes && !json_is_object(r->notes)) || r->idle_timeout_ms <= 0 || r->max_lifetime_ms <= 0 || r->next_pid < 0 ||
	    strlen(r->request_id) >= sizeof ((struct session *)0)->request_id) {
		snprintf(why, len, "a field is out of range");
		return -EBADMSG;
	}
	return 0;
}

static int limits_parse(json_t *o, struct policy_limits *l)
{
	json_int_t v[7];
	if (json_unpack(o, "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "memory", &v[0], "pids", &v[1], "cpu_millis", &v[2],
			"timeout_ms", &v[3], "workspace", &v[4], "tmp", &v[5], "output", &v[6]) < 0)
		return -EBADMSG;
	for (int i = 0; i < 7; i++)
		if (v[i] < 0)
			return -EBADMSG;
	*l = (struct policy_limits){ .memory = (uint64_t)v[0], .pids = (uint64_t)v[1], .cpu_millis = (uint32_t)v[2],
				     .timeout_ms = (uint64_t)v[3], .workspace = (uint64_t)v[4], .tmp = (uint64_t)v[5],
				     .output = (uint64_t)v[6] };
	return 0;
}

/* Monotonic milliseconds of a wall-clock time in the past. */
static uint64_t monotonic_of(time_t wall_then, uint64_t now_ms, time_t wall_now)
{
	uint64_t ago = wall_now > wall_then ? (uint64_t)(wall_now - wall_then) * 1000 : 0;
	return now_ms > ago ? now_ms - ago : 0;
}

/* What init reported and no process claimed: a command a request held
 * (its client was the old daemon's) is killed; what ended is released. */
static void settle_unclaimed(struct session *s, struct init_greeting *g)
{
	for (size_t i = 0; i < g->n; i++) {
		struct init_greeting_exec *x = &g->execs[i];
		if (x->claimed)
			continue;
		if (!x->running) {
			box_release_exec(s->box, x->id);
			continue;
		}
		struct exec_request r = { .request_id = NULL };
		struct wd_error err = { 0 };
		struct exec *orphan = session_exec_adopt(s, x->id, &r, x->fds, x->n_fds, NULL, &err);
		x->n_fds = 0;
		if (orphan) {
			daemon_log("session %s: exec %u, whose client was the previous warrend's, is killed", s->id, x->id);
			exec_kill(orphan);
		}
	}
}

/* Takes back the session `o` describes; -errno with why not. */
static int restore_one(json_t *o, const char *file, char *why, size_t len)
{
	struct record rec;
	int r = record_parse(o, &rec, why, len);
	if (r < 0)
		return r;
	char expected[64];
	record_name(rec.id, expected, sizeof expected);
	if (strcmp(expected, file))
		return snprintf(why, len, "its id %s is not its file's name", rec.id), -EBADMSG;
	enum backend_kind kind;
	struct wd_error err = { 0 };
	if (backend_kind_parse(rec.backend, &kind) < 0 || !backend_get(kind))
		return snprintf(why, len, "backend \"%s\" is not in this build", rec.backend), -EINVAL;
	const struct backend_ops *ops = backend_get(kind);
	if (!ops->keep || !ops->adopt)
		return snprintf(why, len, "the %s backend's sandboxes do not outlive warrend", ops->name), -ENOTSUP;
	_cleanup_free_ char **allow = NULL;
	struct network_request net;
	if ((r = session_net_request_of(o, &net, &allow, why, len)) < 0)
		return r;
	if (!rec.kept || json_is_null(rec.backend_state))
		return snprintf(why, len, "its sandbox was not kept (see the previous warrend's log)"), -ENOTSUP;
	struct pool *pool = pool_get(kind, rec.image, rec.policy, &err);
	if (!pool)
		return snprintf(why, len, "%s", err.cause.message), -EINVAL;
	struct owner *owner = owner_get(rec.owner);
	_cleanup_free_ struct session *s = calloc(1, sizeof *s);
	if (!s || !owner)
		return snprintf(why, len, "out of memory"), -ENOMEM;
	memcpy(s->id, rec.id, sizeof s->id);
	list_init(&s->processes);
	s->kind = SESSION_KEPT;
	s->owner = owner;
	if (limits_parse(rec.limits, &s->limits) < 0 || !(s->env = strv_from_json(rec.env))) {
		strv_freep(&s->env);
		return snprintf(why, len, "its limits or env are malformed"), -EBADMSG;
	}
	if (session_net_prepare(s, &net, &pool, &err) < 0) {
		strv_freep(&s->env);
		return snprintf(why, len, "%s", err.cause.message), -EINVAL;
	}
	s->pool = pool;
	/* from here on the sandbox is taken: failures destroy it; it is
	 * named after us (what other daemons' stale sweeps read) */
	char name[64];
	box_new_name(name, sizeof name, true);
	struct init_greeting *g = calloc(1, sizeof *g);
	struct backend_box *bb = NULL;
	wr_error e = { 0 };
	if (!g || ops->adopt(rec.backend_state, name, &bb, g, &e) < 0) {
		free(g);
		session_net_free(s);
		strv_freep(&s->env);
		return snprintf(why, len, "%s", g ? e.message : "out of memory"), -ESRCH;
	}
	uint32_t last_id = g->last_id;
	for (size_t i = 0; i < g->n; i++)
		if (g->execs[i].id > last_id)
			last_id = g->execs[i].id;
	struct box *b = box_adopt(pool, bb, last_id, name, &err);
	if (!b) {
		init_greeting_release(g);
		free(g);
		session_net_free(s);
		strv_freep(&s->env);
		return snprintf(why, len, "%s", err.cause.message), -ENOMEM;
	}
	time_t wall = time(NULL);
	uint64_t now = daemon_now_ms();
	s->created = (time_t)rec.created;
	s->created_ms = monotonic_of(s->created, now, wall);
	s->last_used_ms = monotonic_of((time_t)rec.last_used, now, wall);
	s->idle_timeout_ms = (uint64_t)rec.idle_timeout_ms;
	s->max_lifetime_ms = (uint64_t)rec.max_lifetime_ms;
	s->pooled = rec.pooled;
	s->next_pid = (uint32_t)rec.next_pid;
	snprintf(s->request_id, sizeof s->request_id, "%s", rec.request_id);
	s->notes = json_incref(rec.notes);
	if (session_adopted(s, b, &err) < 0) {
		init_greeting_release(g);
		free(g);
		session_net_free(s);
		strv_freep(&s->env);
		json_decref(s->notes);
		return snprintf(why, len, "%s", err.cause.message), -EIO;
	}
	struct session *held = TAKE_PTR(s);
	processes_restore(held, rec.processes, g);
	settle_unclaimed(held, g);
	init_greeting_release(g);
	free(g);
	session_record_write(held);
	return 0;
}

static void restore_file(int dir, const char *file, struct restore_counts *c)
{
	json_error_t je;
	_cleanup_close_ int fd = openat(dir, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	json_t *o = fd >= 0 ? json_loadfd(fd, JSON_REJECT_DUPLICATES, &je) : NULL;
	if (!o) {
		daemon_log("session record %s is corrupted (%s): skipped; its sandbox is destroyed with what the "
			   "previous warrend left", file, fd < 0 ? strerror(errno) : je.text);
		c->corrupted++;
		unlinkat(dir, file, 0);
		return;
	}
	char why[512] = "";
	const char *id = json_string_value(json_object_get(o, "id"));
	LOG_CTX_SCOPE(NULL, id);
	if (restore_one(o, file, why, sizeof why) == 0) {
		c->adopted++;
	} else {
		daemon_log("session %s: not taken back: %s; its sandbox is destroyed", id ? id : file, why);
		json_t *state = json_object_get(o, "backend_state");
		enum backend_kind kind;
		const char *backend = json_string_value(json_object_get(o, "backend"));
		if (state && backend && backend_kind_parse(backend, &kind) == 0 && backend_get(kind) &&
		    backend_get(kind)->discard)
			backend_get(kind)->discard(state);
		c->dropped++;
		unlinkat(dir, file, 0);
	}
	json_decref(o);
}

int session_records_open(const char *state_dir, struct wd_error *err)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/sessions", state_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return wd_fail(err, 500, "state directory %s: %s", dir, strerror(errno));
	if (chmod(dir, 0700) < 0 || (sessions_dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return wd_fail(err, 500, "state directory %s: %s", dir, strerror(errno));
	return 0;
}

unsigned session_records_restore(void)
{
	struct restore_counts c = { 0 };
	int dup_fd = fcntl(sessions_dir, F_DUPFD_CLOEXEC, 3);
	_cleanup_closedir_ DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return 0;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		const char *n = de->d_name;
		size_t len = strlen(n);
		if (n[0] == '.')
			continue;
		if (len > 4 && !strcmp(n + len - 4, ".tmp")) {
			unlinkat(sessions_dir, n, 0); /* a write cut short: the record itself is whole */
			continue;
		}
		restore_file(sessions_dir, n, &c);
	}
	if (c.adopted || c.dropped || c.corrupted)
		daemon_log("took back %u session(s) a previous run left; destroyed %u it could not take back; "
			   "skipped %u corrupted record(s)", c.adopted, c.dropped, c.corrupted);
	return c.adopted;
}
