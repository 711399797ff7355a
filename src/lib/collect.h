/* Collecting the files a command left in its sandbox, at its end and
 * before the sandbox goes: warrend's "collect" (artifacts) and warren run
 * --collect. Shared by both; pure file-descriptor work, no sandbox here.
 *
 * Patterns (collect_pattern_parse), as users write them:
 *   "output/", "output", "/workspace/output": the file, or everything
 *   below the directory; "*.png", "data/" "*.csv": fnmatch(3) globs
 *   (FNM_PATHNAME: "*" stops at "/"), a directory a glob names comes
 *   whole; "/tmp/output/": the same in the sandbox's /tmp. Relative
 *   paths are in /workspace. Nothing outside the sandbox's writable
 *   areas (/workspace and /tmp) can be named; ".." that climbs out of
 *   one is refused.
 *
 * The walk never follows a symbolic link and never crosses a mount:
 * every name is opened with files_open_beneath from the directory fd
 * above it, and every file with O_NOFOLLOW | O_NONBLOCK (a fifo planted
 * there must not hang the collector) and checked with fstat after the
 * open, so a file swapped for a link or a fifo meanwhile is refused, not
 * read. Files and directories are opened as the sandbox user (the
 * source's uid:gid): nothing is read that that user could not read.
 *
 * What was left out is reported, never silently dropped: each entry of
 * "not_collected" says which path, a code and why:
 *   symlink      a symbolic link (never followed)
 *   not_regular  a fifo, socket or device
 *   too_large    above the per-file limit (collect.file_max), or grew
 *                past it while being copied
 *   total_limit  would pass collect.total_max
 *   count_limit  collect.count_max files were collected already
 *   missing      nothing matches the pattern
 *   name         its name is not UTF-8 (it could not be reported)
 *   quota, exists, error   from the sink (what keeps the files)
 *   unavailable  the pattern's area cannot be reached */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "error.h"
#include "files.h"

enum collect_area { COLLECT_WORKSPACE, COLLECT_TMP, COLLECT_N_AREAS };

struct collect_pattern {
	enum collect_area area;
	char base[FILES_PATH_MAX + 1];  /* before the first glob component, within the area ("": its root) */
	char glob[FILES_PATH_MAX + 1];  /* the rest ("": base itself, a file or a whole directory) */
	char shown[FILES_PATH_MAX + 16]; /* "/tmp/output", "/workspace/x.png": how reports name it */
};

/* Parses one pattern (len bytes; NUL bytes refused). -EINVAL with a
 * message naming it when it leaves /workspace and /tmp or is empty. */
int collect_pattern_parse(const char *text, size_t len, struct collect_pattern *out, wr_error *e);

struct collect_limits {
	uint64_t file_max;   /* bytes of one file */
	uint64_t total_max;  /* bytes of every file collected */
	uint32_t count_max;  /* files */
};

/* Where the files are read from. */
struct collect_source {
	int area[COLLECT_N_AREAS];  /* directory fds (O_PATH will do) of /workspace and /tmp; -1: unavailable */
	uid_t uid;                  /* opened as this identity (files_become); (uid_t)-1: as the caller */
	gid_t gid;
};

/* One file to keep, open for reading. */
struct collect_file {
	const char *path;    /* where it is in the sandbox: "/tmp/output/chart.png" */
	const char *name;    /* its name relative to its pattern's directory: "chart.png", "sub/x.csv" */
	int fd;              /* a regular file, O_NONBLOCK */
	uint64_t size;       /* when opened */
	uint64_t max;        /* the most the sink may copy: the limits left (collect_copy's max) */
	json_t *entry;       /* its report entry {"path", "name", "size"}: the sink may add members */
};

/* Keeps one file: 0 with *copied the bytes kept, or -errno with e saying
 * why not (the file is reported in not_collected with that reason; the
 * code comes from the errno: EFBIG too_large, EDQUOT quota, EEXIST
 * exists, ELOOP symlink, others error). -ECANCELED ends the whole run
 * with e as its error. */
typedef int (*collect_sink_fn)(void *arg, struct collect_file *f, uint64_t *copied, wr_error *e);

/* Walks every pattern in order (names sorted bytewise within a
 * directory, so what the limits cut is predictable), hands each regular
 * file within the limits to the sink, and builds the report
 * {"collected": [{"path", "name", "size", …}], "not_collected": [{"path",
 * "code", "reason"}]} (at most COLLECT_REPORT_MAX of those, then
 * "not_collected_more": N). A file two patterns match is taken once.
 * 0 with *report, or -errno with e (out of memory, -ECANCELED from the
 * sink). */
#define COLLECT_REPORT_MAX 100
int collect_run(const struct collect_source *src, const struct collect_pattern *patterns, size_t n,
		const struct collect_limits *limits, collect_sink_fn sink, void *arg, json_t **report, wr_error *e);

/* Copies `in` to `out` through a bounded buffer, at most max bytes:
 * 0 with *copied, -EFBIG when in holds more than max (what was copied
 * stays), or -errno. `out` < 0 only counts; `buf` (NULL: none) receives
 * the bytes instead when out < 0 (it must hold max bytes). */
int collect_copy(int in, int out, char *buf, uint64_t max, uint64_t *copied);

/* The sink of warren run --collect: writes each file as NAME below the
 * directory out_dir_fd (arg: a pointer to that fd), creating its parent
 * directories, never following a symbolic link there (openat2
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): a link where a file or a
 * directory would go is refused (-ELOOP), a regular file there is
 * replaced. Files are created 0644 by the caller, as the caller. */
int collect_sink_dir(void *arg, struct collect_file *f, uint64_t *copied, wr_error *e);
