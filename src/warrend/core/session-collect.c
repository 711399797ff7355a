/* Collecting a session's files into artifacts: see session-collect.h. */
#include "config.h"
#include "session-collect.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "artifacts.h"
#include "child.h"
#include "cleanup.h"
#include "collect.h"
#include "daemon.h"
#include "encode.h"
#include "session-internal.h"

/* A collection copies at most total_max (50M by default) between two
 * tmpfs; this only catches a collector that hangs. */
#define COLLECT_TIMEOUT_MS 120000
/* Bytes of inline files in one answer, whatever inline_max says. */
#define INLINE_TOTAL_MAX(inline_max) ((inline_max) * 16)
/* A report: a few hundred bytes per file plus the inline files. */
#define REPORT_MAX(inline_max) (INLINE_TOTAL_MAX(inline_max) / 3 * 4 + (16 << 20))

struct collect_wait {
	struct child *child;
	int report_fd;
	char owner[65];
	char prefix[ARTIFACT_ID_LEN - 8 + 1];
	uint64_t granted, inline_max;
	bool abandoned;
	session_collect_fn done;
	void *data;
	char request_id[REQUEST_ID_MAX + 1], session_id[33];
};

/* ---- the child ------------------------------------------------------------ */

enum { FD_WS = CHILD_FD_BASE, FD_TMP, FD_DIR, FD_REPORT, FD_COUNT };

/* What the child reads of its copy of the daemon's memory. */
struct job {
	struct collect_pattern *patterns;
	size_t n;
	struct collect_limits limits;
	struct collect_source src;
	uint64_t inline_max, inline_left, budget;
	bool store_all;
	const char *quota_why, *owner, *prefix;
	time_t expires;
	unsigned counter;
};

/* The record beside ID.data: what a restarted daemon reads back. */
static int write_record(const struct job *j, const char *id, const char *name, const char *path, uint64_t size,
			wr_error *e)
{
	char tmp[ARTIFACT_ID_LEN + 16], final[ARTIFACT_ID_LEN + 8];
	snprintf(tmp, sizeof tmp, "%s.json.part", id);
	snprintf(final, sizeof final, "%s.json", id);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "id", id, "owner", j->owner, "name", name, "path", path,
			      "size", (json_int_t)size, "expires", (json_int_t)j->expires);
	_cleanup_close_ int fd = openat(FD_DIR, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int r = !o || fd < 0 || json_dumpfd(o, fd, JSON_COMPACT) < 0 || renameat(FD_DIR, tmp, FD_DIR, final) < 0;
	json_decref(o);
	if (r) {
		unlinkat(FD_DIR, tmp, 0);
		return wr_error_set(e, errno ? errno : EIO, "write the artifact's record");
	}
	return 0;
}

static int store(struct job *j, struct collect_file *f, uint64_t *copied, wr_error *e)
{
	if (f->size > j->budget)
		return wr_error_set(e, 0, "%s", j->quota_why), -EDQUOT;
	const char *slash = strrchr(f->name, '/');
	const char *name = slash ? slash + 1 : f->name;
	char id[ARTIFACT_ID_LEN + 1], part[ARTIFACT_ID_LEN + 8], data[ARTIFACT_ID_LEN + 8];
	snprintf(id, sizeof id, "%s%08x", j->prefix, j->counter++);
	snprintf(part, sizeof part, "%s.part", id);
	snprintf(data, sizeof data, "%s.data", id);
	_cleanup_close_ int out = openat(FD_DIR, part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0)
		return wr_error_set(e, errno, "create the artifact");
	uint64_t max = f->max < j->budget ? f->max : j->budget;
	int r = collect_copy(f->fd, out, NULL, max, copied);
	if (r == 0 && renameat(FD_DIR, part, FD_DIR, data) < 0)
		r = -errno;
	if (r < 0) {
		unlinkat(FD_DIR, part, 0);
		if (r == -EFBIG && max < f->max)
			return wr_error_set(e, 0, "%s", j->quota_why), -EDQUOT;
		return r == -EFBIG ? r : wr_error_set(e, -r, "store the artifact");
	}
	if ((r = write_record(j, id, name, f->path, *copied, e)) < 0) {
		unlinkat(FD_DIR, data, 0);
		return r;
	}
	j->budget -= *copied;
	json_object_set_new(f->entry, "artifact", json_pack("{s:s, s:s, s:I}", "id", id, "name", name, "expires",
							    (json_int_t)j->expires));
	return 0;
}

/* Small files inline, the rest (and, with store_all, every file) stored. */
static int sink(void *arg, struct collect_file *f, uint64_t *copied, wr_error *e)
{
	struct job *j = arg;
	uint64_t small = j->inline_max < f->max ? j->inline_max : f->max;
	if (j->inline_max && f->size <= small && f->size <= j->inline_left) {
		_cleanup_free_ char *buf = malloc(small + 1);
		if (!buf)
			return wr_error_set(e, ENOMEM, "collect");
		int r = collect_copy(f->fd, -1, buf, small, copied);
		if (r == 0) {
			_cleanup_free_ char *b64 = base64_encode(buf, (size_t)*copied);
			if (!b64)
				return wr_error_set(e, ENOMEM, "collect");
			json_object_set_new(f->entry, "content_base64", json_string(b64));
			j->inline_left -= *copied;
			if (!j->store_all)
				return 0;
		} else if (r != -EFBIG) {
			return wr_error_set(e, -r, "read");
		}
		/* it grew past inline meanwhile, or it is stored as well */
		if (lseek(f->fd, 0, SEEK_SET) < 0)
			return wr_error_set(e, errno, "read");
	}
	uint64_t inline_bytes = *copied;
	int r = store(j, f, copied, e);
	if (r < 0 && json_object_get(f->entry, "content_base64")) {
		/* it came back inline all the same: say why it has no URL */
		json_object_set_new(f->entry, "url_error", json_string(e->message));
		*copied = inline_bytes;
		return 0;
	}
	return r;
}

static int collector(void *arg)
{
	struct job *j = arg;
	json_t *report = NULL;
	wr_error e = { 0 };
	if (collect_run(&j->src, j->patterns, j->n, &j->limits, sink, j, &report, &e) < 0)
		report = json_pack("{s:s}", "error", e.message);
	return report && json_dumpfd(report, FD_REPORT, JSON_COMPACT) == 0 ? 0 : 1;
}

/* ---- the daemon's side -------------------------------------------------------------- */

static void wait_free(struct collect_wait *w)
{
	if (w->report_fd >= 0)
		close(w->report_fd);
	free(w);
}

/* The report the child left, or NULL. */
static json_t *read_report(struct collect_wait *w)
{
	struct stat st;
	if (fstat(w->report_fd, &st) < 0 || st.st_size <= 0 || (uint64_t)st.st_size > REPORT_MAX(w->inline_max))
		return NULL;
	char *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, w->report_fd, 0);
	if (map == MAP_FAILED)
		return NULL;
	json_t *report = json_loadb(map, (size_t)st.st_size, 0, NULL);
	munmap(map, (size_t)st.st_size);
	return report;
}

/* The stored files join the store; a file that cannot is dropped from
 * the report and its bytes removed. */
static void adopt_stored(struct collect_wait *w, json_t *report)
{
	json_t *collected = json_object_get(report, "collected"), *entry;
	size_t i;
	bool dropped = false;
	json_array_foreach(collected, i, entry) {
		json_t *a = json_object_get(entry, "artifact");
		if (!a)
			continue;
		const char *id = json_string_value(json_object_get(a, "id"));
		const char *name = json_string_value(json_object_get(a, "name"));
		json_int_t size = json_integer_value(json_object_get(entry, "size"));
		json_int_t expires = json_integer_value(json_object_get(a, "expires"));
		if (!id || !name || strncmp(id, w->prefix, strlen(w->prefix)) ||
		    artifacts_add(id, w->owner, name, (uint64_t)size, (time_t)expires) < 0) {
			daemon_log("collect: artifact %s could not join the store: dropped", id ? id : "?");
			json_object_del(entry, "artifact");
			dropped = true;
		}
	}
	if (dropped) /* the collector removes what it fails to store itself */
		artifacts_discard_prefix(w->prefix);
}

static void collector_ended(void *data, int status, bool timed_out)
{
	struct collect_wait *w = data;
	json_t *report = !w->abandoned && WIFEXITED(status) ? read_report(w) : NULL;
	struct wd_error err = { 0 };
	const char *failed = json_string_value(json_object_get(report, "error"));
	if (report && !failed)
		adopt_stored(w, report);
	else
		artifacts_discard_prefix(w->prefix);
	artifacts_release(w->owner, w->granted);
	if (!w->abandoned) {
		LOG_CTX_SCOPE(w->request_id[0] ? w->request_id : NULL, w->session_id);
		if (failed)
			wd_fail(&err, 500, "collecting the files failed: %s", failed);
		else if (!report && timed_out)
			wd_fail(&err, 503, "collecting the files took longer than %d s", COLLECT_TIMEOUT_MS / 1000);
		else if (!report)
			wd_fail(&err, 500, "the collector ended without a report (status %#x)", (unsigned)status);
		w->done(w->data, failed || !report ? NULL : report, failed || !report ? &err : NULL);
	}
	json_decref(report);
	wait_free(w);
}

void session_collect_cancel(struct collect_wait *w)
{
	w->abandoned = true;
	child_kill(w->child); /* collector_ended follows: it removes what it stored, frees w */
}

/* The paths, parsed: 400 naming the bad one. */
static int parse_paths(const struct collect_options *o, struct collect_pattern **out, struct wd_error *err)
{
	if (o->n_paths == 0)
		return wd_fail(err, 400, "no paths to collect");
	if (o->n_paths > COLLECT_PATHS_MAX)
		return wd_fail(err, 400, "%zu paths: at most %d", o->n_paths, COLLECT_PATHS_MAX);
	struct collect_pattern *p = calloc(o->n_paths, sizeof *p);
	if (!p)
		return wd_fail(err, 503, "out of memory");
	for (size_t i = 0; i < o->n_paths; i++) {
		wr_error e = { 0 };
		if (collect_pattern_parse(o->paths[i], strlen(o->paths[i]), &p[i], &e) < 0) {
			free(p);
			return wd_fail(err, 400, "%s", e.message);
		}
	}
	*out = p;
	return 0;
}

int session_collect_check(const char *const *paths, size_t n, struct wd_error *err)
{
	struct collect_options o = { .paths = paths, .n_paths = n };
	struct collect_pattern *p = NULL;
	int r = parse_paths(&o, &p, err);
	free(p);
	return r;
}

/* The sandbox's /workspace and /tmp, and the user to read them as. */
static int open_areas(struct session *s, int fds[2], struct collect_source *src, struct wd_error *err)
{
	const struct backend_ops *ops = box_ops(s->box);
	if (!ops->open_workspace || !ops->open_tmp)
		return wd_fail(err, 501, "collecting files is not available on the %s backend: "
				    "use native or oci", ops->name);
	fds[0] = ops->open_workspace(box_backend(s->box), &src->uid, &src->gid);
	if (fds[0] < 0)
		return wd_fail(err, 409, "session %s is not running: its workspace cannot be opened (%s)", s->id,
			       strerror(-fds[0]));
	fds[1] = ops->open_tmp(box_backend(s->box));
	if (fds[1] < 0) {
		int r = fds[1];
		close(fds[0]);
		return wd_fail(err, 409, "session %s is not running: its /tmp cannot be opened (%s)", s->id, strerror(-r));
	}
	return 0;
}

int session_collect(struct session *s, const struct collect_options *o, session_collect_fn done, void *data,
		    struct collect_wait **wait, struct wd_error *err)
{
	*wait = NULL;
	_cleanup_free_ struct collect_pattern *patterns = NULL;
	int r;
	if ((r = parse_paths(o, &patterns, err)) < 0 || (r = session_check_alive(s, err)) < 0)
		return r;
	const struct policy_collect *pc = &pool_policy(s->pool)->collect;
	struct job j = {
		.patterns = patterns, .n = o->n_paths, .store_all = o->store_all, .inline_max = o->inline_max,
		.inline_left = INLINE_TOTAL_MAX(o->inline_max), .owner = s->owner->name, .expires = artifacts_expiry(),
		.limits = { .file_max = pc->file_max, .total_max = pc->total_max, .count_max = pc->count_max },
	};
	int areas[2] = { -1, -1 };
	if ((r = open_areas(s, areas, &j.src, err)) < 0)
		return r;
	struct collect_wait *w = calloc(1, sizeof *w);
	if (!w) {
		close(areas[0]);
		close(areas[1]);
		return wd_fail(err, 503, "out of memory");
	}
	*w = (struct collect_wait){ .report_fd = memfd_create("collect-report", MFD_CLOEXEC), .done = done, .data = data,
				    .inline_max = o->inline_max };
	snprintf(w->owner, sizeof w->owner, "%s", s->owner->name);
	snprintf(w->session_id, sizeof w->session_id, "%s", s->id);
	snprintf(w->request_id, sizeof w->request_id, "%s", o->request_id ? o->request_id : "");
	artifacts_new_prefix(w->prefix);
	j.prefix = w->prefix;
	j.budget = w->granted = artifacts_reserve(w->owner, pc->total_max, &j.quota_why);
	const int fds[FD_COUNT - FD_WS] = { areas[0], areas[1], artifacts_dir_fd(), w->report_fd };
	j.src.area[COLLECT_WORKSPACE] = FD_WS; /* where the child has them */
	j.src.area[COLLECT_TMP] = FD_TMP;
	wr_error e = { 0 };
	r = w->report_fd < 0 ? wr_error_set(&e, errno, "memfd_create")
			     : child_start(fds, FD_COUNT - FD_WS, collector, &j, COLLECT_TIMEOUT_MS, collector_ended, w,
					   &w->child, &e);
	close(areas[0]);
	close(areas[1]);
	if (r < 0) {
		artifacts_release(w->owner, w->granted);
		wait_free(w);
		return wd_fail(err, 503, "the collector: %s", e.message);
	}
	session_touch(s);
	*wait = w;
	return 0;
}
