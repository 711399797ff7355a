#include "config.h"
#include "userns.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
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

/* One lock file, one byte per slot: an open-file-description lock on byte k
 * owns slot k. The kernel drops it when the last fd sharing the description
 * closes, so a crashed sandbox frees its slot and no per-sandbox file is
 * ever left behind. */
static int uid_slot_lock(const char *lock_path, unsigned *slot_out, int *fd_out, wr_error *e)
{
	int r = mkdir_parents(lock_path, 0755);
	if (r < 0)
		return wr_error_set(e, -r, "create the directory of %s", lock_path);
	_cleanup_close_ int fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return wr_error_set(e, errno, "open %s", lock_path);

	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	unsigned start = (unsigned)(ts.tv_nsec ^ getpid()) % UID_RANGE_SLOTS;
	for (unsigned i = 0; i < UID_RANGE_SLOTS; i++) {
		unsigned slot = (start + i) % UID_RANGE_SLOTS;
		struct flock fl = {
			.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = slot, .l_len = 1,
		};
		if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
			*slot_out = slot;
			*fd_out = TAKE_FD(fd);
			return 0;
		}
		if (errno != EAGAIN && errno != EACCES)
			return wr_error_set(e, errno, "lock %s", lock_path);
	}
	return wr_error_set(e, EAGAIN, "all %u host uid ranges are in use (%s)", UID_RANGE_SLOTS, lock_path);
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
	int rc = uid_slot_lock(lock_path ? lock_path : UID_RANGE_LOCK_FILE, &r->slot, &r->lock_fd, e);
	if (rc < 0)
		return rc;
	r->host_base = uid_range_slot_base(r->slot);
	r->count = UID_RANGE_SIZE;
	return 0;
}

uid_t uid_range_slot_base(unsigned slot)
{
	return UID_RANGE_BASE + slot * UID_RANGE_SIZE;
}

void uid_range_release(struct uid_range *r)
{
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
