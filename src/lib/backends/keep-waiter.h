/* What a kept command's waiter does, for the backends whose commands run
 * through a process of the daemon's (oci: the exec waiter of `runtime
 * exec`; docker: the engine's client of the exec). Such a process of a
 * background command outlives warrend (proc_start_fn_keeping) and holds
 * the daemon's ends of the command's pipes at fixed fds while no daemon
 * runs, so the command never writes into a pipe nobody holds nor reads
 * end-of-file; the next daemon proves it (pid + start time) and takes
 * them with pidfd_getfd. oci-keep.c and backend-docker-keep.c say what
 * else each keeps, and where. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

#include "backend-proc.h"
#include "error.h"

/* Where a kept waiter holds the daemon's ends: stdout's and stderr's
 * read ends and stdin's write end (backend_exec.own, in that order), or a
 * terminal's master alone. */
enum { KEPT_OUT = PROC_KEPT_FD, KEPT_ERR, KEPT_IN };
#define KEPT_MASTER KEPT_OUT

/* ---- in the waiter ---- */
/* A session of its own (a terminal's ^C to warrend's group spares it),
 * and SIGURG, which asks it to drop its copy of stdin (KEPT_IN), with
 * stdin_closed the marker the daemon creates before it signals. SIGURG
 * comes without SA_RESTART: the waiter's blocking call returns EINTR. */
void keep_waiter_enter(const char *stdin_closed);
/* Called after each EINTR of its waits: drops its copy of stdin once
 * asked (the signal came, or its marker was there at keep_waiter_enter). */
void keep_waiter_drop_stdin(void);

/* Once its command ended and its end is written: while the daemon that
 * started it runs, that daemon holds the output's read ends too, and the
 * waiter returns. Else it lingers holding them, so what the command wrote
 * last waits in the pipes, until the last daemon that took them
 * (taker(arg, &pid, &start): the last one noted, 0 when none) is alive,
 * or until the next daemon, which took them and saw the end, sends
 * SIGTERM (keep_release). */
void keep_waiter_linger(bool (*taker)(void *arg, pid_t *pid, unsigned long long *start), void *arg);

/* ---- in the daemon ---- */
/* pid is alive and started at `started` (proc_start_time): a pidfd of it
 * (the start time read again once the pidfd holds it, so a pid reused
 * meanwhile is not taken), or -errno with why not (`what` names it). */
int keep_pidfd_of(pid_t pid, long long started, const char *what, wr_error *e);
/* Asks the waiter (its pid while it is our child, else its pidfd) to
 * drop its copy of stdin: the marker, then SIGURG. */
int keep_close_stdin(const char *marker, pid_t pid, int pidfd);
/* Whether the process of pidfd has ended. */
bool keep_pidfd_ended(int pidfd);
/* A lingering waiter whose output this daemon took (its end noted
 * already): it may go. */
void keep_release(int pidfd);
/* A waiter (or client) nobody is to take back: SIGKILL through its
 * pidfd. 0, or -errno (it is gone already: -ESRCH). */
int keep_kill(int pidfd);
