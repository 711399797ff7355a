/* Creating a sandbox, the parent's half: prepare everything (uid range,
 * cgroup, mount plan, seccomp filter, capability plan), clone the
 * namespaces, write the id maps, move the child into its cgroup and tell it
 * to go. The child's half is init.c. */
#pragma once
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cgroup.h"
#include "error.h"
#include "net-egress.h"
#include "policy.h"
#include "seccomp-filter.h"
#include "userns.h"

struct spawn_options {
	const struct policy *policy;    /* effective policy */
	const char *image;              /* NULL or "host", or a root filesystem directory */
	const char *workspace_dir;      /* host directory for /workspace, or NULL (tmpfs) */
	const char *cgroup_name;        /* NULL: generated */
	int verbose;                    /* steps on stderr */
	/* Filter compiled once for many sandboxes of one policy, or NULL. */
	const struct seccomp_program *seccomp;
	/* One-shot: run argv with the caller's stdio, then end. NULL argv:
	 * a persistent init that waits for exec requests. */
	char *const *argv;
	char *const *extra_env;
	const char *cwd;
	/* The signal mask commands start with; NULL: nothing blocked. */
	const sigset_t *command_mask;
	/* init sends O_PATH fds of its /workspace and /tmp, in that order,
	 * on spawned.areas before any command runs (warren run --collect). */
	bool send_areas;
};

struct spawned {
	pid_t pid;              /* the sandbox's init, as seen from here */
	int sock;               /* our end of the init socket */
	struct cgroup *cg;
	struct uid_range ids;
	struct net_egress net;  /* network egress: its link, rules, resolver socket */
	int areas;              /* with send_areas: where they arrive (pty_receive_fd), else -1 */
};

int spawn_sandbox(const struct spawn_options *o, struct spawned *s, wr_error *e);
/* Makes a sandbox's init (`pid`) the OOM killer's last choice, before it
 * runs anything: exempt (-1000) with `exempt`, else -941, where the host
 * lets us (CAP_SYS_RESOURCE; -EACCES otherwise: then its score is set to
 * 0). Its commands must get a higher score of their own before they run
 * (init.c; an OCI runtime's process.oomScoreAdj). */
int spawn_protect_init_from_oom(pid_t pid, bool exempt);
/* SIGKILLs init (and so the pid namespace), reaps it, removes the cgroup,
 * the egress link and rules and releases the uid range. Waits up to ~2 s
 * for the cgroup to empty. */
int spawned_release(struct spawned *s, wr_error *e);

/* `base` ("KEY=VALUE", NULL-terminated) with `extra` replacing or adding
 * keys. The array is new (free it); its strings are borrowed. */
char **env_merge(char *const *base, char *const *extra);
/* The policy's env merged with `extra`, as env_merge. */
char **spawn_build_env(const struct policy *p, char *const *extra);
