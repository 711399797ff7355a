/* A blocking client of the Docker Engine API over its unix socket, for the
 * docker backend's child processes (never the daemon's event loop).
 *
 * The parsers are push parsers (bytes in as they arrive, in any split) so
 * they are tested without a socket: HTTP/1.1 responses (Content-Length,
 * chunked or until EOF), the 8-byte frames of an attached exec's
 * stdout/stderr, and tar archives (the engine's archive API). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "error.h"

/* The API version every path is prefixed with: Docker >= 20.10 and podman
 * >= 3 serve it, and it fixes the meaning of the fields we send. */
#define DOCKER_API_PREFIX "/v1.41"

/* Where body bytes go: 0 to go on, -errno to stop the transfer. */
typedef int (*docker_sink)(void *arg, const void *data, size_t len);

/* ---- HTTP responses --------------------------------------------------- */

struct docker_http {
	int status;               /* 200, 404, ... once the headers are in */
	bool headers_done;
	bool done;                /* the whole response was parsed */
	bool no_body;             /* 1xx, 204, 304, or a HEAD request */
	bool chunked;
	bool until_eof;           /* neither length nor chunked: body ends at EOF */
	uint64_t left;            /* Content-Length left, or the current chunk's */
	int chunk_state;          /* chunked: size line, data, data CRLF, trailers */
	char *headers;            /* the header block without the status line */
	docker_sink sink;         /* NULL: the body is kept in body/body_len */
	void *sink_arg;
	char *body;
	size_t body_len, body_cap;
};

/* Prepares h; head_request: the response has headers only. */
void docker_http_init(struct docker_http *h, bool head_request, docker_sink sink, void *sink_arg);
/* Parses from the start of buf: returns how many bytes it used (it stops
 * at an incomplete line, so the caller keeps the rest and adds more), or
 * -EBADMSG for what is not HTTP, or a sink's error. */
ssize_t docker_http_feed(struct docker_http *h, const char *buf, size_t len);
/* The connection reached EOF: 0 when that ends the response, -EPROTO when
 * it was cut short. */
int docker_http_eof(struct docker_http *h);
/* A header's value (case-insensitive name), trimmed, in a new string; NULL
 * when absent. */
char *docker_http_header(const struct docker_http *h, const char *name);
void docker_http_free(struct docker_http *h);

/* ---- requests --------------------------------------------------------- */

struct docker_request {
	const char *method;
	const char *path;          /* starts with DOCKER_API_PREFIX or "/_ping" */
	const char *content_type;  /* with a body */
	const void *body;
	size_t body_len;
	unsigned timeout_ms;       /* for connecting and for each read; 0: none */
	docker_sink sink;          /* body bytes go here instead of being kept */
	void *sink_arg;
};

/* Connects to the socket (-ENOENT: no socket, -ECONNREFUSED: nobody
 * listens) with timeout_ms for every later send and receive. Returns the fd. */
int docker_connect(const char *socket_path, unsigned timeout_ms, wr_error *e);
/* One request on its own connection, read to the end of the response. */
int docker_call(const char *socket_path, const struct docker_request *rq, struct docker_http *resp, wr_error *e);
/* A JSON request (body may be NULL); *out gets the parsed answer (NULL
 * when it has none; out may be NULL). Returns the HTTP status; a status
 * >= 400 also sets e to the engine's "message". */
int docker_call_json(const char *socket_path, const char *method, const char *path, json_t *body,
		     unsigned timeout_ms, json_t **out, wr_error *e);
/* The engine's "message" of an error answer, or the status line. */
void docker_error_message(const struct docker_http *h, char *buf, size_t len);
/* POSTs body to an attach endpoint (exec start) asking for the raw stream
 * (Connection: Upgrade); accepts 101 and 200. Returns the connection's fd
 * with no timeout; the stream bytes already read are in *pending (malloc'd,
 * *pending_len of them). */
int docker_hijack(const char *socket_path, const char *path, json_t *body, char **pending,
		  size_t *pending_len, wr_error *e);

/* ---- attached streams ------------------------------------------------- */

struct docker_demux {
	unsigned char header[8];
	size_t header_have;
	uint64_t frame_left;
	int stream;                /* 1 stdout, 2 stderr of the current frame */
};
/* Splits frames [type, 0, 0, 0, size32 big-endian] + payload: out(arg,
 * stream, bytes) for each piece of payload (stream 0 = stdin echoes are
 * passed too). -EBADMSG for an unknown stream type, or out's error. */
int docker_demux_feed(struct docker_demux *d, const void *buf, size_t len,
		      int (*out)(void *arg, int stream, const void *data, size_t n), void *arg);

/* ---- tar -------------------------------------------------------------- */

#define DOCKER_TAR_BLOCK 512

/* Appends one entry's header(s) to *buf (a pax header first when the name
 * does not fit ustar); type '0' regular file or '5' directory. The caller
 * appends the data and docker_tar_pad(). Returns 0 or -ENOMEM/-ENAMETOOLONG. */
int docker_tar_append_header(char **buf, size_t *len, const char *name, char type, mode_t mode,
			     uint64_t size, uid_t uid, gid_t gid, time_t mtime);
int docker_tar_append(char **buf, size_t *len, const void *data, size_t n);
/* Pads to the next 512-byte block. */
int docker_tar_pad(char **buf, size_t *len);
/* The two zero blocks that end an archive. */
int docker_tar_finish(char **buf, size_t *len);

struct docker_tar_entry {
	char name[4096 + 256];     /* as stored, with pax/GNU long names applied */
	char linkname[4096];
	char type;                 /* '0' file, '5' dir, '2' symlink, '1' hard link, ... */
	uint32_t mode;
	uint32_t uid, gid;         /* the owner the engine read the file with */
	uint64_t size;
	int64_t mtime;
};
struct docker_tar_reader {
	int state;
	unsigned char block[DOCKER_TAR_BLOCK];
	size_t block_have;
	uint64_t data_left, pad_left;
	char ext_type;             /* 'x' or 'L' or 'K' while collecting one */
	char *ext;                 /* its content */
	size_t ext_len;
	struct docker_tar_entry ent;
	bool ext_name, ext_link, ext_size;
	bool ended;
	/* called per entry and per piece of its data; -errno stops */
	int (*on_entry)(void *arg, const struct docker_tar_entry *ent);
	int (*on_data)(void *arg, const struct docker_tar_entry *ent, const void *data, size_t n);
	void *arg;
};
void docker_tar_reader_init(struct docker_tar_reader *r);
/* Pushes archive bytes (any split): 0, -EBADMSG, or a callback's error. */
int docker_tar_feed(struct docker_tar_reader *r, const void *buf, size_t len);
void docker_tar_reader_free(struct docker_tar_reader *r);

/* ---- paths in containers ---------------------------------------------- */

/* Percent-encodes s for a query value into a new string (NULL: ENOMEM). */
char *docker_url_escape(const char *s);

/* Go's os.FileMode type bits, as the archive API reports them. */
#define DOCKER_MODE_DIR (1u << 31)
#define DOCKER_MODE_SYMLINK (1u << 27)
#define DOCKER_MODE_TYPE (DOCKER_MODE_DIR | 1u << 27 | 1u << 26 | 1u << 25 | 1u << 24 | 1u << 21 | 1u << 19)

struct docker_path_stat {
	uint32_t mode;             /* Go FileMode: permission bits | type bits */
	uint64_t size;
};
/* HEAD /containers/NAME/archive?path=PATH: the path's own lstat (a symlink
 * is reported as one, even dangling). 0, -ENOENT, or -errno with e set. */
int docker_path_stat(const char *socket_path, const char *container, const char *path,
		     struct docker_path_stat *st, wr_error *e);
/* Parses the X-Docker-Container-Path-Stat header value (base64 JSON). */
int docker_path_stat_parse(const char *header, struct docker_path_stat *st);

/* The container id in podman 4's error for a container recorded without
 * its storage (`getting container from store "ID": container not known`),
 * into id; false for any other message. */
bool docker_broken_record(const char *message, char *id, size_t len);
