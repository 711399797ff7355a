#include "config.h"

/* Watching a directory of a sandbox (sandbox-files.h): a command inside
 * lists it every SBFS_WATCH_POLL_MS and prints the listing when its
 * checksum changed; each listing ends with FIND_RECORD_END. The daemon
 * keeps the last listing, sorted by path, and reports the differences. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "find-records.h"
#include "sandbox-files.h"
#include "session-internal.h"

/* $1 the directory, $2 "1" or "" (recursive), $3 the pause between
 * listings in seconds. The checksum spares the
 * daemon a listing when nothing changed; a change between the two finds
 * only prints the newer one again next time. */
static const char script[] =
	"d=$1\n"
	"if [ ! -d \"$d\" ]; then\n"
	"  if [ -e \"$d\" ]; then r='Not a directory'; else r='No such file or directory'; fi\n"
	"  printf 'warren: %s: %s\\n' \"$d\" \"$r\" >&2; exit 1\n"
	"fi\n"
	"pause=$3\n"
	"set -- -maxdepth 1; [ \"$2\" ] && set --\n"
	"prev=\n"
	"while :; do\n"
	"  sum=$(find \"$d\" -mindepth 1 \"$@\" -printf '%y %m %s %T@ %p\\n' 2>/dev/null | cksum)\n"
	"  if [ \"$sum\" != \"$prev\" ]; then\n"
	"    find \"$d\" -mindepth 1 \"$@\" -printf '" FIND_RECORD_FORMAT "' 2>/dev/null\n"
	"    printf '" FIND_RECORD_END "'\n"
	"    prev=$sum\n"
	"  fi\n"
	"  sleep \"$pause\" || exit 1\n"
	"done\n";

/* Bytes of one listing in flight: far above SBFS_WATCH_MAX_ENTRIES' worth
 * of ordinary names, far below what would hurt the daemon. */
#define LISTING_BYTES_MAX ((size_t)8 << 20)

struct listing {
	struct sbfs_entry *v;
	size_t n, cap;
};

struct sbfs_watch {
	struct exec *x;
	struct exec_observer obs;
	const struct sbfs_watch_ops *ops;
	void *data;
	char dir[SBFS_PATH_MAX + 1];
	size_t prefix;              /* bytes of "dir/" at the start of each path */
	bool have_first, failed;
	struct listing cur, next;   /* the last complete listing, and the one arriving */
	char *in;                   /* stdout not parsed yet */
	size_t in_len;
	char err_tail[512];         /* the end of stderr, for the reason it ended */
	size_t err_len;
};

static void listing_clear(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		sbfs_entry_free(&l->v[i]);
	free(l->v);
	*l = (struct listing){ 0 };
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct sbfs_entry *)a)->path, ((const struct sbfs_entry *)b)->path);
}

static const char *rel(const struct sbfs_watch *w, const struct sbfs_entry *e)
{
	return e->path + w->prefix;
}

/* What changed from `cur` to `next`, both sorted: one merge. A directory's
 * own time changes with what is in it; that is not a write of it. */
static void report(struct sbfs_watch *w)
{
	size_t i = 0, j = 0;
	struct listing *a = &w->cur, *b = &w->next;
	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->v[i].path, b->v[j].path);
		if (c < 0) {
			w->ops->event(w->data, SBFS_EV_REMOVE, rel(w, &a->v[i]), NULL);
			i++;
		} else if (c > 0) {
			w->ops->event(w->data, SBFS_EV_CREATE, rel(w, &b->v[j]), &b->v[j]);
			j++;
		} else {
			const struct sbfs_entry *o = &a->v[i], *n = &b->v[j];
			if (o->type != n->type) {
				w->ops->event(w->data, SBFS_EV_REMOVE, rel(w, o), NULL);
				w->ops->event(w->data, SBFS_EV_CREATE, rel(w, n), n);
			} else if (n->type != 'd' && (o->size != n->size || o->mtime_s != n->mtime_s ||
						      o->mtime_ns != n->mtime_ns)) {
				w->ops->event(w->data, SBFS_EV_WRITE, rel(w, n), n);
			} else if (o->mode != n->mode) {
				w->ops->event(w->data, SBFS_EV_CHMOD, rel(w, n), n);
			}
			i++, j++;
		}
	}
}

/* The watch cannot go on: the caller hears why; on_output lets the
 * command go (it is killed) and frees the watch once it is done with it. */
static void fail(struct sbfs_watch *w, struct wd_error *err)
{
	if (w->failed)
		return;
	w->failed = true;
	w->ops->ended(w->data, err);
}

static void watch_free(struct sbfs_watch *w);

/* One complete listing arrived. */
static void listing_done(struct sbfs_watch *w)
{
	if (w->next.n) /* (an empty directory's listing has no array) */
		qsort(w->next.v, w->next.n, sizeof *w->next.v, by_path);
	if (w->have_first)
		report(w);
	listing_clear(&w->cur);
	w->cur = w->next;
	w->next = (struct listing){ 0 };
	if (!w->have_first) {
		w->have_first = true;
		w->ops->started(w->data);
	}
}

static int take_record(struct sbfs_watch *w, const struct find_record *rec, struct wd_error *err)
{
	if (rec->path.len <= w->prefix || memcmp(rec->path.p, w->dir, w->prefix - 1) ||
	    rec->path.p[w->prefix - 1] != '/')
		return wd_fail(err, 502, "the sandbox's listing names a path outside %s", w->dir);
	if (w->next.n == SBFS_WATCH_MAX_ENTRIES)
		return wd_fail(err, 413, "%s holds more than %d entries: watch a smaller directory%s", w->dir,
			       SBFS_WATCH_MAX_ENTRIES, " (or not recursively)");
	if (w->next.n == w->next.cap) {
		size_t cap = w->next.cap ? 2 * w->next.cap : 64;
		struct sbfs_entry *grown = realloc(w->next.v, cap * sizeof *grown);
		if (!grown)
			return wd_fail(err, 503, "out of memory");
		w->next.v = grown;
		w->next.cap = cap;
	}
	if (!sbfs_entry_from_record(rec, &w->next.v[w->next.n]))
		return wd_fail(err, 503, "out of memory");
	w->next.n++;
	return 0;
}

static void on_output(struct exec_observer *o, int stream, const char *buf, size_t len, uint64_t seq)
{
	struct sbfs_watch *w = LIST_ENTRY(struct sbfs_watch, obs, o);
	struct wd_error err = { 0 };
	if (stream == 1) {
		sbfs_keep_tail(w->err_tail, sizeof w->err_tail, &w->err_len, buf, len);
		return;
	}
	char *grown = w->in_len + len > LISTING_BYTES_MAX ? NULL : realloc(w->in, w->in_len + len);
	if (grown) {
		w->in = grown;
		memcpy(w->in + w->in_len, buf, len);
		w->in_len += len;
	} else if (w->in_len + len > LISTING_BYTES_MAX) {
		wd_fail(&err, 413, "%s: the listing is larger than %zu bytes: watch a smaller directory", w->dir,
			LISTING_BYTES_MAX);
		fail(w, &err);
	} else {
		wd_fail(&err, 503, "out of memory");
		fail(w, &err);
	}
	size_t at = 0;
	while (!w->failed && at < w->in_len) {
		struct find_record rec;
		const char *why = "";
		ssize_t n = find_record_next(w->in + at, w->in_len - at, SBFS_PATH_MAX, &rec, &why);
		if (n == 0)
			break;
		if (n < 0) {
			wd_fail(&err, 502, "the sandbox's listing is malformed (%s)", why);
			fail(w, &err);
			break;
		}
		at += (size_t)n;
		if (rec.end)
			listing_done(w);
		else if (take_record(w, &rec, &err) < 0)
			fail(w, &err);
	}
	memmove(w->in, w->in + at, w->in_len - at);
	w->in_len -= at;
	if (w->failed) {
		exec_unobserve(w->x, &w->obs); /* bound: the command is killed */
		watch_free(w);
	}
}

static void watch_free(struct sbfs_watch *w)
{
	listing_clear(&w->cur);
	listing_clear(&w->next);
	free(w->in);
	free(w);
}

static void on_done(struct exec_observer *o, struct exec_result *r)
{
	struct sbfs_watch *w = LIST_ENTRY(struct sbfs_watch, obs, o);
	w->x = NULL;
	if (!w->failed) {
		struct wd_error err = { 0 };
		/* killed with its session (or the daemon's drain): no error to tell */
		bool quiet = !r->failed_to_start && !r->exited && !r->timed_out && !r->oom_killed;
		if (!quiet)
			sbfs_failure(r, w->err_tail, w->err_len, &err);
		w->failed = true;
		w->ops->ended(w->data, quiet ? NULL : &err);
	}
	watch_free(w);
}

struct sbfs_watch *sbfs_watch_start(struct session *s, const char *path, size_t len, bool recursive,
				    const struct sbfs_watch_ops *ops, void *data, const char *request_id,
				    struct wd_error *err)
{
	_cleanup_free_ struct sbfs_watch *w = calloc(1, sizeof *w);
	if (!w)
		return wd_fail(err, 503, "out of memory"), NULL;
	if (sbfs_resolve(path, len, w->dir, err) < 0)
		return NULL;
	w->prefix = strlen(w->dir) + 1;
	if (!strcmp(w->dir, "/"))
		w->prefix = 1; /* "/x": the root's own slash */
	w->ops = ops;
	w->data = data;
	w->obs.on_output = on_output;
	w->obs.on_done = on_done;
	char pause[16];
	snprintf(pause, sizeof pause, "%d.%03d", SBFS_WATCH_POLL_MS / 1000, SBFS_WATCH_POLL_MS % 1000);
	char *argv[] = { "/bin/sh", "-c", (char *)script, "warren-watch", w->dir, recursive ? "1" : "", pause, NULL };
	struct exec_params p = {
		.kind = BACKEND_EXEC_COMMAND, .argv = argv, .envp = sbfs_env, .cwd = "/", .timeout_ms = 0,
		.output_cap = UINT64_MAX, .keep_output = false, .request_id = request_id,
	};
	if (!(w->x = session_file_exec(s, &p, &w->obs, err)))
		return NULL;
	return TAKE_PTR(w);
}

void sbfs_watch_stop(struct sbfs_watch *w)
{
	if (w->x) {
		w->failed = true;
		exec_unobserve(w->x, &w->obs); /* bound: the command is killed */
	}
	watch_free(w);
}
