/* E2B's API on its own listener (e2b_listen), so that E2B's SDKs drive
 * warren unchanged: its control plane (REST, JSON: sandboxes), its
 * in-sandbox daemon envd (the Connect protocol, JSON codec: processes and
 * the filesystem, and plain /files and /health) and its code interpreter
 * (/execute, /contexts). An E2B sandbox is a warren session; each request
 * is parsed into core calls (sessions, processes, sandbox files) and their
 * results rendered in E2B's shapes. Between its files:
 *   e2b.c            the listener's one handler: routing (by the
 *                    E2b-Sandbox-Port header), credentials, error replies
 *   e2b-sandboxes.c  E2B's record of each sandbox (template, metadata,
 *                    access token), looked up by id, owner or token
 *   e2b-control.c    POST/GET/DELETE /sandboxes…, timeouts, listing
 *   e2b-connect.c    Connect calls: the request read, unary and streamed
 *                    replies, keep-alives
 *   e2b-proto.c      proto3-JSON messages of envd's services, in and out
 *   e2b-process.c    process.Process
 *   e2b-fs.c         filesystem.Filesystem, its watchers
 *   e2b-files.c      GET/POST /files, /health
 *   e2b-interp.c     the code interpreter: contexts are processes running
 *                    a driver shipped with warren (e2b-driver.py/.js) */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <h2o.h>
#include <jansson.h>

#include "http.h"
#include "list.h"
#include "process.h"
#include "sandbox-files.h"
#include "session.h"
#include "sse.h"

/* The envd version advertised: the SDKs switch features on it. 0.5.7 is
 * the newest whose features warren has all of (stdin on/off, closeStdin,
 * raw uploads, no user needed); 0.6.2 would add file metadata headers,
 * which warren does not keep. */
#define E2B_ENVD_VERSION "0.5.7"
#define E2B_ENVD_PORT 49983
#define E2B_INTERP_PORT 49999
#define E2B_TOKEN_LEN 64          /* envdAccessToken: 32 random bytes in hex */
#define E2B_NOTE "e2b"            /* its note on each of its sessions (session_set_note) */
#define E2B_DEFAULT_TIMEOUT_S 300 /* a sandbox's lifetime when create names none (E2B's too) */

/* ---- the listener (e2b.c) ---------------------------------------------------- */

/* Registers the front end with the HTTP server and the token check with
 * the gate; at start-up, when e2b_listen is set. */
void e2b_init(void);

/* What a handler of an in-sandbox route gets. */
struct e2b_call {
	h2o_req_t *req;
	struct e2b_sandbox *sb;
	struct session *s;
	const char *owner;
	const char *request_id;
	const char *rest;           /* what the route's trailing "*" matched */
	size_t rest_len;
};

/* Control-plane errors: {"code": 404, "message": …} with that status. */
int e2b_reply_error(h2o_req_t *req, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int e2b_reply_wd_error(h2o_req_t *req, const struct wd_error *e);
int e2b_reply_empty(h2o_req_t *req, int status);
/* The body as a JSON object ({} when empty); -1 after replying 400. */
int e2b_body_json(h2o_req_t *req, json_t **out);
/* A header's value (base NULL when absent). */
h2o_iovec_t e2b_header(h2o_req_t *req, const char *name);
/* A query parameter, percent-decoded into the request's pool (NULL when
 * absent). */
const char *e2b_query(h2o_req_t *req, const char *name, size_t *len);
/* "2026-12-01T10:00:00Z" */
void e2b_time(time_t t, char out[32]);

/* ---- sandboxes (e2b-sandboxes.c) ----------------------------------------------- */

struct e2b_sandbox {
	char id[33];                /* the session's */
	char owner[65];
	char template_id[65];
	char token[E2B_TOKEN_LEN + 1];
	json_t *metadata;           /* {string: string} */
	time_t started;
	struct list link;
	struct list contexts;       /* the code interpreter's (e2b-interp.c) */
	struct list watchers;       /* CreateWatcher's (e2b-fs.c) */
	unsigned n_watchers;
};

/* A new record for session s (metadata stolen); NULL when out of memory. */
struct e2b_sandbox *e2b_sandbox_new(struct session *s, const char *owner, const char *template_id, json_t *metadata);
/* owner's sandbox `id` with its live session, or NULL (its record goes
 * when its session has ended). */
struct e2b_sandbox *e2b_sandbox_find(const char *id, const char *owner, struct session **s);
/* The live record `id`, whoever owns it (check its token or owner). */
struct e2b_sandbox *e2b_sandbox_by_id(const char *id);
/* The sandbox whose token is `token` (compared in constant time), or NULL. */
struct e2b_sandbox *e2b_sandbox_by_token(const char *token, size_t len);
/* Whether `token` is sb's (constant time). */
bool e2b_sandbox_token_is(const struct e2b_sandbox *sb, const char *token, size_t len);
/* Every live sandbox of owner, oldest first. */
void e2b_sandboxes_foreach(const char *owner, void (*fn)(struct e2b_sandbox *sb, struct session *s, void *data),
			   void *data);
/* Drops the records whose sessions ended (from the tick). */
void e2b_sandboxes_sweep(void);
/* After the session core took back what a previous warrend left: the
 * records of its E2B sandboxes, from their sessions' notes. */
void e2b_sandboxes_restore(void);
/* The gate's check: a live sandbox's token. */
bool e2b_sandbox_token_valid(const char *token, size_t len);

/* ---- the control plane (e2b-control.c) -------------------------------------------- */

int e2b_control(h2o_req_t *req, const char *owner, const char *request_id, const char *path, size_t len);

/* ---- Connect calls (e2b-connect.c) ------------------------------------------------- */

/* The request's one message: a unary call's JSON body, or a streamed
 * call's one envelope. NULL after replying with the error. */
json_t *connect_request(h2o_req_t *req, bool streamed);
/* Unary replies: 200 with the message (stolen), or the error. */
int connect_reply(h2o_req_t *req, json_t *msg);
int connect_reply_error(h2o_req_t *req, const char *code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int connect_reply_wd_error(h2o_req_t *req, const struct wd_error *e);
/* The Connect code of a core error ("not_found", "already_exists", …). */
const char *connect_code_of(const struct wd_error *e);

/* A streamed reply: an sse_stream carrying envelopes. */
struct connect_stream {
	struct sse_stream st;       /* first */
	char *keepalive;            /* the message sent when nothing else was (in the pool) */
	size_t keepalive_len;
	bool ended;
};
/* A zeroed object of `size` bytes beginning with a struct connect_stream,
 * in the request's pool; keepalive (stolen) goes every
 * Keepalive-Ping-Interval seconds the client asked for (at most 5). */
void *connect_stream_new(h2o_req_t *req, size_t size, json_t *keepalive);
void connect_stream_start(struct connect_stream *cs);
void connect_stream_send(struct connect_stream *cs, json_t *msg /* stolen */);
/* The end-of-stream envelope: {} or {"error": {code, message}}; the
 * stream ends once it has gone. */
void connect_stream_end(struct connect_stream *cs, const char *code, const char *message);
/* Connect-Timeout-Ms in ms (0 when absent); -1 when malformed. */
int64_t connect_timeout_ms(h2o_req_t *req);

/* ---- envd's services ---------------------------------------------------------------- */

int e2b_process_call(struct e2b_call *c, const char *method);
int e2b_fs_call(struct e2b_call *c, const char *method);
int e2b_files_get(struct e2b_call *c);
int e2b_files_post(struct e2b_call *c);
/* CreateWatcher's watchers of sb go (its record goes). */
void e2b_fs_release(struct e2b_sandbox *sb);

/* The user a request asks to act as (Authorization: Basic, or
 * ?username=): none, "user" or the sandbox's own are the sandbox user;
 * "root" and the rest are refused (0, or -1 with a message). */
int e2b_check_user(const char *name, size_t len, char *msg, size_t msglen);
int e2b_check_basic_user(h2o_req_t *req, char *msg, size_t msglen);

/* ---- the code interpreter (e2b-interp.c) ------------------------------------------- */

int e2b_interp_call(struct e2b_call *c);
void e2b_interp_release(struct e2b_sandbox *sb);
/* Runs past the session's command timeout are interrupted (each second). */
void e2b_interp_tick(uint64_t now_ms);
