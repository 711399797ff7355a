/* warren cp: one file between here and a session's workspace, through
 * PUT and GET /v1/sessions/ID/files/PATH. Directories are refused: the
 * API moves single files, and `tar | warren exec --stdin` moves trees. */
#include "config.h"

#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "files.h"
#include "cli.h"
#include "client.h"
#include "fdio.h"
#include "sandbox.h"

static void cp_usage(FILE *out)
{
	fputs("Usage: warren cp FILE ID:PATH      upload FILE into session ID\n"
	      "       warren cp ID:PATH FILE      download a file of session ID\n"
	      "\n"
	      "PATH is relative to /workspace (or starts with /workspace/). A PATH or FILE\n"
	      "that ends in / or names a directory means \"into that directory, same name\".\n"
	      "FILE may be - for standard input (upload; PATH must then name the file) or\n"
	      "standard output (download). Parent directories in the session are created.\n"
	      "Directories are not copied; for a tree use\n"
	      "  tar -C DIR -c . | warren exec --stdin ID -- tar -x\n", out);
}

/* "ID:PATH" names a session's file: something before the first ':' and
 * no '/' in it (write ./a:b for a local file named a:b). */
static bool is_remote(const char *arg, char **id, const char **path)
{
	const char *colon = strchr(arg, ':');
	if (!colon || colon == arg || memchr(arg, '/', (size_t)(colon - arg)))
		return false;
	*id = strndup(arg, (size_t)(colon - arg));
	*path = colon + 1;
	return *id != NULL;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static bool ends_with_slash(const char *path)
{
	size_t n = strlen(path);
	return n == 0 || path[n - 1] == '/';
}

/* Sends size bytes: from mem when set, else read from fd. */
static int send_body(struct http_conn *c, int fd, const char *mem, uint64_t size, const char *src, wr_error *e)
{
	if (mem)
		return http_send(c, mem, size, e);
	char buf[65536];
	while (size > 0) {
		ssize_t n = read(fd, buf, size < sizeof buf ? size : sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return wr_error_set(e, errno, "read %s", src);
		if (n == 0)
			return wr_error_set(e, 0, "%s shrank while it was being copied", src);
		int r = http_send(c, buf, (size_t)n, e);
		if (r < 0)
			return r;
		size -= (uint64_t)n;
	}
	return 0;
}

/* The workspace path to write: PATH itself, or PATH/<name of SRC> when
 * PATH ends in / or is a directory in the session. */
static int upload_destination(const char *id, const char *rel, const char *src, char **out, wr_error *e)
{
	bool into = ends_with_slash(rel);
	if (!into) {
		json_t *listing = NULL;
		int r = client_get_listing(id, rel, &listing, e);
		if (r < 0 && r != -ENOENT)
			return r;
		into = listing != NULL;
		json_decref(listing);
	}
	if (!into)
		return (*out = strdup(rel)) ? 0 : wr_error_set(e, ENOMEM, "cp");
	if (strcmp(src, "-") == 0)
		return wr_error_set(e, 0, "cp: name the file to write from standard input: "
				    "warren cp - %s:%s%sNAME", id, rel, ends_with_slash(rel) ? "" : "/");
	const char *name = base_name(src);
	if (!*name || !strcmp(name, ".") || !strcmp(name, ".."))
		return wr_error_set(e, 0, "cp: %s does not name a file", src);
	return asprintf(out, "%s%s%s", rel, ends_with_slash(rel) ? "" : "/", name) < 0
		       ? wr_error_set(e, ENOMEM, "cp") : 0;
}

static int upload(const char *src, const char *id, const char *rpath, wr_error *e)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *mem = NULL, *rel = NULL, *dest = NULL, *target = NULL;
	uint64_t size = 0;
	int r;
	if (strcmp(src, "-") == 0) {
		size_t n;
		if ((r = client_read_all(STDIN_FILENO, &mem, &n)) < 0)
			return wr_error_set(e, -r, "cp: reading standard input");
		size = n;
	} else {
		struct stat st;
		fd = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0 || fstat(fd, &st) < 0)
			return wr_error_set(e, errno, "cp: %s", src);
		if (S_ISDIR(st.st_mode))
			return wr_error_set(e, 0, "cp: %s is a directory; warren cp copies single files "
					    "(for a tree: tar -C %s -c . | warren exec --stdin %s -- tar -x)", src, src, id);
		if (S_ISREG(st.st_mode)) {
			size = (uint64_t)st.st_size;
		} else { /* a pipe or a device: its size is known only at its end */
			size_t n;
			if ((r = client_read_all(fd, &mem, &n)) < 0)
				return wr_error_set(e, -r, "cp: read %s", src);
			size = n;
		}
	}
	if ((r = client_workspace_path(rpath, &rel, e)) < 0 || (r = upload_destination(id, rel, src, &dest, e)) < 0)
		return r;
	if (!(target = client_files_target(id, dest)))
		return wr_error_set(e, ENOMEM, "cp");

	struct http_conn c;
	if ((r = http_connect(client_url(), &c, e)) < 0)
		return r;
	r = http_send_head(&c, "PUT", target, client_token(), "application/octet-stream", size, e);
	if (r == 0)
		r = send_body(&c, fd, mem, size, src, e);
	/* A daemon that refuses early (413) may close before reading it all:
	 * its answer says more than our EPIPE. */
	if ((r == 0 || r == -EPIPE || r == -ECONNRESET) && http_read_head(&c, e) == 0) {
		json_t *reply;
		wr_error_clear(e);
		r = client_finish_json(&c, &reply, e);
		json_decref(reply);
		return r;
	}
	http_close(&c);
	return r < 0 ? r : -EIO;
}

/* Where to write a download: DST, or DST/<name> when DST ends in / or is
 * a directory. */
static int download_destination(const char *dst, const char *rel, char **out, wr_error *e)
{
	struct stat st;
	bool is_dir = stat(dst, &st) == 0 && S_ISDIR(st.st_mode);
	if (!is_dir && ends_with_slash(dst))
		return wr_error_set(e, ENOENT, "cp: %s", dst);
	if (!is_dir)
		return (*out = strdup(dst)) ? 0 : wr_error_set(e, ENOMEM, "cp");
	return asprintf(out, "%s%s%s", dst, ends_with_slash(dst) ? "" : "/", base_name(rel)) < 0
		       ? wr_error_set(e, ENOMEM, "cp") : 0;
}

/* A new file next to path, so the real one appears whole or not at all. */
static int open_temporary(const char *path, char **tmp, wr_error *e)
{
	if (asprintf(tmp, "%s.warren-XXXXXX", path) < 0)
		return wr_error_set(e, ENOMEM, "cp");
	int fd = mkostemp(*tmp, O_CLOEXEC);
	if (fd < 0)
		return wr_error_set(e, errno, "cp: %s", path);
	/* mkostemp makes 0600; a copied file gets the usual 0666 & ~umask */
	mode_t mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) < 0) {
		int err = errno;
		close(fd);
		unlink(*tmp);
		return wr_error_set(e, err, "cp: chmod %s", *tmp);
	}
	return fd;
}

/* Copies the rest of the body (after `first`, already read) to fd. */
static int copy_body(struct http_conn *c, const char *first, size_t first_len, int fd, const char *path,
		     wr_error *e)
{
	char buf[65536];
	int r = write_all(fd, first, first_len);
	while (r == 0) {
		ssize_t n = http_read_body(c, buf, sizeof buf, e);
		if (n <= 0)
			return (int)n;
		r = write_all(fd, buf, (size_t)n);
	}
	return wr_error_set(e, -r, "cp: write %s", path);
}

static int download(const char *id, const char *rpath, const char *dst, wr_error *e)
{
	_cleanup_free_ char *rel = NULL, *target = NULL, *dest = NULL, *tmp = NULL, *first = NULL;
	size_t first_len = 0;
	int r;
	if ((r = client_workspace_path(rpath, &rel, e)) < 0)
		return r;
	if (ends_with_slash(rel))
		return wr_error_set(e, 0, "cp: %s:%s is a directory; warren cp copies single files", id, rpath);
	if (!(target = client_files_target(id, rel)))
		return wr_error_set(e, ENOMEM, "cp");
	struct http_conn c;
	if ((r = client_open(&c, "GET", target, NULL, NULL, 0, e)) < 0)
		return r;
	if (c.status < 200 || c.status > 299) {
		json_t *reply;
		return client_finish_json(&c, &reply, e); /* always an error */
	}
	if (client_is_json(c.content_type)) {
		/* a directory listing, or a file the daemon labelled JSON */
		if ((r = http_read_body_all(&c, 64u << 20, &first, &first_len, e)) < 0) {
			http_close(&c);
			return r;
		}
		json_t *j = json_loadb(first, first_len, 0, NULL);
		bool is_listing = json_is_array(json_object_get(j, "entries"));
		json_decref(j);
		if (is_listing) {
			http_close(&c);
			return wr_error_set(e, 0, "cp: %s:%s is a directory; warren cp copies single files "
					    "(for a tree: warren exec %s -- tar -c -C %s . | tar -x)", id, rpath, id,
					    *rel ? rel : ".");
		}
	}
	if (strcmp(dst, "-") == 0) {
		r = copy_body(&c, first, first_len, STDOUT_FILENO, "standard output", e);
		http_close(&c);
		return r;
	}
	if ((r = download_destination(dst, rel, &dest, e)) < 0) {
		http_close(&c);
		return r;
	}
	_cleanup_close_ int fd = open_temporary(dest, &tmp, e);
	if (fd < 0) {
		http_close(&c);
		return fd;
	}
	r = copy_body(&c, first, first_len, fd, dest, e);
	http_close(&c);
	if (r == 0 && fsync(fd) < 0)
		r = wr_error_set(e, errno, "cp: write %s", dest);
	if (r == 0 && rename(tmp, dest) < 0)
		r = wr_error_set(e, errno, "cp: rename %s to %s", tmp, dest);
	if (r < 0)
		unlink(tmp);
	return r;
}

int cmd_cp(int argc, char **argv)
{
	int first = client_simple_options(argc, argv, "cp", NULL, cp_usage);
	if (first <= 0)
		return first == 0 ? 0 : WARREN_EXIT_SETUP;
	if (argc - first != 2) {
		cli_error("cp: expected SRC and DST (try 'warren cp --help')");
		return WARREN_EXIT_SETUP;
	}
	const char *src = argv[first], *dst = argv[first + 1], *src_path, *dst_path;
	_cleanup_free_ char *src_id = NULL, *dst_id = NULL;
	bool src_remote = is_remote(src, &src_id, &src_path), dst_remote = is_remote(dst, &dst_id, &dst_path);
	wr_error e = { 0 };
	int r;
	if (src_remote && dst_remote) {
		cli_error("cp: both SRC and DST are in sessions; copy through a local file");
		return WARREN_EXIT_SETUP;
	}
	if (!src_remote && !dst_remote) {
		cli_error("cp: one of SRC and DST must be ID:PATH, a file in a session");
		return WARREN_EXIT_SETUP;
	}
	/* The daemon never sees a path with dot segments: HTTP normalizes
	 * them away before routing, so it would answer for another URL. */
	char rel[FILES_PATH_MAX + 1];
	const char *rpath = src_remote ? src_path : dst_path;
	if (files_normalize(rpath, strlen(rpath), rel, &e) < 0) {
		cli_error("cp: %s:%s: %s", src_remote ? src_id : dst_id, rpath, e.message);
		return 1;
	}
	r = src_remote ? download(src_id, src_path, dst, &e) : upload(src, dst_id, dst_path, &e);
	if (r < 0) {
		cli_error("%s", e.message);
		return 1;
	}
	return 0;
}
