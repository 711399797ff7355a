/* Between cgroup.c (create, limits, kill, destroy), cgroup-handoff.c (a
 * cgroup described to another process, renamed), cgroup-child.c (per-exec
 * child cgroups) and cgroup-stale.c (what a dead warren left); nobody
 * else. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "cgroup.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif

/* memory, pids, cpu (cgroup.c's controllers) */
#define N_CONTROLLERS 3

struct cgroup {
	enum cgroup_mode mode;
	size_t n_dirs;                /* 1 on v2, one per controller on v1 */
	char *dirs[N_CONTROLLERS];
	char description[PATH_MAX + 64];
};

/* /sys/fs/cgroup, or WARREN_CGROUP_ROOT for tests. */
const char *cgroup_root(void);
void cgroup_free(struct cgroup *cg);
/* One path component: no '/', not "." or "..". */
bool cgroup_valid_name(const char *name);
bool cgroup_is_fs_type(const char *path, long magic);
/* v2: the directory sandboxes are created in (chosen and prepared). */
int cgroup_v2_parent(const char *root, char **parent, wr_error *e);
/* v1: the parent cgroup's name in every hierarchy, relative to it. */
const char *cgroup_v1_parent_name(void);
/* SIGKILLs what runs in dirs and their children, for at most `passes`
 * passes (one with cgroup.kill); cgroup_kill_dirs until a pass finds none. */
int cgroup_kill_dirs_passes(enum cgroup_mode mode, char *const *dirs, size_t n_dirs, int passes);
int cgroup_kill_dirs(enum cgroup_mode mode, char *const *dirs, size_t n_dirs);
/* rmdir of dir's child cgroups, deepest first. */
void cgroup_remove_children(const char *dir, int depth);
