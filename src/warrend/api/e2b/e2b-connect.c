#include "config.h"

/* Connect calls on h2o (e2b.h): reading a call's one request message,
 * unary replies, and streamed replies as envelopes on an sse_stream
 * (connect.h has the wire format). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connect.h"
#include "e2b.h"

#define KEEPALIVE_MAX_MS 5000

static bool content_type_is(h2o_req_t *req, const char *want)
{
	ssize_t at = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
	if (at < 0)
		return false;
	h2o_iovec_t v = req->headers.entries[at].value;
	size_t n = strlen(want);
	return v.len >= n && !strncasecmp(v.base, want, n) && (v.len == n || v.base[n] == ';' || v.base[n] == ' ');
}

static json_t *parse_json(h2o_req_t *req, const void *data, size_t len, bool streamed)
{
	if (len == 0)
		return json_object();
	if (memchr(data, '\0', len)) {
		connect_reply_error(req, "invalid_argument", "malformed JSON: a NUL byte");
		return NULL;
	}
	json_error_t error;
	json_t *msg = json_loadb(data, len, JSON_REJECT_DUPLICATES, &error);
	if (!msg || !json_is_object(msg)) {
		json_decref(msg);
		connect_reply_error(req, "invalid_argument", "malformed JSON message: %s",
				    msg ? "expected an object" : error.text);
		return NULL;
	}
	return msg;
}

json_t *connect_request(h2o_req_t *req, bool streamed)
{
	if (!streamed) {
		if (!content_type_is(req, "application/json"))
			return connect_reply_error(req, "unimplemented", "send Content-Type: application/json (the "
						   "Connect protocol's JSON codec; the binary one is not offered)"), NULL;
		return parse_json(req, req->entity.base, req->entity.len, false);
	}
	if (!content_type_is(req, "application/connect+json"))
		return connect_reply_error(req, "unimplemented", "a streamed call takes Content-Type: "
					   "application/connect+json"), NULL;
	struct connect_envelope env;
	ssize_t n = connect_envelope_read(req->entity.base, req->entity.len, req->entity.len, &env);
	if (n < 0)
		return connect_reply_error(req, "invalid_argument", "the request envelope is %s", n == -EPROTO ?
					   "compressed or flagged (neither was negotiated)" : "too large"), NULL;
	if (n == 0 || (size_t)n != req->entity.len)
		return connect_reply_error(req, "invalid_argument", "expected exactly one request envelope "
					   "(flags, 4-byte length, JSON)"), NULL;
	return parse_json(req, env.data, env.len, true);
}

/* ---- unary replies --------------------------------------------------------------------- */

int connect_reply(h2o_req_t *req, json_t *msg)
{
	if (!msg)
		return connect_reply_error(req, "resource_exhausted", "out of memory");
	return http_reply_json(req, 200, msg);
}

int connect_reply_error(h2o_req_t *req, const char *code, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	return http_reply_json(req, connect_code_status(code), json_pack("{s:s, s:s}", "code", code, "message", message));
}

const char *connect_code_of(const struct wd_error *e)
{
	if (e->code && !strcmp(e->code, "already_exists"))
		return "already_exists";
	return connect_code_of_status(e->status ? e->status : 500);
}

int connect_reply_wd_error(h2o_req_t *req, const struct wd_error *e)
{
	return connect_reply_error(req, connect_code_of(e), "%s", e->cause.message);
}

/* ---- streamed replies --------------------------------------------------------------- */

static void write_envelope(struct connect_stream *cs, uint8_t flags, const char *text, size_t len)
{
	uint8_t head[CONNECT_ENVELOPE_HEADER];
	connect_envelope_header(flags, (uint32_t)len, head);
	sse_write(&cs->st, head, sizeof head);
	sse_write(&cs->st, text, len);
}

static void send_envelope(struct connect_stream *cs, uint8_t flags, json_t *msg)
{
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (text)
		write_envelope(cs, flags, text, strlen(text));
	free(text);
}

static void keepalive(struct sse_stream *st)
{
	struct connect_stream *cs = (struct connect_stream *)st;
	if (!cs->ended && cs->keepalive)
		write_envelope(cs, 0, cs->keepalive, cs->keepalive_len);
}

/* Keepalive-Ping-Interval: seconds (the SDKs send 50); at most
 * KEEPALIVE_MAX_MS, so a client that left is noticed soon (h2o learns
 * of it when it writes). */
static uint64_t keepalive_ms(h2o_req_t *req)
{
	h2o_iovec_t v = e2b_header(req, "keepalive-ping-interval");
	char text[16];
	if (!v.base || v.len >= sizeof text)
		return KEEPALIVE_MAX_MS;
	memcpy(text, v.base, v.len);
	text[v.len] = '\0';
	char *end;
	unsigned long s = strtoul(text, &end, 10);
	return *end || s == 0 || s * 1000 > KEEPALIVE_MAX_MS ? KEEPALIVE_MAX_MS : s * 1000;
}

void *connect_stream_new(h2o_req_t *req, size_t size, json_t *keepalive_msg)
{
	struct connect_stream *cs = sse_new(req, size);
	char *text = keepalive_msg ? json_dumps(keepalive_msg, JSON_COMPACT) : NULL;
	json_decref(keepalive_msg);
	if (text) {
		cs->keepalive_len = strlen(text);
		cs->keepalive = h2o_mem_alloc_pool(&req->pool, cs->keepalive_len + 1);
		memcpy(cs->keepalive, text, cs->keepalive_len + 1);
		free(text);
	}
	cs->st.heartbeat = keepalive;
	cs->st.heartbeat_ms = keepalive_ms(req);
	return cs;
}

void connect_stream_start(struct connect_stream *cs)
{
	sse_start_as(&cs->st, "application/connect+json");
}

void connect_stream_send(struct connect_stream *cs, json_t *msg)
{
	if (cs->ended) {
		json_decref(msg);
		return;
	}
	send_envelope(cs, 0, msg);
}

void connect_stream_end(struct connect_stream *cs, const char *code, const char *message)
{
	if (cs->ended)
		return;
	cs->ended = true;
	json_t *end = code ? json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message ? message : "")
			   : json_object();
	send_envelope(cs, CONNECT_FLAG_END_STREAM, end);
	sse_finish(&cs->st);
}

int64_t connect_timeout_ms(h2o_req_t *req)
{
	h2o_iovec_t v = e2b_header(req, "connect-timeout-ms");
	char text[16];
	if (!v.base)
		return 0;
	if (v.len == 0 || v.len > 10)
		return -1;
	memcpy(text, v.base, v.len);
	text[v.len] = '\0';
	char *end;
	unsigned long long ms = strtoull(text, &end, 10);
	return *end || text[0] < '0' || text[0] > '9' ? -1 : (int64_t)ms;
}
