/* Reading a policy document: table-driven, every unknown key and wrong
 * value reported with its JSON path (warren-policy(5)). */
#include "config.h"
#include "policy-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cleanup.h"
#include "seccomp-filter.h"
#include "socket-family.h"
#include "units.h"

#define MIN_MEMORY (4 * 1024 * 1024)
#define MAX_PIDS 4194304          /* the kernel's PID_MAX_LIMIT */
#define MAX_NOFILE 1048576        /* the kernel's default fs.nr_open */
#define MAX_CPUS 1024

static const char *const default_env[] = {
	"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/workspace", "LANG=C.UTF-8", "USER=sandbox", NULL,
};

static const struct { const char *name; int value; } errno_names[] = {
	{ "EPERM", EPERM }, { "EACCES", EACCES }, { "ENOSYS", ENOSYS },
};

int policy_error(wr_error *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->message, sizeof e->message, fmt, ap);
		va_end(ap);
		e->code = code;
	}
	return -code;
}

/* "<origin>: <json path>: <message>" */
int policy_fail(struct parser *ps, const char *path, const char *fmt, ...)
{
	char what[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return policy_error(ps->e, EINVAL, "%s: %s: %s", ps->origin, path, what);
}
#define fail policy_fail /* the short name this file uses */

const char *policy_quote(const char *s, char *buf, size_t len)
{
	size_t o = 0;
	buf[o++] = '"';
	for (; *s && o + 8 < len; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			o += (size_t)snprintf(buf + o, len - o, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, len - o, "\\u%04x", c);
		else
			buf[o++] = (char)c;
	}
	if (*s)
		o += (size_t)snprintf(buf + o, len - o, "...");
	snprintf(buf + o, len - o, "\"");
	return buf;
}
#define QUOTE POLICY_QUOTE

void policy_path_key(char *buf, size_t len, const char *parent, const char *key)
{
	bool plain = key[0] && !(key[0] >= '0' && key[0] <= '9') &&
		     strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == strlen(key);
	if (plain)
		snprintf(buf, len, "%s%s%s", parent, *parent ? "." : "", key);
	else
		snprintf(buf, len, "%s[%s]", parent, QUOTE(key));
}

void policy_path_index(char *buf, size_t len, const char *parent, size_t i)
{
	snprintf(buf, len, "%s[%zu]", parent, i);
}

const char *policy_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE: case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

int policy_parse_object(struct parser *ps, const char *path, json_t *obj, const struct field *fields, size_t n)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return fail(ps, path, "expected an object, got %s", policy_type_name(obj));
	json_object_foreach(obj, key, v) {
		char sub[JSON_PATH_MAX];
		const struct field *f = NULL;
		policy_path_key(sub, sizeof sub, path, key);
		for (size_t i = 0; i < n && !f; i++)
			if (strcmp(fields[i].key, key) == 0)
				f = &fields[i];
		if (!f) {
			char known[256] = "";
			for (size_t i = 0, o = 0; i < n && o < sizeof known; i++)
				o += (size_t)snprintf(known + o, sizeof known - o, "%s%s", i ? ", " : "", fields[i].key);
			return fail(ps, sub, "unknown field (known fields: %s)", known);
		}
		int r = f->parse(ps, sub, v, f);
		if (r < 0)
			return r;
	}
	return 0;
}

static char **strv_copy(const char *const *v)
{
	size_t n = 0;
	while (v[n])
		n++;
	char **copy = calloc(n + 1, sizeof *copy);
	for (size_t i = 0; copy && i < n; i++) {
		copy[i] = strdup(v[i]);
		if (!copy[i]) {
			strv_freep(&copy);
			return NULL;
		}
	}
	return copy;
}

int policy_expect_string(struct parser *ps, const char *path, json_t *v, const char **out)
{
	if (!json_is_string(v))
		return fail(ps, path, "expected a string, got %s", policy_type_name(v));
	if (strlen(json_string_value(v)) != json_string_length(v))
		return fail(ps, path, "must not contain NUL characters");
	*out = json_string_value(v);
	return 0;
}

int policy_replace_string(struct parser *ps, char **slot, const char *value)
{
	char *copy = strdup(value);
	if (!copy)
		return policy_error(ps->e, ENOMEM, "out of memory");
	free(*slot);
	*slot = copy;
	return 0;
}

/* Policy and image names travel into messages, file names and metrics. */
static bool name_is_valid(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 64 && s[0] != '.' && s[0] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}
#define NAME_RULE "1 to 64 letters, digits, '.', '_' or '-', not starting with '.' or '-'"

/* RFC 1123: dot-separated labels of letters, digits and '-', 1 to 63 long,
 * not starting or ending with '-'; at most 64 in all (the UTS limit). */
static bool hostname_is_valid(const char *s)
{
	size_t n = strlen(s), label = 0;
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && label > 0))
			return false;
		label++;
	}
	return true;
}

static int parse_version(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	if (!json_is_integer(v))
		return fail(ps, path, "expected an integer, got %s", policy_type_name(v));
	if (json_integer_value(v) != POLICY_FORMAT_VERSION)
		return fail(ps, path, "unsupported version %" JSON_INTEGER_FORMAT " (this warren reads version %d)",
			    json_integer_value(v), POLICY_FORMAT_VERSION);
	return 0;
}

static int parse_name(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	const char *s;
	int r = policy_expect_string(ps, path, v, &s);
	if (r < 0)
		return r;
	if (!name_is_valid(s))
		return fail(ps, path, "%s is not a valid name (" NAME_RULE ")", QUOTE(s));
	return policy_replace_string(ps, &ps->p->name, s);
}

static int parse_description(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	const char *s;
	int r = policy_expect_string(ps, path, v, &s);
	return r < 0 ? r : policy_replace_string(ps, &ps->p->description, s);
}

static int parse_hostname(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	const char *s;
	int r = policy_expect_string(ps, path, v, &s);
	if (r < 0)
		return r;
	if (!hostname_is_valid(s))
		return fail(ps, path, "%s is not a valid hostname (dot-separated labels of letters, digits and '-', "
			    "at most 64 characters)", QUOTE(s));
	return policy_replace_string(ps, &ps->p->hostname, s);
}

/* A size is a string for parse_size or an integer count of bytes. */
int policy_json_size(struct parser *ps, const char *path, json_t *v, const char *example, uint64_t *out)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return fail(ps, path, "expected size like %s", QUOTE(example));
	int r = parse_size(json_string_value(v), out);
	if (r == -ERANGE)
		return fail(ps, path, "%s is too large", QUOTE(json_string_value(v)));
	if (r < 0)
		return fail(ps, path, "expected size like %s, got %s", QUOTE(example), QUOTE(json_string_value(v)));
	return 0;
}

static int json_duration(struct parser *ps, const char *path, json_t *v, uint64_t *ms)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		if (json_integer_value(v) > INT64_MAX / 1000)
			return fail(ps, path, "%" JSON_INTEGER_FORMAT " seconds is too long", json_integer_value(v));
		*ms = (uint64_t)json_integer_value(v) * 1000;
		return 0;
	}
	if (!json_is_string(v))
		return fail(ps, path, "expected duration like \"5m\" or integer seconds");
	int r = parse_duration(json_string_value(v), ms);
	if (r == -ERANGE)
		return fail(ps, path, "%s is too long", QUOTE(json_string_value(v)));
	if (r < 0)
		return fail(ps, path, "expected duration like \"5m\" (units ms, s, m, h), got %s",
			    QUOTE(json_string_value(v)));
	return 0;
}

static int json_cpus(struct parser *ps, const char *path, json_t *v, uint32_t *millis)
{
	if (json_is_number(v)) {
		double cpus = json_number_value(v);
		if (!(cpus > 0))
			return fail(ps, path, "must be more than 0");
		if (cpus > MAX_CPUS)
			return fail(ps, path, "at most %d CPUs", MAX_CPUS);
		*millis = (uint32_t)(cpus * 1000 + 0.5);
		if (*millis == 0)
			return fail(ps, path, "must be at least 0.001");
		return 0;
	}
	if (!json_is_string(v))
		return fail(ps, path, "expected a number of CPUs like 1 or \"0.5\"");
	int r = parse_cpus(json_string_value(v), millis);
	if (r == -ERANGE)
		return fail(ps, path, "at most %d CPUs", MAX_CPUS);
	if (r < 0)
		return fail(ps, path, "expected a number of CPUs like 1 or \"0.5\" (at least 0.001), got %s",
			    QUOTE(json_string_value(v)));
	return 0;
}

static int parse_limit(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	uint64_t value = 0;
	uint32_t millis;
	char shown[32], least[32];
	int r;

	switch (f->kind) {
	case VALUE_SIZE:
		r = policy_json_size(ps, path, v, "512M", &value);
		break;
	case VALUE_DURATION:
		r = json_duration(ps, path, v, &value);
		break;
	case VALUE_CPUS:
		r = json_cpus(ps, path, v, &millis);
		value = millis;
		break;
	default:
		if (!json_is_integer(v))
			return fail(ps, path, "expected an integer, got %s", policy_type_name(v));
		if (json_integer_value(v) < (json_int_t)f->min || json_integer_value(v) > (json_int_t)f->max)
			return fail(ps, path, "must be between %" PRIu64 " and %" PRIu64 ", got %" JSON_INTEGER_FORMAT,
				    f->min, f->max, json_integer_value(v));
		value = (uint64_t)json_integer_value(v);
		r = 0;
		break;
	}
	if (r < 0)
		return r;
	if (value == 0)
		return fail(ps, path, "must be more than 0");
	if (value < f->min) {
		policy_format_value(f->kind, value, shown, sizeof shown);
		policy_format_value(f->kind, f->min, least, sizeof least);
		return fail(ps, path, "%s is below the minimum of %s", shown, least);
	}
	policy_limit_set(&ps->p->limits, f, value);
	return 0;
}

#define LIMIT(name, member, k, lo, hi) { .key = #name, .parse = parse_limit, .kind = k, \
	.offset = offsetof(struct policy_limits, member), .min = lo, .max = hi, \
	.flag_offset = offsetof(struct policy_limit_names, name) }
const struct field policy_limit_fields[] = {
	LIMIT(memory, memory, VALUE_SIZE, MIN_MEMORY, INT64_MAX),
	LIMIT(pids, pids, VALUE_COUNT, 1, MAX_PIDS),
	LIMIT(cpus, cpu_millis, VALUE_CPUS, 1, MAX_CPUS * 1000),
	LIMIT(timeout, timeout_ms, VALUE_DURATION, 1, INT64_MAX),
	LIMIT(workspace, workspace, VALUE_SIZE, 1, INT64_MAX),
	LIMIT(tmp, tmp, VALUE_SIZE, 1, INT64_MAX),
	LIMIT(output, output, VALUE_SIZE, 1, INT64_MAX),
};
const size_t policy_n_limit_fields = ARRAY_SIZE(policy_limit_fields);

static int parse_limits(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	return policy_parse_object(ps, path, v, policy_limit_fields, policy_n_limit_fields);
}

static int parse_rlimit(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	struct policy_rlimit *rl = &ps->p->rlimits[f->offset];
	uint64_t value;

	if (json_is_string(v) && strcmp(json_string_value(v), "unlimited") == 0) {
		if (!f->unlimited_ok)
			return fail(ps, path, "cannot be \"unlimited\" (at most %" PRIu64 ")", f->max);
		value = RLIM_INFINITY;
	} else if (json_is_integer(v) && json_integer_value(v) >= 0) {
		value = (uint64_t)json_integer_value(v);
	} else if (json_is_string(v) && f->kind == VALUE_SIZE) {
		int r = policy_json_size(ps, path, v, "8M", &value);
		if (r < 0)
			return r;
	} else if (f->kind == VALUE_SIZE) {
		return fail(ps, path, "expected an integer, a size like \"8M\" or \"unlimited\"");
	} else {
		return fail(ps, path, f->unlimited_ok ? "expected an integer or \"unlimited\""
						     : "expected an integer");
	}
	if (value != RLIM_INFINITY && value > f->max)
		return fail(ps, path, "must be at most %" PRIu64 ", got %" PRIu64, f->max, value);
	if (f->offset == POLICY_RLIMIT_CORE && value != 0)
		return fail(ps, path, "must be 0: the isolation contract allows no core dumps");
	*rl = (struct policy_rlimit){ .set = true, .resource = f->resource, .value = value };
	return 0;
}

#define RLIMIT_FIELD(name, idx, res, k, unl, hi) [idx] = { .key = name, .parse = parse_rlimit, .kind = k, \
	.offset = idx, .max = hi, .resource = res, .unlimited_ok = unl }
const struct field policy_rlimit_fields[POLICY_RLIMIT_COUNT] = {
	RLIMIT_FIELD("core", POLICY_RLIMIT_CORE, RLIMIT_CORE, VALUE_SIZE, true, INT64_MAX),
	RLIMIT_FIELD("nofile", POLICY_RLIMIT_NOFILE, RLIMIT_NOFILE, VALUE_COUNT, false, MAX_NOFILE),
	RLIMIT_FIELD("fsize", POLICY_RLIMIT_FSIZE, RLIMIT_FSIZE, VALUE_SIZE, true, INT64_MAX),
	RLIMIT_FIELD("stack", POLICY_RLIMIT_STACK, RLIMIT_STACK, VALUE_SIZE, true, INT64_MAX),
	RLIMIT_FIELD("cpu", POLICY_RLIMIT_CPU, RLIMIT_CPU, VALUE_COUNT, true, INT64_MAX),
	RLIMIT_FIELD("nproc", POLICY_RLIMIT_NPROC, RLIMIT_NPROC, VALUE_COUNT, true, INT64_MAX),
	RLIMIT_FIELD("memlock", POLICY_RLIMIT_MEMLOCK, RLIMIT_MEMLOCK, VALUE_SIZE, true, INT64_MAX),
	RLIMIT_FIELD("as", POLICY_RLIMIT_AS, RLIMIT_AS, VALUE_SIZE, true, INT64_MAX),
};

static void set_rlimit(struct policy *p, enum policy_rlimit_index i, uint64_t value)
{
	p->rlimits[i] = (struct policy_rlimit){ .set = true, .resource = policy_rlimit_fields[i].resource,
						.value = value };
}

static int parse_rlimits(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	/* a written rlimits object replaces the defaults, except that core
	 * dumps stay off whatever it says (the contract) */
	memset(ps->p->rlimits, 0, sizeof ps->p->rlimits);
	set_rlimit(ps->p, POLICY_RLIMIT_CORE, 0);
	return policy_parse_object(ps, path, v, policy_rlimit_fields, POLICY_RLIMIT_COUNT);
}

const char *policy_errno_name(int value)
{
	for (size_t i = 0; i < ARRAY_SIZE(errno_names); i++)
		if (errno_names[i].value == value)
			return errno_names[i].name;
	return NULL;
}

static int parse_seccomp_errno(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	for (size_t i = 0; json_is_string(v) && i < ARRAY_SIZE(errno_names); i++) {
		if (strcmp(json_string_value(v), errno_names[i].name) == 0) {
			ps->p->seccomp_errno = errno_names[i].value;
			return 0;
		}
	}
	return fail(ps, path, "expected one of \"EPERM\", \"EACCES\", \"ENOSYS\"");
}

static bool strv_contains(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* An array of unique strings, each accepted by `valid` (which may set the
 * error itself and return false). */
int policy_parse_unique_strings(struct parser *ps, const char *path, json_t *v,
				bool (*valid)(struct parser *ps, const char *path, const char *s),
				char ***out, size_t *n_out)
{
	json_t *item;
	size_t i;

	if (!json_is_array(v))
		return fail(ps, path, "expected an array, got %s", policy_type_name(v));
	_cleanup_strv_ char **list = calloc(json_array_size(v) + 1, sizeof *list);
	if (!list)
		return policy_error(ps->e, ENOMEM, "out of memory");
	json_array_foreach(v, i, item) {
		char sub[JSON_PATH_MAX];
		const char *s;
		policy_path_index(sub, sizeof sub, path, i);
		int r = policy_expect_string(ps, sub, item, &s);
		if (r < 0)
			return r;
		if (!valid(ps, sub, s))
			return -EINVAL;
		if (strv_contains(list, i, s))
			return fail(ps, sub, "%s is listed twice", QUOTE(s));
		list[i] = strdup(s);
		if (!list[i])
			return policy_error(ps->e, ENOMEM, "out of memory");
	}
	strv_freep(out);
	*n_out = json_array_size(v);
	*out = TAKE_PTR(list);
	return 0;
}

static bool syscall_valid(struct parser *ps, const char *path, const char *s)
{
	if (seccomp_syscall_known(s))
		return true;
	fail(ps, path, "%s is not a system call warren knows on this architecture", QUOTE(s));
	return false;
}

static int parse_seccomp_deny(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	return policy_parse_unique_strings(ps, path, v, syscall_valid, &ps->p->seccomp_deny, &ps->p->n_seccomp_deny);
}

static bool socket_family_valid(struct parser *ps, const char *path, const char *s)
{
	if (socket_family_index(s) >= 0)
		return true;
	fail(ps, path, "%s is not a socket family warren knows (e.g. \"unix\", \"inet\", \"inet6\", "
	     "\"netlink_route\", \"packet\", \"vsock\"; see warren-policy(5))", QUOTE(s));
	return false;
}

/* The families socket() and socketpair() may open; the rest fail with
 * EAFNOSUPPORT. */
static int parse_socket_families(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	_cleanup_strv_ char **names = NULL;
	size_t n = 0;
	int r = policy_parse_unique_strings(ps, path, v, socket_family_valid, &names, &n);
	if (r < 0)
		return r;
	ps->p->socket_families = 0;
	for (size_t i = 0; i < n; i++)
		ps->p->socket_families |= 1ULL << socket_family_index(names[i]);
	return 0;
}

static const struct field seccomp_fields[] = {
	{ .key = "errno", .parse = parse_seccomp_errno },
	{ .key = "deny", .parse = parse_seccomp_deny },
	{ .key = "socket_families", .parse = parse_socket_families },
};

static int parse_seccomp(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	return policy_parse_object(ps, path, v, seccomp_fields, ARRAY_SIZE(seccomp_fields));
}

static int parse_env(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	const char *key;
	size_t key_len, n = 0;
	json_t *value;

	if (!json_is_object(v))
		return fail(ps, path, "expected an object, got %s", policy_type_name(v));
	_cleanup_strv_ char **env = calloc(json_object_size(v) + 1, sizeof *env);
	if (!env)
		return policy_error(ps->e, ENOMEM, "out of memory");
	json_object_keylen_foreach(v, key, key_len, value) {
		char sub[JSON_PATH_MAX];
		const char *s;
		policy_path_key(sub, sizeof sub, path, key);
		if (key_len == 0 || strlen(key) != key_len || strchr(key, '='))
			return fail(ps, sub, "variable names must be non-empty, without '=' or NUL");
		int r = policy_expect_string(ps, sub, value, &s);
		if (r < 0)
			return r;
		if (asprintf(&env[n], "%s=%s", key, s) < 0) {
			env[n] = NULL;
			return policy_error(ps->e, ENOMEM, "out of memory");
		}
		n++;
	}
	strv_freep(&ps->p->env);
	ps->p->env = TAKE_PTR(env);
	ps->p->n_env = n;
	return 0;
}

static bool image_name_valid(struct parser *ps, const char *path, const char *s)
{
	if (name_is_valid(s))
		return true;
	fail(ps, path, "%s is not a valid image name (" NAME_RULE ")", QUOTE(s));
	return false;
}

static int parse_images(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	if (json_is_array(v) && json_array_size(v) == 0)
		return fail(ps, path, "must not be empty (leave it out to allow any image)");
	return policy_parse_unique_strings(ps, path, v, image_name_valid, &ps->p->images, &ps->p->n_images);
}

static const struct field policy_fields[] = {
	{ .key = "version", .parse = parse_version },
	{ .key = "name", .parse = parse_name },
	{ .key = "description", .parse = parse_description },
	{ .key = "hostname", .parse = parse_hostname },
	{ .key = "limits", .parse = parse_limits },
	{ .key = "rlimits", .parse = parse_rlimits },
	{ .key = "network", .parse = policy_parse_network },
	{ .key = "seccomp", .parse = parse_seccomp },
	{ .key = "mounts", .parse = policy_parse_mounts },
	{ .key = "env", .parse = parse_env },
	{ .key = "images", .parse = parse_images },
	{ .key = "hide", .parse = policy_parse_hide },
	{ .key = "collect", .parse = policy_parse_collect },
};

static void set_defaults(struct policy *p)
{
	p->limits = (struct policy_limits){
		.memory = 512ULL << 20, .pids = 256, .cpu_millis = 1000, .timeout_ms = 5 * 60 * 1000,
		.workspace = 1ULL << 30, .tmp = 256ULL << 20, .output = 16ULL << 20,
	};
	set_rlimit(p, POLICY_RLIMIT_CORE, 0);
	set_rlimit(p, POLICY_RLIMIT_NOFILE, 1024);
	set_rlimit(p, POLICY_RLIMIT_FSIZE, 1ULL << 30);
	set_rlimit(p, POLICY_RLIMIT_STACK, 8ULL << 20);
	p->network = NET_NONE;
	policy_network_defaults(p);
	policy_collect_defaults(p);
	p->seccomp_errno = EPERM;
	p->socket_families = socket_families_default();
}

/* The contract's names join whatever seccomp.deny lists: a policy written
 * for an older, shorter contract keeps working and still denies them all.
 * (The allowlist leaves them out anyway; the list says so explicitly.) */
static int add_contract_deny(struct policy *p)
{
	size_t n = 0;
	while (seccomp_contract_deny[n])
		n++;
	char **deny = realloc(p->seccomp_deny, (p->n_seccomp_deny + n + 1) * sizeof *deny);
	if (!deny)
		return -ENOMEM;
	p->seccomp_deny = deny;
	deny[p->n_seccomp_deny] = NULL;
	for (const char *const *c = seccomp_contract_deny; *c; c++) {
		if (strv_contains(deny, p->n_seccomp_deny, *c))
			continue;
		if (!(deny[p->n_seccomp_deny] = strdup(*c)))
			return -ENOMEM;
		deny[++p->n_seccomp_deny] = NULL;
	}
	return 0;
}

/* The defaults that are allocated: filled in after parsing, where the
 * document left them out. */
static int fill_missing(struct policy *p, const char *default_name, wr_error *e)
{
	if (!p->name && !(p->name = strdup(default_name)))
		return policy_error(e, ENOMEM, "out of memory");
	if (!p->hostname && !(p->hostname = strdup("sandbox")))
		return policy_error(e, ENOMEM, "out of memory");
	if (add_contract_deny(p) < 0)
		return policy_error(e, ENOMEM, "out of memory");
	if (!p->env) {
		if (!(p->env = strv_copy(default_env)))
			return policy_error(e, ENOMEM, "out of memory");
		p->n_env = ARRAY_SIZE(default_env) - 1;
	}
	if (!p->mounts && !(p->mounts = calloc(1, sizeof *p->mounts)))
		return policy_error(e, ENOMEM, "out of memory");
	return 0;
}

int policy_parse_named(const char *text, size_t len, const char *origin, const char *default_name,
		       struct policy **out, wr_error *e)
{
	json_error_t jerr;

	if (len > POLICY_MAX_BYTES)
		return policy_error(e, EINVAL, "%s: %zu bytes is more than a policy may have (1 MiB)", origin, len);
	_cleanup_json_ json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return policy_error(e, EINVAL, "%s: line %d column %d: %s", origin, jerr.line, jerr.column, jerr.text);
	if (!json_is_object(root))
		return policy_error(e, EINVAL, "%s: expected a JSON object at the top level, got %s", origin,
				   policy_type_name(root));

	_cleanup_policy_ struct policy *p = calloc(1, sizeof *p);
	if (!p || !(p->origin = strdup(origin)))
		return policy_error(e, ENOMEM, "out of memory");
	set_defaults(p);
	struct parser ps = { .origin = origin, .p = p, .e = e };
	/* the version says how to read the rest, so it is checked first */
	if (!json_object_get(root, "version"))
		return fail(&ps, "version", "missing (this format is version %d: add \"version\": %d)",
			    POLICY_FORMAT_VERSION, POLICY_FORMAT_VERSION);
	int r = policy_parse_object(&ps, "", root, policy_fields, ARRAY_SIZE(policy_fields));
	if (r < 0)
		return r;
	r = fill_missing(p, default_name, e);
	if (r < 0)
		return r;
	*out = TAKE_PTR(p);
	return 0;
}
