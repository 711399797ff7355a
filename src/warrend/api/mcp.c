/* POST and DELETE /mcp: MCP's Streamable HTTP transport. One JSON-RPC
 * message per POST (batches left the protocol in 2025-06-18); requests
 * are answered with one application/json response, notifications and
 * responses with 202. GET (a stream of server messages) is not offered:
 * the router answers 405, which clients take as "none". */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "mcp.h"
#include "routes.h"

/* The revisions this server speaks, newest first: initialize answers a
 * client's own when it is one of these, else the newest. */
static const char *const protocols[] = { "2025-11-25", "2025-06-18", NULL };

/* The router's cap on a body: a write_file of a large file in base64.
 * The handler applies the configured limit (max_body) below it. */
#define MCP_ROUTE_MAX_BODY ((size_t)64 << 20)

static const char instructions[] =
	"Tools to run commands and code in isolated Linux sandboxes (no network) and to move files in and out "
	"of their /workspace directory. Without sandbox_id every tool acts in this conversation's own sandbox, "
	"created on first use and destroyed when the conversation's MCP session ends; files and installed "
	"packages stay there between calls. Use sandbox_create only for more sandboxes.";

/* ---- replies ------------------------------------------------------------ */

int mcp_reply_result(h2o_req_t *req, json_t *id, json_t *result)
{
	return http_reply_json(req, 200, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result", result));
}

int mcp_reply_error(h2o_req_t *req, int status, json_t *id, int code, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	return http_reply_json(req, status, json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
						      id ? id : json_null(), "error", "code", code, "message", message));
}

static int reply_accepted(h2o_req_t *req)
{
	req->res.status = 202;
	req->res.reason = http_reason(202);
	req->res.content_length = 0;
	h2o_send_inline(req, "", 0);
	return 0;
}

/* ---- headers -------------------------------------------------------------- */

static h2o_iovec_t header(h2o_req_t *req, const char *name)
{
	ssize_t at = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);
	return at >= 0 ? req->headers.entries[at].value : h2o_iovec_init(NULL, 0);
}

static bool contains(h2o_iovec_t v, const char *word)
{
	size_t n = strlen(word);
	for (size_t i = 0; i + n <= v.len; i++)
		if (!strncasecmp(v.base + i, word, n))
			return true;
	return false;
}

/* Content-Type: application/json, parameters aside. Required of every
 * POST, token or not: the endpoint takes nothing a web form could send. */
static bool json_content_type(h2o_req_t *req)
{
	ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
	if (at < 0)
		return false;
	h2o_iovec_t v = req->headers.entries[at].value;
	size_t n = strlen("application/json");
	return v.len >= n && !strncasecmp(v.base, "application/json", n) &&
	       (v.len == n || v.base[n] == ';' || v.base[n] == ' ');
}

static const char *supported_protocol(h2o_iovec_t v)
{
	for (const char *const *p = protocols; *p; p++)
		if (v.len == strlen(*p) && !memcmp(v.base, *p, v.len))
			return *p;
	return NULL;
}

const char *mcp_protocol_supported(const char *revision)
{
	return supported_protocol(h2o_iovec_init(revision, strlen(revision)));
}

/* The request's MCP session, or NULL after replying: 400 without the
 * header, 404 for one that is unknown or ended (the client starts over
 * with initialize), 400 for a protocol version other than the one
 * negotiated. */
static struct mcp_session *request_session(h2o_req_t *req, const struct http_route_match *m, json_t *id)
{
	h2o_iovec_t sid = header(req, "mcp-session-id");
	if (!sid.base)
		return mcp_reply_error(req, 400, id, JSONRPC_SERVER_ERROR,
				       "Bad Request: no Mcp-Session-Id header: send initialize first, then the "
				       "session id it answered with on every request"), NULL;
	char id_text[65];
	snprintf(id_text, sizeof id_text, "%.*s", (int)(sid.len < 64 ? sid.len : 64), sid.base);
	struct mcp_session *ms = sid.len < 64 ? mcp_session_find(id_text, m->owner) : NULL;
	if (!ms)
		return mcp_reply_error(req, 404, id, -32001, "Session not found: MCP session \"%s\" is unknown, "
				       "ended or expired: initialize a new one", id_text), NULL;
	h2o_iovec_t version = header(req, "mcp-protocol-version");
	if (version.base && (!supported_protocol(version) || strcmp(supported_protocol(version), mcp_session_protocol(ms))))
		return mcp_reply_error(req, 400, id, JSONRPC_SERVER_ERROR,
				       "Bad Request: MCP-Protocol-Version \"%.*s\" is not the version this session "
				       "negotiated (%s)", (int)(version.len < 64 ? version.len : 64), version.base,
				       mcp_session_protocol(ms)), NULL;
	mcp_session_touch(ms);
	return ms;
}

/* ---- the methods ----------------------------------------------------------- */

static int initialize(h2o_req_t *req, const struct http_route_match *m, json_t *id, json_t *params)
{
	json_t *asked = json_object_get(params, "protocolVersion");
	if (!json_is_string(asked))
		return mcp_reply_error(req, 200, id, JSONRPC_INVALID_PARAMS,
				       "initialize: params.protocolVersion: expected a string");
	const char *protocol = supported_protocol(h2o_iovec_init(json_string_value(asked), json_string_length(asked)));
	struct wd_error err = { 0 };
	struct mcp_session *ms = mcp_session_new(m->owner, protocol ? protocol : protocols[0], &err);
	if (!ms)
		return mcp_reply_error(req, err.status, id, JSONRPC_SERVER_ERROR, "%s", err.cause.message);
	const char *sid = mcp_session_id(ms);
	h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("mcp-session-id"), 0, NULL, sid, strlen(sid));
	if (daemon_state->cfg.verbose)
		daemon_log("MCP session %s started (protocol %s)", sid, mcp_session_protocol(ms));
	return mcp_reply_result(req, id, json_pack("{s:s, s:{s:{s:b}}, s:{s:s, s:s, s:s}, s:s}",
						   "protocolVersion", mcp_session_protocol(ms),
						   "capabilities", "tools", "listChanged", 0,
						   "serverInfo", "name", "warrend", "title", "warren sandboxes",
						   "version", PACKAGE_VERSION, "instructions", instructions));
}

static int request(h2o_req_t *req, const struct http_route_match *m, const char *method, json_t *id, json_t *params)
{
	if (!strcmp(method, "initialize"))
		return initialize(req, m, id, params);
	/* The discovery of revisions after 2025-11-25: an error sends such
	 * clients back to initialize. */
	if (!strcmp(method, "server/discover"))
		return mcp_reply_error(req, 200, id, JSONRPC_METHOD_NOT_FOUND, "Method not found: server/discover "
				       "(this server speaks MCP %s and %s: send initialize)", protocols[0], protocols[1]);
	struct mcp_session *ms = request_session(req, m, id);
	if (!ms)
		return 0;
	if (!strcmp(method, "ping"))
		return mcp_reply_result(req, id, json_object());
	if (!strcmp(method, "tools/list"))
		return mcp_reply_result(req, id, json_pack("{s:O}", "tools", mcp_tools_list()));
	if (!strcmp(method, "tools/call"))
		return mcp_tools_call(req, ms, id, params);
	return mcp_reply_error(req, 200, id, JSONRPC_METHOD_NOT_FOUND,
			       "Method not found: %s (this server offers tools only)", method);
}

static int notification(h2o_req_t *req, const struct http_route_match *m, const char *method, json_t *params)
{
	struct mcp_session *ms = request_session(req, m, NULL);
	if (!ms)
		return 0;
	if (!strcmp(method, "notifications/cancelled")) {
		struct mcp_call *c = mcp_session_find_call(ms, json_object_get(params, "requestId"));
		if (c)
			mcp_call_cancel(c);
	}
	return reply_accepted(req);
}

/* ---- POST /mcp ---------------------------------------------------------------- */

/* Parses the body into one JSON-RPC message; NULL after replying. */
static json_t *parse_message(h2o_req_t *req)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	uint64_t limit = cfg->max_body > cfg->max_json_body ? cfg->max_body : cfg->max_json_body;
	if (req->entity.len > limit)
		return mcp_reply_error(req, 413, NULL, JSONRPC_INVALID_REQUEST, "the message (%zu bytes) exceeds "
				       "the limit of %llu bytes (max_body)", req->entity.len, (unsigned long long)limit), NULL;
	const char *nul = req->entity.base ? memchr(req->entity.base, '\0', req->entity.len) : NULL;
	if (nul)
		return mcp_reply_error(req, 400, NULL, JSONRPC_PARSE_ERROR, "Parse error: NUL byte at offset %zu",
				       (size_t)(nul - req->entity.base)), NULL;
	json_error_t error;
	json_t *msg = json_loadb(req->entity.base ? req->entity.base : "", req->entity.len,
				 JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
	if (!msg)
		return mcp_reply_error(req, 400, NULL, JSONRPC_PARSE_ERROR, "Parse error: %s at line %d column %d",
				       error.text, error.line, error.column), NULL;
	if (json_is_array(msg)) {
		json_decref(msg);
		return mcp_reply_error(req, 400, NULL, JSONRPC_INVALID_REQUEST, "Invalid Request: JSON-RPC batches "
				       "are not part of MCP since 2025-06-18: send one message per request"), NULL;
	}
	json_t *id = json_object_get(msg, "id");
	if (id && !json_is_string(id) && !json_is_integer(id))
		id = NULL;
	const char *why = !json_is_object(msg) ? "expected a JSON-RPC message (an object)"
		: !json_is_string(json_object_get(msg, "jsonrpc")) || strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0")
		? "\"jsonrpc\" must be \"2.0\""
		: json_object_get(msg, "id") && !id ? "\"id\" must be a string or an integer"
		: json_object_get(msg, "method") && !json_is_string(json_object_get(msg, "method")) ? "\"method\" must be a string"
		: json_object_get(msg, "params") && !json_is_object(json_object_get(msg, "params")) ? "\"params\" must be an object"
		: !json_object_get(msg, "method") && !(id && (json_object_get(msg, "result") || json_object_get(msg, "error")))
		? "expected a request, a notification or a response" : NULL;
	if (why) {
		mcp_reply_error(req, 400, id, JSONRPC_INVALID_REQUEST, "Invalid Request: %s", why);
		json_decref(msg);
		return NULL;
	}
	return msg;
}

static int post_mcp(h2o_req_t *req, const struct http_route_match *m)
{
	h2o_iovec_t accept = header(req, "accept");
	if (accept.base && !contains(accept, "application/json") && !contains(accept, "*/*") &&
	    !contains(accept, "application/*"))
		return mcp_reply_error(req, 406, NULL, JSONRPC_SERVER_ERROR, "Not Acceptable: the answers are "
				       "application/json: accept it (Accept: application/json, text/event-stream)");
	if (!json_content_type(req))
		return mcp_reply_error(req, 415, NULL, JSONRPC_SERVER_ERROR,
				       "Unsupported Media Type: send Content-Type: application/json");
	json_t *msg = parse_message(req);
	if (!msg)
		return 0;
	const char *method = json_string_value(json_object_get(msg, "method"));
	json_t *id = json_object_get(msg, "id"), *params = json_object_get(msg, "params");
	int rc;
	if (!method) /* a response: this server sends no requests to answer */
		rc = request_session(req, m, NULL) ? reply_accepted(req) : 0;
	else if (!id)
		rc = notification(req, m, method, params);
	else
		rc = request(req, m, method, id, params);
	json_decref(msg);
	return rc;
}

/* ---- DELETE /mcp ------------------------------------------------------------------ */

static int delete_mcp(h2o_req_t *req, const struct http_route_match *m)
{
	struct mcp_session *ms = request_session(req, m, NULL);
	if (!ms)
		return 0;
	if (daemon_state->cfg.verbose)
		daemon_log("MCP session %s ended by its client", mcp_session_id(ms));
	mcp_session_end(ms);
	req->res.status = 204;
	req->res.reason = http_reason(204);
	h2o_send_inline(req, "", 0);
	return 0;
}

const struct http_route mcp_routes[] = {
	{ "POST", "/mcp", post_mcp, MCP_ROUTE_MAX_BODY },
	{ "DELETE", "/mcp", delete_mcp, 0 },
	{ NULL, NULL, NULL, 0 },
};
