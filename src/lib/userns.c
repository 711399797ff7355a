#include "config.h"
#include "userns.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"

static int mkdir_parents(const char *path, mode_t mode)
{
	char buf[256];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

/* ---- the layout ------------------------------------------------------------ */

static struct uid_layout layout = { UID_LAYOUT_FIRST, UID_LAYOUT_LAST, UID_LAYOUT_SIZE };

/* Where a layout may lie: the spaces systemd's UIDS-GIDS leaves to others. */
static const struct { uint32_t first, last; } usable[] = {
	{ 65536, 524287 },                  /* above the 16-bit ids, below the container ranges */
	{ UID_LAYOUT_FIRST, UID_LAYOUT_LAST }, /* above them, below the foreign range */
};

void uid_layout_set(const struct uid_layout *l) { layout = *l; }
const struct uid_layout *uid_layout_get(void) { return &layout; }

unsigned uid_layout_slots(const struct uid_layout *l)
{
	return l->size && l->last >= l->first ? (unsigned)(((uint64_t)l->last - l->first + 1) / l->size) : 0;
}

uid_t uid_layout_slot_base(const struct uid_layout *l, unsigned slot)
{
	return (uid_t)(l->first + (uint64_t)slot * l->size);
}

int uid_layout_check(const struct uid_layout *l, wr_error *e)
{
	if (l->size < UID_LAYOUT_MIN_SIZE || l->size > UID_LAYOUT_MAX_SIZE)
		return wr_error_set(e, 0, "host ids per sandbox: %u is outside %u-%u (root, the sandbox user %u and "
				    "the images' system users need the low ids)", l->size, UID_LAYOUT_MIN_SIZE,
				    UID_LAYOUT_MAX_SIZE, SANDBOX_UID);
	for (size_t i = 0; i < ARRAY_SIZE(usable); i++)
		if (l->first >= usable[i].first && l->last <= usable[i].last && l->first <= l->last) {
			if (uid_layout_slots(l) == 0)
				return wr_error_set(e, 0, "host ids %u-%u hold no range of %u ids", l->first, l->last,
						    l->size);
			return 0;
		}
	return wr_error_set(e, 0, "host ids %u-%u: must lie within 65536-524287 or 1879048192-2147352575 "
			    "(0x70000000-0x7FFDFFFF); the rest belongs to the system's users, systemd's dynamic "
			    "users, container and foreign ranges, or is past 2^31", l->first, l->last);
}

static int parse_id(const char *s, const char *end, uint32_t *out)
{
	char buf[32];
	size_t len = (size_t)(end - s);
	if (len == 0 || len >= sizeof buf)
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *stop;
	errno = 0;
	unsigned long long v = strtoull(buf, &stop, 0);
	if (errno || *stop || buf[0] == '-' || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

int uid_layout_parse(const char *range, const char *size, struct uid_layout *out, wr_error *e)
{
	struct uid_layout l = layout;
	if (range) {
		const char *dash = strchr(range, '-');
		if (!dash || parse_id(range, dash, &l.first) < 0 || parse_id(dash + 1, dash + strlen(dash), &l.last) < 0)
			return wr_error_set(e, 0, "host ids \"%s\": expected FIRST-LAST, e.g. 1879048192-2147352575",
					    range);
	}
	if (size && parse_id(size, size + strlen(size), &l.size) < 0)
		return wr_error_set(e, 0, "host ids per sandbox \"%s\": expected a number, e.g. 16384", size);
	int r = uid_layout_check(&l, e);
	if (r < 0)
		return r;
	*out = l;
	return 0;
}

int uid_layout_from_env(wr_error *e)
{
	const char *range = getenv("WARREN_HOST_IDS"), *size = getenv("WARREN_HOST_IDS_PER_SANDBOX");
	if ((!range || !*range) && (!size || !*size))
		return 0;
	struct uid_layout l;
	int r = uid_layout_parse(range && *range ? range : NULL, size && *size ? size : NULL, &l, e);
	if (r < 0)
		return wr_error_prefix(e, "WARREN_HOST_IDS%s: ", range && *range ? "" : "_PER_SANDBOX");
	uid_layout_set(&l);
	return 0;
}

/* ---- what others hold: /etc/subuid and /etc/subgid --------------------------- */

struct id_span {
	uint64_t first, end; /* [first, end) */
};

static void read_subid_file(const char *path, struct id_span **spans, size_t *n)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char line[512];
	while (f && fgets(line, sizeof line, f)) {
		/* name:first:count */
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		unsigned long long first = strtoull(c1 + 1, NULL, 10), count = strtoull(c2 + 1, NULL, 10);
		struct id_span *grown = realloc(*spans, (*n + 1) * sizeof **spans);
		if (!grown)
			return;
		*spans = grown;
		(*spans)[(*n)++] = (struct id_span){ first, first + count };
	}
}

struct subids {
	struct id_span *spans;
	size_t n;
};

static void subids_load(struct subids *s)
{
	*s = (struct subids){ 0 };
	const char *dir = getenv("WARREN_SUBID_DIR"); /* tests point it elsewhere */
	char path[256];
	snprintf(path, sizeof path, "%s/subuid", dir && *dir ? dir : "/etc");
	read_subid_file(path, &s->spans, &s->n);
	snprintf(path, sizeof path, "%s/subgid", dir && *dir ? dir : "/etc");
	read_subid_file(path, &s->spans, &s->n);
}

static bool subids_overlap(const struct subids *s, uint64_t first, uint64_t end)
{
	for (size_t i = 0; i < s->n; i++)
		if (first < s->spans[i].end && s->spans[i].first < end)
			return true;
	return false;
}

/* ---- locks ---------------------------------------------------------------- */

/* Before the layout was configurable, slot k was host ids 0x70000000 +
 * k*65536 and held by a lock on byte k: a read lock on the bytes of the old
 * slots a range overlaps keeps an older warren on this host from handing
 * out the same ids, and lets ours share them. */
#define LEGACY_FIRST 0x70000000u
#define LEGACY_SIZE 65536u
#define LEGACY_SLOTS 4096u

static bool legacy_bytes(uid_t base, uint32_t count, unsigned *lo, unsigned *hi)
{
	uint64_t end = (uint64_t)base + count;
	if (end <= LEGACY_FIRST || base >= LEGACY_FIRST + (uint64_t)LEGACY_SLOTS * LEGACY_SIZE)
		return false;
	uint64_t from = base < LEGACY_FIRST ? LEGACY_FIRST : base;
	*lo = (unsigned)((from - LEGACY_FIRST) / LEGACY_SIZE);
	*hi = (unsigned)((end - 1 - LEGACY_FIRST) / LEGACY_SIZE);
	if (*hi >= LEGACY_SLOTS)
		*hi = LEGACY_SLOTS - 1;
	return true;
}

static int ofd_lock(int fd, short type, uint64_t start, uint64_t len)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = (off_t)start, .l_len = (off_t)len };
	return fcntl(fd, F_OFD_SETLK, &fl) == 0 ? 0 : -errno;
}

/* 0 when fd now holds ids [base, base+count) (and, with legacy, the old
 * slots' bytes), -EAGAIN when someone else does, else -errno. */
static int lock_ids(int fd, uid_t base, uint32_t count, bool legacy)
{
	int r = ofd_lock(fd, F_WRLCK, base, count);
	if (r < 0)
		return r == -EACCES ? -EAGAIN : r;
	unsigned lo, hi;
	if (legacy && legacy_bytes(base, count, &lo, &hi) && (r = ofd_lock(fd, F_RDLCK, lo, hi - lo + 1)) < 0) {
		ofd_lock(fd, F_UNLCK, base, count);
		return r == -EACCES ? -EAGAIN : r;
	}
	return 0;
}

static int open_lock_file(const char *lock_path, int *out, wr_error *e)
{
	int r = mkdir_parents(lock_path, 0755);
	if (r < 0)
		return wr_error_set(e, -r, "create the directory of %s", lock_path);
	int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return wr_error_set(e, errno, "open %s", lock_path);
	*out = fd;
	return 0;
}

static int all_in_use(const struct uid_layout *l, const char *lock_path, wr_error *e)
{
	return wr_error_set(e, EAGAIN, "all %u host id ranges (%u-%u, %u each) are in use (%s)", uid_layout_slots(l),
			    l->first, l->last, l->size, lock_path);
}

/* One range on an fd of its own (warren run, the oci backend). */
static int uid_slot_lock(const char *lock_path, struct uid_range *out, wr_error *e)
{
	const struct uid_layout *l = &layout;
	_cleanup_close_ int fd = -1;
	int r = open_lock_file(lock_path, &fd, e);
	if (r < 0)
		return r;
	struct subids sub;
	subids_load(&sub);
	_cleanup_free_ struct id_span *spans = sub.spans;
	unsigned n = uid_layout_slots(l);
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned start = (unsigned)(ts.tv_nsec ^ getpid()) % n;
	for (unsigned i = 0; i < n; i++) {
		unsigned slot = (start + i) % n;
		uid_t base = uid_layout_slot_base(l, slot);
		if (subids_overlap(&sub, base, (uint64_t)base + l->size))
			continue;
		r = lock_ids(fd, base, l->size, true);
		if (r == 0) {
			out->slot = slot;
			out->host_base = base;
			out->count = l->size;
			out->lock_fd = TAKE_FD(fd);
			return 0;
		}
		if (r != -EAGAIN)
			return wr_error_set(e, -r, "lock %s", lock_path);
	}
	return all_in_use(l, lock_path, e);
}

int uid_range_acquire(struct uid_range *r, const char *lock_path, wr_error *e)
{
	*r = (struct uid_range){ .lock_fd = -1, .caller_uid = getuid(), .caller_gid = getgid() };
	if (geteuid() != 0) {
		r->rootless = true;
		r->host_base = r->caller_uid;
		r->count = 1;
		return 0;
	}
	return uid_slot_lock(lock_path ? lock_path : UID_RANGE_LOCK_FILE, r, e);
}

/* The range (slot, base, count) again, through `fd`: an open file
 * description of the lock file that another process (a kept oci
 * sandbox's holder) keeps. 0 once fd holds the range (it did, or nobody
 * did); -EAGAIN when someone else holds it. fd becomes the range's. */
int uid_range_take_fd(struct uid_range *r, int fd, unsigned slot, uid_t base, uint32_t count, wr_error *e)
{
	struct stat want, got;
	if (stat(UID_RANGE_LOCK_FILE, &want) < 0 || fstat(fd, &got) < 0 || want.st_dev != got.st_dev ||
	    want.st_ino != got.st_ino)
		return wr_error_set(e, EBADF, "its holder's fd is not %s", UID_RANGE_LOCK_FILE);
	const struct uid_layout *l = &layout;
	if (count != l->size || slot >= uid_layout_slots(l) || uid_layout_slot_base(l, slot) != base)
		return wr_error_set(e, EINVAL, "host ids %u+%u are not a range of this layout", (unsigned)base, count);
	int rc = lock_ids(fd, base, count, true);
	if (rc < 0)
		return wr_error_set(e, -rc, rc == -EAGAIN ? "host ids %u+%u are held by another sandbox" :
				    "lock host ids %u+%u", (unsigned)base, count);
	*r = (struct uid_range){ .slot = slot, .host_base = base, .count = count, .lock_fd = fd,
				 .caller_uid = getuid(), .caller_gid = getgid() };
	return 0;
}

/* ---- a pool of ranges on one fd ------------------------------------------- */

struct uid_pool {
	int fd;
	struct uid_layout layout;
	char *lock_path;
	struct subids sub;
	unsigned n_slots, in_use, cursor;
	uint8_t *used;                      /* by this pool, one byte per slot */
	uint16_t legacy_refs[LEGACY_SLOTS]; /* our ranges on each old slot */
};

int uid_pool_open(struct uid_pool **out, const char *lock_path, wr_error *e)
{
	struct uid_pool *p = calloc(1, sizeof *p);
	if (!p)
		return wr_error_set(e, ENOMEM, "uid pool");
	p->layout = layout;
	p->n_slots = uid_layout_slots(&layout);
	p->lock_path = strdup(lock_path ? lock_path : UID_RANGE_LOCK_FILE);
	p->used = calloc(p->n_slots ? p->n_slots : 1, 1);
	p->fd = -1;
	int r = !p->lock_path || !p->used ? wr_error_set(e, ENOMEM, "uid pool")
					 : open_lock_file(p->lock_path, &p->fd, e);
	if (r < 0) {
		uid_pool_close(p);
		return r;
	}
	subids_load(&p->sub);
	*out = p;
	return 0;
}

/* The pool's own legacy read locks are counted: one fd holds them for
 * every range, and an unlock would drop them for all. */
static int pool_lock_slot(struct uid_pool *p, uid_t base)
{
	int r = lock_ids(p->fd, base, p->layout.size, false);
	unsigned lo, hi;
	if (r < 0 || !legacy_bytes(base, p->layout.size, &lo, &hi))
		return r;
	for (unsigned k = lo; k <= hi; k++) {
		if (p->legacy_refs[k] == 0 && (r = ofd_lock(p->fd, F_RDLCK, k, 1)) < 0) {
			while (k-- > lo)
				if (--p->legacy_refs[k] == 0)
					ofd_lock(p->fd, F_UNLCK, k, 1);
			ofd_lock(p->fd, F_UNLCK, base, p->layout.size);
			return r == -EACCES ? -EAGAIN : r;
		}
		p->legacy_refs[k]++;
	}
	return 0;
}

static void pool_unlock_slot(struct uid_pool *p, uid_t base)
{
	ofd_lock(p->fd, F_UNLCK, base, p->layout.size);
	unsigned lo, hi;
	if (legacy_bytes(base, p->layout.size, &lo, &hi))
		for (unsigned k = lo; k <= hi; k++)
			if (p->legacy_refs[k] && --p->legacy_refs[k] == 0)
				ofd_lock(p->fd, F_UNLCK, k, 1);
}

int uid_pool_acquire(struct uid_pool *p, struct uid_range *r, wr_error *e)
{
	*r = (struct uid_range){ .lock_fd = -1, .caller_uid = getuid(), .caller_gid = getgid() };
	/* lowest free first: our locks stay few and merged */
	for (unsigned slot = 0; slot < p->n_slots; slot++) {
		if (p->used[slot])
			continue;
		uid_t base = uid_layout_slot_base(&p->layout, slot);
		if (subids_overlap(&p->sub, base, (uint64_t)base + p->layout.size))
			continue;
		int rc = pool_lock_slot(p, base);
		if (rc == -EAGAIN)
			continue;
		if (rc < 0)
			return wr_error_set(e, -rc, "lock %s", p->lock_path);
		p->used[slot] = 1;
		p->in_use++;
		*r = (struct uid_range){ .host_base = base, .count = p->layout.size, .slot = slot, .lock_fd = -1,
					 .pool = p, .caller_uid = getuid(), .caller_gid = getgid() };
		return 0;
	}
	return all_in_use(&p->layout, p->lock_path, e);
}

int uid_pool_hand_over(struct uid_pool *p, struct uid_range *r, int *fd, wr_error *e)
{
	if (r->pool != p || r->handed || !p->used[r->slot])
		return wr_error_set(e, EINVAL, "host ids %u: not a range of this pool", (unsigned)r->host_base);
	_cleanup_close_ int own = -1;
	int rc = open_lock_file(p->lock_path, &own, e);
	if (rc < 0)
		return rc;
	/* ours for a moment only: nobody else may take it in between but a
	 * process that ignores the pool's locks */
	pool_unlock_slot(p, r->host_base);
	if ((rc = lock_ids(own, r->host_base, r->count, true)) < 0) {
		pool_lock_slot(p, r->host_base);
		return wr_error_set(e, -rc, "lock host ids %u-%u on their own", (unsigned)r->host_base,
				    (unsigned)(r->host_base + r->count - 1));
	}
	r->handed = true;
	*fd = TAKE_FD(own);
	return 0;
}

int uid_pool_take(struct uid_pool *p, unsigned slot, uid_t base, uint32_t count, bool handed, struct uid_range *r,
		  wr_error *e)
{
	*r = (struct uid_range){ .lock_fd = -1, .caller_uid = getuid(), .caller_gid = getgid() };
	if (slot >= p->n_slots || uid_layout_slot_base(&p->layout, slot) != base || count != p->layout.size)
		return wr_error_set(e, EINVAL, "host ids %u-%u are not a range of this daemon's layout (host_ids)",
				    (unsigned)base, (unsigned)(base + count - 1));
	if (p->used[slot])
		return wr_error_set(e, EBUSY, "host ids %u-%u are held by another sandbox", (unsigned)base,
				    (unsigned)(base + count - 1));
	int rc = pool_lock_slot(p, base);
	bool held_by_it = handed && rc == -EAGAIN; /* the sandbox holds it, as since it was kept */
	if (rc == -EAGAIN && !held_by_it)
		return wr_error_set(e, EBUSY, "host ids %u-%u were taken by another process meanwhile",
				    (unsigned)base, (unsigned)(base + count - 1));
	if (rc < 0 && !held_by_it)
		return wr_error_set(e, -rc, "lock %s", p->lock_path);
	p->used[slot] = 1;
	p->in_use++;
	*r = (struct uid_range){ .host_base = base, .count = count, .slot = slot, .lock_fd = -1, .pool = p,
				 .handed = held_by_it, .caller_uid = getuid(), .caller_gid = getgid() };
	return 0;
}

unsigned uid_pool_in_use(const struct uid_pool *p) { return p ? p->in_use : 0; }

void uid_pool_close(struct uid_pool *p)
{
	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
	free(p->sub.spans);
	free(p->used);
	free(p->lock_path);
	free(p);
}

void uid_range_release(struct uid_range *r)
{
	if (r->pool && r->pool->used[r->slot]) {
		if (!r->handed) /* (else its sandbox held it, and is gone) */
			pool_unlock_slot(r->pool, r->host_base);
		r->pool->used[r->slot] = 0;
		r->pool->in_use--;
	}
	r->pool = NULL;
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	r->lock_fd = -1;
}

uid_t uid_range_host_uid(const struct uid_range *r, uid_t inside)
{
	if (r->rootless)
		return inside == SANDBOX_UID ? r->caller_uid : (uid_t)-1;
	return inside < r->count ? r->host_base + inside : (uid_t)-1;
}

static int format_map(const struct uid_range *r, unsigned long caller, char *buf, size_t len)
{
	int n = r->rootless
		? snprintf(buf, len, "%u %lu 1\n", SANDBOX_UID, caller)
		: snprintf(buf, len, "0 %lu %lu\n", (unsigned long)r->host_base, (unsigned long)r->count);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}

int userns_format_uid_map(const struct uid_range *r, char *buf, size_t len)
{
	return format_map(r, r->caller_uid, buf, len);
}

int userns_format_gid_map(const struct uid_range *r, char *buf, size_t len)
{
	return format_map(r, r->caller_gid, buf, len);
}

static int write_proc_file(pid_t pid, const char *name, const char *text, wr_error *e)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return wr_error_set(e, errno, "open %s", path);
	size_t len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len)
		return wr_error_set(e, errno, "write %s", path);
	return 0;
}

int userns_write_maps(pid_t pid, const struct uid_range *r, wr_error *e)
{
	char map[64];
	int rc;
	/* An unprivileged writer of gid_map must give up setgroups first. */
	if (r->rootless && (rc = write_proc_file(pid, "setgroups", "deny", e)) < 0)
		return rc;
	if ((rc = userns_format_uid_map(r, map, sizeof map)) < 0 ||
	    (rc = write_proc_file(pid, "uid_map", map, e)) < 0)
		return rc;
	if ((rc = userns_format_gid_map(r, map, sizeof map)) < 0 ||
	    (rc = write_proc_file(pid, "gid_map", map, e)) < 0)
		return rc;
	return 0;
}

int userns_open_idmap(uid_t disk_uid, gid_t disk_gid, uid_t shown_uid, gid_t shown_gid,
		      int *userns_fd, wr_error *e)
{
	/* A throwaway process holds the namespace just long enough to map it
	 * and open it; the fd keeps the namespace alive afterwards. */
	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0)
		return wr_error_set(e, errno, "pipe");
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		int err = errno;
		close(ready[0]);
		close(ready[1]);
		return wr_error_set(e, err, "clone a user namespace for the idmapped workspace");
	}
	if (pid == 0) {
		char c;
		close(ready[1]);
		(void)!read(ready[0], &c, 1);
		_exit(0);
	}
	close(ready[0]);

	char map[64];
	int rc;
	/* A mount idmapping reads "inside outside": on-disk ids are the
	 * inside column, what the mount shows is the outside one. */
	snprintf(map, sizeof map, "%lu %lu 1\n", (unsigned long)disk_uid, (unsigned long)shown_uid);
	rc = write_proc_file(pid, "uid_map", map, e);
	if (rc == 0) {
		snprintf(map, sizeof map, "%lu %lu 1\n", (unsigned long)disk_gid, (unsigned long)shown_gid);
		rc = write_proc_file(pid, "gid_map", map, e);
	}
	if (rc == 0) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
		*userns_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*userns_fd < 0)
			rc = wr_error_set(e, errno, "open %s", path);
	}
	close(ready[1]);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return rc;
}
