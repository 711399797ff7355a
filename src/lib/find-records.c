#include "config.h"

/* Records printed by find -printf (find-records.h). */
#include <errno.h>
#include <string.h>

#include "find-records.h"

#define N_FIELDS 8

static bool all_digits(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return len > 0;
}

/* Decimal digits into a non-negative int64 (at most 18 digits: no overflow). */
static bool decimal(const char *p, size_t len, int64_t *out)
{
	if (!all_digits(p, len) || len > 18)
		return false;
	int64_t v = 0;
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (p[i] - '0');
	*out = v;
	return true;
}

static bool octal_mode(const char *p, size_t len, uint32_t *out)
{
	if (len == 0 || len > 4)
		return false;
	uint32_t v = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '7')
			return false;
		v = v << 3 | (uint32_t)(p[i] - '0');
	}
	*out = v;
	return true;
}

/* "1700000000.1234567890" (find prints ten fractional digits), or whole
 * seconds; a time before 1970 prints a minus sign. */
static bool mtime(const char *p, size_t len, int64_t *s, uint32_t *ns)
{
	bool neg = len && p[0] == '-';
	const char *dot = memchr(p, '.', len);
	size_t whole = dot ? (size_t)(dot - p) : len;
	if (!decimal(p + neg, whole - neg, s))
		return false;
	if (neg)
		*s = -*s;
	*ns = 0;
	if (!dot)
		return true;
	size_t frac = len - whole - 1;
	if (!all_digits(dot + 1, frac) || frac > 10)
		return false;
	uint32_t scale = 100000000;
	for (size_t i = 0; i < frac && i < 9; i++, scale /= 10)
		*ns += (uint32_t)(dot[1 + i] - '0') * scale;
	return true;
}

ssize_t find_record_next(const char *buf, size_t len, size_t max_field, struct find_record *out, const char **why)
{
	struct find_field f[N_FIELDS];
	size_t at = 0;
	*out = (struct find_record){ 0 };
	for (int i = 0; i < N_FIELDS; i++) {
		const char *nul = memchr(buf + at, '\0', len - at);
		if (!nul) {
			if (len - at > max_field) {
				*why = "a field is too long";
				return -EBADMSG;
			}
			return 0;
		}
		f[i] = (struct find_field){ buf + at, (size_t)(nul - (buf + at)) };
		at += f[i].len + 1;
		if (f[i].len > max_field) {
			*why = "a field is too long";
			return -EBADMSG;
		}
		if (i == 0 && f[0].len == 1 && f[0].p[0] == 'E') {
			out->end = true;
			return (ssize_t)at;
		}
	}
	if (f[0].len != 1 || !strchr("fdlpscbDU?", f[0].p[0])) {
		*why = "unknown type";
		return -EBADMSG;
	}
	out->type = strchr("DU", f[0].p[0]) ? '?' : f[0].p[0];
	if (!octal_mode(f[1].p, f[1].len, &out->mode)) {
		*why = "bad mode";
		return -EBADMSG;
	}
	if (!decimal(f[2].p, f[2].len, &out->size)) {
		*why = "bad size";
		return -EBADMSG;
	}
	if (!mtime(f[3].p, f[3].len, &out->mtime_s, &out->mtime_ns)) {
		*why = "bad modification time";
		return -EBADMSG;
	}
	if (!f[7].len) {
		*why = "empty path";
		return -EBADMSG;
	}
	out->owner = f[4];
	out->group = f[5];
	out->target = f[6];
	out->path = f[7];
	return (ssize_t)at;
}
