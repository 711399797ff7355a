#include "config.h"

/* envd's filesystem.Filesystem service (e2b.h): each call one operation
 * of sandbox-files.h, which runs inside the sandbox as its user, so paths
 * may be anywhere the sandbox user reaches. Watches are sbfs watches: a
 * WatchDir stream, or a watcher (CreateWatcher) whose events wait for
 * GetWatcherEvents. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cleanup.h"
#include "connect.h"
#include "e2b-proto.h"
#include "e2b.h"

/* A sandbox's watchers, and the events each keeps for GetWatcherEvents. */
#define WATCHERS_MAX 16
#define WATCHER_EVENTS_MAX 1024

/* ---- one unary operation ---------------------------------------------------------------- */

struct op {
	struct http_pending *pending;
	struct sbfs_wait *wait;
	enum sbfs_op kind;
};

static void op_gone(void *data)
{
	struct op *o = data;
	if (o->wait)
		sbfs_cancel(o->wait);
	o->wait = NULL;
}

static void op_done(void *data, struct sbfs_result *res, const struct wd_error *err)
{
	struct op *o = data;
	h2o_req_t *req = o->pending->req;
	o->pending->on_gone = NULL;
	o->wait = NULL;
	if (err) {
		connect_reply_wd_error(req, err);
		return;
	}
	if (o->kind == SBFS_REMOVE) {
		connect_reply(req, json_object());
		return;
	}
	if (o->kind != SBFS_LIST) {
		connect_reply(req, json_pack("{s:o}", "entry", e2b_entry(&res->entries[0])));
		return;
	}
	json_t *entries = json_array();
	for (size_t i = 0; entries && i < res->n; i++)
		json_array_append_new(entries, e2b_entry(&res->entries[i]));
	connect_reply(req, entries ? json_pack("{s:o}", "entries", entries) : NULL);
}

/* A path field; NULL after replying when it is absent or not a string. */
static const char *path_field(h2o_req_t *req, const json_t *msg, const char *name)
{
	char err[256];
	json_t *v;
	const char *s = NULL;
	size_t n = 0;
	if (pj_field(msg, name, name, &v, err, sizeof err) < 0 || pj_string(v, name, &s, &n, err, sizeof err) < 0)
		return connect_reply_error(req, "invalid_argument", "%s", err), NULL;
	if (!s || !*s || memchr(s, '\0', n))
		return connect_reply_error(req, "invalid_argument", "%s: expected a path (without NUL bytes)", name), NULL;
	return s;
}

static int operation(struct e2b_call *c, enum sbfs_op kind, const json_t *msg)
{
	struct sbfs_request r = { .op = kind, .request_id = c->request_id };
	char err_text[256];
	const char *p = path_field(c->req, msg, kind == SBFS_MOVE ? "source" : "path");
	if (!p)
		return 0;
	r.path = p;
	if (kind == SBFS_MOVE && !(r.to = path_field(c->req, msg, "destination")))
		return 0;
	if (kind == SBFS_LIST) {
		json_t *d;
		uint32_t depth = 0;
		if (pj_field(msg, "depth", "depth", &d, err_text, sizeof err_text) < 0 ||
		    pj_uint32(d, "depth", &depth, err_text, sizeof err_text) < 0)
			return connect_reply_error(c->req, "invalid_argument", "%s", err_text);
		r.depth = depth ? depth : 1;
	}
	struct op *o = h2o_mem_alloc_pool(&c->req->pool, sizeof *o);
	*o = (struct op){ .pending = http_pending_new(c->req, op_gone, o), .kind = kind };
	struct wd_error err = { 0 };
	if (sbfs_start(c->s, &r, op_done, o, &o->wait, &err) < 0) {
		o->pending->on_gone = NULL;
		return connect_reply_wd_error(c->req, &err);
	}
	return 0;
}

/* ---- watches ------------------------------------------------------------------------------ */

struct watch_opts {
	const char *path;
	bool recursive, include_entry;
};

static int watch_opts(h2o_req_t *req, const json_t *msg, struct watch_opts *o, bool streamed)
{
	char err[256];
	json_t *r, *ie;
	*o = (struct watch_opts){ 0 };
	if (!(o->path = path_field(req, msg, "path")))
		return -1;
	if (pj_field(msg, "recursive", "recursive", &r, err, sizeof err) < 0 ||
	    pj_bool(r, "recursive", &o->recursive, err, sizeof err) < 0 ||
	    pj_field(msg, "includeEntry", "include_entry", &ie, err, sizeof err) < 0 ||
	    pj_bool(ie, "includeEntry", &o->include_entry, err, sizeof err) < 0) {
		connect_reply_error(req, "invalid_argument", "%s", err);
		return -1;
	}
	return 0;
}

static json_t *watch_event(const char *name, enum sbfs_event_type type, const struct sbfs_entry *e, bool entry)
{
	return e2b_fs_event(name, (int)type, entry ? e : NULL);
}

/* WatchDir: one stream. */
struct watch_stream {
	struct connect_stream cs;   /* first */
	struct sbfs_watch *w;
	bool include_entry;
};

static void ws_started(void *data)
{
	struct watch_stream *st = data;
	connect_stream_send(&st->cs, json_pack("{s:{}}", "start"));
}

static void ws_event(void *data, enum sbfs_event_type type, const char *name, const struct sbfs_entry *e)
{
	struct watch_stream *st = data;
	connect_stream_send(&st->cs, json_pack("{s:o}", "filesystem", watch_event(name, type, e, st->include_entry)));
}

static void ws_ended(void *data, const struct wd_error *err)
{
	struct watch_stream *st = data;
	st->w = NULL;
	connect_stream_end(&st->cs, err ? connect_code_of(err) : "unavailable",
			   err ? err->cause.message : "the sandbox ended");
}

static void ws_closed(struct sse_stream *sse)
{
	struct watch_stream *st = (struct watch_stream *)sse;
	if (st->w)
		sbfs_watch_stop(st->w);
	st->w = NULL;
}

static const struct sbfs_watch_ops stream_ops = { ws_started, ws_event, ws_ended };

static int watch_dir(struct e2b_call *c)
{
	json_t *msg = connect_request(c->req, true);
	struct watch_opts o;
	if (!msg)
		return 0;
	if (watch_opts(c->req, msg, &o, true) < 0) {
		json_decref(msg);
		return 0;
	}
	struct watch_stream *st = connect_stream_new(c->req, sizeof *st, json_pack("{s:{}}", "keepalive"));
	st->include_entry = o.include_entry;
	st->cs.st.closed = ws_closed;
	connect_stream_start(&st->cs);
	struct wd_error err = { 0 };
	st->w = sbfs_watch_start(c->s, o.path, strlen(o.path), o.recursive, &stream_ops, st, c->request_id, &err);
	json_decref(msg);
	if (!st->w)
		connect_stream_end(&st->cs, connect_code_of(&err), err.cause.message);
	return 0;
}

/* CreateWatcher's: events kept until GetWatcherEvents takes them. */
struct watcher {
	struct list link;           /* in the sandbox's watchers */
	struct e2b_sandbox *sb;
	char id[33];
	struct sbfs_watch *w;       /* NULL once it ended */
	bool include_entry;
	json_t *events;             /* FilesystemEvent messages waiting */
	char error[256];            /* why it ended, for the next GetWatcherEvents */
	bool ended;
	/* the CreateWatcher call, until the first listing is taken */
	struct http_pending *pending;
};

static void watcher_free(struct watcher *wt)
{
	if (wt->w)
		sbfs_watch_stop(wt->w);
	if (wt->pending)
		wt->pending->on_gone = NULL;
	list_unlink(&wt->link);
	wt->sb->n_watchers--;
	json_decref(wt->events);
	free(wt);
}

static void wt_started(void *data)
{
	struct watcher *wt = data;
	if (!wt->pending)
		return;
	h2o_req_t *req = wt->pending->req;
	wt->pending->on_gone = NULL;
	wt->pending = NULL;
	connect_reply(req, json_pack("{s:s}", "watcherId", wt->id));
}

static void wt_event(void *data, enum sbfs_event_type type, const char *name, const struct sbfs_entry *e)
{
	struct watcher *wt = data;
	if (json_array_size(wt->events) >= WATCHER_EVENTS_MAX)
		json_array_remove(wt->events, 0); /* the oldest goes: a client that never asks holds little */
	json_array_append_new(wt->events, watch_event(name, type, e, wt->include_entry));
}

static void wt_ended(void *data, const struct wd_error *err)
{
	struct watcher *wt = data;
	wt->w = NULL;
	wt->ended = true;
	snprintf(wt->error, sizeof wt->error, "%s", err ? err->cause.message : "the sandbox ended");
	if (wt->pending) {
		h2o_req_t *req = wt->pending->req;
		wt->pending->on_gone = NULL;
		wt->pending = NULL;
		if (err)
			connect_reply_wd_error(req, err);
		else
			connect_reply_error(req, "unavailable", "the sandbox ended");
		watcher_free(wt);
	}
}

static const struct sbfs_watch_ops watcher_ops = { wt_started, wt_event, wt_ended };

static void watcher_gone(void *data)
{
	watcher_free(data); /* its CreateWatcher's client left before the answer */
}

static int create_watcher(struct e2b_call *c)
{
	json_t *msg = connect_request(c->req, false);
	struct watch_opts o;
	if (!msg)
		return 0;
	if (watch_opts(c->req, msg, &o, false) < 0) {
		json_decref(msg);
		return 0;
	}
	if (c->sb->n_watchers >= WATCHERS_MAX) {
		json_decref(msg);
		return connect_reply_error(c->req, "resource_exhausted", "sandbox %s has its maximum of %d watchers: "
					   "remove one", c->sb->id, WATCHERS_MAX);
	}
	struct watcher *wt = calloc(1, sizeof *wt);
	unsigned char raw[16];
	if (!wt || !(wt->events = json_array()) || getrandom(raw, sizeof raw, 0) != sizeof raw) {
		if (wt)
			json_decref(wt->events);
		free(wt);
		json_decref(msg);
		return connect_reply_error(c->req, "resource_exhausted", "out of memory");
	}
	for (int i = 0; i < 16; i++)
		sprintf(wt->id + 2 * i, "%02x", raw[i]);
	wt->sb = c->sb;
	wt->include_entry = o.include_entry;
	list_insert(&c->sb->watchers, &wt->link);
	c->sb->n_watchers++;
	wt->pending = http_pending_new(c->req, watcher_gone, wt);
	struct wd_error err = { 0 };
	wt->w = sbfs_watch_start(c->s, o.path, strlen(o.path), o.recursive, &watcher_ops, wt, c->request_id, &err);
	json_decref(msg);
	if (!wt->w) {
		watcher_free(wt);
		return connect_reply_wd_error(c->req, &err);
	}
	return 0;
}

static struct watcher *find_watcher(struct e2b_call *c, const json_t *msg)
{
	char err[256];
	json_t *v;
	const char *id = NULL;
	if (pj_field(msg, "watcherId", "watcher_id", &v, err, sizeof err) < 0 ||
	    pj_string(v, "watcherId", &id, NULL, err, sizeof err) < 0)
		return connect_reply_error(c->req, "invalid_argument", "%s", err), NULL;
	for (struct list *n = c->sb->watchers.next; id && n != &c->sb->watchers; n = n->next) {
		struct watcher *wt = LIST_ENTRY(struct watcher, link, n);
		if (!wt->pending && !strcmp(wt->id, id))
			return wt;
	}
	return connect_reply_error(c->req, "not_found", "no watcher \"%.64s\" in sandbox %s", id ? id : "", c->sb->id), NULL;
}

static int watcher_call(struct e2b_call *c, bool remove)
{
	json_t *msg = connect_request(c->req, false);
	if (!msg)
		return 0;
	struct watcher *wt = find_watcher(c, msg);
	json_decref(msg);
	if (!wt)
		return 0;
	if (remove) {
		watcher_free(wt);
		return connect_reply(c->req, json_object());
	}
	if (wt->ended && !json_array_size(wt->events)) {
		char why[256];
		snprintf(why, sizeof why, "the watcher ended: %s", wt->error);
		watcher_free(wt);
		return connect_reply_error(c->req, "not_found", "%s", why);
	}
	json_t *events = wt->events;
	wt->events = json_array();
	return connect_reply(c->req, json_pack("{s:o}", "events", events));
}

void e2b_fs_release(struct e2b_sandbox *sb)
{
	while (!list_empty(&sb->watchers))
		watcher_free(LIST_ENTRY(struct watcher, link, sb->watchers.next));
}

/* ---- the calls --------------------------------------------------------------------------- */

int e2b_fs_call(struct e2b_call *c, const char *method)
{
	static const struct {
		const char *name;
		enum sbfs_op op;
	} unary[] = {
		{ "Stat", SBFS_STAT }, { "MakeDir", SBFS_MKDIR }, { "Move", SBFS_MOVE }, { "ListDir", SBFS_LIST },
		{ "Remove", SBFS_REMOVE },
	};
	char msg[512];
	if (e2b_check_basic_user(c->req, msg, sizeof msg) < 0)
		return connect_reply_error(c->req, "invalid_argument", "%s", msg);
	for (size_t i = 0; i < sizeof unary / sizeof *unary; i++)
		if (!strcmp(method, unary[i].name)) {
			json_t *req = connect_request(c->req, false);
			if (!req)
				return 0;
			int r = operation(c, unary[i].op, req);
			json_decref(req);
			return r;
		}
	if (!strcmp(method, "WatchDir"))
		return watch_dir(c);
	if (!strcmp(method, "CreateWatcher"))
		return create_watcher(c);
	if (!strcmp(method, "GetWatcherEvents"))
		return watcher_call(c, false);
	if (!strcmp(method, "RemoveWatcher"))
		return watcher_call(c, true);
	return connect_reply_error(c->req, "unimplemented", "filesystem.Filesystem has no method \"%s\"", method);
}
