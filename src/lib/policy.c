/* Finding a policy (file, name, built-in), tightening it with a request's
 * limits, and writing it back as JSON. Parsing is in policy-parse.c. */
#include "config.h"
#include "policy-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "socket-family.h"
#include "units.h"

/* "python" from "/etc/warren/python.json"; the whole base name when
 * stripping ".json" would leave nothing. */
static char *name_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 5 && strcmp(base + n - 5, ".json") == 0)
		n -= 5;
	return strndup(base, n);
}

static bool looks_like_path(const char *s)
{
	size_t n = strlen(s);
	return strchr(s, '/') || (n >= 5 && strcmp(s + n - 5, ".json") == 0);
}

int policy_parse(const char *text, size_t len, const char *origin, struct policy **out, wr_error *e)
{
	_cleanup_free_ char *name = looks_like_path(origin) ? name_from_path(origin) : strdup("default");
	if (!name)
		return policy_error(e, ENOMEM, "out of memory");
	return policy_parse_named(text, len, origin, name, out, e);
}

/* Reads the whole file, refusing anything larger than a policy may be. */
static int read_policy_file(const char *path, char **text, size_t *len, wr_error *e)
{
	struct stat st;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return wr_error_set(e, errno, "open %s", path);
	if (fstat(fd, &st) < 0)
		return wr_error_set(e, errno, "stat %s", path);
	if (!S_ISREG(st.st_mode))
		return policy_error(e, EINVAL, "%s: not a regular file", path);

	/* one byte more than allowed, so a file that grew is still caught */
	_cleanup_free_ char *buf = malloc(POLICY_MAX_BYTES + 1);
	size_t n = 0;
	if (!buf)
		return policy_error(e, ENOMEM, "out of memory");
	for (;;) {
		ssize_t got = read(fd, buf + n, POLICY_MAX_BYTES + 1 - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return wr_error_set(e, errno, "read %s", path);
		if (got == 0)
			break;
		n += (size_t)got;
		if (n > POLICY_MAX_BYTES)
			return policy_error(e, EINVAL, "%s: larger than a policy may be (1 MiB)", path);
	}
	*text = TAKE_PTR(buf);
	*len = n;
	return 0;
}

int policy_load_file(const char *path, struct policy **out, wr_error *e)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = read_policy_file(path, &text, &len, e);
	if (r < 0)
		return r;
	_cleanup_free_ char *name = name_from_path(path);
	if (!name)
		return policy_error(e, ENOMEM, "out of memory");
	return policy_parse_named(text, len, path, name, out, e);
}

int policy_load_builtin(struct policy **out, wr_error *e)
{
	return policy_parse_named(warren_builtin_policy, strlen(warren_builtin_policy), "built-in",
				  "default", out, e);
}

/* 1 when DIR/NAME.json was found and loaded, 0 when it does not exist. */
static int load_from_dir(const char *dir, const char *name, struct policy **out, wr_error *e)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s.json", dir, name) < 0)
		return policy_error(e, ENOMEM, "out of memory");
	int r = policy_load_file(path, out, e);
	if (r == -ENOENT) {
		wr_error_clear(e);
		return 0;
	}
	return r < 0 ? r : 1;
}

int policy_load(const char *name_or_path, struct policy **out, wr_error *e)
{
	const char *name = name_or_path ? name_or_path : "default";
	const char *env_dir = getenv("WARREN_POLICY_DIR");
	int r;

	if (looks_like_path(name))
		return policy_load_file(name, out, e);
	/* a name never walks out of the policy directories */
	if (name[0] == '\0' || name[0] == '.')
		return policy_error(e, EINVAL, "policy name \"%s\" is not valid: give a name like \"python\" "
				    "or a path to a .json file", name);
	/* warrend sets $WARREN_POLICY_DIR to its policy_dir, often the
	 * installed directory itself: look there, and name it, once. */
	if (env_dir && strcmp(env_dir, WARREN_POLICYDIR) == 0)
		env_dir = NULL;
	if (env_dir && env_dir[0] && (r = load_from_dir(env_dir, name, out, e)) != 0)
		return r < 0 ? r : 0;
	if ((r = load_from_dir(WARREN_POLICYDIR, name, out, e)) != 0)
		return r < 0 ? r : 0;
	if (strcmp(name, "default") == 0)
		return policy_load_builtin(out, e);
	if (env_dir && env_dir[0])
		return policy_error(e, ENOENT, "policy \"%s\" not found: no %s.json in %s ($WARREN_POLICY_DIR) "
				    "or %s", name, name, env_dir, WARREN_POLICYDIR);
	return policy_error(e, ENOENT, "policy \"%s\" not found: no %s.json in %s "
			    "(set $WARREN_POLICY_DIR or give a path)", name, name, WARREN_POLICYDIR);
}

int policy_tighten(struct policy *p, const struct policy_limits *request,
		   const struct policy_limit_names *flag_names, wr_error *e)
{
	/* everything is checked before anything changes: a refused request
	 * leaves the policy as it was */
	for (size_t i = 0; i < policy_n_limit_fields; i++) {
		const struct field *f = &policy_limit_fields[i];
		uint64_t want = policy_limit_get(request, f), limit = policy_limit_get(&p->limits, f);
		if (want == 0 || (want <= limit && want >= f->min))
			continue;

		char want_text[32], limit_text[32], json_name[32];
		const char *flag = flag_names ? *(const char *const *)((const char *)flag_names + f->flag_offset)
					      : NULL;
		if (!flag) {
			snprintf(json_name, sizeof json_name, "limits.%s", f->key);
			flag = json_name;
		}
		policy_format_value(f->kind, want, want_text, sizeof want_text);
		if (want < f->min) {
			policy_format_value(f->kind, f->min, limit_text, sizeof limit_text);
			return policy_error(e, EINVAL, "%s %s is below the minimum of %s", flag, want_text,
					    limit_text);
		}
		policy_format_value(f->kind, limit, limit_text, sizeof limit_text);
		return policy_error(e, EPERM, "%s %s exceeds the policy's limit of %s (policy %s)", flag,
				    want_text, limit_text, p->name);
	}
	for (size_t i = 0; i < policy_n_limit_fields; i++) {
		uint64_t want = policy_limit_get(request, &policy_limit_fields[i]);
		if (want != 0)
			policy_limit_set(&p->limits, &policy_limit_fields[i], want);
	}
	return 0;
}

int policy_hide_add(struct policy *p, const char *path, wr_error *e)
{
	const char *problem = policy_hide_problem(path);
	if (problem)
		return policy_error(e, EINVAL, "hide \"%s\": %s", path, problem);
	for (size_t i = 0; i < p->n_hide; i++)
		if (!strcmp(p->hide[i], path))
			return 0;
	char **more = realloc(p->hide, (p->n_hide + 2) * sizeof *more);
	if (!more)
		return policy_error(e, ENOMEM, "out of memory");
	p->hide = more;
	if (!(more[p->n_hide] = strdup(path)))
		return policy_error(e, ENOMEM, "out of memory");
	more[++p->n_hide] = NULL;
	return 0;
}

uint64_t policy_tmpfs_size(uint64_t size, uint64_t memory)
{
	if (!memory)
		return size;
	uint64_t reserve = memory / 4 < POLICY_TMPFS_RESERVE_MAX ? memory / 4 : POLICY_TMPFS_RESERVE_MAX;
	return size < memory - reserve ? size : memory - reserve;
}

int policy_restrict_socket_families(struct policy *p, uint64_t want, wr_error *e)
{
	uint64_t extra = want & ~p->socket_families;
	if (extra) {
		char asked[512], allowed[512];
		socket_families_format(extra, asked, sizeof asked);
		socket_families_format(p->socket_families, allowed, sizeof allowed);
		return policy_error(e, EPERM, "socket family %s is not allowed by policy %s (its "
				    "seccomp.socket_families: %s)", asked, p->name, allowed[0] ? allowed : "none");
	}
	p->socket_families = want;
	return 0;
}

void policy_format_value(enum value_kind kind, uint64_t v, char *buf, size_t len)
{
	switch (kind) {
	case VALUE_SIZE: format_size(v, buf, len); break;
	case VALUE_CPUS: format_cpus((uint32_t)v, buf, len); break;
	case VALUE_DURATION: format_duration(v, buf, len); break;
	default: snprintf(buf, len, "%" PRIu64, v); break;
	}
}

static json_t *strv_to_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *socket_families_to_json(uint64_t set)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n_socket_families; i++)
		if (set & (1ULL << i))
			json_array_append_new(a, json_string(socket_families[i].name));
	return a;
}

static json_t *limits_to_json(const struct policy_limits *l)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < policy_n_limit_fields; i++) {
		const struct field *f = &policy_limit_fields[i];
		uint64_t v = policy_limit_get(l, f);
		char text[32];
		if (f->kind == VALUE_COUNT) {
			json_object_set_new(o, f->key, json_integer((json_int_t)v));
			continue;
		}
		policy_format_value(f->kind, v, text, sizeof text);
		json_object_set_new(o, f->key, json_string(text));
	}
	return o;
}

static json_t *rlimits_to_json(const struct policy *p)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < POLICY_RLIMIT_COUNT; i++) {
		const struct field *f = &policy_rlimit_fields[i];
		uint64_t v = p->rlimits[i].value;
		char text[32];
		if (!p->rlimits[i].set)
			continue;
		if (v == RLIM_INFINITY) {
			json_object_set_new(o, f->key, json_string("unlimited"));
		} else if (f->kind == VALUE_SIZE && v != 0 && v % 1024 == 0) {
			format_size(v, text, sizeof text);
			json_object_set_new(o, f->key, json_string(text));
		} else {
			json_object_set_new(o, f->key, json_integer((json_int_t)v));
		}
	}
	return o;
}

json_t *env_to_json(char *const *env, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; o && env && i < n && env[i]; i++) {
		const char *eq = strchr(env[i], '=');
		if (!eq)
			continue;
		_cleanup_free_ char *key = strndup(env[i], (size_t)(eq - env[i]));
		if (key)
			json_object_set_new(o, key, json_string(eq + 1));
	}
	return o;
}

json_t *policy_to_json(const struct policy *p)
{
	const char *errno_name = policy_errno_name(p->seccomp_errno);
	_cleanup_json_ json_t *mounts = json_array();
	for (size_t i = 0; mounts && i < p->n_mounts; i++)
		json_array_append_new(mounts, json_pack("{s:s, s:s}", "source", p->mounts[i].source,
							"target", p->mounts[i].target));

	_cleanup_json_ json_t *root = json_pack("{s:i, s:s}", "version", POLICY_FORMAT_VERSION, "name", p->name);
	if (!root || !mounts)
		return NULL;
	if (p->description && json_object_set_new(root, "description", json_string(p->description)) < 0)
		return NULL;
	/* "o" steals each reference; json_pack fails as a whole (and releases
	 * them) when one of the values could not be built */
	_cleanup_json_ json_t *rest = json_pack(
		"{s:s, s:o, s:o, s:o, s:{s:s, s:o, s:o}, s:O, s:o}",
		"hostname", p->hostname, "limits", limits_to_json(&p->limits), "rlimits", rlimits_to_json(p),
		"network", policy_network_to_json(p),
		"seccomp", "errno", errno_name ? errno_name : "EPERM",
		"deny", strv_to_json(p->seccomp_deny, p->n_seccomp_deny),
		"socket_families", socket_families_to_json(p->socket_families),
		"mounts", mounts, "env", env_to_json(p->env, p->n_env));
	if (!rest || json_object_update(root, rest) < 0)
		return NULL;
	if (p->images && json_object_set_new(root, "images", strv_to_json(p->images, p->n_images)) < 0)
		return NULL;
	if (p->hide && json_object_set_new(root, "hide", strv_to_json(p->hide, p->n_hide)) < 0)
		return NULL;
	if (json_object_set_new(root, "collect", policy_collect_to_json(p)) < 0)
		return NULL;
	return TAKE_PTR(root);
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->origin);
	free(p->description);
	free(p->hostname);
	policy_network_free(&p->net);
	strv_freep(&p->seccomp_deny);
	for (size_t i = 0; p->mounts && i < p->n_mounts; i++) {
		free(p->mounts[i].source);
		free(p->mounts[i].target);
	}
	free(p->mounts);
	strv_freep(&p->env);
	strv_freep(&p->images);
	strv_freep(&p->hide);
	free(p);
}
