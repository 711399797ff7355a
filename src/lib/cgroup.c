#include "config.h"
#include "cgroup.h"

#include <ctype.h>
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
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "cleanup.h"
#include "clock.h"

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif
#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif

/* The controllers every sandbox needs; in v1 mode also the hierarchy names,
 * in this order (dirs[0] is always the one holding the memory files). */
static const char *const controllers[] = { "memory", "pids", "cpu" };
#define N_CONTROLLERS ARRAY_SIZE(controllers)

#define CPU_PERIOD_US 100000
#define CPU_MIN_QUOTA_US 1000  /* the kernel refuses quotas below 1 ms */
#define DESTROY_BUDGET_MS 2000 /* how long destroy waits for the cgroup to empty */

struct cgroup {
	enum cgroup_mode mode;
	size_t n_dirs;                /* 1 on v2, one per controller on v1 */
	char *dirs[N_CONTROLLERS];
	char description[PATH_MAX + 64];
};

static const char *cgroup_root(void)
{
	/* Tests may point warren at another mount; everything else uses the
	 * standard location. */
	const char *root = getenv("WARREN_CGROUP_ROOT");
	return root && *root ? root : "/sys/fs/cgroup";
}

/* ---- small file helpers ------------------------------------------------ */

static int write_file(const char *dir, const char *file, const char *value, wr_error *e)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, file) < 0)
		return wr_error_set(e, ENOMEM, "cgroup path");
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return wr_error_set(e, errno, "open %s", path);
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	if (n < 0)
		return wr_error_set(e, errno, "write %s to %s", value, path);
	if ((size_t)n != len)
		return wr_error_set(e, EIO, "short write of %s to %s", value, path);
	return 0;
}

/* Reads a whole (small) pseudo-file into a NUL-terminated buffer. */
static int read_file(const char *dir, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
		return -ENAMETOOLONG;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	for (;;) {
		if (len + 1 >= size)
			break;
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return 0;
}

static bool file_exists(const char *dir, const char *file)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
		return false;
	return access(path, F_OK) == 0;
}

static int read_u64_file(const char *dir, const char *file, uint64_t *out)
{
	char buf[64];
	int r = read_file(dir, file, buf, sizeof buf);
	if (r < 0)
		return r;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Finds "key N" in a flat-keyed file (memory.events, memory.oom_control). */
static bool keyed_value(const char *text, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);
	for (const char *line = text; line && *line;) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			*out = strtoull(line + klen + 1, NULL, 10);
			return true;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

/* True when the space-separated list contains word. */
static bool word_listed(const char *list, const char *word)
{
	size_t wlen = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += wlen) {
		bool starts = p == list || isspace((unsigned char)p[-1]);
		bool ends = p[wlen] == '\0' || isspace((unsigned char)p[wlen]);
		if (starts && ends)
			return true;
	}
	return false;
}

static bool is_fs_type(const char *path, long magic)
{
	struct statfs st;
	return statfs(path, &st) == 0 && st.f_type == magic;
}

/* mkdir -p for a path below an existing mount point; EEXIST is fine. */
static int mkdir_parents(const char *base, const char *rel, wr_error *e)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", base, rel) < 0)
		return wr_error_set(e, ENOMEM, "cgroup path");
	for (char *p = path + strlen(base) + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return wr_error_set(e, errno, "mkdir %s", path);
		*p = saved;
		if (saved == '\0')
			return 0;
	}
}

/* ---- detection ---------------------------------------------------------- */

int cgroup_detect(enum cgroup_mode *mode, wr_error *e)
{
	const char *root = cgroup_root();
	if (is_fs_type(root, CGROUP2_SUPER_MAGIC)) {
		char list[512];
		int r = read_file(root, "cgroup.controllers", list, sizeof list);
		if (r < 0)
			return wr_error_set(e, -r, "read %s/cgroup.controllers", root);
		for (size_t i = 0; i < N_CONTROLLERS; i++)
			if (!word_listed(list, controllers[i]))
				return wr_error_set(e, ENOTSUP,
						    "cgroup2 at %s lacks the %s controller (it is bound to a "
						    "cgroup v1 hierarchy or disabled at boot)",
						    root, controllers[i]);
		*mode = CGROUP_V2;
		return 0;
	}
	for (size_t i = 0; i < N_CONTROLLERS; i++) {
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", root, controllers[i]);
		if (!is_fs_type(path, CGROUP_SUPER_MAGIC))
			return wr_error_set(e, ENOTSUP,
					    "no usable cgroups: %s is not cgroup2 and %s is not a cgroup v1 "
					    "mount of the %s controller",
					    root, path, controllers[i]);
	}
	*mode = CGROUP_V1;
	return 0;
}

/* ---- v2 parent selection ------------------------------------------------- */

/* Enables our controllers in dir's cgroup.subtree_control, writing only the
 * missing ones: an ancestor we may not write to is fine when they are on. */
static int enable_controllers(const char *dir, wr_error *e)
{
	char enabled[512];
	int r = read_file(dir, "cgroup.subtree_control", enabled, sizeof enabled);
	if (r < 0)
		return wr_error_set(e, -r, "read %s/cgroup.subtree_control", dir);
	for (size_t i = 0; i < N_CONTROLLERS; i++) {
		if (word_listed(enabled, controllers[i]))
			continue;
		char change[32];
		snprintf(change, sizeof change, "+%s", controllers[i]);
		r = write_file(dir, "cgroup.subtree_control", change, e);
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
	int r = write_file(to, "cgroup.procs", pid, e);
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
		r = write_file(to, "cgroup.procs", pid, e);
		if (r < 0 && r != -ESRCH)
			return r;
	}
	return 0;
}

/* Chooses (and prepares) the directory sandboxes are created in on v2. */
static int v2_parent(const char *root, char **parent, wr_error *e)
{
	const char *env = getenv("WARREN_CGROUP_PARENT");
	if (env && *env) {
		while (*env == '/')
			env++;
		if (*env) {
			int r = mkdir_parents(root, env, e);
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

	int r = mkdir_parents(root, "warren", e);
	if (r < 0)
		return r;
	r = enable_controllers_along(root, "warren", e);
	if (r < 0)
		return r;
	if (asprintf(parent, "%s/warren", root) < 0)
		return wr_error_set(e, ENOMEM, "cgroup path");
	return 0;
}

/* ---- create ------------------------------------------------------------- */

static void cgroup_free(struct cgroup *cg)
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
		if ((r = write_file(dir, "memory.max", value, e)) < 0)
			return r;
	}
	/* Swap 0 always: a sandbox must not push the host into swapping. The
	 * file is absent when the kernel has no swap accounting. */
	if (file_exists(dir, "memory.swap.max") &&
	    (r = write_file(dir, "memory.swap.max", "0", e)) < 0)
		return r;
	/* One-shot sandboxes: an OOM kills the whole sandbox rather than one
	 * arbitrary process. Sessions keep the rest (cgroup.h). */
	if (file_exists(dir, "memory.oom.group") &&
	    (r = write_file(dir, "memory.oom.group", l->oom_kill_all ? "1" : "0", e)) < 0)
		return r;
	if (l->pids) {
		snprintf(value, sizeof value, "%" PRIu64, l->pids);
		if ((r = write_file(dir, "pids.max", value, e)) < 0)
			return r;
	}
	if (l->cpu_millis) {
		snprintf(value, sizeof value, "%d %d", cpu_quota_us(l->cpu_millis), CPU_PERIOD_US);
		if ((r = write_file(dir, "cpu.max", value, e)) < 0)
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
		if ((r = write_file(dirs[0], "memory.limit_in_bytes", value, e)) < 0)
			return r;
		/* memory+swap equal to memory means no swap at all. */
		if (file_exists(dirs[0], "memory.memsw.limit_in_bytes"))
			r = write_file(dirs[0], "memory.memsw.limit_in_bytes", value, e);
		else
			r = write_file(dirs[0], "memory.swappiness", "0", e);
		if (r < 0)
			return r;
	} else if (file_exists(dirs[0], "memory.swappiness")) {
		if ((r = write_file(dirs[0], "memory.swappiness", "0", e)) < 0)
			return r;
	}
	if (l->pids) {
		snprintf(value, sizeof value, "%" PRIu64, l->pids);
		if ((r = write_file(dirs[1], "pids.max", value, e)) < 0)
			return r;
	}
	if (l->cpu_millis) {
		snprintf(value, sizeof value, "%d", CPU_PERIOD_US);
		if ((r = write_file(dirs[2], "cpu.cfs_period_us", value, e)) < 0)
			return r;
		snprintf(value, sizeof value, "%d", cpu_quota_us(l->cpu_millis));
		if ((r = write_file(dirs[2], "cpu.cfs_quota_us", value, e)) < 0)
			return r;
	}
	return 0;
}

static bool valid_name(const char *name)
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
static const char *v1_parent_name(void)
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
	if (!valid_name(name))
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
		if ((r = v2_parent(root, &parent, e)) < 0)
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
		const char *parent = v1_parent_name();
		for (size_t i = 0; i < N_CONTROLLERS; i++) {
			_cleanup_free_ char *hierarchy = NULL;
			if (asprintf(&hierarchy, "%s/%s", root, controllers[i]) < 0)
				return wr_error_set(e, ENOMEM, "cgroup path");
			if (*parent && (r = mkdir_parents(hierarchy, parent, e)) < 0)
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
		int r = write_file(cg->dirs[i], "cgroup.procs", value, e);
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

static int kill_dir_passes(enum cgroup_mode mode, char *const *dirs, size_t n_dirs, int passes)
{
	if (mode == CGROUP_V2 && file_exists(dirs[0], "cgroup.kill"))
		return write_file(dirs[0], "cgroup.kill", "1", NULL);
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

static int kill_dir(enum cgroup_mode mode, char *const *dirs, size_t n_dirs)
{
	return kill_dir_passes(mode, dirs, n_dirs, 100);
}

int cgroup_kill(struct cgroup *cg)
{
	if (!cg)
		return 0;
	return kill_dir(cg->mode, cg->dirs, cg->n_dirs);
}

bool cgroup_oom_killed(struct cgroup *cg)
{
	if (!cg)
		return false;
	char text[1024];
	uint64_t n = 0;
	if (cg->mode == CGROUP_V2) {
		if (read_file(cg->dirs[0], "memory.events", text, sizeof text) < 0)
			return false;
		if (keyed_value(text, "oom_kill", &n) && n > 0)
			return true;
		return keyed_value(text, "oom_group_kill", &n) && n > 0;
	}
	if (read_file(cg->dirs[0], "memory.oom_control", text, sizeof text) < 0)
		return false;
	if (keyed_value(text, "oom_kill", &n))
		return n > 0;
	/* Kernels before 4.13 do not count OOM kills: a sandbox still under
	 * OOM, or one that ever hit its limit (swap is 0), is the best sign. */
	if (keyed_value(text, "under_oom", &n) && n > 0)
		return true;
	return read_u64_file(cg->dirs[0], "memory.failcnt", &n) == 0 && n > 0;
}

uint64_t cgroup_memory_peak(struct cgroup *cg)
{
	if (!cg)
		return 0;
	uint64_t v = 0;
	if (cg->mode == CGROUP_V1)
		return read_u64_file(cg->dirs[0], "memory.max_usage_in_bytes", &v) == 0 ? v : 0;
	if (read_u64_file(cg->dirs[0], "memory.peak", &v) == 0 ||
	    read_u64_file(cg->dirs[0], "memory.current", &v) == 0)
		return v;
	return 0;
}

static bool cgroup_empty(const struct cgroup *cg)
{
	char text[4096];
	if (cg->mode == CGROUP_V2) {
		uint64_t populated = 1;
		int r = read_file(cg->dirs[0], "cgroup.events", text, sizeof text);
		if (r == -ENOENT)
			return true;
		return r == 0 && keyed_value(text, "populated", &populated) && populated == 0;
	}
	for (size_t i = 0; i < cg->n_dirs; i++) {
		/* kill_tree counts what it finds; nothing found means empty. */
		int r = read_file(cg->dirs[i], "cgroup.procs", text, sizeof text);
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
static void remove_child_cgroups(const char *dir, int depth)
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
		remove_child_cgroups(child, depth + 1);
		rmdir(child);
	}
}

/* After the sandbox's init is reaped its cgroup is usually empty already:
 * then rmdir is all it takes, with no cgroup.procs to read and kill. */
static bool remove_if_empty(struct cgroup *cg)
{
	for (size_t i = 0; i < cg->n_dirs; i++) {
		remove_child_cgroups(cg->dirs[i], 0);
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
		remove_child_cgroups(cg->dirs[i], 0);
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

/* ---- a cgroup made by another process (warrend's spawner) ------------------ */

int cgroup_export(const struct cgroup *cg, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%d\n%s", (int)cg->mode, cg->description);
	for (size_t i = 0; i < cg->n_dirs && n >= 0 && (size_t)n < len; i++)
		n += snprintf(buf + n, len - (size_t)n, "\n%s", cg->dirs[i]);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
}

static void cgroup_freep(struct cgroup **cg)
{
	cgroup_free(*cg);
}

int cgroup_import(const char *text, struct cgroup **out, wr_error *e)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = calloc(1, sizeof *cg);
	if (!cg)
		return wr_error_set(e, ENOMEM, "cgroup");
	const char *nl = strchr(text, '\n');
	if (!nl || (text[0] != '1' && text[0] != '2') || text[1] != '\n')
		return wr_error_set(e, EBADMSG, "cgroup: malformed description");
	cg->mode = text[0] == '2' ? CGROUP_V2 : CGROUP_V1;
	const char *p = nl + 1, *end = strchr(p, '\n');
	if (!end || (size_t)(end - p) >= sizeof cg->description)
		return wr_error_set(e, EBADMSG, "cgroup: malformed description");
	memcpy(cg->description, p, (size_t)(end - p));
	size_t want = cg->mode == CGROUP_V2 ? 1 : N_CONTROLLERS;
	while (end && cg->n_dirs < want) {
		p = end + 1;
		end = strchr(p, '\n');
		char *dir = end ? strndup(p, (size_t)(end - p)) : strdup(p);
		if (!dir)
			return wr_error_set(e, ENOMEM, "cgroup");
		cg->dirs[cg->n_dirs++] = dir;
		if (dir[0] != '/')
			return wr_error_set(e, EBADMSG, "cgroup: \"%s\" is not a path", dir);
	}
	if (cg->n_dirs != want || end)
		return wr_error_set(e, EBADMSG, "cgroup: %zu directories, expected %zu", cg->n_dirs, want);
	*out = TAKE_PTR(cg);
	return 0;
}

void cgroup_forget(struct cgroup *cg)
{
	cgroup_free(cg);
}

void cgroup_forgetp(struct cgroup **cg)
{
	cgroup_free(*cg);
}

bool cgroup_is_named(const struct cgroup *cg, const char *name)
{
	const char *root = cgroup_root();
	size_t rlen = strlen(root), nlen = strlen(name);
	if (!valid_name(name) || !cg->n_dirs)
		return false;
	for (size_t i = 0; i < cg->n_dirs; i++) {
		const char *d = cg->dirs[i];
		size_t len = strlen(d);
		if (strncmp(d, root, rlen) || d[rlen] != '/' || strstr(d, "/..") || len <= nlen + 1 ||
		    d[len - nlen - 1] != '/' || strcmp(d + len - nlen, name))
			return false;
	}
	return true;
}

/* dir with its last component replaced by name; NULL on no memory. */
static char *renamed_dir(const char *dir, const char *name)
{
	const char *slash = strrchr(dir, '/');
	char *out = NULL;
	return slash && asprintf(&out, "%.*s/%s", (int)(slash - dir), dir, name) >= 0 ? out : NULL;
}

bool cgroup_renamable(void)
{
	static int renamable = -1;
	enum cgroup_mode mode;
	if (renamable < 0)
		renamable = cgroup_detect(&mode, NULL) == 0 && mode == CGROUP_V1;
	return renamable;
}

int cgroup_rename(struct cgroup *cg, const char *name, wr_error *e)
{
	if (!valid_name(name))
		return wr_error_set(e, EINVAL, "invalid cgroup name \"%s\"", name);
	if (cgroup_is_named(cg, name))
		return 0; /* (cgroup2 refuses even that) */
	char *renamed[N_CONTROLLERS] = { 0 };
	size_t done = 0;
	int r = 0;
	for (; done < cg->n_dirs; done++) {
		if (!(renamed[done] = renamed_dir(cg->dirs[done], name))) {
			r = wr_error_set(e, ENOMEM, "cgroup path");
			break;
		}
		if (rename(cg->dirs[done], renamed[done]) < 0) {
			r = wr_error_set(e, errno, "rename %s to %s", cg->dirs[done], name);
			free(renamed[done]);
			break;
		}
	}
	if (r < 0) {
		while (done-- > 0) {
			(void)!rename(renamed[done], cg->dirs[done]);
			free(renamed[done]);
		}
		return r;
	}
	const char *old = strrchr(cg->dirs[0], '/') + 1;
	char *at = strstr(cg->description, old), *last = NULL;
	for (; at; at = strstr(at + 1, old))
		last = at;
	if (last && (size_t)(last - cg->description) + strlen(name) < sizeof cg->description)
		snprintf(last, sizeof cg->description - (size_t)(last - cg->description), "%s", name);
	for (size_t i = 0; i < cg->n_dirs; i++) {
		free(cg->dirs[i]);
		cg->dirs[i] = renamed[i];
	}
	return 0;
}

/* ---- per-exec child cgroups (warrend) ------------------------------------ */

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
	if (!valid_name(name))
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
	return kill_dir_passes(cg->mode, dirs, 1, 1);
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

uint64_t cgroup_oom_kills(struct cgroup *cg)
{
	char text[1024];
	uint64_t n = 0;
	if (!cg)
		return 0;
	if (read_file(cg->dirs[0], cg->mode == CGROUP_V2 ? "memory.events" : "memory.oom_control",
		      text, sizeof text) < 0)
		return 0;
	return keyed_value(text, "oom_kill", &n) ? n : 0;
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
		remove_child_cgroups(cg->dirs[i], 0);
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

/* Kills what runs in parent/name and removes it (and its children). */
static unsigned remove_one(const char *parent, const char *name)
{
	_cleanup_free_ char *dir = NULL;
	if (asprintf(&dir, "%s/%s", parent, name) < 0)
		return 0;
	char *dirs[1] = { dir };
	enum cgroup_mode mode = is_fs_type(parent, CGROUP2_SUPER_MAGIC) ? CGROUP_V2 : CGROUP_V1;
	/* What was just killed takes a moment to leave (a dead daemon's
	 * inits are reaped by whoever inherited them): at most a second. */
	for (int tries = 0; tries < 100; tries++) {
		kill_dir(mode, dirs, 1);
		remove_child_cgroups(dir, 0);
		if (rmdir(dir) == 0)
			return 1;
		if (errno != EBUSY)
			return 0;
		usleep(10 * 1000);
	}
	return 0;
}

struct stale {
	const char *prefix;                /* every cgroup so named... */
	bool (*keep)(const char *name);    /* ...but those */
	const char *name;                  /* or just this one */
};

static unsigned remove_stale_in(const char *parent, const struct stale *st)
{
	if (st->name)
		return remove_one(parent, st->name);
	unsigned n = 0;
	_cleanup_closedir_ DIR *d = opendir(parent);
	struct dirent *ent;
	while (d && (ent = readdir(d))) {
		if (ent->d_type != DT_DIR || strncmp(ent->d_name, st->prefix, strlen(st->prefix)) ||
		    (st->keep && st->keep(ent->d_name)))
			continue;
		n += remove_one(parent, ent->d_name);
	}
	return n;
}

/* remove_stale_in over warren's parent cgroup in every hierarchy. */
static unsigned remove_stale(const struct stale *st)
{
	enum cgroup_mode mode;
	if (cgroup_detect(&mode, NULL) < 0)
		return 0;
	const char *root = cgroup_root();
	unsigned n = 0;
	if (mode == CGROUP_V2) {
		_cleanup_free_ char *parent = NULL;
		if (v2_parent(root, &parent, NULL) == 0)
			n += remove_stale_in(parent, st);
		return n;
	}
	/* Every hierarchy, not only warren's controllers: an OCI runtime makes
	 * a container's cgroup in each (unified, freezer, devices, …), and a
	 * daemon killed before its delete leaves them there. */
	const char *parent = v1_parent_name();
	_cleanup_closedir_ DIR *d = opendir(root);
	struct dirent *h;
	while (d && (h = readdir(d))) {
		if (h->d_name[0] == '.' || h->d_type != DT_DIR)
			continue;
		_cleanup_free_ char *dir = NULL;
		if (asprintf(&dir, "%s/%s/%s", root, h->d_name, parent) >= 0)
			n += remove_stale_in(dir, st);
	}
	return n;
}

unsigned cgroup_remove_stale(const char *prefix, bool (*keep)(const char *name))
{
	return remove_stale(&(struct stale){ .prefix = prefix, .keep = keep });
}

unsigned cgroup_remove_named(const char *name)
{
	return valid_name(name) ? remove_stale(&(struct stale){ .name = name }) : 0;
}
