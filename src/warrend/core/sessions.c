/* Sessions: a leased box with an id, an owner, timeouts and limits. The
 * table (a hash by id), the one way to create them (admission, lease or
 * cold create), expiry, drain, state records and the daemon's tick. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "auth.h"
#include "backends.h"
#include "cgroup.h"
#include "cleanup.h"
#include "daemon.h"
#include "loop.h"
#include "process.h"
#include "session-internal.h"
#include "spawn.h"
#include "units.h"
#include "child.h"
#include "workspace-job.h"

#define TICK_MS 20

static struct list sessions = LIST_INIT(sessions);  /* kept, in the table */
static struct list runs = LIST_INIT(runs);          /* one-shot */
static struct session **buckets;
static size_t n_buckets;
static struct owner *owners;
/* creating: sessions awaiting a cold sandbox. Every kind counts against
 * the caps, so neither a burst of creations on an empty pool nor
 * /v1/run can take more sandboxes than max_sessions allows. */
static unsigned n_sessions, n_creating, n_runs;
static uint64_t created_total;
static struct loop_timer *tick;
static void (*upper_tick)(uint64_t now_ms);
static uint64_t last_reap_ms, last_trim_ms;

unsigned sessions_active(void) { return n_sessions; }
unsigned runs_active(void) { return n_runs; }
uint64_t sessions_created_total(void) { return created_total; }
const char *session_id(const struct session *s) { return s->id; }
void session_touch(struct session *s)
{
	s->last_used_ms = daemon_now_ms();
	s->record_dirty = true;
}
uint64_t session_max_file_size(const struct session *s) { return daemon_state->cfg.max_file_size; }
void sessions_on_tick(void (*fn)(uint64_t now_ms)) { upper_tick = fn; }

/* Milliseconds from `then` to `now`, 0 when `then` is later (a session
 * touched after `now` was read must not look idle for 2^64 ms). */
static uint64_t elapsed_ms(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

/* ---- the table: a hash by id ---------------------------------------------- */

static size_t bucket_of(const char *id, size_t n)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return (size_t)(h & (n - 1));
}

/* Doubles the table when it holds more sessions than buckets; on no
 * memory the chains only grow longer. */
static void table_grow(void)
{
	size_t n = n_buckets ? n_buckets * 2 : 256;
	struct session **grown = calloc(n, sizeof *grown);
	if (!grown)
		return;
	for (size_t i = 0; i < n_buckets; i++)
		for (struct session *s = buckets[i], *next; s; s = next) {
			next = s->hash_next;
			size_t b = bucket_of(s->id, n);
			s->hash_next = grown[b];
			grown[b] = s;
		}
	free(buckets);
	buckets = grown;
	n_buckets = n;
}

static void table_insert(struct session *s)
{
	if (n_sessions >= n_buckets)
		table_grow();
	size_t b = bucket_of(s->id, n_buckets);
	s->hash_next = buckets[b];
	buckets[b] = s;
}

static void table_remove(struct session *s)
{
	for (struct session **p = &buckets[bucket_of(s->id, n_buckets)]; *p; p = &(*p)->hash_next)
		if (*p == s) {
			*p = s->hash_next;
			return;
		}
}

struct session *session_find(const char *id, const char *owner)
{
	if (!n_buckets)
		return NULL;
	for (struct session *s = buckets[bucket_of(id, n_buckets)]; s; s = s->hash_next)
		if (!strcmp(s->id, id))
			return !strcmp(s->owner->name, owner) ? s : NULL;
	return NULL;
}

struct session *session_find_or_fail(const char *id, const char *owner, struct wd_error *err)
{
	struct session *s = session_find(id, owner);
	if (!s)
		wd_fail(err, 404, "no session \"%s\"", id);
	return s;
}

void sessions_foreach_of(const char *owner, void (*fn)(const struct session *s, void *data), void *data)
{
	for (struct list *n = sessions.next; n != &sessions; n = n->next) {
		const struct session *s = LIST_ENTRY(struct session, link, n);
		if (!strcmp(s->owner->name, owner))
			fn(s, data);
	}
}

void sessions_foreach(void (*fn)(struct session *s, void *data), void *data)
{
	for (struct list *n = sessions.next, *next; n != &sessions; n = next) {
		next = n->next; /* fn may end the session */
		fn(LIST_ENTRY(struct session, link, n), data);
	}
}

int session_set_note(struct session *s, const char *front_end, json_t *value)
{
	if (!value) {
		if (s->notes)
			json_object_del(s->notes, front_end);
	} else if (!s->notes && !(s->notes = json_object())) {
		json_decref(value);
		return -ENOMEM;
	} else if (json_object_set_new(s->notes, front_end, value) < 0) { /* (it freed value) */
		return -ENOMEM;
	}
	session_record_write(s);
	return 0;
}

const json_t *session_note(const struct session *s, const char *front_end)
{
	return s->notes ? json_object_get(s->notes, front_end) : NULL;
}

int session_check_alive(const struct session *s, struct wd_error *err)
{
	if (s->dead || !s->box)
		return wd_fail(err, 409, "session %s is dead: %s", s->id, s->dead_reason);
	return 0;
}

void session_info(const struct session *s, struct session_info *out)
{
	uint64_t now = daemon_now_ms();
	time_t wall = time(NULL);
	uint64_t idle_used = elapsed_ms(now, s->last_used_ms), life_used = elapsed_ms(now, s->created_ms);
	uint64_t idle_left = idle_used < s->idle_timeout_ms ? s->idle_timeout_ms - idle_used : 0;
	uint64_t life_left = life_used < s->max_lifetime_ms ? s->max_lifetime_ms - life_used : 0;
	uint64_t left = idle_left < life_left ? idle_left : life_left;
	*out = (struct session_info){
		.id = s->id, .owner = s->owner->name, .image = pool_image(s->pool), .policy = pool_policy_name(s->pool),
		.backend = backend_kind_name(pool_backend(s->pool)), .created = s->created,
		.last_used = wall - (time_t)(idle_used / 1000), .expires = wall + (time_t)(left / 1000),
		.idle_timeout_ms = s->idle_timeout_ms, .max_lifetime_ms = s->max_lifetime_ms, .dead = s->dead,
		.pooled = s->pooled, .dead_reason = s->dead_reason, .execs_running = s->running, .limits = &s->limits,
	};
}

/* ---- owners and admission ------------------------------------------------- */

struct owner *owner_get(const char *name)
{
	for (struct owner *o = owners; o; o = o->next)
		if (!strcmp(o->name, name))
			return o;
	struct owner *o = calloc(1, sizeof *o);
	if (!o)
		return NULL;
	snprintf(o->name, sizeof o->name, "%s", name);
	o->next = owners;
	owners = o;
	return o;
}

/* The caps and the token's restrictions, for any kind of session. */
static int admit(const struct session_request *r, const char *image, const char *policy, struct owner *o,
		 struct wd_error *err)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	if (n_sessions + n_creating + n_runs >= cfg->max_sessions)
		return wd_fail(err, 429, "the daemon holds its maximum of %u sessions", cfg->max_sessions);
	unsigned owner_cap = auth_max_sessions(o->name, cfg->max_sessions_per_token);
	if (o->held >= owner_cap)
		return wd_fail(err, 429, "this token holds its maximum of %u sessions", owner_cap);
	char why[512];
	const char *backend = r->backend ? r->backend : backend_kind_name(backends_default());
	if (auth_check_lease(o->name, image, policy, backend, why, sizeof why) < 0)
		return wd_fail(err, 403, "%s", why);
	return 0;
}

/* One requested limit within the policy's (which it replaces). */
static int tighten_one(const char *name, char kind, uint64_t want, uint64_t *have, const char *policy,
		       struct wd_error *err)
{
	if (!want)
		return 0;
	if (want > *have) {
		char asked[32], limit[32];
		if (kind == 's') {
			format_size(want, asked, sizeof asked);
			format_size(*have, limit, sizeof limit);
		} else if (kind == 'd') {
			format_duration(want, asked, sizeof asked);
			format_duration(*have, limit, sizeof limit);
		} else if (kind == 'c') {
			format_cpus((uint32_t)want, asked, sizeof asked);
			format_cpus((uint32_t)*have, limit, sizeof limit);
		} else {
			snprintf(asked, sizeof asked, "%llu", (unsigned long long)want);
			snprintf(limit, sizeof limit, "%llu", (unsigned long long)*have);
		}
		return wd_fail(err, 400, "limits.%s: %s exceeds the policy's limit of %s (policy %s)", name, asked,
			       limit, policy);
	}
	if (!strcmp(name, "memory") && want < 4 * 1024 * 1024)
		return wd_fail(err, 400, "limits.memory: below the minimum of 4M");
	*have = want;
	return 0;
}

/* A request may tighten the policy's limits, never loosen them. */
static int tighten(const struct limits_request *want, struct policy_limits *l, const char *policy,
		   struct wd_error *err)
{
	uint64_t cpus = l->cpu_millis;
	int r;
	if ((r = tighten_one("memory", 's', want->memory, &l->memory, policy, err)) < 0 ||
	    (r = tighten_one("pids", 'n', want->pids, &l->pids, policy, err)) < 0 ||
	    (r = tighten_one("timeout", 'd', want->timeout_ms, &l->timeout_ms, policy, err)) < 0 ||
	    (r = tighten_one("output", 's', want->output, &l->output, policy, err)) < 0 ||
	    (r = tighten_one("cpus", 'c', want->cpu_millis, &cpus, policy, err)) < 0)
		return r;
	l->cpu_millis = (uint32_t)cpus;
	return 0;
}

/* ---- the lifecycle of one session ------------------------------------------- */

static void session_free(struct session *s)
{
	processes_release(s); /* their followers hear of it */
	session_record_remove(s);
	session_net_free(s);
	strv_freep(&s->env);
	json_decref(s->notes);
	free(s);
}

static void session_freep(struct session **s)
{
	if (*s)
		session_free(*s);
}

/* The session no longer holds or awaits a sandbox: off the caps. */
static void session_uncount(struct session *s)
{
	s->owner->held--;
	if (s->kind == SESSION_ONESHOT)
		n_runs--;
	if (list_linked(&s->link))
		list_unlink(&s->link);
}

static void session_box_died(void *holder, const char *why)
{
	struct session *s = holder;
	daemon_log("session %s: its sandbox ended: %s", s->id, why);
	session_net_detach(s);
	s->box = NULL;
	s->dead = true;
	snprintf(s->dead_reason, sizeof s->dead_reason, "%s", why);
}

void session_delete(struct session *s)
{
	if (s->ending)
		return; /* a callback of its own execs' end, while it ends */
	s->ending = true;
	if (s->kind == SESSION_KEPT) {
		table_remove(s);
		n_sessions--;
	}
	session_uncount(s);
	if (s->box) {
		box_set_holder(s->box, NULL, NULL);
		box_destroy(s->box); /* its execs end, and their followers hear of it, now */
	}
	session_free(s);
}

/* The session takes the box; when its network cannot be what it asked
 * for, the box goes. */
static int session_hold(struct session *s, struct box *b, struct wd_error *err)
{
	s->box = b;
	box_set_holder(b, session_box_died, s);
	box_set_log_ids(b, s->request_id, s->id);
	if (session_net_attach(s, err) < 0) {
		session_net_detach(s);
		box_set_holder(b, NULL, NULL);
		box_destroy(b);
		s->box = NULL;
		return -err->cause.code;
	}
	return 0;
}

/* The session takes the box, or the creation fails. */
static int session_attach(struct session *s, struct box *b, struct wd_error *err)
{
	if (session_hold(s, b, err) < 0)
		return -err->cause.code;
	/* (a backend without live limits created this box with them) */
	struct wd_error lim = { 0 };
	if (pool_limits_tighter(s->pool, &s->limits) && pool_limits_live(s->pool) &&
	    box_set_limits(b, &s->limits, &lim) < 0)
		daemon_log("session %s: could not tighten limits: %s", s->id, lim.cause.message);
	if (s->kind == SESSION_KEPT) {
		list_insert(&sessions, &s->link);
		table_insert(s);
		n_sessions++;
		created_total++;
		/* it outlives the daemon from now on (egress too: its init
		 * holds its slot and resolver socket, sandbox_keep) */
		struct wd_error kerr = { 0 };
		if (box_keep(b, &kerr) < 0 && kerr.cause.code != 501)
			daemon_log("session %s: it will not outlive warrend: %s", s->id, kerr.cause.message);
		session_record_write(s);
	}
	return 0;
}

int session_adopted(struct session *s, struct box *b, struct wd_error *err)
{
	if (session_hold(s, b, err) < 0)
		return -err->cause.code;
	list_insert(&sessions, &s->link);
	table_insert(s);
	n_sessions++;
	s->owner->held++;
	return 0;
}

struct session_wait {
	struct session *s;
	session_ready_fn done;
	void *data;
	bool cancelled;
};

static void on_cold_ready(struct box *b, void *data, const char *error)
{
	struct session_wait *w = data;
	struct session *s = w->s;
	LOG_CTX_SCOPE(s->request_id[0] ? s->request_id : NULL, s->id);
	n_creating -= s->kind == SESSION_KEPT;
	if (w->cancelled || error) {
		if (!error)
			box_destroy(b); /* the client left: nobody will use this sandbox */
		struct wd_error err = { 0 };
		wd_fail(&err, 503, "no sandbox could be created: %s", error ? error : "");
		session_uncount(s);
		if (!w->cancelled)
			w->done(w->data, NULL, &err);
		session_free(s);
		free(w);
		return;
	}
	struct wd_error err = { 0 };
	session_ready_fn done = w->done;
	void *done_data = w->data;
	free(w);
	if (session_attach(s, b, &err) < 0) {
		session_uncount(s);
		done(done_data, NULL, &err);
		session_free(s);
		return;
	}
	done(done_data, s, NULL);
}

void session_create_cancel(struct session_wait *w)
{
	w->cancelled = true; /* on_cold_ready cleans up */
}

static void new_session_id(char *id)
{
	unsigned char raw[16];
	if (getrandom(raw, sizeof raw, 0) != sizeof raw)
		abort(); /* no entropy: nothing safe to hand out */
	for (int i = 0; i < 16; i++)
		sprintf(id + 2 * i, "%02x", raw[i]);
}

/* The session's env: the policy's, then the request's; owned copies. */
static int session_env(struct session *s, char *const *req_env, struct wd_error *err)
{
	_cleanup_free_ char **merged = spawn_build_env(pool_policy(s->pool), (char **)req_env);
	size_t n = 0;
	while (merged && merged[n])
		n++;
	if (!merged || !(s->env = calloc(n + 1, sizeof *s->env)))
		return wd_fail(err, 503, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (!(s->env[i] = strdup(merged[i])))
			return wd_fail(err, 503, "out of memory");
	return 0;
}

/* A new session of r, not yet counted or holding a sandbox. */
static struct session *session_new(const struct session_request *r, struct pool *pool, struct owner *o,
				   struct wd_error *err)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	_cleanup_(session_freep) struct session *s = calloc(1, sizeof *s);
	if (!s)
		return wd_fail(err, 503, "out of memory"), NULL;
	new_session_id(s->id);
	list_init(&s->processes);
	s->kind = r->kind;
	s->owner = o;
	s->pool = pool;
	s->limits = pool_policy(pool)->limits;
	s->idle_timeout_ms = r->idle_timeout_ms ? r->idle_timeout_ms : cfg->idle_timeout_ms;
	s->max_lifetime_ms = r->max_lifetime_ms ? r->max_lifetime_ms : cfg->max_lifetime_ms;
	s->created = time(NULL);
	s->created_ms = s->last_used_ms = daemon_now_ms();
	snprintf(s->request_id, sizeof s->request_id, "%s", r->request_id ? r->request_id : "");
	if (tighten(&r->limits, &s->limits, pool_policy_name(pool), err) < 0)
		return NULL;
	if (s->idle_timeout_ms > cfg->idle_timeout_ms || s->max_lifetime_ms > cfg->max_lifetime_ms)
		return wd_fail(err, 400, "idle_timeout and max_lifetime may not exceed the daemon's (%llus, %llus)",
			       (unsigned long long)(cfg->idle_timeout_ms / 1000),
			       (unsigned long long)(cfg->max_lifetime_ms / 1000)), NULL;
	if (session_env(s, r->env, err) < 0)
		return NULL;
	return TAKE_PTR(s);
}

int session_create(const struct session_request *r, session_ready_fn done, void *data, struct session_wait **wait,
		   struct wd_error *err)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	*wait = NULL;
	if (daemon_state->draining) {
		int rc = wd_fail(err, 503, "warrend is shutting down");
		err->retry_after_s = 5;
		return rc;
	}
	struct owner *o = owner_get(r->owner);
	if (!o)
		return wd_fail(err, 503, "out of memory");
	const char *image = r->image ? r->image : cfg->default_image;
	const char *policy = r->policy ? r->policy : cfg->default_policy;
	enum backend_kind backend;
	struct pool *pool;
	int rc;
	if ((rc = admit(r, image, policy, o, err)) < 0 || (rc = backends_resolve(r->backend, &backend, err)) < 0)
		return rc;
	if (!(pool = pool_get(backend, image, policy, err)))
		return -err->cause.code;
	struct session *s = session_new(r, pool, o, err);
	if (!s)
		return -err->cause.code;
	if ((rc = session_net_prepare(s, r->network, &pool, err)) < 0) {
		session_free(s);
		return rc;
	}
	s->pool = pool;
	/* counted from here on: while it waits for, then holds, a sandbox */
	o->held++;
	if (s->kind == SESSION_ONESHOT) {
		n_runs++;
		list_insert(&runs, &s->link);
	}
	/* tighter limits a leased box cannot take: a box of its own, made with them */
	bool tighter = pool_limits_tighter(pool, &s->limits);
	bool own_limits = tighter && !pool_limits_live(pool);
	struct box *b = own_limits ? NULL : pool_lease(pool);
	if (b) {
		s->pooled = true;
		if ((rc = session_attach(s, b, err)) < 0) {
			session_uncount(s);
			session_free(s);
			return rc;
		}
		done(data, s, NULL);
		return 0;
	}
	struct session_wait *w = calloc(1, sizeof *w);
	if (!w) {
		session_uncount(s);
		session_free(s);
		return wd_fail(err, 503, "out of memory");
	}
	*w = (struct session_wait){ .s = s, .done = done, .data = data };
	if ((rc = pool_cold_create(pool, own_limits ? &s->limits : NULL, on_cold_ready, w, err)) < 0) {
		char why[sizeof err->cause.message];
		snprintf(why, sizeof why, "%s", err->cause.message); /* (not formatted into itself) */
		wd_fail(err, 503, "no sandbox could be created: %s", why);
		session_uncount(s);
		session_free(s);
		free(w);
		return rc;
	}
	n_creating += s->kind == SESSION_KEPT;
	*wait = w;
	return 0;
}

/* ---- expiry, the tick ---------------------------------------------------------- */

static void reap_expired(uint64_t now)
{
	for (struct list *n = sessions.next; n != &sessions;) {
		struct session *s = LIST_ENTRY(struct session, link, n);
		n = n->next;
		const char *why = NULL;
		if (elapsed_ms(now, s->created_ms) >= s->max_lifetime_ms)
			why = "reached its maximum lifetime";
		else if (s->running == 0 && elapsed_ms(now, s->last_used_ms) >= s->idle_timeout_ms)
			why = "was idle too long";
		if (why) {
			LOG_CTX_SCOPE(s->request_id[0] ? s->request_id : NULL, s->id);
			if (daemon_state->cfg.verbose)
				daemon_log("session %s %s: destroyed", s->id, why);
			session_delete(s);
			n = sessions.next; /* its execs' followers may have ended others */
		}
	}
}

static void on_tick(void *data)
{
	uint64_t now = daemon_now_ms();
	box_tick(now);
	session_nets_tick(now);
	children_tick(now);
	backends_tick(now);
	if (upper_tick)
		upper_tick(now);
	session_records_flush(&sessions, false);
	if (now - last_trim_ms >= 10000) {
		/* Hand freed heap back to the kernel: after bursts of sessions the
		 * daemon's RSS returns to its resting size instead of keeping the
		 * high-water mark. */
		last_trim_ms = now;
		malloc_trim(0);
	}
	if (now - last_reap_ms >= 1000) {
		last_reap_ms = now;
		reap_expired(daemon_now_ms()); /* the box tick may have touched sessions since */
	}
}

/* The daemon that used this state directory before us (its cgroups are
 * stale even if its pid is another process's now); 0 when none. */
static pid_t previous_daemon;
/* Ours: the docker backend sweeps from a health check's child, which
 * must spare what we create meanwhile under kept names. */
static pid_t own_pid;

/* wd-PID-N belongs to the warrend with that pid; another daemon on this
 * host (tests run several) may still be using its cgroups. wd-PID-kTAG-N
 * outlives its daemon: it belongs to the state directory TAG, whose next
 * daemon takes it back (renamed wd-ITSPID-kTAG-N) or removes it. */
static bool cgroup_owner_alive(const char *name)
{
	char *end;
	long pid = strtol(name + 3, &end, 10);
	if (*end != '-' || pid <= 0)
		return false;
	if (end[1] == 'k') {
		size_t tag_len = strlen(daemon_state->state_tag);
		if (strncmp(end + 2, daemon_state->state_tag, tag_len) || end[2 + tag_len] != '-')
			return true; /* another state directory's */
		/* taken back: ours (a fixed_name backend's keeps its old pid);
		 * the start-up sweep runs before we create any, so one of our
		 * pid that we do not hold is the previous daemon's when it had
		 * our pid; a health check's child (docker) sweeps later, when
		 * those are gone and ours may be newer than its copy of ours */
		return box_name_held(name) || (pid == own_pid && (pid != previous_daemon || getpid() != own_pid));
	}
	/* a wd-OURPID-N now is a dead daemon's that had our pid */
	return pid != getpid() && pid != previous_daemon && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* TAG: the state directory's path, hashed (FNV-1a). */
static void state_tag_set(const char *state_dir)
{
	char real[4096];
	const char *p = realpath(state_dir, real) ? real : state_dir;
	uint32_t h = 2166136261u;
	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	snprintf(daemon_state->state_tag, sizeof daemon_state->state_tag, "%08x", h);
}

/* One warrend per state directory: a lock held for its life, and the
 * pid of the one before. */
static int state_dir_lock(const char *state_dir, struct wd_error *err)
{
	char path[4096], text[32] = "";
	snprintf(path, sizeof path, "%s/warrend.pid", state_dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return wd_fail(err, 500, "%s: %s", path, strerror(errno));
	ssize_t n = pread(fd, text, sizeof text - 1, 0);
	text[n > 0 ? n : 0] = '\0';
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		return wd_fail(err, 500, "the state directory %s is in use by another warrend (pid %s): %s", state_dir,
			       text[0] ? text : "?", strerror(e));
	}
	previous_daemon = (pid_t)atoi(text);
	char mine[32];
	int len = snprintf(mine, sizeof mine, "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, mine, (size_t)len, 0) != len) {
		close(fd);
		return wd_fail(err, 500, "%s: %s", path, strerror(errno));
	}
	return 0; /* (fd held open: the lock lives as long as we do) */
}

/* What a previous run left and we did not take back: cgroups of its
 * sandboxes (killed with what runs in them), containers, control sockets,
 * egress links and rules. */
static void clean_previous_run(void)
{
	/* containers first: their runtime removes them with their cgroups,
	 * which it cannot once the cgroups are gone */
	unsigned containers = backends_remove_stale("wd-", cgroup_owner_alive);
	unsigned cgroups = cgroup_remove_stale("wd-", cgroup_owner_alive);
	if (cgroups || containers)
		daemon_log("destroyed %u sandbox cgroups and %u containers left by a previous run", cgroups, containers);
	/* listeners of kept sandboxes not taken back (those taken back are
	 * held under their names: wd-OURPID-kTAG-N, or their old one where
	 * cgroups cannot be renamed) */
	char dir[4096], name[256];
	snprintf(dir, sizeof dir, "%s/control", daemon_state->cfg.state_dir);
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		snprintf(name, sizeof name, "%s", de->d_name);
		char *dot = strrchr(name, '.');
		if (dot && !strcmp(dot, ".sock"))
			*dot = '\0';
		if (de->d_name[0] != '.' && !box_name_held(name))
			unlinkat(dirfd(d), de->d_name, 0);
	}
	/* egress links and rules whose owner died (a killed warrend or warren
	 * run): theirs go, the table too when nobody is left in it */
	wr_error e = { 0 };
	int swept = geteuid() == 0 ? net_egress_sweep(&e) : 0;
	if (swept < 0)
		daemon_log("egress: could not sweep what dead sandboxes left: %s", e.message);
	else if (swept > 0)
		daemon_log("egress: removed the links and rules of %d sandboxes left by a previous run", swept);
}

static void state_dir_release(void);

int sessions_init(struct wd_error *err)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	mkdir(cfg->state_dir, 0755);
	state_tag_set(cfg->state_dir);
	own_pid = getpid();
	int r;
	if ((r = state_dir_lock(cfg->state_dir, err)) < 0)
		return r;
	if ((r = session_records_open(cfg->state_dir, err)) < 0)
		goto refused;
	if (cfg->policy_dir)
		setenv("WARREN_POLICY_DIR", cfg->policy_dir, 1);
	if ((r = backends_init(err)) < 0)
		goto refused;
	session_records_restore();
	clean_previous_run();
	pools_set_target(cfg->pool_size);
	if (!pool_get(backends_default(), cfg->default_image, cfg->default_policy, err)) {
		r = -err->cause.code;
		goto refused;
	}
	if (!(tick = loop_every(TICK_MS, on_tick, NULL))) {
		r = wd_fail(err, 500, "out of memory");
		goto refused;
	}
	return 0;
refused:
	/* a refused start leaves the state directory as it found it (kept
	 * sessions' records and sockets stay for the next start) */
	state_dir_release();
	return r < 0 ? r : -EIO;
}

/* What a clean exit leaves of the state directory: nothing of ours (the
 * control directory only when empty). */
static void state_dir_release(void)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/control", daemon_state->cfg.state_dir);
	rmdir(path);
	snprintf(path, sizeof path, "%s/warrend.pid", daemon_state->cfg.state_dir);
	unlink(path);
}

void sessions_drain(void)
{
	while (!list_empty(&sessions))
		session_delete(LIST_ENTRY(struct session, link, sessions.next));
	boxes_destroy_all();
}

bool sessions_drained(void)
{
	bool done = list_empty(&sessions) && boxes_all_gone();
	if (done)
		state_dir_release();
	return done;
}

void sessions_leave(const char *why)
{
	while (!list_empty(&runs))
		session_delete(LIST_ENTRY(struct session, link, runs.next));
	for (struct list *n = sessions.next; n != &sessions;) {
		struct session *s = LIST_ENTRY(struct session, link, n);
		n = n->next;
		if (!s->box || !box_kept(s->box)) {
			LOG_CTX_SCOPE(NULL, s->id);
			daemon_log("session %s: its sandbox does not outlive warrend: destroyed", s->id);
			session_delete(s);
			n = sessions.next;
		}
	}
	boxes_leave(why);
	session_records_flush(&sessions, true);
}

bool sessions_left(void)
{
	return boxes_left();
}

bool sessions_all_ended(void)
{
	return list_empty(&sessions) && list_empty(&runs) && n_creating == 0;
}

void sessions_reload_policies(void)
{
	pools_retire();
}
