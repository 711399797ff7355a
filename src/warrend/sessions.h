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
/* Opens the session's /workspace from the host (through the sandbox's
 * root, /proc/<init>/root/workspace) as an O_PATH directory fd for
 * openat2(RESOLVE_IN_ROOT). Returns the fd or -errno. */
int session_open_workspace(struct session *s);
/* The host uid/gid of the sandbox user (uid 1000 inside): files the
 * daemon creates in a workspace are chowned to them. */
uid_t session_host_uid(const struct session *s);
gid_t session_host_gid(const struct session *s);
/* Bytes of file data one PUT may write into this session (policy tmpfs
 * size bounds it anyway). */
uint64_t session_max_file_size(const struct session *s);

/* Counts for /v1/health and /metrics. */
unsigned sessions_active(void);
