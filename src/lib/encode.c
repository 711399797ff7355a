#include "config.h"
#include "encode.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The length (1 to 4) of the well-formed character at s, or 0 when s
 * holds none: a bad lead or continuation byte, an overlong form, a
 * surrogate or a code point above U+10FFFF, or (*cut set) a character the
 * end cuts off. NUL is a character here. */
static size_t utf8_char(const unsigned char *s, const unsigned char *end, bool *cut)
{
	unsigned c = *s;
	size_t n;
	uint32_t cp, min;
	*cut = false;
	if (c < 0x80)
		return 1;
	else if ((c & 0xe0) == 0xc0)
		n = 1, cp = c & 0x1f, min = 0x80;
	else if ((c & 0xf0) == 0xe0)
		n = 2, cp = c & 0x0f, min = 0x800;
	else if ((c & 0xf8) == 0xf0)
		n = 3, cp = c & 0x07, min = 0x10000;
	else
		return 0;
	if ((size_t)(end - s) <= n) {
		*cut = true;
		return 0;
	}
	for (size_t i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n + 1;
}

/* Checks buf as UTF-8 without NUL. With tail non-NULL a character cut
 * off by the end of buf is allowed (a piece of a longer output): its
 * length goes there. */
static bool utf8_check(const char *buf, size_t len, size_t *tail)
{
	const unsigned char *s = (const unsigned char *)buf, *end = s + len;
	if (tail)
		*tail = 0;
	while (s < end) {
		bool cut = false; /* NUL: not asked */
		size_t n = *s ? utf8_char(s, end, &cut) : 0;
		if (n == 0 && cut && tail) {
			*tail = (size_t)(end - s); /* checked whole once the rest arrives */
			return true;
		}
		if (n == 0)
			return false;
		s += n;
	}
	return true;
}

char *utf8_lossy(const char *buf, size_t len, size_t *out_len)
{
	const unsigned char *s = (const unsigned char *)buf, *end = s + len;
	if (len > (SIZE_MAX - 1) / 3)
		return NULL;
	char *out = malloc(len * 3 + 1), *o = out;
	if (!out)
		return NULL;
	while (s < end) {
		bool cut;
		size_t n = utf8_char(s, end, &cut);
		if (n == 0) {
			memcpy(o, "\xef\xbf\xbd", 3); /* U+FFFD REPLACEMENT CHARACTER */
			o += 3;
			s++;
			continue;
		}
		memcpy(o, s, n);
		o += n;
		s += n;
	}
	*o = '\0';
	*out_len = (size_t)(o - out);
	return out;
}

bool utf8_valid(const char *buf, size_t len)
{
	return utf8_check(buf, len, NULL);
}

void output_scan_feed(struct output_scan *s, const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		s->escapes += c < 0x20 && c != '\b' && c != '\t' && c != '\n' && c != '\f' && c != '\r';
	}
	s->len += len;
	if (s->invalid)
		return;
	if (s->carry_len) {
		/* the character the previous piece cut off: complete it first */
		unsigned char lead = s->carry[0];
		size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2, take = want - s->carry_len;
		if (take > len)
			take = len;
		memcpy(s->carry + s->carry_len, buf, take);
		s->carry_len += take;
		buf += take;
		len -= take;
		if (s->carry_len < want)
			return;
		s->carry_len = 0;
		if (!utf8_valid((const char *)s->carry, want)) {
			s->invalid = true;
			return;
		}
	}
	size_t tail;
	if (!utf8_check(buf, len, &tail)) {
		s->invalid = true;
		return;
	}
	memcpy(s->carry, buf + len - tail, tail);
	s->carry_len = tail;
}

bool output_scan_needs_base64(const struct output_scan *s)
{
	/* each escape adds 5 bytes: more than len / 2 once over 1 in 10 */
	return s->invalid || s->carry_len || s->escapes > s->len / 10;
}

bool output_needs_base64(const char *buf, size_t len)
{
	struct output_scan s = { 0 };
	output_scan_feed(&s, buf, len);
	return output_scan_needs_base64(&s);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *data, size_t len)
{
	const unsigned char *in = data;
	if (len > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
	if (!out)
		return NULL;
	size_t i = 0;
	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	if (i < len) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0);
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

void *base64_decode(const char *text, size_t len, size_t *out_len)
{
	if (len % 4 != 0) {
		errno = EINVAL;
		return NULL;
	}
	unsigned char *out = malloc(len / 4 * 3 + 1), *o = out;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];
		for (int k = 0; k < 4; k++) {
			v[k] = b64_value(text[i + k]);
			/* '=' only as the last one or two characters */
			if (v[k] < 0 && !(text[i + k] == '=' && i + 4 == len && k >= 2 &&
					  (k == 3 || text[i + 3] == '='))) {
				free(out);
				errno = EINVAL;
				return NULL;
			}
		}
		*o++ = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (v[2] >= 0)
			*o++ = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		if (v[3] >= 0) {
			if (v[2] < 0) {
				free(out);
				errno = EINVAL;
				return NULL;
			}
			*o++ = (unsigned char)((v[2] & 3) << 6 | v[3]);
		}
	}
	*out_len = (size_t)(o - out);
	return out;
}

int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void hex_encode(const void *buf, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = buf;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * len] = '\0';
}
