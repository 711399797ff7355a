/* Version 1 processes: POST, GET /v1/sessions/{id}/processes, GET
 * …/processes/{pid}, GET …/{pid}/output (server-sent events, resumable
 * with Last-Event-ID), POST …/{pid}/stdin, /close-stdin, /signal,
 * /resize. Each handler parses the request into one call of the core's
 * process.h and renders what it answers. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "encode.h"
#include "exec-reply.h"
#include "process-stream.h"
#include "signal-name.h"
#include "sse.h"
#include "units.h"
#include "v1-parse.h"
#include "v1-routes.h"

static const char *const stream_names[] = { "stdout", "stderr", "pty" };

static json_t *result_json(const struct exec_result *r)
{
	json_t *o = exec_result_json(r);
	if (o && r->failed_to_start)
		json_object_set_new(o, "error", json_string(r->exec_error));
	if (o)
		json_object_del(o, "truncated"); /* never: the buffer says what it dropped */
	return o;
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; a && v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *env_json(char *const *env)
{
	json_t *o = json_object();
	for (size_t i = 0; o && env && env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		if (!eq)
			continue;
		char *key = strndup(env[i], (size_t)(eq - env[i]));
		if (key)
			json_object_set_new(o, key, json_string(eq + 1));
		free(key);
	}
	return o;
}

static json_t *process_json(const struct process *p)
{
	struct process_info i;
	char started[32], timeout[32];
	process_info(p, &i);
	v1_iso_time(i.started, started, sizeof started);
	format_duration(i.timeout_ms, timeout, sizeof timeout);
	json_t *o = json_pack("{s:I, s:o, s:o, s:s, s:s, s:b, s:s, s:s, s:I}", "pid", (json_int_t)i.pid,
			      "cmd", strv_json(i.argv), "env", env_json(i.env), "cwd", i.cwd,
			      "state", i.running ? "running" : "exited", "stdin", i.stdin_open, "started", started,
			      "timeout", timeout, "followers", (json_int_t)i.followers);
	if (!o)
		return NULL;
	json_object_set_new(o, "tag", i.tag ? json_string(i.tag) : json_null());
	json_object_set_new(o, "pty", i.pty ? json_pack("{s:i, s:i}", "cols", i.cols, "rows", i.rows) : json_null());
	json_object_set_new(o, "result", i.result ? result_json(i.result) : json_null());
	json_object_set_new(o, "output", json_pack("{s:I, s:I, s:I, s:I}", "first_id", (json_int_t)i.first_event,
						   "last_id", (json_int_t)i.last_event, "dropped_events",
						   (json_int_t)i.dropped_events, "dropped_bytes",
						   (json_int_t)i.dropped_bytes));
	return o;
}

/* ---- POST, GET /v1/sessions/{id}/processes ------------------------------------ */

static int post_processes(h2o_req_t *req, const struct http_route_match *m)
{
	struct wd_error err = { 0 };
	json_t *body = NULL;
	struct session *s = v1_live_session(req, m, &body);
	if (!s)
		return 0;
	struct v1_hold hold = { 0 };
	struct process_request r = { .request_id = m->request_id };
	struct process *p = NULL;
	if (v1_process_request(body, &r, &hold, &err) == 0)
		p = process_start(s, &r, &err);
	int rc;
	if (p) {
		char location[160];
		int n = snprintf(location, sizeof location, "/v1/sessions/%s/processes/%u", m->id, process_pid(p));
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL,
			       h2o_strdup(&req->pool, location, (size_t)n).base, (size_t)n);
		rc = http_reply_json(req, 201, process_json(p));
	} else {
		rc = http_reply_wd_error(req, &err);
	}
	v1_hold_free(&hold);
	json_decref(body);
	return rc;
}

static void append_process(struct process *p, void *list)
{
	json_array_append_new(list, process_json(p));
}

static int get_processes(h2o_req_t *req, const struct http_route_match *m)
{
	struct wd_error err = { 0 };
	struct session *s = session_find_or_fail(m->id, m->owner, &err);
	if (!s)
		return http_reply_wd_error(req, &err);
	json_t *list = json_array();
	if (!list)
		return http_reply_error(req, 503, "unavailable", "out of memory");
	processes_foreach(s, append_process, list);
	return http_reply_json(req, 200, json_pack("{s:o}", "processes", list));
}

/* ---- …/processes/{pid}[/ACTION] ------------------------------------------------- */

/* "PID" or "PID/ACTION" after …/processes/: the process and the action
 * ("" for none), or NULL after replying. */
static struct process *find_process(h2o_req_t *req, const struct http_route_match *m, char *action,
				    size_t action_len)
{
	struct wd_error err = { 0 };
	struct session *s = session_find_or_fail(m->id, m->owner, &err);
	if (!s)
		return http_reply_wd_error(req, &err), NULL;
	size_t i = 0;
	uint64_t pid = 0;
	while (i < m->rest_len && m->rest[i] >= '0' && m->rest[i] <= '9' && pid <= UINT32_MAX)
		pid = pid * 10 + (uint64_t)(m->rest[i++] - '0');
	if (i == 0 || pid == 0 || pid > UINT32_MAX || (i < m->rest_len && m->rest[i] != '/')) {
		http_reply_error(req, 404, "not_found", "no process \"%.*s\": a pid is a number from 1",
				 (int)m->rest_len, m->rest);
		return NULL;
	}
	size_t len = i < m->rest_len ? m->rest_len - i - 1 : 0;
	if (len >= action_len) {
		http_reply_error(req, 404, "not_found", "no route for %.*s", (int)m->rest_len, m->rest);
		return NULL;
	}
	memcpy(action, m->rest + m->rest_len - len, len);
	action[len] = '\0';
	struct process *p = process_find(s, (uint32_t)pid, &err);
	if (!p)
		http_reply_wd_error(req, &err);
	return p;
}

static bool is_action(const char *action, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(action, *list))
			return true;
	return false;
}

static const char *const get_actions[] = { "", "output", NULL };
static const char *const post_actions[] = { "stdin", "close-stdin", "signal", "resize", NULL };

/* A known path with the other method: 405 with Allow, as the router does. */
static int not_allowed_or_unknown(h2o_req_t *req, const char *action, const char *allowed_elsewhere)
{
	const char *const *other = !strcmp(allowed_elsewhere, "GET") ? get_actions : post_actions;
	if (!is_action(action, other))
		return http_reply_error(req, 404, "not_found", "processes have no \"%s\"", action);
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allowed_elsewhere,
		       strlen(allowed_elsewhere));
	return http_reply_error(req, 405, "method_not_allowed", "%.*s is not allowed here (allowed: %s)",
				(int)req->method.len, req->method.base, allowed_elsewhere);
}

/* ---- following the output ------------------------------------------------------ */

struct follow {
	struct sse_stream sse;      /* first */
	struct process_stream ps;
};

static void emit(struct process_stream *ps, const struct process_event *ev)
{
	struct sse_stream *sse = ps->st;
	switch (ev->kind) {
	case PROCESS_EV_OUTPUT:
		sse_event(sse, stream_names[ev->stream], ev->id, sse_output_data(ev->data, ev->len));
		break;
	case PROCESS_EV_DROPPED:
		sse_event(sse, "dropped", ev->id, json_pack("{s:I}", "events", (json_int_t)ev->dropped));
		break;
	case PROCESS_EV_EXIT:
		sse_event(sse, "exit", ev->id, result_json(ev->result));
		break;
	}
}

static void end(struct process_stream *ps)
{
	sse_finish(ps->st);
}

static void on_drained(struct sse_stream *sse)
{
	process_stream_pump(&((struct follow *)sse)->ps, false);
}

static void on_closed(struct sse_stream *sse)
{
	process_stream_close(&((struct follow *)sse)->ps);
}

/* Last-Event-ID: the id of the last event the client has (0: none). */
static int last_event_id(h2o_req_t *req, uint64_t *after)
{
	*after = 0;
	ssize_t at = h2o_find_header_by_str(&req->headers, H2O_STRLIT("last-event-id"), -1);
	if (at < 0)
		return 0;
	h2o_iovec_t v = req->headers.entries[at].value;
	char text[24];
	if (v.len == 0 || v.len >= sizeof text)
		return v.len == 0 ? 0 : -1;
	memcpy(text, v.base, v.len);
	text[v.len] = '\0';
	char *end;
	if (text[0] < '0' || text[0] > '9')
		return -1;
	*after = strtoull(text, &end, 10);
	return *end ? -1 : 0;
}

static int get_output(h2o_req_t *req, struct process *p)
{
	uint64_t after;
	if (last_event_id(req, &after) < 0)
		return http_reply_error(req, 400, "bad_request", "Last-Event-ID: expected the id of an event (a number)");
	if (req->method.len == 4 && !memcmp(req->method.base, "HEAD", 4))
		return http_reply_bytes(req, 200, "text/event-stream", "", 0); /* nobody to follow for */
	struct follow *st = sse_new(req, sizeof *st);
	st->sse.drained = on_drained;
	st->sse.closed = on_closed;
	st->ps = (struct process_stream){ .st = &st->sse, .emit = emit, .end = end };
	struct wd_error err = { 0 };
	if (process_stream_follow(&st->ps, p, after, &err) < 0)
		return http_reply_wd_error(req, &err);
	sse_start(&st->sse);
	process_stream_pump(&st->ps, false);
	return 0;
}

static int get_process(h2o_req_t *req, const struct http_route_match *m)
{
	char action[16];
	struct process *p = find_process(req, m, action, sizeof action);
	if (!p)
		return 0;
	if (!action[0])
		return http_reply_json(req, 200, process_json(p));
	if (!strcmp(action, "output"))
		return get_output(req, p);
	return not_allowed_or_unknown(req, action, "POST");
}

/* ---- what goes in ------------------------------------------------------------------ */

static bool body_is_json(h2o_req_t *req)
{
	ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
	if (at < 0)
		return false;
	h2o_iovec_t v = req->headers.entries[at].value;
	return v.len >= 16 && strncasecmp(v.base, "application/json", 16) == 0 &&
	       (v.len == 16 || v.base[16] == ';' || v.base[16] == ' ');
}

/* The bytes: the body as sent, or {"data": "text"} / {"data_base64": …}. */
static int post_stdin(h2o_req_t *req, struct process *p)
{
	struct wd_error err = { 0 };
	const char *data = req->entity.base;
	size_t len = req->entity.len;
	json_t *body = NULL;
	void *decoded = NULL;
	if (body_is_json(req)) {
		static const char *const fields[] = { "data", "data_base64", NULL };
		if (http_body_json(req, &body) < 0)
			return 0;
		json_t *text = json_object_get(body, "data"), *b64 = json_object_get(body, "data_base64");
		if (v1_check_fields(body, NULL, fields, &err) < 0)
			goto reply;
		if (!!text == !!b64 || (text && !json_is_string(text)) || (b64 && !json_is_string(b64))) {
			wd_fail(&err, 400, "give one of \"data\" (text) or \"data_base64\" (bytes)");
			goto reply;
		}
		if (text) {
			data = json_string_value(text);
			len = json_string_length(text);
		} else if (!(decoded = base64_decode(json_string_value(b64), json_string_length(b64), &len))) {
			wd_fail(&err, 400, "data_base64: not valid base64");
			goto reply;
		} else {
			data = decoded;
		}
	}
	if (process_write(p, data, len, &err) == 0) {
		free(decoded);
		json_decref(body);
		return http_reply_json(req, 200, json_pack("{s:I, s:I}", "pid", (json_int_t)process_pid(p), "bytes",
							   (json_int_t)len));
	}
reply:
	free(decoded);
	json_decref(body);
	return http_reply_wd_error(req, &err);
}

static int post_signal(h2o_req_t *req, struct process *p, json_t *body, struct wd_error *err)
{
	static const char *const fields[] = { "signal", NULL };
	json_t *v = json_object_get(body, "signal");
	char text[32] = "";
	int sig;
	if (v1_check_fields(body, NULL, fields, err) < 0)
		return -1;
	if (json_is_integer(v))
		snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v) && json_string_length(v) < sizeof text)
		snprintf(text, sizeof text, "%s", json_string_value(v));
	if (signal_parse(text, &sig) < 0)
		return wd_fail(err, 400, "signal: expected a signal's name (\"SIGINT\", \"TERM\") or number (1 to 64)");
	return process_signal(p, sig, err);
}

static int post_action(h2o_req_t *req, const struct http_route_match *m)
{
	char action[16];
	struct process *p = find_process(req, m, action, sizeof action);
	if (!p)
		return 0;
	if (!is_action(action, post_actions))
		return not_allowed_or_unknown(req, action, "GET");
	if (!strcmp(action, "stdin"))
		return post_stdin(req, p);
	json_t *body = NULL;
	if (http_body_json(req, &body) < 0)
		return 0;
	struct wd_error err = { 0 };
	static const char *const none[] = { NULL };
	uint16_t cols, rows;
	int rc;
	if (!strcmp(action, "close-stdin"))
		rc = v1_check_fields(body, NULL, none, &err) < 0 ? -1 : process_close_stdin(p, &err);
	else if (!strcmp(action, "signal"))
		rc = post_signal(req, p, body, &err);
	else
		rc = v1_terminal_size(body, &cols, &rows, &err) < 0 ? -1 : process_resize(p, cols, rows, &err);
	json_decref(body);
	return rc < 0 ? http_reply_wd_error(req, &err) : http_reply_json(req, 200, process_json(p));
}

const struct http_route v1_process_routes[] = {
	{ "POST", "/v1/sessions/{id}/processes", post_processes, 0 },
	{ "GET", "/v1/sessions/{id}/processes", get_processes, 0 },
	{ "GET", "/v1/sessions/{id}/processes/*", get_process, 0 },
	{ "POST", "/v1/sessions/{id}/processes/*", post_action, 0 },
	{ NULL, NULL, NULL, 0 },
};
