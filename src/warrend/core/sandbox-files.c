#include "config.h"

/* Files anywhere in a sandbox, through commands run inside it as its user
 * (sandbox-files.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "encode.h"
#include "find-records.h"
#include "sandbox-files.h"
#include "session-internal.h"

/* One script for every operation: $1 the operation, $2 the path, $3 its
 * argument. Paths come as arguments, never inside the script's text; they
 * are absolute (sbfs_resolve), so none reads as an option. Errors are one
 * line on stderr ending with strerror's text (LC_ALL=C), which
 * classify() reads. */
static const char script[] =
	"F='" FIND_RECORD_FORMAT "'\n"
	"fail() { printf 'warren: %s: %s\\n' \"$1\" \"$2\" >&2; exit 1; }\n"
	"missing() { [ ! -e \"$1\" ] && [ ! -L \"$1\" ]; }\n"
	"parent() { case $1 in /*/*) mkdir -p -- \"${1%/*}\" || exit 1;; esac; }\n"
	"p=$2\n"
	"case $1 in\n"
	"stat) missing \"$p\" && fail \"$p\" 'No such file or directory'\n"
	"  exec find \"$p\" -maxdepth 0 -printf \"$F\";;\n"
	"list) missing \"$p\" && fail \"$p\" 'No such file or directory'\n"
	"  [ -d \"$p\" ] || fail \"$p\" 'Not a directory'\n"
	"  exec find -H \"$p\" -mindepth 1 -maxdepth \"$3\" -printf \"$F\";;\n"
	"read) missing \"$p\" && fail \"$p\" 'No such file or directory'\n"
	"  [ -d \"$p\" ] && fail \"$p\" 'Is a directory'\n"
	"  exec cat -- \"$p\";;\n"
	"write) [ -d \"$p\" ] && fail \"$p\" 'Is a directory'\n"
	"  parent \"$p\"; cat >\"$p\" || exit 1\n"
	"  exec find \"$p\" -maxdepth 0 -printf \"$F\";;\n"
	"mkdir) [ -d \"$p\" ] && fail \"$p\" 'File exists'\n"
	"  missing \"$p\" || fail \"$p\" 'Not a directory'\n"
	"  mkdir -p -- \"$p\" || exit 1\n"
	"  exec find \"$p\" -maxdepth 0 -printf \"$F\";;\n"
	"move) missing \"$p\" && fail \"$p\" 'No such file or directory'\n"
	"  parent \"$3\"; mv -T -- \"$p\" \"$3\" || exit 1\n"
	"  exec find \"$3\" -maxdepth 0 -printf \"$F\";;\n"
	"remove) exec rm -rf -- \"$p\";;\n"
	"esac\n"
	"exit 2\n";

static const char *const op_names[] = {
	[SBFS_STAT] = "stat", [SBFS_LIST] = "list", [SBFS_READ] = "read", [SBFS_WRITE] = "write",
	[SBFS_MKDIR] = "mkdir", [SBFS_MOVE] = "move", [SBFS_REMOVE] = "remove",
};

/* What a listing's output may hold: a deep listing of a big tree is
 * refused rather than held in memory. */
#define LIST_OUTPUT_MAX ((uint64_t)16 << 20)

struct sbfs_wait {
	struct exec *x;
	struct exec_observer obs;
	enum sbfs_op op;
	uint64_t max_size;
	char path[SBFS_PATH_MAX + 1], to[SBFS_PATH_MAX + 1];
	sbfs_done_fn done;
	void *data;
};

/* ---- paths ------------------------------------------------------------------------ */

int sbfs_resolve(const char *path, size_t len, char *out, struct wd_error *err)
{
	if (!path || len == 0)
		return wd_fail(err, 400, "path: empty");
	if (memchr(path, '\0', len))
		return wd_fail(err, 400, "path: contains a NUL byte");
	if (len > SBFS_PATH_MAX)
		return wd_fail(err, 400, "path: longer than %d bytes", SBFS_PATH_MAX);
	char joined[2 * SBFS_PATH_MAX + 2];
	if (path[0] == '/')
		snprintf(joined, sizeof joined, "%.*s", (int)len, path);
	else if (path[0] == '~' && (len == 1 || path[1] == '/'))
		snprintf(joined, sizeof joined, SBFS_HOME "%.*s", (int)(len - 1), path + 1);
	else
		snprintf(joined, sizeof joined, SBFS_HOME "/%.*s", (int)len, path);
	/* component by component: "." goes, ".." takes the last one back */
	size_t o = 0;
	for (char *c = joined; *c;) {
		while (*c == '/')
			c++;
		size_t n = strcspn(c, "/");
		if (n == 0)
			break;
		if (n == 1 && c[0] == '.') {
		} else if (n == 2 && c[0] == '.' && c[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			if (o + 1 + n > SBFS_PATH_MAX)
				return wd_fail(err, 400, "path: longer than %d bytes", SBFS_PATH_MAX);
			out[o++] = '/';
			memcpy(out + o, c, n);
			o += n;
		}
		c += n;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return 0;
}

void sbfs_permissions(char type, uint32_t mode, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";
	out[0] = type == 'f' ? '-' : type == '?' ? '?' : type;
	for (int i = 0; i < 9; i++)
		out[1 + i] = mode & (0400u >> i) ? rwx[i] : '-';
	if (mode & 04000)
		out[3] = mode & 0100 ? 's' : 'S';
	if (mode & 02000)
		out[6] = mode & 010 ? 's' : 'S';
	if (mode & 01000)
		out[9] = mode & 01 ? 't' : 'T';
	out[10] = '\0';
}

/* ---- results ------------------------------------------------------------------------ */

static char *field_dup(const struct find_field *f)
{
	return strndup(f->p, f->len);
}

bool sbfs_entry_from_record(const struct find_record *rec, struct sbfs_entry *out)
{
	*out = (struct sbfs_entry){ .type = rec->type, .mode = rec->mode, .size = rec->size,
				    .mtime_s = rec->mtime_s, .mtime_ns = rec->mtime_ns };
	out->path = field_dup(&rec->path);
	out->owner = field_dup(&rec->owner);
	out->group = field_dup(&rec->group);
	if (rec->type == 'l')
		out->target = field_dup(&rec->target);
	if (!out->path || !out->owner || !out->group || (rec->type == 'l' && !out->target)) {
		sbfs_entry_free(out);
		return false;
	}
	/* "/a/b/" never: find prints no trailing slash below the root */
	char *slash = strrchr(out->path, '/');
	out->name = slash && slash[1] ? slash + 1 : out->path;
	return true;
}

void sbfs_entry_free(struct sbfs_entry *e)
{
	free(e->path);
	free(e->owner);
	free(e->group);
	free(e->target);
	*e = (struct sbfs_entry){ 0 };
}

static void entries_free(struct sbfs_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sbfs_entry_free(&v[i]);
	free(v);
}

/* Every record of a command's output; 502 when it printed what find
 * would not. */
static int parse_records(const char *buf, size_t len, struct sbfs_result *res, struct wd_error *err)
{
	size_t at = 0, cap = 0;
	while (at < len) {
		struct find_record rec;
		const char *why = "truncated";
		ssize_t n = find_record_next(buf + at, len - at, SBFS_PATH_MAX, &rec, &why);
		if (n <= 0 || rec.end)
			return wd_fail(err, 502, "the sandbox's listing is malformed (%s at byte %zu)", why, at);
		at += (size_t)n;
		if (res->n == cap) {
			cap = cap ? 2 * cap : 8;
			struct sbfs_entry *grown = realloc(res->entries, cap * sizeof *grown);
			if (!grown)
				return wd_fail(err, 503, "out of memory");
			res->entries = grown;
		}
		if (!sbfs_entry_from_record(&rec, &res->entries[res->n]))
			return wd_fail(err, 503, "out of memory");
		res->n++;
	}
	return 0;
}

void sbfs_keep_tail(char *tail, size_t cap, size_t *len, const char *buf, size_t n)
{
	size_t keep = n < cap ? n : cap;
	if (*len + keep > cap) {
		size_t drop = *len + keep - cap;
		memmove(tail, tail + drop, *len - drop);
		*len -= drop;
	}
	memcpy(tail + *len, buf + n - keep, keep);
	*len += keep;
}

int sbfs_failure(const struct exec_result *r, const char *errout, size_t errlen, struct wd_error *err)
{
	static const struct {
		const char *text;
		int status;
		const char *code;
	} reasons[] = {
		{ "No such file or directory", 404, NULL }, { "Directory nonexistent", 404, NULL },
		{ "Not a directory", 400, NULL }, { "Is a directory", 400, NULL },
		{ "File exists", 409, "already_exists" }, { "Directory not empty", 409, NULL },
		{ "Permission denied", 403, NULL }, { "Operation not permitted", 403, NULL },
		{ "Read-only file system", 403, NULL }, { "No space left on device", 507, NULL },
		{ "Disk quota exceeded", 507, NULL }, { "File too large", 413, NULL },
		{ "Too many levels of symbolic links", 400, NULL }, { "File name too long", 400, NULL },
	};
	char line[512] = "";
	if (errout) {
		/* the last non-empty line, as UTF-8 for JSON */
		size_t len = errlen;
		while (len && errout[len - 1] == '\n')
			len--;
		const char *start = memrchr(errout, '\n', len);
		start = start ? start + 1 : errout;
		size_t n = (size_t)(errout + len - start);
		size_t text_len;
		_cleanup_free_ char *text = utf8_lossy(start, n < 400 ? n : 400, &text_len);
		snprintf(line, sizeof line, "%s", text ? text : "");
	}
	if (r->failed_to_start)
		return wd_fail(err, 409, "the command could not start: %s", r->exec_error);
	if (r->timed_out)
		return wd_fail(err, 504, "the file operation took longer than the session's command timeout");
	if (r->oom_killed)
		return wd_fail(err, 507, "the file operation ran out of memory in the sandbox");
	if (r->exited && (r->exit_code == 126 || r->exit_code == 127))
		return wd_fail(err, 501, "the sandbox's image lacks a tool file operations need (sh, find, cat, mkdir, "
			       "mv, rm): %s", line);
	for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++)
		if (strstr(line, reasons[i].text))
			return reasons[i].code ? wd_fail_code(err, reasons[i].status, reasons[i].code, "%s", line)
					       : wd_fail(err, reasons[i].status, "%s", line);
	if (!r->exited)
		return wd_fail(err, 500, "the file operation was killed by signal %d", r->signal);
	return wd_fail(err, 500, "the file operation failed (exit %d): %s", r->exit_code, line[0] ? line : "no message");
}

static void on_done(struct exec_observer *o, struct exec_result *r)
{
	struct sbfs_wait *w = LIST_ENTRY(struct sbfs_wait, obs, o);
	struct wd_error err = { 0 };
	struct sbfs_result res = { .path = w->op == SBFS_MOVE ? w->to : w->path };
	bool ok = !r->failed_to_start && r->exited && r->exit_code == 0;
	if (!ok)
		sbfs_failure(r, r->out[1], r->out_len[1], &err);
	else if (r->truncated)
		wd_fail(&err, 413, w->op == SBFS_READ ? "%s: larger than %llu bytes" : "%s: the listing is larger than %llu "
			"bytes: ask for fewer levels", w->path, (unsigned long long)(w->op == SBFS_READ ? w->max_size
											 : LIST_OUTPUT_MAX));
	else if (w->op == SBFS_READ) {
		res.data = r->out[0];
		res.len = r->out_len[0];
		r->out[0] = NULL;
		if (!res.data && !(res.data = strdup("")))
			wd_fail(&err, 503, "out of memory");
	} else if (w->op != SBFS_REMOVE && parse_records(r->out[0], r->out_len[0], &res, &err) == 0 &&
		   w->op != SBFS_LIST && res.n != 1)
		wd_fail(&err, 502, "the sandbox answered %zu entries for %s", res.n, res.path);
	w->x = NULL;
	w->done(w->data, err.status ? NULL : &res, err.status ? &err : NULL);
	free(res.data);
	entries_free(res.entries, res.n);
	free(w);
}

/* ---- starting --------------------------------------------------------------------- */

char *const sbfs_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C", "HOME=" SBFS_HOME, NULL };

int sbfs_start(struct session *s, const struct sbfs_request *r, sbfs_done_fn done, void *data,
	       struct sbfs_wait **wait, struct wd_error *err)
{
	*wait = NULL;
	_cleanup_free_ struct sbfs_wait *w = calloc(1, sizeof *w);
	if (!w)
		return wd_fail(err, 503, "out of memory");
	int rc = sbfs_resolve(r->path, r->path ? strlen(r->path) : 0, w->path, err);
	if (rc == 0 && r->op == SBFS_MOVE)
		rc = sbfs_resolve(r->to, r->to ? strlen(r->to) : 0, w->to, err);
	if (rc < 0)
		return rc;
	if (r->op == SBFS_LIST && (r->depth < 1 || r->depth > 64))
		return wd_fail(err, 400, "depth: expected 1 to 64");
	char depth[16];
	snprintf(depth, sizeof depth, "%u", r->depth);
	char *argv[] = { "/bin/sh", "-c", (char *)script, "warren-files", (char *)op_names[r->op], w->path,
			 r->op == SBFS_MOVE ? w->to : depth, NULL };
	w->op = r->op;
	w->max_size = r->max_size;
	w->done = done;
	w->data = data;
	w->obs.on_done = on_done;
	uint64_t cap = r->op == SBFS_READ ? r->max_size + 1 : LIST_OUTPUT_MAX;
	struct exec_params p = {
		.kind = BACKEND_EXEC_COMMAND, .argv = argv, .envp = sbfs_env, .cwd = "/",
		.stdin_data = r->op == SBFS_WRITE ? r->data : NULL, .stdin_len = r->op == SBFS_WRITE ? r->len : 0,
		.timeout_ms = s->limits.timeout_ms, .output_cap = cap, .keep_output = true, .request_id = r->request_id,
	};
	if (!(w->x = session_file_exec(s, &p, &w->obs, err)))
		return err->cause.code ? -err->cause.code : -EIO;
	*wait = TAKE_PTR(w);
	return 0;
}

void sbfs_cancel(struct sbfs_wait *w)
{
	if (w->x)
		exec_unobserve(w->x, &w->obs); /* bound: the command is killed */
	free(w);
}
