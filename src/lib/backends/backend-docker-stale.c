/* The docker backend's removals and its sweep of what dead daemons left.
 *
 * A container is removed by its id, never by a name whose creation may
 * still be in flight: podman 4 answers DELETE /containers/NAME, while it
 * creates NAME, by deleting the new container's storage as a leftover of
 * another tool, then records the container anyway. That record (state
 * Created, no storage) makes every later listing that includes it fail
 * with `getting container from store "ID": container not known`. An id
 * comes from the engine's answer to a create, an inspect or a listing:
 * the container is recorded by then.
 *
 * Everything here blocks: it runs in the backend's children, and at
 * start-up before the daemon serves. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend-docker-internal.h"
#include "cleanup.h"
#include "clock.h"
#include "docker-client.h"

#define LIST_TIMEOUT_MS 10000
#define REMOVE_STALE_TIMEOUT_MS 10000
/* broken records removed per listing before it counts as failed */
#define REPAIRS_MAX 8
/* How long a sweep may go on removing: the daemon's start waits for its
 * first, and a health check's child is killed after 30 s. What is left
 * waits for the next check's. */
#define START_SWEEP_MS 5000
#define CHECK_SWEEP_MS 15000

/* What remove_stale was given, for the sweeps of later health checks. */
static struct {
	char prefix[32];
	bool (*keep)(const char *name);
} stale;

int docker_remove_by_id(const char *id, unsigned timeout_ms, wr_error *e)
{
	_cleanup_free_ char *q = docker_url_escape(id), *url = NULL;
	if (!q || asprintf(&url, DOCKER_API_PREFIX "/containers/%s?force=1&v=1", q) < 0)
		return wr_error_set(e, ENOMEM, "request");
	wr_error ce = { 0 };
	int st = docker_call_json(docker_cfg.socket, "DELETE", url, NULL, timeout_ms, NULL, &ce);
	if (st == 204 || st == 200 || st == 404)
		return 0;
	wr_error_set(e, 0, "remove container %.12s: %s", id, ce.message);
	return st < 0 ? st : -EIO; /* ce's message already says it */
}

int docker_remove_by_name(const char *name, unsigned timeout_ms, wr_error *e)
{
	_cleanup_free_ char *q = docker_url_escape(name), *url = NULL;
	if (!q || asprintf(&url, DOCKER_API_PREFIX "/containers/%s/json", q) < 0)
		return wr_error_set(e, ENOMEM, "request");
	json_t *out = NULL;
	wr_error ce = { 0 };
	int st = docker_call_json(docker_cfg.socket, "GET", url, NULL, timeout_ms, &out, &ce);
	char id[72];
	snprintf(id, sizeof id, "%s", json_string_value(json_object_get(out, "Id")) ?: "");
	json_decref(out);
	if (st == 404)
		return 0; /* never recorded: its create failed or never reached the engine */
	if (st != 200 || !id[0]) {
		wr_error_set(e, 0, "inspect container %s: %s", name, ce.message);
		return st < 0 ? st : -EIO;
	}
	return docker_remove_by_id(id, timeout_ms, e);
}

/* The containers with our label. A listing that fails on a broken record
 * (docker_broken_record) has that container removed and is tried again:
 * such a container can never start, and while it is there the engine
 * lists nothing. What was repaired is said in *repaired ("" if nothing). */
static int list_ours(uint64_t deadline, json_t **out, char *repaired, size_t len, wr_error *e)
{
	repaired[0] = '\0';
	for (int repairs = 0;; repairs++) {
		json_t *list = NULL;
		wr_error le = { 0 };
		int st = docker_call_json(docker_cfg.socket, "GET",
					  DOCKER_API_PREFIX "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22io.warren.daemon%22%5D%7D",
					  NULL, LIST_TIMEOUT_MS, &list, &le);
		if (st == 200 && json_is_array(list)) {
			*out = list;
			return 0;
		}
		json_decref(list);
		char id[72];
		if (st == 500 && repairs < REPAIRS_MAX && monotonic_ms() < deadline &&
		    docker_broken_record(le.message, id, sizeof id)) {
			wr_error re = { 0 };
			if (docker_remove_by_id(id, REMOVE_STALE_TIMEOUT_MS, &re) == 0) {
				snprintf(repaired, len, "removed container %.12s, which the engine had recorded without its "
					 "storage (%s)", id, le.message);
				continue;
			}
			snprintf(le.message, sizeof le.message, "%s", re.message);
		}
		wr_error_set(e, 0, "the engine cannot list its containers (%s): those of dead daemons stay until it can",
			     le.message);
		return st < 0 ? st : -EIO;
	}
}

/* Removes our containers whose names start with prefix and that keep()
 * does not claim. The count of removals; e says what went wrong or was
 * repaired (empty when all went well). */
static unsigned sweep(const char *prefix, bool (*keep)(const char *name), unsigned budget_ms, wr_error *e)
{
	json_t *list = NULL;
	char repaired[sizeof e->message];
	uint64_t deadline = monotonic_ms() + budget_ms;
	if (list_ours(deadline, &list, repaired, sizeof repaired, e) < 0)
		return 0;
	if (repaired[0])
		snprintf(e->message, sizeof e->message, "%s", repaired);
	unsigned removed = 0;
	size_t i;
	json_t *c;
	json_array_foreach(list, i, c) {
		const char *name = json_string_value(json_array_get(json_object_get(c, "Names"), 0));
		const char *id = json_string_value(json_object_get(c, "Id"));
		if (name && *name == '/')
			name++;
		if (!name || !id || strncmp(name, prefix, strlen(prefix)) || (keep && keep(name)))
			continue;
		if (monotonic_ms() > deadline)
			break;
		removed += docker_remove_by_id(id, REMOVE_STALE_TIMEOUT_MS, NULL) == 0;
	}
	json_decref(list);
	return removed;
}

unsigned docker_remove_stale(const char *prefix, bool (*keep)(const char *name))
{
	snprintf(stale.prefix, sizeof stale.prefix, "%s", prefix);
	stale.keep = keep;
	wr_error e = { 0 };
	unsigned removed = sweep(prefix, keep, START_SWEEP_MS, &e);
	if (e.message[0])
		fprintf(stderr, "warrend: docker: %s\n", e.message);
	/* exec info files, their markers and profiles of the crashed daemon
	 * (NAME.ID, NAME.ID.stdin-closed, NAME.seccomp.json: a container's
	 * name has no dot) */
	_cleanup_closedir_ DIR *dir = opendir(docker_cfg.state_dir);
	struct dirent *de;
	while (dir && (de = readdir(dir))) {
		char name[256];
		snprintf(name, sizeof name, "%s", de->d_name);
		name[strcspn(name, ".")] = '\0';
		if (strncmp(name, prefix, strlen(prefix)) || (keep && keep(name)))
			continue;
		const char *dot = de->d_name + strlen(name);
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", docker_cfg.state_dir, de->d_name);
		if (*dot == '.' && dot[1] && !dot[1 + strspn(dot + 1, "0123456789")])
			docker_end_client(path); /* (its container went above) */
		unlinkat(dirfd(dir), de->d_name, 0);
	}
	return removed;
}

void docker_sweep(wr_error *e)
{
	/* keep() runs in a child here, where the daemon itself counts as alive */
	if (stale.keep && getpid() != docker_cfg.daemon_pid)
		sweep(stale.prefix, stale.keep, CHECK_SWEEP_MS, e);
}
