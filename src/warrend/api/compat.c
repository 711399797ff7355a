/* Compatibility routes: the request and response shapes of the Flask +
 * Docker sandbox services, so their clients work unchanged. An adapter
 * like version 1: each route is one call of the core, rendered their way. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "creation.h"
#include "list.h"
#include "exec-reply.h"
#include "http.h"
#include "multipart.h"
#include "routes.h"
#include "session-collect.h"
#include "session.h"
#include "workspace.h"

/* The one place compat's requests meet the core: a session request of
 * the defaults, owned by the caller. */
static struct session_request compat_session(const struct http_route_match *m, enum session_kind kind)
{
	return (struct session_request){ .kind = kind, .owner = m->owner, .request_id = m->request_id };
}

/* ---- POST /create_session ----------------------------------------------------- */

static void session_created(void *data, struct session *s, const struct wd_error *err)
{
	h2o_req_t *req = http_creation_done(data);
	if (err) {
		http_reply_wd_error(req, err);
		return;
	}
	http_set_session(req, session_id(s));
	http_reply_json(req, 200, json_pack("{s:s, s:s, s:s, s:s}", "session_id", session_id(s), "status", "created",
					    "user", "sandbox", "workspace", "/workspace"));
}

static int create_session(h2o_req_t *req, const struct http_route_match *m)
{
	static const char *const fields[] = { "session_id", NULL };
	json_t *body = NULL;
	if (req->entity.len && http_body_json(req, &body) < 0)
		return 0;
	int bad = body && http_check_fields(req, body, NULL, fields) < 0;
	json_decref(body);
	if (bad)
		return 0;
	struct session_request r = compat_session(m, SESSION_KEPT);
	struct http_creation *c = h2o_mem_alloc_pool(&req->pool, sizeof *c);
	struct wd_error err = { 0 };
	return http_session_create(req, c, c, &r, session_created, &err) < 0 ? http_reply_wd_error(req, &err) : 0;
}

/* ---- POST /execute -------------------------------------------------------------- */

/* The longest timeout those services' clients may ask for (the session's
 * limit, usually far lower, still applies): a year, so the milliseconds
 * always fit in an integer. */
#define COMPAT_TIMEOUT_MAX_S (366.0 * 24 * 3600)

/* {"timeout": seconds} as those services take it: a number (0: none given). */
static int compat_timeout(json_t *body, uint64_t *ms, struct wd_error *err)
{
	json_t *t = json_object_get(body, "timeout");
	*ms = 0;
	if (!t)
		return 0;
	/* checked before converting: a double out of range (1e300) has no
	 * integer value, and the conversion would be undefined */
	double seconds = json_is_number(t) ? json_number_value(t) : 0;
	if (!(seconds >= 0.001 && seconds <= COMPAT_TIMEOUT_MAX_S))
		return wd_fail(err, 400, "timeout: expected a number of seconds from 0.001 to %.0f", COMPAT_TIMEOUT_MAX_S);
	*ms = (uint64_t)(seconds * 1000);
	return 0;
}

/* Takes r's stdout as an output named `key`. */
static struct reply_output take_stdout(struct exec_result *r, const char *key)
{
	struct reply_output out = { key, r->out[0], r->out_len[0], true, r->out_base64[0] };
	r->out[0] = NULL;
	return out;
}

static int reply_combined(h2o_req_t *req, struct exec_result *r, void *data)
{
	json_t *o = json_pack("{s:o}", "exit_code", r->exited ? json_integer(r->exit_code) : json_integer(128 + r->signal));
	if (o && r->timed_out)
		json_object_set_new(o, "error", json_string("timed out"));
	struct reply_output out = take_stdout(r, "output");
	return exec_reply_json(req, 200, o, &out, 1);
}

/* Runs a shell command with stderr merged into stdout, in order, the way
 * those services report "output". */
static int execute_in_session(h2o_req_t *req, json_t *body, const char *owner)
{
	json_t *sid = json_object_get(body, "session_id"), *cmd = json_object_get(body, "command");
	if (!json_is_string(sid) || !json_is_string(cmd))
		return http_reply_error(req, 400, "bad_request", "expected {\"session_id\": string, \"command\": string}");
	struct wd_error err = { 0 };
	struct session *s = session_find_or_fail(json_string_value(sid), owner, &err);
	if (!s || session_check_alive(s, &err) < 0)
		return http_reply_wd_error(req, &err);
	http_set_session(req, session_id(s));
	_cleanup_free_ char *shell = NULL;
	if (asprintf(&shell, "exec 2>&1\n%s", json_string_value(cmd)) < 0)
		return http_reply_error(req, 503, "unavailable", "out of memory");
	char *argv[] = { "/bin/sh", "-c", shell, NULL };
	struct exec_request er = { .argv = argv };
	if (compat_timeout(body, &er.timeout_ms, &err) < 0)
		return http_reply_wd_error(req, &err);
	return exec_buffered(req, s, &er, reply_combined, NULL);
}

/* One-shot Python: a one-shot session, the code, the files it wrote in
 * /tmp/output (as those services collect them), then the session is
 * gone. */
#define COMPAT_OUTPUT_DIR "/tmp/output/"
struct code_run {
	struct http_pending *pending;
	struct session_wait *wait;
	struct session *s;
	struct exec *x;
	struct exec_observer obs;
	struct collect_wait *collecting;
	json_t *code;
	uint64_t timeout_ms;
	json_t *reply;                /* waiting for the files */
	struct reply_output outs[3];
	size_t n_outs;
	char request_id[REQUEST_ID_MAX + 1];
};

static void code_free(struct code_run *c)
{
	if (c->s)
		session_delete(c->s);
	json_decref(c->code);
	json_decref(c->reply);
	reply_outputs_free(c->outs, c->n_outs);
	free(c);
}

static h2o_req_t *code_take_req(struct code_run *c)
{
	c->pending->on_gone = NULL;
	return c->pending->req;
}

static void code_gone(void *data)
{
	struct code_run *c = data;
	if (c->wait)
		session_create_cancel(c->wait);
	if (c->x)
		exec_unobserve(c->x, &c->obs); /* bound: the command is killed */
	if (c->collecting)
		session_collect_cancel(c->collecting);
	code_free(c);
}

/* "files": each one's download URL (and, when small, its bytes inline);
 * what was left out, when anything was, in "files_not_collected" (no
 * output directory at all is not worth saying). */
static void code_collected(void *data, json_t *report, const struct wd_error *err)
{
	struct code_run *c = data;
	c->collecting = NULL;
	h2o_req_t *req = c->pending->req;
	json_t *o = TAKE_PTR(c->reply), *files = json_array(), *left = json_array(), *entry;
	size_t i;
	if (err) {
		daemon_log("/execute: the files in " COMPAT_OUTPUT_DIR " could not be collected: %s", err->cause.message);
		json_array_append_new(left, json_pack("{s:s, s:s, s:s}", "path", COMPAT_OUTPUT_DIR, "code", "error",
						      "reason", err->cause.message));
	} else {
		http_render_collected(req, report);
		json_array_extend(files, json_object_get(report, "collected"));
		json_array_foreach(json_object_get(report, "not_collected"), i, entry) {
			const char *code = json_string_value(json_object_get(entry, "code"));
			if (!code || strcmp(code, "missing"))
				json_array_append(left, entry);
		}
	}
	json_object_set_new(o, "files", files);
	if (json_array_size(left))
		json_object_set_new(o, "files_not_collected", left);
	else
		json_decref(left);
	size_t n = c->n_outs;
	c->n_outs = 0;
	exec_reply_json(code_take_req(c), 200, o, c->outs, n);
	code_free(c);
}

static void code_done(struct exec_observer *obs, struct exec_result *r)
{
	struct code_run *c = LIST_ENTRY(struct code_run, obs, obs);
	c->x = NULL;
	bool ok = r->exited && r->exit_code == 0 && !r->timed_out;
	const char *error = r->timed_out ? "execution timed out" : r->oom_killed ? "out of memory"
		: r->failed_to_start ? r->exec_error : NULL;
	c->reply = json_pack("{s:b, s:o, s:f, s:s?}", "success", ok,
			     "exit_code", r->exited ? json_integer(r->exit_code) : json_integer(128 + r->signal),
			     "execution_time", (double)r->duration_ms / 1000.0, "error", error);
	c->outs[0] = take_stdout(r, "stdout");
	c->outs[1] = (struct reply_output){ "stderr", r->out[1], r->out_len[1], true, r->out_base64[1] };
	r->out[1] = NULL;
	c->n_outs = 2;
	if (!ok && !error && c->outs[1].len) {
		/* a failure without a reason of its own: its stderr (the same buffer) */
		c->outs[2] = (struct reply_output){ "error", c->outs[1].buf, c->outs[1].len, true, c->outs[1].base64 };
		c->n_outs = 3;
		json_object_del(c->reply, "error"); /* the output takes the null's place */
	}
	static const char *const output_dir[] = { COMPAT_OUTPUT_DIR };
	struct collect_options co = { .paths = output_dir, .n_paths = 1, .store_all = true, .request_id = c->request_id,
				      .inline_max = daemon_state->cfg.artifact_inline_max };
	struct wd_error err = { 0 };
	if (session_collect(c->s, &co, code_collected, c, &c->collecting, &err) < 0)
		code_collected(c, NULL, &err);
}

static void code_session_ready(void *data, struct session *s, const struct wd_error *err)
{
	struct code_run *c = data;
	c->wait = NULL;
	if (err) {
		http_reply_wd_error(code_take_req(c), err);
		code_free(c);
		return;
	}
	c->s = s;
	http_set_session(c->pending->req, session_id(s));
	char *argv[] = { "python3", "-c", (char *)json_string_value(c->code), NULL };
	struct exec_request er = { .argv = argv, .timeout_ms = c->timeout_ms, .keep_output = true,
				   .request_id = c->request_id };
	c->obs.on_done = code_done;
	struct wd_error e = { 0 };
	if (!(c->x = session_exec(s, &er, &c->obs, &e))) {
		http_reply_wd_error(code_take_req(c), &e);
		code_free(c);
	}
}

static int execute(h2o_req_t *req, const struct http_route_match *m)
{
	static const char *const fields[] = { "session_id", "command", "code", "timeout", NULL };
	_cleanup_(json_decrefp) json_t *body = NULL;
	if (http_body_json(req, &body) < 0)
		return 0;
	if (http_check_fields(req, body, NULL, fields) < 0)
		return 0;
	if (json_object_get(body, "session_id"))
		return execute_in_session(req, body, m->owner);
	json_t *code = json_object_get(body, "code");
	if (!json_is_string(code) || strlen(json_string_value(code)) != json_string_length(code))
		return http_reply_error(req, 400, "bad_request", "expected {\"session_id\", \"command\"} or {\"code\": string}");
	struct wd_error err = { 0 };
	uint64_t timeout_ms;
	if (compat_timeout(body, &timeout_ms, &err) < 0)
		return http_reply_wd_error(req, &err);
	struct code_run *c = calloc(1, sizeof *c);
	if (!c)
		return http_reply_error(req, 503, "unavailable", "out of memory");
	c->code = json_incref(code);
	c->timeout_ms = timeout_ms;
	snprintf(c->request_id, sizeof c->request_id, "%s", m->request_id);
	c->pending = http_pending_new(req, code_gone, c);
	struct session_request r = compat_session(m, SESSION_ONESHOT);
	if (session_create(&r, code_session_ready, c, &c->wait, &err) < 0) {
		code_take_req(c);
		code_free(c);
		return http_reply_wd_error(req, &err);
	}
	return 0;
}

/* ---- POST /cleanup ----------------------------------------------------------------- */

static int cleanup(h2o_req_t *req, const struct http_route_match *m)
{
	static const char *const fields[] = { "session_id", NULL };
	_cleanup_(json_decrefp) json_t *body = NULL;
	if (http_body_json(req, &body) < 0 || http_check_fields(req, body, NULL, fields) < 0)
		return 0;
	json_t *sid = json_object_get(body, "session_id");
	if (!json_is_string(sid))
		return http_reply_error(req, 400, "bad_request", "session_id: expected a string");
	struct wd_error err = { 0 };
	struct session *s = session_find_or_fail(json_string_value(sid), m->owner, &err);
	if (!s)
		return http_reply_wd_error(req, &err);
	http_set_session(req, session_id(s));
	session_delete(s);
	return http_reply_json(req, 200, json_pack("{s:s}", "status", "cleaned up"));
}

/* ---- POST /upload_file ---------------------------------------------------------------- */

/* The base name of an uploaded file: no directories, nothing hidden. */
static bool upload_name(const char *name, size_t len, char *out, size_t outlen)
{
	const char *slash;
	while ((slash = memchr(name, '/', len)) || (slash = memchr(name, '\\', len))) {
		len -= (size_t)(slash + 1 - name);
		name = slash + 1;
	}
	if (len == 0 || len >= outlen || memchr(name, '\0', len) || (len == 1 && name[0] == '.') ||
	    (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	memcpy(out, name, len);
	out[len] = '\0';
	return true;
}

static int reply_uploaded(h2o_req_t *req, const char *name)
{
	char path[300];
	snprintf(path, sizeof path, "/workspace/%s", name);
	return http_reply_json(req, 200, json_pack("{s:s, s:s, s:s}", "status", "uploaded", "filename", name, "path", path));
}

struct upload {
	struct http_pending *pending;
	struct workspace_wait *wait;
	char name[256];
};

static void upload_written(void *data, struct workspace_result *res, const struct wd_error *err)
{
	struct upload *u = data;
	h2o_req_t *req = u->pending->req;
	u->pending->on_gone = NULL;
	u->wait = NULL;
	if (err)
		http_reply_wd_error(req, err);
	else
		reply_uploaded(req, u->name);
}

static void upload_gone(void *data)
{
	struct upload *u = data;
	if (u->wait)
		workspace_cancel(u->wait);
}

static int upload_file(h2o_req_t *req, const struct http_route_match *m)
{
	/* The route's cap is a constant; max_body (warrend.conf(5)) is the configured one. */
	if (req->entity.len > daemon_state->cfg.max_body)
		return http_reply_error(req, 413, "payload_too_large", "the upload's %zu bytes are more than max_body's %llu",
					req->entity.len, (unsigned long long)daemon_state->cfg.max_body);
	ssize_t ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
	if (ct < 0)
		return http_reply_error(req, 400, "bad_request", "expected Content-Type multipart/form-data");
	h2o_iovec_t ctv = req->headers.entries[ct].value;
	struct multipart_part parts[16];
	size_t n;
	wr_error e = { 0 };
	if (multipart_parse(ctv.base, ctv.len, req->entity.base, req->entity.len, parts, 16, &n, &e) < 0)
		return http_reply_error(req, 400, "bad_request", "%s", e.message);
	const struct multipart_part *sid = NULL, *file = NULL;
	for (size_t i = 0; i < n; i++) {
		if (parts[i].name_len == 10 && !memcmp(parts[i].name, "session_id", 10))
			sid = &parts[i];
		else if (parts[i].name_len == 4 && !memcmp(parts[i].name, "file", 4))
			file = &parts[i];
	}
	if (!sid || !file || !file->filename)
		return http_reply_error(req, 400, "bad_request", "expected form fields \"session_id\" and \"file\" (with a filename)");
	char id[65];
	if (sid->len >= sizeof id)
		return http_reply_error(req, 404, "not_found", "no such session");
	memcpy(id, sid->data, sid->len);
	id[sid->len] = '\0';
	struct wd_error err = { 0 };
	struct session *s = session_find_or_fail(id, m->owner, &err);
	if (!s)
		return http_reply_wd_error(req, &err);
	http_set_session(req, session_id(s));
	struct upload *u = h2o_mem_alloc_pool(&req->pool, sizeof *u);
	*u = (struct upload){ 0 };
	if (!upload_name(file->filename, file->filename_len, u->name, sizeof u->name))
		return http_reply_error(req, 400, "bad_request", "file: the filename is not a usable name");
	struct workspace_request r = {
		.op = WS_PUT, .path = u->name, .path_len = strlen(u->name), .data = file->data, .len = file->len,
		.max_size = session_max_file_size(s), .request_id = m->request_id,
	};
	u->pending = http_pending_new(req, upload_gone, u);
	if (workspace_start(s, &r, upload_written, u, &u->wait, &err) < 0) {
		u->pending->on_gone = NULL;
		return http_reply_wd_error(req, &err);
	}
	return 0;
}

const struct http_route compat_routes[] = {
	{ "POST", "/create_session", create_session, 0 },
	{ "POST", "/execute", execute, 0 },
	{ "POST", "/cleanup", cleanup, 0 },
	{ "POST", "/upload_file", upload_file, 64 << 20 },
	{ NULL, NULL, NULL, 0 },
};
