#include "config.h"

#include <sys/socket.h>

/* The HTTP core: one h2o path ("/") whose handler authenticates the
 * request, matches it against the registered route tables and enforces
 * body limits; JSON and error replies; the listeners. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "auth.h"
#include "cleanup.h"
#include "units.h"
#include "daemon-config.h"
#include "http.h"
#include "http-internal.h"
#include "metrics.h"
#include "sse.h"
#include "v1-routes.h"

#define MAX_TABLES 16

static const struct http_route *route_tables[MAX_TABLES];
static bool presigned_tables[MAX_TABLES];
static size_t n_route_tables;

void http_add_routes(const struct http_route *routes)
{
	if (n_route_tables == MAX_TABLES) {
		daemon_log("too many route tables (at most %d)", MAX_TABLES);
		abort();
	}
	route_tables[n_route_tables++] = routes;
}

void http_add_presigned_routes(const struct http_route *routes)
{
	http_add_routes(routes);
	presigned_tables[n_route_tables - 1] = true;
}

static bool route_presigned(const struct http_route *r)
{
	for (size_t t = 0; t < n_route_tables; t++)
		for (const struct http_route *x = route_tables[t]; x->method; x++)
			if (x == r)
				return presigned_tables[t];
	return false;
}

size_t http_largest_body_limit(const struct daemon_config *cfg)
{
	uint64_t largest = cfg->max_json_body > cfg->max_body ? cfg->max_json_body : cfg->max_body;
	for (size_t t = 0; t < n_route_tables; t++)
		for (const struct http_route *r = route_tables[t]; r->method; r++)
			if (r->max_body > largest)
				largest = r->max_body;
	return largest;
}

/* ---- replies ---------------------------------------------------------- */

const char *http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 421: return "Misdirected Request";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	default: return status < 400 ? "OK" : "Error";
	}
}

void http_start_status(h2o_req_t *req, int status, const char *content_type)
{
	req->res.status = status;
	req->res.reason = http_reason(status);
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
		       strlen(content_type));
}

int http_reply_bytes(h2o_req_t *req, int status, const char *content_type, const void *data, size_t len)
{
	req->res.status = status;
	req->res.reason = http_reason(status);
	req->res.content_length = len;
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
		       strlen(content_type));
	h2o_send_inline(req, data, len);
	return 0;
}

int http_reply_json(h2o_req_t *req, int status, json_t *body)
{
	/* 9 significant digits: 0.18 s prints as 0.18, not 0.17999999999999999 */
	_cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
	json_decref(body);
	if (!text) {
		static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}\n";
		return http_reply_bytes(req, 500, "application/json", oom, sizeof(oom) - 1);
	}
	/* A final newline keeps curl output and line-based tools readable. */
	size_t len = strlen(text);
	char *framed = h2o_mem_alloc_pool(&req->pool, len + 1);
	memcpy(framed, text, len);
	framed[len] = '\n';
	return http_reply_bytes(req, status, "application/json", framed, len + 1);
}

int http_reply_error(h2o_req_t *req, int status, const char *code, const char *fmt, ...)
{
	struct wd_error e = { .status = status, .code = code, .retry_after_s = status == 429 || status == 503 };
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e.cause.message, sizeof(e.cause.message), fmt, ap);
	va_end(ap);
	return http_reply_wd_error(req, &e);
}

int http_reply_wd_error(h2o_req_t *req, const struct wd_error *e)
{
	int status = e->status ? e->status : 500;
	if (e->retry_after_s) {
		char *v = h2o_mem_alloc_pool(&req->pool, 16);
		int n = snprintf(v, 16, "%u", e->retry_after_s);
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v, (size_t)n);
	}
	if (status == 401) {
		h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL,
			       H2O_STRLIT("Bearer"));
		/* A connection that presented a bad token goes: its next request
		 * would be read, body and all, before being refused again. */
		req->http1_is_persistent = 0;
	}
	return http_reply_json(req, status, json_pack("{s:{s:s,s:s}}", "error", "code",
						      e->code ? e->code : wd_status_code(status), "message",
						      e->cause.message));
}

/* ---- request bodies --------------------------------------------------- */

int http_body_json(h2o_req_t *req, json_t **out)
{
	*out = NULL;
	/* An empty body reads as {} so optional bodies may be left out. */
	if (req->entity.base == NULL || req->entity.len == 0) {
		*out = json_object();
		return 0;
	}
	/* jansson would stop at a NUL and accept what came before it. */
	const char *nul = memchr(req->entity.base, '\0', req->entity.len);
	if (nul) {
		http_reply_error(req, 400, "bad_request", "malformed JSON: NUL byte at offset %zu",
				 (size_t)(nul - req->entity.base));
		return -1;
	}
	json_error_t error;
	json_t *value = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &error);
	if (!value) {
		http_reply_error(req, 400, "bad_request", "malformed JSON: %s at line %d column %d", error.text,
				 error.line, error.column);
		return -1;
	}
	if (!json_is_object(value)) {
		json_decref(value);
		http_reply_error(req, 400, "bad_request", "expected a JSON object");
		return -1;
	}
	*out = value;
	return 0;
}

int http_check_fields(h2o_req_t *req, json_t *obj, const char *prefix, const char *const *allowed)
{
	const char *key;
	json_t *value;
	json_object_foreach(obj, key, value) {
		bool known = false;
		for (const char *const *a = allowed; *a && !known; a++)
			known = strcmp(*a, key) == 0;
		if (!known) {
			if (prefix && *prefix)
				http_reply_error(req, 400, "bad_request", "unknown field \"%s.%s\"", prefix, key);
			else
				http_reply_error(req, 400, "bad_request", "unknown field \"%s\"", key);
			return -1;
		}
	}
	return 0;
}

/* ---- async work tied to a request --------------------------------------- */

static h2o_linklist_t pendings = { &pendings, &pendings };

static void pending_dispose(void *obj)
{
	struct http_pending *p = obj;
	void (*on_gone)(void *) = p->on_gone;
	h2o_linklist_unlink(&p->link);
	p->req = NULL;
	p->on_gone = NULL;
	if (on_gone)
		on_gone(p->data);
}

struct http_pending *http_pending_new(h2o_req_t *req, void (*on_gone)(void *), void *data)
{
	struct http_pending *p = h2o_mem_alloc_shared(&req->pool, sizeof(*p), pending_dispose);
	*p = (struct http_pending){ .req = req, .on_gone = on_gone, .data = data };
	h2o_linklist_insert(&pendings, &p->link);
	return p;
}

static bool client_closed(h2o_req_t *req)
{
	if (req->version >= 0x200 || !req->conn->callbacks->get_socket)
		return false;
	h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);
	int fd = sock ? h2o_socket_get_fd(sock) : -1;
	char c;
	return fd >= 0 && recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

void http_tick(uint64_t now)
{
	static uint64_t last_check_ms;
	sse_tick(now);
	if (now - last_check_ms >= 250) {
		last_check_ms = now;
		http_pending_check_clients();
	}
}

void http_pending_check_clients(void)
{
	for (h2o_linklist_t *n = pendings.next; n != &pendings;) {
		struct http_pending *p = H2O_STRUCT_FROM_MEMBER(struct http_pending, link, n);
		n = n->next;
		if (!p->on_gone || !p->req || !client_closed(p->req))
			continue;
		h2o_req_t *req = p->req;
		void (*on_gone)(void *) = p->on_gone;
		p->on_gone = NULL;
		on_gone(p->data);
		/* h2o frees the request once this reply fails to go out. */
		http_reply_error(req, 499, "client_closed", "the client closed the connection");
		n = pendings.next; /* on_gone may have ended other requests */
	}
}

/* ---- routing ---------------------------------------------------------- */

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool http_match_pattern(const char *pattern, const char *path, size_t len, struct http_route_match *m)
{
	size_t i = 0;
	m->id[0] = '\0';
	m->rest = NULL;
	m->rest_len = 0;
	for (const char *p = pattern; *p;) {
		if (strncmp(p, "{id}", 4) == 0) {
			size_t start = i;
			while (i < len && path[i] != '/') {
				if (!id_char(path[i]) || i - start >= sizeof(m->id) - 1)
					return false;
				i++;
			}
			if (i == start)
				return false;
			memcpy(m->id, path + start, i - start);
			m->id[i - start] = '\0';
			p += 4;
		} else if (p[0] == '*' && p[1] == '\0') {
			m->rest = path + i;
			m->rest_len = len - i;
			return true;
		} else {
			if (i >= len || path[i] != *p)
				return false;
			i++;
			p++;
		}
	}
	return i == len;
}

static bool method_is(h2o_req_t *req, const char *method)
{
	/* HEAD is answered by every GET route: h2o sends the head alone */
	if (req->method.len == 4 && !memcmp(req->method.base, "HEAD", 4))
		return !strcmp(method, "GET");
	return req->method.len == strlen(method) && memcmp(req->method.base, method, req->method.len) == 0;
}

static bool header_is(h2o_iovec_t v, const char *s)
{
	return v.len == strlen(s) && strncasecmp(v.base, s, v.len) == 0;
}

/* A tokenless request from a browser: a page on another site (its Origin),
 * or one that rebound its own DNS name to this address (its Host). Replies
 * and returns -1 when the request is refused. */
static int check_tokenless(h2o_req_t *req, enum http_auth_mode mode, const struct http_route *route)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	ssize_t at = h2o_find_header_by_str(&req->headers, H2O_STRLIT("origin"), -1);
	if (at >= 0) {
		h2o_iovec_t origin = req->headers.entries[at].value;
		bool allowed = false;
		for (size_t i = 0; i < cfg->n_allowed_origins && !allowed; i++)
			allowed = header_is(origin, cfg->allowed_origins[i]);
		if (!allowed) {
			http_reply_error(req, 403, "forbidden", "requests without a token from the web page %.*s are "
					 "refused (allowed_origins); send a token", (int)origin.len, origin.base);
			return -1;
		}
	}
	/* A browser cannot reach a unix socket: its Host and Content-Type
	 * (curl sends "x" and form types there) mean nothing. */
	if (mode != HTTP_AUTH_LOOPBACK)
		return 0;
	h2o_iovec_t host = req->input.authority;
	if (!http_host_is_local(req->conn, host.base, host.len, (const char *const *)cfg->allowed_hosts,
				cfg->n_allowed_hosts)) {
		http_reply_error(req, 421, "misdirected_request", "requests without a token must name this "
				 "listener's address, localhost or an allowed_hosts name in Host, not \"%.*s\"",
				 (int)host.len, host.base ? host.base : "");
		return -1;
	}
	bool json_route = route && !route->max_body &&
			  (!strcmp(route->method, "POST") || !strcmp(route->method, "PUT") || !strcmp(route->method, "PATCH"));
	if (!json_route)
		return 0;
	at = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
	h2o_iovec_t type = at >= 0 ? req->headers.entries[at].value : h2o_iovec_init("", 0);
	const char *params = memchr(type.base, ';', type.len); /* "; charset=utf-8" */
	size_t base = params ? (size_t)(params - type.base) : type.len;
	while (base && type.base[base - 1] == ' ')
		base--;
	if (!header_is(h2o_iovec_init(type.base, base), "application/json")) {
		http_reply_error(req, 415, "unsupported_media_type", "requests without a token must send "
				 "Content-Type: application/json (got \"%.*s\")", (int)type.len, type.base);
		return -1;
	}
	return 0;
}

/* Who is asking: the token's name, or the tokenless owner of the listener
 * ("local" on the unix socket, "loopback" with tokenless_loopback), or NULL
 * after an error reply. */
static const char *authenticate(h2o_req_t *req, const struct http_route *route)
{
	ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
	if (at >= 0) {
		h2o_iovec_t v = req->headers.entries[at].value;
		const char *why = NULL, *owner = auth_owner_of_header(v.base, v.len, &why);
		if (!owner)
			http_reply_error(req, 401, "unauthorized", "%s", why);
		return owner;
	}
	enum http_auth_mode mode = http_conn_auth_mode(req->conn);
	if (mode == HTTP_AUTH_TOKEN) {
		http_reply_error(req, 401, "unauthorized",
				 "this listener requires a token: send \"Authorization: Bearer TOKEN\"");
		return NULL;
	}
	if (check_tokenless(req, mode, route) < 0)
		return NULL;
	return mode == HTTP_AUTH_SOCKET ? AUTH_SOCKET_OWNER : AUTH_LOOPBACK_OWNER;
}

static int reply_not_allowed(h2o_req_t *req, const char *path, size_t len)
{
	char allow[128] = "";
	struct http_route_match m;
	for (size_t t = 0; t < n_route_tables; t++)
		for (const struct http_route *r = route_tables[t]; r->method; r++)
			if (http_match_pattern(r->pattern, path, len, &m) && !strstr(allow, r->method)) {
				if (*allow)
					strncat(allow, ", ", sizeof(allow) - strlen(allow) - 1);
				strncat(allow, r->method, sizeof(allow) - strlen(allow) - 1);
			}
	if (!*allow)
		return -1;
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, h2o_strdup(&req->pool, allow, SIZE_MAX).base,
		       strlen(allow));
	return http_reply_error(req, 405, "method_not_allowed", "%.*s is not allowed on %.*s (allowed: %s)",
				(int)req->method.len, req->method.base, (int)len, path, allow);
}

static const struct http_route *find_route(h2o_req_t *req, const char *path, size_t len, struct http_route_match *m)
{
	for (size_t t = 0; t < n_route_tables; t++)
		for (const struct http_route *r = route_tables[t]; r->method; r++)
			if (method_is(req, r->method) && http_match_pattern(r->pattern, path, len, m))
				return r;
	return NULL;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Whether the path as sent (before the query), percent-decoded, has a "."
 * or ".." segment. h2o resolves them (and decodes %2F into a separator)
 * before routing, so ".../files/..%2F..%2FID" would reach DELETE
 * /v1/sessions/ID: no route of ours has such a segment, so none is routed. */
static bool raw_path_has_dot_segment(const h2o_req_t *req)
{
	size_t len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
	const char *p = req->path.base;
	size_t seg_len = 0;
	bool only_dots = true;
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? p[i] : '/';
		int hi, lo;
		if (c == '%' && i + 2 < len && (hi = hex_digit(p[i + 1])) >= 0 && (lo = hex_digit(p[i + 2])) >= 0) {
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '/') {
			if (seg_len && seg_len <= 2 && only_dots)
				return true;
			seg_len = 0;
			only_dots = true;
			continue;
		}
		seg_len++;
		only_dots = only_dots && c == '.';
	}
	return false;
}

/* ---- the request's record ------------------------------------------------ */

/* Kept in the request's env vector (h2o's slot for per-request data that
 * handlers pass along), under a name no client can set. */
static const char ctx_key[] = "warrend.ctx";

struct http_ctx *http_ctx(h2o_req_t *req)
{
	for (size_t i = 0; i + 1 < req->env.size; i += 2)
		if (req->env.entries[i].len == sizeof(ctx_key) - 1 &&
		    !memcmp(req->env.entries[i].base, ctx_key, sizeof(ctx_key) - 1))
			return (struct http_ctx *)req->env.entries[i + 1].base;
	struct http_ctx *c = h2o_mem_alloc_pool(&req->pool, sizeof(*c));
	memset(c, 0, sizeof(*c));
	ssize_t at = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
	if (at >= 0 && request_id_valid(req->headers.entries[at].value.base, req->headers.entries[at].value.len))
		memcpy(c->request_id, req->headers.entries[at].value.base, req->headers.entries[at].value.len);
	else
		request_id_new(c->request_id);
	h2o_vector_reserve(&req->pool, &req->env, req->env.size + 2);
	req->env.entries[req->env.size++] = h2o_iovec_init(ctx_key, sizeof(ctx_key) - 1);
	req->env.entries[req->env.size++] = h2o_iovec_init(c, sizeof(*c));
	return c;
}

void http_set_session(h2o_req_t *req, const char *session_id)
{
	snprintf(http_ctx(req)->session_id, sizeof(http_ctx(req)->session_id), "%s", session_id);
}

/* A route whose credential is the URL's own signature (artifacts): the
 * handler checks it before anything else; tokens do not matter. On a
 * listener that wants tokens, the gate let this connection in for that
 * one request: it closes after the answer, so no request without a token
 * rides in behind it. */
static int dispatch_presigned(h2o_req_t *req, struct http_ctx *ctx, const struct http_route *r,
			      struct http_route_match *m)
{
	ctx->route = r;
	if (http_conn_auth_mode(req->conn) == HTTP_AUTH_TOKEN &&
	    h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1) < 0)
		req->http1_is_persistent = 0;
	m->owner = NULL;
	m->request_id = ctx->request_id;
	return r->handler(req, m);
}

static int dispatch_route(h2o_req_t *req, struct http_ctx *ctx)
{
	/* h2o has percent-decoded the path: %00 would hand handlers a NUL. */
	const char *path = req->path_normalized.base;
	size_t len = req->path_normalized.len;
	struct http_route_match m;
	bool dots = raw_path_has_dot_segment(req);
	const struct http_route *r = memchr(path, '\0', len) || dots ? NULL : find_route(req, path, len, &m);
	if (r && route_presigned(r))
		return dispatch_presigned(req, ctx, r, &m);
	const char *owner = authenticate(req, r);
	if (!owner)
		return 0;
	ctx->owner = owner;
	ctx->route = r;
	if (memchr(path, '\0', len))
		return http_reply_error(req, 400, "bad_request", "the path contains a NUL byte (%%00)");
	if (dots)
		return http_reply_error(req, 400, "bad_request",
					"the path has a \".\" or \"..\" segment (escaped ones too): no route has one, "
					"and a file path may not leave the workspace");
	if (r) {
		uint64_t limit = r->max_body ? r->max_body : daemon_state->cfg.max_json_body;
		if (req->entity.len > limit) {
			char size[32];
			format_size(limit, size, sizeof(size));
			return http_reply_error(req, 413, "payload_too_large",
						"the request body (%zu bytes) exceeds the limit of %s", req->entity.len,
						size);
		}
		m.owner = owner;
		m.request_id = ctx->request_id;
		if (m.id[0] && strstr(r->pattern, "/sessions/{id}"))
			http_set_session(req, m.id);
		return r->handler(req, &m);
	}
	if (reply_not_allowed(req, path, len) == 0)
		return 0;
	return http_reply_error(req, 404, "not_found", "no route for %.*s %.*s", (int)req->method.len,
				req->method.base, (int)len, path);
}

static http_front_fn e2b_front;

void http_set_e2b_front(http_front_fn handler)
{
	e2b_front = handler;
}

static int dispatch(h2o_handler_t *self, h2o_req_t *req)
{
	struct http_ctx *ctx = http_ctx(req);
	/* every log line the handler causes names the request */
	LOG_CTX_SCOPE(ctx->request_id, NULL);
	if (http_conn_listener(req->conn) == HTTP_LISTENER_E2B) {
		if (e2b_front)
			return e2b_front(req, ctx);
		return http_reply_error(req, 503, "unavailable", "E2B's API is not served here");
	}
	return dispatch_route(req, ctx);
}

/* Every response, whoever made it (a handler, h2o itself), carries the
 * request's id. */
static void add_request_id(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
	struct http_ctx *ctx = http_ctx(req);
	h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, ctx->request_id,
			      strlen(ctx->request_id));
	h2o_setup_next_ostream(req, slot);
}

static double ms_between(struct timeval a, struct timeval b)
{
	return (double)(b.tv_sec - a.tv_sec) * 1000.0 + (double)(b.tv_usec - a.tv_usec) / 1000.0;
}

/* The access log and the per-route metrics: one call per request. */
static void log_response(h2o_logger_t *self, h2o_req_t *req)
{
	struct http_ctx *ctx = http_ctx(req);
	struct timeval now;
	gettimeofday(&now, NULL);
	double ms = req->timestamps.request_begin_at.tv_sec ? ms_between(req->timestamps.request_begin_at, now) : 0;
	if (ms < 0)
		ms = 0;
	int status = req->res.status;
	char route[128] = "other";
	if (ctx->route)
		snprintf(route, sizeof(route), "%s %s", ctx->route->method, ctx->route->pattern);
	if (status)
		metrics_count_request(route, status, ms / 1000.0);
	if (!daemon_state->cfg.access_log)
		return;
	struct access_entry a = {
		.request_id = ctx->request_id, .token = ctx->owner, .method = req->method.base,
		.method_len = req->method.len, .path = req->path.base,
		.path_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len, .status = status,
		.bytes = req->bytes_sent, .duration_ms = ms, .session_id = ctx->session_id[0] ? ctx->session_id : NULL,
	};
	daemon_log_access(&a);
}

/* ---- h2o set-up ----------------------------------------------------------- */

static h2o_globalconf_t globalconf;
static h2o_context_t context;
static h2o_accept_ctx_t accept_ctx;

static void configure_h2o(h2o_evloop_t *loop, const struct daemon_config *cfg)
{
	h2o_config_init(&globalconf);
	globalconf.server_name = h2o_iovec_init(H2O_STRLIT("warrend/" PACKAGE_VERSION));
	globalconf.max_request_entity_size = http_largest_body_limit(cfg);
	h2o_hostconf_t *host = h2o_config_register_host(&globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
	h2o_pathconf_t *pathconf = h2o_config_register_path(host, "/", 0);
	h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
	handler->on_req = dispatch;
	h2o_filter_t *filter = h2o_create_filter(pathconf, sizeof(*filter));
	filter->on_setup_ostream = add_request_id;
	h2o_logger_t *logger = h2o_create_logger(pathconf, sizeof(*logger));
	logger->log_access = log_response;
	h2o_context_init(&context, loop, &globalconf);
	accept_ctx.ctx = &context;
	accept_ctx.hosts = globalconf.hosts;
}

h2o_accept_ctx_t *http_accept_ctx(void)
{
	return &accept_ctx;
}

void http_shutdown(void)
{
	http_gate_close_all();
	/* HTTP/2 clients get GOAWAY; idle HTTP/1 keep-alive connections close. */
	if (accept_ctx.ctx)
		h2o_context_request_shutdown(&context);
}

void http_dispose(void)
{
	if (!accept_ctx.ctx)
		return;
	h2o_context_dispose(&context);
	h2o_config_dispose(&globalconf);
	accept_ctx.ctx = NULL;
}

int http_start(h2o_evloop_t *loop, const struct daemon_config *cfg, wr_error *e)
{
	configure_h2o(loop, cfg);
	http_gate_init(loop, cfg);
	return http_listen_all(loop, cfg, e);
}
