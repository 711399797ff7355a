/* Signed artifact URLs: see artifact-url.h. */
#include "config.h"
#include "artifact-url.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "encode.h"

#define SIG_LEN 32 /* SHA-256 */

/* What is signed: a version, then each field on its own line. Only the
 * name can hold a newline: the id is fixed-length hex and the expiry, last,
 * a number, so no two (id, name, expiry) give the same text. */
static void sign(const uint8_t key[ARTIFACT_KEY_LEN], const char *id, const char *name, int64_t expires,
		 uint8_t out[SIG_LEN])
{
	char msg[64 + ARTIFACT_ID_LEN + ARTIFACT_NAME_MAX];
	int n = snprintf(msg, sizeof msg, "warren-artifact-v1\n%s\n%s\n%lld", id, name, (long long)expires);
	unsigned int len = SIG_LEN;
	HMAC(EVP_sha256(), key, ARTIFACT_KEY_LEN, (const unsigned char *)msg, (size_t)n, out, &len);
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_' || c == '~';
}

static bool valid_id(const char *id, size_t len)
{
	if (len != ARTIFACT_ID_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

static bool valid_name(const char *name, size_t len)
{
	return len > 0 && len <= ARTIFACT_NAME_MAX && !memchr(name, '/', len) && !memchr(name, '\0', len) &&
	       !(len == 1 && name[0] == '.') && !(len == 2 && !memcmp(name, "..", 2));
}

int artifact_url_sign(const uint8_t key[ARTIFACT_KEY_LEN], const char *id, const char *name, int64_t expires,
		      char *out, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	if (!valid_id(id, strlen(id)) || !valid_name(name, strlen(name)))
		return -EINVAL;
	uint8_t sig[SIG_LEN];
	sign(key, id, name, expires, sig);
	size_t o = (size_t)snprintf(out, len, ARTIFACT_URL_PREFIX "%s/", id);
	for (const unsigned char *c = (const unsigned char *)name; *c && o + 4 < len; c++) {
		if (unreserved(*c)) {
			out[o++] = (char)*c;
		} else {
			out[o++] = '%';
			out[o++] = hex[*c >> 4];
			out[o++] = hex[*c & 15];
		}
	}
	o += (size_t)snprintf(out + o, len > o ? len - o : 0, "?expires=%lld&signature=", (long long)expires);
	if (o + 2 * SIG_LEN + 1 > len)
		return -ENAMETOOLONG;
	hex_encode(sig, SIG_LEN, out + o);
	return 0;
}

/* Percent-decodes s[0..len) into out (at most max bytes): the length, or -1. */
static ssize_t decode(const char *s, size_t len, char *out, size_t max)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			int hi = i + 2 < len ? hex_value(s[i + 1]) : -1, lo = hi >= 0 ? hex_value(s[i + 2]) : -1;
			if (lo < 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		if (o == max)
			return -1;
		out[o++] = (char)c;
	}
	return (ssize_t)o;
}

/* expires=…&signature=… in any order; other parameters are ignored, ours
 * may not repeat. */
static bool parse_query(const char *q, size_t len, int64_t *expires, uint8_t sig[SIG_LEN])
{
	bool have_expires = false, have_sig = false;
	for (size_t at = 0; at < len;) {
		const char *p = q + at, *amp = memchr(p, '&', len - at);
		size_t n = amp ? (size_t)(amp - p) : len - at;
		at += n + 1;
		if (n > 8 && !memcmp(p, "expires=", 8)) {
			if (have_expires || n - 8 > 18)
				return false;
			int64_t v = 0;
			for (size_t i = 8; i < n; i++) {
				if (p[i] < '0' || p[i] > '9')
					return false;
				v = v * 10 + (p[i] - '0');
			}
			*expires = v;
			have_expires = true;
		} else if (n > 10 && !memcmp(p, "signature=", 10)) {
			if (have_sig || n - 10 != 2 * SIG_LEN)
				return false;
			for (size_t i = 0; i < SIG_LEN; i++) {
				int hi = hex_value(p[10 + 2 * i]), lo = hex_value(p[11 + 2 * i]);
				if (hi < 0 || lo < 0)
					return false;
				sig[i] = (uint8_t)(hi << 4 | lo);
			}
			have_sig = true;
		}
	}
	return have_expires && have_sig;
}

enum artifact_url_verdict artifact_url_check(const uint8_t key[ARTIFACT_KEY_LEN], const char *target, size_t len,
					     int64_t now, struct artifact_url *out)
{
	const size_t plen = strlen(ARTIFACT_URL_PREFIX);
	memset(out, 0, sizeof *out);
	if (len < plen || memcmp(target, ARTIFACT_URL_PREFIX, plen))
		return ARTIFACT_URL_NOT_OURS;
	const char *q = memchr(target, '?', len);
	size_t path_len = q ? (size_t)(q - target) : len;
	const char *id = target + plen, *slash = memchr(id, '/', path_len - plen);
	if (!slash || !valid_id(id, (size_t)(slash - id)))
		return ARTIFACT_URL_BAD;
	memcpy(out->id, id, ARTIFACT_ID_LEN);
	ssize_t n = decode(slash + 1, (size_t)(target + path_len - slash - 1), out->name, ARTIFACT_NAME_MAX);
	uint8_t given[SIG_LEN], want[SIG_LEN];
	if (n < 0 || !valid_name(out->name, (size_t)n) || !q ||
	    !parse_query(q + 1, (size_t)(target + len - q - 1), &out->expires, given))
		return ARTIFACT_URL_BAD;
	sign(key, out->id, out->name, out->expires, want);
	if (CRYPTO_memcmp(given, want, SIG_LEN) != 0)
		return ARTIFACT_URL_BAD;
	return now > out->expires ? ARTIFACT_URL_EXPIRED : ARTIFACT_URL_OK;
}
