/* Workspace file access for the daemon that can never leave the workspace.
 *
 * Every path a user gives is resolved from a directory fd of the workspace
 * with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV),
 * and the last component is opened with O_NOFOLLOW, so a sandbox that plants
 * or swaps symlinks while the daemon works (CVE-2018-15664 style) can point
 * nothing outside the workspace. Without openat2 (Linux < 5.6) every call
 * fails with -ENOSYS: there is no fallback to string checks.
 *
 * Paths, as users write them (files_normalize):
 *   "a/b", "/a/b" and "/workspace/a/b" all mean <workspace>/a/b; "", "/" and
 *   "/workspace" mean the workspace itself. Only a leading "/workspace"
 *   component is stripped: "workspace/a" is the directory "workspace" inside
 *   the workspace. "." and empty components are dropped and ".." is applied
 *   lexically; a path whose ".." would climb above the workspace is refused
 *   (-EINVAL) rather than silently clamped, so the caller can answer 400.
 *   NUL bytes are refused (-EINVAL), so are paths longer than 4095 bytes and
 *   components longer than 255 (-ENAMETOOLONG).
 * Symbolic links:
 *   inside a path they are followed with the workspace as the root: an
 *   absolute target or ".." cannot climb out ("/" is the workspace, not the
 *   sandbox's root). As the LAST component they are never followed: read and
 *   write refuse them with -ELOOP, delete removes the link itself, listing
 *   reports them as type "symlink".
 *
 * Identity: write, read and delete run as the sandbox user's host uid:gid
 * (setfsuid/setfsgid on the calling thread only, restored before return;
 * (uid_t)-1 or (gid_t)-1 keeps the caller's). So the daemon can do nothing
 * in the workspace that the sandbox user could not (-EACCES otherwise),
 * what it creates is that user's, and a workspace mounted in the sandbox's
 * user namespace accepts the creation (an unmapped fsuid gets EOVERFLOW).
 *
 * Every function returns 0 (or an fd) or -errno and sets one message in `e`
 * that names the user's (normalized) path, never the host path. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "error.h"

#define FILES_PATH_MAX 4095 /* bytes of a normalized path, like PATH_MAX - 1 */
#define FILES_NAME_MAX 255  /* bytes of one component */

/* Normalizes `len` bytes of `path` (may hold NULs: they are refused) into
 * `out` (FILES_PATH_MAX + 1 bytes): workspace-relative, no leading or
 * trailing slash, no "." or "..", "" for the workspace itself. */
int files_normalize(const char *path, size_t len, char out[FILES_PATH_MAX + 1], wr_error *e);

/* Opens a normalized path (`rel`, "" for the workspace) from `ws_fd` with
 * openat2 and the flags above; `flags` are open(2) flags (O_CLOEXEC is
 * added). Retries the kernel's EAGAIN (a rename raced a ".." lookup).
 * Returns the fd. */
int files_openat(int ws_fd, const char *rel, int flags, mode_t mode, wr_error *e);

/* Writes `len` bytes of `data` as the regular file `rel` (created, or
 * replaced: a new file takes the name), creating missing parent
 * directories (0755), as uid:gid; everything it creates is chowned to
 * uid:gid and given those modes. The content is written to an unnamed
 * file (O_TMPFILE) and linked into place whole: a failed write (ENOSPC) or
 * a killed writer leaves no partial file and the old content in place.
 * -EFBIG when len > max_size; -EISDIR, -ELOOP (a symlink), -EINVAL (the
 * workspace itself, or not a regular file), -ENOTDIR (a parent is a file),
 * -EACCES (an existing file the user may not write). */
int files_write(int ws_fd, const char *rel, const void *data, size_t len, uint64_t max_size, uid_t uid,
		gid_t gid, wr_error *e);

/* Opens `rel` for reading and fstat()s it into *st. Returns an fd that is
 * either a regular file of at most max_size bytes (-EFBIG otherwise) or a
 * directory (S_ISDIR(st->st_mode): list it with files_list). -ELOOP for a
 * symlink, -EINVAL for anything else (fifo, socket, device). The fd is
 * O_NONBLOCK (a fifo must never block the daemon), harmless on files. */
int files_open_read(int ws_fd, const char *rel, uint64_t max_size, uid_t uid, gid_t gid, struct stat *st,
		    wr_error *e);

enum files_type { FILES_FILE, FILES_DIR, FILES_SYMLINK, FILES_OTHER };
const char *files_type_name(enum files_type t); /* "file", "directory", "symlink", "other" */

struct files_entry {
	char *name;          /* raw bytes as on disk (NUL-terminated) */
	bool name_is_utf8;   /* false: callers must encode it (the daemon sends base64) */
	enum files_type type;
	uint64_t size;       /* st_size (a symlink: its target's length) */
	struct timespec mtime;
};
struct files_listing {
	struct files_entry *entries; /* sorted by name (bytewise) */
	size_t n;
	bool truncated;              /* more than max_entries were there */
};
/* Lists the directory `dir_fd` (from files_open_read; not consumed; no
 * identity switch: it only reads names and lstat()s them in that fd), at
 * most max_entries entries, "." and ".." left out. `rel` only names it in
 * messages. Entries that vanish while listing are left out. */
int files_list(int dir_fd, const char *rel, size_t max_entries, struct files_listing *out, wr_error *e);
void files_listing_free(struct files_listing *l);

/* Creates the directory `rel` and any missing parents (0755, given to
 * uid:gid), as `mkdir -p` does: a directory already there is success.
 * Symlinks inside the path resolve within the workspace, as for writes.
 * -ENOTDIR when rel or a parent is something other than a directory. */
int files_mkdir(int ws_fd, const char *rel, uid_t uid, gid_t gid, wr_error *e);

/* Removes `rel`: a file or a symlink (never its target), or a directory
 * and everything below it. Never follows a symlink and never crosses a
 * mount. -EINVAL for the workspace itself, -ENOENT when missing. */
int files_delete(int ws_fd, const char *rel, uid_t uid, gid_t gid, wr_error *e);

/* The calling thread's file system identity (setfsuid/setfsgid are per
 * thread): files_become switches it to uid:gid ((uid_t)-1 or (gid_t)-1:
 * no switch) and saves the old one, which files_restore_identity puts
 * back (use it as a cleanup attribute). Opening as the sandbox user means
 * the daemon opens nothing that user could not. */
struct files_identity {
	uid_t uid;
	gid_t gid;
	bool switched;
};
int files_become(uid_t uid, gid_t gid, struct files_identity *saved, wr_error *e);
void files_restore_identity(struct files_identity *id);

/* openat2 of `path` below the directory dir_fd with RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV: no
 * symlink anywhere (-ELOOP), no "..", no mount crossed (-EXDEV). O_CLOEXEC
 * is added. Returns the fd or -errno (no message). */
int files_open_beneath(int dir_fd, const char *path, int flags, mode_t mode);
/* The same with the caller's RESOLVE_* flags (linux/openat2.h); EAGAIN
 * is retried. */
int files_openat2(int dir_fd, const char *path, int flags, mode_t mode, uint64_t resolve);

/* Quotes a user path for a message (which must be UTF-8 for JSON): control
 * bytes as \xNN, and every byte >= 0x80 too unless the whole path is valid
 * UTF-8; cut at a character boundary with "..." to fit `outlen` (NUL
 * included). */
void files_quote(const char *path, size_t len, char *out, size_t outlen);
