#include "config.h"
#include "cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "cgroup-internal.h"
#include "cleanup.h"
#include "clock.h"

const char *const cgroup_controllers[N_CONTROLLERS] = { "memory", "pids", "cpu" };

#define CPU_PERIOD_US 100000
#define CPU_MIN_QUOTA_US 1000  /* the kernel refuses quotas below 1 ms */
#define DESTROY_BUDGET_MS 2000 /* how long destroy waits for the cgroup to empty */

const char *cgroup_root(void)
{
	/* Tests may point warren at another mount; everything else uses the
	 * standard location. */
	const char *root = getenv("WARREN_CGROUP_ROOT");
	return root && *root ? root : "/sys/fs/cgroup";
}

/* ---- detection ---------------------------------------------------------- */

int cgroup_detect(enum cgroup_mode *mode, wr_error *e)
{
	const char *root = cgroup_root();
	if (cgroup_is_fs_type(root, CGROUP2_SUPER_MAGIC)) {
		char list[512];
		int r = cgroup_read_file(root, "cgroup.controllers", list, sizeof list);
		if (r < 0)
			return wr_error_set(e, -r, "read %s/cgroup.controllers", root);
		for (size_t i = 0; i < N_CONTROLLERS; i++)
			if (!cgroup_word_listed(list, cgroup_controllers[i]))
				return wr_error_set(e, ENOTSUP,
						    "cgroup2 at %s lacks the %s controller (it is bound to a "
						    "cgroup v1 hierarchy or disabled at boot)",
						    root, cgroup_controllers[i]);
		*mode = CGROUP_V2;
		return 0;
	}
	for (size_t i = 0; i < N_CONTROLLERS; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", root, cgroup_controllers[i]);
		if (!cgroup_is_fs_type(path, CGROUP_SUPER_MAGIC))
			return wr_error_set(e, ENOTSUP,
					    "no usable cgroups: %s is not cgroup2 and %s is not a cgroup v1 "
					    "mount of the %s controller",
					    root, path, cgroup_controllers[i]);
	}
	*mode = CGROUP_V1;
	return 0;
}

/* ---- create ------------------------------------------------------------- */

void cgroup_free(struct cgroup *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < cg->n_dirs; i++)
		free(cg->dirs[i]);
	free(cg);
}

/* Removes the directories of a half-built cgroup (nothing runs in it yet). */
static void cgroup_abandon(struct cgroup **cgp)
{
	struct cgroup *cg = *cgp;
	if (!cg)
		return;
	for (size_t i = 0; i < cg->n_dirs; i++)
		rmdir(cg->dirs[i]);
	cgroup_free(cg);
}

static int cpu_quota_us(uint32_t cpu_millis)
{
	uint64_t quota = (uint64_t)cpu_millis * (CPU_PERIOD_US / 1000);
	if (quota < CPU_MIN_QUOTA_US)
		quota = CPU_MIN_QUOTA_US;
	return quota > INT_MAX ? INT_MAX : (int)quota;
}

static int v2_apply_limits(const char *dir, const struct cgroup_limits *l, wr_error *e)
{
	char value[64];
	int r;
	if (l->memory) {
		snprintf(value, sizeof value, "%" PRIu64, l->memory);
		if ((r = cgroup_write_file(dir, "memory.max", value, e)) < 0)
			return r;
	}
	/* Swap 0 always: a sandbox must not push the host into swapping. The
	 * file is absent when the kernel has no swap accounting. */
	if (cgroup_file_exists(dir, "memory.swap.max") &&
	    (r = cgroup_write_file(dir, "memory.swap.max", "0", e)) < 0)
		return r;
	/* One-shot sandboxes: an OOM kills the whole sandbox rather than one
	 * arbitrary process. Sessions keep the rest (cgroup.h). */
	if (cgroup_file_exists(dir, "memory.oom.group") &&
	    (r = cgroup_write_file(dir, "memory.oom.group", l->oom_kill_all ? "1" : "0", e)) < 0)
		return r;
	if (l->pids) {
		snprintf(value, sizeof value, "%" PRIu64, l->pids);
		if ((r = cgroup_write_file(dir, "pids.max", value, e)) < 0)
			return r;
	}
	if (l->cpu_millis) {
		snprintf(value, sizeof value, "%d %d", cpu_quota_us(l->cpu_millis), CPU_PERIOD_US);
		if ((r = cgroup_write_file(dir, "cpu.max", value, e)) < 0)
			return r;
	}
	return 0;
}

/* v1: dirs[] are the memory, pids and cpu directories, in that order. */
static int v1_apply_limits(char *const *dirs, const struct cgroup_limits *l, wr_error *e)
{
	char value[64];
	int r;
	if (l->memory) {
		snprintf(value, sizeof value, "%" PRIu64, l->memory);
		if ((r = cgroup_write_file(dirs[0], "memory.limit_in_bytes", value, e)) < 0)
			return r;
		/* memory+swap equal to memory means no swap at all. */
		if (cgroup_file_exists(dirs[0], "memory.memsw.limit_in_bytes"))
			r = cgroup_write_file(dirs[0], "memory.memsw.limit_in_bytes", value, e);
		else
			r = cgroup_write_file(dirs[0], "memory.swappiness", "0", e);
		if (r < 0)
			return r;
	} else if (cgroup_file_exists(dirs[0], "memory.swappiness")) {
		if ((r = cgroup_write_file(dirs[0], "memory.swappiness", "0", e)) < 0)
			return r;
	}
	if (l->pids) {
		snprintf(value, sizeof value, "%" PRIu64, l->pids);
		if ((r = cgroup_write_file(dirs[1], "pids.max", value, e)) < 0)
			return r;
	}
	if (l->cpu_millis) {
		snprintf(value, sizeof value, "%d", CPU_PERIOD_US);
		if ((r = cgroup_write_file(dirs[2], "cpu.cfs_period_us", value, e)) < 0)
			return r;
		snprintf(value, sizeof value, "%d", cpu_quota_us(l->cpu_millis));
		if ((r = cgroup_write_file(dirs[2], "cpu.cfs_quota_us", value, e)) < 0)
			return r;
	}
	return 0;
}

bool cgroup_valid_name(const char *name)
{
	return name && *name && !strchr(name, '/') && strcmp(name, ".") != 0 &&
	       strcmp(name, "..") != 0 && strlen(name) < NAME_MAX;
}

/* mkdir of the sandbox's own directory; it must not exist yet, so two
 * sandboxes never share a cgroup. */
static int make_sandbox_dir(struct cgroup *cg, char *path, wr_error *e)
{
	if (mkdir(path, 0755) < 0) {
		int r = wr_error_set(e, errno, "mkdir %s", path);
		free(path);
		return r;
	}
	cg->dirs[cg->n_dirs++] = path;
	return 0;
}

/* v1: the parent cgroup's name in every hierarchy, relative to it. */
const char *cgroup_v1_parent_name(void)
{
	const char *parent = getenv("WARREN_CGROUP_PARENT");
	if (!parent || !*parent)
		parent = "warren";
	while (*parent == '/')
		parent++;
	return parent;
}

int cgroup_create(const char *name, const struct cgroup_limits *limits,
		  struct cgroup **out, wr_error *e)
{
	if (!cgroup_valid_name(name))
		return wr_error_set(e, EINVAL, "invalid cgroup name \"%s\"", name ? name : "");
	enum cgroup_mode mode;
	int r = cgroup_detect(&mode, e);
	if (r < 0)
		return r;
	const char *root = cgroup_root();

	_cleanup_(cgroup_abandon) struct cgroup *cg = calloc(1, sizeof *cg);
	if (!cg)
		return wr_error_set(e, ENOMEM, "cgroup");
	cg->mode = mode;

	if (mode == CGROUP_V2) {
		_cleanup_free_ char *parent = NULL;
		if ((r = cgroup_v2_parent(root, &parent, e)) < 0)
			return r;
		char *path;
		if (asprintf(&path, "%s/%s", parent, name) < 0)
			return wr_error_set(e, ENOMEM, "cgroup path");
		if ((r = make_sandbox_dir(cg, path, e)) < 0)
			return r;
		if ((r = v2_apply_limits(cg->dirs[0], limits, e)) < 0)
			return r;
		snprintf(cg->description, sizeof cg->description, "cgroup v2 %s", cg->dirs[0]);
	} else {
		const char *parent = cgroup_v1_parent_name();
		for (size_t i = 0; i < N_CONTROLLERS; i++) {
			_cleanup_free_ char *hierarchy = NULL;
			if (asprintf(&hierarchy, "%s/%s", root, cgroup_controllers[i]) < 0)
				return wr_error_set(e, ENOMEM, "cgroup path");
			if (*parent && (r = cgroup_mkdir_parents(hierarchy, parent, e)) < 0)
				return r;
			char *path;
			if (asprintf(&path, "%s/%s%s%s", hierarchy, parent, *parent ? "/" : "", name) < 0)
				return wr_error_set(e, ENOMEM, "cgroup path");
			if ((r = make_sandbox_dir(cg, path, e)) < 0)
				return r;
		}
		if ((r = v1_apply_limits(cg->dirs, limits, e)) < 0)
			return r;
		snprintf(cg->description, sizeof cg->description, "cgroup v1 %s/{memory,pids,cpu}/%s%s%s",
			 root, parent, *parent ? "/" : "", name);
	}
	*out = TAKE_PTR(cg);
	return 0;
}

int cgroup_add_pid(struct cgroup *cg, pid_t pid, wr_error *e)
{
	char value[32];
	snprintf(value, sizeof value, "%d", (int)pid);
	for (size_t i = 0; i < cg->n_dirs; i++) {
		int r = cgroup_write_file(cg->dirs[i], "cgroup.procs", value, e);
		if (r < 0)
			return r;
	}
	return 0;
}

int cgroup_open_dir(const struct cgroup *cg)
{
	if (cg->mode != CGROUP_V2)
		return -EOPNOTSUPP;
	int fd = open(cg->dirs[0], O_PATH | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* ---- kill, stats, destroy ------------------------------------------------ */

/* SIGKILLs every pid listed in dir/cgroup.procs; returns how many it saw,
 * or -errno when the list cannot be read. */
static int kill_listed(const char *dir)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int seen = 0;
	long pid;
	while (fscanf(f, "%ld", &pid) == 1) {
		if (pid > 0)
			kill((pid_t)pid, SIGKILL);
		seen++;
	}
	return seen;
}

/* kill_listed over dir and every cgroup below it: on v1 (and v2 without
 * cgroup.kill) a parent's cgroup.procs does not list its children's. */
static int kill_tree(const char *dir, int depth)
{
	int seen = kill_listed(dir);
	if (seen < 0 || depth > 32)
		return seen;
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *ent;
	while (d && (ent = readdir(d))) {
		if (ent->d_type != DT_DIR || ent->d_name[0] == '.')
			continue;
		_cleanup_free_ char *child = NULL;
		if (asprintf(&child, "%s/%s", dir, ent->d_name) < 0)
			break;
		int n = kill_tree(child, depth + 1);
		if (n > 0)
			seen += n;
	}
	return seen;
}

int cgroup_kill_dirs_passes(enum cgroup_mode mode, char *const *dirs, size_t n_dirs, int passes)
{
	if (mode == CGROUP_V2 && cgroup_file_exists(dirs[0], "cgroup.kill"))
		return cgroup_write_file(dirs[0], "cgroup.kill", "1", NULL);
	/* Without cgroup.kill a process may fork between our read and our
	 * kill; repeat until a pass finds nobody (bounded: pids.max caps it). */
	int result = 0;
	for (int pass = 0; pass < passes; pass++) {
		int seen = 0;
		for (size_t i = 0; i < n_dirs; i++) {
			int n = kill_tree(dirs[i], 0);
			if (n < 0 && n != -ENOENT)
				result = n;
			if (n > 0)
				seen += n;
		}
		if (seen == 0)
			break;
	}
	return result;
}

int cgroup_kill_dirs(enum cgroup_mode mode, char *const *dirs, size_t n_dirs)
{
	return cgroup_kill_dirs_passes(mode, dirs, n_dirs, 100);
}

int cgroup_kill(struct cgroup *cg)
{
	if (!cg)
		return 0;
	return cgroup_kill_dirs(cg->mode, cg->dirs, cg->n_dirs);
}

bool cgroup_oom_killed(struct cgroup *cg)
{
	if (!cg)
		return false;
	char text[1024];
	uint64_t n = 0;
	if (cg->mode == CGROUP_V2) {
		if (cgroup_read_file(cg->dirs[0], "memory.events", text, sizeof text) < 0)
			return false;
		if (cgroup_keyed_value(text, "oom_kill", &n) && n > 0)
			return true;
		return cgroup_keyed_value(text, "oom_group_kill", &n) && n > 0;
	}
	if (cgroup_read_file(cg->dirs[0], "memory.oom_control", text, sizeof text) < 0)
		return false;
	if (cgroup_keyed_value(text, "oom_kill", &n))
		return n > 0;
	/* Kernels before 4.13 do not count OOM kills: a sandbox still under
	 * OOM, or one that ever hit its limit (swap is 0), is the best sign. */
	if (cgroup_keyed_value(text, "under_oom", &n) && n > 0)
		return true;
	return cgroup_read_u64_file(cg->dirs[0], "memory.failcnt", &n) == 0 && n > 0;
}

uint64_t cgroup_memory_peak(struct cgroup *cg)
{
	if (!cg)
		return 0;
	uint64_t v = 0;
	if (cg->mode == CGROUP_V1)
		return cgroup_read_u64_file(cg->dirs[0], "memory.max_usage_in_bytes", &v) == 0 ? v : 0;
	if (cgroup_read_u64_file(cg->dirs[0], "memory.peak", &v) == 0 ||
	    cgroup_read_u64_file(cg->dirs[0], "memory.current", &v) == 0)
		return v;
	return 0;
}

static bool cgroup_empty(const struct cgroup *cg)
{
	char text[4096];
	if (cg->mode == CGROUP_V2) {
		uint64_t populated = 1;
		int r = cgroup_read_file(cg->dirs[0], "cgroup.events", text, sizeof text);
		if (r == -ENOENT)
			return true;
		return r == 0 && cgroup_keyed_value(text, "populated", &populated) && populated == 0;
	}
	for (size_t i = 0; i < cg->n_dirs; i++) {
		/* kill_tree counts what it finds; nothing found means empty. */
		int r = cgroup_read_file(cg->dirs[i], "cgroup.procs", text, sizeof text);
		if (r == 0 && text[0] != '\0')
			return false;
		if (r < 0 && r != -ENOENT)
			return false;
		if (r == 0 && kill_tree(cg->dirs[i], 0) > 0)
			return false;
	}
	return true;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Removes the child cgroups a sandbox may have made in its own subtree
 * (deepest first) so that its directory can go; errors surface at the
 * final rmdir of the sandbox's directory. */
void cgroup_remove_children(const char *dir, int depth)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	if (!d || depth > 32)
		return;
	struct dirent *ent;
	while ((ent = readdir(d))) {
		if (ent->d_type != DT_DIR || strcmp(ent->d_name, ".") == 0 ||
		    strcmp(ent->d_name, "..") == 0)
			continue;
		_cleanup_free_ char *child = NULL;
		if (asprintf(&child, "%s/%s", dir, ent->d_name) < 0)
			return;
		cgroup_remove_children(child, depth + 1);
		rmdir(child);
	}
}

/* After the sandbox's init is reaped its cgroup is usually empty already:
 * then rmdir is all it takes, with no cgroup.procs to read and kill. */
static bool remove_if_empty(struct cgroup *cg)
{
	for (size_t i = 0; i < cg->n_dirs; i++) {
		cgroup_remove_children(cg->dirs[i], 0);
		if (rmdir(cg->dirs[i]) < 0 && errno != ENOENT)
			return false;
	}
	return true;
}

int cgroup_destroy(struct cgroup *cg, wr_error *e)
{
	if (!cg)
		return 0;
	if (remove_if_empty(cg)) {
		cgroup_free(cg);
		return 0;
	}
	uint64_t deadline = monotonic_ms() + DESTROY_BUDGET_MS;
	unsigned delay = 1;

	/* Killed processes leave the cgroup only once the kernel has torn them
	 * down; keep killing (a v1 fork race) and wait with a growing pause. */
	cgroup_kill(cg);
	while (!cgroup_empty(cg) && monotonic_ms() < deadline) {
		sleep_ms(delay);
		delay = delay < 64 ? delay * 2 : 100;
		cgroup_kill(cg);
	}

	int result = 0;
	for (size_t i = 0; i < cg->n_dirs; i++) {
		cgroup_remove_children(cg->dirs[i], 0);
		for (;;) {
			if (rmdir(cg->dirs[i]) == 0 || errno == ENOENT)
				break;
			int err = errno;
			if (err == EBUSY && monotonic_ms() < deadline) {
				sleep_ms(delay);
				delay = delay < 64 ? delay * 2 : 100;
				cgroup_kill(cg);
				continue;
			}
			/* Remember the first failure but still try the others. */
			if (result == 0)
				result = wr_error_set(e, err, "cgroup %s was not removed (rmdir)",
						      cg->dirs[i]);
			break;
		}
	}
	cgroup_free(cg);
	return result;
}

const char *cgroup_describe(const struct cgroup *cg)
{
	return cg->description;
}

uint64_t cgroup_oom_kills(struct cgroup *cg)
{
	char text[1024];
	uint64_t n = 0;
	if (!cg)
		return 0;
	if (cgroup_read_file(cg->dirs[0], cg->mode == CGROUP_V2 ? "memory.events" : "memory.oom_control",
		      text, sizeof text) < 0)
		return 0;
	return cgroup_keyed_value(text, "oom_kill", &n) ? n : 0;
}

int cgroup_try_destroy(struct cgroup *cg)
{
	if (!cg)
		return 0;
	/* Once init is reaped the cgroup is usually empty, without children:
	 * rmdir is all it takes (no cgroup.procs or directory to read: this
	 * runs on warrend's event loop for every session that ends). */
	size_t gone = 0;
	while (gone < cg->n_dirs && (rmdir(cg->dirs[gone]) == 0 || errno == ENOENT))
		gone++;
	if (gone == cg->n_dirs) {
		cgroup_free(cg);
		return 0;
	}
	cgroup_kill(cg);
	if (!cgroup_empty(cg))
		return -EBUSY;
	for (size_t i = 0; i < cg->n_dirs; i++) {
		cgroup_remove_children(cg->dirs[i], 0);
		if (rmdir(cg->dirs[i]) < 0 && errno != ENOENT)
			return errno == EBUSY ? -EBUSY : -errno;
	}
	cgroup_free(cg);
	return 0;
}

int cgroup_set_limits(struct cgroup *cg, const struct cgroup_limits *limits, wr_error *e)
{
	if (cg->mode == CGROUP_V2)
		return v2_apply_limits(cg->dirs[0], limits, e);
	return v1_apply_limits(cg->dirs, limits, e);
}

