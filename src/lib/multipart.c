#include "config.h"
#include "multipart.h"

#include <string.h>
#include <strings.h>

static const char *find(const char *hay, size_t hay_len, const char *needle, size_t needle_len)
{
	return needle_len <= hay_len ? memmem(hay, hay_len, needle, needle_len) : NULL;
}

/* The value of `key=` in a header's parameters, quoted or not. */
static bool header_param(const char *h, size_t len, const char *key, const char **val, size_t *val_len)
{
	size_t klen = strlen(key);
	for (size_t i = 0; i + klen < len; i++) {
		/* the key must start a parameter: after ';' and spaces */
		if (strncasecmp(h + i, key, klen) || h[i + klen] != '=')
			continue;
		size_t j = i;
		while (j > 0 && (h[j - 1] == ' ' || h[j - 1] == '\t'))
			j--;
		if (j == 0 || h[j - 1] != ';')
			continue;
		const char *v = h + i + klen + 1, *end = h + len;
		if (v < end && *v == '"') {
			const char *q = memchr(v + 1, '"', (size_t)(end - v - 1));
			if (!q)
				return false;
			*val = v + 1;
			*val_len = (size_t)(q - v - 1);
		} else {
			const char *stop = v;
			while (stop < end && *stop != ';' && *stop != ' ' && *stop != '\t')
				stop++;
			*val = v;
			*val_len = (size_t)(stop - v);
		}
		return true;
	}
	return false;
}

static int parse_headers(const char *h, size_t len, struct multipart_part *part, wr_error *e)
{
	bool disposition = false;
	while (len > 0) {
		const char *eol = find(h, len, "\r\n", 2);
		size_t line_len = eol ? (size_t)(eol - h) : len;
		static const char cd[] = "content-disposition:";
		if (line_len > sizeof cd - 1 && !strncasecmp(h, cd, sizeof cd - 1)) {
			const char *v = h + sizeof cd - 1;
			size_t vlen = line_len - (sizeof cd - 1);
			while (vlen && (*v == ' ' || *v == '\t'))
				v++, vlen--;
			if (vlen < 9 || strncasecmp(v, "form-data", 9))
				return wr_error_set(e, EINVAL, "multipart: a part is not form-data");
			if (!header_param(v, vlen, "name", &part->name, &part->name_len))
				return wr_error_set(e, EINVAL, "multipart: a part has no name");
			if (!header_param(v, vlen, "filename", &part->filename, &part->filename_len))
				part->filename = NULL;
			disposition = true;
		}
		if (!eol)
			break;
		len -= line_len + 2;
		h = eol + 2;
	}
	return disposition ? 0 : wr_error_set(e, EINVAL, "multipart: a part has no Content-Disposition");
}

int multipart_parse(const char *content_type, size_t ct_len, const char *body, size_t len,
		    struct multipart_part *parts, size_t max_parts, size_t *n_parts, wr_error *e)
{
	*n_parts = 0;
	static const char mfd[] = "multipart/form-data";
	if (ct_len < sizeof mfd - 1 || strncasecmp(content_type, mfd, sizeof mfd - 1))
		return wr_error_set(e, EINVAL, "expected Content-Type multipart/form-data");
	const char *b;
	size_t blen;
	if (!header_param(content_type, ct_len, "boundary", &b, &blen) || blen == 0 || blen > 70)
		return wr_error_set(e, EINVAL, "multipart: no boundary in the Content-Type");
	char delim[80];
	delim[0] = '-';
	delim[1] = '-';
	memcpy(delim + 2, b, blen);
	size_t dlen = blen + 2;

	/* The first delimiter may be preceded by a preamble. */
	const char *p = find(body, len, delim, dlen), *end = body + len;
	if (!p)
		return wr_error_set(e, EINVAL, "multipart: the boundary never appears in the body");
	p += dlen;
	for (;;) {
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return 0; /* the closing delimiter */
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			return wr_error_set(e, EINVAL, "multipart: malformed delimiter line");
		p += 2;
		const char *hdr_end = find(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (!hdr_end)
			return wr_error_set(e, EINVAL, "multipart: a part's headers never end");
		if (*n_parts == max_parts)
			return wr_error_set(e, E2BIG, "multipart: more than %zu parts", max_parts);
		struct multipart_part *part = &parts[*n_parts];
		*part = (struct multipart_part){ 0 };
		int r = parse_headers(p, (size_t)(hdr_end - p), part, e);
		if (r < 0)
			return r;
		const char *data = hdr_end + 4;
		/* The data ends at CRLF + delimiter. */
		const char *next = NULL;
		for (const char *s = data; s < end;) {
			const char *c = find(s, (size_t)(end - s), delim, dlen);
			if (!c)
				break;
			if (c - data >= 2 && c[-2] == '\r' && c[-1] == '\n') {
				next = c;
				break;
			}
			s = c + 1;
		}
		if (!next)
			return wr_error_set(e, EINVAL, "multipart: the body ends inside a part (no closing boundary)");
		part->data = data;
		part->len = (size_t)(next - 2 - data);
		(*n_parts)++;
		p = next + dlen;
	}
}
