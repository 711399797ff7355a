/* Bearer tokens: the tokens file holds `NAME SHA256HEX` lines, so a stolen
 * file does not reveal usable tokens. The presented token is hashed and
 * compared in constant time. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* The owner of requests that carry no token (where none is required). */
#define AUTH_ANONYMOUS_OWNER "local"

/* Loads `path` (NULL or a missing file: no tokens). Refuses a file that
 * others can read or write. On success the new table replaces the old one;
 * on failure the old one stays. */
int auth_load(const char *path, wr_error *e);
/* auth_load again with the same path (SIGHUP). */
int auth_reload(wr_error *e);
/* The token's name, or NULL when it matches no entry. */
const char *auth_owner(const char *token, size_t len);
size_t auth_count(void);
void auth_free(void);

/* `warrend token add NAME`: a new random token (64 hex chars, NUL
 * terminated into token[65]) whose hash is appended to `path` (created
 * 0600). */
int auth_token_add(const char *path, const char *name, char token[65], wr_error *e);
