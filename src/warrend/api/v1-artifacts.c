/* Artifacts over HTTP: GET /v1/artifacts/{id}/{name} downloads one by its
 * signed URL (no token: the signature is the credential, checked first);
 * POST /v1/sessions/{id}/artifacts turns files of a live session into
 * artifacts and answers their URLs (core/session-collect.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts.h"
#include "cleanup.h"
#include "http.h"
#include "session-collect.h"
#include "v1-routes.h"

/* The download's name: `filename` in ASCII for old clients (anything
 * else, and quotes and backslashes, as "_"), `filename*` exact (RFC 6266). */
static void content_disposition(h2o_req_t *req, const char *name)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(name);
	char *v = h2o_mem_alloc_pool(&req->pool, 64 + 4 * len), *o = v;
	o += sprintf(o, "attachment; filename=\"");
	for (const unsigned char *c = (const unsigned char *)name; *c; c++)
		*o++ = *c >= 0x20 && *c < 0x7f && *c != '"' && *c != '\\' ? (char)*c : '_';
	o += sprintf(o, "\"; filename*=UTF-8''");
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || strchr("-._~", *c)) {
			*o++ = (char)*c;
		} else {
			*o++ = '%';
			*o++ = hex[*c >> 4];
			*o++ = hex[*c & 15];
		}
	}
	h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-disposition"), 0, NULL, v,
			      (size_t)(o - v));
}

static int get_artifact(h2o_req_t *req, const struct http_route_match *m)
{
	struct artifact_url u;
	/* the signature before anything else (the gate checked it too) */
	switch (artifacts_check_url(req->path.base, req->path.len, &u)) {
	case ARTIFACT_URL_OK:
		break;
	case ARTIFACT_URL_EXPIRED:
		return http_reply_error(req, 403, "forbidden", ARTIFACT_URL_EXPIRED_WHY);
	default:
		return http_reply_error(req, 403, "forbidden", ARTIFACT_URL_BAD_WHY);
	}
	uint64_t size;
	int fd = artifacts_open(&u, &size);
	if (fd < 0)
		return http_reply_error(req, 404, "not_found", "artifact %s is gone: it expired and was removed", u.id);
	content_disposition(req, u.name);
	/* whatever it holds, a browser saves it and never runs it in our origin */
	h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL,
			      H2O_STRLIT("nosniff"));
	h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0, NULL,
			      H2O_STRLIT("default-src 'none'; sandbox"));
	return v1_send_file(req, fd, size, http_content_type_of(u.name));
}

int v1_collect_paths(json_t *v, const char *key, const char ***out, size_t *n, struct wd_error *err)
{
	*out = NULL;
	*n = 0;
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > COLLECT_PATHS_MAX)
		return wd_fail(err, 400, "%s: expected an array of 1 to %d paths or globs", key, COLLECT_PATHS_MAX);
	const char **paths = calloc(json_array_size(v), sizeof *paths);
	if (!paths)
		return wd_fail(err, 503, "out of memory");
	size_t i;
	json_t *item;
	json_array_foreach(v, i, item) {
		if (!json_is_string(item) || strlen(json_string_value(item)) != json_string_length(item)) {
			free(paths);
			return wd_fail(err, 400, "%s[%zu]: expected a path (a string without NUL bytes)", key, i);
		}
		paths[i] = json_string_value(item);
	}
	int r = session_collect_check(paths, json_array_size(v), err);
	if (r < 0) {
		free(paths);
		return r;
	}
	*out = paths;
	*n = json_array_size(v);
	return 0;
}

struct artifacts_op {
	struct http_pending *pending;
	struct collect_wait *wait;
};

static void op_gone(void *data)
{
	struct artifacts_op *op = data;
	if (op->wait)
		session_collect_cancel(op->wait);
}

static void collected(void *data, json_t *report, const struct wd_error *err)
{
	struct artifacts_op *op = data;
	h2o_req_t *req = op->pending->req;
	op->pending->on_gone = NULL;
	op->wait = NULL;
	if (err) {
		http_reply_wd_error(req, err);
		return;
	}
	http_render_collected(req, report);
	http_reply_json(req, 200, json_incref(report));
}

static int post_artifacts(h2o_req_t *req, const struct http_route_match *m)
{
	static const char *const fields[] = { "paths", NULL };
	_cleanup_(json_decrefp) json_t *body = NULL;
	if (http_body_json(req, &body) < 0 || http_check_fields(req, body, NULL, fields) < 0)
		return 0;
	struct wd_error err = { 0 };
	struct session *s = session_find_or_fail(m->id, m->owner, &err);
	_cleanup_free_ const char **paths = NULL;
	size_t n;
	if (!s || v1_collect_paths(json_object_get(body, "paths"), "paths", &paths, &n, &err) < 0)
		return http_reply_wd_error(req, &err);
	struct artifacts_op *op = h2o_mem_alloc_pool(&req->pool, sizeof *op);
	*op = (struct artifacts_op){ .pending = http_pending_new(req, op_gone, op) };
	struct collect_options o = { .paths = paths, .n_paths = n, .store_all = true, .request_id = m->request_id };
	if (session_collect(s, &o, collected, op, &op->wait, &err) < 0) {
		op->pending->on_gone = NULL;
		return http_reply_wd_error(req, &err);
	}
	return 0;
}

const struct http_route v1_artifact_routes[] = {
	{ "POST", "/v1/sessions/{id}/artifacts", post_artifacts, 0 },
	{ NULL, NULL, NULL, 0 },
};

/* http_add_presigned_routes: the URL's signature is the credential */
const struct http_route v1_artifact_download_routes[] = {
	{ "GET", "/v1/artifacts/*", get_artifact, 0 },
	{ NULL, NULL, NULL, 0 },
};
