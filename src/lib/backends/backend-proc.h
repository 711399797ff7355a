/* Child processes for the backends that work through other programs (oci:
 * the runtime binary; docker: a forked client of the engine's socket). A
 * child is started without blocking and reaped with waitpid(WNOHANG) from
 * the backend's poll; what it wrote on stderr (when captured) becomes the
 * one-line reason of a failure. Children die with the daemon
 * (PR_SET_PDEATHSIG), start with every signal unblocked and default, and
 * inherit no fd but their stdio. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"

struct proc {
	pid_t pid;           /* 0 when none, or once reaped */
	int capture_fd;      /* read end of the captured output, or -1 */
	int status;          /* its wait status, once reaped */
	unsigned tail_len;
	char tail[1024];     /* the end of the captured output so far */
};
#define PROC_INIT { .pid = 0, .capture_fd = -1 }

/* Starts argv[0] (searched in PATH) with stdio[0..2] as its 0, 1, 2; a -1
 * there means /dev/null. With stdio NULL, stdin is /dev/null and stdout
 * and stderr go to a pipe read back by proc_poll (capture). */
int proc_start(struct proc *p, char *const argv[], const int stdio[3], wr_error *e);
/* The same, but the child runs fn(arg) and _exits with its return (for
 * blocking client code that must stay off the event loop). The daemon is
 * single-threaded, so the child may allocate. */
int proc_start_fn(struct proc *p, int (*fn)(void *arg), void *arg, const int stdio[3], wr_error *e);
/* The same for a child that outlives the daemon (no PR_SET_PDEATHSIG):
 * keep[i] (-1: none) is open in it as PROC_KEPT_FD + i, close-on-exec,
 * where another process may take it with pidfd_getfd. */
#define PROC_KEPT_FD 20
int proc_start_fn_keeping(struct proc *p, int (*fn)(void *arg), void *arg, const int stdio[3], const int keep[3],
			  wr_error *e);
/* 1 once the child has ended (p->status set; `msg` gets the last line of
 * its captured output, "" if none), 0 while it runs, -ECHILD when there
 * is no child. Never blocks. */
int proc_poll(struct proc *p, char *msg, size_t len);
/* SIGKILLs and reaps it (waits for the kernel to finish the kill). */
void proc_kill(struct proc *p);
/* Runs argv to its end (blocking: start-up, health checks and exit paths
 * only) with a deadline; captured output in msg. Returns its wait status,
 * or -errno (-ETIMEDOUT: killed at the deadline). */
int proc_run(char *const argv[], unsigned timeout_ms, char *msg, size_t len, wr_error *e);
