#include "config.h"

/* E2B's control plane (e2b.h): sandboxes created, inspected, listed,
 * given more time, connected to and killed. Each is a warren session of
 * the API key's token, with the same caps and restrictions as one made
 * through /v1/sessions. What E2B offers and warren does not (pausing,
 * snapshots, template builds, …) answers 501 saying so. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "creation.h"
#include "e2b.h"
#include "image.h"

/* E2B's template ids and the warren image and policy behind each; any
 * other id names a warren image (with the default policy). warrend.conf's
 * e2b_template entries come first. */
static const struct {
	const char *id, *image, *policy;
} builtin_templates[] = {
	{ "base", "minimal", NULL },
	{ "code-interpreter-v1", "python", "python" },
};

struct template {
	char image[65], policy[65];
	bool known;                 /* an E2B id mapped here (else the id itself names an image) */
};

static void resolve_template(const char *id, struct template *t)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	*t = (struct template){ 0 };
	size_t n = strlen(id);
	for (size_t i = 0; i < cfg->n_e2b_templates; i++) {
		const char *e = cfg->e2b_templates[i], *eq = strchr(e, '=');
		if (!eq || (size_t)(eq - e) != n || memcmp(e, id, n))
			continue;
		const char *colon = strchr(eq + 1, ':');
		snprintf(t->image, sizeof t->image, "%.*s", (int)(colon ? colon - eq - 1 : (int)strlen(eq + 1)), eq + 1);
		if (colon)
			snprintf(t->policy, sizeof t->policy, "%s", colon + 1);
		t->known = true;
		return;
	}
	for (size_t i = 0; i < sizeof builtin_templates / sizeof *builtin_templates; i++)
		if (!strcmp(builtin_templates[i].id, id)) {
			snprintf(t->image, sizeof t->image, "%s", builtin_templates[i].image);
			if (builtin_templates[i].policy)
				snprintf(t->policy, sizeof t->policy, "%s", builtin_templates[i].policy);
			t->known = true;
			return;
		}
	snprintf(t->image, sizeof t->image, "%s", id);
}

/* ---- what E2B clients see of a sandbox --------------------------------------------- */

static json_t *sandbox_json(const struct e2b_sandbox *sb, const struct session *s, bool detail)
{
	struct session_info i;
	char started[32], end[32];
	session_info(s, &i);
	e2b_time(sb->started, started);
	e2b_time(i.expires, end);
	unsigned cpus = (unsigned)((i.limits->cpu_millis + 999) / 1000);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:O, s:s}", "templateID", sb->template_id,
			      "sandboxID", sb->id, "clientID", "warren", "startedAt", started, "endAt", end,
			      "envdVersion", E2B_ENVD_VERSION, "cpuCount", (json_int_t)(cpus ? cpus : 1),
			      "memoryMB", (json_int_t)(i.limits->memory >> 20),
			      "diskSizeMB", (json_int_t)(i.limits->workspace >> 20), "metadata", sb->metadata,
			      "state", "running");
	if (o && detail)
		json_object_set_new(o, "envdAccessToken", json_string(sb->token));
	return o;
}

/* What create and connect answer: what the SDK needs to reach the sandbox. */
static json_t *access_json(const struct e2b_sandbox *sb)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "sandboxID", sb->id, "templateID", sb->template_id,
			 "clientID", "warren", "envdVersion", E2B_ENVD_VERSION, "envdAccessToken", sb->token,
			 "trafficAccessToken", sb->token);
}

/* ---- POST /sandboxes, /v2/sandboxes -------------------------------------------------- */

struct creation {
	struct http_creation http; /* first: http_session_create's */
	char owner[65], template_id[65];
	json_t *metadata;
	uint64_t timeout_ms;
};

static void creation_dispose(void *obj)
{
	json_decref(((struct creation *)obj)->metadata);
}

static void created(void *data, struct session *s, const struct wd_error *err)
{
	struct creation *c = data;
	h2o_req_t *req = http_creation_done(&c->http);
	if (err) {
		e2b_reply_wd_error(req, err);
		return;
	}
	struct wd_error terr = { 0 };
	if (session_set_timeout(s, c->timeout_ms, &terr) < 0) {
		session_delete(s);
		e2b_reply_wd_error(req, &terr);
		return;
	}
	struct e2b_sandbox *sb = e2b_sandbox_new(s, c->owner, c->template_id, json_incref(c->metadata));
	if (!sb) {
		session_delete(s);
		e2b_reply_error(req, 503, "out of memory");
		return;
	}
	http_set_session(req, sb->id);
	http_reply_json(req, 201, access_json(sb));
}

/* {string: string} into "KEY=VALUE" (env) or kept as it is (metadata). */
static int string_map(json_t *v, const char *name, bool env_names, char ***env, char *msg, size_t len)
{
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		snprintf(msg, len, "%s: expected an object of strings", name);
		return -1;
	}
	size_t n = json_object_size(v), i = 0;
	_cleanup_strv_ char **list = env ? calloc(n + 1, sizeof *list) : NULL;
	if (env && !list) {
		snprintf(msg, len, "out of memory");
		return -1;
	}
	const char *key;
	json_t *value;
	json_object_foreach(v, key, value) {
		bool bad_name = env_names && (!*key || strchr(key, '=') || strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
										       "mnopqrstuvwxyz0123456789_") != strlen(key));
		if (!json_is_string(value) || bad_name || memchr(json_string_value(value), '\0', json_string_length(value))) {
			snprintf(msg, len, "%s.%.64s: expected %s with a string value", name, key,
				 env_names ? "a variable name (letters, digits, _)" : "a key");
			return -1;
		}
		if (env && asprintf(&list[i++], "%s=%s", key, json_string_value(value)) < 0) {
			list[i - 1] = NULL;
			snprintf(msg, len, "out of memory");
			return -1;
		}
	}
	if (env)
		*env = TAKE_PTR(list);
	return 0;
}

/* What E2B offers at creation and warren does not: refused by name. */
static const char *unsupported_field(json_t *body)
{
	json_t *v;
	if (json_is_true(json_object_get(body, "autoPause")))
		return "autoPause: pausing sandboxes is not supported by warren";
	if ((v = json_object_get(body, "autoResume")) && json_is_true(json_object_get(v, "enabled")))
		return "autoResume: pausing and resuming sandboxes is not supported by warren";
	if ((v = json_object_get(body, "mcp")) && !json_is_null(v))
		return "mcp: E2B's MCP gateway is not part of warren (warrend serves MCP itself: POST /mcp on its own "
		       "listener)";
	if ((v = json_object_get(body, "volumeMounts")) && json_array_size(v))
		return "volumeMounts: volumes are not supported by warren";
	if ((v = json_object_get(body, "iam")) && !json_is_null(v))
		return "iam: identity tokens are not supported by warren";
	return NULL;
}

/* network.allowOut as the sandbox's egress allowlist; allow_internet_access
 * false as no network. Neither: the policy's network. */
static int network(json_t *body, struct network_request *net, char ***allow, char *msg, size_t len)
{
	json_t *internet = json_object_get(body, "allow_internet_access"), *n = json_object_get(body, "network");
	if (internet && !json_is_boolean(internet) && !json_is_null(internet)) {
		snprintf(msg, len, "allow_internet_access: expected true or false");
		return -1;
	}
	if (json_is_false(internet)) {
		*net = (struct network_request){ .has_mode = true, .mode = NET_NONE };
		return 0;
	}
	if (!n || json_is_null(n))
		return 0;
	json_t *out = json_object_get(n, "allowOut"), *deny = json_object_get(n, "denyOut");
	if (deny && json_array_size(deny)) {
		snprintf(msg, len, "network.denyOut is not supported by warren: its egress is an allowlist (list what "
			 "the sandbox may reach in network.allowOut)");
		return -1;
	}
	if (!out || json_is_null(out))
		return 0;
	size_t k = json_array_size(out);
	if (!json_is_array(out) || !(*allow = calloc(k + 1, sizeof **allow))) {
		snprintf(msg, len, "network.allowOut: expected an array of addresses, networks or names");
		return -1;
	}
	for (size_t i = 0; i < k; i++) {
		json_t *e = json_array_get(out, i);
		if (!json_is_string(e) || !((*allow)[i] = strdup(json_string_value(e)))) {
			snprintf(msg, len, "network.allowOut[%zu]: expected a string", i);
			return -1;
		}
	}
	*net = (struct network_request){ .has_mode = true, .mode = NET_EGRESS, .has_allow = true, .allow = *allow,
					 .n_allow = k };
	return 0;
}

static int create(h2o_req_t *req, const char *owner, const char *request_id)
{
	json_t *body = NULL;
	if (e2b_body_json(req, &body) < 0)
		return 0;
	char msg[512] = "";
	_cleanup_strv_ char **env = NULL, **allow = NULL;
	struct network_request net = { 0 };
	json_t *tid = json_object_get(body, "templateID"), *timeout = json_object_get(body, "timeout");
	json_t *metadata = json_object_get(body, "metadata");
	const char *why = unsupported_field(body);
	if (!why && tid && (!json_is_string(tid) || !json_string_length(tid) || json_string_length(tid) > 64))
		why = "templateID: expected a template's id";
	if (!why && timeout && !json_is_null(timeout) && (!json_is_integer(timeout) || json_integer_value(timeout) < 1))
		why = "timeout: expected a whole number of seconds, at least 1";
	if (!why && (string_map(metadata, "metadata", false, NULL, msg, sizeof msg) < 0 ||
		     string_map(json_object_get(body, "envVars"), "envVars", true, &env, msg, sizeof msg) < 0 ||
		     network(body, &net, &allow, msg, sizeof msg) < 0))
		why = msg;
	if (why) {
		int rc = e2b_reply_error(req, 400, "%s", why);
		json_decref(body);
		return rc;
	}
	const char *template_id = tid ? json_string_value(tid) : "base";
	struct template t;
	resolve_template(template_id, &t);
	struct creation *c = h2o_mem_alloc_shared(&req->pool, sizeof *c, creation_dispose);
	*c = (struct creation){ .metadata = json_is_object(metadata) ? json_incref(metadata) : json_object(),
				.timeout_ms = (uint64_t)(timeout && json_is_integer(timeout) ? json_integer_value(timeout)
											 : E2B_DEFAULT_TIMEOUT_S) * 1000 };
	snprintf(c->owner, sizeof c->owner, "%s", owner);
	snprintf(c->template_id, sizeof c->template_id, "%s", template_id);
	json_decref(body); /* (template_id with it: c->template_id from here) */
	struct session_request r = {
		.kind = SESSION_KEPT, .owner = owner, .image = t.image, .policy = t.policy[0] ? t.policy : NULL,
		.env = env, .network = net.has_mode ? &net : NULL, .request_id = request_id,
	};
	struct wd_error err = { 0 };
	int rc;
	if (c->timeout_ms > daemon_state->cfg.max_lifetime_ms)
		rc = wd_fail(&err, 400, "timeout: %llus is beyond this daemon's max_lifetime (%llus)",
			     (unsigned long long)(c->timeout_ms / 1000),
			     (unsigned long long)(daemon_state->cfg.max_lifetime_ms / 1000));
	else
		rc = http_session_create(req, &c->http, c, &r, created, &err);
	if (rc < 0) {
		if (err.status == 400 && !t.known && strstr(err.cause.message, "unknown image")) {
			_cleanup_free_ char *names = image_names_text(daemon_state->cfg.image_dir);
			return e2b_reply_error(req, 400, "unknown template \"%s\": warren serves base, code-interpreter-v1 "
					       "(images minimal and python), the e2b_template entries of warrend.conf and "
					       "its images by name (%s)", c->template_id, names ? names : IMAGE_HOST);
		}
		return e2b_reply_wd_error(req, &err);
	}
	return 0;
}

/* ---- one sandbox ----------------------------------------------------------------------- */

/* The timeout of a request's body ({"timeout": seconds}); -1 after replying. */
static int64_t body_timeout(h2o_req_t *req, bool required)
{
	json_t *body = NULL;
	if (e2b_body_json(req, &body) < 0)
		return -1;
	json_t *t = json_object_get(body, "timeout");
	int64_t v = json_is_integer(t) ? json_integer_value(t) : 0;
	bool absent = !t || json_is_null(t), integer = json_is_integer(t);
	json_decref(body);
	if (absent && !required)
		return 0;
	if (!integer || v < 1) {
		e2b_reply_error(req, 400, "timeout: expected a whole number of seconds, at least 1");
		return -1;
	}
	return v;
}

static int set_timeout(h2o_req_t *req, struct session *s, int64_t seconds)
{
	struct wd_error err = { 0 };
	if (seconds && session_set_timeout(s, (uint64_t)seconds * 1000, &err) < 0)
		return e2b_reply_wd_error(req, &err), -1;
	session_touch(s);
	return 0;
}

static int one_sandbox(h2o_req_t *req, const char *owner, const char *id, const char *action)
{
	struct session *s = NULL;
	struct e2b_sandbox *sb = e2b_sandbox_find(id, owner, &s);
	bool get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")),
	     post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")),
	     del = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("DELETE"));
	if (!sb)
		return e2b_reply_error(req, 404, "sandbox \"%s\" not found", id);
	http_set_session(req, sb->id);
	if (!*action && get)
		return http_reply_json(req, 200, sandbox_json(sb, s, true));
	if (!*action && del) {
		session_delete(s); /* its record goes with it (looked up no more) */
		e2b_sandboxes_sweep();
		return e2b_reply_empty(req, 204);
	}
	int64_t t;
	if (!strcmp(action, "timeout") && post) {
		if ((t = body_timeout(req, true)) < 0 || set_timeout(req, s, t) < 0)
			return 0;
		return e2b_reply_empty(req, 204);
	}
	if (!strcmp(action, "connect") && post) {
		if ((t = body_timeout(req, false)) < 0 || set_timeout(req, s, t) < 0)
			return 0;
		return http_reply_json(req, 200, access_json(sb));
	}
	if (!strcmp(action, "refreshes") && post) {
		session_touch(s);
		return e2b_reply_empty(req, 204);
	}
	if (!strcmp(action, "pause"))
		return e2b_reply_error(req, 501, "pausing sandboxes is not supported by warren: a sandbox runs until "
				       "it is killed or its timeout ends it");
	if (!strcmp(action, "resume"))
		return e2b_reply_error(req, 501, "resuming sandboxes is not supported by warren: none is ever paused");
	if (!strcmp(action, "snapshots"))
		return e2b_reply_error(req, 501, "snapshots are not supported by warren");
	if (!strcmp(action, "fork"))
		return e2b_reply_error(req, 501, "forking sandboxes is not supported by warren");
	if (!strcmp(action, "metrics"))
		return e2b_reply_error(req, 501, "sandbox metrics are not offered through E2B's API: warrend's "
				       "GET /metrics has them");
	if (!strcmp(action, "network"))
		return e2b_reply_error(req, 501, "changing a sandbox's network is not offered through E2B's API: use "
				       "PATCH /v1/sessions/%s on warrend's own listener", sb->id);
	if (!strcmp(action, "logs"))
		return e2b_reply_error(req, 501, "sandbox logs are not offered by warren");
	return e2b_reply_error(req, 404, "no route for %.*s /sandboxes/%s/%s", (int)req->method.len, req->method.base,
			       id, action);
}

/* ---- listing ------------------------------------------------------------------------------ */

struct listing {
	struct { struct e2b_sandbox *sb; struct session *s; } *v;
	size_t n, cap;
	json_t *want_metadata;      /* {k: v}: every pair must match */
	const char *template_id;
	bool running;               /* "running" among the states asked for */
};

static void collect(struct e2b_sandbox *sb, struct session *s, void *data)
{
	struct listing *l = data;
	const char *k;
	json_t *v;
	if (!l->running || (l->template_id && strcmp(l->template_id, sb->template_id)))
		return;
	json_object_foreach(l->want_metadata, k, v) {
		json_t *have = json_object_get(sb->metadata, k);
		if (!have || !json_equal(have, v))
			return;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		void *grown = realloc(l->v, cap * sizeof *l->v);
		if (!grown)
			return;
		l->v = grown;
		l->cap = cap;
	}
	l->v[l->n].sb = sb;
	l->v[l->n].s = s;
	l->n++;
}

/* "k=v&k2=v2", its keys and values percent-encoded (the query parameter
 * was decoded once already). */
static json_t *metadata_filter(const char *q)
{
	json_t *o = json_object();
	while (o && q && *q) {
		size_t n = strcspn(q, "&");
		_cleanup_free_ char *pair = strndup(q, n);
		char *eq = pair ? strchr(pair, '=') : NULL;
		if (eq) {
			*eq = '\0';
			/* a second decoding, in place */
			for (char *s = pair; s; s = s == pair ? eq + 1 : NULL) {
				char *w = s;
				for (char *r = s; *r; r++) {
					if (*r == '%' && isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2])) {
						char hex[3] = { r[1], r[2], 0 };
						*w++ = (char)strtoul(hex, NULL, 16);
						r += 2;
					} else {
						*w++ = *r;
					}
				}
				*w = '\0';
			}
			json_object_set_new(o, pair, json_string(eq + 1));
		}
		q += n + (q[n] == '&');
	}
	return o;
}

static int by_start(const void *a, const void *b)
{
	const struct e2b_sandbox *x = *(struct e2b_sandbox *const *)a, *y = *(struct e2b_sandbox *const *)b;
	return x->started != y->started ? (x->started < y->started ? -1 : 1) : strcmp(x->id, y->id);
}

static int list(h2o_req_t *req, const char *owner, bool paged)
{
	struct listing l = { 0 };
	const char *state = e2b_query(req, "state", NULL), *limit_q = e2b_query(req, "limit", NULL);
	const char *next = e2b_query(req, "nextToken", NULL);
	l.running = !state || !*state || strstr(state, "running");
	l.template_id = e2b_query(req, "template", NULL);
	if (l.template_id && !*l.template_id)
		l.template_id = NULL;
	l.want_metadata = metadata_filter(e2b_query(req, "metadata", NULL));
	unsigned long limit = 100;
	if (limit_q) {
		char *end;
		limit = strtoul(limit_q, &end, 10);
		if (*end || !limit || limit > 1000) {
			json_decref(l.want_metadata);
			return e2b_reply_error(req, 400, "limit: expected 1 to 1000");
		}
	}
	e2b_sandboxes_foreach(owner, collect, &l);
	json_decref(l.want_metadata);
	/* oldest first: the position of one is its (start, id), and a page
	 * token names the last one given */
	if (l.n) /* (l.v is NULL then, which qsort may not take) */
		qsort(l.v, l.n, sizeof *l.v, by_start);
	size_t from = 0;
	if (next && paged) {
		while (from < l.n && strcmp(l.v[from].sb->id, next))
			from++;
		from = from < l.n ? from + 1 : l.n;
	}
	json_t *out = json_array();
	size_t to = paged && l.n - from > limit ? from + limit : l.n;
	for (size_t i = from; out && i < to; i++)
		json_array_append_new(out, sandbox_json(l.v[i].sb, l.v[i].s, false));
	if (paged && to < l.n) {
		const char *id = l.v[to - 1].sb->id;
		h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-next-token"), 0, NULL,
				      h2o_strdup(&req->pool, id, SIZE_MAX).base, strlen(id));
	}
	free(l.v);
	return out ? http_reply_json(req, 200, out) : e2b_reply_error(req, 503, "out of memory");
}

/* ---- routing ------------------------------------------------------------------------------ */

static bool starts(const char *path, size_t len, const char *p)
{
	size_t n = strlen(p);
	return len >= n && !memcmp(path, p, n) && (len == n || path[n] == '/' || path[n] == '?');
}

int e2b_control(h2o_req_t *req, const char *owner, const char *request_id, const char *path, size_t len)
{
	bool get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")),
	     post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
	bool v2 = starts(path, len, "/v2/sandboxes");
	const char *rest = path + (v2 ? 13 : 10);
	size_t rest_len = len - (size_t)(rest - path);
	if (v2 || starts(path, len, "/sandboxes")) {
		if (rest_len == 0 && post)
			return create(req, owner, request_id);
		if (rest_len == 0 && get)
			return list(req, owner, v2);
		if (rest_len == 0)
			return e2b_reply_error(req, 405, "/sandboxes takes GET and POST");
		/* /sandboxes/ID[/ACTION] */
		char id[65], action[32] = "";
		/* (the path is not NUL-terminated) */
		const char *slash = memchr(rest + 1, '/', rest_len - 1);
		size_t n = slash ? (size_t)(slash - rest - 1) : rest_len - 1;
		if (n == 0 || n >= sizeof id)
			return e2b_reply_error(req, 404, "sandbox \"%.*s\" not found", (int)(rest_len < 64 ? rest_len : 64), rest);
		memcpy(id, rest + 1, n);
		id[n] = '\0';
		size_t alen = rest_len - 1 - n;
		if (alen) {
			if (alen - 1 >= sizeof action || memchr(rest + 2 + n, '/', alen - 1))
				return e2b_reply_error(req, 404, "no route for %.*s", (int)len, path);
			memcpy(action, rest + 2 + n, alen - 1);
			action[alen - 1] = '\0';
		}
		if (!strcmp(id, "metrics"))
			return e2b_reply_error(req, 501, "sandbox metrics are not offered through E2B's API: warrend's "
					       "GET /metrics has them");
		return one_sandbox(req, owner, id, action);
	}
	if (starts(path, len, "/templates") || starts(path, len, "/v2/templates") || starts(path, len, "/v3/templates"))
		return e2b_reply_error(req, 501, "custom template builds are not supported by warren: build a warren "
				       "image with warren-rootfs and create sandboxes with its name as the template");
	if (starts(path, len, "/snapshots"))
		return e2b_reply_error(req, 501, "snapshots are not supported by warren");
	if (starts(path, len, "/health"))
		return e2b_reply_empty(req, 200);
	return e2b_reply_error(req, 404, "no route for %.*s %.*s", (int)req->method.len, req->method.base, (int)len, path);
}
