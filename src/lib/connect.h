/* The Connect protocol (connectrpc.com) with its JSON codec, as E2B's
 * in-sandbox daemon (envd) speaks it, and proto3's JSON mapping of field
 * values. Pure functions, no sockets: the envelope reader and the value
 * readers take what a client sent and are fuzzed (fuzz/fuzz-connect.c).
 *
 * Unary calls are a plain JSON body each way. A server-streaming call
 * takes one enveloped request and answers a stream of envelopes, each
 * [flags:1][length:4, big-endian][JSON], the last one flagged END_STREAM
 * and holding {} or {"error": {"code", "message"}}. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#define CONNECT_ENVELOPE_HEADER 5
#define CONNECT_FLAG_COMPRESSED 0x01
#define CONNECT_FLAG_END_STREAM 0x02

struct connect_envelope {
	uint8_t flags;
	const uint8_t *data;        /* points into the buffer read */
	size_t len;
};

/* One envelope from the start of buf: the bytes it takes (> 0), 0 when
 * buf holds only part of it, -EMSGSIZE when it declares more than max
 * bytes, -EPROTO for a compressed one (no compression is ever
 * negotiated) or flags other than END_STREAM. */
ssize_t connect_envelope_read(const void *buf, size_t len, size_t max, struct connect_envelope *out);
/* The 5 header bytes of an envelope of len bytes. */
void connect_envelope_header(uint8_t flags, uint32_t len, uint8_t out[CONNECT_ENVELOPE_HEADER]);

/* Connect's error codes and the HTTP status each travels with on a unary
 * call ("not_found" 404, "invalid_argument" 400, …). */
int connect_code_status(const char *code);
/* The code that says what an HTTP-style status means: 404 not_found, 409
 * failed_precondition (a state conflict), 429 resource_exhausted, 413
 * resource_exhausted, 501 unimplemented, 503 unavailable, … unknown for
 * the rest. */
const char *connect_code_of_status(int status);

/* ---- proto3's JSON mapping -------------------------------------------------
 * Readers of one field of a message object: the field may be sent under
 * its JSON name (lowerCamelCase) or its proto name (snake_case), not
 * both; a missing field or null is the type's zero value. Each returns 0,
 * or -EINVAL with a message naming the field in msg (msglen bytes). */

/* The field's value (NULL when absent or null); -EINVAL when both names
 * are given. `proto_name` may equal `json_name`. */
int pj_field(const json_t *obj, const char *json_name, const char *proto_name, json_t **out, char *msg,
	     size_t msglen);
/* A JSON number or a decimal string ("12", "-3", "1e2" is refused): the
 * mapping writes 64-bit integers as strings and accepts both. */
int pj_int64(const json_t *v, const char *name, int64_t *out, char *msg, size_t msglen);
int pj_uint32(const json_t *v, const char *name, uint32_t *out, char *msg, size_t msglen);
int pj_bool(const json_t *v, const char *name, bool *out, char *msg, size_t msglen);
/* A string (NULL for absent, borrowed from v). */
int pj_string(const json_t *v, const char *name, const char **out, size_t *len, char *msg, size_t msglen);
/* bytes: base64, standard or URL-safe alphabet, padded or not. A new
 * buffer (NULL with *len 0 for absent; one byte more, NUL, for the caller's
 * convenience); -ENOMEM. */
int pj_bytes(const json_t *v, const char *name, uint8_t **out, size_t *len, char *msg, size_t msglen);
/* An enum: its value's name (from `names`, indexed by number, NULL where a
 * number has none) or its number. Unknown names are refused; unknown
 * numbers are kept (proto3 enums are open). */
int pj_enum(const json_t *v, const char *name, const char *const *names, size_t n_names, int32_t *out, char *msg,
	    size_t msglen);

/* Writers: each adds the field under its JSON name unless it holds the
 * zero value (which proto3's JSON leaves out). 0 or -ENOMEM. */
int pj_put_int64(json_t *obj, const char *name, int64_t v);  /* as a string */
int pj_put_uint32(json_t *obj, const char *name, uint32_t v);
int pj_put_int32(json_t *obj, const char *name, int32_t v);
int pj_put_bool(json_t *obj, const char *name, bool v);
int pj_put_string(json_t *obj, const char *name, const char *s);
int pj_put_bytes(json_t *obj, const char *name, const void *buf, size_t len); /* standard base64 */
/* google.protobuf.Timestamp: "2026-12-01T10:00:00.123456789Z" (RFC 3339,
 * UTC, 0, 3, 6 or 9 fractional digits); `out` holds 40 bytes. */
void pj_timestamp(int64_t seconds, uint32_t nanos, char out[40]);
