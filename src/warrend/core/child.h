/* Short-lived children of the daemon for work that must not run on the
 * event loop (writing into a sandbox's workspace, collecting its files):
 * forked, left with only the fds they were given, killed with the daemon
 * (PDEATHSIG) or past their deadline. The loop learns of their end
 * through a pidfd and never blocks on them. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

struct child;

/* The fds a child was given are at CHILD_FD_BASE + i, every other one
 * closed (client connections, other sandboxes' sockets). */
#define CHILD_FD_BASE 3

/* Runs in the child, on a copy of the caller's memory taken at the
 * start; its return value is the child's exit status. */
typedef int (*child_fn)(void *arg);
/* In the daemon, once the child is reaped (always, exactly once): its
 * wait status, and whether the deadline killed it. */
typedef void (*child_done_fn)(void *data, int status, bool timed_out);

/* Forks fn(arg) with fds[0..n) (-1 entries stay closed). 0, or -errno
 * with e set (no child, done never called). */
int child_start(const int *fds, size_t n, child_fn fn, void *arg, uint64_t timeout_ms, child_done_fn done,
		void *data, struct child **out, wr_error *e);
/* SIGKILLs it; done still follows once it is reaped. */
void child_kill(struct child *c);
/* From the daemon's tick: kills children past their deadline. */
void children_tick(uint64_t now_ms);
