/* User namespace identity. As root every sandbox gets its own range of
 * unprivileged host uids/gids (never shared by two live sandboxes);
 * rootless, the caller's uid and gid map to the sandbox user alone. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define SANDBOX_UID 1000
#define SANDBOX_GID 1000
#define SANDBOX_USER "sandbox"

/* Host uid ranges (as root): slot k covers [UID_RANGE_BASE + k*UID_RANGE_SIZE,
 * +SIZE), uids and gids alike, 1879048192 (0x70000000) to 2147352575
 * (0x7FFDFFFF) in all. Where that sits among the host's own (systemd's
 * UIDS-GIDS): above systemd's container ranges (524288-1879048191) and
 * below UID_RANGE_END, the start of the "foreign" range systemd >= 256
 * reserves for images owned by nobody on the host (0x7FFE0000-0x7FFEFFFF);
 * that also keeps clear of 0x7FFF0000-0x7FFFFFFF and of every uid >= 2^31
 * (signed uid_t bugs, (uid_t)-1). The sandbox user is host uid
 * base + SANDBOX_UID of its slot. More slots would come from smaller
 * ranges (UID_RANGE_SIZE), never from crossing UID_RANGE_END. */
#define UID_RANGE_BASE 0x70000000u
#define UID_RANGE_SIZE 65536u
#define UID_RANGE_END 0x7FFE0000u
#define UID_RANGE_SLOTS ((UID_RANGE_END - UID_RANGE_BASE) / UID_RANGE_SIZE) /* 4094 */
#define UID_RANGE_LOCK_FILE "/run/warren/uid-ranges.lock"

struct uid_range {
	bool rootless;
	uid_t host_base;   /* inside uid 0 (root mode) */
	uint32_t count;    /* uids mapped */
	unsigned slot;
	int lock_fd;       /* holds the slot's byte lock; -1 when rootless */
	uid_t caller_uid;  /* getuid() of the caller */
	gid_t caller_gid;
};

/* Root: locks a free slot (an OFD byte-range lock on byte `slot` of
 * lock_path, released by the kernel when the fd's last holder exits, so
 * a crash never leaks a slot). Non-root: rootless mapping. */
int uid_range_acquire(struct uid_range *r, const char *lock_path, wr_error *e);
void uid_range_release(struct uid_range *r);
/* The first host uid of slot `slot` (< UID_RANGE_SLOTS). */
uid_t uid_range_slot_base(unsigned slot);
/* The host uid that sandbox uid `inside` maps to. */
uid_t uid_range_host_uid(const struct uid_range *r, uid_t inside);

/* Map text as written to /proc/PID/uid_map, e.g. "0 1879048192 65536\n",
 * or "1000 1001 1\n" rootless. Pure; returns length or -ENOSPC. */
int userns_format_uid_map(const struct uid_range *r, char *buf, size_t len);
int userns_format_gid_map(const struct uid_range *r, char *buf, size_t len);
/* Writes setgroups (deny when rootless), uid_map and gid_map of pid. */
int userns_write_maps(pid_t pid, const struct uid_range *r, wr_error *e);

/* A user namespace fd for an idmapped mount through which files stored
 * with owner disk_uid:disk_gid are seen (and created) as shown_uid:shown_gid.
 * Root only. */
int userns_open_idmap(uid_t disk_uid, gid_t disk_gid, uid_t shown_uid, gid_t shown_gid,
		      int *userns_fd, wr_error *e);
