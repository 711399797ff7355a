/* PUT, GET, DELETE /v1/sessions/{id}/files/{path}: workspace files over
 * HTTP. The path is taken from the raw request target and percent-decoded
 * here (h2o's normalized path has already collapsed "..", decoded "%2e%2e"
 * and "%00"), so files_normalize sees what the client sent and can refuse
 * it with a 400. Every file access goes through src/lib/files.c. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "encode.h"
#include "files.h"
#include "session-internal.h"
#include "sessions.h"
#include "warrend.h"
#include "workspace-job.h"

/* A listing of more entries answers the first ones and "truncated": true. */
#define LIST_MAX_ENTRIES 10000
/* Bytes read per h2o_send while a file streams out. */
#define SEND_CHUNK (64 * 1024)
/* The router's cap for a PUT body. http_route.max_body is a constant, and
 * the config's max_body is only known at run time: the handler enforces
 * the configured value, this default bounds what h2o buffers. */
#define FILES_ROUTE_MAX_BODY ((size_t)64 << 20)

struct files_req {
	struct session *s;
	int ws_fd;
	uid_t uid;                 /* the sandbox user on the host */
	gid_t gid;
	bool via_exec;             /* the backend does files itself (no ws_fd) */
	char rel[FILES_PATH_MAX + 1];
};

static void files_req_close(struct files_req *f)
{
	if (f->ws_fd >= 0)
		close(f->ws_fd);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The raw bytes after ".../files/" (before any query), percent-decoded
 * into the request's pool. NUL bytes survive: files_normalize refuses
 * them. Returns -1 after replying 400. */
static int decode_rest(h2o_req_t *req, const char *id, const char **out, size_t *out_len)
{
	size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
	const char *p = req->path.base;
	char prefix[96];
	size_t n = (size_t)snprintf(prefix, sizeof prefix, "/v1/sessions/%s/files", id);
	if (len < n || memcmp(p, prefix, n) != 0 || (len > n && p[n] != '/')) {
		http_reply_error(req, 400, "bad_request",
				 "write the request path as %s/PATH, with no dot segments or escapes before PATH", prefix);
		return -1;
	}
	p += n < len ? n + 1 : n;
	len -= n < len ? n + 1 : n;

	char *dec = h2o_mem_alloc_pool(&req->pool, len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '%') {
			dec[o++] = p[i];
			continue;
		}
		int hi = i + 2 < len ? hexval(p[i + 1]) : -1, lo = hi >= 0 ? hexval(p[i + 2]) : -1;
		if (lo < 0) {
			http_reply_error(req, 400, "bad_request", "malformed percent-escape at byte %zu of the file path",
					 i);
			return -1;
		}
		dec[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	dec[o] = '\0';
	*out = dec;
	*out_len = o;
	return 0;
}

static int reply_files_error(h2o_req_t *req, int r, const wr_error *e)
{
	switch (-r) {
	case ENOENT:
		return http_reply_error(req, 404, "not_found", "%s", e->message);
	case EFBIG:
		return http_reply_error(req, 413, "payload_too_large", "%s", e->message);
	case ENOSPC:
	case EDQUOT:
	case ENOMEM: /* the writer, charged to the sandbox, was OOM-killed */
		return http_reply_error(req, 507, "insufficient_storage",
					"%s (files count against the session's memory: limits.memory, and the "
					"workspace's size)", e->message);
	case ETIMEDOUT:
		return http_reply_error(req, 503, "unavailable", "%s", e->message);
	case EINVAL:
	case ENAMETOOLONG:
	case ELOOP:
	case ENOTDIR:
	case EISDIR:
	case EXDEV:
		return http_reply_error(req, 400, "bad_request", "%s", e->message);
	case EACCES:
	case EPERM:
	case EROFS: /* docker: the engine followed a path the sandbox swapped out of the workspace */
		return http_reply_error(req, 403, "forbidden", "%s", e->message);
	case EAGAIN:
		return http_reply_error(req, 503, "unavailable", "%s", e->message);
	case ESTALE: /* the sandbox changed the path under a backend that checks then acts */
		return http_reply_error(req, 409, "conflict", "%s", e->message);
	default:
		return http_reply_error(req, 500, "internal", "%s", e->message);
	}
}

/* The session (404), the path (400) and the open workspace (409). Returns
 * -1 after replying. */
static int files_begin(h2o_req_t *req, const struct http_route_match *m, struct files_req *f)
{
	f->ws_fd = -1;
	f->s = session_find(m->id, m->owner);
	if (!f->s) {
		http_reply_error(req, 404, "not_found", "no session \"%s\"", m->id);
		return -1;
	}
	const char *path;
	size_t len;
	if (decode_rest(req, m->id, &path, &len) < 0)
		return -1;
	wr_error e = { 0 };
	int r = files_normalize(path, len, f->rel, &e);
	if (r < 0) {
		reply_files_error(req, r, &e);
		return -1;
	}
	f->ws_fd = session_open_workspace(f->s, &f->uid, &f->gid);
	f->via_exec = f->ws_fd == -EOPNOTSUPP;
	if (f->via_exec) {
		f->ws_fd = -1;
	} else if (f->ws_fd < 0) {
		http_reply_error(req, 409, "conflict", "session %s is not running: its workspace cannot be opened (%s)",
				 session_id(f->s), strerror(-f->ws_fd));
		return -1;
	}
	session_touch(f->s);
	return 0;
}

/* Sets key to a path or name; bytes that are not UTF-8 go as base64 with
 * "<key>_encoding": "base64" (like exec's stdout). */
static int json_set_name(json_t *obj, const char *key, const char *value)
{
	size_t len = strlen(value);
	if (utf8_valid(value, len))
		return json_object_set_new(obj, key, json_stringn(value, len));
	_cleanup_free_ char *b64 = base64_encode(value, len);
	char enc_key[32];
	snprintf(enc_key, sizeof enc_key, "%s_encoding", key);
	if (!b64 || json_object_set_new(obj, key, json_string(b64)) < 0)
		return -1;
	return json_object_set_new(obj, enc_key, json_string("base64"));
}

static int reply_written(h2o_req_t *req, const char *rel, size_t size)
{
	json_t *body = json_pack("{s:I}", "size", (json_int_t)size);
	json_set_name(body, "path", rel);
	return http_reply_json(req, 201, body);
}

static int reply_deleted(h2o_req_t *req, const char *rel)
{
	json_t *body = json_pack("{s:b}", "deleted", 1);
	json_set_name(body, "path", rel);
	return http_reply_json(req, 200, body);
}

static json_t *listing_entry(const char *name, const char *type, uint64_t size, time_t mtime)
{
	char when[32];
	struct tm tm;
	gmtime_r(&mtime, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *j = json_pack("{s:s,s:I,s:s}", "type", type, "size", (json_int_t)size, "mtime", when);
	json_set_name(j, "name", name);
	return j;
}

static int reply_listing_json(h2o_req_t *req, const char *rel, json_t *entries, bool truncated)
{
	json_t *body = json_pack("{s:o,s:b}", "entries", entries, "truncated", truncated);
	json_set_name(body, "path", rel);
	return http_reply_json(req, 200, body);
}

/* ---- backends that do files themselves (docker's archive API) -------------
 * The operation runs as a file exec (backend.h): exit status 0 or an
 * errno, stdout the data, stderr one line of error. */

#define FILE_EXEC_TIMEOUT_MS 60000
#define LIST_OUTPUT_CAP ((uint64_t)8 << 20)

struct file_exec_ctx {
	struct session *s;
	enum backend_exec_kind kind;
	char rel[FILES_PATH_MAX + 1];
	size_t put_len;
	uint64_t max_size;
};

static int start_file_exec(h2o_req_t *req, struct file_exec_ctx *c, const void *data, size_t len);

/* One {"name","type","size","mtime"} object per line into API entries. */
static int reply_exec_listing(h2o_req_t *req, const struct file_exec_ctx *c, const char *out, size_t len)
{
	json_t *entries = json_array();
	bool truncated = false;
	for (const char *line = out, *end; line && line < out + len; line = end ? end + 1 : NULL) {
		end = memchr(line, '\n', (size_t)(out + len - line));
		size_t n = end ? (size_t)(end - line) : (size_t)(out + len - line);
		json_t *o = n ? json_loadb(line, n, 0, NULL) : NULL;
		const char *name = json_string_value(json_object_get(o, "name"));
		const char *type = json_string_value(json_object_get(o, "type"));
		const char *b64 = json_string_value(json_object_get(o, "name_base64"));
		_cleanup_free_ char *raw = NULL;
		size_t raw_len = 0;
		if (!name && b64 && (raw = base64_decode(b64, strlen(b64), &raw_len)) && !memchr(raw, '\0', raw_len)) {
			char *z = realloc(raw, raw_len + 1);
			if (z) {
				z[raw_len] = '\0';
				raw = z;
				name = raw;
			}
		}
		if (name && type) {
			if (json_array_size(entries) < LIST_MAX_ENTRIES)
				json_array_append_new(entries, listing_entry(name, type,
					(uint64_t)json_integer_value(json_object_get(o, "size")),
					(time_t)json_integer_value(json_object_get(o, "mtime"))));
			else
				truncated = true;
		}
		json_decref(o);
	}
	return reply_listing_json(req, c->rel, entries, truncated);
}

static int file_exec_done(h2o_req_t *req, struct exec_result *r, void *data)
{
	struct file_exec_ctx *c = data;
	int err = r->timed_out ? ETIMEDOUT : r->failed_to_start ? EIO : !r->exited ? EIO : r->exit_code;
	if (err) {
		wr_error e = { 0 };
		size_t n = r->out_len[1];
		while (n && r->out[1][n - 1] == '\n')
			n--;
		if (r->timed_out)
			wr_error_set(&e, err, "%s: the file operation timed out", c->rel[0] ? c->rel : "/workspace");
		else if (n) {
			/* its own line is the last: the engine may have said more before it */
			const char *line = r->out[1];
			for (size_t i = n; i > 0 && line == r->out[1]; i--)
				if (r->out[1][i - 1] == '\n')
					line = r->out[1] + i;
			wr_error_set(&e, 0, "%.*s", (int)(r->out[1] + n - line), line);
			e.code = err;
		}
		else
			wr_error_set(&e, err, "%s: %s", c->rel[0] ? c->rel : "/workspace",
				     r->exec_error[0] ? r->exec_error : strerror(err));
		if (err == EISDIR && c->kind == BACKEND_FILE_GET) {
			c->kind = BACKEND_FILE_LIST; /* GET of a directory lists it */
			return start_file_exec(req, c, NULL, 0);
		}
		return reply_files_error(req, -err, &e);
	}
	switch (c->kind) {
	case BACKEND_FILE_PUT:
		return reply_written(req, c->rel, c->put_len);
	case BACKEND_FILE_DELETE:
		return reply_deleted(req, c->rel);
	case BACKEND_FILE_LIST:
		return reply_exec_listing(req, c, r->out[0], r->out_len[0]);
	default:
		if (r->truncated)
			return http_reply_error(req, 413, "payload_too_large", "%s: larger than %llu bytes", c->rel,
						(unsigned long long)c->max_size);
		return http_reply_bytes(req, 200, "application/octet-stream", r->out[0] ? r->out[0] : "",
					r->out_len[0]);
	}
}

static int start_file_exec(h2o_req_t *req, struct file_exec_ctx *c, const void *data, size_t len)
{
	struct exec_params p = {
		.kind = c->kind, .path = c->rel, .max_size = c->max_size, .cwd = "/workspace",
		.stdin_data = data, .stdin_len = len, .timeout_ms = FILE_EXEC_TIMEOUT_MS,
		.output_cap = c->kind == BACKEND_FILE_GET ? c->max_size + 1 : LIST_OUTPUT_CAP,
	};
	return session_exec_buffered(req, c->s, &p, file_exec_done, c);
}

static int file_exec(h2o_req_t *req, const struct files_req *f, enum backend_exec_kind kind, const void *data,
		     size_t len, uint64_t max_size)
{
	if (kind == BACKEND_FILE_PUT && len > max_size)
		return http_reply_error(req, 413, "payload_too_large", "%s: %zu bytes is more than the %llu allowed",
					f->rel, len, (unsigned long long)max_size);
	/* lives as long as the request; file_exec_done runs only while it does */
	struct file_exec_ctx *c = h2o_mem_alloc_pool(&req->pool, sizeof *c);
	c->s = f->s;
	c->kind = kind;
	c->put_len = len;
	c->max_size = max_size;
	memcpy(c->rel, f->rel, sizeof c->rel);
	return start_file_exec(req, c, data, len);
}

/* A PUT written by a workspace job (workspace-job.h), whose pages are the
 * sandbox's. In the request's pool. */
struct put_job {
	struct http_pending *pending;
	struct workspace_job *job;
	size_t len;
	char rel[FILES_PATH_MAX + 1];
};

static void put_done(void *data, int r, const wr_error *e)
{
	struct put_job *p = data;
	h2o_req_t *req = p->pending->req;
	p->pending->on_gone = NULL;
	if (r < 0)
		reply_files_error(req, r, e);
	else
		reply_written(req, p->rel, p->len);
}

static void put_gone(void *data)
{
	workspace_job_abandon(((struct put_job *)data)->job);
}

static int put_file(h2o_req_t *req, const struct http_route_match *m)
{
	struct files_req f;
	if (files_begin(req, m, &f) < 0)
		return 0;
	files_req_close(&f); /* the writer opens its own */
	uint64_t max = session_max_file_size(f.s);
	if (daemon_state->cfg.max_body < max)
		max = daemon_state->cfg.max_body;
	if (f.via_exec)
		return file_exec(req, &f, BACKEND_FILE_PUT, req->entity.base, req->entity.len, max);
	if (req->entity.len > max)
		return http_reply_error(req, 413, "payload_too_large", "%s: %zu bytes, the limit is %llu", f.rel,
					req->entity.len, (unsigned long long)max);
	struct put_job *p = h2o_mem_alloc_pool(&req->pool, sizeof *p);
	*p = (struct put_job){ .len = req->entity.len };
	memcpy(p->rel, f.rel, sizeof p->rel);
	wr_error e = { 0 };
	if (workspace_put_start(f.s->box, f.rel, req->entity.base, req->entity.len, max, put_done, p, &p->job, &e) < 0)
		return http_reply_error(req, 503, "unavailable", "%s: %s", f.rel, e.message);
	p->pending = http_pending_new(req, put_gone, p);
	return 0;
}

static int delete_file(h2o_req_t *req, const struct http_route_match *m)
{
	struct files_req f;
	if (files_begin(req, m, &f) < 0)
		return 0;
	if (f.via_exec)
		return file_exec(req, &f, BACKEND_FILE_DELETE, NULL, 0, 0);
	wr_error e = { 0 };
	int r = files_delete(f.ws_fd, f.rel, f.uid, f.gid, &e);
	files_req_close(&f);
	if (r < 0)
		return reply_files_error(req, r, &e);
	return reply_deleted(req, f.rel);
}

static int reply_listing(h2o_req_t *req, int dir_fd, const char *rel)
{
	struct files_listing l;
	wr_error e = { 0 };
	int r = files_list(dir_fd, rel, LIST_MAX_ENTRIES, &l, &e);
	if (r < 0)
		return reply_files_error(req, r, &e);
	json_t *entries = json_array();
	for (size_t i = 0; i < l.n; i++) {
		const struct files_entry *en = &l.entries[i];
		json_array_append_new(entries, listing_entry(en->name, files_type_name(en->type), en->size,
							     en->mtime.tv_sec));
	}
	int r2 = reply_listing_json(req, rel, entries, l.truncated);
	files_listing_free(&l);
	return r2;
}

/* A regular file streamed from its fd: content_length is its size when
 * opened; should it shrink meanwhile the response is cut (SEND_STATE_ERROR)
 * rather than padded, and growth past that size is not sent. */
struct file_sender {
	h2o_generator_t gen; /* first: h2o hands it back to us */
	int fd;
	uint64_t remaining;
	char buf[SEND_CHUNK];
};

static void sender_dispose(void *p)
{
	struct file_sender *fs = p;
	if (fs->fd >= 0)
		close(fs->fd);
}

static void sender_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
	struct file_sender *fs = (struct file_sender *)gen;
	if (fs->remaining == 0) {
		h2o_send(req, NULL, 0, H2O_SEND_STATE_FINAL);
		return;
	}
	size_t want = fs->remaining < sizeof fs->buf ? (size_t)fs->remaining : sizeof fs->buf;
	ssize_t n;
	do
		n = read(fs->fd, fs->buf, want);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
		return;
	}
	fs->remaining -= (uint64_t)n;
	h2o_iovec_t v = h2o_iovec_init(fs->buf, (size_t)n);
	h2o_send(req, &v, 1, fs->remaining ? H2O_SEND_STATE_IN_PROGRESS : H2O_SEND_STATE_FINAL);
}

static void sender_stop(h2o_generator_t *gen, h2o_req_t *req)
{
	(void)gen;
	(void)req; /* the pool's dispose closes the fd */
}

static int send_file(h2o_req_t *req, int fd, uint64_t size)
{
	struct file_sender *fs = h2o_mem_alloc_shared(&req->pool, sizeof *fs, sender_dispose);
	fs->gen.proceed = sender_proceed;
	fs->gen.stop = sender_stop;
	fs->fd = fd;
	fs->remaining = size;
	req->res.status = 200;
	req->res.reason = "OK";
	req->res.content_length = size;
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
		       H2O_STRLIT("application/octet-stream"));
	h2o_start_response(req, &fs->gen);
	sender_proceed(&fs->gen, req);
	return 0;
}

static int get_file(h2o_req_t *req, const struct http_route_match *m)
{
	struct files_req f;
	if (files_begin(req, m, &f) < 0)
		return 0;
	if (f.via_exec)
		return file_exec(req, &f, BACKEND_FILE_GET, NULL, 0, session_max_file_size(f.s));
	struct stat st;
	wr_error e = { 0 };
	_cleanup_close_ int fd = files_open_read(f.ws_fd, f.rel, session_max_file_size(f.s), f.uid,
						 f.gid, &st, &e);
	files_req_close(&f);
	if (fd < 0)
		return reply_files_error(req, fd, &e);
	if (S_ISDIR(st.st_mode))
		return reply_listing(req, fd, f.rel);
	return send_file(req, TAKE_FD(fd), (uint64_t)st.st_size);
}

const struct http_route file_routes[] = {
	{ "GET", "/v1/sessions/{id}/files", get_file, 0 },
	{ "GET", "/v1/sessions/{id}/files/*", get_file, 0 },
	{ "PUT", "/v1/sessions/{id}/files/*", put_file, FILES_ROUTE_MAX_BODY },
	{ "DELETE", "/v1/sessions/{id}/files/*", delete_file, 0 },
	{ NULL, NULL, NULL, 0 },
};
