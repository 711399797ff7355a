/* files: workspace paths that cannot leave the workspace. A temp directory
 * holds "ws" (the workspace) and "outside" with a canary file; symlinks
 * planted in ws (to /, to ../.., to outside, as the last component) and a
 * thread swapping a directory for a symlink to "/" must never let a write,
 * read or delete touch "outside". No root needed. */
#include "config.h"

#include "unit.h"
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define CANARY "CANARY outside the workspace\n"
#define NO_LIMIT UINT64_MAX
#define AS_CALLER (uid_t)-1, (gid_t)-1 /* no identity switch */

static char base[64];      /* /tmp/test-files-XXXXXX */
static char ws_path[128];  /* base/ws */
static char out_path[128]; /* base/outside */
static int ws_fd = -1;

static void write_host(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "fopen %s", path);
	fputs(text, f);
	fclose(f);
}

static char *slurp_host(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void in_ws(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/%s", ws_path, rel);
}

static void plant_symlink(const char *target, const char *rel)
{
	char p[512];
	in_ws(p, sizeof p, rel);
	ck_assert_msg(symlink(target, p) == 0, "symlink %s -> %s", p, target);
}

/* The outside directory holds exactly the canary, unchanged. */
static void assert_outside_intact(void)
{
	char p[256];
	snprintf(p, sizeof p, "%s/canary", out_path);
	const char *text = slurp_host(p);
	ck_assert_msg(text != NULL, "the canary outside the workspace is gone");
	ck_assert_str_eq(text, CANARY);
	int entries = 0;
	DIR *d = opendir(out_path);
	ck_assert_ptr_nonnull(d);
	for (struct dirent *de; (de = readdir(d));)
		entries += de->d_name[0] != '.';
	closedir(d);
	ck_assert_msg(entries == 1, "%d entries appeared outside the workspace", entries - 1);
}

static void setup(void)
{
	snprintf(base, sizeof base, "/tmp/test-files-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
	snprintf(ws_path, sizeof ws_path, "%s/ws", base);
	snprintf(out_path, sizeof out_path, "%s/outside", base);
	ck_assert_int_eq(mkdir(ws_path, 0755), 0);
	ck_assert_int_eq(mkdir(out_path, 0755), 0);
	char p[256];
	snprintf(p, sizeof p, "%s/canary", out_path);
	write_host(p, CANARY);
	ws_fd = open(ws_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(ws_fd, 0);
}

static void teardown(void)
{
	close(ws_fd);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
	ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

/* Normalizes and writes like the daemon does. */
static int put(const char *user_path, const char *text, uint64_t max, wr_error *e)
{
	char rel[FILES_PATH_MAX + 1];
	int r = files_normalize(user_path, strlen(user_path), rel, e);
	if (r < 0)
		return r;
	return files_write(ws_fd, rel, text, strlen(text), max, AS_CALLER, e);
}

/* Reads a whole file into a static buffer, or returns -errno. */
static int get(const char *user_path, const char **text, wr_error *e)
{
	static char buf[8192];
	char rel[FILES_PATH_MAX + 1];
	int r = files_normalize(user_path, strlen(user_path), rel, e);
	if (r < 0)
		return r;
	struct stat st;
	int fd = files_open_read(ws_fd, rel, NO_LIMIT, AS_CALLER, &st, e);
	if (fd < 0)
		return fd;
	ssize_t n = S_ISREG(st.st_mode) ? read(fd, buf, sizeof buf - 1) : -1;
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	*text = buf;
	return 0;
}

static int del(const char *user_path, wr_error *e)
{
	char rel[FILES_PATH_MAX + 1];
	int r = files_normalize(user_path, strlen(user_path), rel, e);
	return r < 0 ? r : files_delete(ws_fd, rel, AS_CALLER, e);
}

static const struct { const char *in; int r; const char *out; } norm_cases[] = {
	{ "a/b", 0, "a/b" },
	{ "/a/b", 0, "a/b" },
	{ "/workspace/a/b", 0, "a/b" },
	{ "/workspace", 0, "" },
	{ "/workspace/", 0, "" },
	{ "", 0, "" },
	{ "/", 0, "" },
	{ ".", 0, "" },
	{ "workspace/a", 0, "workspace/a" },
	{ "/workspacex/a", 0, "workspacex/a" },
	{ "/workspace/workspace/a", 0, "workspace/a" },
	{ "a//b/./c/", 0, "a/b/c" },
	{ "a/../b", 0, "b" },
	{ "a/b/../../c", 0, "c" },
	{ "a/..", 0, "" },
	{ "...", 0, "..." },
	{ "..a/b..", 0, "..a/b.." },
	{ "..", -EINVAL, NULL },
	{ "/..", -EINVAL, NULL },
	{ "a/../../b", -EINVAL, NULL },
	{ "/workspace/../etc/passwd", -EINVAL, NULL },
	{ "../../../../etc/passwd", -EINVAL, NULL },
};

START_TEST(test_normalize)
{
	char out[FILES_PATH_MAX + 1];
	wr_error e = { 0 };
	int r = files_normalize(norm_cases[_i].in, strlen(norm_cases[_i].in), out, &e);
	ck_assert_msg(r == norm_cases[_i].r, "normalize(\"%s\") = %d, want %d", norm_cases[_i].in, r,
		      norm_cases[_i].r);
	if (r == 0)
		ck_assert_str_eq(out, norm_cases[_i].out);
	else
		ck_assert_msg(strstr(e.message, norm_cases[_i].in) && strstr(e.message, "leaves the workspace"),
			      "message \"%s\" names the path", e.message);
}
END_TEST

START_TEST(test_normalize_limits)
{
	char out[FILES_PATH_MAX + 1];
	wr_error e = { 0 };
	ck_assert_int_eq(files_normalize("a\0b", 3, out, &e), -EINVAL);
	ck_assert_ptr_nonnull(strstr(e.message, "NUL"));
	ck_assert_ptr_nonnull(strstr(e.message, "a\\x00b"));

	static char path[8192];
	memset(path, 'a', 255);
	path[255] = '\0';
	ck_assert_int_eq(files_normalize(path, 255, out, &e), 0);
	memset(path, 'a', 256);
	ck_assert_int_eq(files_normalize(path, 256, out, &e), -ENAMETOOLONG);

	/* 4095 bytes is the most: "aaaa/aaaa/…" */
	for (size_t i = 0; i < sizeof path; i++)
		path[i] = i % 5 == 3 ? '/' : 'a'; /* ends in 'a' at 4095 */
	ck_assert_int_eq(files_normalize(path, FILES_PATH_MAX, out, &e), 0);
	ck_assert_uint_eq(strlen(out), FILES_PATH_MAX);
	ck_assert_int_eq(files_normalize(path, FILES_PATH_MAX + 1, out, &e), -ENAMETOOLONG);
	ck_assert_int_eq(files_normalize(path, sizeof path, out, &e), -ENAMETOOLONG);
	ck_assert_msg(strlen(e.message) < 400 && strstr(e.message, "..."), "long path cut in \"%s\"", e.message);
}
END_TEST

START_TEST(test_quote)
{
	char out[16];
	files_quote("a\nb", 3, out, sizeof out);
	ck_assert_str_eq(out, "a\\x0ab");
	files_quote("\xff" "a", 2, out, sizeof out);
	ck_assert_str_eq(out, "\\xffa");
	files_quote("h\xc3\xa9", 3, out, sizeof out); /* valid UTF-8 stays */
	ck_assert_str_eq(out, "h\xc3\xa9");
	files_quote("0123456789abcdefghij", 20, out, sizeof out);
	ck_assert_str_eq(out, "0123456789ab...");
	files_quote("0123456789\xc3\xa9\xc3\xa9\xc3\xa9", 16, out, sizeof out);
	ck_assert_str_eq(out, "0123456789\xc3\xa9...");
	files_quote("01234567890\xc3\xa9\xc3\xa9", 15, out, 15); /* never half a character */
	ck_assert_str_eq(out, "01234567890...");
	files_quote("0123456789abcde", 15, out, sizeof out); /* fits exactly */
	ck_assert_str_eq(out, "0123456789abcde");
}
END_TEST

START_TEST(test_write_read_nested)
{
	wr_error e = { 0 };
	mode_t old = umask(077); /* the daemon's umask must not leak into the workspace */
	ck_assert_msg(put("/workspace/d1/d2/d3/f.txt", "hello\n", NO_LIMIT, &e) == 0, "%s", e.message);
	umask(old);
	char p[512];
	struct stat st;
	in_ws(p, sizeof p, "d1/d2/d3/f.txt");
	ck_assert_str_eq(slurp_host(p), "hello\n");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	in_ws(p, sizeof p, "d1/d2");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0755);

	const char *text;
	ck_assert_int_eq(get("d1/d2/d3/f.txt", &text, &e), 0);
	ck_assert_str_eq(text, "hello\n");
	/* overwrite truncates */
	ck_assert_int_eq(put("d1/d2/d3/f.txt", "x", NO_LIMIT, &e), 0);
	ck_assert_int_eq(get("/d1/d2/d3/f.txt", &text, &e), 0);
	ck_assert_str_eq(text, "x");
	/* empty file */
	ck_assert_int_eq(put("empty", "", NO_LIMIT, &e), 0);
	ck_assert_int_eq(get("empty", &text, &e), 0);
	ck_assert_str_eq(text, "");

	ck_assert_int_eq(get("missing", &text, &e), -ENOENT);
	ck_assert_str_eq(e.message, "missing: No such file or directory");
	ck_assert_int_eq(put("d1/d2/d3/f.txt/under", "x", NO_LIMIT, &e), -ENOTDIR);
	ck_assert_int_eq(put("d1/d2", "x", NO_LIMIT, &e), -EISDIR);
	ck_assert_int_eq(put("/workspace", "x", NO_LIMIT, &e), -EINVAL);
	ck_assert_int_eq(put("", "x", NO_LIMIT, &e), -EINVAL);
	ck_assert_msg(strstr(e.message, ws_path) == NULL, "host path leaked: %s", e.message);
}
END_TEST

/* As root, files act as the sandbox user: what they create is that
 * user's, what that user may not touch they may not either, and the
 * thread's identity is back to root afterwards. (Root only: acting as
 * another uid cannot be checked without it.) */
START_TEST(test_identity)
{
	const uid_t uid = 12345;
	const gid_t gid = 23456;
	ck_assert_int_eq(chown(ws_path, uid, gid), 0); /* the workspace is the sandbox user's */
	char p[512];
	in_ws(p, sizeof p, "rootonly");
	write_host(p, "secret");
	ck_assert_int_eq(chmod(p, 0600), 0);

	wr_error e = { 0 };
	ck_assert_msg(files_write(ws_fd, "o1/o2/f", "data", 4, NO_LIMIT, uid, gid, &e) == 0, "%s", e.message);
	const char *paths[] = { "o1", "o1/o2", "o1/o2/f" };
	struct stat st;
	for (size_t i = 0; i < N(paths); i++) {
		in_ws(p, sizeof p, paths[i]);
		ck_assert_int_eq(lstat(p, &st), 0);
		ck_assert_uint_eq(st.st_uid, uid);
		ck_assert_uint_eq(st.st_gid, gid);
	}
	ck_assert_int_eq(files_open_read(ws_fd, "rootonly", NO_LIMIT, uid, gid, &st, &e), -EACCES);
	ck_assert_int_eq(files_write(ws_fd, "rootonly", "x", 1, NO_LIMIT, uid, gid, &e), -EACCES);
	int fd = files_open_read(ws_fd, "o1/o2/f", NO_LIMIT, uid, gid, &st, &e);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(files_delete(ws_fd, "o1", uid, gid, &e), 0);
	/* back to root on this thread */
	ck_assert_int_eq(setfsuid((uid_t)-1), 0);
	ck_assert_int_eq(setfsgid((gid_t)-1), 0);
	in_ws(p, sizeof p, "rootonly");
	ck_assert_str_eq(slurp_host(p), "secret");
}
END_TEST

START_TEST(test_size_limits)
{
	wr_error e = { 0 };
	ck_assert_int_eq(put("big", "0123456789A", 10, &e), -EFBIG);
	ck_assert_ptr_nonnull(strstr(e.message, "big: 11 bytes, the limit is 10"));
	char p[512];
	in_ws(p, sizeof p, "big");
	ck_assert_int_eq(access(p, F_OK), -1); /* nothing created */
	ck_assert_int_eq(put("big", "0123456789", 10, &e), 0);

	struct stat st;
	ck_assert_int_eq(files_open_read(ws_fd, "big", 9, AS_CALLER, &st, &e), -EFBIG);
	int fd = files_open_read(ws_fd, "big", 10, AS_CALLER, &st, &e);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(st.st_size, 10);
	close(fd);
}
END_TEST

/* A write that fails half way (here at RLIMIT_FSIZE; in a sandbox at a
 * full workspace or an OOM kill) leaves no partial file: the old content
 * stays, a new name is not created, no temporary is left. */
START_TEST(test_failed_write_leaves_nothing)
{
	wr_error e = { 0 };
	ck_assert_int_eq(put("keep", "old", NO_LIMIT, &e), 0);
	signal(SIGXFSZ, SIG_IGN);
	struct rlimit saved, small;
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &saved), 0);
	small = (struct rlimit){ 4, saved.rlim_max };
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &small), 0);
	int r1 = put("keep", "0123456789", NO_LIMIT, &e);
	int r2 = put("sub/new", "0123456789", NO_LIMIT, &e);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &saved), 0); /* check writes its results to a file */
	ck_assert_int_eq(r1, -EFBIG);
	ck_assert_int_eq(r2, -EFBIG);
	char p[512];
	in_ws(p, sizeof p, "keep");
	ck_assert_str_eq(slurp_host(p), "old");
	in_ws(p, sizeof p, "sub/new");
	ck_assert_int_eq(access(p, F_OK), -1);
	const char *entries[] = { ws_path, NULL, NULL };
	char sub[512];
	in_ws(sub, sizeof sub, "sub");
	entries[1] = sub;
	for (size_t i = 0; entries[i]; i++) {
		DIR *d = opendir(entries[i]);
		ck_assert_ptr_nonnull(d);
		for (struct dirent *de; (de = readdir(d));)
			ck_assert_msg(de->d_name[0] != '.' || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."),
				      "%s left in %s", de->d_name, entries[i]);
		closedir(d);
	}
	/* and a replacement that fits replaces whole */
	ck_assert_int_eq(put("keep", "new", NO_LIMIT, &e), 0);
	in_ws(p, sizeof p, "keep");
	ck_assert_str_eq(slurp_host(p), "new");
}
END_TEST

/* ".." and absolute paths stay in the workspace even when a caller skips
 * files_normalize: RESOLVE_IN_ROOT clamps them. */
START_TEST(test_unnormalized_paths_clamped)
{
	wr_error e = { 0 };
	struct stat st;
	char rel[256];
	snprintf(rel, sizeof rel, "../outside/canary");
	ck_assert_int_eq(files_open_read(ws_fd, rel, NO_LIMIT, AS_CALLER, &st, &e), -ENOENT);
	snprintf(rel, sizeof rel, "%s/canary", out_path);
	ck_assert_int_eq(files_open_read(ws_fd, rel, NO_LIMIT, AS_CALLER, &st, &e), -ENOENT);
	ck_assert_int_eq(files_write(ws_fd, "../outside/escaped", "x", 1, NO_LIMIT, AS_CALLER, &e), 0);
	char p[512];
	in_ws(p, sizeof p, "outside/escaped");
	ck_assert_str_eq(slurp_host(p), "x"); /* clamped into the workspace */
	assert_outside_intact();
}
END_TEST

START_TEST(test_symlink_to_root_and_up)
{
	wr_error e = { 0 };
	plant_symlink("/", "root");
	plant_symlink("../../..", "up");
	plant_symlink(out_path, "out");
	char path[512];
	const char *text;

	/* through a link to "/": <ws>/<base>/outside/canary, which is not there */
	snprintf(path, sizeof path, "root%s/canary", out_path);
	ck_assert_int_eq(get(path, &text, &e), -ENOENT);
	ck_assert_int_eq(get("up/outside/canary", &text, &e), -ENOENT);
	ck_assert_int_eq(get("up/../outside/canary", &text, &e), -ENOENT); /* lexical: outside/canary */
	ck_assert_int_eq(get("out/canary", &text, &e), -ENOENT);
	/* writes land inside, parents created there */
	snprintf(path, sizeof path, "root%s/evil", out_path);
	ck_assert_msg(put(path, "in", NO_LIMIT, &e) == 0, "%s", e.message);
	char p[512];
	snprintf(p, sizeof p, "%s%s/evil", ws_path, out_path);
	ck_assert_str_eq(slurp_host(p), "in");
	ck_assert_int_eq(put("up/outside/evil", "in", NO_LIMIT, &e), 0);
	in_ws(p, sizeof p, "outside/evil");
	ck_assert_str_eq(slurp_host(p), "in");
	/* an absolute link resolves inside too: <ws>/<base>/outside, made above */
	ck_assert_int_eq(put("out/evil", "in2", NO_LIMIT, &e), 0);
	snprintf(p, sizeof p, "%s%s/evil", ws_path, out_path);
	ck_assert_str_eq(slurp_host(p), "in2");
	assert_outside_intact();
}
END_TEST

START_TEST(test_symlink_last_component)
{
	wr_error e = { 0 };
	char target[256];
	snprintf(target, sizeof target, "%s/canary", out_path);
	plant_symlink(target, "link");
	plant_symlink("inside", "inlink");
	snprintf(target, sizeof target, "%s/new", out_path);
	plant_symlink(target, "dangling");
	ck_assert_int_eq(put("inside", "real", NO_LIMIT, &e), 0);
	const char *text;

	ck_assert_int_eq(put("link", "pwned", NO_LIMIT, &e), -ELOOP);
	ck_assert_str_eq(e.message, "link is a symbolic link (not followed)");
	ck_assert_int_eq(get("link", &text, &e), -ELOOP);
	ck_assert_str_eq(e.message, "link is a symbolic link (not followed)");
	ck_assert_int_eq(put("dangling", "pwned", NO_LIMIT, &e), -ELOOP);
	/* refused even when the target is inside: one rule, no surprises */
	ck_assert_int_eq(get("inlink", &text, &e), -ELOOP);
	ck_assert_int_eq(put("inlink", "x", NO_LIMIT, &e), -ELOOP);
	ck_assert_int_eq(get("inside", &text, &e), 0);
	ck_assert_str_eq(text, "real");
	assert_outside_intact();
}
END_TEST

START_TEST(test_special_files)
{
	wr_error e = { 0 };
	char p[512];
	in_ws(p, sizeof p, "fifo");
	ck_assert_int_eq(mkfifo(p, 0644), 0);
	const char *text;
	/* neither may block the daemon */
	ck_assert_int_eq(put("fifo", "x", NO_LIMIT, &e), -EINVAL);
	ck_assert_str_eq(e.message, "fifo is not a regular file");
	ck_assert_int_eq(get("fifo", &text, &e), -EINVAL);
	ck_assert_str_eq(e.message, "fifo is not a regular file or a directory");

	/* a unix socket cannot even be opened (ENXIO): still "not a regular
	 * file", never an internal error */
	in_ws(p, sizeof p, "sock");
	int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	ck_assert_int_lt(strlen(p), sizeof sun.sun_path);
	strcpy(sun.sun_path, p);
	ck_assert_int_eq(bind(sock, (struct sockaddr *)&sun, sizeof sun), 0);
	e = (wr_error){ 0 };
	ck_assert_int_eq(get("sock", &text, &e), -EINVAL);
	ck_assert_str_eq(e.message, "sock is not a regular file or a directory");
	close(sock);
}
END_TEST

START_TEST(test_delete)
{
	wr_error e = { 0 };
	char p[512];
	ck_assert_int_eq(put("tree/a/b/file", "x", NO_LIMIT, &e), 0);
	ck_assert_int_eq(put("tree/top", "x", NO_LIMIT, &e), 0);
	plant_symlink(out_path, "tree/a/outlink");
	plant_symlink(out_path, "outdir");
	plant_symlink("/", "root");

	/* a symlink to a directory outside: the link goes, the outside stays */
	ck_assert_int_eq(del("outdir", &e), 0);
	in_ws(p, sizeof p, "outdir");
	ck_assert_int_eq(access(p, F_OK), -1);
	assert_outside_intact();
	/* through a symlink to "/": clamped, so nothing to delete */
	char path[512];
	snprintf(path, sizeof path, "root%s/canary", out_path);
	ck_assert_int_eq(del(path, &e), -ENOENT);
	snprintf(path, sizeof path, "root%s", out_path);
	ck_assert_int_eq(del(path, &e), -ENOENT);
	/* a tree holding a symlink to outside */
	ck_assert_msg(del("/workspace/tree", &e) == 0, "%s", e.message);
	in_ws(p, sizeof p, "tree");
	ck_assert_int_eq(access(p, F_OK), -1);
	assert_outside_intact();

	ck_assert_int_eq(del("tree", &e), -ENOENT);
	ck_assert_str_eq(e.message, "tree: No such file or directory");
	ck_assert_int_eq(del("", &e), -EINVAL);
	ck_assert_int_eq(del("/workspace", &e), -EINVAL);
	ck_assert_int_eq(del("a/../..", &e), -EINVAL);
	ck_assert_int_eq(del("root", &e), 0); /* the link to "/" itself */
	ck_assert_int_eq(access("/", F_OK), 0);
}
END_TEST

/* mkdir -p: parents made, an existing directory is fine, a file in the
 * way is refused, and a symlink in the path stays inside the workspace. */
START_TEST(test_mkdir)
{
	wr_error e = { 0 };
	char rel[FILES_PATH_MAX + 1], p[512];
	struct stat st;
	ck_assert_int_eq(files_normalize("/workspace/m1/m2/m3", 19, rel, &e), 0);
	ck_assert_msg(files_mkdir(ws_fd, rel, AS_CALLER, &e) == 0, "%s", e.message);
	in_ws(p, sizeof p, "m1/m2/m3");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	ck_assert_msg(files_mkdir(ws_fd, rel, AS_CALLER, &e) == 0, "again: %s", e.message);
	ck_assert_int_eq(files_mkdir(ws_fd, "", AS_CALLER, &e), 0); /* the workspace itself */

	ck_assert_int_eq(put("m1/file", "x", NO_LIMIT, &e), 0);
	ck_assert_int_eq(files_mkdir(ws_fd, "m1/file", AS_CALLER, &e), -ENOTDIR);
	ck_assert_str_eq(e.message, "m1/file: Not a directory");
	ck_assert_int_eq(files_mkdir(ws_fd, "m1/file/under", AS_CALLER, &e), -ENOTDIR);

	plant_symlink("../../..", "up");
	ck_assert_msg(files_mkdir(ws_fd, "up/made", AS_CALLER, &e) == 0, "%s", e.message);
	in_ws(p, sizeof p, "made");
	ck_assert_int_eq(stat(p, &st), 0);
	assert_outside_intact();
}
END_TEST

START_TEST(test_list)
{
	wr_error e = { 0 };
	ck_assert_int_eq(put("dir/b.txt", "12345", NO_LIMIT, &e), 0);
	ck_assert_int_eq(put("dir/a.txt", "", NO_LIMIT, &e), 0);
	ck_assert_int_eq(put("dir/sub/x", "", NO_LIMIT, &e), 0);
	ck_assert_int_eq(put("dir/\xff\xfe", "zz", NO_LIMIT, &e), 0);
	plant_symlink("/etc", "dir/link");

	struct stat st;
	int fd = files_open_read(ws_fd, "dir", NO_LIMIT, AS_CALLER, &st, &e);
	ck_assert_int_ge(fd, 0);
	ck_assert(S_ISDIR(st.st_mode));
	struct files_listing l;
	ck_assert_int_eq(files_list(fd, "dir", 100, &l, &e), 0);
	ck_assert_uint_eq(l.n, 5);
	ck_assert(!l.truncated);
	static const struct { const char *name; enum files_type type; uint64_t size; bool utf8; } want[] = {
		{ "a.txt", FILES_FILE, 0, true },
		{ "b.txt", FILES_FILE, 5, true },
		{ "link", FILES_SYMLINK, 4, true },
		{ "sub", FILES_DIR, 0, true },
		{ "\xff\xfe", FILES_FILE, 2, false },
	};
	for (size_t i = 0; i < N(want); i++) {
		ck_assert_str_eq(l.entries[i].name, want[i].name);
		ck_assert_int_eq(l.entries[i].type, want[i].type);
		if (want[i].type != FILES_DIR)
			ck_assert_uint_eq(l.entries[i].size, want[i].size);
		ck_assert_int_eq(l.entries[i].name_is_utf8, want[i].utf8);
		ck_assert_int_gt(l.entries[i].mtime.tv_sec, 0);
	}
	files_listing_free(&l);
	/* listing twice from the same fd works (own offset) and caps */
	ck_assert_int_eq(files_list(fd, "dir", 2, &l, &e), 0);
	ck_assert_uint_eq(l.n, 2);
	ck_assert(l.truncated);
	files_listing_free(&l);
	close(fd);

	/* the workspace itself; a symlink to a directory is not listed through */
	fd = files_open_read(ws_fd, "", NO_LIMIT, AS_CALLER, &st, &e);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(files_list(fd, "", 100, &l, &e), 0);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(l.entries[0].name, "dir");
	files_listing_free(&l);
	close(fd);
	ck_assert_int_eq(files_open_read(ws_fd, "dir/link", NO_LIMIT, AS_CALLER, &st, &e), -ELOOP);
}
END_TEST

/* CVE-2018-15664 style: a "sandbox" thread keeps exchanging a real
 * directory and a symlink to "/" under the same name while the daemon
 * writes, reads and deletes <name>/<base>/outside/canary through it. */
static atomic_bool racing;

static void *swapper(void *arg)
{
	(void)arg;
	while (atomic_load(&racing))
		renameat2(ws_fd, "race", ws_fd, "race-other", RENAME_EXCHANGE);
	return NULL;
}

static void *swapper_last(void *arg)
{
	(void)arg;
	while (atomic_load(&racing))
		renameat2(ws_fd, "racefile", ws_fd, "racefile-other", RENAME_EXCHANGE);
	return NULL;
}

START_TEST(test_race_swap_dir_and_symlink)
{
	wr_error e = { 0 };
	char p[512], path[512];
	in_ws(p, sizeof p, "race");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	plant_symlink("/", "race-other");
	snprintf(path, sizeof path, "race%s/canary", out_path);

	atomic_store(&racing, true);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, swapper, NULL), 0);
	int writes = 0, reads = 0, deletes = 0;
	for (int i = 0; i < 2000; i++) {
		int r = put(path, "WS", NO_LIMIT, &e);
		/* ENOENT: a parent made in one tree vanished with the swap */
		ck_assert_msg(r == 0 || r == -ENOENT, "write: %s", e.message);
		writes += r == 0;
		const char *text;
		if (get(path, &text, &e) == 0) {
			reads++;
			ck_assert_msg(strcmp(text, CANARY) != 0, "read the canary outside at iteration %d", i);
			ck_assert_str_eq(text, "WS");
		}
		if (i % 10 == 0)
			deletes += del(path, &e) == 0;
	}
	atomic_store(&racing, false);
	pthread_join(t, NULL);
	fprintf(stderr, "race: %d writes, %d reads, %d deletes succeeded\n", writes, reads, deletes);
	ck_assert_int_gt(writes, 0);
	assert_outside_intact();
}
END_TEST

START_TEST(test_race_swap_last_component)
{
	wr_error e = { 0 };
	char target[256];
	snprintf(target, sizeof target, "%s/canary", out_path);
	ck_assert_int_eq(put("racefile", "WS", NO_LIMIT, &e), 0);
	plant_symlink(target, "racefile-other");

	atomic_store(&racing, true);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, swapper_last, NULL), 0);
	for (int i = 0; i < 2000; i++) {
		int r = put("racefile", "WS", NO_LIMIT, &e);
		ck_assert_msg(r == 0 || r == -ELOOP || r == -ENOENT, "write: %s", e.message);
		const char *text;
		if (get("racefile", &text, &e) == 0)
			ck_assert_str_eq(text, "WS");
	}
	atomic_store(&racing, false);
	pthread_join(t, NULL);
	assert_outside_intact();
}
END_TEST

int main(void)
{
	/* Every test here is about openat2; without it there is nothing to
	 * test (and files.c refuses to work), so say so and skip. */
	struct open_how how = { .flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_IN_ROOT };
	long fd = syscall(SYS_openat2, AT_FDCWD, "/", &how, sizeof how);
	if (fd < 0 && errno == ENOSYS) {
		fprintf(stderr, "SKIP: openat2 is not available on this kernel\n");
		return 77;
	}
	if (fd >= 0)
		close((int)fd);

	Suite *s = suite_create("files");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_normalize, 0, N(norm_cases));
	tcase_add_test(tc, test_normalize_limits);
	tcase_add_test(tc, test_quote);
	tcase_add_test(tc, test_write_read_nested);
	unit_add_root_test(tc, test_identity);
	tcase_add_test(tc, test_size_limits);
	tcase_add_test(tc, test_failed_write_leaves_nothing);
	tcase_add_test(tc, test_unnormalized_paths_clamped);
	tcase_add_test(tc, test_symlink_to_root_and_up);
	tcase_add_test(tc, test_symlink_last_component);
	tcase_add_test(tc, test_special_files);
	tcase_add_test(tc, test_delete);
	tcase_add_test(tc, test_mkdir);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_race_swap_dir_and_symlink);
	tcase_add_test(tc, test_race_swap_last_component);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
