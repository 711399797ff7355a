#include "config.h"

/* The gate in front of h2o on listeners that want a token. h2o 2.2 reads a
 * request's whole body (into memory, then temporary files) before any
 * handler runs, so a handler's 401 comes too late: the gate reads a new
 * connection's first request head itself, into a buffer of at most
 * auth_head_max bytes, and hands the connection (with those bytes) to h2o
 * only when that request carries a valid token. Anything else is answered
 * here and the connection closed after its body is read and dropped.
 *
 * Bounded: at most auth_pending_max connections are in the gate (the
 * oldest is closed to make room), each holding one head buffer, and each
 * must complete its head within auth_timeout. Nothing here blocks: every
 * read is non-blocking on the event loop. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <jansson.h>

#include "artifacts.h"
#include "auth-head.h"
#include "cleanup.h"
#include "daemon-config.h"
#include "http-internal.h"
#include "metrics.h"
#include "daemon.h"
#include "http.h"

struct gate_conn {
	h2o_socket_t *sock;
	h2o_linklist_t link;         /* in `gated`, oldest first */
	h2o_timeout_entry_t timeout;
	uint8_t *head;               /* auth_head_max bytes while reading the head */
	size_t len;
	bool lingering;              /* answered: reading and dropping until the client closes */
	bool closing;                /* the client is done: close once the answer is out */
	enum http_listener_kind kind; /* whose credentials its first request must carry */
	uint64_t dropped;
	char *reply;                 /* being written */
};

static const struct daemon_config *cfg;
static h2o_evloop_t *gate_loop;
static h2o_timeout_t gate_timeout;
static h2o_linklist_t gated = { &gated, &gated };
static size_t n_gated;
static uint64_t evictions_logged_ms;

static void gate_close(struct gate_conn *g)
{
	h2o_linklist_unlink(&g->link);
	if (h2o_timeout_is_linked(&g->timeout))
		h2o_timeout_unlink(&g->timeout);
	g->sock->data = NULL;
	h2o_socket_close(g->sock);
	free(g->head);
	free(g->reply);
	free(g);
	n_gated--;
}

static void on_timeout(h2o_timeout_entry_t *entry)
{
	gate_close(H2O_STRUCT_FROM_MEMBER(struct gate_conn, timeout, entry));
}

static void restart_timeout(struct gate_conn *g)
{
	if (h2o_timeout_is_linked(&g->timeout))
		h2o_timeout_unlink(&g->timeout);
	h2o_timeout_link(gate_loop, &gate_timeout, &g->timeout);
}

/* ---- answering without h2o ------------------------------------------------ */

static size_t hpack_literal(uint8_t *p, unsigned static_index, const char *value)
{
	/* "Literal Header Field without Indexing — Indexed Name" (RFC 7541 6.2.2) */
	size_t n = 0, len = strlen(value);
	if (static_index < 15) {
		p[n++] = (uint8_t)static_index;
	} else {
		p[n++] = 0x0f;
		p[n++] = (uint8_t)(static_index - 15);
	}
	p[n++] = (uint8_t)len; /* every value here is < 127 bytes */
	memcpy(p + n, value, len);
	return n + len;
}

static size_t frame_header(uint8_t *p, size_t len, uint8_t type, uint8_t flags, uint32_t stream)
{
	p[0] = (uint8_t)(len >> 16), p[1] = (uint8_t)(len >> 8), p[2] = (uint8_t)len;
	p[3] = type, p[4] = flags;
	p[5] = (uint8_t)(stream >> 24), p[6] = (uint8_t)(stream >> 16), p[7] = (uint8_t)(stream >> 8), p[8] = (uint8_t)stream;
	return 9;
}

/* HTTP/2: our SETTINGS, an ACK of the client's, the response on the first
 * request's stream, and GOAWAY naming that stream as the last one served.
 * Before any stream (a bad frame): SETTINGS and GOAWAY(PROTOCOL_ERROR). */
/* "Literal Header Field without Indexing — New Name" (RFC 7541 6.2.2):
 * a header the static table does not name. */
static size_t hpack_new_name(uint8_t *p, const char *name, const char *value)
{
	size_t n = 0, nl = strlen(name), vl = strlen(value);
	p[n++] = 0x00;
	p[n++] = (uint8_t)nl;
	memcpy(p + n, name, nl), n += nl;
	p[n++] = (uint8_t)vl; /* < 127: a request id is at most 64 */
	memcpy(p + n, value, vl);
	return n + vl;
}

static char *http2_reply(int status, const char *body, size_t body_len, uint32_t stream, const char *rid,
			 size_t *out_len)
{
	if (stream == 0) {
		uint8_t *p = calloc(1, 9 + 9 + 8);
		if (!p)
			return NULL;
		size_t n = frame_header(p, 0, 4, 0, 0);
		n += frame_header(p + n, 8, 7, 0, 0);
		p[n + 7] = 1; /* PROTOCOL_ERROR; last stream 0 */
		*out_len = n + 8;
		return (char *)p;
	}
	uint8_t block[256];
	char status_text[4], length_text[24];
	snprintf(status_text, sizeof(status_text), "%d", status);
	snprintf(length_text, sizeof(length_text), "%zu", body_len);
	size_t b = hpack_literal(block, 8, status_text);              /* :status */
	b += hpack_literal(block + b, 31, "application/json");         /* content-type */
	b += hpack_literal(block + b, 28, length_text);                /* content-length */
	if (status == 401)
		b += hpack_literal(block + b, 61, "Bearer");            /* www-authenticate */
	b += hpack_new_name(block + b, "x-request-id", rid);
	uint8_t *p = malloc(9 * 5 + b + body_len + 8);
	if (!p)
		return NULL;
	size_t n = frame_header(p, 0, 4, 0, 0);                        /* SETTINGS */
	n += frame_header(p + n, 0, 4, 1, 0);                          /* SETTINGS ACK */
	n += frame_header(p + n, b, 1, 0x4, stream);                   /* HEADERS, END_HEADERS */
	memcpy(p + n, block, b), n += b;
	n += frame_header(p + n, body_len, 0, 0x1, stream);            /* DATA, END_STREAM */
	memcpy(p + n, body, body_len), n += body_len;
	n += frame_header(p + n, 8, 7, 0, 0);                          /* GOAWAY */
	memset(p + n, 0, 8);
	p[n] = (uint8_t)(stream >> 24), p[n + 1] = (uint8_t)(stream >> 16), p[n + 2] = (uint8_t)(stream >> 8);
	p[n + 3] = (uint8_t)stream;
	*out_len = n + 8;
	return (char *)p;
}

static char *http1_reply(int status, const char *body, size_t body_len, const char *rid, size_t *out_len)
{
	const char *reason = status == 401 ? "Unauthorized" : status == 403 ? "Forbidden"
			   : status == 431 ? "Request Header Fields Too Large" : "Bad Request";
	char *text = NULL;
	int n = asprintf(&text, "HTTP/1.1 %d %s\r\nServer: warrend/%s\r\nContent-Type: application/json\r\n"
				"Content-Length: %zu\r\nX-Request-Id: %s\r\n%sConnection: close\r\n\r\n%.*s",
			 status, reason, PACKAGE_VERSION, body_len, rid,
			 status == 401 ? "WWW-Authenticate: Bearer\r\n" : "", (int)body_len, body);
	if (n < 0)
		return NULL;
	*out_len = (size_t)n;
	return text;
}

static void on_reply_written(h2o_socket_t *sock, const char *err)
{
	struct gate_conn *g = sock->data;
	if (!g)
		return;
	if (err || g->closing) {
		gate_close(g);
		return;
	}
	/* The client may still be sending its body: closing now would reset
	 * the connection and lose the answer, so read and drop until it closes. */
	shutdown(h2o_socket_get_fd(sock), SHUT_WR);
}

/* Answers without h2o; false when the connection had to be closed. */
static bool answer(struct gate_conn *g, int status, const char *code, const char *message, bool http2,
		   uint32_t stream)
{
	/* each API's own error shape: E2B's clients read {code: 401, message} */
	json_t *doc = g->kind == HTTP_LISTENER_E2B ? json_pack("{s:i,s:s}", "code", status, "message", message)
						   : json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
	_cleanup_free_ char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	size_t len = 0;
	/* the gate's answers are requests of their own: an id, a log line */
	char rid[REQUEST_ID_MAX + 1];
	request_id_new(rid);
	if (body) {
		size_t body_len = strlen(body);
		_cleanup_free_ char *framed = NULL;
		if (asprintf(&framed, "%s\n", body) >= 0)
			g->reply = http2 ? http2_reply(status, framed, body_len + 1, stream, rid, &len)
					 : http1_reply(status, framed, body_len + 1, rid, &len);
	}
	metrics_count_request("gate", status, 0);
	if (cfg->access_log) {
		struct access_entry a = { .request_id = rid, .method = "-", .method_len = 1, .path = "-", .path_len = 1,
					  .status = status, .bytes = len };
		daemon_log_access(&a);
	}
	if (cfg->verbose >= 2) {
		LOG_CTX_SCOPE(rid, NULL);
		daemon_log("%d before the request was read: %s", status, message);
	}
	free(g->head);
	g->head = NULL;
	g->lingering = true;
	if (!g->reply) {
		gate_close(g);
		return false;
	}
	h2o_iovec_t buf = h2o_iovec_init(g->reply, len);
	h2o_socket_write(g->sock, &buf, 1, on_reply_written);
	return true;
}

/* ---- reading -------------------------------------------------------------- */

static void hand_to_h2o(struct gate_conn *g)
{
	h2o_socket_t *sock = g->sock;
	h2o_iovec_t room = h2o_buffer_reserve(&sock->input, g->len);
	if (!room.base) {
		gate_close(g);
		return;
	}
	memcpy(room.base, g->head, g->len);
	sock->input->size += g->len;
	h2o_socket_read_stop(sock);
	h2o_socket_dont_read(sock, 0);
	h2o_linklist_unlink(&g->link);
	h2o_timeout_unlink(&g->timeout);
	sock->data = NULL;
	free(g->head);
	free(g);
	n_gated--;
	/* h2o parses what is already in the input first (http1.c reqread_start),
	 * and takes the HTTP/2 preface from there too. */
	h2o_accept(http_accept_ctx(), sock);
}

/* The client sent all it will (EOF): close now, or once the answer is out. */
static void client_done(struct gate_conn *g)
{
	if (!h2o_socket_is_writing(g->sock)) {
		gate_close(g);
		return;
	}
	g->closing = true;
	h2o_socket_read_stop(g->sock); /* EOF stays readable: do not spin on it */
}

/* Reads what is there without blocking, into buf (len bytes; NULL: dropped).
 * Returns the bytes read; *eof when the client closed its side, -1 on an
 * error. */
static ssize_t read_some(int fd, uint8_t *buf, size_t len, bool *eof)
{
	static uint8_t sink[65536];
	size_t got = 0;
	while (!buf || got < len) {
		ssize_t n = buf ? recv(fd, buf + got, len - got, MSG_DONTWAIT) : recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n > 0) {
			got += (size_t)n;
			if (!buf && got > sizeof(sink) * 16)
				break; /* enough for one turn of the loop */
			continue;
		}
		if (n == 0)
			*eof = true;
		else if (errno != EAGAIN && errno != EINTR)
			return -1;
		break;
	}
	return (ssize_t)got;
}

static void on_readable(h2o_socket_t *sock, const char *err)
{
	struct gate_conn *g = sock->data;
	int fd = h2o_socket_get_fd(sock);
	bool eof = false;
	if (err) {
		gate_close(g);
		return;
	}
	if (g->lingering) {
		/* Dropped, up to what the largest accepted request could hold. */
		ssize_t n = read_some(fd, NULL, 0, &eof);
		g->dropped += n > 0 ? (uint64_t)n : 0;
		if (n < 0 || g->dropped > http_largest_body_limit(cfg) + cfg->auth_head_max)
			gate_close(g);
		else if (eof)
			client_done(g);
		else
			restart_timeout(g);
		return;
	}
	ssize_t n = read_some(fd, g->head + g->len, cfg->auth_head_max - g->len, &eof);
	if (n < 0) {
		gate_close(g);
		return;
	}
	g->len += (size_t)n;
	struct head_result h;
	char why[160];
	bool open;
	head_examine(g->head, g->len, g->kind == HTTP_LISTENER_E2B ? HEAD_CREDENTIALS_E2B : HEAD_CREDENTIALS_BEARER, &h);
	switch (h.verdict) {
	case HEAD_AUTHORIZED:
		hand_to_h2o(g); /* an EOF is h2o's to see, as for any client */
		return;
	case HEAD_UNAUTHORIZED:
		/* a signed artifact URL stands for the token (its signature is
		 * checked here first, then again by its handler) */
		switch (h.target ? artifacts_check_url(h.target, h.target_len, &(struct artifact_url){ 0 })
				 : ARTIFACT_URL_NOT_OURS) {
		case ARTIFACT_URL_OK:
			hand_to_h2o(g);
			return;
		case ARTIFACT_URL_BAD:
			open = answer(g, 403, "forbidden", ARTIFACT_URL_BAD_WHY, false, 0);
			break;
		case ARTIFACT_URL_EXPIRED:
			open = answer(g, 403, "forbidden", ARTIFACT_URL_EXPIRED_WHY, false, 0);
			break;
		default:
			open = answer(g, 401, "unauthorized", h.why, h.http2, h.stream_id);
			break;
		}
		break;
	case HEAD_MALFORMED:
		open = answer(g, 400, "bad_request", h.why, h.http2, h.stream_id);
		break;
	case HEAD_INCOMPLETE:
	default:
		if (eof) {
			gate_close(g); /* the client went away before asking anything */
			return;
		}
		if (g->len < cfg->auth_head_max)
			return; /* wait for more, within the timeout */
		snprintf(why, sizeof(why), "the request head is larger than auth_head_max (%llu bytes)",
			 (unsigned long long)cfg->auth_head_max);
		open = answer(g, h.http2 ? 400 : 431, h.http2 ? "bad_request" : "request_header_too_large", why,
			      h.http2, h.stream_id);
		break;
	}
	if (open && eof)
		client_done(g);
}

/* ---- entry ------------------------------------------------------------------ */

void http_gate_accept(h2o_socket_t *sock, enum http_listener_kind kind)
{
	/* Full: the oldest connection is most likely a slow or idle one. */
	if (n_gated >= cfg->auth_pending_max) {
		uint64_t now = daemon_now_ms();
		if (now - evictions_logged_ms >= 60000) {
			evictions_logged_ms = now;
			daemon_log("%zu connections are waiting to authenticate (auth_pending_max): closing the oldest",
				   n_gated);
		}
		gate_close(H2O_STRUCT_FROM_MEMBER(struct gate_conn, link, gated.next));
	}
	struct gate_conn *g = calloc(1, sizeof(*g));
	if (g && !(g->head = malloc(cfg->auth_head_max))) {
		free(g);
		g = NULL;
	}
	if (!g) {
		h2o_socket_close(sock);
		return;
	}
	g->sock = sock;
	g->kind = kind;
	g->timeout.cb = on_timeout;
	h2o_linklist_insert(&gated, &g->link);
	n_gated++;
	sock->data = g;
	/* h2o must not read into its own input: the gate reads, bounded. */
	h2o_socket_dont_read(sock, 1);
	h2o_socket_read_start(sock, on_readable);
	restart_timeout(g);
}

int http_gate_init(h2o_evloop_t *loop, const struct daemon_config *config)
{
	cfg = config;
	gate_loop = loop;
	h2o_timeout_init(loop, &gate_timeout, cfg->auth_timeout_ms);
	return 0;
}

void http_gate_close_all(void)
{
	while (!h2o_linklist_is_empty(&gated))
		gate_close(H2O_STRUCT_FROM_MEMBER(struct gate_conn, link, gated.next));
}
