/* MCP, the Model Context Protocol, over its Streamable HTTP transport
 * (revisions 2025-06-18 and 2025-11-25): POST and DELETE /mcp, JSON-RPC
 * in, JSON out. A front end like the others: each tool call is parsed
 * into core calls (sessions, execs, the workspace) and its result
 * rendered as a tool result. Between its files:
 *   mcp.c          the endpoint: headers, JSON-RPC, the methods
 *   mcp-session.c  MCP sessions: ids, owners, expiry, each one's own sandbox
 *   mcp-call.c     one tools/call: the tool table, its sandbox, its reply
 *   mcp-schema.c   arguments checked against the tools' inputSchema
 *   mcp-sandbox.c  sandbox_create, _list, _kill, _set_timeout
 *   mcp-run.c      run_command, run_code
 *   mcp-files.c    read_file, write_file, list_dir, make_dir, remove */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <h2o.h>
#include <jansson.h>

#include "http.h"
#include "list.h"
#include "session.h"
#include "workspace.h"

/* Output kept of one command, and the largest file read_file returns: a
 * tool result carries them twice (structured and as text), and an agent
 * reads them whole. */
#define MCP_OUTPUT_MAX ((uint64_t)1 << 20)
#define MCP_READ_MAX ((uint64_t)2 << 20)
#define MCP_NOTE "mcp" /* on an MCP session's own sandbox (session_set_note) */

/* ---- JSON-RPC replies (mcp.c) ------------------------------------------- */

int mcp_reply_result(h2o_req_t *req, json_t *id, json_t *result /* stolen */);
int mcp_reply_error(h2o_req_t *req, int status, json_t *id, int code, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
#define JSONRPC_PARSE_ERROR -32700
#define JSONRPC_INVALID_REQUEST -32600
#define JSONRPC_METHOD_NOT_FOUND -32601
#define JSONRPC_INVALID_PARAMS -32602
#define JSONRPC_SERVER_ERROR -32000
#define JSONRPC_REQUEST_CANCELLED -32800

/* ---- MCP sessions (mcp-session.c) ---------------------------------------- */

struct mcp_session;
struct mcp_call;

/* A new session of owner speaking `protocol`; NULL with err set (429 past
 * max_mcp_sessions_per_token). */
struct mcp_session *mcp_session_new(const char *owner, const char *protocol, struct wd_error *err);
/* After the session core took back what a previous warrend left: the MCP
 * sessions that had their own sandbox, from its note (the others are
 * lost: their clients get 404 and initialize again). */
void mcp_sessions_restore(void);
/* The static string of a protocol revision this server speaks, or NULL. */
const char *mcp_protocol_supported(const char *revision);
/* owner's live session `id`; NULL when unknown, expired, ended or another's. */
struct mcp_session *mcp_session_find(const char *id, const char *owner);
/* Ends it: its calls waiting for its sandbox fail, its sandbox goes. */
void mcp_session_end(struct mcp_session *ms);
void mcp_session_touch(struct mcp_session *ms);
const char *mcp_session_id(const struct mcp_session *ms);
const char *mcp_session_protocol(const struct mcp_session *ms);
/* The id of its own sandbox ("" before the first use). */
const char *mcp_session_sandbox(const struct mcp_session *ms);
/* Calls in flight: they keep the session from expiring; ending it
 * detaches them (c->ms = NULL). */
void mcp_session_add_call(struct mcp_session *ms, struct mcp_call *c);
void mcp_session_remove_call(struct mcp_call *c);
/* The call in flight with JSON-RPC id `id` (notifications/cancelled). */
struct mcp_call *mcp_session_find_call(struct mcp_session *ms, const json_t *id);
/* Runs c in the session's own sandbox, creating it first when it has
 * none (or the one it had ended): mcp_call_in_sandbox or a failure. */
void mcp_session_with_sandbox(struct mcp_session *ms, struct mcp_call *c);

/* ---- one tools/call (mcp-call.c) ------------------------------------------ */

struct mcp_tool;

struct mcp_call {
	struct http_pending *pending;   /* the request; NULL once replied */
	json_t *id, *args;              /* owned */
	const struct mcp_tool *tool;
	char owner[65];
	char request_id[REQUEST_ID_MAX + 1];
	struct mcp_session *ms;         /* NULL once the MCP session ended */
	struct list link;               /* in ms's calls */
	bool awaits_sandbox;            /* the session's own, being created */
	/* what is in flight, cancelled when the client leaves */
	struct session_wait *create;
	struct workspace_wait *ws;
	struct exec *x;
	struct exec_observer obs;
	/* the tool's own state */
	enum workspace_op op;
	int language;
	char mark[64];
	bool want_base64, want_utf8;
};

/* tools/list's answer (the tools' definitions, compiled in). */
json_t *mcp_tools_list(void);
/* tools/call {name, arguments} for session ms: replies now or later. */
int mcp_tools_call(h2o_req_t *req, struct mcp_session *ms, json_t *id, json_t *params);
/* Called with the sandbox the call acts in. */
void mcp_call_in_sandbox(struct mcp_call *c, struct session *s);
/* The call's results, each ending it: structured content (stolen) and
 * its text rendering; or a failure (isError) with a message. */
void mcp_call_result(struct mcp_call *c, json_t *structured, const char *text, size_t len);
void mcp_call_fail(struct mcp_call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mcp_call_fail_wd(struct mcp_call *c, const char *prefix, const struct wd_error *err);
/* Stops what is in flight and replies JSON-RPC "cancelled". */
void mcp_call_cancel(struct mcp_call *c);
/* The string argument `name` (NULL when absent: the schema checked types). */
const char *mcp_arg_string(const struct mcp_call *c, const char *name);
/* "KEY=VALUE" list of an {"KEY": "VALUE"} argument (NULL when absent);
 * false when out of memory. */
bool mcp_arg_env(const struct mcp_call *c, const char *name, char ***out);
/* "2026-12-01T10:00:00Z" */
void mcp_iso_time(time_t t, char *buf, size_t len);
/* "/workspace" or "/workspace/rel" */
json_t *mcp_workspace_path(const char *rel);

/* ---- the tools' argument checks (mcp-schema.c) -------------------------------
 * The subset of JSON Schema the definitions use: type, properties,
 * required, additionalProperties, enum, minimum, items. 0, or -1 with a
 * message naming the argument ("timeout_s: expected an integer"). */
int mcp_schema_check(const json_t *schema, const json_t *value, const char *where, char *msg, size_t len);

/* ---- the tools (mcp-sandbox.c, mcp-run.c, mcp-files.c) --------------------------
 * Each starts with its arguments checked; those that act in a sandbox get
 * it (s), the others NULL. Each ends the call, now or later. */
void mcp_tool_sandbox_create(struct mcp_call *c, struct session *s);
void mcp_tool_sandbox_list(struct mcp_call *c, struct session *s);
void mcp_tool_sandbox_kill(struct mcp_call *c, struct session *s);
void mcp_tool_sandbox_set_timeout(struct mcp_call *c, struct session *s);
void mcp_tool_run_command(struct mcp_call *c, struct session *s);
void mcp_tool_run_code(struct mcp_call *c, struct session *s);
void mcp_tool_read_file(struct mcp_call *c, struct session *s);
void mcp_tool_write_file(struct mcp_call *c, struct session *s);
void mcp_tool_list_dir(struct mcp_call *c, struct session *s);
void mcp_tool_make_dir(struct mcp_call *c, struct session *s);
void mcp_tool_remove(struct mcp_call *c, struct session *s);
