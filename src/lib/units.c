#include "config.h"
#include "units.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define KIB UINT64_C(1024)

/* A non-negative decimal as written by people: "12", "1.5", "0.25". No sign,
 * no exponent, no spaces: strtod would accept all three, and a policy that
 * says " 5M" or "1e3" is more likely a typo than a wish. */
struct decimal {
	uint64_t whole;
	uint64_t frac;       /* the digits after the point, as an integer */
	uint64_t frac_scale; /* 10^(number of those digits), 1 when none */
};

/* Fraction digits past this many are below any unit we scale by. */
#define MAX_FRACTION_DIGITS 18

static int parse_decimal(const char *text, struct decimal *d, const char **rest)
{
	const char *s = text;
	*d = (struct decimal){ .frac_scale = 1 };

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		unsigned digit = (unsigned)(*s - '0');
		if (d->whole > (UINT64_MAX - digit) / 10)
			return -ERANGE;
		d->whole = d->whole * 10 + digit;
	}
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		for (int n = 0; *s >= '0' && *s <= '9'; s++, n++) {
			if (n >= MAX_FRACTION_DIGITS)
				continue;
			d->frac = d->frac * 10 + (uint64_t)(*s - '0');
			d->frac_scale *= 10;
		}
	}
	*rest = s;
	return 0;
}

/* d * unit, rounded down, at most `max`. */
static int decimal_scale(const struct decimal *d, uint64_t unit, uint64_t max, uint64_t *out)
{
	unsigned __int128 v = (unsigned __int128)d->whole * unit +
			      (unsigned __int128)d->frac * unit / d->frac_scale;
	if (v > max)
		return -ERANGE;
	*out = (uint64_t)v;
	return 0;
}

/* Case-insensitive match of a whole suffix. */
static bool suffix_is(const char *s, const char *want)
{
	return strcasecmp(s, want) == 0;
}

static uint64_t size_unit(const char *suffix)
{
	static const struct { char letter; uint64_t unit; } units[] = {
		{ 'k', KIB }, { 'm', KIB * KIB }, { 'g', KIB * KIB * KIB },
		{ 't', KIB * KIB * KIB * KIB },
	};

	if (*suffix == '\0' || suffix_is(suffix, "b"))
		return 1;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if ((suffix[0] | 0x20) != units[i].letter)
			continue;
		/* "K", "KB", "KiB": all binary, like every tool that sizes memory */
		const char *tail = suffix + 1;
		if (*tail == '\0' || suffix_is(tail, "b") || suffix_is(tail, "ib"))
			return units[i].unit;
	}
	return 0;
}

int parse_size(const char *text, uint64_t *bytes)
{
	struct decimal d;
	const char *suffix;
	int r = parse_decimal(text, &d, &suffix);
	if (r < 0)
		return r;
	uint64_t unit = size_unit(suffix);
	if (unit == 0)
		return -EINVAL;
	return decimal_scale(&d, unit, INT64_MAX, bytes);
}

int parse_duration(const char *text, uint64_t *ms)
{
	static const struct { const char *suffix; uint64_t ms; } units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60 * 1000 },
		{ "h", 60 * 60 * 1000 },
	};
	struct decimal d;
	const char *suffix;
	int r = parse_decimal(text, &d, &suffix);
	if (r < 0)
		return r;
	/* case matters here: "m" is minutes and "M" would be a guess */
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(suffix, units[i].suffix) == 0)
			return decimal_scale(&d, units[i].ms, INT64_MAX, ms);
	return -EINVAL;
}

#define MAX_CPUS 1024

int parse_cpus(const char *text, uint32_t *millicpus)
{
	struct decimal d;
	const char *rest;
	uint64_t v;
	int r = parse_decimal(text, &d, &rest);
	if (r < 0)
		return r;
	if (*rest != '\0')
		return -EINVAL;
	r = decimal_scale(&d, 1000, MAX_CPUS * 1000, &v);
	if (r < 0)
		return r;
	if (v == 0) /* "0", or finer than a thousandth of a CPU */
		return -EINVAL;
	*millicpus = (uint32_t)v;
	return 0;
}

void format_size(uint64_t bytes, char *buf, size_t len)
{
	static const char letters[] = "TGMK";
	for (int shift = 40, i = 0; shift > 0; shift -= 10, i++) {
		uint64_t unit = UINT64_C(1) << shift;
		if (bytes != 0 && bytes % unit == 0) {
			snprintf(buf, len, "%" PRIu64 "%c", bytes / unit, letters[i]);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64, bytes);
}

void format_duration(uint64_t ms, char *buf, size_t len)
{
	static const struct { uint64_t ms; const char *suffix; } units[] = {
		{ 60 * 60 * 1000, "h" }, { 60 * 1000, "m" }, { 1000, "s" },
	};
	if (ms == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (ms % units[i].ms == 0) {
			snprintf(buf, len, "%" PRIu64 "%s", ms / units[i].ms, units[i].suffix);
			return;
		}
	}
	snprintf(buf, len, "%" PRIu64 "ms", ms);
}

void format_cpus(uint32_t millicpus, char *buf, size_t len)
{
	char frac[4];
	uint32_t thousandths = millicpus % 1000;
	if (thousandths == 0) {
		snprintf(buf, len, "%" PRIu32, millicpus / 1000);
		return;
	}
	snprintf(frac, sizeof frac, "%03" PRIu32, thousandths);
	for (int i = 2; i > 0 && frac[i] == '0'; i--)
		frac[i] = '\0';
	snprintf(buf, len, "%" PRIu32 ".%s", millicpus / 1000, frac);
}
