/* The protocol between a sandbox's init (pid 1 inside) and its parent, over
 * a SOCK_SEQPACKET socketpair. Sync points, in order:
 *   parent -> init   one byte "go": ids mapped, cgroup joined
 *   init -> parent   INIT_EV_SETUP_FAILED (then init exits), or
 *                    INIT_EV_READY (persistent mode: waiting for requests)
 *   parent -> init   INIT_REQ_EXEC: header + strings, fds by SCM_RIGHTS
 *   init -> parent   INIT_EV_EXEC_FAILED (could not start), then
 *                    INIT_EV_EXITED (wait status) for every exec id
 *   parent -> init   INIT_REQ_SIGNAL at any time: a signal for a running
 *                    exec's process group (no answer: the exec may end
 *                    meanwhile, and its INIT_EV_EXITED says when)
 *   parent -> init   INIT_REQ_CLOSE_STDIN: the parent closed the stdin of
 *                    an INIT_EXEC_KEEP_STDIN exec; init closes its copy,
 *                    and the command reads end-of-file (no answer)
 *   parent -> init   INIT_REQ_KEEP once (warrend, when a session holds
 *                    the sandbox): a listening socket comes with it, and
 *                    init outlives its parent from then on. When its
 *                    socket reaches EOF (the daemon died or restarts), init
 *                    keeps its commands running, remembers how those that
 *                    end meanwhile ended, and accepts the next connection
 *                    on that listener (a unix socket under the daemon's
 *                    root-only state directory). To each new connection it
 *                    sends, in order: INIT_EV_EXITED for every exec that
 *                    ended while nobody was connected, INIT_EV_RUNNING for
 *                    every exec still running (with the fds it kept of
 *                    INIT_EXEC_KEEP execs), then INIT_EV_READY (with
 *                    the fds it holds, struct init_keep_request); then
 *                    it serves that connection as the first. A kept exec
 *                    that ended meanwhile is RUNNING with the ends of its
 *                    output (what it wrote last waits there), and its
 *                    INIT_EV_EXITED follows the READY.
 * With INIT_EXEC_PTY the terminal's master travels back on the request's
 * own reply socket, not on this one: the parent's reader of this socket
 * stays a plain byte reader. The parent treats every event and every fd
 * from init as untrusted input; EOF means init died. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define INIT_GO_BYTE 'g'
/* In the `exec_id` of the READY that ends a greeting: what this init
 * understands. 0 (older inits): no INIT_EXEC_KEEP_STDIN, no
 * INIT_REQ_CLOSE_STDIN; 2: both. A daemon that took back a sandbox
 * keeps to what its init understands (a binary upgrade). */
#define INIT_PROTOCOL_VERSION 2

enum init_event_type {
	INIT_EV_SETUP_FAILED = 1,
	INIT_EV_READY,
	INIT_EV_EXEC_FAILED,
	INIT_EV_EXITED,
	INIT_EV_RUNNING,  /* on a new connection: exec_id runs; `status` fds come with it
			   * (SCM_RIGHTS): an INIT_EXEC_KEEP exec's output ends (a
			   * terminal's master alone), then with INIT_EXEC_KEEP_STDIN
			   * its stdin's write end: 0 to 3 */
};

struct init_event {
	int32_t type;
	uint32_t exec_id;
	int32_t err;      /* positive errno */
	int32_t status;   /* wait status, INIT_EV_EXITED */
	char step[96];    /* what failed, "mount", "exec" … */
	char path[192];   /* the path or name it failed on */
};

enum init_request_type { INIT_REQ_EXEC = 1, INIT_REQ_SIGNAL, INIT_REQ_KEEP, INIT_REQ_CLOSE_STDIN };

/* Flags of an exec request. */
#define INIT_EXEC_CGROUP_FD 0x1   /* a last fd: the exec cgroup's cgroup.procs */
/* A terminal: init opens a pty pair in the sandbox's own devpts, sized
 * pty_cols x pty_rows (0: the kernel's default); the command gets the slave
 * as its 0, 1, 2 and controlling terminal. Instead of fds 0, 1, 2 the
 * request carries one reply socket, on which init sends the master
 * (SCM_RIGHTS, one fd) once the command runs, then closes it; it closes it
 * unsent when the command could not start. */
#define INIT_EXEC_PTY 0x2
/* The command outlives a restart of the daemon (a background process):
 * init keeps the requester's ends of its output, the two last fds of the
 * request (stdout's and stderr's read ends; with INIT_EXEC_PTY none: init
 * keeps the terminal's master), so the command never writes into a pipe
 * nobody holds, and hands them to the next connection. */
#define INIT_EXEC_KEEP 0x4
/* With INIT_EXEC_KEEP, no terminal: one more last fd, the requester's
 * write end of the command's stdin (a pipe its client keeps writing to).
 * init holds a copy, so the command does not read end-of-file when the
 * daemon goes, and hands it to the next connection; INIT_REQ_CLOSE_STDIN
 * drops that copy when the requester closes stdin. */
#define INIT_EXEC_KEEP_STDIN 0x8
#define INIT_EXEC_FLAGS (INIT_EXEC_CGROUP_FD | INIT_EXEC_PTY | INIT_EXEC_KEEP | INIT_EXEC_KEEP_STDIN)

/* Followed by strings_len bytes: cwd, argv[0..argc), env[0..envc), each
 * NUL-terminated. fds 0, 1, 2 of the command (or the reply socket) come as
 * SCM_RIGHTS, then the cgroup fd. */
struct init_exec_request {
	uint32_t type;
	uint32_t exec_id;
	uint32_t argc;
	uint32_t envc;
	uint32_t strings_len;
	uint32_t flags;
	uint16_t pty_cols;        /* INIT_EXEC_PTY only, else 0 */
	uint16_t pty_rows;
};

/* The whole message: no fds. */
struct init_signal_request {
	uint32_t type;            /* INIT_REQ_SIGNAL */
	uint32_t exec_id;
	int32_t signal;           /* 1 .. INIT_MAX_SIGNAL */
	uint32_t reserved;        /* 0 */
};

/* The whole message: no fds. */
struct init_close_stdin_request {
	uint32_t type;            /* INIT_REQ_CLOSE_STDIN */
	uint32_t exec_id;
};

/* The whole message; one or two fds come with it: the listening socket
 * init accepts its next connection on, and an fd holding the lock of the
 * sandbox's host id range (userns.h), which init keeps open for its life:
 * no other sandbox gets those ids while it lives, daemon or not. Then
 * `held` more (0 to INIT_MAX_HELD) that init also keeps for its life and
 * hands to every new connection with its INIT_EV_READY (`status` says how
 * many): an egress sandbox's slot lock and resolver socket (net-egress.h),
 * so its link and rules stay its own and DNS queries wait on the socket
 * while no daemon runs. */
struct init_keep_request {
	uint32_t type;            /* INIT_REQ_KEEP */
	uint32_t held;            /* 0 .. INIT_MAX_HELD */
};
#define INIT_MAX_HELD 2

#define INIT_MAX_REQUEST (128 * 1024)   /* header + strings */
#define INIT_MAX_ARGS 4096              /* argc + envc */
#define INIT_MAX_RUNNING 1024           /* execs running at once in one sandbox */
#define INIT_MAX_SIGNAL 64              /* SIGRTMAX on Linux */
#define INIT_MAX_FDS 7                  /* of one request: stdio, cgroup, three kept ends */
#define INIT_MAX_KEPT 3                 /* of one exec: stdout's, stderr's, stdin's */

/* What a new connection learns from init's greeting (above), collected by
 * the daemon: each exec that runs (with the fds init kept of it) or
 * ended while nobody was connected (with its wait status). */
struct init_greeting {
	struct init_greeting_exec {
		uint32_t id;
		bool running;
		int status;           /* ended: the wait status */
		int fds[INIT_MAX_KEPT]; /* running: what init kept (INIT_EXEC_KEEP), -1 */
		int n_fds;
		bool claimed;         /* the daemon's: a process of its took it */
		char error[160];      /* ended: why, when the backend knows (oci: killed at adoption) */
	} execs[2 * INIT_MAX_RUNNING];
	size_t n;
	int init_version;             /* INIT_PROTOCOL_VERSION of the init that greeted */
	int held[INIT_MAX_HELD];      /* what init held for us (INIT_REQ_KEEP), in order */
	int n_held;
	uint32_t last_id;             /* the daemon's: no new exec may be numbered below */
};
