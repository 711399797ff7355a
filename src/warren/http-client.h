/* A small blocking HTTP/1.1 client for the CLI: one request per connection
 * (Connection: close) over a unix socket or TCP, responses with
 * Content-Length, chunked or close-delimited bodies, read incrementally so
 * event streams and large downloads never sit whole in memory. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

enum http_body_kind { HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED, HTTP_BODY_UNTIL_CLOSE };

struct http_conn {
	int fd;
	char host[300];             /* the Host header: "HOST:PORT", or "localhost" on a unix socket */
	char buf[16384];
	size_t start, end;          /* unread bytes are buf[start..end) */
	int status;                 /* of the response, after http_read_head */
	char content_type[128];     /* "" when absent */
	int64_t content_length;     /* -1 when absent */
	enum http_body_kind body_kind;
	uint64_t left;              /* bytes left in the body or the current chunk */
	bool chunk_seen;            /* a chunk's data was read: its CRLF comes next */
	bool in_trailers;           /* the last chunk was read: trailers up to a blank line */
	bool body_done;
	const char *capture;        /* a response header to keep (set after http_connect) … */
	char captured[256];         /* … its value, "" when absent */
	bool no_wait;               /* reads of the body take only what is buffered (-EAGAIN) */
};

/* Where the daemon listens: "unix:/path", "http://host[:port][/]". */
struct http_url {
	char *unix_path;            /* set for unix: */
	char *host, *port;          /* set for http: (port defaults to 80) */
};
int http_url_parse(const char *text, struct http_url *u, wr_error *e);
void http_url_free(struct http_url *u);

/* Connects to url. The error names the url, as in
 * "cannot reach warrend at unix:/x.sock: No such file or directory …". */
int http_connect(const char *url, struct http_conn *c, wr_error *e);
void http_close(struct http_conn *c);

/* Sends the request line and headers. token may be NULL (no Authorization);
 * content_type NULL means no body (and no Content-Length). */
int http_send_head(struct http_conn *c, const char *method, const char *target, const char *token,
		   const char *content_type, uint64_t body_len, wr_error *e);
/* The same with more header lines ("Name: value\r\n" each; NULL: none). */
int http_send_head_extra(struct http_conn *c, const char *method, const char *target, const char *token,
			 const char *content_type, uint64_t body_len, const char *extra, wr_error *e);
/* Sends body bytes (all of them). */
int http_send(struct http_conn *c, const void *buf, size_t len, wr_error *e);

/* Reads the status line and headers of the final response (1xx skipped). */
int http_read_head(struct http_conn *c, wr_error *e);
/* Reads up to len bytes of the body: > 0 bytes read, 0 at its end, or
 * -errno (-EAGAIN with no_wait when the socket would have to be read). */
ssize_t http_read_body(struct http_conn *c, void *buf, size_t len, wr_error *e);
/* One read from the socket into the buffer (after poll said it is
 * readable): > 0, 0 at EOF, or -errno. */
ssize_t http_fill(struct http_conn *c, wr_error *e);
/* Reads the whole body (at most max bytes, else -EFBIG) into a new
 * NUL-terminated buffer. */
int http_read_body_all(struct http_conn *c, size_t max, char **out, size_t *out_len, wr_error *e);

/* Percent-encodes text for a URL path; '/' kept when keep_slash. */
char *http_escape_path(const char *text, bool keep_slash);
