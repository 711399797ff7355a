/* Collecting files from a sandbox's writable areas: see collect.h. */
#include "config.h"
#include "collect.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "encode.h"
#include "fdio.h"
#include "units.h"

#define COPY_CHUNK (64 * 1024)
/* A sandbox can make trees as deep and wide as it likes: the walk gives
 * up past these, and says so. */
#define WALK_MAX_DEPTH 64
#define WALK_MAX_ENTRIES 100000
#define GLOB_MAX_COMPONENTS 64

static const char *const area_root[COLLECT_N_AREAS] = { [COLLECT_WORKSPACE] = "/workspace", [COLLECT_TMP] = "/tmp" };

/* ---- patterns ------------------------------------------------------------- */

static bool has_glob(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '*' || s[i] == '?' || s[i] == '[')
			return true;
	return false;
}

int collect_pattern_parse(const char *text, size_t len, struct collect_pattern *out, wr_error *e)
{
	char quoted[160], raw[FILES_PATH_MAX + 1];
	files_quote(text, len, quoted, sizeof quoted);
	*out = (struct collect_pattern){ .area = COLLECT_WORKSPACE };
	if (len == 0)
		return wr_error_set(e, 0, "an empty path names nothing to collect"), -EINVAL;
	if (memchr(text, '\0', len) || len > FILES_PATH_MAX)
		return wr_error_set(e, 0, "%s: not a usable path (NUL byte, or longer than %d bytes)", quoted,
				    FILES_PATH_MAX), -EINVAL;
	memcpy(raw, text, len);
	raw[len] = '\0';
	const char *rest = raw;
	if (raw[0] == '/') {
		if (!strncmp(raw, "/tmp", 4) && (raw[4] == '\0' || raw[4] == '/')) {
			out->area = COLLECT_TMP;
			rest = raw + 4;
		} else if (!strncmp(raw, "/workspace", 10) && (raw[10] == '\0' || raw[10] == '/')) {
			rest = raw + 10;
		} else {
			return wr_error_set(e, 0, "%s: only files in /workspace and /tmp can be collected", quoted),
			       -EINVAL;
		}
		/* relative from here: files_normalize would read a leading
		 * "/workspace" of the rest as the workspace again */
		while (*rest == '/')
			rest++;
	}
	wr_error ne = { 0 };
	char norm[FILES_PATH_MAX + 1];
	if (files_normalize(rest, strlen(rest), norm, &ne) < 0)
		return wr_error_set(e, 0, "%s: %s", quoted,
				    strstr(ne.message, "leaves") ? "leaves the sandbox's /workspace and /tmp" : ne.message),
		       -EINVAL;
	/* base: the components before the first one with a glob character */
	size_t cut = 0;
	for (size_t at = 0; norm[at];) {
		size_t n = strcspn(norm + at, "/");
		if (has_glob(norm + at, n))
			break;
		cut = at + n;
		at += n + (norm[at + n] == '/');
	}
	memcpy(out->base, norm, cut);
	out->base[cut] = '\0';
	snprintf(out->glob, sizeof out->glob, "%s", norm + cut + (norm[cut] == '/'));
	size_t globs = 1;
	for (const char *c = out->glob; *c; c++)
		globs += *c == '/';
	if (globs > GLOB_MAX_COMPONENTS)
		return wr_error_set(e, 0, "%s: more than %d components after the first glob", quoted,
				    GLOB_MAX_COMPONENTS), -EINVAL;
	snprintf(out->shown, sizeof out->shown, "%s%s%s", area_root[out->area], norm[0] ? "/" : "", norm);
	return 0;
}

/* ---- copying ----------------------------------------------------------------- */

int collect_copy(int in, int out, char *buf, uint64_t max, uint64_t *copied)
{
	char chunk[COPY_CHUNK];
	*copied = 0;
	for (;;) {
		char *into = out < 0 && buf && *copied < max ? buf + *copied : chunk;
		size_t want = into == chunk ? sizeof chunk : (size_t)(max - *copied);
		if (want > sizeof chunk)
			want = sizeof chunk;
		ssize_t n = read(in, into, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if ((uint64_t)n > max - *copied)
			return -EFBIG;
		if (out >= 0) {
			int r = write_all(out, into, (size_t)n);
			if (r < 0)
				return r;
		}
		*copied += (uint64_t)n;
	}
}

/* ---- the walk ------------------------------------------------------------------ */

struct walk {
	const struct collect_source *src;
	const struct collect_limits *lim;
	collect_sink_fn sink;
	void *arg;
	json_t *collected, *not_collected, *seen;
	size_t more;             /* not_collected entries past COLLECT_REPORT_MAX */
	uint64_t total;
	uint32_t count;
	size_t entries;          /* names read, over the whole run */
	size_t reported;         /* entries of both lists: did a pattern match anything? */
	wr_error *e;
	int fatal;               /* -errno that ends the run */
};

/* One pattern being walked. */
struct walking {
	const struct collect_pattern *p;
	char prefixes[GLOB_MAX_COMPONENTS][FILES_PATH_MAX + 1]; /* the glob's first k+1 components */
	size_t n_glob;           /* components of the glob (0: none) */
};

static const struct { int err; const char *code; } codes[] = {
	{ ELOOP, "symlink" }, { EFBIG, "too_large" }, { EDQUOT, "quota" }, { EEXIST, "exists" },
	{ ENOENT, "missing" }, { EACCES, "unreadable" }, { EPERM, "unreadable" },
};

static const char *code_of(int err)
{
	for (size_t i = 0; i < ARRAY_SIZE(codes); i++)
		if (codes[i].err == err)
			return codes[i].code;
	return "error";
}

static void skip(struct walk *w, const char *path, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void skip(struct walk *w, const char *path, const char *code, const char *fmt, ...)
{
	w->reported++;
	if (json_array_size(w->not_collected) >= COLLECT_REPORT_MAX) {
		w->more++;
		return;
	}
	char quoted[FILES_PATH_MAX + 16], reason[512];
	files_quote(path, strlen(path), quoted, sizeof quoted);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	json_array_append_new(w->not_collected, json_pack("{s:s, s:s, s:s}", "path", quoted, "code", code, "reason",
							  reason));
}

static void join(char *out, size_t len, const char *a, const char *b)
{
	snprintf(out, len, "%s%s%s", a, a[0] && b[0] ? "/" : "", b);
}

/* A file opened (fd, or -errno from the open) at rel within the area,
 * named `name` in the report. Takes fd. */
static void consider(struct walk *w, const struct collect_pattern *p, int fd_or_err, const char *rel,
		     const char *name)
{
	_cleanup_close_ int fd = fd_or_err;
	char path[FILES_PATH_MAX + 16], key[FILES_PATH_MAX + 8], limit[32];
	join(path, sizeof path, area_root[p->area], rel);
	snprintf(key, sizeof key, "%d:%s", (int)p->area, rel);
	if (json_object_get(w->seen, key)) {
		w->reported++; /* another pattern took it: this one matched */
		return;
	}
	json_object_set_new(w->seen, key, json_true());
	if (fd == -ELOOP)
		return skip(w, path, "symlink", "a symbolic link (never followed)");
	if (fd == -ENXIO)
		return skip(w, path, "not_regular", "not a regular file");
	if (fd < 0)
		return skip(w, path, code_of(-fd), "cannot be opened by the sandbox user: %s", strerror(-fd));
	struct stat st;
	if (fstat(fd, &st) < 0)
		return skip(w, path, "error", "stat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return skip(w, path, "not_regular", "not a regular file");
	if (!utf8_valid(path, strlen(path)))
		return skip(w, path, "name", "its name is not UTF-8");
	uint64_t size = (uint64_t)st.st_size, left = w->lim->total_max - w->total;
	if (size > w->lim->file_max) {
		format_size(w->lim->file_max, limit, sizeof limit);
		return skip(w, path, "too_large", "%llu bytes, more than the limit of %s per file (collect.file_max)",
			    (unsigned long long)size, limit);
	}
	if (w->count >= w->lim->count_max)
		return skip(w, path, "count_limit", "%u files were collected already, the limit (collect.count_max)",
			    (unsigned)w->lim->count_max);
	if (size > left) {
		format_size(w->lim->total_max, limit, sizeof limit);
		return skip(w, path, "total_limit", "%llu bytes would pass the limit of %s in all (collect.total_max)",
			    (unsigned long long)size, limit);
	}
	json_t *entry = json_pack("{s:s, s:s, s:I}", "path", path, "name", name, "size", (json_int_t)size);
	if (!entry) {
		w->fatal = wr_error_set(w->e, ENOMEM, "collect");
		return;
	}
	struct collect_file f = { .path = path, .name = name, .fd = fd, .size = size, .entry = entry,
				  .max = left < w->lim->file_max ? left : w->lim->file_max };
	uint64_t copied = 0;
	wr_error se = { 0 };
	int r = w->sink(w->arg, &f, &copied, &se);
	if (r == -ECANCELED) {
		json_decref(entry);
		*w->e = se;
		w->fatal = r;
		return;
	}
	if (r < 0) {
		json_decref(entry);
		if (r == -EFBIG) {
			format_size(f.max, limit, sizeof limit);
			return skip(w, path, "too_large", "grew past %s while it was being collected", limit);
		}
		return skip(w, path, code_of(-r), "%s", se.message[0] ? se.message : strerror(-r));
	}
	json_object_set_new(entry, "size", json_integer((json_int_t)copied));
	json_array_append_new(w->collected, entry);
	w->reported++;
	w->total += copied;
	w->count++;
}

/* Opens a name below dir as the sandbox user. */
static int open_as_user(struct walk *w, int dir, const char *name, int flags)
{
	struct files_identity id;
	wr_error ie = { 0 };
	int r = files_become(w->src->uid, w->src->gid, &id, &ie);
	if (r < 0)
		return r;
	int fd = files_open_beneath(dir, name, flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, 0);
	files_restore_identity(&id);
	return fd;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dir (sorted), or NULL after reporting why. */
static char **read_names(struct walk *w, int dir, const char *path, size_t *n)
{
	int copy = fcntl(dir, F_DUPFD_CLOEXEC, 3);
	_cleanup_closedir_ DIR *d = copy >= 0 ? fdopendir(copy) : NULL;
	if (!d) {
		if (copy >= 0)
			close(copy);
		skip(w, path, "error", "cannot be listed: %s", strerror(errno));
		return NULL;
	}
	size_t cap = 0;
	char **names = NULL;
	*n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (++w->entries > WALK_MAX_ENTRIES) {
			skip(w, path, "error", "more than %d names were looked at: the rest is left out", WALK_MAX_ENTRIES);
			break;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 32;
			char **grown = realloc(names, cap * sizeof *names);
			if (!grown)
				break;
			names = grown;
		}
		if (!(names[*n] = strdup(de->d_name)))
			break;
		(*n)++;
	}
	if (*n)
		qsort(names, *n, sizeof *names, cmp_names);
	return names ? names : calloc(1, sizeof *names);
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* Walks the directory dir (at rel within the area, named `name` from the
 * pattern's base), `depth` components below the base. With `whole`
 * everything below is taken; otherwise the glob decides. */
static void walk_dir(struct walk *w, struct walking *g, int dir, const char *rel, const char *name, size_t depth,
		     bool whole)
{
	const struct collect_pattern *p = g->p;
	char path[FILES_PATH_MAX + 16];
	join(path, sizeof path, area_root[p->area], rel);
	if (depth >= WALK_MAX_DEPTH)
		return skip(w, path, "error", "deeper than %d directories: left out", WALK_MAX_DEPTH);
	size_t n = 0;
	char **names = read_names(w, dir, path, &n);
	if (!names)
		return;
	for (size_t i = 0; i < n && !w->fatal; i++) {
		char child_rel[FILES_PATH_MAX + 1], child_name[FILES_PATH_MAX + 1], child_path[FILES_PATH_MAX + 16];
		join(child_rel, sizeof child_rel, rel, names[i]);
		join(child_name, sizeof child_name, name, names[i]);
		join(child_path, sizeof child_path, area_root[p->area], child_rel);
		if (strlen(child_rel) >= FILES_PATH_MAX) {
			skip(w, child_path, "error", "its path is too long");
			continue;
		}
		/* what the glob says of it: taken (at its depth), or a directory
		 * on the way to what it may take */
		bool take = whole, through = false;
		if (!whole && depth + 1 < g->n_glob)
			through = fnmatch(g->prefixes[depth], child_name, FNM_PATHNAME) == 0;
		else if (!whole)
			take = fnmatch(p->glob, child_name, FNM_PATHNAME) == 0;
		if (!take && !through)
			continue;
		struct stat st;
		if (fstatat(dir, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile */
		if (S_ISDIR(st.st_mode)) {
			_cleanup_close_ int sub = open_as_user(w, dir, names[i], O_RDONLY | O_DIRECTORY);
			if (sub == -ELOOP || sub == -ENOTDIR)
				skip(w, child_path, "symlink", "swapped for a symbolic link while collecting (never followed)");
			else if (sub < 0)
				skip(w, child_path, code_of(-sub), "cannot be opened by the sandbox user: %s", strerror(-sub));
			else
				walk_dir(w, g, sub, child_rel, child_name, depth + 1, take);
		} else if (!take) {
			continue;
		} else if (S_ISLNK(st.st_mode)) {
			consider(w, p, -ELOOP, child_rel, child_name);
		} else if (S_ISREG(st.st_mode)) {
			consider(w, p, open_as_user(w, dir, names[i], O_RDONLY), child_rel, child_name);
		} else {
			consider(w, p, -ENXIO, child_rel, child_name);
		}
	}
	free_names(names, n);
}

static void walk_pattern(struct walk *w, const struct collect_pattern *p)
{
	int area = w->src->area[p->area];
	if (area < 0)
		return skip(w, p->shown, "unavailable", "the sandbox's %s cannot be reached", area_root[p->area]);
	struct walking *g = calloc(1, sizeof *g);
	if (!g) {
		w->fatal = wr_error_set(w->e, ENOMEM, "collect");
		return;
	}
	g->p = p;
	for (size_t at = 0; p->glob[0] && g->n_glob < GLOB_MAX_COMPONENTS;) {
		size_t n = strcspn(p->glob + at, "/");
		snprintf(g->prefixes[g->n_glob++], FILES_PATH_MAX + 1, "%.*s", (int)(at + n), p->glob);
		if (!p->glob[at + n])
			break;
		at += n + 1;
	}
	size_t before = w->reported;
	int fd = open_as_user(w, area, p->base[0] ? p->base : ".", O_RDONLY);
	struct stat st;
	if (fd == -ENOENT || fd == -ENOTDIR) {
		/* reported below as matching nothing */
	} else if (fd == -ELOOP) {
		skip(w, p->shown, "symlink", "a symbolic link on the way (never followed)");
	} else if (fd < 0) {
		skip(w, p->shown, code_of(-fd), "cannot be opened by the sandbox user: %s", strerror(-fd));
	} else if (fstat(fd, &st) < 0) {
		skip(w, p->shown, "error", "stat: %s", strerror(errno));
	} else if (S_ISDIR(st.st_mode)) {
		walk_dir(w, g, fd, p->base, "", 0, !p->glob[0]);
	} else if (!p->glob[0]) {
		const char *slash = strrchr(p->base, '/');
		consider(w, p, fd, p->base, slash ? slash + 1 : p->base);
		fd = -1; /* taken */
	}
	if (fd >= 0)
		close(fd);
	free(g);
	if (w->reported == before && !w->fatal)
		skip(w, p->shown, "missing", "nothing matches");
}

int collect_run(const struct collect_source *src, const struct collect_pattern *patterns, size_t n,
		const struct collect_limits *limits, collect_sink_fn sink, void *arg, json_t **report, wr_error *e)
{
	struct walk w = {
		.src = src, .lim = limits, .sink = sink, .arg = arg, .e = e,
		.collected = json_array(), .not_collected = json_array(), .seen = json_object(),
	};
	*report = NULL;
	if (!w.collected || !w.not_collected || !w.seen)
		w.fatal = wr_error_set(e, ENOMEM, "collect");
	for (size_t i = 0; i < n && !w.fatal; i++)
		walk_pattern(&w, &patterns[i]);
	json_decref(w.seen);
	if (w.fatal) {
		json_decref(w.collected);
		json_decref(w.not_collected);
		return w.fatal;
	}
	*report = json_pack("{s:o, s:o}", "collected", w.collected, "not_collected", w.not_collected);
	if (*report && w.more)
		json_object_set_new(*report, "not_collected_more", json_integer((json_int_t)w.more));
	return *report ? 0 : wr_error_set(e, ENOMEM, "collect");
}

/* ---- warren run --collect: into a host directory ------------------------------------ */

/* Below the output directory: no symbolic link anywhere, no "..". */
#define IN_OUTPUT (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)

/* The directory holding `name` (its parents made as needed), or -errno. */
static int output_parent(int top, const char *name, const char **last, wr_error *e)
{
	_cleanup_close_ int cur = files_openat2(top, ".", O_PATH | O_DIRECTORY, 0, IN_OUTPUT);
	if (cur < 0)
		return wr_error_set(e, -cur, "the output directory");
	char part[FILES_NAME_MAX + 1];
	const char *at = name;
	for (const char *slash; (slash = strchr(at, '/')); at = slash + 1) {
		snprintf(part, sizeof part, "%.*s", (int)(slash - at), at);
		if (mkdirat(cur, part, 0755) < 0 && errno != EEXIST)
			return wr_error_set(e, errno, "mkdir %.*s in the output directory", (int)(slash - name), name);
		int next = files_openat2(cur, part, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0, IN_OUTPUT);
		struct stat st; /* O_PATH | O_NOFOLLOW opens a link itself: ENOTDIR */
		if (next == -ENOTDIR && fstatat(cur, part, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			next = -ELOOP;
		if (next == -ELOOP)
			return wr_error_set(e, 0, "%.*s is a symbolic link in the output directory (not followed)",
					    (int)(slash - name), name), -ELOOP;
		if (next < 0)
			return wr_error_set(e, -next, "%.*s in the output directory", (int)(slash - name), name);
		close(cur);
		cur = next;
	}
	*last = at;
	return TAKE_FD(cur);
}

int collect_sink_dir(void *arg, struct collect_file *f, uint64_t *copied, wr_error *e)
{
	const char *last = f->name;
	_cleanup_close_ int dir = output_parent(*(const int *)arg, f->name, &last, e);
	if (dir < 0)
		return dir;
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
	_cleanup_close_ int out = files_openat2(dir, last, flags, 0644, IN_OUTPUT);
	struct stat st;
	if (out == -EEXIST && fstatat(dir, last, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		/* O_EXCL never writes through what is there; a regular file
		 * goes (as cp would overwrite it), anything else stays */
		if (S_ISLNK(st.st_mode))
			return wr_error_set(e, 0, "%s is a symbolic link in the output directory (not followed)", f->name),
			       -ELOOP;
		if (!S_ISREG(st.st_mode))
			return wr_error_set(e, 0, "%s exists in the output directory and is not a regular file", f->name),
			       -EEXIST;
		if (unlinkat(dir, last, 0) < 0)
			return wr_error_set(e, errno, "replace %s in the output directory", f->name);
		out = files_openat2(dir, last, flags, 0644, IN_OUTPUT);
	}
	if (out == -ELOOP)
		return wr_error_set(e, 0, "%s is a symbolic link in the output directory (not followed)", f->name), -ELOOP;
	if (out < 0)
		return wr_error_set(e, -out, "create %s in the output directory", f->name);
	int r = collect_copy(f->fd, out, NULL, f->max, copied);
	if (r < 0) {
		unlinkat(dir, last, 0); /* no partial file */
		return r == -EFBIG ? r : wr_error_set(e, -r, "copy %s", f->name);
	}
	return 0;
}
