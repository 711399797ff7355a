/* Version 1 of the API (api/v1-*.c): its route tables, and what its
 * files share. */
#pragma once
#include <stdint.h>
#include <h2o.h>

#include "http.h"
#include "session.h"

extern const struct http_route v1_session_routes[]; /* v1-sessions.c: /v1/sessions…, exec */
extern const struct http_route v1_file_routes[];    /* v1-files.c: /v1/sessions/{id}/files/… */
extern const struct http_route v1_run_routes[];     /* v1-run.c: /v1/run */
extern const struct http_route v1_process_routes[]; /* v1-processes.c: /v1/sessions/{id}/processes… */
extern const struct http_route v1_artifact_routes[]; /* v1-artifacts.c: /v1/sessions/{id}/artifacts */
extern const struct http_route v1_artifact_download_routes[]; /* v1-artifacts.c: GET /v1/artifacts/… (presigned) */

/* v1-artifacts.c: the strings of a JSON array of paths to collect
 * (borrowed from v; the array is the caller's to free): 400 naming key. */
int v1_collect_paths(json_t *v, const char *key, const char ***out, size_t *n, struct wd_error *err);

/* v1-files.c: answers 200 with a regular file streamed from fd (taken),
 * `size` bytes of it. */
int v1_send_file(h2o_req_t *req, int fd, uint64_t size, const char *content_type);

/* v1-sessions.c: the live session of {id} and the request's JSON body;
 * NULL after replying (404, 409 dead, 400 malformed). */
struct session *v1_live_session(h2o_req_t *req, const struct http_route_match *m, json_t **body);
/* v1-stream.c: runs er in s answering with text/event-stream. */
int v1_exec_stream(h2o_req_t *req, struct session *s, struct exec_request *er);
