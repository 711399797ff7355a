#include "config.h"

/* text/event-stream for the CLI (client-sse.h), as the HTML standard
 * reads it: "event:", "data:" (joined with newlines), "id:", comments
 * (":"), a blank line ending each event. */
#include <stdlib.h>
#include <string.h>

#include "client-sse.h"

void sse_reader_init(struct sse_reader *r, sse_event_fn fn, void *fn_data)
{
	*r = (struct sse_reader){ .fn = fn, .fn_data = fn_data };
}

void sse_reader_free(struct sse_reader *r)
{
	free(r->buf);
	free(r->event);
	free(r->data);
	*r = (struct sse_reader){ 0 };
}

static int line(struct sse_reader *r, char *text, size_t len, wr_error *e)
{
	if (len == 0) {
		if (!r->data)
			return 0;
		int rc = r->fn(r->fn_data, r->event ? r->event : "message", r->data, r->has_id ? r->id : NULL, e);
		free(r->event);
		free(r->data);
		r->event = r->data = NULL;
		r->data_len = 0;
		return rc;
	}
	char *colon = memchr(text, ':', len);
	size_t name_len = colon ? (size_t)(colon - text) : len;
	const char *value = colon ? colon + 1 + (colon[1] == ' ') : "";
	size_t value_len = strlen(value);
	if (name_len == 0)
		return 0; /* a comment: the keep-alive */
	if (name_len == 5 && !memcmp(text, "event", 5)) {
		free(r->event);
		if (!(r->event = strdup(value)))
			return wr_error_set(e, ENOMEM, "event stream");
	} else if (name_len == 4 && !memcmp(text, "data", 4)) {
		char *joined = realloc(r->data, r->data_len + value_len + 2);
		if (!joined)
			return wr_error_set(e, ENOMEM, "event stream");
		if (r->data)
			joined[r->data_len++] = '\n';
		memcpy(joined + r->data_len, value, value_len + 1);
		r->data = joined;
		r->data_len += value_len;
	} else if (name_len == 2 && !memcmp(text, "id", 2) && value_len < sizeof r->id) {
		memcpy(r->id, value, value_len + 1);
		r->has_id = true;
	}
	return 0;
}

int sse_reader_feed(struct sse_reader *r, const char *bytes, size_t len, wr_error *e)
{
	if (r->len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 65536;
		while (cap < r->len + len + 1)
			cap *= 2;
		char *grown = realloc(r->buf, cap);
		if (!grown)
			return wr_error_set(e, ENOMEM, "event stream");
		r->buf = grown;
		r->cap = cap;
	}
	memcpy(r->buf + r->len, bytes, len);
	r->len += len;
	size_t start = 0;
	int rc = 0;
	for (char *nl; rc == 0 && (nl = memchr(r->buf + start, '\n', r->len - start));) {
		size_t line_len = (size_t)(nl - (r->buf + start));
		*nl = '\0';
		if (line_len && r->buf[start + line_len - 1] == '\r')
			r->buf[start + --line_len] = '\0';
		rc = line(r, r->buf + start, line_len, e);
		start = (size_t)(nl - r->buf) + 1;
	}
	memmove(r->buf, r->buf + start, r->len - start);
	r->len -= start;
	return rc;
}

int sse_reader_pump(struct sse_reader *r, struct http_conn *c, wr_error *e)
{
	char buf[16384];
	int rc = 0;
	c->no_wait = true;
	while (rc == 0) {
		ssize_t n = http_read_body(c, buf, sizeof buf, e);
		if (n == -EAGAIN)
			break;
		if (n < 0) {
			rc = (int)n;
		} else if (n == 0) {
			wr_error_set(e, 0, "warrend ended the stream before the command's exit");
			rc = -EPIPE;
		} else {
			rc = sse_reader_feed(r, buf, (size_t)n, e);
		}
	}
	c->no_wait = false;
	return rc;
}

int sse_reader_step(struct sse_reader *r, struct http_conn *c, wr_error *e)
{
	ssize_t n = http_fill(c, e);
	if (n < 0)
		return (int)n;
	int rc = sse_reader_pump(r, c, e);
	if (rc == 0 && n == 0) {
		wr_error_set(e, 0, "warrend ended the stream before the command's exit");
		return -EPIPE;
	}
	return rc;
}

int sse_reader_run(struct sse_reader *r, struct http_conn *c, wr_error *e)
{
	int rc;
	while ((rc = sse_reader_step(r, c, e)) == 0)
		;
	return rc;
}
