/* A policy's "mounts" and "hide" (warren-policy(5)): host paths bound
 * into the sandbox, and paths hidden in it, checked against what the
 * sandbox builds itself and what would leak around its /proc and /dev. */
#include "config.h"
#include "policy-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"

#define fail policy_fail /* (policy-parse.c's short names) */
#define QUOTE POLICY_QUOTE

/* Mount targets the sandbox builds itself; a bind there would hide or
 * replace part of the isolation (or the pivot_root scaffolding). */
static const char *const reserved_targets[] = {
	"/proc", "/dev", "/workspace", "/tmp", "/oldroot", "/newroot", NULL,
};
/* Host trees whose bind would leak around the masked /proc and minimal /dev. */
static const char *const refused_sources[] = { "/proc", "/sys", "/dev", NULL };

static bool path_is_under(const char *path, const char *top)
{
	size_t n = strlen(top);
	return strncmp(path, top, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Why s is not an absolute, normalized path (no empty, "." or ".."
 * component, no trailing '/'), or NULL. */
static const char *path_problem(const char *s)
{
	if (s[0] != '/')
		return "must be an absolute path";
	if (strlen(s) >= 4096)
		return "is longer than 4095 characters";
	for (const char *c = s + 1; s[1] != '\0';) {
		size_t len = strcspn(c, "/");
		if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return "must be normalized (no \".\", \"..\", \"//\" or trailing \"/\")";
		if (c[len] == '\0')
			break;
		c += len + 1;
	}
	return NULL;
}

/* A string holding an absolute, normalized path. */
static int mount_path(struct parser *ps, const char *path, json_t *v, const char **out)
{
	const char *s, *problem;
	int r = policy_expect_string(ps, path, v, &s);
	if (r < 0)
		return r;
	if ((problem = path_problem(s)))
		return fail(ps, path, "%s %s", QUOTE(s), problem);
	*out = s;
	return 0;
}

static int parse_mount_source(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	const char *s;
	int r = mount_path(ps, path, v, &s);
	if (r < 0)
		return r;
	if (strcmp(s, "/") == 0)
		return fail(ps, path, "\"/\" is refused: the host's whole tree holds its /proc, /sys and /dev");
	for (const char *const *t = refused_sources; *t; t++)
		if (path_is_under(s, *t))
			return fail(ps, path, "%s is refused: binding the host's %s would bypass the sandbox's own",
				    QUOTE(s), *t);
	return policy_replace_string(ps, &ps->mount->source, s);
}

static int parse_mount_target(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	const char *s;
	int r = mount_path(ps, path, v, &s);
	if (r < 0)
		return r;
	if (strcmp(s, "/") == 0)
		return fail(ps, path, "\"/\" is the sandbox's root and cannot be replaced");
	for (const char *const *t = reserved_targets; *t; t++)
		if (path_is_under(s, *t))
			return fail(ps, path, "%s is reserved: the sandbox mounts %s itself", QUOTE(s), *t);
	return policy_replace_string(ps, &ps->mount->target, s);
}

static const struct field mount_fields[] = {
	{ .key = "source", .parse = parse_mount_source },
	{ .key = "target", .parse = parse_mount_target },
};

int policy_parse_mounts(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	struct policy *p = ps->p;
	json_t *item;
	size_t i;

	if (!json_is_array(v))
		return fail(ps, path, "expected an array, got %s", policy_type_name(v));
	struct policy_mount *mounts = calloc(json_array_size(v) + 1, sizeof *mounts);
	if (!mounts)
		return policy_error(ps->e, ENOMEM, "out of memory");
	for (i = 0; i < p->n_mounts; i++) {
		free(p->mounts[i].source);
		free(p->mounts[i].target);
	}
	free(p->mounts);
	p->mounts = mounts;
	p->n_mounts = 0;
	json_array_foreach(v, i, item) {
		char sub[JSON_PATH_MAX], field_path[JSON_PATH_MAX];
		policy_path_index(sub, sizeof sub, path, i);
		ps->mount = &p->mounts[i];
		p->n_mounts = i + 1;  /* counted now so policy_free releases a half-parsed item */
		int r = policy_parse_object(ps, sub, item, mount_fields, ARRAY_SIZE(mount_fields));
		if (r < 0)
			return r;
		for (size_t k = 0; k < ARRAY_SIZE(mount_fields); k++) {
			policy_path_key(field_path, sizeof field_path, sub, mount_fields[k].key);
			if (!json_object_get(item, mount_fields[k].key))
				return fail(ps, field_path, "missing (each mount needs a source and a target)");
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(p->mounts[k].target, p->mounts[i].target) == 0) {
				policy_path_key(field_path, sizeof field_path, sub, "target");
				return fail(ps, field_path, "%s is already the target of %s[%zu]",
					    QUOTE(p->mounts[i].target), path, k);
			}
	}
	ps->mount = NULL;
	return 0;
}

/* "hide": paths masked in the sandbox, on top of its image and binds. Not
 * "/" and nothing the sandbox mounts itself (its workspace, /tmp, /dev);
 * below /proc is fine: that is what masks are for. */
const char *policy_hide_problem(const char *s)
{
	const char *problem = path_problem(s);
	if (problem)
		return problem;
	if (!strcmp(s, "/") || !strcmp(s, "/proc"))
		return "would hide the whole of the sandbox's root or /proc";
	if (strchr(s, ':'))
		return "must not contain ':' (an engine's list separator)";
	for (const char *const *t = reserved_targets; *t; t++)
		if (strcmp(*t, "/proc") && path_is_under(s, *t))
			return "is reserved: the sandbox mounts it itself";
	return NULL;
}

static bool hide_valid(struct parser *ps, const char *path, const char *s)
{
	const char *problem = policy_hide_problem(s);
	if (problem)
		fail(ps, path, "%s %s", QUOTE(s), problem);
	return !problem;
}

int policy_parse_hide(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	return policy_parse_unique_strings(ps, path, v, hide_valid, &ps->p->hide, &ps->p->n_hide);
}
