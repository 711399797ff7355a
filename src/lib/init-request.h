/* Decoding an INIT_REQ_EXEC message (init-protocol.h) inside the sandbox's
 * init. Split from init.c so the fuzzer and the unit tests reach it
 * without a sandbox. */
#pragma once
#include <stddef.h>

#include "init-protocol.h"

/* Checks `len` bytes of `buf` (a whole message) and points *cwd, argv and
 * envp into it; argv and envp need room for INIT_MAX_ARGS entries and end
 * with NULL. -EBADMSG for anything malformed. The header is copied into
 * *hdr as far as it was read, so a refusal can still name hdr->exec_id. */
int init_parse_request(char *buf, size_t len, struct init_exec_request *hdr, char **argv, char **envp,
		       const char **cwd);
