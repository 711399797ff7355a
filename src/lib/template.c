#include "config.h"
#include "template.h"

#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/nsfs.h>

#include "cleanup.h"
#include "clock.h"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

#define MAX_TEMPLATES 32          /* a store drops its oldest beyond this */
#define RECHECK_MS 1000           /* a private store trusts a check this long */
/* Where a template's plan is made for its key: the real place differs per
 * store, the key must not. */
#define KEY_ROOT "/template"

struct checked {
	char name[17];
	uint64_t at_ms;
};

struct template_store {
	int ns_fd;                    /* the templates' mount namespace */
	int own_ns_fd;                /* ours, to come back to */
	char *dir;                    /* the store's tmpfs, in that namespace */
	char *lock_path;              /* shared store: taken while in there */
	struct checked recent[MAX_TEMPLATES]; /* private store: names checked lately */
};

/* ---- keys ------------------------------------------------------------------ */

static uint64_t fnv1a(const char *s, size_t len, uint64_t h)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

/* What picks a template: the image and the policy fields its part reads.
 * Its hash names the template; the key then says whether it is current. */
static void template_name(const struct mount_config *cfg, char name[17])
{
	uint64_t h = 0xcbf29ce484222325ull;
	char buf[64];
	const char *image = cfg->image_dir ? cfg->image_dir : "host";
	h = fnv1a(image, strlen(image) + 1, h);
	snprintf(buf, sizeof buf, "net=%d", (int)cfg->network);
	h = fnv1a(buf, strlen(buf) + 1, h);
	for (size_t i = 0; i < cfg->n_extra; i++) {
		h = fnv1a(cfg->extra[i].source, strlen(cfg->extra[i].source) + 1, h);
		h = fnv1a(cfg->extra[i].target, strlen(cfg->extra[i].target) + 1, h);
	}
	for (size_t i = 0; i < cfg->n_hide; i++)
		if (!mount_path_per_sandbox(cfg->hide[i]))
			h = fnv1a(cfg->hide[i], strlen(cfg->hide[i]) + 1, h);
	snprintf(name, 17, "%016llx", (unsigned long long)h);
}

/* The template part of a sandbox's plan, built at root with host paths as
 * they are (the store's namespace sees the host's). */
static int template_plan(const struct mount_config *cfg, const char *root, struct mount_plan *plan, wr_error *e)
{
	struct mount_config tc = *cfg;
	tc.part = MOUNT_PART_TEMPLATE;
	tc.new_root = root;
	tc.old_root = "";
	tc.image_detached = false;
	return mount_plan_build(plan, &tc, e);
}

/* Every op of the plan and, for each host path it binds, the device and
 * inode found there now: a file replaced on the host (a package update
 * renames a new one over it) changes the key; a file changed in place is
 * seen through the bind anyway. */
static char *plan_key(const struct mount_plan *plan)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (!out)
		return NULL;
	for (size_t i = 0; i < plan->n; i++) {
		const struct mount_op *op = &plan->ops[i];
		fprintf(out, "%d %s %s %o %d%d%d%d ", (int)op->kind, op->target, op->source ? op->source : "-",
			(unsigned)op->mode, op->writable, op->optional, op->is_dir, op->noexec);
		if (op->data)
			fwrite(op->data, 1, op->kind == MOP_WRITE_FILE ? op->data_len : strlen(op->data), out);
		struct stat st;
		if ((op->kind == MOP_BIND || op->kind == MOP_DEV_BIND || op->kind == MOP_MASK) &&
		    stat(op->source, &st) == 0)
			fprintf(out, " @%llx:%llx", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
		fputc('\n', out);
	}
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* ---- inside the store's namespace ---------------------------------------- */

/* Enters the store's namespace (and its lock); leave() comes back. A
 * mount namespace change resets the working directory: it is kept. */
struct visit {
	int cwd;
	int lock;
};

static int enter(struct template_store *s, struct visit *v, wr_error *e)
{
	*v = (struct visit){ .cwd = -1, .lock = -1 };
	if (s->lock_path) {
		v->lock = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (v->lock < 0)
			return wr_error_set(e, errno, "open %s", s->lock_path);
		while (flock(v->lock, LOCK_EX) < 0)
			if (errno != EINTR) {
				int err = errno;
				close(v->lock);
				return wr_error_set(e, err, "lock %s", s->lock_path);
			}
	}
	v->cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (setns(s->ns_fd, CLONE_NEWNS) < 0) {
		int err = errno;
		if (v->cwd >= 0)
			close(v->cwd);
		if (v->lock >= 0)
			close(v->lock);
		return wr_error_set(e, err, "enter the templates' mount namespace");
	}
	return 0;
}

static int leave(struct template_store *s, struct visit *v)
{
	int r = setns(s->own_ns_fd, CLONE_NEWNS) < 0 ? -errno : 0;
	if (v->cwd >= 0) {
		if (fchdir(v->cwd) < 0 && r == 0)
			r = -errno;
		close(v->cwd);
	}
	if (v->lock >= 0)
		close(v->lock); /* releases the flock */
	return r;
}

static int read_key(const char *path, char **out)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return -ENOMEM;
	ssize_t n = read(fd, buf, (size_t)st.st_size);
	if (n != st.st_size) {
		free(buf);
		return -EIO;
	}
	buf[n] = '\0';
	*out = buf;
	return 0;
}

static int write_key(const char *path, const char *key)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	size_t len = strlen(key);
	if (fd < 0)
		return -errno;
	return write(fd, key, len) == (ssize_t)len ? 0 : -EIO;
}

/* Detaches a template (its copies keep theirs) and its key. */
static void drop(const char *dir, const char *name)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	umount2(path, MNT_DETACH);
	rmdir(path);
	snprintf(path, sizeof path, "%s/%s.key", dir, name);
	unlink(path);
}

/* Beyond MAX_TEMPLATES the one built longest ago goes. */
static void drop_oldest_beyond_cap(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;
	char oldest[NAME_MAX + 1] = "";
	struct timespec oldest_t = { 0 };
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		struct stat st;
		if (len < 5 || strcmp(de->d_name + len - 4, ".key") || fstatat(dirfd(d), de->d_name, &st, 0) < 0)
			continue;
		n++;
		if (!oldest[0] || st.st_mtim.tv_sec < oldest_t.tv_sec ||
		    (st.st_mtim.tv_sec == oldest_t.tv_sec && st.st_mtim.tv_nsec < oldest_t.tv_nsec)) {
			snprintf(oldest, sizeof oldest, "%.*s", (int)(len - 4), de->d_name);
			oldest_t = st.st_mtim;
		}
	}
	if (n > MAX_TEMPLATES && oldest[0])
		drop(dir, oldest);
}

static int build(const char *dir, const char *name, const struct mount_config *cfg, const char *key, wr_error *e)
{
	char root[PATH_MAX], keypath[PATH_MAX];
	snprintf(root, sizeof root, "%s/%s", dir, name);
	snprintf(keypath, sizeof keypath, "%s/%s.key", dir, name);
	drop(dir, name);
	struct mount_plan plan;
	int r = template_plan(cfg, root, &plan, e);
	if (r < 0)
		return r;
	const char *step = NULL, *path = NULL;
	r = mount_build_template(&plan, &step, &path);
	if (r < 0) {
		const char *shown = path && !strncmp(path, root, strlen(root)) ? path + strlen(root) : path;
		wr_error_set(e, -r, "build the template: %s %s", step, shown && *shown ? shown : "/");
	} else if ((r = write_key(keypath, key)) < 0) {
		wr_error_set(e, -r, "write %s", keypath);
		umount2(root, MNT_DETACH);
	}
	mount_plan_free(&plan);
	if (r == 0)
		drop_oldest_beyond_cap(dir);
	return r;
}

static struct checked *recently_checked(struct template_store *s, const char *name)
{
	uint64_t now = monotonic_ms();
	for (size_t i = 0; i < MAX_TEMPLATES; i++)
		if (!strcmp(s->recent[i].name, name) && now - s->recent[i].at_ms < RECHECK_MS)
			return &s->recent[i];
	return NULL;
}

static void note_checked(struct template_store *s, const char *name)
{
	size_t pick = 0;
	for (size_t i = 0; i < MAX_TEMPLATES; i++) {
		if (!strcmp(s->recent[i].name, name)) {
			pick = i;
			break;
		}
		if (s->recent[i].at_ms < s->recent[pick].at_ms)
			pick = i;
	}
	snprintf(s->recent[pick].name, sizeof s->recent[pick].name, "%s", name);
	s->recent[pick].at_ms = monotonic_ms();
}

/* In the store's namespace: checks (or builds) the template, then copies it. */
static int clone_inside(struct template_store *s, const struct mount_config *cfg, const char *name, int *fd,
			bool *built, wr_error *e)
{
	char root[PATH_MAX], keypath[PATH_MAX];
	snprintf(root, sizeof root, "%s/%s", s->dir, name);
	snprintf(keypath, sizeof keypath, "%s/%s.key", s->dir, name);
	*built = false;
	if (!recently_checked(s, name)) {
		struct mount_plan plan;
		int r = template_plan(cfg, KEY_ROOT, &plan, e);
		if (r < 0)
			return r;
		_cleanup_free_ char *key = plan_key(&plan), *stored = NULL;
		mount_plan_free(&plan);
		if (!key)
			return wr_error_set(e, ENOMEM, "template key");
		if (read_key(keypath, &stored) < 0 || strcmp(stored, key)) {
			if ((r = build(s->dir, name, cfg, key, e)) < 0)
				return r;
			*built = true;
		}
		if (!s->lock_path)
			note_checked(s, name);
	}
	*fd = (int)syscall(SYS_open_tree, AT_FDCWD, root, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (*fd < 0)
		return wr_error_set(e, errno, "copy the template %s", root);
	return 0;
}

int template_store_clone(struct template_store *s, const struct mount_config *cfg, int *fd, bool *built,
			 wr_error *e)
{
	char name[17];
	template_name(cfg, name);
	struct visit v;
	int r = enter(s, &v, e);
	if (r < 0)
		return r;
	r = clone_inside(s, cfg, name, fd, built, e);
	int back = leave(s, &v);
	if (back < 0) {
		/* we would build sandboxes in the wrong namespace */
		if (r == 0)
			close(*fd);
		return wr_error_set(e, -back, "return from the templates' mount namespace");
	}
	return r;
}

unsigned template_store_count(struct template_store *s)
{
	struct visit v;
	unsigned n = 0;
	if (enter(s, &v, NULL) < 0)
		return 0;
	_cleanup_closedir_ DIR *d = opendir(s->dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);
		n += len > 4 && !strcmp(de->d_name + len - 4, ".key");
	}
	closedir(TAKE_PTR(d));
	leave(s, &v);
	return n;
}

/* ---- making stores ----------------------------------------------------------- */

void template_store_close(struct template_store *s)
{
	if (!s)
		return;
	if (s->ns_fd >= 0)
		close(s->ns_fd);
	if (s->own_ns_fd >= 0)
		close(s->own_ns_fd);
	free(s->dir);
	free(s->lock_path);
	free(s);
}

static struct template_store *store_new(const char *dir)
{
	struct template_store *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->ns_fd = -1;
	s->own_ns_fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	s->dir = strdup(dir);
	if (s->own_ns_fd < 0 || !s->dir) {
		template_store_close(s);
		return NULL;
	}
	return s;
}

/* A new mount namespace holding a tmpfs at dir: slave to ours (an image
 * mounted on the host later is seen when a template binds it), the tmpfs
 * private. We come back to our own namespace; its fd is in *ns. */
static int new_namespace(struct template_store *s, int *ns, wr_error *e)
{
	_cleanup_close_ int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int r = 0;
	if (unshare(CLONE_NEWNS) < 0)
		return wr_error_set(e, errno, "unshare a mount namespace for the templates");
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		r = wr_error_set(e, errno, "make the templates' namespace a slave");
	else if (mount("tmpfs", s->dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700,size=1M,nr_inodes=1024") < 0)
		r = wr_error_set(e, errno, "mount the templates' tmpfs on %s", s->dir);
	else if (mount(NULL, s->dir, NULL, MS_PRIVATE, NULL) < 0)
		r = wr_error_set(e, errno, "make %s private", s->dir);
	else if ((*ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC)) < 0)
		r = wr_error_set(e, errno, "open the templates' mount namespace");
	if (setns(s->own_ns_fd, CLONE_NEWNS) < 0) {
		/* stranded in a namespace of our own: nothing we made is shared */
		return wr_error_set(e, errno, "return from the templates' mount namespace");
	}
	if (cwd >= 0 && fchdir(cwd) < 0 && r == 0)
		r = wr_error_set(e, errno, "fchdir");
	return r;
}

int template_store_open_private(const char *dir, struct template_store **out, wr_error *e)
{
	struct template_store *s = store_new(dir);
	if (!s)
		return wr_error_set(e, errno ? errno : ENOMEM, "template store");
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int r = wr_error_set(e, errno, "mkdir %s", dir);
		template_store_close(s);
		return r;
	}
	int r = new_namespace(s, &s->ns_fd, e);
	if (r < 0) {
		template_store_close(s);
		return r;
	}
	*out = s;
	return 0;
}

static bool is_mount_ns(int fd)
{
	struct statfs sfs;
	return fstatfs(fd, &sfs) == 0 && sfs.f_type == NSFS_MAGIC && ioctl(fd, NS_GET_NSTYPE) == CLONE_NEWNS;
}

static bool is_mount_point(const char *path)
{
	struct statx stx;
	return statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) == 0 &&
	       (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

/* First use on this boot: STATE/templates becomes a private bind of itself
 * (a namespace may be bind-mounted only where no mount event propagates),
 * and the new namespace is pinned on STATE/templates/ns. */
static int pin_shared_namespace(struct template_store *s, const char *pin, wr_error *e)
{
	if (!is_mount_point(s->dir) && mount(s->dir, s->dir, NULL, MS_BIND, NULL) < 0)
		return wr_error_set(e, errno, "bind %s on itself", s->dir);
	if (mount(NULL, s->dir, NULL, MS_PRIVATE, NULL) < 0)
		return wr_error_set(e, errno, "make %s private", s->dir);
	umount2(pin, MNT_DETACH); /* a stale pin, if any: not into the copy */
	_cleanup_close_ int f = open(pin, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (f < 0)
		return wr_error_set(e, errno, "create %s", pin);
	/* The kernel lets a namespace be bound only into an older one (its
	 * loop check compares their ids), and hands out ids from per-CPU
	 * batches: a namespace made on another CPU than ours was can get a
	 * lower id (EINVAL). Then one is made on each CPU in turn: on the one
	 * that made ours it comes later. */
	cpu_set_t allowed, one;
	bool pinned_cpu = false;
	int r = 0;
	if (sched_getaffinity(0, sizeof allowed, &allowed) < 0)
		CPU_ZERO(&allowed);
	for (int cpu = -1; cpu < CPU_SETSIZE; cpu++) {
		if (cpu >= 0) {
			if (!CPU_ISSET(cpu, &allowed))
				continue;
			CPU_ZERO(&one);
			CPU_SET(cpu, &one);
			if (sched_setaffinity(0, sizeof one, &one) < 0)
				continue;
			pinned_cpu = true;
		}
		_cleanup_close_ int ns = -1;
		if ((r = new_namespace(s, &ns, e)) < 0)
			break;
		char src[64];
		snprintf(src, sizeof src, "/proc/self/fd/%d", ns);
		if (mount(src, pin, NULL, MS_BIND, NULL) == 0) {
			s->ns_fd = TAKE_FD(ns);
			r = 0;
			break;
		}
		r = wr_error_set(e, errno, "pin the templates' mount namespace at %s", pin);
		if (errno != EINVAL)
			break;
	}
	if (pinned_cpu)
		sched_setaffinity(0, sizeof allowed, &allowed);
	return r;
}

int template_store_open_shared(const char *state_dir, struct template_store **out, wr_error *e)
{
	char dir[PATH_MAX], pin[PATH_MAX + 8], lock[PATH_MAX + 16];
	snprintf(dir, sizeof dir, "%s/templates", state_dir);
	snprintf(pin, sizeof pin, "%s/ns", dir);
	snprintf(lock, sizeof lock, "%s/templates.lock", state_dir);
	struct template_store *s = store_new(dir);
	if (!s || !(s->lock_path = strdup(lock))) {
		template_store_close(s);
		return wr_error_set(e, ENOMEM, "template store");
	}
	int r = 0;
	if ((mkdir(state_dir, 0755) < 0 && errno != EEXIST) || (mkdir(dir, 0700) < 0 && errno != EEXIST))
		r = wr_error_set(e, errno, "mkdir %s", dir);
	_cleanup_close_ int lk = r < 0 ? -1 : open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (r == 0 && (lk < 0 || flock(lk, LOCK_EX) < 0))
		r = wr_error_set(e, errno, "lock %s", lock);
	if (r == 0) {
		s->ns_fd = open(pin, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (s->ns_fd >= 0 && !is_mount_ns(s->ns_fd)) {
			close(s->ns_fd);
			s->ns_fd = -1;
		}
		if (s->ns_fd < 0)
			r = pin_shared_namespace(s, pin, e);
	}
	if (r < 0) {
		template_store_close(s);
		return r;
	}
	*out = s;
	return 0;
}
