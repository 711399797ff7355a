/* One tools/call: the tool table (definitions in mcp-tools.json, compiled
 * in, and a function each), the arguments checked against the tool's
 * inputSchema, the sandbox it acts in, and its one reply. A call lives
 * from the request to that reply; a client that leaves cancels what is
 * in flight (a bound exec is killed). Failures while the tool runs are
 * results with isError, so the model reads them; only a call that names
 * no known tool is a JSON-RPC error. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "encode.h"
#include "mcp.h"

extern const char warrend_mcp_tools_json[]; /* mcp-tools.json, generated */

struct mcp_tool {
	const char *name;
	bool in_sandbox;     /* takes sandbox_id, or the MCP session's own sandbox */
	void (*run)(struct mcp_call *c, struct session *s);
	const json_t *input_schema;
};

static struct mcp_tool tools[] = {
	{ "sandbox_create", false, mcp_tool_sandbox_create, NULL },
	{ "sandbox_list", false, mcp_tool_sandbox_list, NULL },
	{ "sandbox_kill", false, mcp_tool_sandbox_kill, NULL },
	{ "sandbox_set_timeout", false, mcp_tool_sandbox_set_timeout, NULL },
	{ "run_command", true, mcp_tool_run_command, NULL },
	{ "run_code", true, mcp_tool_run_code, NULL },
	{ "read_file", true, mcp_tool_read_file, NULL },
	{ "write_file", true, mcp_tool_write_file, NULL },
	{ "list_dir", true, mcp_tool_list_dir, NULL },
	{ "make_dir", true, mcp_tool_make_dir, NULL },
	{ "remove", true, mcp_tool_remove, NULL },
};
#define N_TOOLS (sizeof tools / sizeof tools[0])

static json_t *definitions;

/* The definitions, parsed once and matched with the table: the two are
 * written apart, and a tool in one and not the other is a bug to stop
 * at once, not a tool that fails when first called. */
json_t *mcp_tools_list(void)
{
	if (definitions)
		return definitions;
	json_error_t error;
	definitions = json_loads(warrend_mcp_tools_json, 0, &error);
	if (!json_is_array(definitions) || json_array_size(definitions) != N_TOOLS) {
		daemon_log("mcp-tools.json: %s (line %d): not the %zu tools of mcp-call.c", error.text, error.line, N_TOOLS);
		abort();
	}
	size_t i;
	json_t *def;
	json_array_foreach(definitions, i, def) {
		const char *name = json_string_value(json_object_get(def, "name"));
		size_t k = 0;
		while (k < N_TOOLS && (!name || strcmp(tools[k].name, name)))
			k++;
		if (k == N_TOOLS || !json_is_object(json_object_get(def, "inputSchema"))) {
			daemon_log("mcp-tools.json: tool %s has no function in mcp-call.c or no inputSchema", name);
			abort();
		}
		tools[k].input_schema = json_object_get(def, "inputSchema");
	}
	return definitions;
}

/* ---- helpers for the tools ------------------------------------------------- */

const char *mcp_arg_string(const struct mcp_call *c, const char *name)
{
	return json_string_value(json_object_get(c->args, name));
}

bool mcp_arg_env(const struct mcp_call *c, const char *name, char ***out)
{
	json_t *obj = json_object_get(c->args, name), *value;
	const char *key;
	size_t i = 0;
	*out = NULL;
	if (!obj)
		return true;
	_cleanup_strv_ char **env = calloc(json_object_size(obj) + 1, sizeof *env);
	if (!env)
		return false;
	json_object_foreach(obj, key, value) {
		if (asprintf(&env[i], "%s=%s", key, json_string_value(value)) < 0) {
			env[i] = NULL;
			return false;
		}
		i++;
	}
	*out = TAKE_PTR(env);
	return true;
}

void mcp_iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *mcp_workspace_path(const char *rel)
{
	char path[FILES_PATH_MAX + 16];
	snprintf(path, sizeof path, "/workspace%s%s", rel[0] ? "/" : "", rel);
	size_t len;
	_cleanup_free_ char *text = utf8_lossy(path, strlen(path), &len);
	return text ? json_stringn(text, len) : NULL;
}

static bool holds_nul(const json_t *v)
{
	return json_is_string(v) && strlen(json_string_value(v)) != json_string_length(v);
}

/* Names an argument the schema allows but the core would choke on: a
 * string holding NUL (but a file's content), a variable name that is
 * empty or holds '=' (env). */
static const char *bad_string(const struct mcp_call *c)
{
	const char *key, *name;
	json_t *value, *v;
	json_object_foreach(c->args, key, value) {
		if (holds_nul(value) && strcmp(key, "content"))
			return key;
		if (json_is_object(value))
			json_object_foreach(value, name, v)
				if (!name[0] || strchr(name, '=') || holds_nul(v))
					return key;
	}
	return NULL;
}

/* ---- the call's life ---------------------------------------------------------- */

static void call_free(struct mcp_call *c)
{
	mcp_session_remove_call(c);
	json_decref(c->id);
	json_decref(c->args);
	free(c);
}

/* Stops what is in flight: nothing of it will call back. */
static void call_abort(struct mcp_call *c)
{
	if (c->create)
		session_create_cancel(c->create);
	if (c->ws)
		workspace_cancel(c->ws);
	if (c->x)
		exec_unobserve(c->x, &c->obs); /* bound: the command is killed */
	c->create = NULL;
	c->ws = NULL;
	c->x = NULL;
}

static void call_gone(void *data)
{
	struct mcp_call *c = data;
	call_abort(c);
	call_free(c);
}

/* The request, and no more interest in its going. */
static h2o_req_t *call_take_req(struct mcp_call *c)
{
	h2o_req_t *req = c->pending->req;
	c->pending->on_gone = NULL;
	c->pending = NULL;
	return req;
}

static json_t *text_content(const char *text, size_t len)
{
	size_t n;
	_cleanup_free_ char *clean = utf8_lossy(text, len, &n);
	return clean ? json_pack("[{s:s, s:s%}]", "type", "text", "text", clean, n) : NULL;
}

void mcp_call_result(struct mcp_call *c, json_t *structured, const char *text, size_t len)
{
	h2o_req_t *req = call_take_req(c);
	LOG_CTX_SCOPE(c->request_id, NULL);
	mcp_reply_result(req, c->id, json_pack("{s:o, s:o, s:b}", "content", text_content(text, len),
					       "structuredContent", structured, "isError", 0));
	call_free(c);
}

void mcp_call_fail(struct mcp_call *c, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	h2o_req_t *req = call_take_req(c);
	LOG_CTX_SCOPE(c->request_id, NULL);
	mcp_reply_result(req, c->id, json_pack("{s:o, s:b}", "content", text_content(message, strlen(message)),
					       "isError", 1));
	call_free(c);
}

void mcp_call_fail_wd(struct mcp_call *c, const char *prefix, const struct wd_error *err)
{
	mcp_call_fail(c, "%s%s", prefix ? prefix : "", err->cause.message);
}

void mcp_call_cancel(struct mcp_call *c)
{
	call_abort(c);
	h2o_req_t *req = call_take_req(c);
	mcp_reply_error(req, 200, c->id, JSONRPC_REQUEST_CANCELLED, "Request cancelled by the client");
	call_free(c);
}

void mcp_call_in_sandbox(struct mcp_call *c, struct session *s)
{
	struct wd_error err = { 0 };
	if (session_check_alive(s, &err) < 0) {
		mcp_call_fail(c, "sandbox %s is dead (%s): kill it with sandbox_kill%s", session_id(s),
			      err.cause.message, mcp_arg_string(c, "sandbox_id") ? "" : "; the next call creates a new one");
		return;
	}
	http_set_session(c->pending->req, session_id(s));
	session_touch(s);
	c->tool->run(c, s);
}

int mcp_tools_call(h2o_req_t *req, struct mcp_session *ms, json_t *id, json_t *params)
{
	json_t *name = json_object_get(params, "name"), *args = json_object_get(params, "arguments");
	if (!json_is_string(name))
		return mcp_reply_error(req, 200, id, JSONRPC_INVALID_PARAMS, "tools/call: params.name: expected a string");
	if (args && !json_is_object(args))
		return mcp_reply_error(req, 200, id, JSONRPC_INVALID_PARAMS,
				       "tools/call: params.arguments: expected an object");
	mcp_tools_list();
	const struct mcp_tool *tool = NULL;
	for (size_t i = 0; i < N_TOOLS && !tool; i++)
		if (!strcmp(tools[i].name, json_string_value(name)))
			tool = &tools[i];
	if (!tool)
		return mcp_reply_error(req, 200, id, JSONRPC_INVALID_PARAMS, "Unknown tool: %s (tools/list names them)",
				       json_string_value(name));
	struct mcp_call *c = calloc(1, sizeof *c);
	if (!c)
		return mcp_reply_error(req, 503, id, JSONRPC_SERVER_ERROR, "out of memory");
	c->id = json_incref(id);
	c->args = args ? json_incref(args) : json_object();
	c->tool = tool;
	snprintf(c->owner, sizeof c->owner, "%s", http_ctx(req)->owner);
	snprintf(c->request_id, sizeof c->request_id, "%s", http_ctx(req)->request_id);
	c->pending = http_pending_new(req, call_gone, c);
	mcp_session_add_call(ms, c);

	char why[512];
	const char *bad;
	if (mcp_schema_check(tool->input_schema, c->args, NULL, why, sizeof why) < 0)
		mcp_call_fail(c, "%s: invalid arguments: %s", tool->name, why);
	else if ((bad = bad_string(c)))
		mcp_call_fail(c, "%s: invalid arguments: %s: no NUL bytes, and variable names without '='", tool->name,
			      bad);
	else if (!tool->in_sandbox)
		tool->run(c, NULL);
	else if (mcp_arg_string(c, "sandbox_id")) {
		struct session *s = session_find(mcp_arg_string(c, "sandbox_id"), c->owner);
		if (s)
			mcp_call_in_sandbox(c, s);
		else
			mcp_call_fail(c, "no sandbox \"%s\": sandbox_list names yours (omit sandbox_id to use this "
				      "session's own)", mcp_arg_string(c, "sandbox_id"));
	} else {
		mcp_session_with_sandbox(ms, c);
	}
	return 0;
}
