/* What `find -printf FIND_RECORD_FORMAT` prints for each entry, read back:
 * the daemon's file commands that run inside a sandbox (stat, list,
 * watch) answer in this form. Untrusted input: the sandbox names its
 * files, owners and link targets, and could print anything, so every
 * field is checked. Pure (no allocation), fuzzed (fuzz/fuzz-find-records.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Eight NUL-terminated fields: type letter, permission bits in octal, size,
 * mtime as seconds.fraction, owner, group, symlink target (empty unless a
 * link), path as find walked it. */
#define FIND_RECORD_FORMAT "%y\\0%m\\0%s\\0%T@\\0%u\\0%g\\0%l\\0%p\\0"
/* A record of one field, "E": the end of one listing in a stream of them
 * (a watch prints a listing each time something changed). */
#define FIND_RECORD_END "E\\0"

struct find_field {
	const char *p;              /* into the buffer read; not NUL-terminated by us */
	size_t len;
};

struct find_record {
	bool end;                   /* the FIND_RECORD_END marker: nothing else is set */
	char type;                  /* f d l p s c b, or '?' for what find could not tell */
	uint32_t mode;              /* permission bits (07777) */
	int64_t size;
	int64_t mtime_s;
	uint32_t mtime_ns;
	struct find_field owner, group, target, path;
};

/* One record from the start of buf: the bytes it takes (> 0), 0 when buf
 * holds only part of one, -EBADMSG for what find does not print (with a
 * reason in *why): a bad type, mode, size or time, an empty path, or a
 * field longer than max_field. */
ssize_t find_record_next(const char *buf, size_t len, size_t max_field, struct find_record *out, const char **why);
