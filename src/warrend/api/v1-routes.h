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

/* v1-sessions.c: the live session of {id} and the request's JSON body;
 * NULL after replying (404, 409 dead, 400 malformed). */
struct session *v1_live_session(h2o_req_t *req, const struct http_route_match *m, json_t **body);
/* v1-stream.c: runs er in s answering with text/event-stream. */
int v1_exec_stream(h2o_req_t *req, struct session *s, struct exec_request *er);
