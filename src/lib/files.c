/* Workspace file access that cannot leave the workspace: see files.h for
 * the path rules. The one primitive is openat2 with RESOLVE_IN_ROOT from the
 * workspace fd (or RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS for one name in a
 * directory fd already resolved); no path string is ever handed to a call
 * that resolves it from AT_FDCWD. */
#include "config.h"
#include "files.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "encode.h"
#include "fdio.h"

#define IN_WORKSPACE (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)
/* One name inside a directory fd: no symlink, no mount crossing, no "..". */
#define ONE_NAME (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)
/* A sandbox can make a tree as deep as it likes; deletion holds one fd
 * per level, so it gives up past this depth. */
#define DELETE_MAX_DEPTH 256
#define QUOTE_MAX 240

/* For messages that say it all: no ": strerror" appended, the errno kept. */
static int fail_plain(wr_error *e, int err, const char *what, const char *rel)
{
	wr_error_set(e, 0, "%s %s", rel, what);
	if (e)
		e->code = err;
	return -err;
}

static bool quote_escapes(unsigned char c, bool keep_high)
{
	return c < 0x20 || c == 0x7f || (c >= 0x80 && !keep_high);
}

void files_quote(const char *path, size_t len, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	/* Messages end up in JSON, which must be UTF-8: keep a valid name
	 * readable, escape every high byte of an invalid one. */
	bool keep_high = utf8_valid(path, len);
	size_t total = 0;
	for (size_t i = 0; i < len; i++)
		total += quote_escapes((unsigned char)path[i], keep_high) ? 4 : 1;
	bool cut = total >= outlen;
	size_t budget = !cut ? total : outlen > 4 ? outlen - 4 : 0, o = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)path[i];
		bool escape = quote_escapes(c, keep_high);
		size_t seq = 1; /* a whole UTF-8 character or nothing */
		while (!escape && c >= 0xc0 && i + seq < len && ((unsigned char)path[i + seq] & 0xc0) == 0x80)
			seq++;
		size_t need = escape ? 4 : seq;
		if (o + need > budget)
			break;
		if (escape)
			snprintf(out + o, outlen - o, "\\x%02x", c);
		else
			memcpy(out + o, path + i, seq);
		o += need;
		i += seq;
	}
	for (int dots = 0; cut && dots < 3 && o + 1 < outlen; dots++)
		out[o++] = '.';
	out[o] = '\0';
}

/* A normalized path as messages show it: the workspace itself by name. */
static const char *quote_rel(const char *rel, char buf[QUOTE_MAX])
{
	if (!rel[0])
		return "/workspace";
	files_quote(rel, strlen(rel), buf, QUOTE_MAX);
	return buf;
}
#define Q(rel) quote_rel((rel), (char[QUOTE_MAX]){ 0 })

int files_normalize(const char *path, size_t len, char out[FILES_PATH_MAX + 1], wr_error *e)
{
	char shown[QUOTE_MAX];
	files_quote(path, len, shown, sizeof shown);
	out[0] = '\0';
	if (memchr(path, '\0', len))
		return wr_error_set(e, 0, "path \"%s\" contains a NUL byte", shown);
	if (len > FILES_PATH_MAX)
		return wr_error_set(e, ENAMETOOLONG, "path \"%s\" (%zu bytes, at most %d)", shown, len,
				    FILES_PATH_MAX);

	static const char prefix[] = "/workspace";
	size_t i = 0, o = 0;
	if (len >= sizeof prefix - 1 && memcmp(path, prefix, sizeof prefix - 1) == 0 &&
	    (len == sizeof prefix - 1 || path[sizeof prefix - 1] == '/'))
		i = sizeof prefix - 1;

	while (i < len) {
		size_t start = i;
		while (i < len && path[i] != '/')
			i++;
		size_t n = i - start;
		const char *comp = path + start;
		if (i < len)
			i++; /* the slash */
		if (n == 0 || (n == 1 && comp[0] == '.'))
			continue;
		if (n == 2 && comp[0] == '.' && comp[1] == '.') {
			if (o == 0)
				return wr_error_set(e, 0, "path \"%s\" leaves the workspace", shown);
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--; /* the slash before the dropped component */
			continue;
		}
		if (n > FILES_NAME_MAX)
			return wr_error_set(e, ENAMETOOLONG, "path \"%s\": a component of %zu bytes (at most %d)",
					    shown, n, FILES_NAME_MAX);
		if (o > 0)
			out[o++] = '/';
		memcpy(out + o, comp, n); /* o + n <= len <= FILES_PATH_MAX */
		o += n;
	}
	out[o] = '\0';
	return 0;
}

static int openat2_raw(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & (O_CREAT | __O_TMPFILE)) ? mode : 0,
		.resolve = resolve,
	};
	/* EAGAIN: a concurrent rename made the kernel distrust a ".." step
	 * (only symlink targets can hold ".." here); a retry is the answer. */
	for (int tries = 0;; tries++) {
		long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN || tries >= 64)
			return -errno;
	}
}

static int openat2_error(int r, const char *rel, wr_error *e)
{
	if (r == -ENOSYS || r == -E2BIG)
		return wr_error_set(e, ENOSYS, "openat2 (Linux 5.6 or later) is needed to open %s safely; "
				    "workspace file access is refused without it", Q(rel));
	return wr_error_set(e, -r, "%s", Q(rel));
}

int files_openat(int ws_fd, const char *rel, int flags, mode_t mode, wr_error *e)
{
	int fd = openat2_raw(ws_fd, rel[0] ? rel : ".", flags, mode, IN_WORKSPACE);
	if (fd == -ELOOP) {
		/* Say which ELOOP: the last component is a link we refuse to
		 * follow, or the links inside the path go round. */
		_cleanup_close_ int link = openat2_raw(ws_fd, rel, O_PATH | O_NOFOLLOW, 0, IN_WORKSPACE);
		struct stat st;
		if (link >= 0 && fstat(link, &st) == 0 && S_ISLNK(st.st_mode))
			return fail_plain(e, ELOOP, "is a symbolic link (not followed)", Q(rel));
	}
	return fd < 0 ? openat2_error(fd, rel, e) : fd;
}

/* Acting as the sandbox user (files.h: files_become) lets the daemon do
 * nothing in the workspace that user could not, makes what it creates
 * theirs, and is required anyway: a tmpfs mounted in the sandbox's user
 * namespace refuses creation by an unmapped fsuid (EOVERFLOW). */
void files_restore_identity(struct files_identity *id)
{
	if (id->switched) {
		setfsuid(id->uid);
		setfsgid(id->gid);
	}
}

int files_become(uid_t uid, gid_t gid, struct files_identity *saved, wr_error *e)
{
	saved->switched = false;
	if (uid == (uid_t)-1 || gid == (gid_t)-1)
		return 0;
	/* gid first: changing it needs CAP_SETGID, which fsuid != 0 drops */
	saved->gid = (gid_t)setfsgid(gid);
	saved->uid = (uid_t)setfsuid(uid);
	saved->switched = true;
	/* setfsuid reports no error; asking again (with an invalid id) says
	 * whether it took */
	if ((uid_t)setfsuid((uid_t)-1) != uid || (gid_t)setfsgid((gid_t)-1) != gid) {
		files_restore_identity(saved);
		saved->switched = false;
		return wr_error_set(e, EPERM, "cannot act as uid %u gid %u in the workspace", (unsigned)uid,
				    (unsigned)gid);
	}
	return 0;
}

int files_open_beneath(int dir_fd, const char *path, int flags, mode_t mode)
{
	return openat2_raw(dir_fd, path, flags, mode, ONE_NAME);
}

int files_openat2(int dir_fd, const char *path, int flags, mode_t mode, uint64_t resolve)
{
	return openat2_raw(dir_fd, path, flags, mode, resolve);
}

/* Gives what the daemon created to the sandbox user, with a fixed mode
 * (the daemon's umask is not the sandbox's business). */
static int give_to_sandbox(int fd, mode_t mode, uid_t uid, gid_t gid, const char *rel, wr_error *e)
{
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0)
		return wr_error_set(e, errno, "chown %s", Q(rel));
	if (fchmod(fd, mode) < 0)
		return wr_error_set(e, errno, "chmod %s", Q(rel));
	return 0;
}

/* Returns an O_PATH fd of the directory rel[0..len), creating each
 * missing component with mkdirat in its resolved parent. */
static int open_parent_dirs(int ws_fd, const char *rel, size_t len, uid_t uid, gid_t gid, wr_error *e)
{
	char prefix[FILES_PATH_MAX + 1];
	memcpy(prefix, rel, len);
	prefix[len] = '\0';
	int fd = openat2_raw(ws_fd, len ? prefix : ".", O_PATH | O_DIRECTORY, 0, IN_WORKSPACE);
	if (fd != -ENOENT)
		return fd < 0 ? openat2_error(fd, prefix, e) : fd;

	/* Each prefix is resolved from the workspace again, so symlinks mean
	 * the same as on the fast path; whatever the sandbox swaps in between,
	 * every fd below came out of RESOLVE_IN_ROOT. */
	_cleanup_close_ int cur = openat2_raw(ws_fd, ".", O_PATH | O_DIRECTORY, 0, IN_WORKSPACE);
	if (cur < 0)
		return openat2_error(cur, "", e);
	for (size_t end = 0; end < len;) {
		size_t start = end;
		while (end < len && rel[end] != '/')
			end++;
		prefix[end] = '\0';
		int next = openat2_raw(ws_fd, prefix, O_PATH | O_DIRECTORY, 0, IN_WORKSPACE);
		if (next == -ENOENT) {
			const char *name = prefix + start;
			if (mkdirat(cur, name, 0755) == 0) {
				_cleanup_close_ int made =
					openat2_raw(cur, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, ONE_NAME);
				if (made < 0)
					return openat2_error(made, prefix, e);
				int r = give_to_sandbox(made, 0755, uid, gid, prefix, e);
				if (r < 0)
					return r;
			} else if (errno != EEXIST) {
				return wr_error_set(e, errno, "mkdir %s", Q(prefix));
			}
			next = openat2_raw(ws_fd, prefix, O_PATH | O_DIRECTORY, 0, IN_WORKSPACE);
		}
		if (next < 0)
			return openat2_error(next, prefix, e);
		close(cur);
		cur = next;
		if (end < len)
			prefix[end++] = '/';
	}
	return TAKE_FD(cur);
}

/* What `name` in `dir` is now: 0 when nothing, 1 for a regular file the
 * sandbox user may write, or -errno after setting the message. */
static int check_existing(int dir, const char *name, const char *rel, wr_error *e)
{
	/* O_NOFOLLOW: a symlink is refused, never written through.
	 * O_NONBLOCK: a fifo planted here must not hang the daemon. Opened,
	 * not only stat()ed: the user must be allowed to write it, as with
	 * a write in place. */
	_cleanup_close_ int fd = openat2_raw(dir, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK, 0, ONE_NAME);
	if (fd == -ENOENT)
		return 0;
	if (fd == -ELOOP)
		return fail_plain(e, ELOOP, "is a symbolic link (not followed)", Q(rel));
	if (fd == -ENXIO) /* a fifo without a reader, or a socket */
		return wr_error_set(e, 0, "%s is not a regular file", Q(rel));
	if (fd < 0)
		return openat2_error(fd, rel, e);
	struct stat st;
	if (fstat(fd, &st) < 0)
		return wr_error_set(e, errno, "stat %s", Q(rel));
	if (!S_ISREG(st.st_mode))
		return wr_error_set(e, 0, "%s is not a regular file", Q(rel));
	return 1;
}

/* Gives the finished unnamed file `fd` the name `name` in `dir`: linked
 * there when the name is free, else linked under a temporary name and
 * renamed over it (one step for anyone looking). linkat(AT_EMPTY_PATH)
 * would need CAP_DAC_READ_SEARCH, which an fsuid other than 0 drops, so
 * the link goes through /proc/self/fd. */
static int publish(int fd, int dir, const char *name, const char *rel, wr_error *e)
{
	char self[32], tmp[32];
	snprintf(self, sizeof self, "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, self, dir, name, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno != EEXIST)
		return wr_error_set(e, errno, "link %s", Q(rel));
	uint64_t nonce;
	if (getrandom(&nonce, sizeof nonce, 0) != sizeof nonce)
		return wr_error_set(e, errno, "getrandom");
	snprintf(tmp, sizeof tmp, ".warren-put-%016llx", (unsigned long long)nonce);
	if (linkat(AT_FDCWD, self, dir, tmp, AT_SYMLINK_FOLLOW) < 0)
		return wr_error_set(e, errno, "link %s", Q(rel));
	if (renameat(dir, tmp, dir, name) < 0) {
		int err = errno;
		unlinkat(dir, tmp, 0);
		return wr_error_set(e, err, "rename onto %s", Q(rel));
	}
	return 0;
}

int files_write(int ws_fd, const char *rel, const void *data, size_t len, uint64_t max_size, uid_t uid,
		gid_t gid, wr_error *e)
{
	if (!rel[0])
		return wr_error_set(e, 0, "/workspace itself cannot be written: name a file");
	if (len > max_size)
		return wr_error_set(e, EFBIG, "%s: %zu bytes, the limit is %llu", Q(rel), len,
				    (unsigned long long)max_size);

	_cleanup_(files_restore_identity) struct files_identity id;
	int r = files_become(uid, gid, &id, e);
	if (r < 0)
		return r;
	const char *slash = strrchr(rel, '/');
	const char *name = slash ? slash + 1 : rel;
	_cleanup_close_ int dir = open_parent_dirs(ws_fd, rel, slash ? (size_t)(slash - rel) : 0, uid, gid, e);
	if (dir < 0)
		return dir;
	if ((r = check_existing(dir, name, rel, e)) < 0)
		return r;
	/* The content goes into an unnamed file first: a write that fails (a
	 * full workspace) or a writer that is killed (out of memory) leaves
	 * nothing behind, and the old content stays until the new is whole. */
	_cleanup_close_ int fd = openat(dir, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0)
		return wr_error_set(e, errno, "create %s", Q(rel));
	if ((r = give_to_sandbox(fd, 0644, uid, gid, rel, e)) < 0)
		return r;
	if ((r = write_all(fd, data, len)) < 0)
		return wr_error_set(e, -r, "write %s", Q(rel));
	return publish(fd, dir, name, rel, e);
}

int files_mkdir(int ws_fd, const char *rel, uid_t uid, gid_t gid, wr_error *e)
{
	_cleanup_(files_restore_identity) struct files_identity id;
	int r = files_become(uid, gid, &id, e);
	if (r < 0)
		return r;
	int dir = open_parent_dirs(ws_fd, rel, strlen(rel), uid, gid, e);
	if (dir < 0)
		return dir;
	close(dir);
	return 0;
}

/* Whether rel names something other than a file, directory or symlink. */
static bool is_special(int ws_fd, const char *rel)
{
	_cleanup_close_ int fd = openat2_raw(ws_fd, rel[0] ? rel : ".", O_PATH | O_NOFOLLOW, 0, IN_WORKSPACE);
	struct stat st;
	return fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode) &&
	       !S_ISLNK(st.st_mode);
}

int files_open_read(int ws_fd, const char *rel, uint64_t max_size, uid_t uid, gid_t gid, struct stat *st,
		    wr_error *e)
{
	_cleanup_(files_restore_identity) struct files_identity id;
	int r = files_become(uid, gid, &id, e);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = files_openat(ws_fd, rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0, e);
	if (fd < 0 && fd != -ENOENT && fd != -ELOOP && is_special(ws_fd, rel))
		/* a socket cannot be opened (ENXIO), a device on the nodev
		 * workspace neither (EACCES): say what it is instead */
		return wr_error_set(e, 0, "%s is not a regular file or a directory", Q(rel));
	if (fd < 0)
		return fd;
	if (fstat(fd, st) < 0)
		return wr_error_set(e, errno, "stat %s", Q(rel));
	if (S_ISDIR(st->st_mode))
		return TAKE_FD(fd);
	if (!S_ISREG(st->st_mode)) /* a fifo (opened without blocking) */
		return wr_error_set(e, 0, "%s is not a regular file or a directory", Q(rel));
	if ((uint64_t)st->st_size > max_size)
		return wr_error_set(e, EFBIG, "%s: %llu bytes, the limit is %llu", Q(rel),
				    (unsigned long long)st->st_size, (unsigned long long)max_size);
	return TAKE_FD(fd);
}

/* One name in `dir` (never a symlink, never across a mount) as a directory
 * stream; NULL with *r = -errno. */
static DIR *opendir_at(int dir, const char *name, int *r)
{
	int fd = openat2_raw(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, ONE_NAME);
	if (fd < 0) {
		*r = fd;
		return NULL;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		*r = -errno;
		close(fd);
	}
	return d;
}

const char *files_type_name(enum files_type t)
{
	switch (t) {
	case FILES_FILE: return "file";
	case FILES_DIR: return "directory";
	case FILES_SYMLINK: return "symlink";
	default: return "other";
	}
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct files_entry *)a)->name, ((const struct files_entry *)b)->name);
}

void files_listing_free(struct files_listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->entries[i].name);
	free(l->entries);
	*l = (struct files_listing){ 0 };
}

int files_list(int dir_fd, const char *rel, size_t max_entries, struct files_listing *out, wr_error *e)
{
	*out = (struct files_listing){ 0 };
	/* A fresh open file description: its own offset, and closedir() may
	 * close it without touching the caller's fd. */
	int r;
	_cleanup_closedir_ DIR *d = opendir_at(dir_fd, ".", &r);
	if (!d)
		return wr_error_set(e, -r, "list %s", Q(rel));
	struct files_listing l = { 0 };
	size_t cap = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno) {
				int saved = errno;
				files_listing_free(&l);
				return wr_error_set(e, saved, "list %s", Q(rel));
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (l.n == max_entries) {
			l.truncated = true;
			break;
		}
		struct stat st;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone since readdir */
		if (l.n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct files_entry *n = reallocarray(l.entries, ncap, sizeof *n);
			if (!n) {
				files_listing_free(&l);
				return wr_error_set(e, ENOMEM, "list %s", Q(rel));
			}
			l.entries = n;
			cap = ncap;
		}
		struct files_entry *en = &l.entries[l.n];
		en->name = strdup(de->d_name);
		if (!en->name) {
			files_listing_free(&l);
			return wr_error_set(e, ENOMEM, "list %s", Q(rel));
		}
		l.n++;
		en->name_is_utf8 = utf8_valid(en->name, strlen(en->name));
		en->type = S_ISREG(st.st_mode) ? FILES_FILE :
			   S_ISDIR(st.st_mode) ? FILES_DIR :
			   S_ISLNK(st.st_mode) ? FILES_SYMLINK : FILES_OTHER;
		en->size = (uint64_t)st.st_size;
		en->mtime = st.st_mtim;
	}
	if (l.n > 1)
		qsort(l.entries, l.n, sizeof *l.entries, entry_cmp);
	*out = l;
	return 0;
}

static int remove_entry(int dir, const char *name, const char *rel, int depth, wr_error *e);

/* Empties the directory `name` in `dir`, then removes it. Returns 1 when
 * `name` is not a directory (any more): the sandbox swapped it for a file
 * or a symlink, which the caller then unlinks. */
static int remove_tree(int dir, const char *name, const char *rel, int depth, wr_error *e)
{
	if (depth > DELETE_MAX_DEPTH)
		return wr_error_set(e, 0, "delete %s: more than %d directory levels", Q(rel), DELETE_MAX_DEPTH);
	/* ONE_NAME: a symlink swapped in here fails (ELOOP), never followed. */
	int r;
	_cleanup_closedir_ DIR *d = opendir_at(dir, name, &r);
	if (!d && (r == -ENOTDIR || r == -ELOOP))
		return 1;
	if (!d && r == -ENOENT)
		return 0;
	if (!d)
		return wr_error_set(e, -r, "delete %s", Q(rel));
	/* The sandbox may keep adding entries: a few passes, then give up. */
	for (int pass = 0; pass < 4; pass++) {
		struct dirent *de;
		rewinddir(d);
		while ((errno = 0, de = readdir(d))) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			r = remove_entry(dirfd(d), de->d_name, rel, depth + 1, e);
			if (r < 0)
				return r;
		}
		if (errno)
			return wr_error_set(e, errno, "delete %s", Q(rel));
		if (unlinkat(dir, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return 0;
		if (errno == ENOTDIR)
			return 1;
		if (errno != ENOTEMPTY)
			break;
	}
	return wr_error_set(e, errno, "delete %s", Q(rel));
}

/* Removes one name in `dir`: unlinked as it is (a symlink is a file here),
 * or emptied first when it is a directory. A name already gone is fine. */
static int remove_entry(int dir, const char *name, const char *rel, int depth, wr_error *e)
{
	for (int tries = 0; tries < 4; tries++) {
		if (unlinkat(dir, name, 0) == 0 || errno == ENOENT)
			return 0;
		if (errno != EISDIR)
			return wr_error_set(e, errno, "delete %s", Q(rel));
		int r = remove_tree(dir, name, rel, depth, e);
		if (r <= 0)
			return r;
	}
	return wr_error_set(e, EAGAIN, "delete %s: it keeps changing", Q(rel));
}

int files_delete(int ws_fd, const char *rel, uid_t uid, gid_t gid, wr_error *e)
{
	if (!rel[0])
		return wr_error_set(e, 0, "/workspace itself cannot be deleted");
	_cleanup_(files_restore_identity) struct files_identity id;
	int r = files_become(uid, gid, &id, e);
	if (r < 0)
		return r;
	const char *slash = strrchr(rel, '/');
	const char *name = slash ? slash + 1 : rel;
	char parent[FILES_PATH_MAX + 1] = "";
	if (slash) {
		memcpy(parent, rel, (size_t)(slash - rel));
		parent[slash - rel] = '\0';
	}
	_cleanup_close_ int dir = files_openat(ws_fd, parent, O_PATH | O_DIRECTORY, 0, e);
	if (dir < 0) {
		if (dir == -ENOENT)
			return wr_error_set(e, ENOENT, "%s", Q(rel));
		return dir;
	}
	/* Missing is an error here (404), unlike inside the tree. */
	struct stat st;
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return wr_error_set(e, errno, "%s", Q(rel));
	return remove_entry(dir, name, rel, 0, e);
}
