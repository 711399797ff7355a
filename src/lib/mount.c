#include "config.h"
#include "mount.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/mount.h>

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif

#include "cleanup.h"
#include "userns.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define SANDBOX_PASSWD_LINE SANDBOX_USER ":x:" STR(SANDBOX_UID) ":" STR(SANDBOX_GID) ":" SANDBOX_USER ":/workspace:/bin/sh\n"
#define SANDBOX_GROUP_LINE SANDBOX_USER ":x:" STR(SANDBOX_GID) ":\n"

/* ---- parent side: building the plan ---------------------------------- */

static const char *plan_strdup(struct mount_plan *plan, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static const char *plan_strdup(struct mount_plan *plan, const char *fmt, ...)
{
	if (plan->n_strings == plan->cap_strings) {
		size_t cap = plan->cap_strings ? plan->cap_strings * 2 : 64;
		char **s = realloc(plan->strings, cap * sizeof *s);
		if (!s)
			return NULL;
		plan->strings = s;
		plan->cap_strings = cap;
	}
	char *str;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&str, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	plan->strings[plan->n_strings++] = str;
	return str;
}

static int plan_add(struct mount_plan *plan, struct mount_op op)
{
	if (plan->n == plan->cap) {
		size_t cap = plan->cap ? plan->cap * 2 : 32;
		struct mount_op *ops = realloc(plan->ops, cap * sizeof *ops);
		if (!ops)
			return -ENOMEM;
		plan->ops = ops;
		plan->cap = cap;
	}
	if ((op.source == NULL && (op.kind == MOP_BIND || op.kind == MOP_DEV_BIND ||
				   op.kind == MOP_SYMLINK)) || op.target == NULL)
		return -ENOMEM; /* a failed plan_strdup */
	/* a template made every mount point of the sandbox's part */
	op.exists = plan->part == MOUNT_PART_SANDBOX;
	plan->ops[plan->n++] = op;
	return 0;
}

#define ADD(...) do { int _r = plan_add(plan, (struct mount_op){ __VA_ARGS__ }); \
		      if (_r < 0) return wr_error_set(e, -_r, "build the mount plan"); } while (0)
#define NEW(path) plan_strdup(plan, "%s%s", plan->new_root, (path))
#define OLD(path) plan_strdup(plan, "%s%s", plan->old_root, (path))

const char *const mount_masked_paths[] = {
	/* Docker's default (moby oci/defaults.go) */
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
	"/sys/devices/virtual/powercap",
	/* and: every process's file locks (with host inode numbers), kernel
	 * symbols and log, page tables' flags, the kernel's build config */
	"/proc/locks", "/proc/kallsyms", "/proc/kmsg", "/proc/kpagecount", "/proc/kpageflags", "/proc/kpagecgroup",
	"/proc/config.gz", "/proc/sysrq-trigger", "/proc/firmware", "/proc/driver", NULL,
};
const char *const mount_readonly_paths[] = { "/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq", NULL };
const char *const mount_host_hidden[] = { "/usr/local/etc", NULL };

/* A path hidden from the sandbox (kind as apply_mask finds it). */
static int add_mask(struct mount_plan *plan, const char *path, wr_error *e)
{
	/* A directory is covered by an empty read-only tmpfs, or in a
	 * template's copy by its empty /dev/pts/empty (no new superblock: the
	 * kernel's per-cgroup shrinker arrays grow with every one, on the host
	 * as a whole, so each costs every sandbox). */
	ADD(.kind = MOP_MASK, .source = OLD("/dev/null"), .target = NEW(path), .optional = true,
	    .data = plan->part == MOUNT_PART_SANDBOX ? NEW("/dev/pts/empty") : NULL);
	return 0;
}

/* What the built-in `host` image shows of the host's /etc: what programs need
 * to run (loader cache, certificates, time zone, alternatives), nothing that
 * names the host's users or secrets. passwd, group and hosts are written. */
static const char *const host_etc_files[] = {
	"ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl",
	"ca-certificates", "ca-certificates.conf", "localtime", "timezone",
	"nsswitch.conf", "os-release", "debian_version", "bash.bashrc", "profile",
	"profile.d", "inputrc", "mime.types", "protocols", "services", "python3",
	"python3.11", "perl", "magic", "magic.mime", "gai.conf", "login.defs",
	NULL,
};
/* Top-level names of the merged /usr layout: symlinks on Debian 12. */
static const char *const host_usr_links[] = { "bin", "sbin", "lib", "lib32", "lib64", "libx32", NULL };
/* Never taken from an image directory: warren mounts its own there. */
static const char *const image_skipped[] = { "proc", "dev", "sys", "tmp", "workspace", "run", NULL };

static bool name_in(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(name, *list))
			return true;
	return false;
}

static int add_host_entry(struct mount_plan *plan, const char *path, wr_error *e)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : wr_error_set(e, errno, "stat %s", path);
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(path, target, sizeof target - 1);
		if (n < 0)
			return wr_error_set(e, errno, "readlink %s", path);
		target[n] = '\0';
		ADD(.kind = MOP_SYMLINK, .source = plan_strdup(plan, "%s", target), .target = NEW(path));
	} else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
		ADD(.kind = MOP_BIND, .source = OLD(path), .target = NEW(path),
		    .is_dir = S_ISDIR(st.st_mode), .optional = true);
	}
	return 0;
}

static int add_host_image(struct mount_plan *plan, const struct mount_config *cfg, wr_error *e)
{
	int r;
	ADD(.kind = MOP_BIND, .source = OLD("/usr"), .target = NEW("/usr"), .is_dir = true);
	for (const char *const *h = mount_host_hidden; *h; h++)
		if ((r = add_mask(plan, *h, e)) < 0)
			return r;
	char path[64];
	for (const char *const *l = host_usr_links; *l; l++) {
		snprintf(path, sizeof path, "/%s", *l);
		if ((r = add_host_entry(plan, path, e)) < 0)
			return r;
	}
	ADD(.kind = MOP_MKDIR, .target = NEW("/etc"), .mode = 0755);
	for (const char *const *f = host_etc_files; *f; f++) {
		snprintf(path, sizeof path, "/etc/%s", *f);
		if ((r = add_host_entry(plan, path, e)) < 0)
			return r;
	}
	if (cfg->network == NET_HOST && (r = add_host_entry(plan, "/etc/resolv.conf", e)) < 0)
		return r;

	static const char passwd[] =
		"root:x:0:0:root:/root:/bin/sh\n"
		SANDBOX_PASSWD_LINE
		"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
	static const char group[] =
		"root:x:0:\n" SANDBOX_GROUP_LINE "nogroup:x:65534:\n";
	static const char hosts[] =
		"127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
	ADD(.kind = MOP_WRITE_FILE, .target = NEW("/etc/passwd"), .data = passwd,
	    .data_len = sizeof passwd - 1, .mode = 0644);
	ADD(.kind = MOP_WRITE_FILE, .target = NEW("/etc/group"), .data = group,
	    .data_len = sizeof group - 1, .mode = 0644);
	if (cfg->network != NET_HOST) /* egress too: the host's names are not the sandbox's */
		ADD(.kind = MOP_WRITE_FILE, .target = NEW("/etc/hosts"), .data = hosts,
		    .data_len = sizeof hosts - 1, .mode = 0644);
	else if ((r = add_host_entry(plan, "/etc/hosts", e)) < 0)
		return r;
	ADD(.kind = MOP_MKDIR, .target = NEW("/var"), .mode = 0755);
	ADD(.kind = MOP_SYMLINK, .source = plan_strdup(plan, "/tmp"), .target = NEW("/var/tmp"));
	return 0;
}

static int plan_keep_fd(struct mount_plan *plan, int fd)
{
	int *fds = realloc(plan->fds, (plan->n_fds + 1) * sizeof *fds);
	if (!fds)
		return -ENOMEM;
	plan->fds = fds;
	plan->fds[plan->n_fds++] = fd;
	return 0;
}

/* A detached copy of one image entry's mount tree (open_tree), made by the
 * parent: the sandbox attaches it without walking any host path, so an
 * image directory need not be open to the sandbox's uids. */
static int open_image_entry(struct mount_plan *plan, int dir_fd, const char *dir, const char *name, wr_error *e)
{
	int fd = (int)syscall(SYS_open_tree, dir_fd, name,
			      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_SYMLINK_NOFOLLOW);
	if (fd < 0)
		return wr_error_set(e, errno, "open_tree %s/%s", dir, name);
	if (plan_keep_fd(plan, fd) < 0) {
		close(fd);
		return wr_error_set(e, ENOMEM, "build the mount plan");
	}
	return fd;
}

static int add_image_dir(struct mount_plan *plan, const char *dir, bool detached, wr_error *e)
{
	char real[PATH_MAX];
	if (!realpath(dir, real))
		return wr_error_set(e, errno, "image %s", dir);
	_cleanup_closedir_ DIR *d = opendir(real);
	if (!d)
		return wr_error_set(e, errno, "open image %s", real);
	struct dirent *de;
	bool has_usr = false;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    name_in(de->d_name, image_skipped))
			continue;
		has_usr |= !strcmp(de->d_name, "usr");
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return wr_error_set(e, errno, "stat %s/%s", real, de->d_name);
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof target - 1);
			if (n < 0)
				return wr_error_set(e, errno, "readlink %s/%s", real, de->d_name);
			target[n] = '\0';
			ADD(.kind = MOP_SYMLINK, .source = plan_strdup(plan, "%s", target),
			    .target = plan_strdup(plan, "%s/%s", plan->new_root, de->d_name));
		} else if (detached && (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
			int fd = open_image_entry(plan, dirfd(d), real, de->d_name, e);
			if (fd < 0)
				return fd;
			ADD(.kind = MOP_MOVE_FD, .target = plan_strdup(plan, "%s/%s", plan->new_root, de->d_name),
			    .fd = fd, .is_dir = S_ISDIR(st.st_mode));
		} else if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
			ADD(.kind = MOP_BIND,
			    .source = plan_strdup(plan, "%s%s/%s", plan->old_root, real, de->d_name),
			    .target = plan_strdup(plan, "%s/%s", plan->new_root, de->d_name),
			    .is_dir = S_ISDIR(st.st_mode));
		}
	}
	if (!has_usr) {
		wr_error_set(e, 0, "image %s has no /usr: not a root filesystem", real);
		return -ENOENT;
	}
	return 0;
}

/* A template's copy: /tmp and /dev/shm are two directories of one tmpfs
 * (of tmp_size), mounted at /dev/pts until the sandbox's devpts comes
 * (over the directory masks' /dev/pts/empty, which the detach shows
 * again): one superblock where there were two, and each costs every
 * cgroup's shrinker arrays (see add_mask). */
static int add_tmp_and_shm(struct mount_plan *plan, const struct mount_config *cfg, wr_error *e)
{
	const char *staging = NEW("/dev/pts");
	ADD(.kind = MOP_TMPFS, .target = staging,
	    .data = plan_strdup(plan, "mode=0700,size=%llu", (unsigned long long)cfg->tmp_size));
	ADD(.kind = MOP_MKDIR, .target = plan_strdup(plan, "%s/tmp", staging), .mode = 01777, .fresh = true);
	ADD(.kind = MOP_MKDIR, .target = plan_strdup(plan, "%s/shm", staging), .mode = 01777, .fresh = true);
	ADD(.kind = MOP_BIND, .source = plan_strdup(plan, "%s/tmp", staging), .target = NEW("/tmp"), .is_dir = true,
	    .writable = true);
	ADD(.kind = MOP_BIND, .source = plan_strdup(plan, "%s/shm", staging), .target = NEW("/dev/shm"),
	    .is_dir = true, .writable = true);
	ADD(.kind = MOP_UNMOUNT, .target = staging);
	return 0;
}

/* /dev: a read-only tmpfs of nodes and links in the template (or the
 * whole root); its own devpts and shm in each sandbox. */
static int add_dev(struct mount_plan *plan, const struct mount_config *cfg, wr_error *e)
{
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty", NULL };
	if (plan->part != MOUNT_PART_SANDBOX) {
		ADD(.kind = MOP_TMPFS, .target = NEW("/dev"), .data = "mode=0755,size=64k,nr_inodes=64");
		for (const char *const *n = nodes; *n; n++)
			ADD(.kind = MOP_DEV_BIND, .source = plan_strdup(plan, "%s/dev/%s", plan->old_root, *n),
			    .target = plan_strdup(plan, "%s/dev/%s", plan->new_root, *n));
	}
	if (plan->part == MOUNT_PART_TEMPLATE) {
		ADD(.kind = MOP_MKDIR, .target = NEW("/dev/pts"), .mode = 0755);
		/* what the sandbox masks directories with, under its devpts */
		ADD(.kind = MOP_MKDIR, .target = NEW("/dev/pts/empty"), .mode = 0500);
		ADD(.kind = MOP_MKDIR, .target = NEW("/dev/shm"), .mode = 0755);
	} else if (plan->part == MOUNT_PART_SANDBOX) {
		/* devpts comes last, over /dev/pts/empty */
		int r = add_tmp_and_shm(plan, cfg, e);
		if (r < 0)
			return r;
	} else {
		/* the whole root (rootless, and the oci backend's translation) */
		ADD(.kind = MOP_DEVPTS, .target = NEW("/dev/pts"));
		ADD(.kind = MOP_TMPFS, .target = NEW("/tmp"),
		    .data = plan_strdup(plan, "mode=1777,size=%llu", (unsigned long long)cfg->tmp_size));
		ADD(.kind = MOP_TMPFS, .target = NEW("/dev/shm"),
		    .data = plan_strdup(plan, "mode=1777,size=%llu", (unsigned long long)cfg->tmp_size));
	}
	if (plan->part != MOUNT_PART_SANDBOX) {
		ADD(.kind = MOP_SYMLINK, .source = "pts/ptmx", .target = NEW("/dev/ptmx"));
		ADD(.kind = MOP_SYMLINK, .source = "/proc/self/fd", .target = NEW("/dev/fd"));
		ADD(.kind = MOP_SYMLINK, .source = "/proc/self/fd/0", .target = NEW("/dev/stdin"));
		ADD(.kind = MOP_SYMLINK, .source = "/proc/self/fd/1", .target = NEW("/dev/stdout"));
		ADD(.kind = MOP_SYMLINK, .source = "/proc/self/fd/2", .target = NEW("/dev/stderr"));
		/* /dev too is nodev: its nodes are bind mounts of their own. */
		ADD(.kind = MOP_REMOUNT_RO, .target = NEW("/dev"), .noexec = true);
	}
	return 0;
}

static int add_proc(struct mount_plan *plan, wr_error *e)
{
	int r;
	ADD(.kind = MOP_PROC, .target = NEW("/proc"));
	for (const char *const *p = mount_masked_paths; *p; p++)
		if ((r = add_mask(plan, *p, e)) < 0)
			return r;
	for (const char *const *p = mount_readonly_paths; *p; p++)
		ADD(.kind = MOP_READONLY, .target = NEW(*p), .optional = true);
	return 0;
}

bool mount_path_per_sandbox(const char *path)
{
	static const char *const own[] = { "/workspace", "/tmp", "/proc", "/dev/pts", "/dev/shm", NULL };
	for (const char *const *o = own; *o; o++) {
		size_t n = strlen(*o);
		if (!strncmp(path, *o, n) && (path[n] == '\0' || path[n] == '/'))
			return true;
	}
	return false;
}

static int add_workspace(struct mount_plan *plan, const struct mount_config *cfg, wr_error *e)
{
	if (cfg->workspace_fd >= 0)
		ADD(.kind = MOP_MOVE_FD, .target = NEW("/workspace"), .fd = cfg->workspace_fd,
		    .is_dir = true, .writable = true);
	else if (cfg->workspace_dir)
		ADD(.kind = MOP_BIND, .source = OLD(cfg->workspace_dir), .target = NEW("/workspace"),
		    .is_dir = true, .writable = true);
	else
		ADD(.kind = MOP_TMPFS, .target = NEW("/workspace"),
		    .data = plan_strdup(plan, "mode=0755,size=%llu,uid=%u,gid=%u",
					(unsigned long long)cfg->workspace_size,
					(unsigned)cfg->sandbox_uid, (unsigned)cfg->sandbox_gid));
	return 0;
}

/* The policy's "hide", in the part that holds the path. */
static int add_hidden(struct mount_plan *plan, const struct mount_config *cfg, wr_error *e)
{
	for (size_t i = 0; i < cfg->n_hide; i++) {
		bool own = mount_path_per_sandbox(cfg->hide[i]);
		if (plan->part == MOUNT_PART_ALL || own == (plan->part == MOUNT_PART_SANDBOX)) {
			int r = add_mask(plan, cfg->hide[i], e);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int build_parts(struct mount_plan *plan, const struct mount_config *cfg, wr_error *e)
{
	int r;
	bool shared = plan->part != MOUNT_PART_SANDBOX, own = plan->part != MOUNT_PART_TEMPLATE;
	if (shared) {
		ADD(.kind = MOP_TMPFS, .target = plan->new_root, .data = "mode=0755,size=1M,nr_inodes=4096");
		if (!cfg->image_dir || !strcmp(cfg->image_dir, "host"))
			r = add_host_image(plan, cfg, e);
		else
			r = add_image_dir(plan, cfg->image_dir, cfg->image_detached, e);
		if (r < 0)
			return r;
	}
	if (plan->part == MOUNT_PART_TEMPLATE) {
		/* mount points of what each sandbox mounts: its copy is read-only */
		static const char *const points[] = { "/workspace", "/tmp", "/proc", NULL };
		for (const char *const *pt = points; *pt; pt++)
			ADD(.kind = MOP_MKDIR, .target = NEW(*pt), .mode = 0755);
	}
	if (own && (r = add_workspace(plan, cfg, e)) < 0)
		return r;
	for (size_t i = 0; shared && i < cfg->n_extra; i++)
		ADD(.kind = MOP_BIND, .source = OLD(cfg->extra[i].source),
		    .target = NEW(cfg->extra[i].target), .is_dir = true);
	if ((r = add_dev(plan, cfg, e)) < 0 || (own && (r = add_proc(plan, e)) < 0) ||
	    (r = add_hidden(plan, cfg, e)) < 0)
		return r;
	if (plan->part == MOUNT_PART_SANDBOX)
		ADD(.kind = MOP_DEVPTS, .target = NEW("/dev/pts"));
	/* written on the scratch root and bound over the image's (an image's
	 * /etc is read-only; warren-rootfs leaves an empty resolv.conf there);
	 * egress sandboxes build their whole root (spawn.c use_template) */
	if (cfg->resolv_conf) {
		if (plan->part != MOUNT_PART_ALL)
			return wr_error_set(e, EINVAL, "build the mount plan: a resolv.conf belongs to the whole root");
		ADD(.kind = MOP_WRITE_FILE, .target = "/resolv.conf", .data = cfg->resolv_conf,
		    .data_len = strlen(cfg->resolv_conf), .mode = 0644);
		ADD(.kind = MOP_BIND, .source = "/resolv.conf", .target = NEW("/etc/resolv.conf"));
	}
	/* The template's copy is read-only already; once more for the
	 * sandbox's own root mount costs one call. */
	ADD(.kind = MOP_REMOUNT_RO, .target = plan->new_root);
	return 0;
}

int mount_plan_build(struct mount_plan *plan, const struct mount_config *cfg, wr_error *e)
{
	*plan = (struct mount_plan){
		.part = cfg->part, .template_fd = cfg->part == MOUNT_PART_SANDBOX ? cfg->template_fd : -1,
		.new_root = cfg->new_root ? cfg->new_root : MOUNT_NEWROOT,
		.old_root = cfg->old_root ? cfg->old_root : MOUNT_OLDROOT,
	};
	/* A template's copy is attached at a directory of the host (in the
	 * sandbox's own copy of the mounts) and assembled there while the
	 * host's /proc is still visible, then pivoted into once. */
	if (plan->part == MOUNT_PART_SANDBOX && !cfg->new_root) {
		static const char *const dirs[] = { "/tmp", "/mnt", "/var/tmp", NULL };
		struct stat st;
		const char *const *d = dirs;
		while (*d && (lstat(*d, &st) < 0 || !S_ISDIR(st.st_mode)))
			d++;
		if (!*d)
			return wr_error_set(e, ENOENT, "build the mount plan: no /tmp, /mnt or /var/tmp to attach "
					    "the template at");
		plan->new_root = *d;
		plan->old_root = cfg->old_root ? cfg->old_root : "";
	}
	if (plan->part == MOUNT_PART_SANDBOX && plan->template_fd < 0)
		return wr_error_set(e, EINVAL, "build the mount plan: no template to enter");
	int r = build_parts(plan, cfg, e);
	if (r < 0)
		mount_plan_free(plan);
	return r;
}

void mount_plan_free(struct mount_plan *plan)
{
	for (size_t i = 0; i < plan->n_strings; i++)
		free(plan->strings[i]);
	for (size_t i = 0; i < plan->n_fds; i++)
		close(plan->fds[i]);
	free(plan->fds);
	free(plan->strings);
	free(plan->ops);
	*plan = (struct mount_plan){ .template_fd = -1 };
}

const char *const mount_op_names[MOP_UNMOUNT + 1] = {
	[MOP_TMPFS] = "tmpfs", [MOP_BIND] = "bind", [MOP_DEV_BIND] = "dev-bind",
	[MOP_MKDIR] = "mkdir", [MOP_SYMLINK] = "symlink", [MOP_WRITE_FILE] = "write",
	[MOP_PROC] = "proc", [MOP_DEVPTS] = "devpts", [MOP_MASK] = "mask",
	[MOP_READONLY] = "read-only", [MOP_MOVE_FD] = "attach",
	[MOP_REMOUNT_RO] = "remount-ro", [MOP_UNMOUNT] = "unmount",
};

void mount_plan_describe(const struct mount_plan *plan, int fd)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct mount_op *op = &plan->ops[i];
		dprintf(fd, "warren: mount: %-13s %s%s%s%s%s%s\n", mount_op_names[op->kind], op->target,
			op->source ? " <- " : "", op->source ? op->source : "",
			op->kind == MOP_TMPFS ? " " : "", op->kind == MOP_TMPFS ? op->data : "",
			op->kind == MOP_BIND && op->writable ? " (writable)" : "");
	}
}

/* ---- a live sandbox's tmpfs ------------------------------------------- */

static int tmpfs_shrink(pid_t pid, const char *path, uint64_t max_size, wr_error *e)
{
	char where[PATH_MAX], size[32];
	snprintf(where, sizeof where, "/proc/%d/root%s", (int)pid, path);
	_cleanup_close_ int fd = open(where, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct statfs st;
	if (fd < 0 || fstatfs(fd, &st) < 0)
		return wr_error_set(e, errno, "%s", where);
	if (st.f_type != TMPFS_MAGIC || (uint64_t)st.f_blocks * (uint64_t)st.f_bsize <= max_size)
		return 0;
	/* fspick reconfigures the superblock found through the sandbox's
	 * root, from outside its mount namespace (a remount could not). */
	_cleanup_close_ int fs = (int)syscall(SYS_fspick, fd, "", FSPICK_CLOEXEC | FSPICK_EMPTY_PATH);
	if (fs < 0)
		return wr_error_set(e, errno, "fspick %s", where);
	snprintf(size, sizeof size, "%llu", (unsigned long long)max_size);
	if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "size", size, 0) < 0 ||
	    syscall(SYS_fsconfig, fs, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0) < 0)
		return wr_error_set(e, errno, "resize the tmpfs %s to %s bytes", path, size);
	return 0;
}

int mount_fit_tmpfs_to_memory(pid_t pid, uint64_t memory, wr_error *e)
{
	static const char *const tmpfs[] = { "/workspace", "/tmp", "/dev/shm" };
	for (size_t i = 0; memory && i < ARRAY_SIZE(tmpfs); i++) {
		int r = tmpfs_shrink(pid, tmpfs[i], policy_tmpfs_size(UINT64_MAX, memory), e);
		if (r < 0)
			return r;
	}
	return 0;
}
