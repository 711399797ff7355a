/* Collecting files from a session's sandbox (collect.h) at the end of a
 * command and before the sandbox goes: small files come back inline
 * (base64), the others become artifacts (artifacts.h) with signed URLs.
 * For every front end: POST /v1/run's "collect", POST
 * /v1/sessions/{id}/artifacts, the compatibility /execute's /tmp/output.
 *
 * The work runs in a child of the daemon (the event loop never waits on
 * a file), which reads the sandbox's /workspace and /tmp through their
 * fds as the sandbox user, writes artifacts straight into the store's
 * directory through a bounded buffer and reports in a memfd; the daemon
 * learns of its end through a pidfd. The limits are the session's
 * policy's "collect" (warren-policy(5)); the quotas warrend.conf's. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "session.h"

#define COLLECT_PATHS_MAX 64

struct collect_options {
	const char *const *paths;   /* patterns as the client gave them (collect.h) */
	size_t n_paths;
	uint64_t inline_max;        /* files up to this come back inline; 0: none */
	bool store_all;             /* every file becomes an artifact (the small ones inline as well) */
	const char *request_id;
};

/* The report of collect_run, in which every collected file carries
 * "content_base64" (inline), "artifact": {"id", "name", "expires"} (an
 * artifact; artifacts_sign makes its URL), or both. Borrowed: done's
 * caller frees it after. err instead when the collection failed. */
typedef void (*session_collect_fn)(void *data, json_t *report, const struct wd_error *err);

/* The paths' own check, for a request that collects later (after its
 * command): 400 naming the first bad one. */
int session_collect_check(const char *const *paths, size_t n, struct wd_error *err);

struct collect_wait;
/* Checks the paths (400 naming the bad one), then starts collecting from
 * s's sandbox. -errno with err: refused (done is not called). 0: done
 * will be called from the event loop, unless *wait is cancelled first. */
int session_collect(struct session *s, const struct collect_options *o, session_collect_fn done, void *data,
		    struct collect_wait **wait, struct wd_error *err);
/* The caller is gone: the collector is killed, what it stored removed. */
void session_collect_cancel(struct collect_wait *w);
