/* Files anywhere in a session's sandbox, as its user reaches them: each
 * operation is a small command run inside the sandbox as the sandbox
 * user (sh and the tools every image has: find, cat, mkdir, mv, rm,
 * cksum, sleep), so what it may read and write is exactly what that user
 * may — the image read-only, /workspace and /tmp writable, other files by
 * their modes — on every backend alike (native, oci, docker). Front ends
 * whose clients name paths outside /workspace use this (E2B's filesystem
 * service); workspace.h stays the fast path for the workspace itself.
 *
 * Each operation is an exec of its session, counted and capped like any
 * command (max_execs_per_session, the token's max_execs). What the
 * commands print is untrusted (find-records.h reads it). No HTTP here. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "session.h"
#include "wd-error.h"

/* The sandbox user's home: relative paths start there. */
#define SBFS_HOME "/workspace"
#define SBFS_PATH_MAX 4096

enum sbfs_op {
	SBFS_STAT,      /* the path itself (a symlink is not followed) */
	SBFS_LIST,      /* the entries below a directory (a symlink to one is followed), `depth` levels */
	SBFS_READ,      /* a file's bytes (a symlink is followed) */
	SBFS_WRITE,     /* creates or truncates the file, and its missing parent directories */
	SBFS_MKDIR,     /* with its parents; 409 already_exists when it is a directory already */
	SBFS_MOVE,      /* rename `path` to `to` (its missing parents are made); `to` is never entered */
	SBFS_REMOVE,    /* recursively; a missing path is not an error */
};

struct sbfs_request {
	enum sbfs_op op;
	const char *path;           /* absolute, "~" or "~/…", or relative to SBFS_HOME */
	const char *to;             /* MOVE */
	unsigned depth;             /* LIST: 1 lists the directory's entries, 2 theirs too, … */
	const void *data;           /* WRITE: the content (read during the call) */
	size_t len;
	uint64_t max_size;          /* READ: the largest file (413 above) */
	const char *request_id;
};

struct sbfs_entry {
	char type;                  /* 'f' file, 'd' directory, 'l' symlink, or p s c b ? */
	uint32_t mode;              /* permission bits */
	int64_t size;
	int64_t mtime_s;
	uint32_t mtime_ns;
	char *path;                 /* absolute */
	const char *name;           /* its last component (into path) */
	char *owner, *group;        /* names, or numbers where the image has none */
	char *target;               /* a symlink's target, else NULL */
};

struct sbfs_result {
	const char *path;           /* the request's path resolved (MOVE: the destination) */
	struct sbfs_entry *entries; /* STAT, WRITE, MKDIR, MOVE: the path's; LIST: those below it */
	size_t n;
	char *data;                 /* READ: the bytes, taken by the caller (may set NULL) */
	size_t len;
};

struct sbfs_wait;
/* The result (res) or the failure (err: 404 missing, 400 not a directory
 * or a directory where a file was meant, 403 denied or read-only, 409
 * with code "already_exists", 413 too large, 507 out of space, 501 for an
 * image without the tools). Never called once cancelled. */
typedef void (*sbfs_done_fn)(void *data, struct sbfs_result *res, const struct wd_error *err);

/* Starts an operation. Refused at once: -errno with err set (done is not
 * called). Otherwise 0 and done comes later (*wait cancels it). */
int sbfs_start(struct session *s, const struct sbfs_request *r, sbfs_done_fn done, void *data,
	       struct sbfs_wait **wait, struct wd_error *err);
/* The caller is gone: the command is killed, done is not called. */
void sbfs_cancel(struct sbfs_wait *w);

/* `path` as an absolute path without ".", ".." or repeated slashes
 * ("a/../b" is SBFS_HOME "/b", "~/x" SBFS_HOME "/x"), into
 * out[SBFS_PATH_MAX + 1]; 400 for an empty path, a NUL byte or one too
 * long. Lexical, as E2B's envd resolves paths. */
int sbfs_resolve(const char *path, size_t len, char *out, struct wd_error *err);
/* "drwxr-xr-x", as ls prints it, into out[11]. */
void sbfs_permissions(char type, uint32_t mode, char out[11]);
/* The entry of one record (find-records.h); false when out of memory. */
struct find_record;
bool sbfs_entry_from_record(const struct find_record *rec, struct sbfs_entry *out);
void sbfs_entry_free(struct sbfs_entry *e);
/* Why a file command failed, from its result and the end of its stderr
 * (strerror's texts: "No such file or directory" 404, …). */
struct exec_result;
int sbfs_failure(const struct exec_result *r, const char *errout, size_t errlen, struct wd_error *err);
/* The last `cap` bytes of what a command wrote to stderr, kept as it
 * comes (tail holds *len of them), to say why it ended. */
void sbfs_keep_tail(char *tail, size_t cap, size_t *len, const char *buf, size_t n);
/* The environment and script of the file commands (sandbox-watch.c's too). */
extern char *const sbfs_env[];

/* ---- watching a directory (sandbox-watch.c) ------------------------------------
 * A command in the sandbox lists the directory (and below it, with
 * `recursive`) every SBFS_WATCH_POLL_MS and prints the listing when it
 * changed; the daemon compares listings and reports what differs. No
 * inotify: the images have no tool for it, and a listing works the same
 * on every backend. A rename is seen as a remove and a create. */
#define SBFS_WATCH_POLL_MS 200
#define SBFS_WATCH_MAX_ENTRIES 10000

enum sbfs_event_type { SBFS_EV_CREATE = 1, SBFS_EV_WRITE, SBFS_EV_REMOVE, SBFS_EV_RENAME, SBFS_EV_CHMOD };

struct sbfs_watch;
struct sbfs_watch_ops {
	/* The first listing is taken: what changes from now on is reported. */
	void (*started)(void *data);
	/* name: relative to the watched directory; e: the entry now (NULL
	 * for a removal). */
	void (*event)(void *data, enum sbfs_event_type type, const char *name, const struct sbfs_entry *e);
	/* The watch ended: err says why (its directory is missing, too many
	 * entries, the session ended: NULL). The watch is freed right after. */
	void (*ended)(void *data, const struct wd_error *err);
};
/* Starts watching; NULL with err set when refused at once. */
struct sbfs_watch *sbfs_watch_start(struct session *s, const char *path, size_t len, bool recursive,
				    const struct sbfs_watch_ops *ops, void *data, const char *request_id,
				    struct wd_error *err);
/* Stops it (its command is killed); no callback comes after. */
void sbfs_watch_stop(struct sbfs_watch *w);
