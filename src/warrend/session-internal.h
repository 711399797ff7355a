/* Between sessions.c, stream.c and compat.c. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <h2o.h>
#include <jansson.h>

#include "box.h"
#include "http.h"
#include "policy.h"

struct session;
typedef int (*session_created_fn)(h2o_req_t *req, struct session *s);
/* The callback may take r->out[i] (setting it NULL), as exec_reply_result does. */
typedef int (*session_exec_done_fn)(h2o_req_t *req, struct exec_result *r, void *data);

struct session {
	char id[33];
	char owner[65];
	struct box *box;
	struct pool *pool;
	struct policy_limits limits;     /* effective: the policy's, tightened */
	char **env;                      /* "KEY=VALUE": the policy's and the session's */
	time_t created;
	uint64_t created_ms, last_used_ms;
	uint64_t idle_timeout_ms, max_lifetime_ms;
	bool pooled;                     /* leased from the pool (not a cold create) */
	bool dead;
	char dead_reason[256];
	unsigned running;                /* execs in flight */
	session_created_fn created_cb;
	void *created_cb_data;           /* for created_cb, which takes it (sets it NULL) */
	void (*created_cb_free)(void *); /* frees created_cb_data when created_cb never ran */
	h2o_linklist_t link;             /* in sessions.c's `sessions`, or `creating` while it awaits a
					  * cold sandbox (a one-shot run's holder: `runs`) */
};

/* Creates a session from a POST /v1/sessions-shaped body (NULL: defaults)
 * and calls done(req, s) when it exists; errors are replied here. */
int session_create_from(h2o_req_t *req, json_t *body, const char *owner, session_created_fn done);
/* The same with data the callback finds in s->created_cb_data; free_data
 * frees it when the session is refused or fails before done runs. */
int session_create_with_data(h2o_req_t *req, json_t *body, const char *owner, session_created_fn done, void *data,
			     void (*free_data)(void *));
int session_delete(struct session *s);
/* Parses an exec body ({"cmd"|"shell", env, cwd, stdin, timeout, output,
 * stream}); on error it has replied and returns -1. Strings it allocates
 * are handed back in argv/env/stdin for the caller to free. */
int exec_params_from_json(h2o_req_t *req, json_t *body, const struct session *s, struct exec_params *p,
			  char ***argv, char ***env, void **stdin_data, bool *stream);
/* Whether s may start one more command: 429 (replied, returns -1) past
 * max_execs_per_session or the owner's exec_cap_for_owner. Both ways of
 * running p below check it first. */
int session_exec_admit(h2o_req_t *req, const struct session *s);
/* Runs p in s and calls done(req, result, data) unless the client left. */
int session_exec_buffered(h2o_req_t *req, struct session *s, const struct exec_params *p,
			  session_exec_done_fn done, void *data);
/* Runs p in s answering with text/event-stream (stream.c). */
int session_exec_stream(h2o_req_t *req, struct session *s, const struct exec_params *p);
/* Heartbeats for streams whose command is silent (from the daemon tick). */
void streams_tick(uint64_t now);

/* pool.c: new pools for every (image, policy) after a policy reload. */
void pools_retire(void);
