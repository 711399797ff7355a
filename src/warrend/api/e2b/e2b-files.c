#include "config.h"

/* envd's plain HTTP routes for files (e2b.h): GET /files?path= answers the
 * file's bytes; POST /files?path= writes one (raw, application/octet-
 * stream) or each "file" part of a multipart form (named by path, or by
 * the part's filename), making missing parent directories. Paths are the
 * sandbox's, relative ones from the user's home; both go through
 * sandbox-files.h, as the sandbox user. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "e2b.h"
#include "multipart.h"

#define PARTS_MAX 64

/* ?username= as the SDK sends it, and ?path= (NULL when absent); -1
 * after replying. */
static int file_path(struct e2b_call *c, const char **path)
{
	char msg[256];
	size_t ulen = 0, len = 0;
	const char *user = e2b_query(c->req, "username", &ulen);
	if (e2b_check_user(user, ulen, msg, sizeof msg) < 0 || e2b_check_basic_user(c->req, msg, sizeof msg) < 0)
		return e2b_reply_error(c->req, 400, "%s", msg), -1;
	*path = e2b_query(c->req, "path", &len);
	if (*path && memchr(*path, '\0', len))
		return e2b_reply_error(c->req, 400, "path: contains a NUL byte"), -1;
	if (*path && !**path)
		*path = NULL;
	return 0;
}

/* ---- GET ------------------------------------------------------------------------------ */

struct read {
	struct http_pending *pending;
	struct sbfs_wait *wait;
};

static void read_gone(void *data)
{
	struct read *r = data;
	if (r->wait)
		sbfs_cancel(r->wait);
}

static void read_done(void *data, struct sbfs_result *res, const struct wd_error *err)
{
	struct read *r = data;
	h2o_req_t *req = r->pending->req;
	r->pending->on_gone = NULL;
	r->wait = NULL;
	if (err) {
		e2b_reply_wd_error(req, err);
		return;
	}
	/* the bytes live with the request: its pool frees them */
	char *copy = h2o_mem_alloc_pool(&req->pool, res->len + 1);
	memcpy(copy, res->data, res->len);
	http_reply_bytes(req, 200, "application/octet-stream", copy, res->len);
}

int e2b_files_get(struct e2b_call *c)
{
	const char *path;
	if (file_path(c, &path) < 0)
		return 0;
	if (!path)
		return e2b_reply_error(c->req, 400, "path: give the file's path (?path=)");
	struct read *r = h2o_mem_alloc_pool(&c->req->pool, sizeof *r);
	*r = (struct read){ .pending = http_pending_new(c->req, read_gone, r) };
	struct sbfs_request sr = { .op = SBFS_READ, .path = path, .max_size = daemon_state->cfg.max_file_size,
				   .request_id = c->request_id };
	struct wd_error err = { 0 };
	if (sbfs_start(c->s, &sr, read_done, r, &r->wait, &err) < 0) {
		r->pending->on_gone = NULL;
		return e2b_reply_wd_error(c->req, &err);
	}
	return 0;
}

/* ---- POST ------------------------------------------------------------------------------ */

struct upload {
	struct http_pending *pending;
	struct sbfs_wait *wait;
	struct session *s;
	const char *request_id, *path; /* path: the query's (NULL: each part's filename) */
	struct multipart_part parts[PARTS_MAX];
	size_t n, next;
	json_t *written;            /* [{name, type, path}] */
};

static void upload_dispose(void *obj)
{
	json_decref(((struct upload *)obj)->written);
}

static void upload_gone(void *data)
{
	struct upload *u = data;
	if (u->wait)
		sbfs_cancel(u->wait);
	u->wait = NULL;
}

static void write_next(struct upload *u);

static void written(void *data, struct sbfs_result *res, const struct wd_error *err)
{
	struct upload *u = data;
	u->wait = NULL;
	if (err) {
		h2o_req_t *req = u->pending->req;
		u->pending->on_gone = NULL;
		e2b_reply_wd_error(req, err);
		return;
	}
	json_array_append_new(u->written, json_pack("{s:s, s:s, s:s}", "name", res->entries[0].name, "type", "file",
						    "path", res->path));
	write_next(u);
}

static void write_next(struct upload *u)
{
	h2o_req_t *req = u->pending->req;
	if (u->next == u->n) {
		u->pending->on_gone = NULL;
		http_reply_json(req, 200, json_incref(u->written));
		return;
	}
	const struct multipart_part *p = &u->parts[u->next++];
	char *path = (char *)u->path;
	if (!path) {
		if (!p->filename || !p->filename_len || memchr(p->filename, '\0', p->filename_len)) {
			u->pending->on_gone = NULL;
			e2b_reply_error(req, 400, "a file part without a path: give ?path= or the part's filename");
			return;
		}
		path = h2o_mem_alloc_pool(&req->pool, p->filename_len + 1);
		memcpy(path, p->filename, p->filename_len);
		path[p->filename_len] = '\0';
	}
	struct sbfs_request sr = { .op = SBFS_WRITE, .path = path, .data = p->data, .len = p->len,
				   .request_id = u->request_id };
	struct wd_error err = { 0 };
	if (p->len > daemon_state->cfg.max_file_size)
		wd_fail(&err, 413, "%s: %zu bytes is larger than max_file_size (%llu)", path, p->len,
			(unsigned long long)daemon_state->cfg.max_file_size);
	if (err.status || sbfs_start(u->s, &sr, written, u, &u->wait, &err) < 0) {
		u->pending->on_gone = NULL;
		e2b_reply_wd_error(req, &err);
	}
}

static bool content_type(h2o_req_t *req, const char *want, h2o_iovec_t *out)
{
	ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
	*out = at >= 0 ? req->headers.entries[at].value : h2o_iovec_init(NULL, 0);
	size_t n = strlen(want);
	return out->len >= n && !strncasecmp(out->base, want, n);
}

int e2b_files_post(struct e2b_call *c)
{
	h2o_req_t *req = c->req;
	const char *path;
	if (file_path(c, &path) < 0)
		return 0;
	if (e2b_header(req, "content-encoding").base)
		return e2b_reply_error(req, 400, "Content-Encoding is not supported: send the file as it is");
	struct upload *u = h2o_mem_alloc_shared(&req->pool, sizeof *u, upload_dispose);
	*u = (struct upload){ .s = c->s, .request_id = c->request_id, .path = path, .written = json_array() };
	h2o_iovec_t ct;
	if (content_type(req, "multipart/form-data", &ct)) {
		struct multipart_part parts[PARTS_MAX];
		size_t n = 0;
		wr_error e = { 0 };
		if (multipart_parse(ct.base, ct.len, req->entity.base, req->entity.len, parts, PARTS_MAX, &n, &e) < 0)
			return e2b_reply_error(req, 400, "multipart body: %s", e.message[0] ? e.message : "too many parts");
		for (size_t i = 0; i < n; i++)
			if (parts[i].name_len == 4 && !memcmp(parts[i].name, "file", 4))
				u->parts[u->n++] = parts[i];
	} else if (!ct.base || content_type(req, "application/octet-stream", &ct)) {
		if (!path)
			return e2b_reply_error(req, 400, "path: give the file's path (?path=)");
		u->parts[u->n++] = (struct multipart_part){ .data = req->entity.base ? req->entity.base : "",
							    .len = req->entity.len };
	} else {
		return e2b_reply_error(req, 415, "send the file as multipart/form-data (field \"file\") or "
				       "application/octet-stream, not %.*s", (int)(ct.len < 64 ? ct.len : 64), ct.base);
	}
	if (!u->n)
		return e2b_reply_error(req, 400, "no \"file\" part in the form");
	u->pending = http_pending_new(req, upload_gone, u);
	write_next(u);
	return 0;
}
