/* Decoding the requests of init-protocol.h inside the sandbox's init. Split
 * from init.c so the fuzzer and the unit tests reach it without a sandbox. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "init-protocol.h"

/* The type of a request (its first field), or 0 when it is too short. */
uint32_t init_request_type(const char *buf, size_t len);

/* Checks `len` bytes of `buf` (a whole INIT_REQ_EXEC message) and points
 * *cwd, argv and envp into it; argv and envp need room for INIT_MAX_ARGS
 * entries and end with NULL. -EBADMSG for anything malformed: unknown
 * flags, a window size without INIT_EXEC_PTY. The header is copied into
 * *hdr as far as it was read, so a refusal can still name hdr->exec_id. */
int init_parse_request(char *buf, size_t len, struct init_exec_request *hdr, char **argv, char **envp,
		       const char **cwd);

/* How many fds a valid exec request comes with: 3 (stdio) or 1 (the pty's
 * reply socket), plus 1 with INIT_EXEC_CGROUP_FD, plus the kept ends
 * (init_request_n_kept). */
int init_request_n_fds(const struct init_exec_request *hdr);
/* Of those, the last ones init keeps (INIT_EXEC_KEEP): 0, 2 or 3. */
int init_request_n_kept(const struct init_exec_request *hdr);
/* Checks a whole INIT_REQ_CLOSE_STDIN message; its exec id. */
int init_parse_close_stdin(const char *buf, size_t len, uint32_t *exec_id);

/* Checks a whole INIT_REQ_SIGNAL message into *req: 0, or -EBADMSG (wrong
 * size or type, a signal outside 1..INIT_MAX_SIGNAL, reserved bits set). */
int init_parse_signal(const char *buf, size_t len, struct init_signal_request *req);

/* Checks a whole INIT_REQ_KEEP message that came with n_fds fds (the
 * listener, maybe the lock of the sandbox's host ids, then what init
 * holds for the next daemons): how many it holds (the last fds), or
 * -EBADMSG. */
int init_parse_keep(const char *buf, size_t len, int n_fds);
