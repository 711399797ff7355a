/* A one-shot sandbox: create it, run one command in it with the caller's
 * stdio, wait (enforcing the timeout), report, and remove every trace. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "policy.h"

struct sandbox_spec {
	const struct policy *policy;   /* effective policy: limits already tightened */
	const char *image;             /* NULL or "host", or a root filesystem directory */
	const char *workspace_dir;     /* host directory for /workspace, NULL for a tmpfs */
	char *const *argv;             /* the command; argv[0] searched in PATH */
	char *const *extra_env;        /* "KEY=VALUE" added to the policy's env, or NULL */
	const char *cwd;               /* inside the sandbox; NULL means /workspace */
	const char *cgroup_name;       /* NULL: generated */
	int verbose;                   /* 0 quiet, 1 steps, 2 steps + seccomp filter */
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
