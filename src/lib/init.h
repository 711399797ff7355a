/* The sandbox's pid 1, the child's half of spawn: it applies the prepared
 * plan (namespaces' contents, mounts, privilege drop), then either runs one
 * command (one-shot) or serves exec requests (persistent), reaping zombies
 * and reporting each command's end. Between clone and exec only raw
 * syscalls and the prepared data are used. */
#pragma once
#include <signal.h>
#include <stdbool.h>

#include "caps.h"
#include "mount.h"
#include "policy.h"
#include "seccomp-filter.h"
#include "userns.h"

struct init_plan {
	const struct policy *policy;
	const struct uid_range *ids;
	const struct mount_plan *mounts;
	const struct caps_plan *caps;
	const struct seccomp_program *seccomp;   /* NULL: it follows on the socket after "go" */
	int sock;                    /* events out, exec requests in */
	int sync;                    /* "go" (and a one-shot's filter) from who cloned us; may be sock */
	int areas_sock;              /* -1, or where /workspace and /tmp go as fds (spawn_options.send_areas) */
	sigset_t parent_mask;        /* restored for the commands */
	/* one-shot mode only */
	char *const *argv;
	char **envp;
	const char *cwd;
};

_Noreturn void init_main(const struct init_plan *plan);
