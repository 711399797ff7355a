/* A one-shot sandbox: create it, run one command in it with the caller's
 * stdio, wait (enforcing the timeout), report, and remove every trace. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "policy.h"

struct template_store;

struct sandbox_spec {
	const struct policy *policy;   /* effective policy: limits already tightened */
	const char *image;             /* NULL or "host", or a root filesystem directory */
	const char *workspace_dir;     /* host directory for /workspace, NULL for a tmpfs */
	char *const *argv;             /* the command; argv[0] searched in PATH */
	char *const *extra_env;        /* "KEY=VALUE" added to the policy's env, or NULL */
	const char *cwd;               /* inside the sandbox; NULL means /workspace */
	const char *cgroup_name;       /* NULL: generated */
	int verbose;                   /* 0 quiet, 1 steps, 2 steps + seccomp filter */
	struct template_store *templates; /* root: where the root's template is kept, or NULL */
};

struct sandbox_result {
	bool exited;          /* the command exited (else it was signalled) */
	int exit_code;        /* when exited */
	int signal;           /* when signalled */
	bool timed_out;
	bool oom_killed;
	uint64_t duration_ms; /* wall time of the command */
	int exit_status;      /* what a shell would see: code, 128+N, 124 timeout,
			       * 125 setup failure, 126/127 exec failure */
	uint64_t memory_peak; /* bytes, 0 when unknown */
};

/* Returns 0 when the command ran (whatever its status), or -errno with the
 * reason in e when the sandbox could not be set up or the command could not
 * be executed; res->exit_status is meaningful either way. While it runs,
 * SIGINT, SIGTERM and SIGHUP kill the sandbox and end the call. */
int sandbox_run(const struct sandbox_spec *spec, struct sandbox_result *res, wr_error *e);

/* Removes the cgroups of runs killed before they could (SIGKILL): those
 * whose marker names a process that is gone (sandbox_run does this first);
 * with everything (warrend at start) also every run-PID-* cgroup whose PID
 * is gone, markers or not. Root only; returns how many directories went. */
unsigned sandbox_run_sweep_stale(bool everything);

struct init_event;
/* Fills exited/exit_code/signal/exit_status from a wait status. */
void sandbox_result_from_status(struct sandbox_result *res, int status);
/* The one-line error for an init event reporting a failure. */
int sandbox_event_error(const struct init_event *ev, wr_error *e);

/* Exit statuses warren run documents (warren(1) EXIT STATUS). */
#define WARREN_EXIT_TIMEOUT 124     /* like timeout(1) */
#define WARREN_EXIT_SETUP 125       /* warren itself failed: bad flag, policy, setup */
#define WARREN_EXIT_NOEXEC 126      /* the command was found but could not run */
#define WARREN_EXIT_NOTFOUND 127    /* the command was not found */

/* ---- persistent sandboxes (warrend's sessions) -----------------------------
 * init stays up and runs commands on request; everything here is
 * non-blocking so an event loop can drive it. */
struct spawn_options;
struct cgroup;
struct sandbox;

/* Spawns a sandbox whose init waits for exec requests (o->argv must be
 * NULL). It becomes ready when init sends INIT_EV_READY. */
int sandbox_create(const struct spawn_options *o, struct sandbox **out, wr_error *e);
/* warrend: a sandbox asked of the spawner (spawner.h) learns its pid and
 * cgroup from the spawner's answer, which precedes init's first message:
 * call this when a message arrives (the accessors below call it too). */
void sandbox_settle(struct sandbox *sb);
/* Our end of the init socket (SOCK_SEQPACKET), for the event loop. */
int sandbox_fd(const struct sandbox *sb);
/* Someone else (warrend's loop) closes that fd from now on. */
void sandbox_give_fd(struct sandbox *sb);
pid_t sandbox_pid(const struct sandbox *sb);
struct cgroup *sandbox_cgroup(const struct sandbox *sb);
/* The host uid that uid `inside` of the sandbox maps to. */
uid_t sandbox_host_uid(const struct sandbox *sb, uid_t inside);

/* Checks an event read from init (untrusted): 0, or -EBADMSG. */
int sandbox_event_validate(const struct init_event *ev);

struct sandbox_exec {
	uint32_t id;                /* unique within the sandbox, > 0 */
	char *const *argv;
	char *const *envp;
	const char *cwd;            /* absolute path inside the sandbox */
	int stdio[3];               /* the command's 0, 1, 2 (we keep our copies) */
};
/* Creates the exec's child cgroup "exec-ID" and sends the request with the
 * fds. The result arrives as INIT_EV_EXITED (after INIT_EV_EXEC_FAILED when
 * it could not start). */
int sandbox_exec_start(struct sandbox *sb, const struct sandbox_exec *x, wr_error *e);
/* SIGKILLs everything exec ID started (its child cgroup), nothing else. */
int sandbox_exec_kill(struct sandbox *sb, uint32_t id);
/* Removes the exec's child cgroup: 0, or -EBUSY while processes remain. */
int sandbox_exec_release(struct sandbox *sb, uint32_t id);

/* Destroys without blocking: kills init (and so every process of the
 * sandbox), reaps it, removes the cgroup, releases the uid range. Returns
 * 0 when all is gone (sb is freed), -EBUSY to be called again later. */
int sandbox_destroy_step(struct sandbox *sb);
/* The same, blocking up to ~2 s (exit paths). */
void sandbox_destroy(struct sandbox *sb);
