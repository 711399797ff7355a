/* The workspace interface (workspace.h), implemented twice: through the
 * workspace's fd, and through file execs (backend.h, BACKEND_FILE_*). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "cleanup.h"
#include "daemon.h"
#include "encode.h"
#include "session-internal.h"
#include "workspace-job.h"
#include "workspace.h"

/* A listing of more entries answers the first ones and "truncated": true. */
#define LIST_MAX_ENTRIES 10000
#define FILE_EXEC_TIMEOUT_MS 60000
#define LIST_OUTPUT_CAP ((uint64_t)8 << 20)

struct workspace_impl;
struct workspace_wait {
	const struct workspace_impl *impl;
	struct session *s;
	enum workspace_op op;
	char rel[FILES_PATH_MAX + 1];
	size_t len;
	uint64_t max_size;
	workspace_done_fn done;
	void *data;
	char request_id[REQUEST_ID_MAX + 1];
	struct workspace_job *job;  /* fd: a PUT's writer */
	struct exec *x;             /* execs: the operation */
	struct exec_observer obs;
};

/* 0: done was called; 1: pending; -errno: failed (err set). */
struct workspace_impl {
	int (*start)(struct workspace_wait *w, const void *data, struct wd_error *err);
	void (*cancel)(struct workspace_wait *w);
};

static int too_large(struct workspace_wait *w, struct wd_error *err)
{
	return wd_fail(err, 413, "%s: %zu bytes, the limit is %llu", w->rel[0] ? w->rel : "/workspace", w->len,
		       (unsigned long long)w->max_size);
}

static void finish(struct workspace_wait *w, struct workspace_result *res)
{
	res->op = res->op ? res->op : w->op;
	res->rel = w->rel;
	LOG_CTX_SCOPE(w->request_id[0] ? w->request_id : NULL, session_id(w->s));
	w->done(w->data, res, NULL);
}

/* ---- through the workspace's fd (files.c) -------------------------------------- */

static void fd_put_done(void *data, int r, const wr_error *e)
{
	struct workspace_wait *w = data;
	w->job = NULL;
	if (r < 0) {
		struct wd_error err = { 0 };
		wd_from_errno(&err, r, e);
		LOG_CTX_SCOPE(w->request_id[0] ? w->request_id : NULL, session_id(w->s));
		w->done(w->data, NULL, &err);
	} else {
		struct workspace_result res = { .fd = -1, .written = w->len };
		finish(w, &res);
	}
	free(w);
}

static int fd_start(struct workspace_wait *w, const void *data, struct wd_error *err)
{
	const struct backend_ops *ops = box_ops(w->s->box);
	uid_t uid;
	gid_t gid;
	wr_error e = { 0 };
	int r;
	if (w->op == WS_PUT) {
		if (w->len > w->max_size)
			return too_large(w, err);
		/* written by a workspace job: the file's pages are the sandbox's */
		if ((r = workspace_put_start(w->s->box, w->rel, data, w->len, w->max_size, fd_put_done, w, &w->job, &e)) < 0)
			return wd_fail(err, 503, "%s: %s", w->rel, e.message);
		return 1;
	}
	_cleanup_close_ int ws = ops->open_workspace(box_backend(w->s->box), &uid, &gid);
	if (ws < 0)
		return wd_fail(err, 409, "session %s is not running: its workspace cannot be opened (%s)",
			       session_id(w->s), strerror(-ws));
	struct workspace_result res = { .fd = -1 };
	if (w->op == WS_DELETE || w->op == WS_MKDIR) {
		r = w->op == WS_DELETE ? files_delete(ws, w->rel, uid, gid, &e) : files_mkdir(ws, w->rel, uid, gid, &e);
		if (r < 0)
			return wd_from_errno(err, r, &e);
		finish(w, &res);
		return 0;
	}
	struct stat st;
	/* a listing reads no file: a file's size is not what is wrong with it */
	_cleanup_close_ int fd = files_open_read(ws, w->rel, w->op == WS_LIST ? UINT64_MAX : w->max_size, uid, gid,
						 &st, &e);
	if (fd < 0)
		return wd_from_errno(err, fd, &e);
	if (S_ISDIR(st.st_mode)) {
		if ((r = files_list(fd, w->rel, LIST_MAX_ENTRIES, &res.listing, &e)) < 0)
			return wd_from_errno(err, r, &e);
		res.op = WS_LIST;
		finish(w, &res);
		files_listing_free(&res.listing);
		return 0;
	}
	if (w->op == WS_LIST) {
		wr_error_set(&e, ENOTDIR, "%s", w->rel);
		return wd_from_errno(err, -ENOTDIR, &e);
	}
	res.fd = TAKE_FD(fd);
	res.size = (uint64_t)st.st_size;
	finish(w, &res);
	if (res.fd >= 0)
		close(res.fd); /* the caller did not take it */
	return 0;
}

static void fd_cancel(struct workspace_wait *w)
{
	if (w->job)
		workspace_job_abandon(w->job); /* done is not called: w goes now */
	free(w);
}

static const struct workspace_impl by_fd = { fd_start, fd_cancel };

/* ---- as file execs inside the sandbox (docker) --------------------------------
 * The operation's exit status is 0 or an errno, stdout the data, stderr
 * one line of error (backend.h). */

static int exec_op_start(struct workspace_wait *w, const void *data, struct wd_error *err);

static enum files_type type_of(const char *name)
{
	for (int t = FILES_FILE; t <= FILES_OTHER; t++)
		if (!strcmp(files_type_name((enum files_type)t), name))
			return (enum files_type)t;
	return FILES_OTHER;
}

/* One {"name"|"name_base64","type","size","mtime"} object per line. */
static void parse_listing(const char *out, size_t len, struct files_listing *l)
{
	size_t cap = 0;
	for (const char *line = out, *end; line && line < out + len; line = end ? end + 1 : NULL) {
		end = memchr(line, '\n', (size_t)(out + len - line));
		size_t n = end ? (size_t)(end - line) : (size_t)(out + len - line);
		json_t *o = n ? json_loadb(line, n, 0, NULL) : NULL;
		const char *name = json_string_value(json_object_get(o, "name"));
		const char *type = json_string_value(json_object_get(o, "type"));
		const char *b64 = json_string_value(json_object_get(o, "name_base64"));
		_cleanup_free_ char *raw = NULL;
		size_t raw_len = 0;
		if (!name && b64 && (raw = base64_decode(b64, strlen(b64), &raw_len)) && !memchr(raw, '\0', raw_len)) {
			char *z = realloc(raw, raw_len + 1);
			if (z) {
				z[raw_len] = '\0';
				raw = z;
				name = raw;
			}
		}
		if (name && type && l->n >= LIST_MAX_ENTRIES) {
			l->truncated = true;
		} else if (name && type) {
			if (l->n == cap) {
				size_t grown_cap = cap ? cap * 2 : 64;
				struct files_entry *grown = realloc(l->entries, grown_cap * sizeof *grown);
				if (!grown) {
					l->truncated = true;
					json_decref(o);
					return;
				}
				l->entries = grown;
				cap = grown_cap;
			}
			struct files_entry *en = &l->entries[l->n];
			*en = (struct files_entry){
				.name = strdup(name), .name_is_utf8 = utf8_valid(name, strlen(name)), .type = type_of(type),
				.size = (uint64_t)json_integer_value(json_object_get(o, "size")),
				.mtime = { .tv_sec = (time_t)json_integer_value(json_object_get(o, "mtime")) },
			};
			l->n += en->name != NULL;
		}
		json_decref(o);
	}
}

/* The error of a failed file exec: its own line is the last of stderr
 * (the engine may have said more before it). */
static void exec_op_error(const struct workspace_wait *w, const struct exec_result *r, int code, struct wd_error *err)
{
	wr_error e = { 0 };
	const char *where = w->rel[0] ? w->rel : "/workspace";
	size_t n = r->out_len[1];
	while (n && r->out[1][n - 1] == '\n')
		n--;
	if (r->timed_out) {
		wr_error_set(&e, code, "%s: the file operation timed out", where);
	} else if (n) {
		const char *line = r->out[1];
		for (size_t i = n; i > 0 && line == r->out[1]; i--)
			if (r->out[1][i - 1] == '\n')
				line = r->out[1] + i;
		wr_error_set(&e, 0, "%.*s", (int)(r->out[1] + n - line), line);
		e.code = code;
	} else {
		wr_error_set(&e, code, "%s: %s", where, r->exec_error[0] ? r->exec_error : strerror(code));
	}
	wd_from_errno(err, -code, &e);
}

static void exec_op_done(struct exec_observer *o, struct exec_result *r)
{
	struct workspace_wait *w = LIST_ENTRY(struct workspace_wait, obs, o);
	LOG_CTX_SCOPE(w->request_id[0] ? w->request_id : NULL, session_id(w->s));
	w->x = NULL;
	struct wd_error err = { 0 };
	int code = r->timed_out ? ETIMEDOUT : r->failed_to_start || !r->exited ? EIO : r->exit_code;
	if (code == EISDIR && w->op == WS_GET) {
		w->op = WS_LIST; /* GET of a directory lists it */
		int rc = exec_op_start(w, NULL, &err);
		if (rc > 0)
			return;
		w->done(w->data, NULL, &err);
		free(w);
		return;
	}
	struct workspace_result res = { .fd = -1, .op = w->op };
	if (code) {
		exec_op_error(w, r, code, &err);
	} else if (w->op == WS_GET && r->truncated) {
		wd_fail(&err, 413, "%s: larger than %llu bytes", w->rel, (unsigned long long)w->max_size);
	} else if (w->op == WS_GET) {
		res.bytes = r->out[0];
		res.len = r->out_len[0];
		r->out[0] = NULL;
	} else if (w->op == WS_LIST) {
		parse_listing(r->out[0], r->out_len[0], &res.listing);
	} else if (w->op == WS_PUT) {
		res.written = w->len;
	}
	if (err.status) {
		w->done(w->data, NULL, &err);
	} else {
		finish(w, &res);
		free(res.bytes);
		files_listing_free(&res.listing);
	}
	free(w);
}

/* The backends' file execs have no directory creation: mkdir -p as the
 * sandbox user, its failures turned into the errno convention above
 * (ENOTDIR: something else is in the way; EACCES otherwise). */
static const char mkdir_script[] =
	"out=$(mkdir -p -- \"$1\" 2>&1) && exit 0; echo \"$out\" >&2\n"
	"case $out in *'Not a directory'*|*'File exists'*) exit 20;; esac; exit 13";

static int exec_op_start(struct workspace_wait *w, const void *data, struct wd_error *err)
{
	static const enum backend_exec_kind kinds[] = {
		[WS_PUT] = BACKEND_FILE_PUT, [WS_GET] = BACKEND_FILE_GET, [WS_LIST] = BACKEND_FILE_LIST,
		[WS_DELETE] = BACKEND_FILE_DELETE, [WS_MKDIR] = BACKEND_EXEC_COMMAND,
	};
	static char *const mkdir_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
	char target[FILES_PATH_MAX + 16];
	snprintf(target, sizeof target, "/workspace/%s", w->rel);
	char *const mkdir_argv[] = { "/bin/sh", "-c", (char *)mkdir_script, "sh", target, NULL };
	if (w->op == WS_PUT && w->len > w->max_size)
		return too_large(w, err);
	struct exec_params p = {
		.kind = kinds[w->op], .path = w->rel, .max_size = w->max_size, .cwd = "/workspace",
		.argv = w->op == WS_MKDIR ? mkdir_argv : NULL, .envp = w->op == WS_MKDIR ? mkdir_env : NULL,
		.stdin_data = data, .stdin_len = w->op == WS_PUT ? w->len : 0, .timeout_ms = FILE_EXEC_TIMEOUT_MS,
		.output_cap = w->op == WS_GET ? w->max_size + 1 : w->op == WS_LIST ? LIST_OUTPUT_CAP : 4096,
		.keep_output = true, .request_id = w->request_id,
	};
	w->obs = (struct exec_observer){ .on_done = exec_op_done };
	if (!(w->x = session_file_exec(w->s, &p, &w->obs, err)))
		return -err->cause.code;
	return 1;
}

static void exec_op_cancel(struct workspace_wait *w)
{
	if (w->x)
		exec_unobserve(w->x, &w->obs); /* bound: the operation is killed */
	free(w);
}

static const struct workspace_impl by_exec = { exec_op_start, exec_op_cancel };

/* ---- the interface ------------------------------------------------------------ */

static const struct workspace_impl *impl_of(const struct session *s)
{
	return box_ops(s->box)->open_workspace ? &by_fd : &by_exec;
}

int workspace_start(struct session *s, const struct workspace_request *r, workspace_done_fn done, void *data,
		    struct workspace_wait **wait, struct wd_error *err)
{
	*wait = NULL;
	if (session_check_alive(s, err) < 0)
		return -err->cause.code;
	struct workspace_wait *w = calloc(1, sizeof *w);
	if (!w)
		return wd_fail(err, 503, "out of memory");
	*w = (struct workspace_wait){ .s = s, .op = r->op, .len = r->len, .max_size = r->max_size, .done = done,
				      .data = data };
	snprintf(w->request_id, sizeof w->request_id, "%s", r->request_id ? r->request_id : "");
	wr_error e = { 0 };
	int rc = files_normalize(r->path, r->path_len, w->rel, &e);
	if (rc < 0) {
		free(w);
		return wd_from_errno(err, rc, &e);
	}
	session_touch(s);
	w->impl = impl_of(s);
	rc = w->impl->start(w, r->data, err);
	if (rc <= 0) {
		free(w);
		return rc;
	}
	*wait = w;
	return 0;
}

void workspace_cancel(struct workspace_wait *w)
{
	w->impl->cancel(w);
}
