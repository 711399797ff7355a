/* A blocking client of the Docker Engine API (docker-client.h). */
#include "config.h"
#include "docker-client.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup.h"
#include "encode.h"

#define HTTP_HEADERS_MAX (64 * 1024) /* no engine sends more; a bigger block is not an engine */
#define HTTP_LINE_MAX 1024            /* a chunk size line or a trailer */
#define RECV_BUFFER (HTTP_HEADERS_MAX + 1)
#define TAR_EXT_MAX (1024 * 1024)     /* pax or GNU long-name data we accept */

/* ---- HTTP responses --------------------------------------------------- */

enum { CHUNK_SIZE, CHUNK_DATA, CHUNK_DATA_END, CHUNK_TRAILER };

void docker_http_init(struct docker_http *h, bool head_request, docker_sink sink, void *sink_arg)
{
	memset(h, 0, sizeof *h);
	h->no_body = head_request;
	h->sink = sink;
	h->sink_arg = sink_arg;
}

void docker_http_free(struct docker_http *h)
{
	free(h->headers);
	free(h->body);
	h->headers = h->body = NULL;
	h->body_len = h->body_cap = 0;
}

static int deliver(struct docker_http *h, const char *p, size_t n)
{
	if (h->sink)
		return h->sink(h->sink_arg, p, n);
	if (h->body_len + n + 1 > h->body_cap) {
		size_t cap = h->body_cap ? h->body_cap : 4096;
		while (cap < h->body_len + n + 1)
			cap *= 2;
		char *nb = realloc(h->body, cap);
		if (!nb)
			return -ENOMEM;
		h->body = nb;
		h->body_cap = cap;
	}
	memcpy(h->body + h->body_len, p, n);
	h->body_len += n;
	h->body[h->body_len] = '\0';
	return 0;
}

char *docker_http_header(const struct docker_http *h, const char *name)
{
	size_t nlen = strlen(name);
	for (const char *line = h->headers; line && *line;) {
		const char *eol = strstr(line, "\r\n");
		size_t llen = eol ? (size_t)(eol - line) : strlen(line);
		if (llen > nlen && line[nlen] == ':' && !strncasecmp(line, name, nlen)) {
			const char *v = line + nlen + 1, *end = line + llen;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
				end--;
			return strndup(v, (size_t)(end - v));
		}
		line = eol ? eol + 2 : line + llen;
	}
	return NULL;
}

/* The status line and header block, up to and including the empty line. */
static int parse_head(struct docker_http *h, const char *buf, size_t head_len)
{
	int major, minor, status;
	/* the status line alone, NUL-terminated: buf is not */
	const char *first_eol = memmem(buf, head_len, "\r\n", 2);
	char line[64];
	if (!first_eol)
		return -EBADMSG;
	snprintf(line, sizeof line, "%.*s", (int)(first_eol - buf < 63 ? first_eol - buf : 63), buf);
	if (sscanf(line, "HTTP/%d.%d %3d", &major, &minor, &status) != 3 || major != 1 || status < 100 ||
	    status > 599)
		return -EBADMSG;
	h->headers = strndup(first_eol + 2, head_len - (size_t)(first_eol + 2 - buf));
	if (!h->headers)
		return -ENOMEM;
	h->status = status;
	h->headers_done = true;
	if (status < 200 || status == 204 || status == 304)
		h->no_body = true;
	_cleanup_free_ char *te = docker_http_header(h, "Transfer-Encoding");
	_cleanup_free_ char *cl = docker_http_header(h, "Content-Length");
	if (te && !strcasecmp(te, "chunked")) {
		h->chunked = true;
		h->chunk_state = CHUNK_SIZE;
	} else if (cl) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(cl, &end, 10);
		if (errno || end == cl || *end || cl[0] == '-')
			return -EBADMSG;
		h->left = v;
	} else {
		h->until_eof = true;
	}
	if (h->no_body || (!h->chunked && !h->until_eof && h->left == 0))
		h->done = true;
	return 0;
}

/* One step of a chunked body from p (avail bytes): bytes used, 0 when a
 * line is incomplete, or -errno. */
static ssize_t chunked_step(struct docker_http *h, const char *p, size_t avail)
{
	const char *eol;
	switch (h->chunk_state) {
	case CHUNK_SIZE:
	case CHUNK_TRAILER:
		eol = memmem(p, avail, "\r\n", 2);
		if (!eol)
			return avail > HTTP_LINE_MAX ? -EBADMSG : 0;
		if (h->chunk_state == CHUNK_TRAILER) {
			if (eol == p)
				h->done = true;
			return eol + 2 - p;
		}
		char *end;
		errno = 0;
		unsigned long long size = strtoull(p, &end, 16);
		if (errno || end == p || (end != eol && *end != ';' && *end != ' '))
			return -EBADMSG;
		h->left = size;
		h->chunk_state = size ? CHUNK_DATA : CHUNK_TRAILER;
		return eol + 2 - p;
	case CHUNK_DATA: {
		size_t n = avail < h->left ? avail : (size_t)h->left;
		int r = deliver(h, p, n);
		if (r < 0)
			return r;
		h->left -= n;
		if (!h->left)
			h->chunk_state = CHUNK_DATA_END;
		return (ssize_t)n;
	}
	default: /* CHUNK_DATA_END */
		if (avail < 2)
			return 0;
		if (p[0] != '\r' || p[1] != '\n')
			return -EBADMSG;
		h->chunk_state = CHUNK_SIZE;
		return 2;
	}
}

ssize_t docker_http_feed(struct docker_http *h, const char *buf, size_t len)
{
	size_t used = 0;
	if (!h->headers_done) {
		const char *end = memmem(buf, len, "\r\n\r\n", 4);
		if (!end)
			return len > HTTP_HEADERS_MAX ? -EBADMSG : 0;
		used = (size_t)(end + 4 - buf);
		int r = parse_head(h, buf, used);
		if (r < 0)
			return r;
	}
	while (!h->done && used < len) {
		const char *p = buf + used;
		size_t avail = len - used;
		if (h->chunked) {
			ssize_t n = chunked_step(h, p, avail);
			if (n <= 0)
				return n < 0 ? n : (ssize_t)used;
			used += (size_t)n;
			continue;
		}
		size_t n = h->until_eof || avail < h->left ? avail : (size_t)h->left;
		int r = deliver(h, p, n);
		if (r < 0)
			return r;
		used += n;
		if (!h->until_eof && !(h->left -= n))
			h->done = true;
	}
	return (ssize_t)used;
}

int docker_http_eof(struct docker_http *h)
{
	if (h->done)
		return 0;
	if (h->headers_done && h->until_eof) {
		h->done = true;
		return 0;
	}
	return -EPROTO;
}

/* ---- requests --------------------------------------------------------- */

int docker_connect(const char *socket_path, unsigned timeout_ms, wr_error *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(socket_path) >= sizeof sa.sun_path)
		return wr_error_set(e, ENAMETOOLONG, "docker socket %s", socket_path);
	strcpy(sa.sun_path, socket_path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return wr_error_set(e, errno, "socket");
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
		return wr_error_set(e, errno, "setsockopt SO_RCVTIMEO");
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return wr_error_set(e, errno, "connect %s", socket_path);
	return TAKE_FD(fd);
}

static int send_all(int fd, const void *buf, size_t len, wr_error *e)
{
	const char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return wr_error_set(e, errno == EAGAIN ? ETIMEDOUT : errno, "send to the docker engine");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_request(int fd, const char *method, const char *path, const char *extra_headers,
			const char *content_type, const void *body, size_t body_len, wr_error *e)
{
	_cleanup_free_ char *head = NULL;
	int n;
	if (content_type)
		n = asprintf(&head,
			     "%s %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: warrend\r\n%s"
			     "Content-Type: %s\r\nContent-Length: %zu\r\n\r\n",
			     method, path, extra_headers, content_type, body_len);
	else
		n = asprintf(&head, "%s %s HTTP/1.1\r\nHost: docker\r\nUser-Agent: warrend\r\n%s\r\n", method, path,
			     extra_headers);
	if (n < 0)
		return wr_error_set(e, ENOMEM, "request");
	int r = send_all(fd, head, (size_t)n, e);
	if (r < 0 || !body_len)
		return r;
	return send_all(fd, body, body_len, e);
}

/* Reads and feeds until the response is complete (or, with headers_only,
 * its headers are in); what was read beyond that stays in in/in_len. */
static int read_response(int fd, struct docker_http *h, bool headers_only, char *in, size_t cap, size_t *in_len,
			 wr_error *e)
{
	for (;;) {
		if (*in_len) {
			size_t feed_len = *in_len;
			if (headers_only && !h->headers_done) {
				const char *end = memmem(in, *in_len, "\r\n\r\n", 4);
				if (end)
					feed_len = (size_t)(end + 4 - in);
			}
			ssize_t used = docker_http_feed(h, in, feed_len);
			if (used < 0)
				return wr_error_set(e, (int)-used, "the docker engine's answer");
			memmove(in, in + used, *in_len - (size_t)used);
			*in_len -= (size_t)used;
		}
		if (h->done || (headers_only && h->headers_done))
			return 0;
		if (*in_len == cap)
			return wr_error_set(e, EBADMSG, "the docker engine's answer: a line too long");
		ssize_t n = recv(fd, in + *in_len, cap - *in_len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return wr_error_set(e, errno == EAGAIN ? ETIMEDOUT : errno, "receive from the docker engine");
		if (n == 0) {
			if (docker_http_eof(h) < 0)
				return wr_error_set(e, EPROTO, "the docker engine closed the connection mid-answer");
			return 0;
		}
		*in_len += (size_t)n;
	}
}

int docker_call(const char *socket_path, const struct docker_request *rq, struct docker_http *resp, wr_error *e)
{
	docker_http_init(resp, !strcmp(rq->method, "HEAD"), rq->sink, rq->sink_arg);
	_cleanup_close_ int fd = docker_connect(socket_path, rq->timeout_ms, e);
	if (fd < 0)
		return fd;
	int r = send_request(fd, rq->method, rq->path, "Connection: close\r\n", rq->content_type, rq->body,
			     rq->body_len, e);
	_cleanup_free_ char *in = r < 0 ? NULL : malloc(RECV_BUFFER);
	if (r < 0 || !in)
		return r < 0 ? r : wr_error_set(e, ENOMEM, "receive buffer");
	size_t in_len = 0;
	return read_response(fd, resp, false, in, RECV_BUFFER, &in_len, e);
}

void docker_error_message(const struct docker_http *h, char *buf, size_t len)
{
	json_t *j = h->body ? json_loadb(h->body, h->body_len, 0, NULL) : NULL;
	const char *m = j ? json_string_value(json_object_get(j, "message")) : NULL;
	if (m)
		snprintf(buf, len, "%s", m);
	else if (h->body_len && h->body_len < 200 && !memchr(h->body, '\n', h->body_len - 1))
		snprintf(buf, len, "HTTP %d: %.*s", h->status, (int)h->body_len, h->body);
	else
		snprintf(buf, len, "HTTP %d", h->status);
	size_t n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	json_decref(j);
}

int docker_call_json(const char *socket_path, const char *method, const char *path, json_t *body,
		     unsigned timeout_ms, json_t **out, wr_error *e)
{
	_cleanup_free_ char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	if (body && !text)
		return wr_error_set(e, ENOMEM, "request JSON");
	struct docker_request rq = {
		.method = method, .path = path, .timeout_ms = timeout_ms,
		.content_type = text ? "application/json" : NULL, .body = text, .body_len = text ? strlen(text) : 0,
	};
	struct docker_http h;
	int r = docker_call(socket_path, &rq, &h, e);
	if (r < 0) {
		docker_http_free(&h);
		return r;
	}
	if (h.status >= 400) {
		char msg[400];
		docker_error_message(&h, msg, sizeof msg);
		wr_error_set(e, 0, "%s", msg);
	}
	if (out) {
		*out = h.body_len ? json_loadb(h.body, h.body_len, 0, NULL) : NULL;
		if (h.body_len && !*out && h.status < 400) {
			docker_http_free(&h);
			return wr_error_set(e, EBADMSG, "%s %s: the docker engine's answer is not JSON", method, path);
		}
	}
	r = h.status;
	docker_http_free(&h);
	return r;
}

int docker_hijack(const char *socket_path, const char *path, json_t *body, char **pending, size_t *pending_len,
		  wr_error *e)
{
	/* a bounded wait for the engine's answer; the stream itself has none */
	_cleanup_close_ int fd = docker_connect(socket_path, 30000, e);
	if (fd < 0)
		return fd;
	_cleanup_free_ char *text = json_dumps(body, JSON_COMPACT);
	if (!text)
		return wr_error_set(e, ENOMEM, "request JSON");
	int r = send_request(fd, "POST", path, "Connection: Upgrade\r\nUpgrade: tcp\r\n", "application/json", text,
			     strlen(text), e);
	_cleanup_free_ char *in = r < 0 ? NULL : malloc(RECV_BUFFER);
	if (r < 0 || !in)
		return r < 0 ? r : wr_error_set(e, ENOMEM, "receive buffer");
	size_t cap = RECV_BUFFER, in_len = 0;
	struct docker_http h;
	docker_http_init(&h, false, NULL, NULL);
	r = read_response(fd, &h, true, in, cap, &in_len, e);
	if (r >= 0 && h.status != 101 && h.status != 200) {
		/* an error: its JSON body follows as a normal response would */
		if (!h.done)
			read_response(fd, &h, false, in, cap, &in_len, NULL);
		char msg[400];
		docker_error_message(&h, msg, sizeof msg);
		r = wr_error_set(e, 0, "%s", msg);
		r = h.status == 404 ? -ENOENT : -EIO;
	}
	docker_http_free(&h);
	if (r < 0)
		return r;
	struct timeval none = { 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof none);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
	*pending = TAKE_PTR(in);
	*pending_len = in_len;
	return TAKE_FD(fd);
}

/* ---- attached streams ------------------------------------------------- */

int docker_demux_feed(struct docker_demux *d, const void *buf, size_t len,
		      int (*out)(void *arg, int stream, const void *data, size_t n), void *arg)
{
	const unsigned char *p = buf;
	while (len) {
		if (!d->frame_left) {
			size_t take = sizeof d->header - d->header_have;
			if (take > len)
				take = len;
			memcpy(d->header + d->header_have, p, take);
			d->header_have += take;
			p += take;
			len -= take;
			if (d->header_have < sizeof d->header)
				return 0;
			d->header_have = 0;
			if (d->header[0] > 2)
				return -EBADMSG;
			d->stream = d->header[0];
			d->frame_left = (uint64_t)d->header[4] << 24 | (uint64_t)d->header[5] << 16 |
					(uint64_t)d->header[6] << 8 | d->header[7];
			continue;
		}
		size_t n = len < d->frame_left ? len : (size_t)d->frame_left;
		int r = out(arg, d->stream, p, n);
		if (r < 0)
			return r;
		d->frame_left -= n;
		p += n;
		len -= n;
	}
	return 0;
}

/* ---- tar -------------------------------------------------------------- */

static int grow_append(char **buf, size_t *len, const void *data, size_t n)
{
	char *nb = realloc(*buf, *len + n + 1);
	if (!nb)
		return -ENOMEM;
	if (data)
		memcpy(nb + *len, data, n);
	else
		memset(nb + *len, 0, n);
	*buf = nb;
	*len += n;
	return 0;
}

int docker_tar_append(char **buf, size_t *len, const void *data, size_t n)
{
	return grow_append(buf, len, data, n);
}

int docker_tar_pad(char **buf, size_t *len)
{
	size_t pad = (DOCKER_TAR_BLOCK - *len % DOCKER_TAR_BLOCK) % DOCKER_TAR_BLOCK;
	return pad ? grow_append(buf, len, NULL, pad) : 0;
}

int docker_tar_finish(char **buf, size_t *len)
{
	int r = docker_tar_pad(buf, len);
	return r < 0 ? r : grow_append(buf, len, NULL, 2 * DOCKER_TAR_BLOCK);
}

static unsigned tar_checksum(const unsigned char *b)
{
	unsigned sum = 0;
	for (size_t i = 0; i < DOCKER_TAR_BLOCK; i++)
		sum += i >= 148 && i < 156 ? ' ' : b[i];
	return sum;
}

/* One ustar header block; name must already fit (name + prefix). */
static void ustar_block(unsigned char b[DOCKER_TAR_BLOCK], const char *name, char type, mode_t mode,
			uint64_t size, uid_t uid, gid_t gid, time_t mtime)
{
	memset(b, 0, DOCKER_TAR_BLOCK);
	size_t nlen = strlen(name);
	if (nlen <= 100) {
		memcpy(b, name, nlen);
	} else {
		/* split at a '/' so the prefix holds <= 155 bytes and the name <= 100 */
		const char *slash = name + nlen - 101;
		while (*slash && *slash != '/')
			slash++;
		memcpy(b + 345, name, (size_t)(slash - name));
		memcpy(b, slash + 1, nlen - (size_t)(slash + 1 - name));
	}
	snprintf((char *)b + 100, 8, "%07o", (unsigned)mode & 07777);
	snprintf((char *)b + 108, 8, "%07o", (unsigned)uid & 07777777);
	snprintf((char *)b + 116, 8, "%07o", (unsigned)gid & 07777777);
	snprintf((char *)b + 124, 12, "%011" PRIo64, size);
	snprintf((char *)b + 136, 12, "%011llo", (unsigned long long)(mtime > 0 ? mtime : 0));
	b[156] = (unsigned char)type;
	memcpy(b + 257, "ustar", 6);
	memcpy(b + 263, "00", 2);
	snprintf((char *)b + 148, 8, "%06o", tar_checksum(b));
	b[155] = ' ';
}

static bool fits_ustar(const char *name)
{
	size_t nlen = strlen(name);
	if (nlen <= 100)
		return true;
	if (nlen > 256)
		return false;
	const char *slash = name + nlen - 101;
	while (*slash && *slash != '/')
		slash++;
	return *slash && slash - name <= 155 && slash > name;
}

int docker_tar_append_header(char **buf, size_t *len, const char *name, char type, mode_t mode, uint64_t size,
			     uid_t uid, gid_t gid, time_t mtime)
{
	if (size >= 077777777777ULL)
		return -EFBIG;
	unsigned char b[DOCKER_TAR_BLOCK];
	int r;
	if (!fits_ustar(name)) {
		/* a pax record "LEN path=NAME\n", LEN counting its own digits */
		size_t body = strlen(" path=\n") + strlen(name), total = body + 1;
		while (snprintf(NULL, 0, "%zu", total) + body != total)
			total++;
		_cleanup_free_ char *rec = NULL;
		if (asprintf(&rec, "%zu path=%s\n", total, name) < 0)
			return -ENOMEM;
		ustar_block(b, "PaxHeader", 'x', 0644, total, 0, 0, mtime);
		if ((r = grow_append(buf, len, b, sizeof b)) < 0 || (r = grow_append(buf, len, rec, total)) < 0 ||
		    (r = docker_tar_pad(buf, len)) < 0)
			return r;
		name = "long-name"; /* the ustar name is only a fallback for old readers */
	}
	ustar_block(b, name, type, mode, size, uid, gid, mtime);
	return grow_append(buf, len, b, sizeof b);
}

enum { TAR_HEADER, TAR_DATA, TAR_EXT, TAR_PAD };

void docker_tar_reader_init(struct docker_tar_reader *r)
{
	memset(r, 0, sizeof *r);
	r->state = TAR_HEADER;
}

void docker_tar_reader_free(struct docker_tar_reader *r)
{
	free(r->ext);
	r->ext = NULL;
}

/* An octal field, or base-256 when its first byte has the high bit. */
static int tar_number(const unsigned char *f, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	if (f[0] & 0x80) {
		for (size_t i = 0; i < n; i++)
			v = v << 8 | (i ? f[i] : (f[i] & 0x7f));
		*out = v;
		return 0;
	}
	size_t i = 0;
	while (i < n && f[i] == ' ')
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++)
		v = v << 3 | (uint64_t)(f[i] - '0');
	if (i < n && f[i] != '\0' && f[i] != ' ')
		return -EBADMSG;
	*out = v;
	return 0;
}

static void copy_field(char *dst, size_t dstlen, const unsigned char *f, size_t n)
{
	size_t l = strnlen((const char *)f, n);
	if (l >= dstlen)
		l = dstlen - 1;
	memcpy(dst, f, l);
	dst[l] = '\0';
}

/* pax records override the next entry's path, linkpath and size. */
static int apply_pax(struct docker_tar_reader *r)
{
	const char *p = r->ext, *end = r->ext + r->ext_len;
	while (p < end) {
		char *sp;
		unsigned long rec = strtoul(p, &sp, 10);
		if (*sp != ' ' || rec == 0 || rec > (size_t)(end - p) || p[rec - 1] != '\n')
			return -EBADMSG;
		const char *kv = sp + 1, *eq = memchr(kv, '=', (size_t)(p + rec - 1 - kv));
		if (!eq)
			return -EBADMSG;
		size_t klen = (size_t)(eq - kv), vlen = (size_t)(p + rec - 1 - (eq + 1));
		if (klen == 4 && !memcmp(kv, "path", 4) && vlen < sizeof r->ent.name) {
			memcpy(r->ent.name, eq + 1, vlen);
			r->ent.name[vlen] = '\0';
			r->ext_name = true;
		} else if (klen == 8 && !memcmp(kv, "linkpath", 8) && vlen < sizeof r->ent.linkname) {
			memcpy(r->ent.linkname, eq + 1, vlen);
			r->ent.linkname[vlen] = '\0';
			r->ext_link = true;
		} else if (klen == 4 && !memcmp(kv, "size", 4)) {
			r->ent.size = strtoull(eq + 1, NULL, 10);
			r->ext_size = true;
		}
		p += rec;
	}
	return 0;
}

static int end_ext(struct docker_tar_reader *r)
{
	if (r->ext_type == 'x')
		return apply_pax(r);
	if (r->ext_type == 'L' || r->ext_type == 'K') {
		bool name = r->ext_type == 'L';
		char *dst = name ? r->ent.name : r->ent.linkname;
		size_t cap = name ? sizeof r->ent.name : sizeof r->ent.linkname;
		size_t l = strnlen(r->ext, r->ext_len);
		if (l >= cap)
			return -ENAMETOOLONG;
		memcpy(dst, r->ext, l);
		dst[l] = '\0';
		*(name ? &r->ext_name : &r->ext_link) = true;
	}
	return 0; /* 'g' (global pax) and others: ignored */
}

static int parse_header(struct docker_tar_reader *r)
{
	const unsigned char *b = r->block;
	bool zero = true;
	for (size_t i = 0; i < DOCKER_TAR_BLOCK && zero; i++)
		zero = !b[i];
	if (zero) {
		r->ended = true;
		return 0;
	}
	uint64_t sum, mode, uid, gid, size, mtime;
	if (tar_number(b + 148, 8, &sum) < 0 || sum != tar_checksum(b) || tar_number(b + 100, 8, &mode) < 0 ||
	    tar_number(b + 108, 8, &uid) < 0 || tar_number(b + 116, 8, &gid) < 0 ||
	    tar_number(b + 124, 12, &size) < 0 || tar_number(b + 136, 12, &mtime) < 0)
		return -EBADMSG;
	char type = b[156] ? (char)b[156] : '0';
	r->pad_left = (DOCKER_TAR_BLOCK - size % DOCKER_TAR_BLOCK) % DOCKER_TAR_BLOCK;
	r->data_left = size;
	if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
		if (size > TAR_EXT_MAX)
			return -EBADMSG;
		free(r->ext);
		r->ext = malloc(size + 1);
		if (!r->ext)
			return -ENOMEM;
		r->ext_len = 0;
		r->ext_type = type;
		r->state = size ? TAR_EXT : TAR_PAD;
		return size ? 0 : end_ext(r);
	}
	struct docker_tar_entry *ent = &r->ent;
	if (!r->ext_name) {
		char name[101], prefix[156];
		copy_field(name, sizeof name, b, 100);
		copy_field(prefix, sizeof prefix, b + 345, 155);
		if (!memcmp(b + 257, "ustar", 5) && prefix[0])
			snprintf(ent->name, sizeof ent->name, "%s/%s", prefix, name);
		else
			snprintf(ent->name, sizeof ent->name, "%s", name);
	}
	if (!r->ext_link)
		copy_field(ent->linkname, sizeof ent->linkname, b + 157, 100);
	if (r->ext_size) {
		size = ent->size;
		r->data_left = size;
		r->pad_left = (DOCKER_TAR_BLOCK - size % DOCKER_TAR_BLOCK) % DOCKER_TAR_BLOCK;
	}
	ent->type = type;
	ent->mode = (uint32_t)mode;
	ent->uid = (uint32_t)uid;
	ent->gid = (uint32_t)gid;
	ent->size = size;
	ent->mtime = (int64_t)mtime;
	r->ext_name = r->ext_link = r->ext_size = false;
	int rc = r->on_entry ? r->on_entry(r->arg, ent) : 0;
	if (rc < 0)
		return rc;
	r->state = size ? TAR_DATA : TAR_PAD;
	return 0;
}

int docker_tar_feed(struct docker_tar_reader *r, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	while (len && !r->ended) {
		size_t n;
		int rc = 0;
		switch (r->state) {
		case TAR_HEADER:
			n = DOCKER_TAR_BLOCK - r->block_have;
			n = len < n ? len : n;
			memcpy(r->block + r->block_have, p, n);
			r->block_have += n;
			if (r->block_have == DOCKER_TAR_BLOCK) {
				r->block_have = 0;
				rc = parse_header(r);
			}
			break;
		case TAR_DATA:
		case TAR_EXT:
			n = len < r->data_left ? len : (size_t)r->data_left;
			if (r->state == TAR_EXT) {
				memcpy(r->ext + r->ext_len, p, n);
				r->ext_len += n;
			} else if (r->on_data) {
				rc = r->on_data(r->arg, &r->ent, p, n);
			}
			r->data_left -= n;
			if (!r->data_left && rc == 0) {
				if (r->state == TAR_EXT) {
					r->ext[r->ext_len] = '\0';
					rc = end_ext(r);
				}
				r->state = TAR_PAD;
			}
			break;
		default: /* TAR_PAD */
			n = len < r->pad_left ? len : (size_t)r->pad_left;
			r->pad_left -= n;
			break;
		}
		if (rc < 0)
			return rc;
		if (r->state == TAR_PAD && !r->pad_left)
			r->state = TAR_HEADER;
		p += n;
		len -= n;
	}
	return 0;
}

/* ---- paths in containers ---------------------------------------------- */

char *docker_url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    strchr("-._~/", *p)) {
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

int docker_path_stat_parse(const char *header, struct docker_path_stat *st)
{
	size_t n;
	_cleanup_free_ char *text = base64_decode(header, strlen(header), &n);
	if (!text)
		return -EBADMSG;
	json_t *j = json_loadb(text, n, 0, NULL);
	json_t *mode = json_object_get(j, "mode"), *size = json_object_get(j, "size");
	int r = json_is_integer(mode) ? 0 : -EBADMSG;
	if (r == 0) {
		st->mode = (uint32_t)json_integer_value(mode);
		st->size = json_is_integer(size) ? (uint64_t)json_integer_value(size) : 0;
	}
	json_decref(j);
	return r;
}

int docker_path_stat(const char *socket_path, const char *container, const char *path,
		     struct docker_path_stat *st, wr_error *e)
{
	_cleanup_free_ char *q = docker_url_escape(path), *url = NULL;
	if (!q || asprintf(&url, DOCKER_API_PREFIX "/containers/%s/archive?path=%s", container, q) < 0)
		return wr_error_set(e, ENOMEM, "request");
	struct docker_request rq = { .method = "HEAD", .path = url, .timeout_ms = 30000 };
	struct docker_http h;
	int r = docker_call(socket_path, &rq, &h, e);
	_cleanup_free_ char *hdr = r < 0 ? NULL : docker_http_header(&h, "X-Docker-Container-Path-Stat");
	/* a dangling symlink answers 404 but still describes itself */
	if (r >= 0 && hdr && docker_path_stat_parse(hdr, st) == 0 && (h.status == 200 || h.status == 404)) {
		r = 0;
	} else if (r >= 0 && h.status == 404) {
		r = -ENOENT;
	} else if (r >= 0 && h.status >= 500) {
		/* the engine failed on a path the sandbox is changing under it */
		r = wr_error_set(e, ESTALE, "%s changed while the engine looked it up (HTTP %d)", path, h.status);
	} else if (r >= 0) {
		r = wr_error_set(e, EIO, "stat %s in the container: HTTP %d", path, h.status);
	}
	docker_http_free(&h);
	return r;
}

/* ---- engine errors ---------------------------------------------------- */

bool docker_broken_record(const char *message, char *id, size_t len)
{
	static const char before[] = "from store \"";
	const char *at = strstr(message, before);
	if (!at || !strstr(message, "container not known"))
		return false;
	at += strlen(before);
	size_t n = strspn(at, "0123456789abcdef");
	if (n < 12 || n >= len || at[n] != '"')
		return false;
	memcpy(id, at, n);
	id[n] = '\0';
	return true;
}
