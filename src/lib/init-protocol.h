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
 * With INIT_EXEC_PTY the terminal's master travels back on the request's
 * own reply socket, not on this one: the parent's reader of this socket
 * stays a plain byte reader. The parent treats every event and every fd
 * from init as untrusted input; EOF means init died. */
#pragma once
#include <stdint.h>

#define INIT_GO_BYTE 'g'

enum init_event_type {
	INIT_EV_SETUP_FAILED = 1,
	INIT_EV_READY,
	INIT_EV_EXEC_FAILED,
	INIT_EV_EXITED,
};

struct init_event {
	int32_t type;
	uint32_t exec_id;
	int32_t err;      /* positive errno */
	int32_t status;   /* wait status, INIT_EV_EXITED */
	char step[96];    /* what failed, "mount", "exec" … */
	char path[192];   /* the path or name it failed on */
};

enum init_request_type { INIT_REQ_EXEC = 1, INIT_REQ_SIGNAL };

/* Flags of an exec request. */
#define INIT_EXEC_CGROUP_FD 0x1   /* a last fd: the exec cgroup's cgroup.procs */
/* A terminal: init opens a pty pair in the sandbox's own devpts, sized
 * pty_cols x pty_rows (0: the kernel's default); the command gets the slave
 * as its 0, 1, 2 and controlling terminal. Instead of fds 0, 1, 2 the
 * request carries one reply socket, on which init sends the master
 * (SCM_RIGHTS, one fd) once the command runs, then closes it; it closes it
 * unsent when the command could not start. */
#define INIT_EXEC_PTY 0x2
#define INIT_EXEC_FLAGS (INIT_EXEC_CGROUP_FD | INIT_EXEC_PTY)

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

#define INIT_MAX_REQUEST (128 * 1024)   /* header + strings */
#define INIT_MAX_ARGS 4096              /* argc + envc */
#define INIT_MAX_RUNNING 1024           /* execs running at once in one sandbox */
#define INIT_MAX_SIGNAL 64              /* SIGRTMAX on Linux */
