/* Between http.c (routing, replies) and http-listen.c (sockets). */
#pragma once
#include <stdbool.h>
#include <h2o.h>

#include "error.h"

struct daemon_config;

/* The largest body any route accepts: h2o buffers bodies up to this. */
size_t http_largest_body_limit(const struct daemon_config *cfg);
/* The accept context of the one h2o context (set up by http_start). */
h2o_accept_ctx_t *http_accept_ctx(void);
/* Binds every configured listener (or takes systemd's sockets). */
int http_listen_all(h2o_evloop_t *loop, const struct daemon_config *cfg, wr_error *e);
/* How requests on a connection authenticate, from its listener. */
enum http_auth_mode {
	HTTP_AUTH_TOKEN,    /* a bearer token on every request; the gate checks the first */
	HTTP_AUTH_SOCKET,   /* the unix socket: tokenless requests are the owner "local" */
	HTTP_AUTH_LOOPBACK, /* loopback TCP with tokenless_loopback: the owner "loopback" */
};
enum http_auth_mode http_conn_auth_mode(h2o_conn_t *conn);
/* Which API a listener speaks: warren's own (the route tables), or E2B's
 * (e2b_listen: one front end, its own credentials). */
enum http_listener_kind { HTTP_LISTENER_WARREN, HTTP_LISTENER_E2B };
enum http_listener_kind http_conn_listener(h2o_conn_t *conn);
/* Whether a Host value names the connection's own address or localhost
 * (with the connection's port; none means 80), or one of `names` (any port). */
bool http_host_is_local(h2o_conn_t *conn, const char *host, size_t len, const char *const *names, size_t n_names);
/* At start-up: the tokenless_loopback warning, and a listener that needs
 * tokens when none are loaded. */
void http_listen_warnings(void);

/* The gate (http-gate.c) in front of h2o on listeners that want a token:
 * it reads a new connection's first request head itself and hands the
 * connection to h2o only once that request carries a valid token. */
int http_gate_init(h2o_evloop_t *loop, const struct daemon_config *cfg);
void http_gate_accept(h2o_socket_t *sock, enum http_listener_kind kind);
/* Closes every connection still in the gate (drain). */
void http_gate_close_all(void);
