/* Applying a mount plan (mount.h) in the sandbox's child, with raw
 * syscalls only: it runs between clone and exec, where nothing may
 * allocate or take a lock (mount.c builds the plan in the parent). */
#include "config.h"
#include "mount.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mount.h>

#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

static int sys_mount_setattr(int dfd, const char *path, unsigned flags, struct mount_attr *attr)
{
	return (int)syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof *attr);
}

/* Read-only (unless writable), nosuid and nodev on a mount and everything
 * below it. mount_setattr does the whole tree at once; the remount fallback
 * must repeat the flags the kernel locked on the source (statfs). */
static int restrict_mount(const char *target, bool writable, bool allow_dev)
{
	struct mount_attr attr = {
		.attr_set = (writable ? 0 : MOUNT_ATTR_RDONLY) | MOUNT_ATTR_NOSUID |
			    (allow_dev ? MOUNT_ATTR_NOEXEC : MOUNT_ATTR_NODEV),
	};
	if (sys_mount_setattr(AT_FDCWD, target, AT_RECURSIVE | AT_SYMLINK_NOFOLLOW, &attr) == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID |
			      (writable ? 0 : MS_RDONLY) | (allow_dev ? MS_NOEXEC : MS_NODEV);
	struct statfs sfs;
	if (statfs(target, &sfs) == 0) {
		flags |= sfs.f_flags & ST_NOEXEC ? MS_NOEXEC : 0;
		flags |= sfs.f_flags & ST_NODEV ? MS_NODEV : 0;
		flags |= sfs.f_flags & ST_NOATIME ? MS_NOATIME : 0;
		flags |= sfs.f_flags & ST_NODIRATIME ? MS_NODIRATIME : 0;
		flags |= sfs.f_flags & ST_RELATIME ? MS_RELATIME : 0;
	}
	return mount(NULL, target, NULL, flags, NULL) < 0 ? -errno : 0;
}

/* mkdir -p of target's parents, then the mount point itself: a directory,
 * or an empty file when the source is not a directory. */
static int make_mount_point(const char *target, bool is_dir)
{
	char path[PATH_MAX];
	size_t len = strlen(target);
	if (len >= sizeof path)
		return -ENAMETOOLONG;
	memcpy(path, target, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (is_dir)
		return mkdir(target, 0755) < 0 && errno != EEXIST ? -errno : 0;
	int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return errno == EEXIST ? 0 : -errno;
	close(fd);
	return 0;
}

static int apply_bind(const struct mount_op *op)
{
	struct stat st;
	if (stat(op->source, &st) < 0)
		return -errno;
	int r = op->exists ? 0 : make_mount_point(op->target, S_ISDIR(st.st_mode));
	if (r < 0)
		return r;
	unsigned long flags = MS_BIND | (op->kind == MOP_DEV_BIND ? 0 : MS_REC);
	if (mount(op->source, op->target, NULL, flags, NULL) < 0)
		return -errno;
	return restrict_mount(op->target, op->writable, op->kind == MOP_DEV_BIND);
}

static int apply_mask(const struct mount_op *op)
{
	struct stat st;
	if (lstat(op->target, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode) && op->data) {
		if (mount(op->data, op->target, NULL, MS_BIND, NULL) < 0)
			return -errno;
		return restrict_mount(op->target, false, false);
	}
	if (S_ISDIR(st.st_mode))
		return mount("tmpfs", op->target, "tmpfs",
			     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0500") < 0 ? -errno : 0;
	if (mount(op->source, op->target, NULL, MS_BIND, NULL) < 0)
		return -errno;
	return restrict_mount(op->target, false, false);
}

static int write_file(const struct mount_op *op)
{
	int fd = open(op->target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, op->mode);
	if (fd < 0)
		return -errno;
	size_t done = 0;
	while (done < op->data_len) {
		ssize_t n = write(fd, op->data + done, op->data_len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;
			close(fd);
			return -err;
		}
		done += (size_t)n;
	}
	close(fd);
	return 0;
}

static int apply_op(const struct mount_op *op)
{
	int r;
	switch (op->kind) {
	case MOP_TMPFS:
		if (!op->exists && (r = make_mount_point(op->target, true)) < 0)
			return r;
		return mount("tmpfs", op->target, "tmpfs", MS_NOSUID | MS_NODEV, op->data) < 0 ? -errno : 0;
	case MOP_BIND:
	case MOP_DEV_BIND:
		return apply_bind(op);
	case MOP_MKDIR:
		if (mkdir(op->target, op->mode) < 0)
			return errno == EEXIST && !op->fresh ? 0 : -errno;
		/* the mode as asked, whatever the umask */
		return op->mode & 07022 ? (chmod(op->target, op->mode) < 0 ? -errno : 0) : 0;
	case MOP_UNMOUNT:
		return umount2(op->target, MNT_DETACH) < 0 ? -errno : 0;
	case MOP_SYMLINK:
		return symlink(op->source, op->target) < 0 && errno != EEXIST ? -errno : 0;
	case MOP_WRITE_FILE:
		return write_file(op);
	case MOP_PROC:
		if (!op->exists && (r = make_mount_point(op->target, true)) < 0)
			return r;
		return mount("proc", op->target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ? -errno : 0;
	case MOP_DEVPTS:
		if (!op->exists && (r = make_mount_point(op->target, true)) < 0)
			return r;
		return mount("devpts", op->target, "devpts", MS_NOSUID | MS_NOEXEC,
			     "newinstance,ptmxmode=0666,mode=0620") < 0 ? -errno : 0;
	case MOP_MASK:
		return apply_mask(op);
	case MOP_READONLY:
		if (mount(op->target, op->target, NULL, MS_BIND | MS_REC, NULL) < 0)
			return -errno;
		return restrict_mount(op->target, false, false);
	case MOP_MOVE_FD:
		if (!op->exists && (r = make_mount_point(op->target, op->is_dir || op->writable)) < 0)
			return r;
		if (syscall(SYS_move_mount, op->fd, "", AT_FDCWD, op->target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
			return -errno;
		/* A copy made with open_tree joins the propagation of what it
		 * copied (a host's shared mount): private, like the rest. */
		if (mount(NULL, op->target, NULL, MS_REC | MS_PRIVATE, NULL) < 0)
			return -errno;
		return restrict_mount(op->target, op->writable, false);
	case MOP_REMOUNT_RO:
		return mount(NULL, op->target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV |
			     (op->noexec ? MS_NOEXEC : 0), NULL) < 0
			? -errno : 0;
	}
	return -EINVAL;
}

int mount_plan_apply(const struct mount_plan *plan, const char **failed_step,
		     const char **failed_path)
{
	for (size_t i = 0; i < plan->n; i++) {
		const struct mount_op *op = &plan->ops[i];
		int r = apply_op(op);
		if (r == -ENOENT && op->optional)
			continue;
		if (r < 0) {
			*failed_step = mount_op_names[op->kind];
			*failed_path = op->target;
			return r;
		}
	}
	return 0;
}

int mount_setup_scratch_root(const char **failed_step)
{
	/* Nothing we mount may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		*failed_step = "make / private";
		return -errno;
	}
	/* A scratch root holding /newroot and, after the pivot, the host's
	 * root at /oldroot: bind sources stay reachable wherever they are. */
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=64k") < 0) {
		*failed_step = "mount the scratch tmpfs";
		return -errno;
	}
	if (chdir("/tmp") < 0 || mkdir("newroot", 0755) < 0 || mkdir("oldroot", 0700) < 0) {
		*failed_step = "prepare the scratch root";
		return -errno;
	}
	if (syscall(SYS_pivot_root, ".", "oldroot") < 0) {
		*failed_step = "pivot_root to the scratch root";
		return -errno;
	}
	if (chdir("/") < 0) {
		*failed_step = "chdir /";
		return -errno;
	}
	return 0;
}

/* chdir root, then pivot_root(".", "."), which stacks the old root over
 * the new one; the detach removes it, leaving no old root inside. */
static int pivot_into(const char *root, const char *old_name, const char **failed_step)
{
	if (chdir(root) < 0) {
		*failed_step = "chdir to the new root";
		return -errno;
	}
	if (syscall(SYS_pivot_root, ".", ".") < 0) {
		*failed_step = "pivot_root to the new root";
		return -errno;
	}
	if (umount2(".", MNT_DETACH) < 0) {
		*failed_step = old_name;
		return -errno;
	}
	if (chdir("/") < 0) {
		*failed_step = "chdir /";
		return -errno;
	}
	return 0;
}

int mount_enter_new_root(const char **failed_step)
{
	if (umount2(MOUNT_OLDROOT, MNT_DETACH) < 0) {
		*failed_step = "detach the host root";
		return -errno;
	}
	return pivot_into(MOUNT_NEWROOT, "detach the scratch root", failed_step);
}

/* A template's copy: attached at the plan's root in the sandbox's own
 * (private) copy of the host's mounts, completed there (its /proc needs
 * the host's still visible: the kernel mounts a proc in a user namespace
 * only where one is fully visible), and pivoted into once: each
 * pivot_root walks every process of the host. */
static int enter_template(const struct mount_plan *plan, const char **failed_step, const char **failed_path)
{
	const char *root = plan->new_root;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		*failed_step = "make / private";
		return -errno;
	}
	if (syscall(SYS_move_mount, plan->template_fd, "", AT_FDCWD, root, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		*failed_step = "attach the template's copy";
		return -errno;
	}
	/* A copy is private already (mount_build_template); made so here
	 * too, so no mount event of this sandbox reaches another. */
	if (mount(NULL, root, NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		*failed_step = "make the template's copy private";
		return -errno;
	}
	int r = mount_plan_apply(plan, failed_step, failed_path);
	if (r < 0) {
		size_t n = strlen(root);
		if (*failed_path && !strncmp(*failed_path, root, n)) /* shown as inside */
			*failed_path += n;
		return r;
	}
	return pivot_into(root, "detach the host root", failed_step);
}

int mount_setup_root(const struct mount_plan *plan, const char **failed_step, const char **failed_path)
{
	int r;
	if (plan->part == MOUNT_PART_SANDBOX)
		return enter_template(plan, failed_step, failed_path);
	if ((r = mount_setup_scratch_root(failed_step)) < 0 ||
	    (r = mount_plan_apply(plan, failed_step, failed_path)) < 0)
		return r;
	return mount_enter_new_root(failed_step);
}

void mount_plan_close_fds(const struct mount_plan *plan)
{
	if (plan->template_fd >= 0)
		close(plan->template_fd);
	for (size_t i = 0; i < plan->n; i++)
		if (plan->ops[i].kind == MOP_MOVE_FD)
			close(plan->ops[i].fd);
}

int mount_build_template(const struct mount_plan *plan, const char **failed_step, const char **failed_path)
{
	int r = mount_plan_apply(plan, failed_step, failed_path);
	/* Copies of a shared or slave mount join its peer group or master:
	 * the template and everything below it propagate nothing. */
	if (r == 0 && mount(NULL, plan->new_root, NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		r = -errno;
		*failed_step = "make the template private";
		*failed_path = plan->new_root;
	}
	if (r < 0 && plan->n && plan->ops[0].kind == MOP_TMPFS)
		umount2(plan->ops[0].target, MNT_DETACH);
	return r;
}
