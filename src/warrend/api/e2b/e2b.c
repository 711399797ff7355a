#include "config.h"

/* The E2B listener's one handler (e2b.h): which API a request is for,
 * whose it is, and the reply shapes every part shares.
 *
 * E2B's SDKs send everything to one base URL: the control plane with the
 * API key (X-API-KEY, a warrend token), the in-sandbox services with
 * E2b-Sandbox-Id and E2b-Sandbox-Port (49983 envd, 49999 the code
 * interpreter) and the sandbox's access token (X-Access-Token, or
 * E2B-Traffic-Access-Token). Older SDKs send /files without the id: the
 * token alone names the sandbox then. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "e2b.h"
#include "encode.h"
#include "loop.h"

/* Labels for the access log and the metrics (no handler: routing is
 * e2b.c's own). */
static const struct http_route labels[] = {
	{ "*", "e2b:/sandboxes", NULL, 0 },
	{ "*", "e2b:envd/files", NULL, 0 },
	{ "*", "e2b:envd/process.Process", NULL, 0 },
	{ "*", "e2b:envd/filesystem.Filesystem", NULL, 0 },
	{ "*", "e2b:envd/health", NULL, 0 },
	{ "*", "e2b:interpreter", NULL, 0 },
	{ "*", "e2b:other", NULL, 0 },
};
enum { L_CONTROL, L_FILES, L_PROCESS, L_FS, L_HEALTH, L_INTERP, L_OTHER };

/* ---- replies ------------------------------------------------------------------ */

int e2b_reply_error(h2o_req_t *req, int status, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	if (status == 401)
		req->http1_is_persistent = 0; /* as http.c: its next request would be read before being refused */
	if (status == 429 || status == 503)
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
	return http_reply_json(req, status, json_pack("{s:i, s:s}", "code", status, "message", message));
}

int e2b_reply_wd_error(h2o_req_t *req, const struct wd_error *e)
{
	return e2b_reply_error(req, e->status ? e->status : 500, "%s", e->cause.message);
}

int e2b_reply_empty(h2o_req_t *req, int status)
{
	req->res.status = status;
	req->res.reason = http_reason(status);
	req->res.content_length = 0;
	h2o_send_inline(req, "", 0);
	return 0;
}

int e2b_body_json(h2o_req_t *req, json_t **out)
{
	*out = NULL;
	if (!req->entity.base || !req->entity.len) {
		*out = json_object();
		return 0;
	}
	json_error_t error = { .text = "a NUL byte" };
	json_t *v = memchr(req->entity.base, '\0', req->entity.len) ? NULL
		    : json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &error);
	if (!json_is_object(v)) {
		json_decref(v);
		e2b_reply_error(req, 400, "the body must be a JSON object%s%s", v ? "" : ": ", v ? "" : error.text);
		return -1;
	}
	*out = v;
	return 0;
}

h2o_iovec_t e2b_header(h2o_req_t *req, const char *name)
{
	ssize_t at = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
	return at >= 0 ? req->headers.entries[at].value : h2o_iovec_init(NULL, 0);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

const char *e2b_query(h2o_req_t *req, const char *name, size_t *len)
{
	if (req->query_at == SIZE_MAX)
		return NULL;
	const char *q = req->path.base + req->query_at + 1, *end = req->path.base + req->path.len;
	size_t nlen = strlen(name);
	while (q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *stop = amp ? amp : end, *eq = memchr(q, '=', (size_t)(stop - q));
		if (eq && (size_t)(eq - q) == nlen && !memcmp(q, name, nlen)) {
			/* percent-decoded, '+' as a space (URLSearchParams writes it) */
			char *out = h2o_mem_alloc_pool(&req->pool, (size_t)(stop - eq));
			size_t o = 0;
			for (const char *p = eq + 1; p < stop; p++) {
				int hi, lo;
				if (*p == '%' && stop - p >= 3 && (hi = hex_digit(p[1])) >= 0 && (lo = hex_digit(p[2])) >= 0) {
					out[o++] = (char)(hi << 4 | lo);
					p += 2;
				} else {
					out[o++] = *p == '+' ? ' ' : *p;
				}
			}
			out[o] = '\0';
			if (len)
				*len = o;
			return out;
		}
		q = stop + 1;
	}
	return NULL;
}

void e2b_time(time_t t, char out[32])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- users ------------------------------------------------------------------------ */

int e2b_check_user(const char *name, size_t len, char *msg, size_t msglen)
{
	if (!name || !len || (len == 4 && !memcmp(name, "user", 4)) || (len == 7 && !memcmp(name, "sandbox", 7)))
		return 0;
	snprintf(msg, msglen, "user \"%.*s\" is not available: warren runs everything in a sandbox as its one user "
		 "(\"sandbox\", uid 1000; \"user\" means it too)", (int)(len < 64 ? len : 64), name);
	return -1;
}

/* "Basic base64(user:)": the SDKs' way of naming a user. */
int e2b_check_basic_user(h2o_req_t *req, char *msg, size_t msglen)
{
	h2o_iovec_t v = e2b_header(req, "authorization");
	if (!v.base)
		return 0;
	if (v.len < 6 || strncasecmp(v.base, "Basic ", 6)) {
		snprintf(msg, msglen, "Authorization: expected \"Basic base64(user:)\" (the SDK's user option)");
		return -1;
	}
	size_t n = 0;
	char *decoded = base64_decode(v.base + 6, v.len - 6, &n);
	if (!decoded) {
		snprintf(msg, msglen, "Authorization: not base64");
		return -1;
	}
	const char *colon = memchr(decoded, ':', n);
	int r = e2b_check_user(decoded, colon ? (size_t)(colon - decoded) : n, msg, msglen);
	free(decoded);
	return r;
}

/* ---- routing ------------------------------------------------------------------------ */

static bool path_is(const char *path, size_t len, const char *want)
{
	return len == strlen(want) && !memcmp(path, want, len);
}

static bool method_is(h2o_req_t *req, const char *m)
{
	return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static bool prefix(const char *path, size_t len, const char *want, const char **rest, size_t *rest_len)
{
	size_t n = strlen(want);
	if (len < n || memcmp(path, want, n))
		return false;
	*rest = path + n;
	*rest_len = len - n;
	return true;
}

static int body_limit(h2o_req_t *req, uint64_t limit, bool e2b_shape)
{
	if (req->entity.len <= limit)
		return 0;
	if (e2b_shape)
		e2b_reply_error(req, 413, "the request body (%zu bytes) exceeds the limit of %llu bytes", req->entity.len,
				(unsigned long long)limit);
	else
		connect_reply_error(req, "resource_exhausted", "the request body (%zu bytes) exceeds the limit of %llu "
				    "bytes", req->entity.len, (unsigned long long)limit);
	return -1;
}

/* envd: port 49983. */
static int envd(struct e2b_call *c, struct http_ctx *ctx, const char *path, size_t len)
{
	h2o_req_t *req = c->req;
	const struct daemon_config *cfg = &daemon_state->cfg;
	const char *rest;
	size_t rest_len;
	if (path_is(path, len, "/health")) {
		ctx->route = &labels[L_HEALTH];
		return e2b_reply_empty(req, 204);
	}
	if (path_is(path, len, "/files")) {
		ctx->route = &labels[L_FILES];
		if (method_is(req, "GET") || method_is(req, "HEAD"))
			return e2b_files_get(c);
		if (method_is(req, "POST"))
			return body_limit(req, cfg->max_body, true) < 0 ? 0 : e2b_files_post(c);
		return e2b_reply_error(req, 405, "/files takes GET and POST");
	}
	bool process = prefix(path, len, "/process.Process/", &rest, &rest_len);
	if (process || prefix(path, len, "/filesystem.Filesystem/", &rest, &rest_len)) {
		ctx->route = &labels[process ? L_PROCESS : L_FS];
		char method[32];
		if (!method_is(req, "POST"))
			return connect_reply_error(req, "unimplemented", "Connect calls are POSTs");
		if (rest_len == 0 || rest_len >= sizeof method)
			return connect_reply_error(req, "unimplemented", "no method \"%.*s\"", (int)(rest_len < 64 ? rest_len : 64),
						   rest);
		memcpy(method, rest, rest_len);
		method[rest_len] = '\0';
		if (body_limit(req, 2 * cfg->max_json_body, false) < 0) /* stdin in base64 */
			return 0;
		return process ? e2b_process_call(c, method) : e2b_fs_call(c, method);
	}
	ctx->route = &labels[L_OTHER];
	return e2b_reply_error(req, 404, "envd has no %.*s %.*s", (int)req->method.len, req->method.base, (int)len, path);
}

/* Which sandbox an in-sandbox request is for, and whether it may: its
 * access token, or the owner's API key. NULL after replying. */
static struct e2b_sandbox *request_sandbox(h2o_req_t *req, struct session **s)
{
	h2o_iovec_t id = e2b_header(req, "e2b-sandbox-id"), key = e2b_header(req, "x-api-key");
	h2o_iovec_t token = e2b_header(req, "x-access-token");
	if (!token.base)
		token = e2b_header(req, "e2b-traffic-access-token");
	struct e2b_sandbox *sb = NULL;
	const char *owner = key.base ? auth_owner(key.base, key.len) : NULL;
	if (id.base) {
		char text[33];
		snprintf(text, sizeof text, "%.*s", (int)(id.len < 32 ? id.len : 32), id.base);
		struct e2b_sandbox *any = id.len <= 32 ? e2b_sandbox_by_id(text) : NULL;
		if (!any)
			return e2b_reply_error(req, 502, "sandbox \"%.*s\" was not found: it ended or never was",
					       (int)(id.len < 64 ? id.len : 64), id.base), NULL;
		if ((token.base && e2b_sandbox_token_is(any, token.base, token.len)) ||
		    (owner && !strcmp(owner, any->owner)))
			sb = any;
		else
			return e2b_reply_error(req, 401, "sandbox %s: send its envdAccessToken in X-Access-Token",
					       any->id), NULL;
	} else if (token.base) {
		if (!(sb = e2b_sandbox_by_token(token.base, token.len)))
			return e2b_reply_error(req, 401, "no live sandbox has this access token"), NULL;
	} else {
		return e2b_reply_error(req, 400, "name the sandbox: E2b-Sandbox-Id, and its X-Access-Token"), NULL;
	}
	if (!e2b_sandbox_find(sb->id, sb->owner, s))
		return e2b_reply_error(req, 502, "sandbox %s was not found: it ended", sb->id), NULL;
	return sb;
}

static int in_sandbox(h2o_req_t *req, struct http_ctx *ctx, const char *path, size_t len)
{
	h2o_iovec_t port_v = e2b_header(req, "e2b-sandbox-port");
	unsigned long port = E2B_ENVD_PORT;
	if (port_v.base) {
		char text[8];
		snprintf(text, sizeof text, "%.*s", (int)(port_v.len < 7 ? port_v.len : 7), port_v.base);
		char *end;
		port = strtoul(text, &end, 10);
		if (*end || port_v.len > 5 || !port || port > 65535)
			return e2b_reply_error(req, 400, "E2b-Sandbox-Port: expected a port number");
	}
	struct session *s = NULL;
	struct e2b_sandbox *sb = request_sandbox(req, &s);
	if (!sb)
		return 0;
	/* the access log names it when the request ends, maybe after the record went */
	ctx->owner = h2o_strdup(&req->pool, sb->owner, SIZE_MAX).base;
	http_set_session(req, sb->id);
	struct e2b_call c = { .req = req, .sb = sb, .s = s, .owner = sb->owner, .request_id = ctx->request_id,
			      .rest = path, .rest_len = len };
	if (port == E2B_ENVD_PORT)
		return envd(&c, ctx, path, len);
	if (port == E2B_INTERP_PORT) {
		ctx->route = &labels[L_INTERP];
		if (body_limit(req, daemon_state->cfg.max_json_body, true) < 0)
			return 0;
		return e2b_interp_call(&c);
	}
	ctx->route = &labels[L_OTHER];
	return e2b_reply_error(req, 502, "nothing listens on port %lu of sandbox %s: warren serves E2B's envd (%d) "
			       "and code interpreter (%d) ports only", port, sb->id, E2B_ENVD_PORT, E2B_INTERP_PORT);
}

static int front(h2o_req_t *req, struct http_ctx *ctx)
{
	const char *path = req->path_normalized.base;
	size_t len = req->path_normalized.len;
	if (memchr(path, '\0', len))
		return e2b_reply_error(req, 400, "the path contains a NUL byte (%%00)");
	bool sandbox_bound = e2b_header(req, "e2b-sandbox-id").base || e2b_header(req, "e2b-sandbox-port").base ||
			     (!e2b_header(req, "x-api-key").base &&
			      (e2b_header(req, "x-access-token").base || e2b_header(req, "e2b-traffic-access-token").base));
	if (sandbox_bound)
		return in_sandbox(req, ctx, path, len);
	h2o_iovec_t key = e2b_header(req, "x-api-key");
	const char *owner = key.base ? auth_owner(key.base, key.len) : NULL;
	if (!owner)
		return e2b_reply_error(req, 401, key.base ? "invalid API key (X-API-KEY): use a warrend token"
							  : "send the API key in X-API-KEY (a warrend token: warrend token add "
							    "NAME --e2b)");
	ctx->owner = owner;
	ctx->route = &labels[L_CONTROL];
	if (body_limit(req, daemon_state->cfg.max_json_body, true) < 0)
		return 0;
	return e2b_control(req, owner, ctx->request_id, path, len);
}

/* ---- the tick ------------------------------------------------------------------------ */

static void tick(void *data)
{
	e2b_sandboxes_sweep();
	e2b_interp_tick(daemon_now_ms());
}

void e2b_init(void)
{
	http_set_e2b_front(front);
	auth_set_sandbox_secret_check(e2b_sandbox_token_valid);
	if (!loop_every(1000, tick, NULL))
		daemon_log("E2B: out of memory for its timer: records of ended sandboxes go only when looked up");
}
