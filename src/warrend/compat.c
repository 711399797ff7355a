/* Compatibility routes: the request and response shapes of the Flask +
 * Docker sandbox services, so their clients work unchanged. */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "exec-reply.h"
#include "files.h"
#include "multipart.h"
#include "sandbox.h"
#include "session-internal.h"
#include "sessions.h"
#include "warrend.h"
#include "workspace-job.h"

static int reply_created(h2o_req_t *req, struct session *s)
{
	return http_reply_json(req, 200, json_pack("{s:s, s:s, s:s, s:s}", "session_id", s->id, "status", "created",
						   "user", "sandbox", "workspace", "/workspace"));
}

static int create_session(h2o_req_t *req, const struct http_route_match *m)
{
	static const char *const fields[] = { "session_id", NULL };
	json_t *body = NULL;
	if (req->entity.len && http_body_json(req, &body) < 0)
		return 0;
	if (body && http_check_fields(req, body, NULL, fields) < 0) {
		json_decref(body);
		return 0;
	}
	json_decref(body);
	return session_create_from(req, NULL, m->owner, reply_created);
}

/* The longest timeout those services' clients may ask for (the session's
 * limit, usually far lower, still applies): a year, so the milliseconds
 * always fit in an integer. */
#define COMPAT_TIMEOUT_MAX_S (366.0 * 24 * 3600)

/* {"timeout": seconds} as those services take it: a number. */
static int compat_timeout(h2o_req_t *req, json_t *body, json_t *exec)
{
	json_t *t = json_object_get(body, "timeout");
	if (!t)
		return 0;
	/* checked before converting: a double out of range (1e300) has no
	 * integer value, and the conversion would be undefined */
	double seconds = json_is_number(t) ? json_number_value(t) : 0;
	if (!(seconds >= 0.001 && seconds <= COMPAT_TIMEOUT_MAX_S))
		return http_reply_error(req, 400, "bad_request",
					"timeout: expected a number of seconds from 0.001 to %.0f", COMPAT_TIMEOUT_MAX_S), -1;
	char buf[32];
	snprintf(buf, sizeof buf, "%lldms", (long long)(seconds * 1000));
	json_object_set_new(exec, "timeout", json_string(buf));
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
	if (r->timed_out)
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
	struct session *s = session_find(json_string_value(sid), owner);
	if (!s)
		return http_reply_error(req, 404, "not_found", "no session \"%s\"", json_string_value(sid));
	if (s->dead)
		return http_reply_error(req, 409, "conflict", "session %s is dead: %s", s->id, s->dead_reason);
	_cleanup_free_ char *shell = NULL;
	if (asprintf(&shell, "exec 2>&1\n%s", json_string_value(cmd)) < 0)
		return http_reply_error(req, 500, "internal", "out of memory");
	json_t *exec = json_pack("{s:s}", "shell", shell);
	int r = 0;
	if (compat_timeout(req, body, exec) == 0) {
		struct exec_params p = { 0 };
		char **argv = NULL, **env = NULL;
		void *in = NULL;
		bool stream;
		if (exec_params_from_json(req, exec, s, &p, &argv, &env, &in, &stream) == 0)
			r = session_exec_buffered(req, s, &p, reply_combined, NULL);
		strv_freep(&argv);
		strv_freep(&env);
		free(in);
	}
	json_decref(exec);
	return r;
}

/* One-shot Python: a temporary session, the code, the files it left in
 * /workspace, then the session is gone. */

/* The names in the workspace (ws_fd: its O_PATH fd, closed here). */
static json_t *workspace_files(int ws_fd)
{
	json_t *files = json_array();
	if (ws_fd < 0)
		return files;
	int dfd = openat(ws_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(ws_fd);
	DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			json_array_append_new(files, json_string(de->d_name));
	if (d)
		closedir(d);
	return files;
}

/* A reply waiting for the listing of a backend that lists files itself. */
struct code_listing {
	json_t *reply;
	struct reply_output outs[3];
	struct session *s;
};

/* After the listing: the reply is complete, the session goes. */
static int reply_code_files(h2o_req_t *req, struct exec_result *r, void *data)
{
	struct code_listing *c = data; /* in the request's pool */
	json_t *o = c->reply, *files = json_array();
	struct reply_output outs[3];
	memcpy(outs, c->outs, sizeof outs);
	memset(c->outs, 0, sizeof c->outs);
	size_t n = outs[2].key ? 3 : 2;
	c->reply = NULL;
	for (const char *line = r->out[0], *end; r->exited && r->exit_code == 0 && line && line < r->out[0] + r->out_len[0];
	     line = end ? end + 1 : NULL) {
		end = memchr(line, '\n', (size_t)(r->out[0] + r->out_len[0] - line));
		json_t *entry = json_loadb(line, end ? (size_t)(end - line) : (size_t)(r->out[0] + r->out_len[0] - line), 0, NULL);
		if (json_is_string(json_object_get(entry, "name")))
			json_array_append(files, json_object_get(entry, "name"));
		json_decref(entry);
	}
	json_object_set_new(o, "files", files);
	int rc = exec_reply_json(req, 200, o, outs, n);
	session_delete(c->s);
	return rc;
}

/* The client left before the listing: the session goes with the idle
 * reaper, as when it leaves during the code itself. */
static void drop_code_listing(void *p)
{
	struct code_listing *c = p;
	json_decref(c->reply);
	reply_outputs_free(c->outs, 3);
}

static int reply_code_result(h2o_req_t *req, struct exec_result *r, void *data)
{
	struct session *s = data;
	bool ok = r->exited && r->exit_code == 0 && !r->timed_out;
	const char *error = r->timed_out ? "execution timed out" : r->oom_killed ? "out of memory"
		: r->failed_to_start ? r->exec_error : NULL;
	json_t *o = json_pack("{s:b, s:o, s:f, s:s?}", "success", ok,
			      "exit_code", r->exited ? json_integer(r->exit_code) : json_integer(128 + r->signal),
			      "execution_time", (double)r->duration_ms / 1000.0, "error", error);
	struct reply_output outs[3] = {
		take_stdout(r, "stdout"),
		{ "stderr", r->out[1], r->out_len[1], true, r->out_base64[1] },
		/* a failure without a reason of its own: its stderr (the same buffer) */
		{ "error", r->out[1], r->out_len[1], true, r->out_base64[1] },
	};
	r->out[1] = NULL;
	size_t n = !ok && !error && outs[1].len ? 3 : 2;
	if (n == 3)
		json_object_del(o, "error"); /* the output takes the null's place */
	uid_t uid;
	gid_t gid;
	int ws = session_open_workspace(s, &uid, &gid);
	if (ws == -EOPNOTSUPP) {
		/* The backend lists files itself: one more exec, then the reply. */
		struct code_listing *c = h2o_mem_alloc_shared(&req->pool, sizeof *c, drop_code_listing);
		c->reply = o;
		memset(c->outs, 0, sizeof c->outs);
		memcpy(c->outs, outs, n * sizeof *outs);
		c->s = s;
		struct exec_params p = { .kind = BACKEND_FILE_LIST, .path = "", .cwd = "/workspace",
					 .timeout_ms = 30000, .output_cap = 1 << 20 };
		return session_exec_buffered(req, s, &p, reply_code_files, c);
	}
	json_object_set_new(o, "files", workspace_files(ws));
	int rc = exec_reply_json(req, 200, o, outs, n);
	session_delete(s);
	return rc;
}

static int run_code(h2o_req_t *req, struct session *s)
{
	json_t *exec = (json_t *)s->created_cb_data;
	s->created_cb_data = NULL;
	struct exec_params p = { 0 };
	char **argv = NULL, **env = NULL;
	void *in = NULL;
	bool stream;
	int r = 0;
	if (exec_params_from_json(req, exec, s, &p, &argv, &env, &in, &stream) == 0)
		r = session_exec_buffered(req, s, &p, reply_code_result, s);
	else
		session_delete(s);
	strv_freep(&argv);
	strv_freep(&env);
	free(in);
	json_decref(exec);
	return r;
}

static void free_json(void *json)
{
	json_decref(json);
}

static int execute(h2o_req_t *req, const struct http_route_match *m)
{
	static const char *const fields[] = { "session_id", "command", "code", "timeout", NULL };
	json_t *body = NULL;
	if (http_body_json(req, &body) < 0)
		return 0;
	int r = 0;
	if (http_check_fields(req, body, NULL, fields) < 0)
		goto out;
	if (json_object_get(body, "session_id")) {
		r = execute_in_session(req, body, m->owner);
		goto out;
	}
	json_t *code = json_object_get(body, "code");
	if (!json_is_string(code)) {
		r = http_reply_error(req, 400, "bad_request", "expected {\"session_id\", \"command\"} or {\"code\": string}");
		goto out;
	}
	json_t *exec = json_pack("{s:[s,s,O]}", "cmd", "python3", "-c", code);
	if (compat_timeout(req, body, exec) < 0) {
		json_decref(exec);
		goto out;
	}
	r = session_create_with_data(req, NULL, m->owner, run_code, exec, free_json);
out:
	json_decref(body);
	return r;
}

static int cleanup(h2o_req_t *req, const struct http_route_match *m)
{
	static const char *const fields[] = { "session_id", NULL };
	json_t *body = NULL;
	if (http_body_json(req, &body) < 0)
		return 0;
	int r;
	json_t *sid = json_object_get(body, "session_id");
	struct session *s;
	if (http_check_fields(req, body, NULL, fields) < 0)
		r = 0;
	else if (!json_is_string(sid))
		r = http_reply_error(req, 400, "bad_request", "session_id: expected a string");
	else if (!(s = session_find(json_string_value(sid), m->owner)))
		r = http_reply_error(req, 404, "not_found", "no session \"%s\"", json_string_value(sid));
	else {
		session_delete(s);
		r = http_reply_json(req, 200, json_pack("{s:s}", "status", "cleaned up"));
	}
	json_decref(body);
	return r;
}

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

/* The status of a failed upload, as for PUT /v1/sessions/{id}/files. */
static int upload_error(h2o_req_t *req, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int upload_error(h2o_req_t *req, int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (err == EFBIG)
		return http_reply_error(req, 413, "payload_too_large", "%s", msg);
	if (err == ENOSPC || err == EDQUOT || err == ENOMEM)
		return http_reply_error(req, 507, "insufficient_storage", "%s (files count against the session's "
					"memory: limits.memory, and the workspace's size)", msg);
	return http_reply_error(req, 400, "bad_request", "%s", msg);
}

struct upload {
	struct http_pending *pending;
	struct workspace_job *job;
	char name[256];
};

static void upload_written(void *data, int r, const wr_error *e)
{
	struct upload *u = data;
	h2o_req_t *req = u->pending->req;
	u->pending->on_gone = NULL;
	if (r < 0)
		upload_error(req, -r, "%s", e->message);
	else
		reply_uploaded(req, u->name);
}

static void upload_gone(void *data)
{
	workspace_job_abandon(((struct upload *)data)->job);
}

static int upload_done(h2o_req_t *req, struct exec_result *r, void *data)
{
	const char *name = data;
	int err = r->exited && !r->failed_to_start ? r->exit_code : EIO;
	if (!err)
		return reply_uploaded(req, name);
	size_t n = r->out_len[1];
	while (n && r->out[1][n - 1] == '\n')
		n--;
	return upload_error(req, err, "%.*s", (int)n, n ? r->out[1] : strerror(err));
}

/* A backend that writes files itself (docker's archive API). */
static int upload_via_exec(h2o_req_t *req, struct session *s, const char *name, const void *data, size_t len)
{
	char *kept = h2o_mem_alloc_pool(&req->pool, strlen(name) + 1);
	strcpy(kept, name);
	struct exec_params p = { .kind = BACKEND_FILE_PUT, .path = kept, .max_size = session_max_file_size(s),
				 .cwd = "/workspace", .stdin_data = data, .stdin_len = len, .timeout_ms = 60000,
				 .output_cap = 4096 };
	return session_exec_buffered(req, s, &p, upload_done, kept);
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
	char id[65], name[256];
	if (sid->len >= sizeof id)
		return http_reply_error(req, 404, "not_found", "no such session");
	memcpy(id, sid->data, sid->len);
	id[sid->len] = '\0';
	struct session *s = session_find(id, m->owner);
	if (!s)
		return http_reply_error(req, 404, "not_found", "no session \"%s\"", id);
	if (!upload_name(file->filename, file->filename_len, name, sizeof name))
		return http_reply_error(req, 400, "bad_request", "file: the filename is not a usable name");
	if (file->len > session_max_file_size(s))
		return upload_error(req, EFBIG, "file: %zu bytes is more than the %llu allowed", file->len,
				    (unsigned long long)session_max_file_size(s));
	uid_t uid;
	gid_t gid;
	int ws = session_open_workspace(s, &uid, &gid);
	if (ws == -EOPNOTSUPP)
		return upload_via_exec(req, s, name, file->data, file->len);
	if (ws < 0)
		return http_reply_error(req, 409, "conflict", "session %s has no workspace: %s", s->id, strerror(-ws));
	close(ws);
	session_touch(s);
	/* written by a workspace job: the file's pages are the sandbox's */
	struct upload *u = h2o_mem_alloc_pool(&req->pool, sizeof *u);
	*u = (struct upload){ 0 };
	memcpy(u->name, name, sizeof u->name);
	if (workspace_put_start(s->box, name, file->data, file->len, session_max_file_size(s), upload_written, u,
				&u->job, &e) < 0)
		return http_reply_error(req, 503, "unavailable", "%s: %s", name, e.message);
	u->pending = http_pending_new(req, upload_gone, u);
	return 0;
}

const struct http_route compat_routes[] = {
	{ "POST", "/create_session", create_session, 0 },
	{ "POST", "/execute", execute, 0 },
	{ "POST", "/cleanup", cleanup, 0 },
	{ "POST", "/upload_file", upload_file, 64 << 20 },
	{ NULL, NULL, NULL, 0 },
};
