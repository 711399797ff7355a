/* Version 1's JSON request bodies into the core's request structs
 * (session.h). Pure parsing: the core checks what the values mean
 * (limits within the policy, timeouts within the session's). */
#pragma once
#include <stdbool.h>
#include <jansson.h>

#include "process.h"
#include "session.h"
#include "wd-error.h"

/* Only keys of `allowed` (NULL-terminated) in obj: else 400 naming the
 * first other one (prefix names the object). */
int v1_check_fields(json_t *obj, const char *prefix, const char *const *allowed, struct wd_error *err);
/* A size ('s'), duration ('d'), count ('n') or CPU number ('c') given as
 * a JSON string or number; 0 is refused. */
int v1_limit(json_t *v, const char *name, char kind, uint64_t *out, struct wd_error *err);
/* {"KEY": "value"} into a NULL-terminated "KEY=value" list (freed by the caller). */
int v1_env(json_t *obj, const char *where, char ***out, struct wd_error *err);

/* The strings a parsed request points into, freed with it. */
struct v1_hold {
	char **argv, **env;
	void *stdin_data;
	char **allow;                 /* borrowed from the body: the array only is ours */
	struct network_request net;
};
void v1_hold_free(struct v1_hold *h);

/* {"image", "policy", "backend", "limits", "env", "idle_timeout",
 * "max_lifetime", "network"} (body may be NULL: the defaults). extra names more keys
 * the caller takes itself. */
int v1_session_request(json_t *body, const char *const *extra, struct session_request *r, struct v1_hold *hold,
		       struct wd_error *err);
/* "network": {"mode": "none"|"egress", "allow": ["entry", …]} into
 * hold->net (its strings borrowed from v, which must outlive it). */
int v1_network(json_t *v, struct v1_hold *hold, struct wd_error *err);
/* Only {"image", "policy", "backend", "limits"} (fields not checked). */
int v1_session_target(json_t *body, struct session_request *r, struct wd_error *err);
/* {"cmd"|"shell" (unless hold->argv is set already), "env", "cwd", "stdin"|"stdin_base64", "timeout",
 * "output", "stream"}; extra as above. */
int v1_exec_request(json_t *body, const char *const *extra, struct exec_request *r, struct v1_hold *hold,
		    bool *stream, struct wd_error *err);
/* {"cmd"|"shell", "env", "cwd", "stdin" (a boolean here), "pty" ({"cols",
 * "rows"}, {} for 80x24, or null), "timeout", "tag"}; the strings point
 * into body and hold. */
int v1_process_request(json_t *body, struct process_request *r, struct v1_hold *hold, struct wd_error *err);
/* {"cols": N, "rows": N}, each 1 to 65535. */
int v1_terminal_size(json_t *body, uint16_t *cols, uint16_t *rows, struct wd_error *err);
/* "2026-11-30T00:00:00Z" (UTC). */
void v1_iso_time(time_t t, char *buf, size_t len);
