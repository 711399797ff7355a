/* The first request of a connection, examined before h2o reads it: an
 * HTTP/1 request head, or the HTTP/2 connection preface and the frames up
 * to the first request's complete header block. Pure (no sockets), so the
 * gate's decisions are unit tested and fuzzable. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum head_verdict {
	HEAD_INCOMPLETE,   /* more bytes needed */
	HEAD_AUTHORIZED,   /* the first request carries a valid bearer token */
	HEAD_UNAUTHORIZED, /* it carries none, or an invalid one: 401 */
	HEAD_MALFORMED,    /* not HTTP/1 or HTTP/2 that h2o would take: 400 */
};

struct head_result {
	enum head_verdict verdict;
	bool http2;          /* the connection started with the HTTP/2 preface */
	uint32_t stream_id;  /* HTTP/2: the first request's stream (for the 401) */
	const char *why;     /* UNAUTHORIZED, MALFORMED: what the reply says */
	/* HTTP/1 without an Authorization header: a GET or HEAD that sends no
	 * body, and its request target as sent (into buf), which a signed URL
	 * may stand for the token of (artifacts); else NULL. */
	const char *target;
	size_t target_len;
};

/* Which credentials the listener takes (auth.h looks them up). */
enum head_credentials {
	HEAD_CREDENTIALS_BEARER, /* Authorization: Bearer TOKEN (warren's API) */
	HEAD_CREDENTIALS_E2B,    /* X-API-KEY: TOKEN, or a sandbox's X-Access-Token or
				  * E2B-Traffic-Access-Token (E2B's API) */
};
void head_examine(const uint8_t *buf, size_t len, enum head_credentials creds, struct head_result *out);
