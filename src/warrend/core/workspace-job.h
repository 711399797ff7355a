/* Work on a sandbox's workspace that allocates memory on its behalf
 * (writing files: their tmpfs pages) runs in a short-lived child of the
 * daemon placed in the sandbox's memory cgroup first, so the pages count
 * against the sandbox's limits.memory, not the daemon's. The child acts
 * as the sandbox user (files.c switches its fsuid), through the
 * workspace's fd; it is a fork, so it reads the caller's data (a request
 * body) from its own copy however the caller's memory changes meanwhile.
 * Its OOM score is the maximum: when the sandbox's memory is full, the
 * OOM killer takes the writer (whose unnamed file goes with it: files.c)
 * before the sandbox's own processes. The daemon learns of its end
 * through a pidfd on the event loop and never blocks on it.
 *
 * For backends that open the workspace (native, oci); docker writes with
 * execs inside the container, already charged there. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "box.h"
#include "error.h"

struct workspace_job;

/* Runs in the child: 0, or -errno with the message in e. ws_fd is the
 * workspace (O_PATH), uid:gid the sandbox user's host ids. */
typedef int (*workspace_job_fn)(int ws_fd, uid_t uid, gid_t gid, void *arg, wr_error *e);

/* In the daemon, once the child has ended: r is what fn returned, -ENOMEM
 * when the child was killed (the OOM killer; or the sandbox ended),
 * -ETIMEDOUT when it ran past WORKSPACE_JOB_TIMEOUT_MS; e says why. */
typedef void (*workspace_job_done_fn)(void *data, int r, const wr_error *e);

#define WORKSPACE_JOB_TIMEOUT_MS 60000

/* Starts fn(arg) for the box b (fn runs on a copy of the caller's memory
 * taken now: arg may live on the caller's stack). -EOPNOTSUPP when the backend has no
 * workspace fd or no cgroup of its own (the caller uses file execs), else
 * 0 or -errno with e set. done runs later, from the event loop, never
 * from here. */
int workspace_job_start(struct box *b, workspace_job_fn fn, void *arg, workspace_job_done_fn done, void *data,
			struct workspace_job **out, wr_error *e);

/* The common job: files_write(rel, data, len, max_size) as the sandbox
 * user. The arguments are read in the child, a copy of the caller taken
 * at the start: they need not outlive this call. */
int workspace_put_start(struct box *b, const char *rel, const void *data, size_t len, uint64_t max_size,
			workspace_job_done_fn done, void *done_data, struct workspace_job **out, wr_error *e);

/* The caller is gone: the child is killed (its unnamed file with it) and
 * reaped in the background; done is never called. */
void workspace_job_abandon(struct workspace_job *j);
