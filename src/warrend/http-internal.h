/* Between http.c (routing, replies) and http-listen.c (sockets). */
#pragma once
#include <stdbool.h>
#include <h2o.h>

struct daemon_config;

/* The largest body any route accepts: h2o buffers bodies up to this. */
size_t http_largest_body_limit(const struct daemon_config *cfg);
/* The accept context of the one h2o context (set up by http_start). */
h2o_accept_ctx_t *http_accept_ctx(void);
/* Binds every configured listener (or takes systemd's sockets). */
int http_listen_all(h2o_evloop_t *loop, const struct daemon_config *cfg, char *err, size_t errlen);
/* Whether requests on this connection must carry a token: always on TCP
 * listeners not bound to loopback, elsewhere only with auth_local. */
bool http_listener_requires_auth(h2o_conn_t *conn);
