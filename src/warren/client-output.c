/* What the client subcommands print for people: humanized sizes and
 * times, aligned tables. */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "client.h"

void human_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	if (bytes < 1024) {
		snprintf(buf, len, "%llu", (unsigned long long)bytes);
		return;
	}
	double v = (double)bytes;
	size_t u = 0;
	for (v /= 1024; v >= 1024 && u + 1 < sizeof units - 1; v /= 1024)
		u++;
	/* like ls -h: one decimal below 10, none above */
	if (v < 9.95)
		snprintf(buf, len, "%.1f%c", v, units[u]);
	else
		snprintf(buf, len, "%.0f%c", v, units[u]);
}

void human_duration(uint64_t s, char *buf, size_t len)
{
	if (s < 60)
		snprintf(buf, len, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%llud%02lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s % 86400 / 3600));
}

int parse_rfc3339(const char *text, time_t *out)
{
	struct tm tm = { 0 };
	const char *p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	long offset = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int h, m;
		if (sscanf(p + 1, "%2d:%2d", &h, &m) != 2)
			return -EINVAL;
		offset = (h * 3600L + m * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	*out = timegm(&tm) - offset;
	return 0;
}

/* One unit, as people say it: "3s", "5m", "2h", "4d". */
static void short_age(uint64_t s, char *buf, size_t len)
{
	if (s < 60)
		snprintf(buf, len, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%llum", (unsigned long long)(s / 60));
	else if (s < 86400)
		snprintf(buf, len, "%lluh", (unsigned long long)(s / 3600));
	else
		snprintf(buf, len, "%llud", (unsigned long long)(s / 86400));
}

void human_time(const char *text, time_t now, char *buf, size_t len)
{
	time_t t;
	char age[32];
	if (!text || parse_rfc3339(text, &t) < 0) {
		snprintf(buf, len, "%s", text ? text : "-");
		return;
	}
	if (t <= now) {
		short_age((uint64_t)(now - t), age, sizeof age);
		snprintf(buf, len, "%s ago", age);
	} else {
		short_age((uint64_t)(t - now), age, sizeof age);
		snprintf(buf, len, "in %s", age);
	}
}

int table_add(struct table *t, ...)
{
	va_list ap;
	if (t->n_cells + t->n_cols > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : t->n_cols * 16;
		char **cells = realloc(t->cells, cap * sizeof *cells);
		if (!cells)
			return -ENOMEM;
		t->cells = cells;
		t->cap = cap;
	}
	va_start(ap, t);
	for (size_t i = 0; i < t->n_cols; i++) {
		const char *s = va_arg(ap, const char *);
		t->cells[t->n_cells + i] = strdup(s ? s : "-");
		if (!t->cells[t->n_cells + i]) {
			while (i-- > 0)
				free(t->cells[t->n_cells + i]);
			va_end(ap);
			return -ENOMEM;
		}
	}
	va_end(ap);
	t->n_cells += t->n_cols;
	return 0;
}

void table_print(const struct table *t, FILE *out)
{
	size_t width[16] = { 0 };
	for (size_t i = 0; i < t->n_cells; i++) {
		size_t col = i % t->n_cols, w = strlen(t->cells[i]);
		if (col < ARRAY_SIZE(width) && w > width[col])
			width[col] = w;
	}
	for (size_t i = 0; i < t->n_cells; i++) {
		size_t col = i % t->n_cols;
		if (col + 1 == t->n_cols)
			fprintf(out, "%s\n", t->cells[i]);
		else
			fprintf(out, "%-*s  ", (int)(col < ARRAY_SIZE(width) ? width[col] : 0), t->cells[i]);
	}
}

void table_free(struct table *t)
{
	for (size_t i = 0; i < t->n_cells; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->n_cells = t->cap = 0;
}
