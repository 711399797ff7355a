/* A session created for one HTTP request (POST /v1/sessions, E2B's POST
 * /sandboxes, compat's /create_session): the client may leave before the
 * sandbox is ready, which cancels the creation and frees its place. */
#pragma once
#include <h2o.h>

#include "session.h"

struct http_creation {
	struct http_pending *pending;
	struct session_wait *wait;
};

/* session_create for req. `c` is the first member of `data` (the caller
 * allocates it in the request's pool) and `done` gets `data`; done may run
 * before this returns. On -1, err says why and nothing waits. */
int http_session_create(h2o_req_t *req, struct http_creation *c, void *data, const struct session_request *r,
			session_ready_fn done, struct wd_error *err);
/* The first call in `done`: the creation is over, and this is the request
 * to answer. */
h2o_req_t *http_creation_done(struct http_creation *c);
