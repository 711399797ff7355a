#include "config.h"
#include "caps.h"

#include <grp.h>
#include <sys/prctl.h>
#include <unistd.h>

int caps_plan_prepare(struct caps_plan *plan, wr_error *e)
{
	plan->empty = cap_init();
	if (!plan->empty)
		return wr_error_set(e, errno, "cap_init");
	plan->last_cap = (int)cap_max_bits() - 1;
	return 0;
}

void caps_plan_free(struct caps_plan *plan)
{
	if (plan->empty)
		cap_free(plan->empty);
	plan->empty = NULL;
}

int caps_drop_to_user(const struct caps_plan *plan, uid_t uid, gid_t gid,
		      const char **failed_step)
{
	/* The bounding set first: dropping from it needs CAP_SETPCAP. */
	for (int cap = 0; cap <= plan->last_cap; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) {
			*failed_step = "drop the capability bounding set";
			return -errno;
		}
	}
	if (setgroups(0, NULL) < 0 && errno != EPERM) {
		/* EPERM: setgroups is denied in a rootless user namespace, where
		 * the process has no supplementary groups to drop anyway. */
		*failed_step = "setgroups";
		return -errno;
	}
	if (setresgid(gid, gid, gid) < 0) {
		*failed_step = "setresgid to the sandbox group";
		return -errno;
	}
	if (setresuid(uid, uid, uid) < 0) {
		*failed_step = "setresuid to the sandbox user";
		return -errno;
	}
	if (cap_reset_ambient() < 0 && errno != EINVAL) {
		*failed_step = "clear the ambient capabilities";
		return -errno;
	}
	/* setresuid away from 0 already emptied permitted and effective; this
	 * clears the inheritable set too, and covers uid 0 -> uid 0. */
	if (cap_set_proc(plan->empty) < 0) {
		*failed_step = "clear the capability sets";
		return -errno;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		*failed_step = "set no_new_privs";
		return -errno;
	}
	return 0;
}
