/* PUT, GET, DELETE /v1/sessions/{id}/files/{path}: workspace files over
 * HTTP, whatever the session's backend (core/workspace.h). The path is
 * taken from the raw request target and percent-decoded here (h2o's
 * normalized path has already collapsed "..", decoded "%2e%2e" and
 * "%00"), so the core sees what the client sent and can refuse it with a
 * 400. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "encode.h"
#include "http.h"
#include "v1-routes.h"
#include "workspace.h"

/* Bytes read per h2o_send while a file streams out. */
#define SEND_CHUNK (64 * 1024)
/* The router's cap for a PUT body. http_route.max_body is a constant, and
 * the config's max_body is only known at run time: the handler enforces
 * the configured value, this default bounds what h2o buffers. */
#define FILES_ROUTE_MAX_BODY ((size_t)64 << 20)

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
		int hi = i + 2 < len ? hex_value(p[i + 1]) : -1, lo = hi >= 0 ? hex_value(p[i + 2]) : -1;
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

static int reply_listing(h2o_req_t *req, const char *rel, const struct files_listing *l)
{
	json_t *entries = json_array();
	for (size_t i = 0; entries && i < l->n; i++) {
		const struct files_entry *en = &l->entries[i];
		json_array_append_new(entries, listing_entry(en->name, files_type_name(en->type), en->size,
							     en->mtime.tv_sec));
	}
	json_t *body = json_pack("{s:o,s:b}", "entries", entries, "truncated", l->truncated);
	json_set_name(body, "path", rel);
	return http_reply_json(req, 200, body);
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

int v1_send_file(h2o_req_t *req, int fd, uint64_t size, const char *content_type)
{
	struct file_sender *fs = h2o_mem_alloc_shared(&req->pool, sizeof *fs, sender_dispose);
	fs->gen.proceed = sender_proceed;
	fs->gen.stop = sender_stop;
	fs->fd = fd;
	fs->remaining = size;
	req->res.status = 200;
	req->res.reason = "OK";
	req->res.content_length = size;
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
	h2o_start_response(req, &fs->gen);
	sender_proceed(&fs->gen, req);
	return 0;
}

/* ---- the operations --------------------------------------------------------- */

struct file_op {
	struct http_pending *pending;
	struct workspace_wait *wait;
};

static void file_op_done(void *data, struct workspace_result *res, const struct wd_error *err)
{
	struct file_op *f = data;
	h2o_req_t *req = f->pending->req;
	f->pending->on_gone = NULL;
	f->wait = NULL;
	if (err) {
		http_reply_wd_error(req, err);
		return;
	}
	switch (res->op) {
	case WS_PUT:
		reply_written(req, res->rel, res->written);
		return;
	case WS_DELETE:
		reply_deleted(req, res->rel);
		return;
	case WS_LIST:
		reply_listing(req, res->rel, &res->listing);
		return;
	case WS_GET:
		if (res->fd >= 0)
			v1_send_file(req, TAKE_FD(res->fd), res->size, "application/octet-stream");
		else
			http_reply_bytes(req, 200, "application/octet-stream", res->bytes ? res->bytes : "", res->len);
		return;
	case WS_MKDIR: /* version 1 asks for none */
		http_reply_error(req, 500, "internal", "an operation this route did not ask for");
		return;
	}
}

static void file_op_gone(void *data)
{
	struct file_op *f = data;
	if (f->wait)
		workspace_cancel(f->wait);
}

static int file_op(h2o_req_t *req, const struct http_route_match *m, enum workspace_op op, uint64_t max_size)
{
	struct wd_error err = { 0 };
	struct session *s = session_find_or_fail(m->id, m->owner, &err);
	if (!s)
		return http_reply_wd_error(req, &err);
	struct workspace_request r = { .op = op, .max_size = max_size, .request_id = m->request_id };
	if (decode_rest(req, m->id, &r.path, &r.path_len) < 0)
		return 0;
	if (op == WS_PUT) {
		r.data = req->entity.base;
		r.len = req->entity.len;
	}
	struct file_op *f = h2o_mem_alloc_pool(&req->pool, sizeof *f);
	*f = (struct file_op){ .pending = http_pending_new(req, file_op_gone, f) };
	if (workspace_start(s, &r, file_op_done, f, &f->wait, &err) < 0) {
		f->pending->on_gone = NULL;
		return http_reply_wd_error(req, &err);
	}
	return 0;
}

static int put_file(h2o_req_t *req, const struct http_route_match *m)
{
	uint64_t max = daemon_state->cfg.max_file_size;
	if (daemon_state->cfg.max_body < max)
		max = daemon_state->cfg.max_body;
	return file_op(req, m, WS_PUT, max);
}

static int get_file(h2o_req_t *req, const struct http_route_match *m)
{
	return file_op(req, m, WS_GET, daemon_state->cfg.max_file_size);
}

static int delete_file(h2o_req_t *req, const struct http_route_match *m)
{
	return file_op(req, m, WS_DELETE, 0);
}

const struct http_route v1_file_routes[] = {
	{ "GET", "/v1/sessions/{id}/files", get_file, 0 },
	{ "GET", "/v1/sessions/{id}/files/*", get_file, 0 },
	{ "PUT", "/v1/sessions/{id}/files/*", put_file, FILES_ROUTE_MAX_BODY },
	{ "DELETE", "/v1/sessions/{id}/files/*", delete_file, 0 },
	{ NULL, NULL, NULL, 0 },
};
