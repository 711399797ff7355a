/* The docker backend's file execs (backend.h): reads and listings
 * through the engine's archive API, writes and deletes through execs as the
 * sandbox user, every path checked one component at a time first. Runs in
 * a child of the daemon; the exit status is the errno, one line on stderr
 * says why. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend-docker-internal.h"
#include "cleanup.h"
#include "docker-client.h"
#include "encode.h"
#include "fdio.h"
#include "files.h"
#include "userns.h"


/* ---- file execs (child side): the archive API ------------------------ */

/* Its exit status is the errno; one line on stderr says why. */
static int file_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int file_fail(int err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", msg, strerror(err));
	return err;
}

struct walk {
	size_t n;                  /* components of the path */
	size_t existing;           /* how many leading ones exist */
	struct docker_path_stat last; /* the deepest existing one's */
};

/* Lstats /workspace/REL one component at a time through the engine so no
 * symlink inside the workspace leads the engine elsewhere in the container
 * (the engine follows them); a symlink as the last component is allowed
 * only when last_symlink_ok (DELETE removes the link itself). Returns 0 or
 * the errno after printing the line. A sandbox racing this (swapping a
 * directory for a symlink between the check and the transfer) can only
 * redirect it within its own container: the engine resolves paths there. */
static int walk_path(const char *container, const char *rel, bool last_symlink_ok, struct walk *w)
{
	memset(w, 0, sizeof *w);
	w->last.mode = DOCKER_MODE_DIR | 0755;
	char path[FILES_PATH_MAX + 16];
	size_t len = (size_t)snprintf(path, sizeof path, "/workspace/%s", rel);
	for (size_t i = strlen("/workspace/"); i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		if (i == strlen("/workspace/"))
			break; /* rel is "" */
		w->n++;
		if (w->existing + 1 < w->n)
			continue; /* below a missing one: counted only */
		char save = path[i];
		path[i] = '\0';
		wr_error e = { 0 };
		struct docker_path_stat st;
		int r = docker_path_stat(docker_cfg.socket, container, path, &st, &e);
		bool is_last = save == '\0';
		const char *shown = path + strlen("/workspace/");
		if (r == -ENOENT) {
			path[i] = save;
			continue;
		}
		if (r < 0)
			return file_fail(-r, "%s", e.message);
		if ((st.mode & DOCKER_MODE_SYMLINK) && !(is_last && last_symlink_ok))
			return file_fail(ELOOP, "%s", shown);
		if (!is_last && !(st.mode & DOCKER_MODE_DIR))
			return file_fail(ENOTDIR, "%s", shown);
		w->existing++;
		w->last = st;
		path[i] = save;
	}
	return 0;
}

/* walk_path for a path that must exist. */
static int walk_existing(const char *container, const char *rel, bool last_symlink_ok, struct walk *w)
{
	int err = walk_path(container, rel, last_symlink_ok, w);
	if (!err && w->existing < w->n)
		err = file_fail(ENOENT, "%s", rel);
	return err;
}

static int read_stdin(uint64_t max_size, char **out, size_t *len)
{
	size_t cap = 65536;
	*len = 0;
	*out = malloc(cap);
	for (;;) {
		if (!*out)
			return ENOMEM;
		if (*len == cap) {
			cap *= 2;
			char *n = realloc(*out, cap);
			if (!n)
				return ENOMEM;
			*out = n;
		}
		ssize_t n = read(0, *out + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		if (n == 0)
			return 0;
		*len += (size_t)n;
		if (*len > max_size)
			return EFBIG;
	}
}

static int archive_status_errno(const struct docker_http *h)
{
	char msg[400];
	docker_error_message(h, msg, sizeof msg);
	if (strstr(msg, "no space left"))
		return ENOSPC;
	if (strstr(msg, "read-only") || strstr(msg, "read only"))
		return EROFS;
	/* the path was checked a moment ago: the sandbox changed it since */
	if (h->status >= 500 && (strstr(msg, "no such file") || strstr(msg, "not a directory") ||
				  strstr(msg, "file exists")))
		return ESTALE;
	switch (h->status) {
	case 400: return EINVAL;
	case 403: return EACCES;
	case 404: return ENOENT;
	default: return EIO;
	}
}

/* What the shell's message says went wrong. */
static int put_errno(const char *text)
{
	static const struct { const char *says; int err; } known[] = {
		{ "Is a directory", EISDIR }, { "Not a directory", ENOTDIR }, { "File exists", ENOTDIR },
		{ "No space left", ENOSPC }, { "Disk quota", EDQUOT }, { "Permission denied", EACCES },
		{ "Read-only", EROFS }, { "Too many levels of symbolic links", ELOOP },
		/* a parent checked a moment ago is gone: the sandbox changed the path */
		{ "nonexistent", ESTALE }, { "No such file", ESTALE },
	};
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (strstr(text, known[i].says))
			return known[i].err;
	return EIO;
}

/* A path as an argument the exec's shell turns back into bytes with
 * printf %b: the engine's JSON carries only UTF-8, file names any byte.
 * Letters, digits and "/._-" stay; every other byte becomes \\0NNN. */
static char *shell_bytes(const char *path)
{
	size_t len = strlen(path);
	char *out = malloc(len * 5 + 1), *o = out;
	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("/._-", *p))
			*o++ = (char)*p;
		else
			o += sprintf(o, "\\0%03o", *p);
	}
	*o = '\0';
	return out;
}

/* The shell's prologue that decodes $1 (shell_bytes) into $f. */
#define DECODE_F "f=$(printf '%bx' \"$1\"); f=${f%x}; "

/* PUT: the path is checked through the engine (no symlink, parents are
 * directories), then the bytes are written by an exec running as the
 * sandbox user: the archive API would write as root after that check, so
 * a sandbox swapping the path could have root create files where it may
 * not. As the user, a race gains it nothing it could not do itself. */
static int file_put(const char *container, const struct backend_exec *x)
{
	const char *rel = x->path;
	if (!*rel)
		return file_fail(EINVAL, "the workspace itself is not a file");
	_cleanup_free_ char *data = NULL;
	size_t len;
	int err = read_stdin(x->max_size, &data, &len);
	if (err)
		return file_fail(err, "%s", rel);
	struct walk w;
	if ((err = walk_path(container, rel, false, &w)))
		return err;
	if (w.existing == w.n && (w.last.mode & DOCKER_MODE_DIR))
		return file_fail(EISDIR, "%s", rel);
	if (w.existing == w.n && (w.last.mode & DOCKER_MODE_TYPE))
		return file_fail(EINVAL, "%s: not a regular file", rel);
	if (w.existing < w.n && !(w.last.mode & DOCKER_MODE_DIR))
		return file_fail(ENOTDIR, "%s", rel);
	/* the exec's stdin is ours: the content; its output (only errors) is kept aside */
	_cleanup_close_ int in = memfd_create("put-in", MFD_CLOEXEC), out = memfd_create("put-out", MFD_CLOEXEC);
	if (in < 0 || out < 0 || write_all(in, data, len) < 0 || lseek(in, 0, SEEK_SET) < 0 || dup2(in, 0) < 0 ||
	    dup2(out, 1) < 0)
		return file_fail(errno ? errno : EIO, "%s", rel);
	char path[FILES_PATH_MAX + 16];
	snprintf(path, sizeof path, "/workspace/%s", rel);
	_cleanup_free_ char *arg = shell_bytes(path);
	if (!arg)
		return file_fail(ENOMEM, "%s", rel);
	/* into a temporary name, then renamed: a full workspace or an OOM kill
	 * (the exec runs in the container, charged to its memory) leaves no
	 * partial file. A failure reads the rest of stdin before exiting: an
	 * exec that ends with stdin unread makes podman's copy of it into the
	 * ended exec fail ("attach: connection reset by peer"), and podman
	 * then drops the exec's output, the message that says why. */
	char *argv[] = { "sh", "-c", "exec 2>&1; " DECODE_F "fail() { s=$?; rm -f -- \"$t\"; cat >/dev/null; exit $s; }; "
			 "t=; case $f in */*) mkdir -p -- \"${f%/*}\" || fail; esac; "
			 "t=\"${f%/*}/.warren-put-$$\"; cat >\"$t\" && mv -f -- \"$t\" \"$f\" || fail",
			 "sh", arg, NULL };
	wr_error e = { 0 };
	int code = docker_engine_exec(container, argv, NULL, "/workspace", -1, &e);
	if (code < 0)
		return file_fail(-code, "%s", e.message);
	if (code == 0)
		return 0;
	if (code == 128 + SIGKILL)
		return file_fail(ENOMEM, "%s: the write was killed: it did not fit in the sandbox's memory", rel);
	char said[1024] = "";
	ssize_t n = pread(out, said, sizeof said - 1, 0);
	said[n > 0 ? n : 0] = '\0';
	int why = put_errno(said); /* the shell's line may follow the engine's */
	char *line = strstr(said, "sh: ");
	line = line ? line : said;
	line[strcspn(line, "\n")] = '\0';
	return file_fail(why, "%s: %s", rel, line[0] ? line : "the write failed");
}

static bool readable_by_sandbox_user(const struct docker_tar_entry *ent)
{
	if (ent->uid == SANDBOX_UID)
		return ent->mode & 0400;
	if (ent->gid == SANDBOX_GID)
		return ent->mode & 0040;
	return ent->mode & 0004;
}

struct get_state {
	const char *rel;
	uint64_t max_size;
	unsigned entries;
	int err;
};

static int get_entry(void *arg, const struct docker_tar_entry *ent)
{
	struct get_state *g = arg;
	if (g->entries++)
		return -EBADMSG; /* a file's archive holds that file alone */
	g->err = ent->type == '0' || ent->type == '7' ? 0 : ent->type == '5' ? EISDIR : ent->type == '2' ? ELOOP : EINVAL;
	if (!g->err && ent->size > g->max_size)
		g->err = EFBIG;
	/* The engine read it as root, after our check of the path: hand out
	 * only what the sandbox user could have read itself (a sandbox that
	 * swaps the path under the engine gets nothing more). */
	if (!g->err && !readable_by_sandbox_user(ent))
		g->err = EACCES;
	return g->err ? -g->err : 0;
}

static int get_data(void *arg, const struct docker_tar_entry *ent, const void *data, size_t n)
{
	(void)arg;
	(void)ent;
	return write_all(1, data, n);
}

static int tar_sink(void *arg, const void *data, size_t n)
{
	return docker_tar_feed(arg, data, n);
}

/* GETs the archive of /workspace/REL into the tar reader r. */
static int get_archive(const char *container, const char *rel, struct docker_tar_reader *r)
{
	char path[FILES_PATH_MAX + 16];
	snprintf(path, sizeof path, "/workspace/%s", rel);
	_cleanup_free_ char *q = docker_url_escape(path), *url = NULL;
	if (!q || asprintf(&url, DOCKER_API_PREFIX "/containers/%s/archive?path=%s", container, q) < 0)
		return ENOMEM;
	struct docker_request rq = { .method = "GET", .path = url, .timeout_ms = CALL_TIMEOUT_MS };
	struct docker_http h;
	docker_http_init(&h, false, NULL, NULL);
	/* only a 200's body is an archive: read the headers first */
	wr_error e = { 0 };
	int err = 0;
	rq.sink = tar_sink;
	rq.sink_arg = r;
	int rc = docker_call(docker_cfg.socket, &rq, &h, &e);
	if (rc < 0 && h.status == 200)
		err = -rc;
	else if (rc < 0)
		err = file_fail(-rc, "%s", e.message);
	else if (h.status != 200)
		err = file_fail(archive_status_errno(&h), "%s", *rel ? rel : "/workspace");
	docker_http_free(&h);
	return err;
}

static int file_get(const char *container, const struct backend_exec *x)
{
	struct walk w;
	int err = walk_existing(container, x->path, false, &w);
	if (err)
		return err;
	if (w.last.mode & DOCKER_MODE_DIR)
		return file_fail(EISDIR, "%s", *x->path ? x->path : "/workspace");
	if (w.last.mode & DOCKER_MODE_TYPE)
		return file_fail(EINVAL, "%s: not a regular file", x->path);
	if (w.last.size > x->max_size)
		return file_fail(EFBIG, "%s", x->path);
	struct get_state g = { .rel = x->path, .max_size = x->max_size };
	struct docker_tar_reader r;
	docker_tar_reader_init(&r);
	r.on_entry = get_entry;
	r.on_data = get_data;
	r.arg = &g;
	err = get_archive(container, x->path, &r);
	docker_tar_reader_free(&r);
	if (err && g.err)
		return file_fail(g.err, "%s", x->path);
	if (err)
		return file_fail(err, "%s", x->path);
	return g.entries ? 0 : file_fail(ENOENT, "%s", x->path);
}

struct list_state {
	json_t *entries;           /* name -> entry, so they come out sorted */
	size_t top_len;            /* the archive's own top directory name + "/" */
	bool top_seen;
};

static int list_entry(void *arg, const struct docker_tar_entry *ent)
{
	struct list_state *ls = arg;
	const char *name = ent->name;
	if (!ls->top_seen) {
		/* the first entry is the directory itself */
		ls->top_seen = true;
		ls->top_len = strcspn(name, "/") + 1;
		return 0;
	}
	if (strlen(name) <= ls->top_len)
		return 0;
	name += ls->top_len;
	size_t nlen = strcspn(name, "/");
	if (name[nlen] && name[nlen + 1])
		return 0; /* deeper than a direct child */
	if (json_object_size(ls->entries) >= 100000)
		return 0;
	char child[FILES_NAME_MAX + 1];
	snprintf(child, sizeof child, "%.*s", (int)nlen, name);
	const char *type = ent->type == '5' ? "directory" : ent->type == '2' ? "symlink" :
			   ent->type == '0' || ent->type == '7' || ent->type == '1' ? "file" : "other";
	uint64_t size = ent->type == '2' ? strlen(ent->linkname) : ent->size;
	json_t *j = json_pack("{s:s, s:I, s:i, s:I}", "type", type, "size", (json_int_t)size, "mode",
			      (int)(ent->mode & 07777), "mtime", (json_int_t)ent->mtime);
	if (!j)
		return -ENOMEM;
	/* a name that is not UTF-8 travels as base64 (backend.h) */
	if (utf8_valid(child, nlen)) {
		json_object_set_new(j, "name", json_stringn(child, nlen));
	} else {
		_cleanup_free_ char *b64 = base64_encode(child, nlen);
		json_object_set_new(j, "name_base64", json_string(b64 ? b64 : ""));
	}
	/* keyed by the raw name (deduplicates tar's repeats); keys never leave */
	return json_object_setn_new_nocheck(ls->entries, child, nlen, j) < 0 ? -ENOMEM : 0;
}

static int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int file_list(const char *container, const struct backend_exec *x)
{
	struct walk w;
	int err = walk_existing(container, x->path, false, &w);
	if (err)
		return err;
	if (!(w.last.mode & DOCKER_MODE_DIR))
		return file_fail(ENOTDIR, "%s", x->path);
	struct list_state ls = { .entries = json_object() };
	struct docker_tar_reader r;
	docker_tar_reader_init(&r);
	r.on_entry = list_entry;
	r.arg = &ls;
	err = get_archive(container, x->path, &r);
	docker_tar_reader_free(&r);
	if (!err) {
		/* names sorted bytewise, as files_list does */
		const char *k;
		json_t *v;
		size_t n = json_object_size(ls.entries), i = 0;
		_cleanup_free_ const char **keys = calloc(n + 1, sizeof *keys);
		json_object_foreach(ls.entries, k, v) keys[i++] = k;
		qsort(keys, n, sizeof *keys, strcmp_ptr);
		for (i = 0; i < n; i++) {
			_cleanup_free_ char *line = json_dumps(json_object_get(ls.entries, keys[i]), JSON_COMPACT);
			if (line)
				dprintf(1, "%s\n", line);
		}
	}
	json_decref(ls.entries);
	return err ? file_fail(err, "%s", x->path) : 0;
}

static int file_delete(const char *container, const struct backend_exec *x)
{
	if (!*x->path)
		return file_fail(EINVAL, "the workspace itself cannot be deleted");
	struct walk w;
	int err = walk_existing(container, x->path, true, &w);
	if (err)
		return err;
	char path[FILES_PATH_MAX + 16];
	snprintf(path, sizeof path, "/workspace/%s", x->path);
	_cleanup_free_ char *arg = shell_bytes(path);
	if (!arg)
		return file_fail(ENOMEM, "%s", x->path);
	char *argv[] = { "sh", "-c", DECODE_F "exec rm -rf -- \"$f\"", "sh", arg, NULL };
	wr_error e = { 0 };
	int code = docker_engine_exec(container, argv, NULL, "/", -1, &e);
	if (code < 0)
		return file_fail(-code, "%s", e.message);
	return code ? file_fail(EACCES, "%s: rm exited with %d", x->path, code) : 0;
}

int docker_file_exec(const char *container, const struct backend_exec *x)
{
	switch (x->kind) {
	case BACKEND_FILE_PUT: return file_put(container, x);
	case BACKEND_FILE_GET: return file_get(container, x);
	case BACKEND_FILE_LIST: return file_list(container, x);
	case BACKEND_FILE_DELETE: return file_delete(container, x);
	default: return EOPNOTSUPP;
	}
}
