/* Between cgroup.c (create, limits, kill, destroy), cgroup-parent.c (v2:
 * where sandboxes go), cgroup-files.c (pseudo-files), cgroup-handoff.c (a
 * cgroup described to another process, renamed), cgroup-child.c (per-exec
 * child cgroups) and cgroup-stale.c (what a dead warren left); nobody
 * else. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* memory, pids, cpu: the controllers every sandbox needs; in v1 mode
 * also the hierarchy names, in this order (dirs[0] is always the one
 * holding the memory files). */
extern const char *const cgroup_controllers[N_CONTROLLERS];

/* cgroup-files.c: DIR/FILE pseudo-files. */
int cgroup_write_file(const char *dir, const char *file, const char *value, wr_error *e);
/* A whole (small) pseudo-file into a NUL-terminated buffer; -errno. */
int cgroup_read_file(const char *dir, const char *file, char *buf, size_t size);
bool cgroup_file_exists(const char *dir, const char *file);
int cgroup_read_u64_file(const char *dir, const char *file, uint64_t *out);
/* "key N" in a flat-keyed file (memory.events, memory.oom_control). */
bool cgroup_keyed_value(const char *text, const char *key, uint64_t *out);
/* The space-separated list contains word. */
bool cgroup_word_listed(const char *list, const char *word);
/* mkdir -p of base/rel below an existing mount point; EEXIST is fine. */
int cgroup_mkdir_parents(const char *base, const char *rel, wr_error *e);

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
