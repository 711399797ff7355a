/* Per-exec child cgroups (warrend): each command of a session in its own
 * child, so it can be found, charged and killed on its own. */
#include "config.h"
#include "cgroup-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"

/* Where exec children live: under the sandbox's cgroup on v2; on v1 in the
 * pids hierarchy, which is enough to find and kill what an exec started. */
static const char *child_parent(const struct cgroup *cg)
{
	if (cg->mode == CGROUP_V2)
		return cg->dirs[0];
	for (size_t i = 0; i < cg->n_dirs; i++)
		if (strstr(cg->dirs[i], "/pids/"))
			return cg->dirs[i];
	return cg->dirs[0];
}

static int child_path(const struct cgroup *cg, const char *name, char *buf, size_t len)
{
	if (!cgroup_valid_name(name))
		return -EINVAL;
	return snprintf(buf, len, "%s/%s", child_parent(cg), name) >= (int)len ? -ENAMETOOLONG : 0;
}

int cgroup_child_create(struct cgroup *cg, const char *name, int *procs_fd, wr_error *e)
{
	char dir[PATH_MAX], procs[PATH_MAX + 16];
	int r = child_path(cg, name, dir, sizeof dir);
	if (r < 0)
		return wr_error_set(e, -r, "exec cgroup name %s", name);
	if (mkdir(dir, 0755) < 0)
		return wr_error_set(e, errno, "mkdir %s", dir);
	snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
	*procs_fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (*procs_fd < 0) {
		int err = errno;
		rmdir(dir);
		return wr_error_set(e, err, "open %s", procs);
	}
	return 0;
}

unsigned cgroup_child_max(struct cgroup *cg, const char *prefix)
{
	const char *parent = child_parent(cg);
	_cleanup_closedir_ DIR *d = parent ? opendir(parent) : NULL;
	size_t len = strlen(prefix);
	unsigned max = 0;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char *end;
		if (strncmp(de->d_name, prefix, len))
			continue;
		unsigned long n = strtoul(de->d_name + len, &end, 10);
		if (!*end && n > max && n <= UINT32_MAX)
			max = (unsigned)n;
	}
	return max;
}

int cgroup_charge_open(struct cgroup *cg, const char *name, int *procs_fd, char *dir, size_t dir_len,
		       wr_error *e)
{
	dir[0] = '\0';
	if (cg->mode == CGROUP_V2) {
		int r = cgroup_child_create(cg, name, procs_fd, e);
		if (r == 0)
			snprintf(dir, dir_len, "%s/%s", cg->dirs[0], name);
		return r;
	}
	char procs[PATH_MAX + 16];
	snprintf(procs, sizeof procs, "%s/cgroup.procs", cg->dirs[0]); /* dirs[0]: memory */
	*procs_fd = open(procs, O_WRONLY | O_CLOEXEC);
	return *procs_fd < 0 ? wr_error_set(e, errno, "open %s", procs) : 0;
}

bool cgroup_child_exists(struct cgroup *cg, const char *name)
{
	char dir[PATH_MAX];
	return child_path(cg, name, dir, sizeof dir) == 0 && access(dir, F_OK) == 0;
}

int cgroup_child_kill(struct cgroup *cg, const char *name)
{
	char dir[PATH_MAX];
	int r = child_path(cg, name, dir, sizeof dir);
	if (r < 0)
		return r;
	char *dirs[1] = { dir };
	/* One pass: killed processes stay listed until their parent reaps
	 * them, so looping here would spin; callers repeat on their tick. */
	return cgroup_kill_dirs_passes(cg->mode, dirs, 1, 1);
}

int cgroup_child_remove(struct cgroup *cg, const char *name)
{
	char dir[PATH_MAX];
	int r = child_path(cg, name, dir, sizeof dir);
	if (r < 0)
		return r;
	if (rmdir(dir) == 0 || errno == ENOENT)
		return 0;
	return -errno;
}

