#include "config.h"
#include "backends.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "backend-proc.h"
#include "daemon.h"

/* How often each started backend's health is checked again. */
#define HEALTH_INTERVAL_MS 10000

struct backend_state {
	const struct backend_ops *ops;
	bool started;           /* init succeeded */
	bool healthy;
	char error[256];        /* why not, when not */
	char warning[512];      /* healthy, but something the operator should know */
	struct proc check;      /* a health check running in a child */
	uint64_t checked_ms;
};

static struct backend_state states[BACKEND_COUNT];
static struct backend_settings settings;
static enum backend_kind default_kind = BACKEND_NATIVE;

enum backend_kind backends_default(void) { return default_kind; }

/* The backends the operator chose (backend, backend_fallback): their
 * health is always logged; the others' only with verbose, since a host
 * without an engine would otherwise hear about it at every start. */
static bool chosen(const struct backend_state *st)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	int k = (int)(st - states);
	return k == cfg->backend || k == cfg->backend_fallback || cfg->verbose;
}

static void set_health(struct backend_state *st, bool healthy, const char *why)
{
	if (chosen(st) && (st->healthy != healthy || (!healthy && strcmp(st->error, why))))
		daemon_log("backend %s is %s%s%s", st->ops->name, healthy ? "healthy" : "UNHEALTHY",
			   healthy ? "" : ": ", healthy ? "" : why);
	st->healthy = healthy;
	snprintf(st->error, sizeof st->error, "%s", healthy ? "" : why);
}

/* A healthy check's message (backend.h): logged when it changes. */
static void set_warning(struct backend_state *st, const char *warning)
{
	if (!strcmp(st->warning, warning))
		return;
	if (chosen(st))
		daemon_log("backend %s: %s", st->ops->name, warning[0] ? warning : "the warning is over");
	snprintf(st->warning, sizeof st->warning, "%s", warning);
}

static void check_now(struct backend_state *st)
{
	wr_error e = { 0 };
	int r = st->ops->health(&e);
	set_health(st, r == 0, r < 0 ? e.message : "");
	set_warning(st, r < 0 ? "" : e.message);
	st->checked_ms = daemon_now_ms();
}

int backends_init(struct wd_error *err)
{
	const struct daemon_config *cfg = &daemon_state->cfg;
	settings = (struct backend_settings){
		.state_dir = cfg->state_dir, .image_dir = cfg->image_dir, .cgroup_prefix = "wd-", .verbose = cfg->verbose,
		.oci = { .runtime = cfg->oci.runtime },
		.docker = { .socket = cfg->docker.socket, .image_prefix = cfg->docker.image_prefix,
			    .host_image = cfg->docker.host_image },
	};
	for (int k = 0; k < BACKEND_COUNT; k++) {
		struct backend_state *st = &states[k];
		st->ops = backend_get((enum backend_kind)k);
		st->check = (struct proc)PROC_INIT;
		wr_error e = { 0 };
		if (st->ops->init(&settings, &e) < 0) {
			snprintf(st->error, sizeof st->error, "%s", e.message);
			continue;
		}
		st->started = true;
		/* all now, bounded (a second at most each): a request may name
		 * any backend, and what a crashed daemon left in one is removed
		 * only when it answers */
		check_now(st);
	}
	struct backend_state *chosen = &states[cfg->backend];
	if (chosen->started && chosen->healthy) {
		default_kind = (enum backend_kind)cfg->backend;
		daemon_state->backend = cfg->backend;
		return 0;
	}
	daemon_log("!!! backend %s cannot run sandboxes: %s", chosen->ops->name, chosen->error);
	if (cfg->backend_fallback >= 0 && cfg->backend_fallback != cfg->backend) {
		struct backend_state *fb = &states[cfg->backend_fallback];
		if (fb->started && fb->healthy) {
			daemon_log("!!! using the fallback backend %s instead (backend_fallback)", fb->ops->name);
			default_kind = (enum backend_kind)cfg->backend_fallback;
			daemon_state->backend = cfg->backend_fallback;
			return 0;
		}
		return wd_fail(err, 503, "backend %s: %s; fallback %s: %s", chosen->ops->name, chosen->error,
			       fb->ops->name, fb->error);
	}
	return wd_fail(err, 503, "backend %s: %s (set backend_fallback to start with another)", chosen->ops->name,
		       chosen->error);
}

int backends_resolve(const char *name, enum backend_kind *out, struct wd_error *err)
{
	if (!name) {
		*out = default_kind;
		return 0;
	}
	enum backend_kind k;
	if (backend_kind_parse(name, &k) < 0)
		return wd_fail(err, 400, "backend: unknown backend \"%s\" (native, oci or docker)", name);
	/* The operator may keep every session on the default backend. */
	if (k != default_kind && !daemon_state->cfg.allow_backend_choice)
		return wd_fail(err, 403, "backend: \"%s\" may not be chosen per request on this daemon "
			       "(allow_backend_choice = false); leave it out to use %s", name,
			       backend_kind_name(default_kind));
	struct backend_state *st = &states[k];
	if (!st->started || !st->healthy)
		return wd_fail(err, 503, "backend %s cannot run sandboxes now: %s", st->ops->name,
			       st->error[0] ? st->error : "not checked yet");
	*out = k;
	return 0;
}

void backends_foreach(void (*fn)(const struct backend_health *h, void *data), void *data)
{
	for (int k = 0; k < BACKEND_COUNT; k++) {
		const struct backend_state *st = &states[k];
		bool ok = st->started && st->healthy;
		struct backend_health h = {
			.name = st->ops->name, .healthy = ok, .is_default = k == (int)default_kind,
			.error = ok ? NULL : st->error[0] ? st->error : "not checked yet",
			.warning = ok && st->warning[0] ? st->warning : NULL,
		};
		fn(&h, data);
	}
}

/* In the child of a background check: the verdict is the exit status, the
 * reason its last line. */
static int health_child(void *arg)
{
	const struct backend_ops *ops = arg;
	wr_error e = { 0 };
	int r = ops->health(&e);
	if (e.message[0])
		fprintf(stderr, "%s\n", e.message); /* the reason, or a healthy check's warning */
	return r < 0;
}

void backends_tick(uint64_t now)
{
	for (int k = 0; k < BACKEND_COUNT; k++) {
		struct backend_state *st = &states[k];
		if (!st->started)
			continue;
		if (st->check.pid > 0) {
			char why[256];
			if (proc_poll(&st->check, why, sizeof why) == 1) {
				bool ok = WIFEXITED(st->check.status) && WEXITSTATUS(st->check.status) == 0;
				set_health(st, ok, why[0] ? why : "the health check failed");
				set_warning(st, ok ? why : "");
				st->checked_ms = now;
			} else if (now - st->checked_ms > 3 * HEALTH_INTERVAL_MS) {
				proc_kill(&st->check);
				set_health(st, false, "the health check did not finish");
				st->checked_ms = now;
			}
			continue;
		}
		if (now - st->checked_ms < HEALTH_INTERVAL_MS || daemon_state->draining)
			continue;
		if (proc_start_fn(&st->check, health_child, (void *)st->ops, NULL, &(wr_error){ 0 }) < 0)
			st->checked_ms = now; /* try again next interval */
	}
}

unsigned backends_remove_stale(const char *prefix, bool (*keep)(const char *name))
{
	unsigned n = 0;
	for (int k = 0; k < BACKEND_COUNT; k++)
		if (states[k].started && states[k].healthy && states[k].ops->remove_stale)
			n += states[k].ops->remove_stale(prefix, keep);
	return n;
}

void backends_fini(void)
{
	for (int k = 0; k < BACKEND_COUNT; k++) {
		struct backend_state *st = &states[k];
		proc_kill(&st->check);
		if (st->ops && st->ops->fini) /* also after a failed init: it may have made them */
			st->ops->fini();
	}
}
