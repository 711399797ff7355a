/* The gate's reading of a connection's first request (auth-head.c): HTTP/1
 * heads and HTTP/2 prefaces with their first header block, whole, cut at
 * every byte, and malformed. */
#include "config.h"

#include "unit.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "auth-head.h"

/* Exported by libh2o 2.2 (huffman-encodes when shorter), as a client's
 * HPACK encoder would. */
size_t h2o_hpack_encode_string(uint8_t *dst, const char *s, size_t len);

static char token[AUTH_TOKEN_MAX + 1];
static char tokens_path[] = "/tmp/test-auth-head-XXXXXX";

static void setup(void)
{
	wr_error e = { 0 };
	/* mkstemp fills the template in: each test (one process under
	 * CK_FORK=no, as valgrind runs them) starts from a fresh one */
	strcpy(tokens_path, "/tmp/test-auth-head-XXXXXX");
	int fd = mkstemp(tokens_path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_msg(auth_token_add(tokens_path, "alice", NULL, NULL, token, &e) == 0, "%s", e.message);
	ck_assert_msg(auth_load(tokens_path, &e) == 0, "%s", e.message);
}

static void teardown(void)
{
	auth_free();
	unlink(tokens_path);
}

static struct head_result examine(const void *buf, size_t len)
{
	struct head_result r;
	head_examine(buf, len, HEAD_CREDENTIALS_BEARER, &r);
	return r;
}

/* Every proper prefix of a complete first request is "incomplete". */
static void assert_prefixes_incomplete(const uint8_t *buf, size_t len)
{
	for (size_t n = 0; n < len; n++) {
		struct head_result r = examine(buf, n);
		ck_assert_msg(r.verdict == HEAD_INCOMPLETE, "prefix of %zu bytes: verdict %d", n, r.verdict);
	}
}

START_TEST(http1_heads)
{
	char head[512];
	snprintf(head, sizeof(head), "PUT /v1/sessions/x/files/a HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
		 "authorization: Bearer %s\r\nContent-Length: 66060288\r\n\r\n", token);
	struct head_result r = examine(head, strlen(head));
	ck_assert_int_eq(r.verdict, HEAD_AUTHORIZED);
	ck_assert(!r.http2);
	assert_prefixes_incomplete((const uint8_t *)head, strlen(head));
	/* What follows the head (the body) does not matter. */
	strcat(head, "body bytes");
	ck_assert_int_eq(examine(head, strlen(head)).verdict, HEAD_AUTHORIZED);

	static const struct { const char *head; enum head_verdict verdict; const char *why; } refused[] = {
		{ "POST /v1/run HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n", HEAD_UNAUTHORIZED,
		  "this listener requires a token: send \"Authorization: Bearer TOKEN\"" },
		{ "GET / HTTP/1.1\r\nAuthorization: Bearer 0123\r\n\r\n", HEAD_UNAUTHORIZED, "invalid token" },
		{ "GET / HTTP/1.0\r\nAuthorization: Basic eDp5\r\n\r\n", HEAD_UNAUTHORIZED,
		  "the Authorization header must be \"Bearer TOKEN\"" },
		{ "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", HEAD_MALFORMED, "malformed HTTP request" },
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		r = examine(refused[i].head, strlen(refused[i].head));
		ck_assert_int_eq(r.verdict, refused[i].verdict);
		ck_assert_str_eq(r.why, refused[i].why);
	}
	/* An h2c upgrade is an HTTP/1 request: its token decides. */
	snprintf(head, sizeof(head), "GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
		 "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nAuthorization: Bearer %s\r\n\r\n", token);
	ck_assert_int_eq(examine(head, strlen(head)).verdict, HEAD_AUTHORIZED);
}
END_TEST

/* ---- HTTP/2 ---------------------------------------------------------------- */

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

struct h2 {
	uint8_t buf[4096];
	size_t len;
};

static void frame(struct h2 *c, uint8_t type, uint8_t flags, uint32_t stream, const void *payload, size_t len)
{
	uint8_t *p = c->buf + c->len;
	p[0] = (uint8_t)(len >> 16), p[1] = (uint8_t)(len >> 8), p[2] = (uint8_t)len;
	p[3] = type, p[4] = flags;
	p[5] = (uint8_t)(stream >> 24), p[6] = (uint8_t)(stream >> 16), p[7] = (uint8_t)(stream >> 8), p[8] = (uint8_t)stream;
	memcpy(p + 9, payload, len);
	c->len += 9 + len;
}

static void start(struct h2 *c)
{
	static const uint8_t settings[] = { 0, 3, 0, 0, 0, 100, 0, 4, 0, 0x40, 0, 0 };
	static const uint8_t window[] = { 0, 0x3f, 0xff, 0x01 };
	memcpy(c->buf, preface, 24);
	c->len = 24;
	frame(c, 4, 0, 0, settings, sizeof(settings));
	frame(c, 8, 0, 0, window, sizeof(window));
}

/* A request header block: POST /v1/run, and "authorization: VALUE" (huffman
 * coded, incrementally indexed, as nghttp2 may) unless value is NULL. */
static size_t block(uint8_t *b, const char *value)
{
	size_t n = 0;
	b[n++] = 0x83;                               /* :method POST */
	b[n++] = 0x86;                               /* :scheme http */
	b[n++] = 0x04;                               /* :path, literal */
	n += h2o_hpack_encode_string(b + n, "/v1/run", 7);
	b[n++] = 0x01;                               /* :authority, literal */
	n += h2o_hpack_encode_string(b + n, "127.0.0.1:8080", 14);
	if (value) {
		b[n++] = 0x40 | 23;                  /* authorization, incremental indexing */
		n += h2o_hpack_encode_string(b + n, value, strlen(value));
	}
	b[n++] = 0x40 | 31;                         /* content-type, incremental indexing */
	n += h2o_hpack_encode_string(b + n, "application/json", 16);
	return n;
}

static void bearer(char *out, size_t len)
{
	snprintf(out, len, "Bearer %s", token);
}

/* Without a token, a bodiless GET or HEAD says its request target (a
 * signed artifact URL may stand in for the token); nothing else does. */
START_TEST(http1_tokenless_targets)
{
	static const struct { const char *head; const char *target; } cases[] = {
		{ "GET /v1/artifacts/a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", "/v1/artifacts/a/b?x=1" },
		{ "HEAD /v1/artifacts/a/b HTTP/1.1\r\nHost: h\r\n\r\n", "/v1/artifacts/a/b" },
		{ "GET /v1/artifacts/a/b HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "/v1/artifacts/a/b" },
		{ "GET /v1/artifacts/a/b HTTP/1.1\r\nContent-Length: 5\r\n\r\n", NULL },
		{ "GET /v1/artifacts/a/b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", NULL },
		{ "POST /v1/artifacts/a/b HTTP/1.1\r\nHost: h\r\n\r\n", NULL },
		{ "DELETE /v1/artifacts/a/b HTTP/1.1\r\nHost: h\r\n\r\n", NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct head_result r = examine(cases[i].head, strlen(cases[i].head));
		ck_assert_int_eq(r.verdict, HEAD_UNAUTHORIZED);
		if (!cases[i].target) {
			ck_assert_msg(r.target == NULL, "%s", cases[i].head);
			continue;
		}
		ck_assert_msg(r.target && r.target_len == strlen(cases[i].target) &&
			      !memcmp(r.target, cases[i].target, r.target_len), "%s", cases[i].head);
	}
	/* with a token (valid or not) the token decides, as before */
	static const char with_token[] = "GET /v1/artifacts/a/b HTTP/1.1\r\nAuthorization: Bearer x\r\n\r\n";
	struct head_result r = examine(with_token, strlen(with_token));
	ck_assert_int_eq(r.verdict, HEAD_UNAUTHORIZED);
	ck_assert_ptr_null(r.target);
}
END_TEST

START_TEST(http2_first_request)
{
	char value[80];
	uint8_t b[512];
	struct h2 c;
	bearer(value, sizeof(value));

	start(&c);
	frame(&c, 1, 0x4, 1, b, block(b, value));
	struct head_result r = examine(c.buf, c.len);
	ck_assert_int_eq(r.verdict, HEAD_AUTHORIZED);
	ck_assert(r.http2);
	assert_prefixes_incomplete(c.buf, c.len);

	start(&c);
	frame(&c, 1, 0x4 | 0x1, 3, b, block(b, NULL));
	r = examine(c.buf, c.len);
	ck_assert_int_eq(r.verdict, HEAD_UNAUTHORIZED);
	ck_assert_uint_eq(r.stream_id, 3);

	start(&c);
	frame(&c, 1, 0x4, 1, b, block(b, "Bearer wrong"));
	r = examine(c.buf, c.len);
	ck_assert_int_eq(r.verdict, HEAD_UNAUTHORIZED);
	ck_assert_str_eq(r.why, "invalid token");
}
END_TEST

START_TEST(http2_continuation_padding_priority)
{
	char value[80];
	uint8_t b[512], padded[600];
	struct h2 c;
	bearer(value, sizeof(value));
	size_t n = block(b, value);

	/* HEADERS (padded, with priority) + two CONTINUATIONs; a PING between
	 * SETTINGS and HEADERS. */
	static const uint8_t ping[8] = { 1 };
	start(&c);
	frame(&c, 6, 0, 0, ping, sizeof(ping));
	size_t first = 10, pad = 7;
	padded[0] = (uint8_t)pad;
	memset(padded + 1, 0, 5); /* stream dependency 0, weight */
	padded[5] = 15;
	memcpy(padded + 6, b, first);
	memset(padded + 6 + first, 0, pad);
	frame(&c, 1, 0x8 | 0x20, 1, padded, 6 + first + pad);
	frame(&c, 9, 0, 1, b + first, 20);
	frame(&c, 9, 0x4, 1, b + first + 20, n - first - 20);
	ck_assert_int_eq(examine(c.buf, c.len).verdict, HEAD_AUTHORIZED);
	assert_prefixes_incomplete(c.buf, c.len);

	/* Another frame in the middle of the header block. */
	start(&c);
	frame(&c, 1, 0, 1, b, first);
	frame(&c, 8, 0, 0, "\0\0\0\1", 4);
	frame(&c, 9, 0x4, 1, b + first, n - first);
	struct head_result r = examine(c.buf, c.len);
	ck_assert_int_eq(r.verdict, HEAD_MALFORMED);
	ck_assert_str_eq(r.why, "HTTP/2 header block interrupted");
}
END_TEST

START_TEST(http2_malformed)
{
	uint8_t b[512];
	struct h2 c;
	size_t n = block(b, "Bearer x");

	start(&c);
	frame(&c, 0, 0x1, 1, "{}", 2); /* DATA before any HEADERS */
	struct head_result r = examine(c.buf, c.len);
	ck_assert_int_eq(r.verdict, HEAD_MALFORMED);
	ck_assert_uint_eq(r.stream_id, 0);

	start(&c);
	frame(&c, 1, 0x4, 2, b, n); /* even stream: the server's */
	ck_assert_int_eq(examine(c.buf, c.len).verdict, HEAD_MALFORMED);

	start(&c);
	uint8_t huge[9] = { 0x01, 0x00, 0x00, 1, 0x4, 0, 0, 0, 1 }; /* 65536 bytes announced */
	memcpy(c.buf + c.len, huge, sizeof(huge));
	c.len += sizeof(huge);
	r = examine(c.buf, c.len);
	ck_assert_int_eq(r.verdict, HEAD_MALFORMED);
	ck_assert_str_eq(r.why, "HTTP/2 frame larger than SETTINGS_MAX_FRAME_SIZE");

	start(&c);
	static const uint8_t bad_hpack[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }; /* index out of range */
	frame(&c, 1, 0x4, 1, bad_hpack, sizeof(bad_hpack));
	r = examine(c.buf, c.len);
	ck_assert_int_eq(r.verdict, HEAD_MALFORMED);
	ck_assert_str_eq(r.why, "malformed HTTP/2 header block");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("auth-head");
	TCase *tc = tcase_create("auth-head");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, http1_heads);
	tcase_add_test(tc, http1_tokenless_targets);
	tcase_add_test(tc, http2_first_request);
	tcase_add_test(tc, http2_continuation_padding_priority);
	tcase_add_test(tc, http2_malformed);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
