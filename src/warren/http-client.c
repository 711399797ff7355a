#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "http-client.h"

void http_url_free(struct http_url *u)
{
	free(u->unix_path);
	free(u->host);
	free(u->port);
	*u = (struct http_url){ 0 };
}

static int parse_http_url(const char *rest, const char *text, struct http_url *u, wr_error *e)
{
	/* rest is "host[:port][/]" or "[v6]:port" */
	const char *host = rest, *host_end, *port = NULL;
	if (*rest == '[') {
		host = rest + 1;
		host_end = strchr(host, ']');
		if (!host_end)
			return wr_error_set(e, 0, "bad URL '%s': no ']' after the IPv6 address", text);
		if (host_end[1] == ':')
			port = host_end + 2;
		else if (host_end[1] != '\0' && host_end[1] != '/')
			return wr_error_set(e, 0, "bad URL '%s'", text);
	} else {
		host_end = host + strcspn(host, ":/");
		if (*host_end == ':')
			port = host_end + 1;
	}
	size_t port_len = port ? strcspn(port, "/") : 0;
	const char *after = port ? port + port_len : host_end + (*rest == '[');
	if (host_end == host || (port && port_len == 0) || (*after && strcmp(after, "/") != 0))
		return wr_error_set(e, 0, "bad URL '%s': expected http://HOST:PORT or unix:/PATH", text);
	for (size_t i = 0; i < port_len; i++)
		if (!isdigit((unsigned char)port[i]))
			return wr_error_set(e, 0, "bad URL '%s': the port must be a number", text);
	u->host = strndup(host, (size_t)(host_end - host));
	u->port = port ? strndup(port, port_len) : strdup("80");
	if (!u->host || !u->port) {
		http_url_free(u);
		return wr_error_set(e, ENOMEM, "URL");
	}
	return 0;
}

int http_url_parse(const char *text, struct http_url *u, wr_error *e)
{
	*u = (struct http_url){ 0 };
	if (strncmp(text, "unix:", 5) == 0) {
		const char *path = text + 5;
		struct sockaddr_un sa;
		if (path[0] != '/' || strlen(path) >= sizeof sa.sun_path)
			return wr_error_set(e, 0, "bad URL '%s': expected unix:/ABSOLUTE/PATH (at most %zu bytes)",
					    text, sizeof sa.sun_path - 1);
		u->unix_path = strdup(path);
		return u->unix_path ? 0 : wr_error_set(e, ENOMEM, "URL");
	}
	if (strncmp(text, "http://", 7) == 0)
		return parse_http_url(text + 7, text, u, e);
	if (strncmp(text, "https://", 8) == 0)
		return wr_error_set(e, 0, "bad URL '%s': https is not supported; put warrend behind a TLS proxy "
				    "and reach it over http:// on loopback", text);
	return wr_error_set(e, 0, "bad URL '%s': expected http://HOST:PORT or unix:/PATH", text);
}

static int connect_unix(const char *path, int *fd_out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return -errno;
	*fd_out = TAKE_FD(fd);
	return 0;
}

/* 0, -errno from connect(), or a positive getaddrinfo error. */
static int connect_tcp(const char *host, const char *port, int *fd_out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG }, *res;
	int r = getaddrinfo(host, port, &hints, &res);
	if (r != 0)
		return r == EAI_SYSTEM ? -errno : r;
	int err = -ECONNREFUSED;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			*fd_out = fd;
			freeaddrinfo(res);
			return 0;
		}
		err = -errno;
		close(fd);
	}
	freeaddrinfo(res);
	return err;
}

int http_connect(const char *url, struct http_conn *c, wr_error *e)
{
	struct http_url u;
	int r = http_url_parse(url, &u, e);
	if (r < 0)
		return r;
	*c = (struct http_conn){ .fd = -1, .content_length = -1 };
	/* warrend refuses tokenless TCP requests whose Host is not its own
	 * address (DNS rebinding): name it as the URL does. */
	if (u.unix_path)
		snprintf(c->host, sizeof c->host, "localhost");
	else
		snprintf(c->host, sizeof c->host, strchr(u.host, ':') ? "[%s]:%s" : "%s:%s", u.host, u.port);
	r = u.unix_path ? connect_unix(u.unix_path, &c->fd) : connect_tcp(u.host, u.port, &c->fd);
	http_url_free(&u);
	if (r > 0)
		return wr_error_set(e, 0, "cannot reach warrend at %s: %s", url, gai_strerror(r));
	if (r == -EACCES || r == -EPERM)
		return wr_error_set(e, -r, "cannot reach warrend at %s (ask for access to the socket, or use sudo)",
				    url);
	if (r < 0) {
		wr_error_set(e, -r, "cannot reach warrend at %s", url);
		size_t n = strlen(e->message);
		snprintf(e->message + n, sizeof e->message - n, " (is warrend running?)");
		return r;
	}
	return 0;
}

void http_close(struct http_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

int http_send(struct http_conn *c, const void *buf, size_t len, wr_error *e)
{
	const char *p = buf;
	while (len > 0) {
		/* MSG_NOSIGNAL: a daemon that went away is an error, not a SIGPIPE. */
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return wr_error_set(e, errno, "sending the request to warrend");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int http_send_head(struct http_conn *c, const char *method, const char *target, const char *token,
		   const char *content_type, uint64_t body_len, wr_error *e)
{
	return http_send_head_extra(c, method, target, token, content_type, body_len, NULL, e);
}

int http_send_head_extra(struct http_conn *c, const char *method, const char *target, const char *token,
			 const char *content_type, uint64_t body_len, const char *extra, wr_error *e)
{
	_cleanup_free_ char *head = NULL;
	char body_headers[192] = "";
	if (content_type)
		snprintf(body_headers, sizeof body_headers, "Content-Type: %s\r\nContent-Length: %llu\r\n",
			 content_type, (unsigned long long)body_len);
	/* A token with a line break would inject headers: refuse it. */
	if (token && strpbrk(token, "\r\n"))
		return wr_error_set(e, 0, "the token contains a line break");
	int n = asprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: warren/%s\r\n"
			 "Connection: close\r\n%s%s%s%s%s\r\n",
			 method, target, c->host[0] ? c->host : "localhost", PACKAGE_VERSION, body_headers,
			 token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "", extra ? extra : "");
	if (n < 0)
		return wr_error_set(e, ENOMEM, "request");
	return http_send(c, head, (size_t)n, e);
}

ssize_t http_fill(struct http_conn *c, wr_error *e)
{
	if (c->start == c->end)
		c->start = c->end = 0;
	else if (c->end == sizeof c->buf) {
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	if (c->end == sizeof c->buf)
		return wr_error_set(e, 0, "warrend sent a header line longer than %zu bytes", sizeof c->buf);
	for (;;) {
		ssize_t n = read(c->fd, c->buf + c->end, sizeof c->buf - c->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return wr_error_set(e, errno, "reading the reply of warrend");
		c->end += (size_t)n;
		return n;
	}
}

/* Reads more bytes into the buffer: > 0, 0 at EOF, -errno; -EAGAIN
 * instead with no_wait. */
static ssize_t fill(struct http_conn *c, wr_error *e)
{
	return c->no_wait ? -EAGAIN : http_fill(c, e);
}

/* One line without its CRLF, NUL-terminated in place; valid until the
 * next read. */
static int read_line(struct http_conn *c, char **line, wr_error *e)
{
	for (;;) {
		char *nl = memchr(c->buf + c->start, '\n', c->end - c->start);
		if (nl) {
			*line = c->buf + c->start;
			c->start = (size_t)(nl - c->buf) + 1;
			if (nl > *line && nl[-1] == '\r')
				nl--;
			*nl = '\0';
			return 0;
		}
		ssize_t n = fill(c, e);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return wr_error_set(e, 0, "warrend closed the connection in the middle of a reply");
	}
}

static bool parse_u64(const char *s, int base, uint64_t *out)
{
	char *end;
	errno = 0;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!isxdigit((unsigned char)*s))
		return false;
	unsigned long long v = strtoull(s, &end, base);
	*out = v;
	return errno == 0 && end != s;
}

static int parse_header(struct http_conn *c, char *line, bool *chunked, wr_error *e)
{
	char *colon = strchr(line, ':');
	if (!colon)
		return wr_error_set(e, 0, "warrend sent a malformed header line");
	*colon = '\0';
	char *value = colon + 1;
	value += strspn(value, " \t");
	if (strcasecmp(line, "Content-Length") == 0) {
		uint64_t v;
		if (!parse_u64(value, 10, &v) || v > INT64_MAX)
			return wr_error_set(e, 0, "warrend sent a bad Content-Length '%s'", value);
		c->content_length = (int64_t)v;
	} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
		*chunked = strcasestr(value, "chunked") != NULL;
	} else if (strcasecmp(line, "Content-Type") == 0) {
		snprintf(c->content_type, sizeof c->content_type, "%s", value);
	} else if (c->capture && strcasecmp(line, c->capture) == 0) {
		snprintf(c->captured, sizeof c->captured, "%s", value);
	}
	return 0;
}

int http_read_head(struct http_conn *c, wr_error *e)
{
	for (;;) {
		char *line;
		int r = read_line(c, &line, e);
		if (r < 0)
			return r;
		int status;
		if (sscanf(line, "HTTP/1.%*d %3d", &status) != 1 || status < 100 || status > 599)
			return wr_error_set(e, 0, "warrend answered something that is not HTTP/1.1");
		bool chunked = false;
		c->content_type[0] = '\0';
		c->captured[0] = '\0';
		c->content_length = -1;
		for (;;) {
			if ((r = read_line(c, &line, e)) < 0)
				return r;
			if (line[0] == '\0')
				break;
			if ((r = parse_header(c, line, &chunked, e)) < 0)
				return r;
		}
		if (status >= 100 && status < 200)
			continue; /* 100 Continue and friends precede the real answer */
		c->status = status;
		c->body_done = false;
		if (chunked) {
			c->body_kind = HTTP_BODY_CHUNKED;
			c->left = 0;
			c->chunk_seen = false;
			c->in_trailers = false;
		} else if (c->content_length >= 0) {
			c->body_kind = HTTP_BODY_LENGTH;
			c->left = (uint64_t)c->content_length;
			c->body_done = c->left == 0;
		} else {
			c->body_kind = HTTP_BODY_UNTIL_CLOSE;
		}
		if (status == 204 || status == 304)
			c->body_done = true;
		return 0;
	}
}

/* Moves to the next chunk's data when the current one is used up; sets
 * body_done after the last chunk and its trailers. */
static int next_chunk(struct http_conn *c, wr_error *e)
{
	char *line;
	int r;
	/* Each step is kept in c: with no_wait a line may not be there yet,
	 * and the next call goes on where this one stopped. */
	if (c->chunk_seen) {
		if ((r = read_line(c, &line, e)) < 0) /* the CRLF after chunk data */
			return r;
		c->chunk_seen = false;
	}
	if (!c->in_trailers) {
		if ((r = read_line(c, &line, e)) < 0)
			return r;
		uint64_t size;
		if (!parse_u64(line, 16, &size))
			return wr_error_set(e, 0, "warrend sent a malformed chunk size");
		if (size > 0) {
			c->left = size;
			c->chunk_seen = true;
			return 0;
		}
		c->in_trailers = true;
	}
	do { /* trailers, up to the blank line */
		if ((r = read_line(c, &line, e)) < 0)
			return r;
	} while (line[0] != '\0');
	c->body_done = true;
	return 0;
}

ssize_t http_read_body(struct http_conn *c, void *buf, size_t len, wr_error *e)
{
	while (!c->body_done) {
		if (c->body_kind == HTTP_BODY_CHUNKED && c->left == 0) {
			int r = next_chunk(c, e);
			if (r < 0)
				return r;
			continue;
		}
		if (c->start == c->end) {
			ssize_t n = fill(c, e);
			if (n < 0)
				return n;
			if (n == 0) {
				if (c->body_kind == HTTP_BODY_UNTIL_CLOSE) {
					c->body_done = true;
					break;
				}
				return wr_error_set(e, 0, "warrend closed the connection in the middle of a reply");
			}
		}
		size_t n = c->end - c->start;
		if (n > len)
			n = len;
		if (c->body_kind != HTTP_BODY_UNTIL_CLOSE && n > c->left)
			n = (size_t)c->left;
		memcpy(buf, c->buf + c->start, n);
		c->start += n;
		if (c->body_kind != HTTP_BODY_UNTIL_CLOSE) {
			c->left -= n;
			if (c->left == 0 && c->body_kind == HTTP_BODY_LENGTH)
				c->body_done = true;
		}
		return (ssize_t)n;
	}
	return 0;
}

int http_read_body_all(struct http_conn *c, size_t max, char **out, size_t *out_len, wr_error *e)
{
	size_t cap = 4096, len = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return wr_error_set(e, ENOMEM, "reading the reply of warrend");
	for (;;) {
		if (cap - len < 4096) {
			char *bigger = realloc(buf, cap * 2);
			if (!bigger)
				return wr_error_set(e, ENOMEM, "reading the reply of warrend");
			buf = bigger;
			cap *= 2;
		}
		ssize_t n = http_read_body(c, buf + len, cap - len - 1, e);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return wr_error_set(e, EFBIG, "the reply of warrend is larger than %zu bytes", max);
	}
	buf[len] = '\0';
	*out = TAKE_PTR(buf);
	*out_len = len;
	return 0;
}

char *http_escape_path(const char *text, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(text) * 3 + 1), *o = out;
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p) || (keep_slash && *p == '/')) {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}
