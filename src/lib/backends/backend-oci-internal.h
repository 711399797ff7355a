/* Between backend-oci.c (containers, commands) and oci-adopt.c (what
 * restarts of the daemon need: the holder of a container's host ids,
 * save, adopt, discard); nobody else. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "backend.h"
#include "backend-proc.h"
#include "cgroup.h"
#include "error.h"
#include "oci-net.h"
#include "userns.h"

struct oci_settings {
	char runtime[PATH_MAX];
	char root[PATH_MAX];     /* the runtime's --root: its container state */
	char bundles[PATH_MAX];  /* <state_dir>/oci-bundles/<name>/ */
	int verbose;
};
extern struct oci_settings oci_cfg;

struct oci_exec {
	uint32_t id;
	struct proc proc;        /* `runtime exec` */
	bool ended, failed_reported;
	bool killed;             /* exec_kill: a runtime stopped mid-start is this kill's doing */
	int err;                 /* why the runtime could not start it */
	uint64_t pending_signals; /* sent before its pid was known: bit N-1 for signal N */
	/* kept (oci-keep.c): taken back from the previous daemon, its
	 * waiter is not our child: its pidfd says when it ended */
	int waiter_pidfd;
	char argv0[256];         /* for the message native gives: "exec ARGV0: …" */
	struct oci_exec *next;
};

enum oci_state { OCI_CREATING, OCI_READY, OCI_FAILED, OCI_DIED };
enum oci_teardown { TD_NONE, TD_DELETING, TD_CLEANUP };

struct backend_box {
	char name[128];
	char bundle[PATH_MAX];
	struct uid_range ids;
	struct cgroup *cg;
	bool cgroup_v1;
	char cgroups_path[PATH_MAX]; /* linux.cgroupsPath: "/warren/wd-…" */
	struct proc runtime;     /* `run --detach`, later `delete --force` */
	enum oci_state state;
	bool state_reported;
	enum oci_teardown teardown;
	unsigned delete_tries;
	pid_t init_pid;
	int init_pidfd;
	char message[1024];
	json_t *process;         /* config.json's process: what execs start from */
	struct oci_exec *execs;
	struct oci_net net;      /* egress: set up once the container is up */
	bool kept;               /* it outlives the daemon (oci_keep) */
	pid_t holder;            /* once up: the process that holds its uid range's lock */
};

void oci_box_free(struct backend_box *b);
/* linux.cgroupsPath of b ("/warren/wd-…", as the runtime is told it). */
int oci_cgroups_path(struct backend_box *b, char *out, size_t len, wr_error *e);
/* `runtime delete --force NAME` (argv: 12 entries). */
void oci_delete_argv(const char **argv, const char *name);
int oci_remove_tree(const char *path);
/* The path of exec id's file `what` in b's bundle (exec-ID.WHAT). */
void oci_exec_paths(const struct backend_box *b, uint32_t id, const char *what, char *buf, size_t len);

/* oci-adopt.c */
/* Starts b's holder of its host ids (and egress): once it is up. */
int oci_start_holder(struct backend_box *b, wr_error *e);
int oci_keep(struct backend_box *b, const char *name, wr_error *e);
json_t *oci_save(const struct backend_box *b);
int oci_adopt(const json_t *saved, char *name, struct backend_box **out, struct init_greeting *found,
	      wr_error *e);
void oci_discard(const json_t *saved);
