/* Sessions: a leased box with an id, an owner, timeouts and limits; the
 * routes that create, list, inspect and delete them, run commands in them
 * (buffered or streamed), and the one-shot run route. */
#include "config.h"

#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "backends.h"
#include "box-internal.h"
#include "cgroup.h"
#include "cleanup.h"
#include "encode.h"
#include "exec-reply.h"
#include "files.h"
#include "sessions.h"
#include "spawn.h"
#include "session-internal.h"
#include "units.h"
#include "userns.h"
#include "warrend.h"
#include "workspace-job.h"

#define TICK_MS 20

static h2o_linklist_t sessions = { &sessions, &sessions };
/* What holds or awaits a sandbox without being in `sessions`: sessions
 * waiting for a cold sandbox, and one-shot runs. Both count against the
 * session caps, so neither a burst of creations on an empty pool nor
 * /v1/run can take more sandboxes than max_sessions allows. */
static h2o_linklist_t creating = { &creating, &creating };
static h2o_linklist_t runs = { &runs, &runs };
static unsigned n_sessions, n_creating, n_runs;
static h2o_timeout_t tick_timeout;
static h2o_timeout_entry_t tick_entry;
static uint64_t last_reap_ms, last_trim_ms;

static uint64_t elapsed_ms(uint64_t now, uint64_t then);

/* ---- the table ---------------------------------------------------------- */

unsigned sessions_active(void) { return n_sessions; }
unsigned runs_active(void) { return n_runs; }
unsigned exec_cap_for_owner(const char *owner)
{
	const struct token_restrictions *r = auth_restrictions(owner);
	return r && r->max_execs ? r->max_execs : daemon_state->cfg.max_execs_per_token;
}
const char *session_id(const struct session *s) { return s->id; }
void session_touch(struct session *s) { s->last_used_ms = daemon_now_ms(); }
uint64_t session_max_file_size(const struct session *s) { return daemon_state->cfg.max_file_size; }

struct session *session_find(const char *id, const char *owner)
{
	for (h2o_linklist_t *n = sessions.next; n != &sessions; n = n->next) {
		struct session *s = H2O_STRUCT_FROM_MEMBER(struct session, link, n);
		if (!strcmp(s->id, id))
			return !strcmp(s->owner, owner) ? s : NULL;
	}
	return NULL;
}

int session_open_workspace(struct session *s, uid_t *uid, gid_t *gid)
{
	if (s->dead || !s->box || box_state(s->box) == BOX_DEAD)
		return -ESRCH;
	const struct backend_ops *ops = box_ops(s->box);
	if (!ops->open_workspace)
		return -EOPNOTSUPP;
	return ops->open_workspace(box_backend(s->box), uid, gid);
}

static unsigned owner_count_in(h2o_linklist_t *list, const char *owner)
{
	unsigned n = 0;
	for (h2o_linklist_t *l = list->next; l != list; l = l->next)
		n += !strcmp(H2O_STRUCT_FROM_MEMBER(struct session, link, l)->owner, owner);
	return n;
}

/* The session caps, for a new session or a one-shot run: 429 (replied,
 * returns -1) when the daemon or the token holds its maximum. */
static int admit_sandbox(h2o_req_t *req, const char *owner)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	if (n_sessions + n_creating + n_runs >= cfg->max_sessions)
		return http_reply_error(req, 429, "capacity", "the daemon holds its maximum of %u sessions",
					cfg->max_sessions), -1;
	unsigned owner_cap = auth_max_sessions(owner, cfg->max_sessions_per_token);
	if (owner_count_in(&sessions, owner) + owner_count_in(&creating, owner) + owner_count_in(&runs, owner) >=
	    owner_cap)
		return http_reply_error(req, 429, "capacity", "this token holds its maximum of %u sessions",
					owner_cap), -1;
	return 0;
}

static void state_file_path(const struct session *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s/sessions/%s.json", daemon_state->cfg.state_dir, s->id);
}

/* What a restarted daemon needs to find what this one left behind. */
static void state_file_write(const struct session *s)
{
	char path[512], tmp[520];
	state_file_path(s, path, sizeof path);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	const struct backend_ops *ops = box_ops(s->box);
	char where[256];
	ops->describe(box_backend(s->box), where, sizeof where);
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s}", "id", s->id, "owner", s->owner, "backend", ops->name,
			      "init_pid", (int)ops->init_pid(box_backend(s->box)), "cgroup", where);
	if (o && json_dump_file(o, tmp, JSON_COMPACT) == 0)
		rename(tmp, path);
	json_decref(o);
}

static void session_free(struct session *s)
{
	if (s->created_cb_data && s->created_cb_free)
		s->created_cb_free(s->created_cb_data);
	char path[512];
	state_file_path(s, path, sizeof path);
	unlink(path);
	for (char **e = s->env; e && *e; e++)
		free(*e);
	free(s->env);
	free(s);
}

/* Ends a session: its box is destroyed in the background. */
static void session_end(struct session *s)
{
	h2o_linklist_unlink(&s->link);
	n_sessions--;
	if (s->box) {
		box_set_session(s->box, NULL);
		box_destroy(s->box);
	}
	session_free(s);
}

void session_box_died(struct session *s, const char *why)
{
	s->box = NULL;
	s->dead = true;
	snprintf(s->dead_reason, sizeof s->dead_reason, "%s", why);
}

/* ---- JSON helpers -------------------------------------------------------- */

static void iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *limits_json(const struct policy_limits *l)
{
	char mem[32], cpus[32], timeout[32], output[32];
	format_size(l->memory, mem, sizeof mem);
	format_cpus(l->cpu_millis, cpus, sizeof cpus);
	format_duration(l->timeout_ms, timeout, sizeof timeout);
	format_size(l->output, output, sizeof output);
	return json_pack("{s:s, s:I, s:s, s:s, s:s}", "memory", mem, "pids", (json_int_t)l->pids,
			 "cpus", cpus, "timeout", timeout, "output", output);
}

static json_t *session_json(const struct session *s)
{
	char created[32], last[32], expires[32];
	uint64_t now = daemon_now_ms();
	time_t wall = time(NULL);
	iso_time(s->created, created, sizeof created);
	iso_time(wall - (time_t)((now - s->last_used_ms) / 1000), last, sizeof last);
	uint64_t idle_used = elapsed_ms(now, s->last_used_ms), life_used = elapsed_ms(now, s->created_ms);
	uint64_t idle_left = idle_used < s->idle_timeout_ms ? s->idle_timeout_ms - idle_used : 0;
	uint64_t life_left = life_used < s->max_lifetime_ms ? s->max_lifetime_ms - life_used : 0;
	uint64_t left = idle_left < life_left ? idle_left : life_left;
	iso_time(wall + (time_t)(left / 1000), expires, sizeof expires);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:o, s:b, s:I}",
			      "id", s->id, "image", pool_image(s->pool), "policy", pool_policy_name(s->pool),
			      "created", created, "last_used", last, "expires", expires,
			      "idle_timeout_s", (json_int_t)(s->idle_timeout_ms / 1000),
			      "max_lifetime_s", (json_int_t)(s->max_lifetime_ms / 1000),
			      "state", s->dead ? "dead" : "ready", "limits", limits_json(&s->limits),
			      "pooled", s->pooled, "execs_running", (json_int_t)s->running);
	json_object_set_new(o, "backend", json_string(backend_kind_name(pool_backend(s->pool))));
	if (s->dead)
		json_object_set_new(o, "error", json_string(s->dead_reason));
	return o;
}

/* "KEY": "value" pairs into "KEY=value" strings, checked. */
static int env_from_json(h2o_req_t *req, json_t *obj, const char *where, char ***out)
{
	if (!obj)
		return 0;
	if (!json_is_object(obj))
		return http_reply_error(req, 400, "bad_request", "%s: expected an object of strings", where), -1;
	size_t n = json_object_size(obj), i = 0;
	char **env = calloc(n + 1, sizeof *env);
	const char *key;
	json_t *val;
	json_object_foreach(obj, key, val) {
		if (!key[0] || strchr(key, '=') || !json_is_string(val) ||
		    strlen(json_string_value(val)) != json_string_length(val)) {
			for (size_t k = 0; k < i; k++)
				free(env[k]);
			free(env);
			return http_reply_error(req, 400, "bad_request", "%s.%s: expected a string value and a name without '='",
						where, key), -1;
		}
		if (asprintf(&env[i++], "%s=%s", key, json_string_value(val)) < 0)
			env[--i] = NULL;
	}
	*out = env;
	return 0;
}

/* A size, duration, count or CPU number given as a JSON string or number. */
static int json_limit(h2o_req_t *req, json_t *v, const char *name, int kind, uint64_t *out)
{
	char text[64];
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v) && json_real_value(v) > 0)
		snprintf(text, sizeof text, "%g", json_real_value(v));
	else if (json_is_string(v) && json_string_length(v) < sizeof text)
		snprintf(text, sizeof text, "%s", json_string_value(v));
	else
		return http_reply_error(req, 400, "bad_request", "%s: expected a number or a string", name), -1;
	int r = -EINVAL;
	uint32_t millis;
	char *end;
	switch (kind) {
	case 's': r = parse_size(text, out); break;
	case 'd': r = parse_duration(text, out); break;
	case 'c': r = parse_cpus(text, &millis); *out = millis; break;
	case 'n': *out = strtoull(text, &end, 10); r = (*end || text[0] == '-') ? -EINVAL : 0; break;
	}
	if (r < 0 || *out == 0)
		return http_reply_error(req, 400, "bad_request", "%s: \"%s\" is not a valid %s", name, text,
					kind == 's' ? "size like \"256M\"" : kind == 'd' ? "duration like \"30s\"" :
					kind == 'c' ? "number of CPUs like 0.5" : "positive count"), -1;
	return 0;
}

/* Request limits must stay within the session's (or the policy's). */
static int tighten(h2o_req_t *req, json_t *limits, struct policy_limits *l, const char *policy_name)
{
	static const char *const fields[] = { "memory", "pids", "cpus", "timeout", "output", NULL };
	if (!limits)
		return 0;
	if (!json_is_object(limits))
		return http_reply_error(req, 400, "bad_request", "limits: expected an object"), -1;
	if (http_check_fields(req, limits, "limits", fields) < 0)
		return -1;
	struct { const char *name; int kind; uint64_t *field; } map[] = {
		{ "memory", 's', &l->memory }, { "pids", 'n', &l->pids }, { "timeout", 'd', &l->timeout_ms },
		{ "output", 's', &l->output },
	};
	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
		json_t *v = json_object_get(limits, map[i].name);
		uint64_t want;
		char name[32], have[32], asked[32];
		snprintf(name, sizeof name, "limits.%s", map[i].name);
		if (!v)
			continue;
		if (json_limit(req, v, name, map[i].kind, &want) < 0)
			return -1;
		if (want > *map[i].field) {
			if (map[i].kind == 's') {
				format_size(want, asked, sizeof asked);
				format_size(*map[i].field, have, sizeof have);
			} else if (map[i].kind == 'd') {
				format_duration(want, asked, sizeof asked);
				format_duration(*map[i].field, have, sizeof have);
			} else {
				snprintf(asked, sizeof asked, "%llu", (unsigned long long)want);
				snprintf(have, sizeof have, "%llu", (unsigned long long)*map[i].field);
			}
			return http_reply_error(req, 400, "bad_request", "%s: %s exceeds the policy's limit of %s (policy %s)",
						name, asked, have, policy_name), -1;
		}
		if (map[i].kind == 's' && !strcmp(map[i].name, "memory") && want < 4 * 1024 * 1024)
			return http_reply_error(req, 400, "bad_request", "limits.memory: below the minimum of 4M"), -1;
		*map[i].field = want;
	}
	json_t *cpus = json_object_get(limits, "cpus");
	if (cpus) {
		uint64_t want;
		if (json_limit(req, cpus, "limits.cpus", 'c', &want) < 0)
			return -1;
		if (want > l->cpu_millis) {
			char asked[32], have[32];
			format_cpus((uint32_t)want, asked, sizeof asked);
			format_cpus(l->cpu_millis, have, sizeof have);
			return http_reply_error(req, 400, "bad_request", "limits.cpus: %s exceeds the policy's limit of %s (policy %s)",
						asked, have, policy_name), -1;
		}
		l->cpu_millis = (uint32_t)want;
	}
	return 0;
}

static int json_duration_field(h2o_req_t *req, json_t *body, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(body, key);
	return v ? json_limit(req, v, key, 'd', out) : 0;
}

/* ---- creating a session -------------------------------------------------- */

struct create_wait {
	struct http_pending *pending;  /* lives in the request's pool: only while !gone */
	struct session *s;
	bool gone;
};

static void new_session_id(char *id)
{
	unsigned char raw[16];
	if (getrandom(raw, sizeof raw, 0) != sizeof raw)
		abort(); /* no entropy: nothing safe to hand out */
	for (int i = 0; i < 16; i++)
		sprintf(id + 2 * i, "%02x", raw[i]);
}

static void session_attach(struct session *s, struct box *b)
{
	s->box = b;
	box_set_session(b, s);
	/* (a backend without live limits created this box with them) */
	if (pool_limits_tighter(s->pool, &s->limits) && pool_limits_live(s->pool)) {
		char err[256];
		if (box_set_limits(b, &s->limits, err, sizeof err) < 0)
			daemon_log("session %s: could not tighten limits: %s", s->id, err);
	}
	h2o_linklist_insert(&sessions, &s->link);
	n_sessions++;
	state_file_write(s);
	metrics_session_created();
}

static void on_cold_ready(struct box *b, void *data, const char *error)
{
	struct create_wait *w = data;
	h2o_req_t *req = NULL;
	struct session *s = w->s;
	h2o_linklist_unlink(&s->link); /* from `creating` */
	n_creating--;
	if (!w->gone) {
		req = w->pending->req;
		w->pending->on_gone = NULL;
	}
	free(w);
	if (error) {
		if (req)
			http_reply_error(req, 503, "unavailable", "no sandbox could be created: %s", error);
		session_free(s);
		return;
	}
	if (!req) { /* the client left: nobody will use this sandbox */
		box_destroy(b);
		session_free(s);
		return;
	}
	session_attach(s, b);
	s->created_cb(req, s);
}

static void on_create_gone(void *data)
{
	struct create_wait *w = data;
	w->gone = true; /* on_cold_ready cleans up; the pending is freed with the request */
}

/* Shared by POST /v1/sessions and the compatibility routes. */
int session_create_from(h2o_req_t *req, json_t *body, const char *owner, session_created_fn done)
{
	return session_create_with_data(req, body, owner, done, NULL, NULL);
}

/* The callback's data until a session holds it: a refused request frees it. */
struct pending_data {
	void *data;
	void (*free)(void *);
};

static void pending_data_release(struct pending_data *d)
{
	if (d->data && d->free)
		d->free(d->data);
}

int session_create_with_data(h2o_req_t *req, json_t *body, const char *owner, session_created_fn done, void *data,
			     void (*free_data)(void *))
{
	__attribute__((cleanup(pending_data_release))) struct pending_data held = { data, free_data };
	static const char *const fields[] = { "image", "policy", "backend", "limits", "env", "idle_timeout",
					      "max_lifetime", NULL };
	const struct daemon_config *cfg = &daemon_state->cfg;
	if (body && http_check_fields(req, body, NULL, fields) < 0)
		return 0;
	if (daemon_state->draining)
		return http_reply_error(req, 503, "unavailable", "warrend is shutting down");
	json_t *image = body ? json_object_get(body, "image") : NULL, *policy = body ? json_object_get(body, "policy") : NULL;
	if ((image && !json_is_string(image)) || (policy && !json_is_string(policy)))
		return http_reply_error(req, 400, "bad_request", "%s: expected a string", image && !json_is_string(image) ? "image" : "policy");
	if (admit_sandbox(req, owner) < 0)
		return 0;
	int status;
	char err[512];
	enum backend_kind backend;
	const char *image_name = image ? json_string_value(image) : cfg->default_image;
	const char *policy_name = policy ? json_string_value(policy) : cfg->default_policy;
	json_t *backend_field = body ? json_object_get(body, "backend") : NULL;
	if (auth_check_lease(owner, image_name, policy_name, backends_requested_name(backend_field), err, sizeof err) < 0)
		return http_reply_error(req, 403, "forbidden", "%s", err);
	if (backends_resolve(backend_field, &backend, &status, err, sizeof err) < 0)
		return http_reply_error(req, status, http_error_code(status), "%s", err);
	struct pool *pool = pool_get(backend, image_name, policy_name, &status, err, sizeof err);
	if (!pool)
		return http_reply_error(req, status, status == 400 ? "bad_request" : "internal", "%s", err);

	struct session *s = calloc(1, sizeof *s);
	if (!s)
		return http_reply_error(req, 500, "internal", "out of memory");
	new_session_id(s->id);
	snprintf(s->owner, sizeof s->owner, "%s", owner);
	s->created_cb = done;
	s->created_cb_data = TAKE_PTR(held.data);
	s->created_cb_free = free_data;
	s->pool = pool;
	s->limits = pool_policy(pool)->limits;
	s->idle_timeout_ms = cfg->idle_timeout_ms;
	s->max_lifetime_ms = cfg->max_lifetime_ms;
	s->created = time(NULL);
	s->created_ms = s->last_used_ms = daemon_now_ms();
	char **req_env = NULL;
	if (body && (tighten(req, json_object_get(body, "limits"), &s->limits, pool_policy_name(pool)) < 0 ||
		     env_from_json(req, json_object_get(body, "env"), "env", &req_env) < 0 ||
		     json_duration_field(req, body, "idle_timeout", &s->idle_timeout_ms) < 0 ||
		     json_duration_field(req, body, "max_lifetime", &s->max_lifetime_ms) < 0)) {
		session_free(s);
		return 0;
	}
	if (s->idle_timeout_ms > cfg->idle_timeout_ms || s->max_lifetime_ms > cfg->max_lifetime_ms) {
		session_free(s);
		strv_freep(&req_env);
		return http_reply_error(req, 400, "bad_request", "idle_timeout and max_lifetime may not exceed the daemon's (%llus, %llus)",
					(unsigned long long)(cfg->idle_timeout_ms / 1000), (unsigned long long)(cfg->max_lifetime_ms / 1000));
	}
	/* The session's env: the policy's, then the request's. */
	char **merged = spawn_build_env(pool_policy(pool), req_env);
	size_t n = 0;
	while (merged && merged[n])
		n++;
	s->env = calloc(n + 1, sizeof *s->env);
	for (size_t i = 0; i < n && s->env; i++)
		s->env[i] = strdup(merged[i]);
	free(merged);
	strv_freep(&req_env);

	/* tighter limits a leased box cannot take: a box of its own, made with them */
	bool own_limits = pool_limits_tighter(pool, &s->limits) && !pool_limits_live(pool);
	struct box *b = own_limits ? NULL : pool_lease(pool);
	if (b) {
		s->pooled = true;
		session_attach(s, b);
		return done(req, s);
	}
	struct create_wait *w = calloc(1, sizeof *w);
	if (!w) {
		session_free(s);
		return http_reply_error(req, 500, "internal", "out of memory");
	}
	w->s = s;
	w->pending = http_pending_new(req, on_create_gone, w);
	h2o_linklist_insert(&creating, &s->link);
	n_creating++;
	if (pool_cold_create(pool, own_limits ? &s->limits : NULL, on_cold_ready, w, err, sizeof err) < 0) {
		h2o_linklist_unlink(&s->link);
		n_creating--;
		w->pending->on_gone = NULL;
		free(w);
		session_free(s);
		return http_reply_error(req, 503, "unavailable", "no sandbox could be created: %s", err);
	}
	return 0;
}

static int reply_created(h2o_req_t *req, struct session *s)
{
	return http_reply_json(req, 201, session_json(s));
}

static int post_sessions(h2o_req_t *req, const struct http_route_match *m)
{
	json_t *body = NULL;
	if (req->entity.len && http_body_json(req, &body) < 0)
		return 0;
	int r = session_create_from(req, body, m->owner, reply_created);
	json_decref(body);
	return r;
}

static int get_sessions(h2o_req_t *req, const struct http_route_match *m)
{
	json_t *list = json_array();
	for (h2o_linklist_t *n = sessions.next; n != &sessions; n = n->next) {
		struct session *s = H2O_STRUCT_FROM_MEMBER(struct session, link, n);
		if (!strcmp(s->owner, m->owner))
			json_array_append_new(list, session_json(s));
	}
	return http_reply_json(req, 200, json_pack("{s:o}", "sessions", list));
}

static struct session *find_or_404(h2o_req_t *req, const struct http_route_match *m)
{
	struct session *s = session_find(m->id, m->owner);
	if (!s)
		http_reply_error(req, 404, "not_found", "no session \"%s\"", m->id);
	return s;
}

static int get_session(h2o_req_t *req, const struct http_route_match *m)
{
	struct session *s = find_or_404(req, m);
	return s ? http_reply_json(req, 200, session_json(s)) : 0;
}

int session_delete(struct session *s)
{
	session_end(s);
	return 0;
}

static int delete_session(h2o_req_t *req, const struct http_route_match *m)
{
	struct session *s = find_or_404(req, m);
	if (!s)
		return 0;
	session_end(s);
	return http_reply_json(req, 200, json_pack("{s:s, s:b}", "id", m->id, "deleted", 1));
}

/* ---- exec ------------------------------------------------------------------- */

static bool valid_cwd(const char *cwd)
{
	if (strncmp(cwd, "/workspace", 10) || (cwd[10] && cwd[10] != '/'))
		return false;
	for (const char *p = cwd; (p = strstr(p, "/..")); p += 3)
		if (p[3] == '/' || p[3] == '\0')
			return false;
	return strlen(cwd) < 4096;
}

/* Parses an exec body into params; on error it has replied. The strings
 * live in argv_out, env_out and stdin_out (the caller frees them). */
int exec_params_from_json(h2o_req_t *req, json_t *body, const struct session *s, struct exec_params *p,
			  char ***argv_out, char ***env_out, void **stdin_out, bool *stream)
{
	static const char *const fields[] = { "cmd", "shell", "env", "cwd", "stdin", "stdin_base64", "timeout",
					      "output", "stream", NULL };
	if (http_check_fields(req, body, NULL, fields) < 0)
		return -1;
	json_t *cmd = json_object_get(body, "cmd"), *shell = json_object_get(body, "shell");
	if (!!cmd == !!shell)
		return http_reply_error(req, 400, "bad_request", "give exactly one of \"cmd\" (an array of strings) or \"shell\" (a string)"), -1;
	char **argv;
	if (cmd) {
		if (!json_is_array(cmd) || json_array_size(cmd) == 0 || json_array_size(cmd) > 4096)
			return http_reply_error(req, 400, "bad_request", "cmd: expected a non-empty array of strings"), -1;
		argv = calloc(json_array_size(cmd) + 1, sizeof *argv);
		size_t i;
		json_t *v;
		json_array_foreach(cmd, i, v) {
			if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
			    (i == 0 && json_string_length(v) == 0)) {
				strv_freep(&argv);
				return http_reply_error(req, 400, "bad_request", "cmd[%zu]: expected a string without NUL bytes", i), -1;
			}
			argv[i] = strdup(json_string_value(v));
		}
	} else {
		if (!json_is_string(shell) || strlen(json_string_value(shell)) != json_string_length(shell))
			return http_reply_error(req, 400, "bad_request", "shell: expected a string without NUL bytes"), -1;
		argv = calloc(4, sizeof *argv);
		argv[0] = strdup("/bin/sh");
		argv[1] = strdup("-c");
		argv[2] = strdup(json_string_value(shell));
	}
	*argv_out = argv;

	char **req_env = NULL;
	if (env_from_json(req, json_object_get(body, "env"), "env", &req_env) < 0)
		return -1;
	/* session env then request env, the request's winning; owned copies */
	char **env = env_merge(s->env, req_env);
	for (size_t i = 0; env && env[i]; i++)
		env[i] = strdup(env[i]);
	strv_freep(&req_env);
	if (!env)
		return http_reply_error(req, 500, "internal", "out of memory"), -1;
	*env_out = env;

	json_t *cwd = json_object_get(body, "cwd");
	if (cwd && (!json_is_string(cwd) || !valid_cwd(json_string_value(cwd))))
		return http_reply_error(req, 400, "bad_request", "cwd: expected /workspace or a directory below it"), -1;
	p->cwd = cwd ? json_string_value(cwd) : "/workspace";

	json_t *in = json_object_get(body, "stdin"), *in64 = json_object_get(body, "stdin_base64");
	if (in && in64)
		return http_reply_error(req, 400, "bad_request", "give stdin or stdin_base64, not both"), -1;
	if (in) {
		if (!json_is_string(in))
			return http_reply_error(req, 400, "bad_request", "stdin: expected a string"), -1;
		p->stdin_len = json_string_length(in);
		*stdin_out = malloc(p->stdin_len + 1);
		memcpy(*stdin_out, json_string_value(in), p->stdin_len);
	} else if (in64) {
		if (!json_is_string(in64) ||
		    !(*stdin_out = base64_decode(json_string_value(in64), json_string_length(in64), &p->stdin_len)))
			return http_reply_error(req, 400, "bad_request", "stdin_base64: not valid base64"), -1;
	}
	p->stdin_data = *stdin_out;

	p->timeout_ms = s->limits.timeout_ms;
	p->output_cap = s->limits.output;
	json_t *t = json_object_get(body, "timeout"), *o = json_object_get(body, "output");
	uint64_t v;
	if (t) {
		if (json_limit(req, t, "timeout", 'd', &v) < 0)
			return -1;
		if (v > p->timeout_ms)
			return http_reply_error(req, 400, "bad_request", "timeout: exceeds the session's limit of %llus",
						(unsigned long long)(p->timeout_ms / 1000)), -1;
		p->timeout_ms = v;
	}
	if (o) {
		if (json_limit(req, o, "output", 's', &v) < 0)
			return -1;
		if (v > p->output_cap)
			return http_reply_error(req, 400, "bad_request", "output: exceeds the session's limit of %llu bytes",
						(unsigned long long)p->output_cap), -1;
		p->output_cap = v;
	}
	json_t *st = json_object_get(body, "stream");
	if (st && !json_is_boolean(st))
		return http_reply_error(req, 400, "bad_request", "stream: expected true or false"), -1;
	*stream = st && json_is_true(st);
	p->argv = argv;
	p->envp = env;
	return 0;
}

static void free_params(char **argv, char **env, void *in)
{
	strv_freep(&argv);
	strv_freep(&env);
	free(in);
}

/* Buffered exec: one JSON reply when it is done. */
struct buffered_exec {
	struct http_pending *pending;
	struct exec *x;
	struct session *s;
	session_exec_done_fn done;
	void *done_data;
};

static void buffered_done(struct exec *x, void *data, struct exec_result *r)
{
	struct buffered_exec *b = data;
	h2o_req_t *req = b->pending->req;
	b->pending->on_gone = NULL;
	if (b->s) {
		b->s->running--;
		session_touch(b->s);
	}
	if (req)
		b->done(req, r, b->done_data);
	free(b);
}

static void buffered_gone(void *data)
{
	struct buffered_exec *b = data;
	if (b->s)
		b->s->running--;
	exec_abandon(b->x);
	free(b);
}

static int reply_exec_json(h2o_req_t *req, struct exec_result *r, void *data)
{
	return exec_reply_result(req, r);
}

static unsigned owner_execs(const char *owner)
{
	unsigned n = 0;
	for (h2o_linklist_t *l = sessions.next; l != &sessions; l = l->next) {
		const struct session *s = H2O_STRUCT_FROM_MEMBER(struct session, link, l);
		if (!strcmp(s->owner, owner))
			n += s->running;
	}
	return n;
}

/* Each running command holds three of the daemon's fds (its pipes) for as
 * long as it runs: these caps keep one tenant from taking them all. */
int session_exec_admit(h2o_req_t *req, const struct session *s)
{
	unsigned per_session = daemon_state->cfg.max_execs_per_session, per_token = exec_cap_for_owner(s->owner);
	if (s->running >= per_session)
		return http_reply_error(req, 429, "capacity", "session %s runs its maximum of %u commands at once",
					s->id, per_session), -1;
	if (owner_execs(s->owner) >= per_token)
		return http_reply_error(req, 429, "capacity", "this token runs its maximum of %u commands at once",
					per_token), -1;
	return 0;
}

int session_exec_buffered(h2o_req_t *req, struct session *s, const struct exec_params *p,
			  session_exec_done_fn done, void *done_data)
{
	char err[256];
	if (session_exec_admit(req, s) < 0)
		return 0;
	struct buffered_exec *b = calloc(1, sizeof *b);
	if (!b)
		return http_reply_error(req, 500, "internal", "out of memory");
	b->s = s;
	b->done = done;
	b->done_data = done_data;
	struct exec_callbacks cb = { .on_done = buffered_done, .data = b };
	b->x = exec_start(s->box, p, &cb, err, sizeof err);
	if (!b->x) {
		free(b);
		return http_reply_error(req, 409, "conflict", "%s", err);
	}
	s->running++;
	session_touch(s);
	b->pending = http_pending_new(req, buffered_gone, b);
	return 0;
}

static int post_exec(h2o_req_t *req, const struct http_route_match *m)
{
	struct session *s = find_or_404(req, m);
	if (!s)
		return 0;
	if (s->dead)
		return http_reply_error(req, 409, "conflict", "session %s is dead: %s", s->id, s->dead_reason);
	json_t *body = NULL;
	if (http_body_json(req, &body) < 0)
		return 0;
	struct exec_params p = { 0 };
	char **argv = NULL, **env = NULL;
	void *in = NULL;
	bool stream = false;
	int r = 0;
	if (exec_params_from_json(req, body, s, &p, &argv, &env, &in, &stream) == 0)
		r = stream ? session_exec_stream(req, s, &p) : session_exec_buffered(req, s, &p, reply_exec_json, NULL);
	free_params(argv, env, in);
	json_decref(body);
	return r;
}

/* ---- one-shot run ------------------------------------------------------------ */

struct oneshot {
	struct http_pending *pending;
	json_t *body;
	char **argv, **env;
	void *in;
	struct exec_params p;
	struct box *box;
	struct session s;   /* a throwaway session-shaped holder for limits and env */
	struct exec *x;
	json_t *files;      /* {"path": "content"} written before the command */
	struct workspace_job *job; /* writing them (workspace-job.h) */
	void *files_next;   /* backends without a workspace fd: the next file to put */
	bool gone;          /* the client left, or we replied: pending is off limits */
	bool counted;       /* o->s.link is in `runs` (o->s.owner its owner) */
};

static void oneshot_free(struct oneshot *o)
{
	if (o->counted) {
		h2o_linklist_unlink(&o->s.link);
		n_runs--;
	}
	if (o->box)
		box_destroy(o->box);
	free_params(o->argv, o->env, o->in);
	for (char **e = o->s.env; e && *e; e++)
		free(*e);
	free(o->s.env);
	json_decref(o->files);
	json_decref(o->body);
	free(o);
}

/* The request, or NULL once the client is gone (the pending lives in the
 * request's pool and is freed with it: never touch it after). */
static h2o_req_t *oneshot_take_req(struct oneshot *o)
{
	if (o->gone)
		return NULL;
	h2o_req_t *req = o->pending->req;
	o->pending->on_gone = NULL;
	o->gone = true;
	return req;
}

static void oneshot_done(struct exec *x, void *data, struct exec_result *r)
{
	struct oneshot *o = data;
	h2o_req_t *req = oneshot_take_req(o);
	if (req)
		exec_reply_result(req, r);
	oneshot_free(o);
}

static void oneshot_gone(void *data)
{
	struct oneshot *o = data;
	o->gone = true;
	if (o->x)
		exec_abandon(o->x);
	if (o->job)
		workspace_job_abandon(o->job);
	if (!o->x && o->box == NULL)
		return; /* still waiting for a cold box: oneshot_ready frees */
	oneshot_free(o);
}

/* The HTTP status of a failed write of the request's files. */
static int files_status(int err)
{
	return err == EFBIG ? 413 : err == ENOSPC || err == EDQUOT || err == ENOMEM ? 507 : 400;
}

/* In a workspace job (the pages are the sandbox's): the request's files,
 * as the sandbox user. */
static int write_run_files(int ws, uid_t uid, gid_t gid, void *arg, wr_error *e)
{
	const char *name;
	json_t *content;
	json_object_foreach((json_t *)arg, name, content) {
		char rel[FILES_PATH_MAX + 1];
		int r;
		if ((r = files_normalize(name, strlen(name), rel, e)) < 0 ||
		    (r = files_write(ws, rel, json_string_value(content), json_string_length(content),
				     daemon_state->cfg.max_file_size, uid, gid, e)) < 0)
			return r;
	}
	return 0;
}

static void oneshot_fail(struct oneshot *o, int status, const char *err)
{
	h2o_req_t *req = oneshot_take_req(o);
	if (req)
		http_reply_error(req, status, status == 503 ? "unavailable" : status == 413 ? "payload_too_large" :
				 status == 507 ? "insufficient_storage" : "bad_request", "%s", err);
	oneshot_free(o);
}

static void oneshot_command(struct oneshot *o);
static void oneshot_put_next(struct oneshot *o);

static void oneshot_put_done(struct exec *x, void *data, struct exec_result *r)
{
	struct oneshot *o = data;
	o->x = NULL;
	int err = r->exited && !r->failed_to_start ? r->exit_code : EIO;
	if (err) {
		char msg[320];
		size_t n = r->out_len[1];
		while (n && r->out[1][n - 1] == '\n')
			n--;
		snprintf(msg, sizeof msg, "files: %.*s", (int)n, n ? r->out[1] : strerror(err));
		oneshot_fail(o, files_status(err), msg);
		return;
	}
	o->files_next = json_object_iter_next(o->files, o->files_next);
	oneshot_put_next(o);
}

static void oneshot_put_next(struct oneshot *o)
{
	if (!o->files_next) {
		oneshot_command(o);
		return;
	}
	const char *name = json_object_iter_key(o->files_next);
	json_t *content = json_object_iter_value(o->files_next);
	char rel[FILES_PATH_MAX + 1], err[256];
	wr_error e = { 0 };
	if (files_normalize(name, strlen(name), rel, &e) < 0) {
		snprintf(err, sizeof err, "files: %s", e.message);
		oneshot_fail(o, 400, err);
		return;
	}
	struct exec_params p = {
		.kind = BACKEND_FILE_PUT, .path = rel, .max_size = daemon_state->cfg.max_file_size, .cwd = "/workspace",
		.stdin_data = json_string_value(content), .stdin_len = json_string_length(content),
		.timeout_ms = 60000, .output_cap = 4096,
	};
	struct exec_callbacks cb = { .on_done = oneshot_put_done, .data = o };
	if (!(o->x = exec_start(o->box, &p, &cb, err, sizeof err)))
		oneshot_fail(o, 503, err);
}

static void oneshot_files_written(void *data, int r, const wr_error *e)
{
	struct oneshot *o = data;
	o->job = NULL;
	if (r < 0) {
		char msg[600];
		snprintf(msg, sizeof msg, "files: %s", e->message);
		oneshot_fail(o, files_status(-r), msg);
		return;
	}
	oneshot_command(o);
}

static void oneshot_run(struct oneshot *o, struct box *b)
{
	o->box = b;
	if (!o->files) {
		oneshot_command(o);
		return;
	}
	wr_error e = { 0 };
	int r = workspace_job_start(b, write_run_files, o->files, oneshot_files_written, o, &o->job, &e);
	if (r == -EOPNOTSUPP) { /* the backend puts them one by one through file execs */
		o->files_next = json_object_iter(o->files);
		oneshot_put_next(o);
	} else if (r < 0) {
		char msg[600];
		snprintf(msg, sizeof msg, "files: %s", e.message);
		oneshot_fail(o, 503, msg);
	}
}

static void oneshot_command(struct oneshot *o)
{
	char err[256];
	struct exec_callbacks cb = { .on_done = oneshot_done, .data = o };
	o->x = exec_start(o->box, &o->p, &cb, err, sizeof err);
	if (!o->x)
		oneshot_fail(o, 503, err);
}

static void oneshot_ready(struct box *b, void *data, const char *error)
{
	struct oneshot *o = data;
	if (o->gone) {
		if (!error)
			box_destroy(b);
		o->box = NULL;
		oneshot_free(o);
		return;
	}
	if (error) {
		http_reply_error(oneshot_take_req(o), 503, "unavailable", "no sandbox could be created: %s", error);
		oneshot_free(o);
		return;
	}
	oneshot_run(o, b);
}

static int post_run(h2o_req_t *req, const struct http_route_match *m)
{
	static const char *const fields[] = { "cmd", "shell", "language", "code", "image", "policy", "backend",
					      "limits", "env", "stdin", "stdin_base64", "timeout", "output", "files", NULL };
	const struct daemon_config *cfg = &daemon_state->cfg;
	json_t *body = NULL;
	if (http_body_json(req, &body) < 0)
		return 0;
	struct oneshot *o = calloc(1, sizeof *o);
	o->body = body;
	if (http_check_fields(req, body, NULL, fields) < 0)
		goto fail;
	if (daemon_state->draining) {
		http_reply_error(req, 503, "unavailable", "warrend is shutting down");
		goto fail;
	}
	json_t *image = json_object_get(body, "image"), *policy = json_object_get(body, "policy");
	if ((image && !json_is_string(image)) || (policy && !json_is_string(policy))) {
		http_reply_error(req, 400, "bad_request", "image and policy: expected strings");
		goto fail;
	}
	if (admit_sandbox(req, m->owner) < 0)
		goto fail;
	int status;
	char err[512];
	enum backend_kind backend;
	const char *image_name = image ? json_string_value(image) : cfg->default_image;
	const char *policy_name = policy ? json_string_value(policy) : cfg->default_policy;
	if (auth_check_lease(m->owner, image_name, policy_name, backends_requested_name(json_object_get(body, "backend")),
			     err, sizeof err) < 0) {
		http_reply_error(req, 403, "forbidden", "%s", err);
		goto fail;
	}
	if (backends_resolve(json_object_get(body, "backend"), &backend, &status, err, sizeof err) < 0) {
		http_reply_error(req, status, http_error_code(status), "%s", err);
		goto fail;
	}
	struct pool *pool = pool_get(backend, image_name, policy_name, &status, err, sizeof err);
	if (!pool) {
		http_reply_error(req, status, status == 400 ? "bad_request" : "internal", "%s", err);
		goto fail;
	}
	o->s.pool = pool;
	o->s.limits = pool_policy(pool)->limits;
	char **req_env = NULL;
	if (tighten(req, json_object_get(body, "limits"), &o->s.limits, pool_policy_name(pool)) < 0)
		goto fail;
	o->s.env = spawn_build_env(pool_policy(pool), req_env);
	/* spawn_build_env borrows; own copies for free() symmetry */
	for (size_t i = 0; o->s.env && o->s.env[i]; i++)
		o->s.env[i] = strdup(o->s.env[i]);

	/* "language" and "code" become a cmd in the language's interpreter. */
	json_t *lang = json_object_get(body, "language"), *code = json_object_get(body, "code");
	if (lang || code) {
		if (!lang || !code || !json_is_string(lang) || !json_is_string(code) ||
		    json_object_get(body, "cmd") || json_object_get(body, "shell")) {
			http_reply_error(req, 400, "bad_request", "give \"language\" and \"code\" together (strings), without cmd or shell");
			goto fail;
		}
		const char *l = json_string_value(lang), *flag;
		if (!strcmp(l, "python"))
			l = "python3", flag = "-c";
		else if (!strcmp(l, "bash"))
			flag = "-c";
		else if (!strcmp(l, "node"))
			flag = "-e";
		else {
			http_reply_error(req, 400, "bad_request", "language: \"%s\" is not one of python, bash, node", l);
			goto fail;
		}
		json_t *cmd = json_pack("[s,s,O]", l, flag, code);
		json_object_del(body, "language");
		json_object_del(body, "code");
		json_object_set_new(body, "cmd", cmd);
	}
	json_t *files = json_object_get(body, "files");
	if (files) {
		const char *name;
		json_t *content;
		if (!json_is_object(files)) {
			http_reply_error(req, 400, "bad_request", "files: expected an object of \"path\": \"content\"");
			goto fail;
		}
		json_object_foreach(files, name, content) {
			if (!json_is_string(content)) {
				http_reply_error(req, 400, "bad_request", "files.%s: expected a string", name);
				goto fail;
			}
		}
		o->files = json_incref(files);
	}
	json_object_del(body, "files");
	json_object_del(body, "image");
	json_object_del(body, "policy");
	json_object_del(body, "backend");
	json_object_del(body, "limits");
	bool stream = false;
	if (exec_params_from_json(req, body, &o->s, &o->p, &o->argv, &o->env, &o->in, &stream) < 0)
		goto fail;
	o->pending = http_pending_new(req, oneshot_gone, o);
	/* counted from here until oneshot_free: while it waits for, then holds, a sandbox */
	snprintf(o->s.owner, sizeof o->s.owner, "%s", m->owner);
	h2o_linklist_insert(&runs, &o->s.link);
	n_runs++;
	o->counted = true;
	bool tighter = pool_limits_tighter(pool, &o->s.limits);
	bool own_limits = tighter && !pool_limits_live(pool);
	struct box *b = own_limits ? NULL : pool_lease(pool);
	if (b) {
		if (tighter && box_set_limits(b, &o->s.limits, err, sizeof err) < 0) {
			box_destroy(b);
			oneshot_take_req(o);
			http_reply_error(req, 503, "unavailable", "limits: %s", err);
			oneshot_free(o);
			return 0;
		}
		oneshot_run(o, b);
		return 0;
	}
	if (pool_cold_create(pool, own_limits ? &o->s.limits : NULL, oneshot_ready, o, err, sizeof err) < 0) {
		oneshot_take_req(o);
		http_reply_error(req, 503, "unavailable", "no sandbox could be created: %s", err);
		oneshot_free(o);
	}
	return 0;
fail:
	oneshot_free(o);
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------- */

/* Milliseconds from `then` to `now`, 0 when `then` is later (a session
 * touched after `now` was read must not look idle for 2^64 ms). */
static uint64_t elapsed_ms(uint64_t now, uint64_t then)
{
	return now > then ? now - then : 0;
}

static void reap_expired(uint64_t now)
{
	for (h2o_linklist_t *n = sessions.next; n != &sessions;) {
		struct session *s = H2O_STRUCT_FROM_MEMBER(struct session, link, n);
		n = n->next;
		const char *why = NULL;
		if (elapsed_ms(now, s->created_ms) >= s->max_lifetime_ms)
			why = "reached its maximum lifetime";
		else if (s->running == 0 && elapsed_ms(now, s->last_used_ms) >= s->idle_timeout_ms)
			why = "was idle too long";
		if (why) {
			if (daemon_state->cfg.verbose)
				daemon_log("session %s %s: destroyed", s->id, why);
			session_end(s);
		}
	}
}

static void on_tick(h2o_timeout_entry_t *entry)
{
	uint64_t now = daemon_now_ms();
	box_tick(now);
	streams_tick(now);
	backends_tick(now);
	if (now - last_reap_ms >= 250)
		http_pending_check_clients();
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
	h2o_timeout_link(daemon_state->loop, &tick_timeout, &tick_entry);
}

/* wd-PID-N belongs to the warrend with that pid; another daemon on this
 * host (tests run several) may still be using its cgroups. */
static bool cgroup_owner_alive(const char *name)
{
	char *end;
	long pid = strtol(name + 3, &end, 10);
	return *end == '-' && pid > 0 && pid != getpid() && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* What a previous run left: its inits died with it (PDEATHSIG), so only
 * state files and empty cgroups can remain; remove them. */
static void clean_previous_run(void)
{
	char dir[512];
	snprintf(dir, sizeof dir, "%s/sessions", daemon_state->cfg.state_dir);
	_cleanup_closedir_ DIR *d = opendir(dir);
	unsigned stale = 0;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		unlinkat(dirfd(d), de->d_name, 0);
		stale++;
	}
	/* containers first: their runtime removes them with their cgroups,
	 * which it cannot once the cgroups are gone */
	unsigned containers = backends_remove_stale("wd-", cgroup_owner_alive);
	unsigned cgroups = cgroup_remove_stale("wd-", cgroup_owner_alive);
	if (stale || cgroups || containers)
		daemon_log("destroyed %u sessions, %u cgroups and %u containers left by a previous run", stale, cgroups,
			   containers);
}

int sessions_init(char *err, size_t errlen)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	char dir[512];
	mkdir(cfg->state_dir, 0755);
	snprintf(dir, sizeof dir, "%s/sessions", cfg->state_dir);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "state directory %s: %s", dir, strerror(errno));
		return -1;
	}
	if (cfg->policy_dir)
		setenv("WARREN_POLICY_DIR", cfg->policy_dir, 1);
	if (backends_init(err, errlen) < 0)
		return -1;
	clean_previous_run();
	pools_set_target(cfg->pool_size);
	int status;
	if (!pool_get(backends_default(), cfg->default_image, cfg->default_policy, &status, err, errlen))
		return -1;
	h2o_timeout_init(daemon_state->loop, &tick_timeout, TICK_MS);
	tick_entry.cb = on_tick;
	h2o_timeout_link(daemon_state->loop, &tick_timeout, &tick_entry);
	return 0;
}

void sessions_drain(void)
{
	while (!h2o_linklist_is_empty(&sessions))
		session_end(H2O_STRUCT_FROM_MEMBER(struct session, link, sessions.next));
	boxes_destroy_all();
}

bool sessions_drained(void)
{
	return h2o_linklist_is_empty(&sessions) && boxes_all_gone();
}

void sessions_reload_policies(void)
{
	pools_retire();
}

const struct http_route session_routes[] = {
	{ "POST", "/v1/sessions", post_sessions, 0 },
	{ "GET", "/v1/sessions", get_sessions, 0 },
	{ "GET", "/v1/sessions/{id}", get_session, 0 },
	{ "DELETE", "/v1/sessions/{id}", delete_session, 0 },
	{ "POST", "/v1/sessions/{id}/exec", post_exec, 0 },
	{ "POST", "/v1/run", post_run, 0 },
	{ NULL, NULL, NULL, 0 },
};
