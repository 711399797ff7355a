/* Sessions as the rest of the daemon sees them (sessions.c owns them). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct session;

/* A live session of `owner`; NULL when unknown, ended, or another owner's
 * (callers answer 404 in every case). */
struct session *session_find(const char *id, const char *owner);
const char *session_id(const struct session *s);
/* Marks the session used now (idle timeout restarts). */
void session_touch(struct session *s);
/* Opens the session's /workspace from the host as an O_PATH directory fd
 * for openat2(RESOLVE_IN_ROOT), with the host uid/gid of the sandbox user
 * (uid 1000 inside: what the daemon creates there is theirs). Returns the
 * fd or -errno: -EOPNOTSUPP when the session's backend has no workspace
 * on this host (docker: its files go through file execs, files-exec.h). */
int session_open_workspace(struct session *s, uid_t *uid, gid_t *gid);
/* Bytes of file data one PUT may write into this session (policy tmpfs
 * size bounds it anyway). */
uint64_t session_max_file_size(const struct session *s);

/* Counts for /v1/health and /metrics: sessions, and one-shot runs (POST
 * /v1/run) holding or waiting for a sandbox. */
unsigned sessions_active(void);
unsigned runs_active(void);
/* How many commands the token `owner` may run at once over all its
 * sessions (max_execs_per_token; per-token overrides plug in here). */
unsigned exec_cap_for_owner(const char *owner);
