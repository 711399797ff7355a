/* Creating a sandbox, the parent's half: prepare everything (uid range,
 * cgroup, mount plan and template, seccomp filter, capability plan), clone
 * the namespaces, write the id maps, move the child into its cgroup and
 * tell it to go. The child's half is init.c. warren run calls it in its own
 * process; warrend calls it in its spawner (spawner.c), which gives the
 * uid range and init's socket and makes init the daemon's child. */
#pragma once
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cgroup.h"
#include "error.h"
#include "net-egress.h"
#include "policy.h"
#include "seccomp-filter.h"
#include "template.h"
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
	/* Root: where the template of the sandbox's root is kept (template.h);
	 * NULL builds the whole root in the sandbox. */
	struct template_store *templates;
	/* Given by warrend's spawner; NULL, -1, false otherwise. */
	const struct uid_range *ids;   /* a range held by the caller, not released here */
	int init_sock;                 /* init's end of its socket (ours is elsewhere); 0 or -1: none */
	bool clone_parent;             /* init becomes our parent's child (CLONE_PARENT) */
	/* init sends O_PATH fds of its /workspace and /tmp, in that order,
	 * on spawned.areas before any command runs (warren run --collect). */
	bool send_areas;
};

struct spawned {
	pid_t pid;              /* the sandbox's init, as seen from here */
	int sock;               /* our end of the init socket (-1 when init_sock was given) */
	int sync;               /* ours of the "go" channel, until spawn_go */
	struct cgroup *cg;
	struct uid_range ids;
	bool template_built;    /* a template was built for it (else copied, or none) */
	bool template_used;
	uint64_t remote_id;     /* warrend: the spawner's answer is pending (spawner.h) */
	struct net_egress net;  /* network egress: its link, rules, resolver socket */
	int areas;              /* with send_areas: where they arrive (pty_receive_fd), else -1 */
};

/* A spawned that holds nothing: every fd -1 (0 is a real fd). */
#define SPAWNED_EMPTY                                                                                   \
	((struct spawned){ .sock = -1, .sync = -1, .ids = { .lock_fd = -1 },                           \
			   .net = { .lock_fd = -1, .dns_fd = -1 }, .areas = -1 })

/* Network egress (net-egress.h), one step of creation: programs that
 * link libnl and libnftables register spawn_egress_netlink (spawn-egress.c);
 * without it an egress sandbox fails with ENOTSUP. */
struct spawn_egress {
	int (*setup)(const struct spawn_options *o, struct spawned *s, wr_error *e);
	int (*teardown)(struct net_egress *n, wr_error *e);
};
extern const struct spawn_egress spawn_egress_netlink;
void spawn_use_egress(const struct spawn_egress *ops);
/* "warren: ..." on stderr with o->verbose. */
void spawn_verbose(const struct spawn_options *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* spawn_start + spawn_go. */
int spawn_sandbox(const struct spawn_options *o, struct spawned *s, wr_error *e);
/* Clones the sandbox and sets its ids and cgroup; it waits for "go". On
 * failure nothing is left (a cloned init is killed; with clone_parent our
 * parent reaps it, s->pid says which). */
int spawn_start(const struct spawn_options *o, struct spawned *s, wr_error *e);
/* Lets it go (one-shot: and sends its seccomp filter). */
int spawn_go(const struct spawn_options *o, struct spawned *s, wr_error *e);
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
