/* The HTTP front end on h2o (libh2o-evloop 2.2): listeners, the route table,
 * JSON request parsing and JSON/error replies. Everything runs on the one
 * event loop thread; handlers never block. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <h2o.h>

#include "daemon.h"
#include "wd-error.h"

/* One route: METHOD and a pattern whose "{id}" matches one path segment
 * and a trailing "*" matches the rest (possibly empty). */
struct http_route_match {
	char id[65];           /* the {id} segment, NUL-terminated ("" if none) */
	const char *rest;      /* what "*" matched, not NUL-terminated; h2o has already
	                        * percent-decoded it and resolved "." and ".." (never holds NUL) */
	size_t rest_len;
	const char *owner;     /* the token's name; "local" (unix socket) or "loopback" without one */
	const char *request_id; /* X-Request-Id: the client's (well-formed) or a new one */
};
typedef int (*http_handler_fn)(h2o_req_t *req, const struct http_route_match *m);
struct http_route {
	const char *method;    /* "GET", "POST", … */
	const char *pattern;   /* "/v1/sessions/{id}/exec" */
	http_handler_fn handler;
	size_t max_body;       /* 0: a JSON body of at most max_json_body (tokenless TCP
	                        * requests must declare it: Content-Type: application/json) */
};
/* Registers a table of routes (terminated by a NULL method). The first
 * match wins; a path that matches with another method gets 405. */
void http_add_routes(const struct http_route *routes);
/* The same for routes whose credential is a signed URL, not a token
 * (artifacts): their handlers get no owner and check the signature
 * before anything else. */
void http_add_presigned_routes(const struct http_route *routes);

/* Replies (each returns 0 so handlers can `return http_reply_…;`). */
int http_reply_json(h2o_req_t *req, int status, json_t *body /* stolen */);
/* The one error reply of the JSON API: {"error": {"code", "message"}}
 * with the error's status, and Retry-After on 429 and 503. */
int http_reply_wd_error(h2o_req_t *req, const struct wd_error *e);
int http_reply_error(h2o_req_t *req, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int http_reply_bytes(h2o_req_t *req, int status, const char *content_type, const void *data, size_t len);
/* The reason phrase of a status ("Not Found"). */
const char *http_reason(int status);
/* Sets a streamed reply's status (and reason). */
void http_start_status(h2o_req_t *req, int status, const char *content_type);

/* The request's own record: its id, who asked, which route, and the
 * session it concerns (for the access log). */
struct http_ctx {
	char request_id[REQUEST_ID_MAX + 1];
	const char *owner;
	const struct http_route *route;
	char session_id[65];
};
struct http_ctx *http_ctx(h2o_req_t *req);
/* Names the session a request concerns in its access-log line. */
void http_set_session(h2o_req_t *req, const char *session_id);

/* The front end of the listener that speaks E2B's API (e2b_listen):
 * every request of its connections goes to `handler`, which routes and
 * authenticates it itself (the route tables above are warren's API's). */
typedef int (*http_front_fn)(h2o_req_t *req, struct http_ctx *ctx);
void http_set_e2b_front(http_front_fn handler);

/* Parses the request body as a JSON object. On failure it has already
 * replied 400 (malformed, not an object) and returns -1. */
int http_body_json(h2o_req_t *req, json_t **out);

/* Checks `obj` has only keys from `allowed` (NULL-terminated); on an
 * unknown key replies 400 `unknown field "k"` (prefix names the object)
 * and returns -1. */
int http_check_fields(h2o_req_t *req, json_t *obj, const char *prefix, const char *const *allowed);

/* Ties asynchronous work to a request: `on_gone` is called if the request
 * is disposed (client went away) before the work replied. Returns a slot
 * whose `req` field is NULLed when the request is gone. */
struct http_pending {
	h2o_req_t *req;
	void (*on_gone)(void *data);
	void *data;
	h2o_linklist_t link;   /* in the list http_pending_check_clients walks */
};
struct http_pending *http_pending_new(h2o_req_t *req, void (*on_gone)(void *), void *data);

/* The listeners. "unix:/run/warren/warrend.sock" or "127.0.0.1:8080" or
 * "[::1]:8080". Returns 0 or -errno with the message in e. */
struct daemon_config;
int http_start(h2o_evloop_t *loop, const struct daemon_config *cfg, wr_error *e);
/* Stops accepting new connections (drain). */
void http_stop_listening(void);

/* Additions (httpd helper). Notes: register every table with
 * http_add_routes before http_start (h2o's body cap is the largest route
 * limit); http_body_json reads an empty body as {}; a request that only
 * carries the path of a known route with another method gets 405 + Allow. */
/* h2o learns that an HTTP/1 client closed its connection only when it
 * writes; a request waiting on a silent command would wait for its
 * timeout. Peeks at the connection of every pending HTTP/1 request and, for
 * one the client closed, runs on_gone and ends the request (HTTP/2 resets
 * and closes reach h2o through its own reads). Called from the tick. */
void http_pending_check_clients(void);
/* From the daemon's tick: stream heartbeats, clients that left. */
void http_tick(uint64_t now_ms);
/* Matches `path` (len bytes) against a route pattern; fills m's id/rest.
 * {id}: 1-64 characters of [A-Za-z0-9_-]; anything else does not match. */
bool http_match_pattern(const char *pattern, const char *path, size_t len, struct http_route_match *m);
/* http-artifacts.c: each collected file of a report (session-collect.h)
 * as clients see it: its "content_type" and, for an artifact, its "url"
 * (public_url, else the request's scheme and Host, then the signed path)
 * and "expires" (RFC 3339). */
void http_render_collected(h2o_req_t *req, json_t *report);
/* The Content-Type of a file name (h2o's table; application/octet-stream
 * for what it does not know). */
const char *http_content_type_of(const char *name);
/* Drain: HTTP/2 connections get GOAWAY, idle keep-alive ones close. */
void http_shutdown(void);
/* Frees the h2o context and configuration at exit. */
void http_dispose(void);
