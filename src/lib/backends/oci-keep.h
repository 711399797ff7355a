/* Commands of the oci backend that outlive warrend (oci-keep.c says how:
 * their exec waiter is what a native sandbox's init is for them). The
 * waiter's half runs in the waiter, a child of the daemon that does not
 * die with it; the daemon's half in backend-oci.c's start, poll and
 * signal, and oci-adopt.c's adopt. Files live in the container's bundle
 * (root only), named exec-ID.waiter, .status, .stdin-closed (and their
 * .tmp while written). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend-proc.h"
#include "error.h"
#include "init-protocol.h"
#include "keep-waiter.h"

/* ---- in the waiter (and keep-waiter.h) ---- */
/* The command's wait status, for a daemon that was not there to reap
 * the waiter (renamed into place: read whole or not at all). */
void oci_waiter_write_status(const char *path, int status);
/* keep_waiter_linger's taker: the daemon noted at `taken` (exec-ID.taken). */
bool oci_waiter_taker(void *taken, pid_t *pid, unsigned long long *start);

/* ---- in the daemon ---- */
/* Records the waiter `pid` of a kept exec at `path` (its .waiter file):
 * what proves it to the next daemon. */
int oci_keep_note_waiter(const char *path, pid_t pid);
/* The status a waiter wrote at `path`; -ENOENT when none. */
int oci_keep_read_status(const char *path, int *status);

/* What a restarted daemon finds of exec `id` in the bundle `bundle`:
 * 1 it runs, or it ended and its waiter lingers with its output (x->running,
 * its kept fds in x->fds, *waiter the waiter's pidfd, whose end is the
 * command's); 0 it ended and its waiter too (x->status); -ENOENT it was not
 * kept (a request held it); -ESRCH its waiter is gone unseen (x->error
 * says so). */
int oci_keep_find(const char *bundle, uint32_t id, struct init_greeting_exec *x, int *waiter);
/* Ends the waiters of the bundle's kept execs (their container is gone:
 * nobody takes their output) and waits (at most timeout_ms) until they
 * have, so none writes into a bundle being removed. */
void oci_keep_wait_waiters(const char *bundle, unsigned timeout_ms);
