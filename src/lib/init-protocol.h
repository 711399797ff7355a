/* The protocol between a sandbox's init (pid 1 inside) and its parent, over
 * a SOCK_SEQPACKET socketpair. Sync points, in order:
 *   parent -> init   one byte "go": ids mapped, cgroup joined
 *   init -> parent   INIT_EV_SETUP_FAILED (then init exits), or
 *                    INIT_EV_READY (persistent mode: waiting for requests)
 *   parent -> init   INIT_REQ_EXEC: header + strings, fds by SCM_RIGHTS
 *   init -> parent   INIT_EV_EXEC_FAILED (could not start), then
 *                    INIT_EV_EXITED (wait status) for every exec id
 * The parent treats every event as untrusted input; EOF means init died. */
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

enum init_request_type { INIT_REQ_EXEC = 1 };

/* Flags of an exec request. */
#define INIT_EXEC_CGROUP_FD 0x1   /* a 4th fd: the exec cgroup's cgroup.procs */

/* Followed by strings_len bytes: cwd, argv[0..argc), env[0..envc), each
 * NUL-terminated. fds 0, 1, 2 of the command come as SCM_RIGHTS. */
struct init_exec_request {
	uint32_t type;
	uint32_t exec_id;
	uint32_t argc;
	uint32_t envc;
	uint32_t strings_len;
	uint32_t flags;
};

#define INIT_MAX_REQUEST (128 * 1024)   /* header + strings */
#define INIT_MAX_ARGS 4096              /* argc + envc */
#define INIT_MAX_RUNNING 1024           /* execs running at once in one sandbox */
