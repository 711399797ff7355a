/* cgroup v2: where sandboxes are created, chosen and prepared
 * (cgroup_v2_parent, cgroup-internal.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "cgroup-internal.h"
#include "cleanup.h"

/* Enables our controllers in dir's cgroup.subtree_control, writing only the
 * missing ones: an ancestor we may not write to is fine when they are on. */
static int enable_controllers(const char *dir, wr_error *e)
{
	char enabled[512];
	int r = cgroup_read_file(dir, "cgroup.subtree_control", enabled, sizeof enabled);
	if (r < 0)
		return wr_error_set(e, -r, "read %s/cgroup.subtree_control", dir);
	for (size_t i = 0; i < N_CONTROLLERS; i++) {
		if (cgroup_word_listed(enabled, cgroup_controllers[i]))
			continue;
		char change[32];
		snprintf(change, sizeof change, "+%s", cgroup_controllers[i]);
		r = cgroup_write_file(dir, "cgroup.subtree_control", change, e);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Enables the controllers on every level from the root down to root/rel. */
static int enable_controllers_along(const char *root, const char *rel, wr_error *e)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", root, rel) < 0)
		return wr_error_set(e, ENOMEM, "cgroup path");
	size_t root_len = strlen(root);
	for (char *p = path + root_len;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		int r = enable_controllers(path, e);
		*p = saved;
		if (r < 0)
			return r;
		if (saved == '\0')
			return 0;
	}
}

/* Our own cgroup v2 path ("0::/system.slice/warrend.service"), relative to
 * the hierarchy root, without the leading slash; "" for the root. */
static int own_cgroup_v2(char *out, size_t size)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	if (!f)
		return -errno;
	char line[PATH_MAX + 16];
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "0::/", 4) != 0)
			continue;
		line[strcspn(line, "\n")] = '\0';
		if (snprintf(out, size, "%s", line + 4) >= (int)size)
			return -ENAMETOOLONG;
		return 0;
	}
	return -ENOENT;
}

/* A systemd service with Delegate=yes owns its cgroup subtree. systemd marks
 * delegated cgroups with a "delegate" xattr and chowns them to a non-root
 * service user; either one, plus write access, is taken as delegation. */
static bool is_delegated(const char *dir)
{
	if (!getenv("INVOCATION_ID") || access(dir, W_OK) < 0)
		return false;
	char value[8];
	if (getxattr(dir, "trusted.delegate", value, sizeof value) > 0 ||
	    getxattr(dir, "user.delegate", value, sizeof value) > 0)
		return true;
	struct stat st;
	return geteuid() != 0 && stat(dir, &st) == 0 && st.st_uid == geteuid();
}

/* Moves us, then every other process of the service (a wrapper shell, a
 * helper), from dir into the leaf `to`. */
static int move_all_procs(const char *dir, const char *to, wr_error *e)
{
	char pid[32];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	int r = cgroup_write_file(to, "cgroup.procs", pid, e);
	if (r < 0)
		return r;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return wr_error_set(e, errno, "open %s", path);
	long other;
	while (fscanf(f, "%ld", &other) == 1) {
		snprintf(pid, sizeof pid, "%ld", other);
		/* ESRCH: it exited meanwhile. */
		r = cgroup_write_file(to, "cgroup.procs", pid, e);
		if (r < 0 && r != -ESRCH)
			return r;
	}
	return 0;
}

/* Chooses (and prepares) the directory sandboxes are created in on v2. */
int cgroup_v2_parent(const char *root, char **parent, wr_error *e)
{
	const char *env = getenv("WARREN_CGROUP_PARENT");
	if (env && *env) {
		while (*env == '/')
			env++;
		if (*env) {
			int r = cgroup_mkdir_parents(root, env, e);
			if (r < 0)
				return r;
			r = enable_controllers_along(root, env, e);
			if (r < 0)
				return r;
			if (asprintf(parent, "%s/%s", root, env) < 0)
				return wr_error_set(e, ENOMEM, "cgroup path");
			return 0;
		}
	}

	char own[PATH_MAX];
	if (own_cgroup_v2(own, sizeof own) == 0 && *own) {
		/* A second sandbox finds us already in our leaf. */
		size_t len = strlen(own);
		const char *leaf = "/supervisor";
		if (len > strlen(leaf) && strcmp(own + len - strlen(leaf), leaf) == 0)
			own[len - strlen(leaf)] = '\0';
		_cleanup_free_ char *own_dir = NULL;
		if (asprintf(&own_dir, "%s/%s", root, own) < 0)
			return wr_error_set(e, ENOMEM, "cgroup path");
		if (is_delegated(own_dir)) {
			/* No internal processes: a cgroup that hands controllers to
			 * its children may hold no process itself. */
			_cleanup_free_ char *supervisor = NULL, *sandboxes = NULL;
			if (asprintf(&supervisor, "%s/supervisor", own_dir) < 0 ||
			    asprintf(&sandboxes, "%s/sandboxes", own_dir) < 0)
				return wr_error_set(e, ENOMEM, "cgroup path");
			if (mkdir(supervisor, 0755) < 0 && errno != EEXIST)
				return wr_error_set(e, errno, "mkdir %s", supervisor);
			int r = move_all_procs(own_dir, supervisor, e);
			if (r < 0)
				return r;
			r = enable_controllers(own_dir, e);
			if (r < 0)
				return r;
			if (mkdir(sandboxes, 0755) < 0 && errno != EEXIST)
				return wr_error_set(e, errno, "mkdir %s", sandboxes);
			r = enable_controllers(sandboxes, e);
			if (r < 0)
				return r;
			*parent = TAKE_PTR(sandboxes);
			return 0;
		}
	}

	int r = cgroup_mkdir_parents(root, "warren", e);
	if (r < 0)
		return r;
	r = enable_controllers_along(root, "warren", e);
	if (r < 0)
		return r;
	if (asprintf(parent, "%s/warren", root) < 0)
		return wr_error_set(e, ENOMEM, "cgroup path");
	return 0;
}
