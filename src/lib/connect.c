#include "config.h"

/* The Connect protocol's envelopes and proto3's JSON mapping (connect.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connect.h"
#include "encode.h"

/* ---- envelopes ---------------------------------------------------------------- */

ssize_t connect_envelope_read(const void *buf, size_t len, size_t max, struct connect_envelope *out)
{
	const uint8_t *p = buf;
	if (len < CONNECT_ENVELOPE_HEADER)
		return 0;
	uint32_t n = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
	if (p[0] & ~CONNECT_FLAG_END_STREAM)
		return -EPROTO;
	if (n > max)
		return -EMSGSIZE;
	if (len - CONNECT_ENVELOPE_HEADER < n)
		return 0;
	*out = (struct connect_envelope){ .flags = p[0], .data = p + CONNECT_ENVELOPE_HEADER, .len = n };
	return (ssize_t)(CONNECT_ENVELOPE_HEADER + n);
}

void connect_envelope_header(uint8_t flags, uint32_t len, uint8_t out[CONNECT_ENVELOPE_HEADER])
{
	out[0] = flags;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
}

/* ---- error codes ---------------------------------------------------------------- */

static const struct {
	const char *code;
	int status;
} codes[] = {
	{ "canceled", 499 }, { "unknown", 500 }, { "invalid_argument", 400 }, { "deadline_exceeded", 504 },
	{ "not_found", 404 }, { "already_exists", 409 }, { "permission_denied", 403 },
	{ "resource_exhausted", 429 }, { "failed_precondition", 400 }, { "aborted", 409 }, { "out_of_range", 400 },
	{ "unimplemented", 501 }, { "internal", 500 }, { "unavailable", 503 }, { "data_loss", 500 },
	{ "unauthenticated", 401 },
};

int connect_code_status(const char *code)
{
	for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
		if (!strcmp(codes[i].code, code))
			return codes[i].status;
	return 500;
}

const char *connect_code_of_status(int status)
{
	switch (status) {
	case 400: return "invalid_argument";
	case 401: return "unauthenticated";
	case 403: return "permission_denied";
	case 404: return "not_found";
	case 409: return "failed_precondition";
	case 413: return "resource_exhausted";
	case 429: return "resource_exhausted";
	case 499: return "canceled";
	case 501: return "unimplemented";
	case 503: return "unavailable";
	case 504: return "deadline_exceeded";
	case 507: return "resource_exhausted";
	default: return status >= 500 ? "internal" : "unknown";
	}
}

/* ---- proto3 JSON: reading ------------------------------------------------------- */

static int fail(char *msg, size_t msglen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (msg && msglen)
		vsnprintf(msg, msglen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int pj_field(const json_t *obj, const char *json_name, const char *proto_name, json_t **out, char *msg,
	     size_t msglen)
{
	*out = NULL;
	json_t *a = json_object_get(obj, json_name);
	json_t *b = strcmp(json_name, proto_name) ? json_object_get(obj, proto_name) : NULL;
	if (a && b)
		return fail(msg, msglen, "%s: given twice (as %s and %s)", json_name, json_name, proto_name);
	json_t *v = a ? a : b;
	*out = json_is_null(v) ? NULL : v;
	return 0;
}

/* A decimal integer in text: [-]digits, within [min, max]. */
static bool parse_decimal(const char *s, size_t len, int64_t min, uint64_t max, int64_t *out)
{
	bool neg = len && s[0] == '-';
	size_t i = neg;
	if (i == len || len - i > 20)
		return false;
	uint64_t v = 0;
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return false;
		int64_t n = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
		if (n < min)
			return false;
		*out = n;
		return true;
	}
	if (v > max || v > (uint64_t)INT64_MAX)
		return false;
	*out = (int64_t)v;
	return true;
}

static int read_integer(const json_t *v, const char *name, int64_t min, uint64_t max, int64_t *out, char *msg,
			size_t msglen)
{
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		json_int_t n = json_integer_value(v);
		if (n < min || (n > 0 && (uint64_t)n > max))
			return fail(msg, msglen, "%s: %" PRId64 " is out of range", name, (int64_t)n);
		*out = n;
		return 0;
	}
	if (json_is_real(v)) {
		/* 1.0 is an integer in JSON's eyes; 1.5 and 1e300 are not */
		double d = json_real_value(v);
		if (!(d >= -9.2e18 && d <= 9.2e18) || d != (double)(int64_t)d || d < (double)min || d > (double)max)
			return fail(msg, msglen, "%s: expected an integer", name);
		*out = (int64_t)d;
		return 0;
	}
	if (json_is_string(v)) {
		if (!parse_decimal(json_string_value(v), json_string_length(v), min, max, out))
			return fail(msg, msglen, "%s: expected an integer (a number, or its decimal digits in a string)",
				    name);
		return 0;
	}
	return fail(msg, msglen, "%s: expected an integer", name);
}

int pj_int64(const json_t *v, const char *name, int64_t *out, char *msg, size_t msglen)
{
	return read_integer(v, name, INT64_MIN, (uint64_t)INT64_MAX, out, msg, msglen);
}

int pj_uint32(const json_t *v, const char *name, uint32_t *out, char *msg, size_t msglen)
{
	int64_t n = 0;
	int r = read_integer(v, name, 0, UINT32_MAX, &n, msg, msglen);
	*out = (uint32_t)n;
	return r;
}

int pj_bool(const json_t *v, const char *name, bool *out, char *msg, size_t msglen)
{
	*out = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return fail(msg, msglen, "%s: expected true or false", name);
	*out = json_is_true(v);
	return 0;
}

int pj_string(const json_t *v, const char *name, const char **out, size_t *len, char *msg, size_t msglen)
{
	*out = NULL;
	if (len)
		*len = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(msg, msglen, "%s: expected a string", name);
	*out = json_string_value(v);
	if (len)
		*len = json_string_length(v);
	return 0;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int pj_bytes(const json_t *v, const char *name, uint8_t **out, size_t *len, char *msg, size_t msglen)
{
	*out = NULL;
	*len = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return fail(msg, msglen, "%s: expected base64 in a string", name);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), pad = 0;
	while (n && s[n - 1] == '=' && pad < 2)
		n--, pad++;
	if (n % 4 == 1 || (pad && (n + pad) % 4))
		return fail(msg, msglen, "%s: not base64 (its length)", name);
	uint8_t *buf = malloc(n / 4 * 3 + 3 + 1);
	if (!buf)
		return -ENOMEM;
	size_t o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		int d = b64_value((unsigned char)s[i]);
		if (d < 0) {
			free(buf);
			return fail(msg, msglen, "%s: not base64 (byte %zu)", name, i);
		}
		acc = acc << 6 | (uint32_t)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* the bits left over must be zero: one encoding per byte string */
	if (bits && (acc & ((1u << bits) - 1))) {
		free(buf);
		return fail(msg, msglen, "%s: not base64 (its last character)", name);
	}
	buf[o] = 0;
	*out = buf;
	*len = o;
	return 0;
}

int pj_enum(const json_t *v, const char *name, const char *const *names, size_t n_names, int32_t *out, char *msg,
	    size_t msglen)
{
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		for (size_t i = 0; i < n_names; i++)
			if (names[i] && !strcmp(names[i], json_string_value(v))) {
				*out = (int32_t)i;
				return 0;
			}
		return fail(msg, msglen, "%s: unknown value \"%.64s\"", name, json_string_value(v));
	}
	int64_t n;
	int r = read_integer(v, name, INT32_MIN, INT32_MAX, &n, msg, msglen);
	*out = (int32_t)n;
	return r;
}

/* ---- proto3 JSON: writing -------------------------------------------------------- */

static int put(json_t *obj, const char *name, json_t *v)
{
	return v && json_object_set_new(obj, name, v) == 0 ? 0 : -ENOMEM;
}

int pj_put_int64(json_t *obj, const char *name, int64_t v)
{
	char text[24];
	if (!v)
		return 0;
	snprintf(text, sizeof text, "%" PRId64, v);
	return put(obj, name, json_string(text));
}

int pj_put_uint32(json_t *obj, const char *name, uint32_t v)
{
	return v ? put(obj, name, json_integer(v)) : 0;
}

int pj_put_int32(json_t *obj, const char *name, int32_t v)
{
	return v ? put(obj, name, json_integer(v)) : 0;
}

int pj_put_bool(json_t *obj, const char *name, bool v)
{
	return v ? put(obj, name, json_true()) : 0;
}

int pj_put_string(json_t *obj, const char *name, const char *s)
{
	return s && *s ? put(obj, name, json_string(s)) : 0;
}

int pj_put_bytes(json_t *obj, const char *name, const void *buf, size_t len)
{
	if (!len)
		return 0;
	char *b64 = base64_encode(buf, len);
	if (!b64)
		return -ENOMEM;
	int r = put(obj, name, json_string(b64));
	free(b64);
	return r;
}

void pj_timestamp(int64_t seconds, uint32_t nanos, char out[40])
{
	struct tm tm;
	time_t t = (time_t)seconds;
	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof tm);
	size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	nanos %= 1000000000u;
	if (nanos % 1000000 == 0 && nanos)
		n += (size_t)snprintf(out + n, 40 - n, ".%03u", nanos / 1000000);
	else if (nanos % 1000 == 0 && nanos)
		n += (size_t)snprintf(out + n, 40 - n, ".%06u", nanos / 1000);
	else if (nanos)
		n += (size_t)snprintf(out + n, 40 - n, ".%09u", nanos);
	snprintf(out + n, 40 - n, "Z");
}
