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

/* Host ids (as root): ranges of `size` ids, uids and gids alike, cut from
 * [first, last]; slot k is first + k*size. The default is the space
 * 1879048192-2147352575 (0x70000000-0x7FFDFFFF): above systemd's container
 * ranges (524288-1879048191), below the "foreign" range systemd >= 256
 * reserves (0x7FFE0000-0x7FFEFFFF), clear of 0x7FFF0000-0x7FFFFFFF and of
 * every id >= 2^31 (signed uid_t bugs, (uid_t)-1); cut in ranges of 16384
 * ids, that is 16376 sandboxes. Inside, ids 0 to size-1 are mapped: root,
 * the sandbox user (1000) and the system users images have. Ranges that
 * overlap an entry of /etc/subuid or /etc/subgid are never handed out. The
 * operator may choose another layout (warrend.conf host_ids and
 * host_ids_per_sandbox, warren(1) WARREN_HOST_IDS...): uid_layout_check
 * refuses one that reaches into what systemd or the kernel reserve. */
struct uid_layout {
	uint32_t first;   /* host id of slot 0's inside uid 0 */
	uint32_t last;    /* the last host id any slot may use */
	uint32_t size;    /* ids per sandbox */
};
#define UID_LAYOUT_FIRST 0x70000000u
#define UID_LAYOUT_LAST 0x7FFDFFFFu
#define UID_LAYOUT_SIZE 16384u
#define UID_LAYOUT_MIN_SIZE (SANDBOX_UID + 1)
#define UID_LAYOUT_MAX_SIZE 65536u
/* Slots are locked in this file, shared by every warren process of the
 * host: byte N is host id N, so processes with different layouts still
 * never hand out the same id. */
#define UID_RANGE_LOCK_FILE "/run/warren/uid-ranges.lock"

/* "FIRST-LAST" (decimal or 0x hex) and a size, checked. */
int uid_layout_parse(const char *range, const char *size, struct uid_layout *out, wr_error *e);
/* 0, or why the layout may not be used: it must fit in 65536-524287 or in
 * 0x70000000-0x7FFDFFFF (the space between what systemd reserves), and
 * hold at least one range of UID_LAYOUT_MIN_SIZE to UID_LAYOUT_MAX_SIZE ids. */
int uid_layout_check(const struct uid_layout *l, wr_error *e);
/* The process-wide layout (default: the one above). */
void uid_layout_set(const struct uid_layout *l);
const struct uid_layout *uid_layout_get(void);
/* `warren run`: $WARREN_HOST_IDS ("FIRST-LAST") and
 * $WARREN_HOST_IDS_PER_SANDBOX, when set, become the layout. */
int uid_layout_from_env(wr_error *e);
unsigned uid_layout_slots(const struct uid_layout *l);
uid_t uid_layout_slot_base(const struct uid_layout *l, unsigned slot);

struct uid_pool;

struct uid_range {
	bool rootless;
	uid_t host_base;   /* inside uid 0 (root mode) */
	uint32_t count;    /* uids mapped */
	unsigned slot;
	int lock_fd;       /* holds the range's lock; -1 when rootless or pooled */
	struct uid_pool *pool; /* the pool it came from, or NULL */
	bool handed;       /* pooled, but its lock is held by the sandbox itself (uid_pool_hand_over) */
	uid_t caller_uid;  /* getuid() of the caller */
	gid_t caller_gid;
};

/* Root: locks a free range of the process's layout (an OFD lock on its
 * bytes of lock_path, released by the kernel when the fd's last holder
 * exits, so a crash never leaks a range). Non-root: rootless mapping. */
int uid_range_acquire(struct uid_range *r, const char *lock_path, wr_error *e);
void uid_range_release(struct uid_range *r);
/* A range locked by another process's open file description, taken
 * again through fd (a dup of it): 0 once fd holds (slot, base, count) of
 * the layout, -EAGAIN when someone else holds it. On success fd is r's. */
int uid_range_take_fd(struct uid_range *r, int fd, unsigned slot, uid_t base, uint32_t count, wr_error *e);
/* The host uid that sandbox uid `inside` maps to. */
uid_t uid_range_host_uid(const struct uid_range *r, uid_t inside);

/* Many ranges held through one fd (warrend: one fd, not one per sandbox).
 * Ranges are handed out lowest first, so the kernel merges the pool's
 * adjacent locks and other processes' lock attempts stay cheap. Root only. */
int uid_pool_open(struct uid_pool **out, const char *lock_path, wr_error *e);
int uid_pool_acquire(struct uid_pool *p, struct uid_range *r, wr_error *e);
/* The range's lock moves to an fd of its own (*fd, to hand to the
 * sandbox: warrend's kept sandboxes hold their range as long as they live,
 * daemon or not); the pool still counts the range as its own. */
int uid_pool_hand_over(struct uid_pool *p, struct uid_range *r, int *fd, wr_error *e);
/* Takes the one range (slot, base, count) again (a restarted warrend
 * adopting the sandbox that had it). With `handed` the sandbox holds its
 * lock (it is taken without locking, or locked if nobody holds it);
 * otherwise -EBUSY when someone else holds it. */
int uid_pool_take(struct uid_pool *p, unsigned slot, uid_t base, uint32_t count, bool handed, struct uid_range *r,
		  wr_error *e);
unsigned uid_pool_in_use(const struct uid_pool *p);
void uid_pool_close(struct uid_pool *p);

/* Map text as written to /proc/PID/uid_map, e.g. "0 1879048192 16384\n",
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
