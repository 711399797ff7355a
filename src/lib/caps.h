/* Privilege drop with libcap: bounding set emptied, supplementary groups
 * cleared, uid/gid set to the sandbox user, every capability set (permitted,
 * effective, inheritable, ambient) empty, no_new_privs on. */
#pragma once
#include <sys/types.h>
#include <sys/capability.h>

#include "error.h"

/* Parent side: allocates what the child needs so the child allocates
 * nothing (an empty cap_t, the highest capability number). */
struct caps_plan {
	cap_t empty;
	int last_cap;
};
int caps_plan_prepare(struct caps_plan *plan, wr_error *e);
void caps_plan_free(struct caps_plan *plan);

/* Child side, async-signal-safe: the whole drop, in the order that works
 * (bounding set needs CAP_SETPCAP, so it goes first). */
int caps_drop_to_user(const struct caps_plan *plan, uid_t uid, gid_t gid,
		      const char **failed_step);
