/* The small pseudo-file helpers of the cgroup modules (cgroup-internal.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cgroup-internal.h"
#include "cleanup.h"

int cgroup_write_file(const char *dir, const char *file, const char *value, wr_error *e)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, file) < 0)
		return wr_error_set(e, ENOMEM, "cgroup path");
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return wr_error_set(e, errno, "open %s", path);
	size_t len = strlen(value);
	ssize_t n = write(fd, value, len);
	if (n < 0)
		return wr_error_set(e, errno, "write %s to %s", value, path);
	if ((size_t)n != len)
		return wr_error_set(e, EIO, "short write of %s to %s", value, path);
	return 0;
}

/* Reads a whole (small) pseudo-file into a NUL-terminated buffer. */
int cgroup_read_file(const char *dir, const char *file, char *buf, size_t size)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
		return -ENAMETOOLONG;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	for (;;) {
		if (len + 1 >= size)
			break;
		ssize_t n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return 0;
}

bool cgroup_file_exists(const char *dir, const char *file)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
		return false;
	return access(path, F_OK) == 0;
}

int cgroup_read_u64_file(const char *dir, const char *file, uint64_t *out)
{
	char buf[64];
	int r = cgroup_read_file(dir, file, buf, sizeof buf);
	if (r < 0)
		return r;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(buf, &end, 10);
	if (errno || end == buf)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Finds "key N" in a flat-keyed file (memory.events, memory.oom_control). */
bool cgroup_keyed_value(const char *text, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);
	for (const char *line = text; line && *line;) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			*out = strtoull(line + klen + 1, NULL, 10);
			return true;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

/* True when the space-separated list contains word. */
bool cgroup_word_listed(const char *list, const char *word)
{
	size_t wlen = strlen(word);
	for (const char *p = list; (p = strstr(p, word)); p += wlen) {
		bool starts = p == list || isspace((unsigned char)p[-1]);
		bool ends = p[wlen] == '\0' || isspace((unsigned char)p[wlen]);
		if (starts && ends)
			return true;
	}
	return false;
}

bool cgroup_is_fs_type(const char *path, long magic)
{
	struct statfs st;
	return statfs(path, &st) == 0 && st.f_type == magic;
}

/* mkdir -p for a path below an existing mount point; EEXIST is fine. */
int cgroup_mkdir_parents(const char *base, const char *rel, wr_error *e)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", base, rel) < 0)
		return wr_error_set(e, ENOMEM, "cgroup path");
	for (char *p = path + strlen(base) + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return wr_error_set(e, errno, "mkdir %s", path);
		*p = saved;
		if (saved == '\0')
			return 0;
	}
}
