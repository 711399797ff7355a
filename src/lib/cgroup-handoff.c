/* A cgroup made by one process and used by another (warrend's spawner
 * creates, warrend destroys): described as text, taken back, renamed when
 * a kept sandbox takes its lasting name. */
#include "config.h"
#include "cgroup-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

int cgroup_export(const struct cgroup *cg, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%d\n%s", (int)cg->mode, cg->description);
	for (size_t i = 0; i < cg->n_dirs && n >= 0 && (size_t)n < len; i++)
		n += snprintf(buf + n, len - (size_t)n, "\n%s", cg->dirs[i]);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
}

static void cgroup_freep(struct cgroup **cg)
{
	cgroup_free(*cg);
}

int cgroup_import(const char *text, struct cgroup **out, wr_error *e)
{
	_cleanup_(cgroup_freep) struct cgroup *cg = calloc(1, sizeof *cg);
	if (!cg)
		return wr_error_set(e, ENOMEM, "cgroup");
	const char *nl = strchr(text, '\n');
	if (!nl || (text[0] != '1' && text[0] != '2') || text[1] != '\n')
		return wr_error_set(e, EBADMSG, "cgroup: malformed description");
	cg->mode = text[0] == '2' ? CGROUP_V2 : CGROUP_V1;
	const char *p = nl + 1, *end = strchr(p, '\n');
	if (!end || (size_t)(end - p) >= sizeof cg->description)
		return wr_error_set(e, EBADMSG, "cgroup: malformed description");
	memcpy(cg->description, p, (size_t)(end - p));
	size_t want = cg->mode == CGROUP_V2 ? 1 : N_CONTROLLERS;
	while (end && cg->n_dirs < want) {
		p = end + 1;
		end = strchr(p, '\n');
		char *dir = end ? strndup(p, (size_t)(end - p)) : strdup(p);
		if (!dir)
			return wr_error_set(e, ENOMEM, "cgroup");
		cg->dirs[cg->n_dirs++] = dir;
		if (dir[0] != '/')
			return wr_error_set(e, EBADMSG, "cgroup: \"%s\" is not a path", dir);
	}
	if (cg->n_dirs != want || end)
		return wr_error_set(e, EBADMSG, "cgroup: %zu directories, expected %zu", cg->n_dirs, want);
	*out = TAKE_PTR(cg);
	return 0;
}

void cgroup_forget(struct cgroup *cg)
{
	cgroup_free(cg);
}

void cgroup_forgetp(struct cgroup **cg)
{
	cgroup_free(*cg);
}

bool cgroup_is_named(const struct cgroup *cg, const char *name)
{
	const char *root = cgroup_root();
	size_t rlen = strlen(root), nlen = strlen(name);
	if (!cgroup_valid_name(name) || !cg->n_dirs)
		return false;
	for (size_t i = 0; i < cg->n_dirs; i++) {
		const char *d = cg->dirs[i];
		size_t len = strlen(d);
		if (strncmp(d, root, rlen) || d[rlen] != '/' || strstr(d, "/..") || len <= nlen + 1 ||
		    d[len - nlen - 1] != '/' || strcmp(d + len - nlen, name))
			return false;
	}
	return true;
}

/* dir with its last component replaced by name; NULL on no memory. */
static char *renamed_dir(const char *dir, const char *name)
{
	const char *slash = strrchr(dir, '/');
	char *out = NULL;
	return slash && asprintf(&out, "%.*s/%s", (int)(slash - dir), dir, name) >= 0 ? out : NULL;
}

bool cgroup_renamable(void)
{
	static int renamable = -1;
	enum cgroup_mode mode;
	if (renamable < 0)
		renamable = cgroup_detect(&mode, NULL) == 0 && mode == CGROUP_V1;
	return renamable;
}

int cgroup_rename(struct cgroup *cg, const char *name, wr_error *e)
{
	if (!cgroup_valid_name(name))
		return wr_error_set(e, EINVAL, "invalid cgroup name \"%s\"", name);
	if (cgroup_is_named(cg, name))
		return 0; /* (cgroup2 refuses even that) */
	char *renamed[N_CONTROLLERS] = { 0 };
	size_t done = 0;
	int r = 0;
	for (; done < cg->n_dirs; done++) {
		if (!(renamed[done] = renamed_dir(cg->dirs[done], name))) {
			r = wr_error_set(e, ENOMEM, "cgroup path");
			break;
		}
		if (rename(cg->dirs[done], renamed[done]) < 0) {
			r = wr_error_set(e, errno, "rename %s to %s", cg->dirs[done], name);
			free(renamed[done]);
			break;
		}
	}
	if (r < 0) {
		while (done-- > 0) {
			(void)!rename(renamed[done], cg->dirs[done]);
			free(renamed[done]);
		}
		return r;
	}
	const char *old = strrchr(cg->dirs[0], '/') + 1;
	char *at = strstr(cg->description, old), *last = NULL;
	for (; at; at = strstr(at + 1, old))
		last = at;
	if (last && (size_t)(last - cg->description) + strlen(name) < sizeof cg->description)
		snprintf(last, sizeof cg->description - (size_t)(last - cg->description), "%s", name);
	for (size_t i = 0; i < cg->n_dirs; i++) {
		free(cg->dirs[i]);
		cg->dirs[i] = renamed[i];
	}
	return 0;
}

