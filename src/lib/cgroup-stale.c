/* What a dead warren left: sandbox cgroups whose owner is gone, killed
 * and removed in every hierarchy. */
#include "config.h"
#include "cgroup-internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"

/* Kills what runs in parent/name. */
static unsigned kill_one(const char *parent, const char *name)
{
	_cleanup_free_ char *dir = NULL;
	if (asprintf(&dir, "%s/%s", parent, name) < 0)
		return 0;
	char *dirs[1] = { dir };
	cgroup_kill_dirs(cgroup_is_fs_type(parent, CGROUP2_SUPER_MAGIC) ? CGROUP_V2 : CGROUP_V1, dirs, 1);
	return 1;
}

/* Kills what runs in parent/name and removes it (and its children). */
static unsigned remove_one(const char *parent, const char *name)
{
	_cleanup_free_ char *dir = NULL;
	if (asprintf(&dir, "%s/%s", parent, name) < 0)
		return 0;
	char *dirs[1] = { dir };
	enum cgroup_mode mode = cgroup_is_fs_type(parent, CGROUP2_SUPER_MAGIC) ? CGROUP_V2 : CGROUP_V1;
	/* What was just killed takes a moment to leave (a dead daemon's
	 * inits are reaped by whoever inherited them): at most a second. */
	for (int tries = 0; tries < 100; tries++) {
		cgroup_kill_dirs(mode, dirs, 1);
		cgroup_remove_children(dir, 0);
		if (rmdir(dir) == 0)
			return 1;
		if (errno != EBUSY)
			return 0;
		usleep(10 * 1000);
	}
	return 0;
}

struct stale {
	const char *prefix;                /* every cgroup so named... */
	bool (*keep)(const char *name);    /* ...but those */
	const char *name;                  /* or just this one */
};

typedef unsigned (*stale_action)(const char *parent, const char *name);

static unsigned stale_in(const char *parent, const struct stale *st, stale_action act)
{
	if (st->name)
		return act(parent, st->name);
	unsigned n = 0;
	_cleanup_closedir_ DIR *d = opendir(parent);
	struct dirent *ent;
	while (d && (ent = readdir(d))) {
		if (ent->d_type != DT_DIR || strncmp(ent->d_name, st->prefix, strlen(st->prefix)) ||
		    (st->keep && st->keep(ent->d_name)))
			continue;
		n += act(parent, ent->d_name);
	}
	return n;
}

/* act on every stale cgroup under warren's parent cgroup, in every hierarchy. */
static unsigned each_stale(const struct stale *st, stale_action act)
{
	enum cgroup_mode mode;
	if (cgroup_detect(&mode, NULL) < 0)
		return 0;
	const char *root = cgroup_root();
	unsigned n = 0;
	if (mode == CGROUP_V2) {
		_cleanup_free_ char *parent = NULL;
		if (cgroup_v2_parent(root, &parent, NULL) == 0)
			n += stale_in(parent, st, act);
		return n;
	}
	/* Every hierarchy, not only warren's controllers: an OCI runtime makes
	 * a container's cgroup in each (unified, freezer, devices, …), and a
	 * daemon killed before its delete leaves them there. */
	const char *parent = cgroup_v1_parent_name();
	_cleanup_closedir_ DIR *d = opendir(root);
	struct dirent *h;
	while (d && (h = readdir(d))) {
		if (h->d_name[0] == '.' || h->d_type != DT_DIR)
			continue;
		_cleanup_free_ char *dir = NULL;
		if (asprintf(&dir, "%s/%s/%s", root, h->d_name, parent) >= 0)
			n += stale_in(dir, st, act);
	}
	return n;
}

/* Every stale cgroup is killed first, then each removed: their processes
 * die at once rather than one cgroup's worth at a time, so a start after
 * a crash with many sandboxes does not wait for each in turn. */
static unsigned remove_stale(const struct stale *st)
{
	each_stale(st, kill_one);
	return each_stale(st, remove_one);
}

unsigned cgroup_remove_stale(const char *prefix, bool (*keep)(const char *name))
{
	return remove_stale(&(struct stale){ .prefix = prefix, .keep = keep });
}

unsigned cgroup_remove_named(const char *name)
{
	return cgroup_valid_name(name) ? remove_stale(&(struct stale){ .name = name }) : 0;
}
