/* Bearer tokens: the tokens file holds `NAME SHA256HEX [RESTRICTION]...`
 * lines, so a stolen file does not reveal usable tokens. The presented
 * token is hashed and compared in constant time. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "backend.h"
#include "error.h"

/* The owners of requests that carry no token, where none is required:
 * the unix socket (access is by its file mode), and loopback TCP listeners
 * when the operator set tokenless_loopback. They differ on purpose: a local
 * user who can reach loopback must not reach what the socket created. */
#define AUTH_SOCKET_OWNER "local"
#define AUTH_LOOPBACK_OWNER "loopback"

/* What one token may lease (warrend(8), TOKENS). Lists are NULL-terminated;
 * NULL or 0 means "not restricted". */
struct token_restrictions {
	char **policies;
	char **images;
	unsigned backends;      /* bit (1 << enum backend_kind) per allowed backend */
	unsigned max_sessions;  /* sessions alive at once */
	unsigned max_execs;     /* commands running at once in all its sessions */
};

/* Loads `path` (NULL or a missing file: no tokens). Refuses a file that is
 * a symbolic link, is not owned by root (or by the daemon's own uid when it
 * is not root), or that group or others may read or write. On success the
 * new table replaces the old one; on failure the old one stays. */
int auth_load(const char *path, wr_error *e);
/* auth_load again with the same path (SIGHUP). */
int auth_reload(wr_error *e);
/* The token's name, or NULL when it matches no entry. */
const char *auth_owner(const char *token, size_t len);
/* The owner named by an Authorization header's value ("Bearer TOKEN"), or
 * NULL with *why set to what the 401 should say. */
const char *auth_owner_of_header(const char *value, size_t len, const char **why);
size_t auth_count(void);
void auth_free(void);

/* The restrictions of the token named `owner`: NULL for a token without
 * any and for the tokenless owners. Valid until the next auth_load. */
const struct token_restrictions *auth_restrictions(const char *owner);
/* The session cap of `owner`: its max_sessions, else `daemon_cap`. */
unsigned auth_max_sessions(const char *owner, unsigned daemon_cap);
/* Whether `owner` may lease a sandbox of this image, policy and backend
 * (its name as requested; an unknown name is left to the caller's 400):
 * 0, or -1 with the message of a 403 (naming the token, the field and what
 * it allows) in err. */
int auth_check_lease(const char *owner, const char *image, const char *policy, const char *backend, char *err,
		     size_t errlen);
/* Parses restrictions ("policies=a,b images=host backends=native
 * max_sessions=N max_execs=N", blank-separated) into out (freed with
 * auth_restrictions_free). Messages name the bad word. */
int auth_restrictions_parse(char *text, struct token_restrictions *out, wr_error *e);
void auth_restrictions_free(struct token_restrictions *r);

/* `warrend token add NAME [restrictions]`: a new random token (`prefix`
 * and 64 hex chars, NUL terminated into token[AUTH_TOKEN_MAX + 1]) whose
 * hash, followed by `restrictions` (may be NULL or empty; checked first),
 * is appended to `path` (created 0600). */
#define AUTH_E2B_PREFIX "e2b_"   /* E2B's SDKs take API keys ^e2b_[0-9a-f]+$ */
#define AUTH_TOKEN_MAX (16 + 64)
int auth_token_add(const char *path, const char *name, const char *restrictions, const char *prefix,
		   char token[AUTH_TOKEN_MAX + 1], wr_error *e);

/* Credentials that a front end hands out itself (E2B's per-sandbox access
 * tokens): the gate (http-gate.c) lets a connection of that front end's
 * listener in when its first request carries one `check` accepts. NULL
 * (the default): none is accepted. */
void auth_set_sandbox_secret_check(bool (*check)(const char *value, size_t len));
bool auth_sandbox_secret_valid(const char *value, size_t len);
