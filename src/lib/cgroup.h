/* One cgroup per sandbox with memory.max (swap 0), pids.max and cpu.max.
 * cgroup v2 is the primary path; on hybrid hosts whose controllers sit on
 * v1 hierarchies (memory, pids, cpu) those are used instead. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

enum cgroup_mode { CGROUP_V2 = 2, CGROUP_V1 = 1 };

struct cgroup_limits {
	uint64_t memory;     /* bytes, 0 = no limit */
	uint64_t pids;       /* 0 = no limit */
	uint32_t cpu_millis; /* thousandths of a CPU, 0 = no limit */
	bool oom_kill_all;   /* v2: an OOM kills every process (memory.oom.group) */
};

struct cgroup;

/* Which layout this host offers for sandboxes (v2 when /sys/fs/cgroup is
 * cgroup2 with the memory, pids and cpu controllers available; v1 when
 * those controllers are mounted as v1 hierarchies). */
int cgroup_detect(enum cgroup_mode *mode, wr_error *e);

/* Creates the sandbox's cgroup `name` under warren's parent cgroup and
 * applies the limits. The parent is $WARREN_CGROUP_PARENT when set, else
 * the delegated subtree when running as a systemd service with
 * Delegate=yes, else "warren" at the hierarchy root. */
int cgroup_create(const char *name, const struct cgroup_limits *limits,
		  struct cgroup **out, wr_error *e);
/* Moves a process in (all hierarchies in v1 mode). A move takes the
 * kernel's cgroup migration lock for writing: an RCU grace period, some
 * milliseconds on a busy host, unless one passed just before. */
int cgroup_add_pid(struct cgroup *cg, pid_t pid, wr_error *e);
/* v2: an O_PATH fd of the cgroup's directory, for clone3's
 * CLONE_INTO_CGROUP (a child born in it: no move); -EOPNOTSUPP on v1. */
int cgroup_open_dir(const struct cgroup *cg);
/* SIGKILLs every process in the cgroup (cgroup.kill on v2). */
int cgroup_kill(struct cgroup *cg);
/* True when the kernel OOM-killed something in this cgroup. */
bool cgroup_oom_killed(struct cgroup *cg);
/* Peak or current memory use in bytes, 0 when unknown. */
uint64_t cgroup_memory_peak(struct cgroup *cg);
/* Kills what is left, waits for the cgroup to empty, removes it and frees
 * cg. Safe on NULL. */
int cgroup_destroy(struct cgroup *cg, wr_error *e);
/* Changes the limits of a live cgroup (fields left 0 stay as they are). */
int cgroup_set_limits(struct cgroup *cg, const struct cgroup_limits *limits, wr_error *e);
/* Non-blocking destroy for an event loop: kills what is left and removes
 * the cgroup if it is empty (then frees cg and returns 0); -EBUSY while
 * processes are still leaving: call again later. */
int cgroup_try_destroy(struct cgroup *cg);
/* How many processes the kernel OOM-killed in this cgroup so far. */
uint64_t cgroup_oom_kills(struct cgroup *cg);

/* Per-exec child cgroups (warrend): what one exec starts stays in its own
 * child so a timeout kills exactly that (v2: below the sandbox's cgroup; v1:
 * in the pids hierarchy). No limits of their own. *procs_fd is the child's
 * cgroup.procs opened for writing: a process writing "0" to it moves in. */
int cgroup_child_create(struct cgroup *cg, const char *name, int *procs_fd, wr_error *e);
/* One pass of SIGKILL over the child's processes (a process forked
 * meanwhile survives it: call again until the exec has ended). */
int cgroup_child_kill(struct cgroup *cg, const char *name);
bool cgroup_child_exists(struct cgroup *cg, const char *name);
/* 0 when removed (or gone), -EBUSY while processes remain. */
int cgroup_child_remove(struct cgroup *cg, const char *name);
/* The highest N of the children named PREFIXN (0: none): a restarted
 * warrend numbers its execs above those left. */
unsigned cgroup_child_max(struct cgroup *cg, const char *prefix);

/* A place where a process's memory use is the sandbox's (warrend's file
 * writers): a process that writes "0" to *procs_fd moves in, and what it
 * allocates from then on (tmpfs pages it writes) is charged to the
 * sandbox's memory limit. v2: a new child cgroup `name` of the sandbox's
 * (a process may not join a cgroup whose controllers are handed to
 * children), path in dir, to rmdir once the process has left; v1: the
 * sandbox's memory cgroup itself, dir "". */
int cgroup_charge_open(struct cgroup *cg, const char *name, int *procs_fd, char *dir, size_t dir_len,
		       wr_error *e);

/* Kills and removes every sandbox cgroup whose name starts with prefix
 * under warren's parent (what a crashed daemon left), except those keep()
 * says still belong to someone alive. Returns how many it removed. */
unsigned cgroup_remove_stale(const char *prefix, bool (*keep)(const char *name));
/* The same for the one sandbox cgroup `name` (in every hierarchy): how
 * many directories it removed. */
unsigned cgroup_remove_named(const char *name);

/* A cgroup created in another process (warrend's spawner) handed over:
 * its mode, description and directories as text, and back. */
int cgroup_export(const struct cgroup *cg, char *buf, size_t len);
int cgroup_import(const char *text, struct cgroup **out, wr_error *e);
/* Frees cg and leaves the cgroup as it is (its new owner removes it). */
void cgroup_forget(struct cgroup *cg);
void cgroup_forgetp(struct cgroup **cg);
/* Whether every directory of cg is `name` under the cgroup root (an
 * imported description checked before it is used). */
bool cgroup_is_named(const struct cgroup *cg, const char *name);
/* Renames the cgroup in every hierarchy (it stays where it is, with
 * everything in it): a restarted warrend takes its sandboxes' cgroups
 * under names of its own. */
int cgroup_rename(struct cgroup *cg, const char *name, wr_error *e);
/* Whether cgroup_rename can work on this host: cgroup v1 hierarchies only
 * (cgroup2 has no rename: EPERM), so a kept sandbox on cgroup v2 has its
 * kept name from creation on (backend_names_fixed). */
bool cgroup_renamable(void);

/* "cgroup v2 /sys/fs/cgroup/warren/NAME" for --verbose. */
const char *cgroup_describe(const struct cgroup *cg);
