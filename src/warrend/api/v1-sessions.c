/* Version 1 sessions: POST, GET /v1/sessions, GET, PATCH, DELETE
 * /v1/sessions/{id} and POST /v1/sessions/{id}/exec. Each handler parses
 * the request into one core call and renders its result. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "creation.h"
#include "exec-reply.h"
#include "units.h"
#include "v1-parse.h"
#include "v1-routes.h"

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

static json_t *network_json(const struct session *s)
{
	struct session_network_info n;
	session_network_info(s, &n);
	json_t *o = json_pack("{s:s}", "mode", n.mode);
	if (!o || !n.allow)
		return o;
	json_object_set_new(o, "allow", session_net_allow_json(n.allow));
	if (n.address[0])
		json_object_set_new(o, "address", json_string(n.address));
	if (n.address6[0])
		json_object_set_new(o, "address6", json_string(n.address6));
	return o;
}

static json_t *session_json(const struct session *s)
{
	struct session_info i;
	char created[32], last[32], expires[32];
	session_info(s, &i);
	v1_iso_time(i.created, created, sizeof created);
	v1_iso_time(i.last_used, last, sizeof last);
	v1_iso_time(i.expires, expires, sizeof expires);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:o, s:b, s:I, s:s}",
			      "id", i.id, "image", i.image, "policy", i.policy,
			      "created", created, "last_used", last, "expires", expires,
			      "idle_timeout_s", (json_int_t)(i.idle_timeout_ms / 1000),
			      "max_lifetime_s", (json_int_t)(i.max_lifetime_ms / 1000),
			      "state", i.dead ? "dead" : "ready", "limits", limits_json(i.limits),
			      "pooled", i.pooled, "execs_running", (json_int_t)i.execs_running, "backend", i.backend);
	if (o && i.dead)
		json_object_set_new(o, "error", json_string(i.dead_reason));
	if (o)
		json_object_set_new(o, "network", network_json(s));
	return o;
}

/* ---- POST /v1/sessions ------------------------------------------------------- */

static void created(void *data, struct session *s, const struct wd_error *err)
{
	h2o_req_t *req = http_creation_done(data);
	if (err) {
		http_reply_wd_error(req, err);
		return;
	}
	http_set_session(req, session_id(s));
	http_reply_json(req, 201, session_json(s));
}

static int post_sessions(h2o_req_t *req, const struct http_route_match *m)
{
	json_t *body = NULL;
	if (req->entity.len && http_body_json(req, &body) < 0)
		return 0;
	struct v1_hold hold = { 0 };
	struct session_request r = { .kind = SESSION_KEPT, .owner = m->owner, .request_id = m->request_id };
	struct wd_error err = { 0 };
	int rc = v1_session_request(body, NULL, &r, &hold, &err);
	if (rc == 0) {
		struct http_creation *c = h2o_mem_alloc_pool(&req->pool, sizeof *c);
		rc = http_session_create(req, c, c, &r, created, &err);
	}
	v1_hold_free(&hold);
	json_decref(body);
	return rc < 0 ? http_reply_wd_error(req, &err) : 0;
}

/* ---- GET, DELETE ------------------------------------------------------------------ */

static void append_session(const struct session *s, void *list)
{
	json_array_append_new(list, session_json(s));
}

static int get_sessions(h2o_req_t *req, const struct http_route_match *m)
{
	json_t *list = json_array();
	if (!list)
		return http_reply_error(req, 503, "unavailable", "out of memory");
	sessions_foreach_of(m->owner, append_session, list);
	return http_reply_json(req, 200, json_pack("{s:o}", "sessions", list));
}

static int get_session(h2o_req_t *req, const struct http_route_match *m)
{
	struct wd_error err = { 0 };
	struct session *s = session_find_or_fail(m->id, m->owner, &err);
	return s ? http_reply_json(req, 200, session_json(s)) : http_reply_wd_error(req, &err);
}

/* PATCH {"network": {"allow": [...]}}: the allowlist of a live egress
 * sandbox, within its policy's. */
static int patch_session(h2o_req_t *req, const struct http_route_match *m)
{
	static const char *const fields[] = { "network", NULL }, *const net_fields[] = { "allow", NULL };
	struct wd_error err = { 0 };
	struct session *s = session_find_or_fail(m->id, m->owner, &err);
	if (!s)
		return http_reply_wd_error(req, &err);
	json_t *body = NULL;
	if (http_body_json(req, &body) < 0)
		return 0;
	struct v1_hold hold = { 0 };
	json_t *net = json_object_get(body, "network");
	int rc = v1_check_fields(body, NULL, fields, &err);
	if (rc == 0 && !net)
		rc = wd_fail(&err, 400, "nothing to change: give {\"network\": {\"allow\": [...]}}");
	if (rc == 0 && json_is_object(net) && (rc = v1_check_fields(net, "network", net_fields, &err)) < 0 &&
	    json_object_get(net, "mode"))
		rc = wd_fail(&err, 400, "network.mode cannot change on a live session: its sandbox's network was made "
			     "with it; create a session with the mode");
	if (rc == 0)
		rc = v1_network(net, &hold, &err);
	if (rc == 0 && !hold.net.has_allow)
		rc = wd_fail(&err, 400, "network.allow: expected an array of strings (addresses, networks, names)");
	if (rc == 0)
		rc = session_set_allow(s, hold.net.allow, hold.net.n_allow, &err);
	v1_hold_free(&hold);
	json_decref(body);
	if (rc < 0)
		return http_reply_wd_error(req, &err);
	session_touch(s);
	return http_reply_json(req, 200, session_json(s));
}

static int delete_session(h2o_req_t *req, const struct http_route_match *m)
{
	struct wd_error err = { 0 };
	struct session *s = session_find_or_fail(m->id, m->owner, &err);
	if (!s)
		return http_reply_wd_error(req, &err);
	session_delete(s);
	return http_reply_json(req, 200, json_pack("{s:s, s:b}", "id", m->id, "deleted", 1));
}

/* ---- POST /v1/sessions/{id}/exec ---------------------------------------------------- */

static int reply_exec(h2o_req_t *req, struct exec_result *r, void *data)
{
	return exec_reply_result(req, r);
}

struct session *v1_live_session(h2o_req_t *req, const struct http_route_match *m, json_t **body)
{
	struct wd_error err = { 0 };
	struct session *s = session_find_or_fail(m->id, m->owner, &err);
	if (!s || session_check_alive(s, &err) < 0)
		return http_reply_wd_error(req, &err), NULL;
	return http_body_json(req, body) < 0 ? NULL : s;
}

static int post_exec(h2o_req_t *req, const struct http_route_match *m)
{
	struct wd_error err = { 0 };
	json_t *body = NULL;
	struct session *s = v1_live_session(req, m, &body);
	if (!s)
		return 0;
	struct v1_hold hold = { 0 };
	struct exec_request er = { 0 };
	bool stream = false;
	int rc;
	if (v1_exec_request(body, NULL, &er, &hold, &stream, &err) < 0)
		rc = http_reply_wd_error(req, &err);
	else
		rc = stream ? v1_exec_stream(req, s, &er) : exec_buffered(req, s, &er, reply_exec, NULL);
	v1_hold_free(&hold);
	json_decref(body);
	return rc;
}

const struct http_route v1_session_routes[] = {
	{ "POST", "/v1/sessions", post_sessions, 0 },
	{ "GET", "/v1/sessions", get_sessions, 0 },
	{ "GET", "/v1/sessions/{id}", get_session, 0 },
	{ "PATCH", "/v1/sessions/{id}", patch_session, 0 },
	{ "DELETE", "/v1/sessions/{id}", delete_session, 0 },
	{ "POST", "/v1/sessions/{id}/exec", post_exec, 0 },
	{ NULL, NULL, NULL, 0 },
};
