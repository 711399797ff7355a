/* Commands of the oci backend that outlive warrend (oci-keep.c says how:
 * their exec waiter is what a native sandbox's init is for them). The
 * waiter's half runs in the waiter, a child of the daemon that does not
 * die with it; the daemon's half in backend-oci.c's start, poll, signal
 * and adopt. Files live in the container's bundle (root only), named
 * exec-ID.waiter, .status, .stdin-closed (and their .tmp while written). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend-proc.h"
#include "error.h"
#include "init-protocol.h"

/* Where a kept waiter holds the daemon's ends: stdout's and stderr's
 * read ends and stdin's write end, or a terminal's master alone. */
enum { OCI_KEPT_OUT = PROC_KEPT_FD, OCI_KEPT_ERR, OCI_KEPT_IN };
#define OCI_KEPT_MASTER OCI_KEPT_OUT

/* ---- in the waiter ---- */
/* A session of its own (a terminal's ^C to warrend's group spares it),
 * and SIGURG, which asks it to drop its copy of stdin (OCI_KEPT_IN), with
 * stdin_closed the marker the daemon creates before it signals. */
void oci_waiter_keep(const char *stdin_closed);
/* Called after each EINTR of its waits: drops its copy of stdin once
 * asked (the signal came, or its marker is there). */
void oci_waiter_drop_stdin(void);
/* The command's wait status, for a daemon that was not there to reap
 * the waiter (renamed into place: read whole or not at all). */
void oci_waiter_write_status(const char *path, int status);

/* ---- in the daemon ---- */
/* pid is alive and started at `started` (proc_start_time): a pidfd of it
 * (the start time read again once the pidfd holds it, so a pid reused
 * meanwhile is not taken), or -errno with why not (`what` names it). */
int oci_pidfd_of(pid_t pid, long long started, const char *what, wr_error *e);
/* Records the waiter `pid` of a kept exec at `path` (its .waiter file):
 * what proves it to the next daemon. */
int oci_keep_note_waiter(const char *path, pid_t pid);
/* Asks the waiter (its pid while it is our child, else its pidfd) to
 * drop its copy of stdin: the marker, then SIGURG. */
int oci_keep_close_stdin(const char *marker, pid_t pid, int pidfd);
/* Whether the process of pidfd has ended. */
bool oci_pidfd_ended(int pidfd);
/* The status a waiter wrote at `path`; -ENOENT when none. */
int oci_keep_read_status(const char *path, int *status);

/* What a restarted daemon finds of exec `id` in the bundle `bundle`:
 * 1 it runs (x->running, its kept fds in x->fds, *waiter the waiter's
 * pidfd); 0 it ended while no daemon ran (x->status); -ENOENT it was not
 * kept (a request held it); -ESRCH its waiter is gone unseen (x->error
 * says so). */
int oci_keep_find(const char *bundle, uint32_t id, struct init_greeting_exec *x, int *waiter);
/* Waits (at most timeout_ms) until the waiters of the bundle's kept
 * execs have ended, so none writes into a bundle being removed. */
void oci_keep_wait_waiters(const char *bundle, unsigned timeout_ms);
