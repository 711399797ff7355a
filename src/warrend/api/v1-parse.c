#include "config.h"

/* Version 1's request bodies (v1-parse.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "encode.h"
#include "units.h"
#include "v1-parse.h"

static bool in_list(const char *key, const char *const *list)
{
	for (; list && *list; list++)
		if (!strcmp(*list, key))
			return true;
	return false;
}

static int check_fields2(json_t *obj, const char *prefix, const char *const *a, const char *const *b,
			 struct wd_error *err)
{
	const char *key;
	json_t *value;
	json_object_foreach(obj, key, value) {
		if (in_list(key, a) || in_list(key, b))
			continue;
		if (prefix && *prefix)
			return wd_fail(err, 400, "unknown field \"%s.%s\"", prefix, key);
		return wd_fail(err, 400, "unknown field \"%s\"", key);
	}
	return 0;
}

int v1_check_fields(json_t *obj, const char *prefix, const char *const *allowed, struct wd_error *err)
{
	return check_fields2(obj, prefix, allowed, NULL, err);
}

int v1_limit(json_t *v, const char *name, char kind, uint64_t *out, struct wd_error *err)
{
	char text[64];
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v) && json_real_value(v) > 0)
		snprintf(text, sizeof text, "%g", json_real_value(v));
	else if (json_is_string(v) && json_string_length(v) < sizeof text)
		snprintf(text, sizeof text, "%s", json_string_value(v));
	else
		return wd_fail(err, 400, "%s: expected a number or a string", name);
	int r = -EINVAL;
	uint32_t millis;
	char *end;
	switch (kind) {
	case 's': r = parse_size(text, out); break;
	case 'd': r = parse_duration(text, out); break;
	case 'c': r = parse_cpus(text, &millis); *out = millis; break;
	case 'n': *out = strtoull(text, &end, 10); r = (*end || text[0] == '-') ? -EINVAL : 0; break;
	}
	if (r < 0 || *out == 0)
		return wd_fail(err, 400, "%s: \"%s\" is not a valid %s", name, text,
			       kind == 's' ? "size like \"256M\"" : kind == 'd' ? "duration like \"30s\"" :
			       kind == 'c' ? "number of CPUs like 0.5" : "positive count");
	return 0;
}

int v1_env(json_t *obj, const char *where, char ***out, struct wd_error *err)
{
	*out = NULL;
	if (!obj)
		return 0;
	if (!json_is_object(obj))
		return wd_fail(err, 400, "%s: expected an object of strings", where);
	_cleanup_strv_ char **env = calloc(json_object_size(obj) + 1, sizeof *env);
	if (!env)
		return wd_fail(err, 503, "out of memory");
	size_t i = 0;
	const char *key;
	json_t *val;
	json_object_foreach(obj, key, val) {
		if (!key[0] || strchr(key, '=') || !json_is_string(val) ||
		    strlen(json_string_value(val)) != json_string_length(val))
			return wd_fail(err, 400, "%s.%s: expected a string value and a name without '='", where, key);
		if (asprintf(&env[i], "%s=%s", key, json_string_value(val)) < 0) {
			env[i] = NULL;
			return wd_fail(err, 503, "out of memory");
		}
		i++;
	}
	*out = TAKE_PTR(env);
	return 0;
}

void v1_hold_free(struct v1_hold *h)
{
	strv_freep(&h->argv);
	strv_freep(&h->env);
	free(h->stdin_data);
	free(h->allow);
	*h = (struct v1_hold){ 0 };
}

static const char *string_or_null(json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int session_limits(json_t *limits, struct limits_request *l, struct wd_error *err)
{
	static const char *const fields[] = { "memory", "pids", "cpus", "timeout", "output", NULL };
	if (!limits)
		return 0;
	if (!json_is_object(limits))
		return wd_fail(err, 400, "limits: expected an object");
	int r;
	uint64_t cpus = 0;
	json_t *v;
	if ((r = v1_check_fields(limits, "limits", fields, err)) < 0 ||
	    ((v = json_object_get(limits, "memory")) && (r = v1_limit(v, "limits.memory", 's', &l->memory, err)) < 0) ||
	    ((v = json_object_get(limits, "pids")) && (r = v1_limit(v, "limits.pids", 'n', &l->pids, err)) < 0) ||
	    ((v = json_object_get(limits, "timeout")) &&
	     (r = v1_limit(v, "limits.timeout", 'd', &l->timeout_ms, err)) < 0) ||
	    ((v = json_object_get(limits, "output")) && (r = v1_limit(v, "limits.output", 's', &l->output, err)) < 0) ||
	    ((v = json_object_get(limits, "cpus")) && (r = v1_limit(v, "limits.cpus", 'c', &cpus, err)) < 0))
		return r;
	l->cpu_millis = (uint32_t)cpus;
	return 0;
}

int v1_network(json_t *v, struct v1_hold *hold, struct wd_error *err)
{
	static const char *const fields[] = { "mode", "allow", NULL };
	struct network_request *n = &hold->net;
	*n = (struct network_request){ 0 };
	if (!json_is_object(v))
		return wd_fail(err, 400, "network: expected an object like {\"mode\": \"egress\", \"allow\": [\"pypi.org\"]}");
	int rc = v1_check_fields(v, "network", fields, err);
	if (rc < 0)
		return rc;
	json_t *mode = json_object_get(v, "mode"), *allow = json_object_get(v, "allow"), *item;
	if (mode) {
		const char *m = json_is_string(mode) ? json_string_value(mode) : "";
		n->has_mode = true;
		if (!strcmp(m, "none"))
			n->mode = NET_NONE;
		else if (!strcmp(m, "egress"))
			n->mode = NET_EGRESS;
		else if (!strcmp(m, "host"))
			n->mode = NET_HOST; /* refused by the core, which says why */
		else
			return wd_fail(err, 400, "network.mode: expected \"none\" or \"egress\"");
	}
	if (!allow)
		return 0;
	if (!json_is_array(allow))
		return wd_fail(err, 400, "network.allow: expected an array of strings (addresses, networks, names)");
	free(hold->allow);
	if (!(hold->allow = calloc(json_array_size(allow) + 1, sizeof *hold->allow)))
		return wd_fail(err, 503, "out of memory");
	size_t i;
	json_array_foreach(allow, i, item) {
		if (!json_is_string(item) || strlen(json_string_value(item)) != json_string_length(item))
			return wd_fail(err, 400, "network.allow[%zu]: expected a string", i);
		hold->allow[i] = (char *)json_string_value(item);
	}
	n->has_allow = true;
	n->allow = hold->allow;
	n->n_allow = json_array_size(allow);
	return 0;
}

int v1_session_target(json_t *body, struct session_request *r, struct wd_error *err)
{
	json_t *image = json_object_get(body, "image"), *policy = json_object_get(body, "policy");
	json_t *backend = json_object_get(body, "backend");
	if ((image && !json_is_string(image)) || (policy && !json_is_string(policy)))
		return wd_fail(err, 400, "%s: expected a string", image && !json_is_string(image) ? "image" : "policy");
	if (backend && !json_is_string(backend))
		return wd_fail(err, 400, "backend: expected a string");
	r->image = string_or_null(image);
	r->policy = string_or_null(policy);
	r->backend = string_or_null(backend);
	return session_limits(json_object_get(body, "limits"), &r->limits, err);
}

int v1_session_request(json_t *body, const char *const *extra, struct session_request *r, struct v1_hold *hold,
		       struct wd_error *err)
{
	static const char *const fields[] = { "image", "policy", "backend", "limits", "env", "idle_timeout",
					      "max_lifetime", "network", NULL };
	if (!body)
		return 0;
	int rc;
	json_t *v;
	if ((rc = check_fields2(body, NULL, fields, extra, err)) < 0 || (rc = v1_session_target(body, r, err)) < 0 ||
	    (rc = v1_env(json_object_get(body, "env"), "env", &hold->env, err)) < 0 ||
	    ((v = json_object_get(body, "idle_timeout")) &&
	     (rc = v1_limit(v, "idle_timeout", 'd', &r->idle_timeout_ms, err)) < 0) ||
	    ((v = json_object_get(body, "max_lifetime")) &&
	     (rc = v1_limit(v, "max_lifetime", 'd', &r->max_lifetime_ms, err)) < 0) ||
	    ((v = json_object_get(body, "network")) && (rc = v1_network(v, hold, err)) < 0))
		return rc;
	r->env = hold->env;
	r->network = json_object_get(body, "network") ? &hold->net : NULL;
	return 0;
}

static int parse_argv(json_t *cmd, json_t *shell, char ***out, struct wd_error *err)
{
	if (!!cmd == !!shell)
		return wd_fail(err, 400, "give exactly one of \"cmd\" (an array of strings) or \"shell\" (a string)");
	if (shell) {
		if (!json_is_string(shell) || strlen(json_string_value(shell)) != json_string_length(shell))
			return wd_fail(err, 400, "shell: expected a string without NUL bytes");
		char **argv = calloc(4, sizeof *argv);
		if (!argv || !(argv[0] = strdup("/bin/sh")) || !(argv[1] = strdup("-c")) ||
		    !(argv[2] = strdup(json_string_value(shell)))) {
			strv_freep(&argv);
			return wd_fail(err, 503, "out of memory");
		}
		*out = argv;
		return 0;
	}
	if (!json_is_array(cmd) || json_array_size(cmd) == 0 || json_array_size(cmd) > 4096)
		return wd_fail(err, 400, "cmd: expected a non-empty array of strings");
	_cleanup_strv_ char **argv = calloc(json_array_size(cmd) + 1, sizeof *argv);
	if (!argv)
		return wd_fail(err, 503, "out of memory");
	size_t i;
	json_t *v;
	json_array_foreach(cmd, i, v) {
		if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
		    (i == 0 && json_string_length(v) == 0))
			return wd_fail(err, 400, "cmd[%zu]: expected a string without NUL bytes", i);
		if (!(argv[i] = strdup(json_string_value(v))))
			return wd_fail(err, 503, "out of memory");
	}
	*out = TAKE_PTR(argv);
	return 0;
}

static int parse_stdin(json_t *in, json_t *in64, struct exec_request *r, struct v1_hold *hold, struct wd_error *err)
{
	if (in && in64)
		return wd_fail(err, 400, "give stdin or stdin_base64, not both");
	if (in) {
		if (!json_is_string(in))
			return wd_fail(err, 400, "stdin: expected a string");
		r->stdin_len = json_string_length(in);
		if (!(hold->stdin_data = malloc(r->stdin_len + 1)))
			return wd_fail(err, 503, "out of memory");
		memcpy(hold->stdin_data, json_string_value(in), r->stdin_len);
	} else if (in64) {
		if (!json_is_string(in64) ||
		    !(hold->stdin_data = base64_decode(json_string_value(in64), json_string_length(in64), &r->stdin_len)))
			return wd_fail(err, 400, "stdin_base64: not valid base64");
	}
	r->stdin_data = hold->stdin_data;
	return 0;
}

int v1_exec_request(json_t *body, const char *const *extra, struct exec_request *r, struct v1_hold *hold,
		    bool *stream, struct wd_error *err)
{
	static const char *const fields[] = { "cmd", "shell", "env", "cwd", "stdin", "stdin_base64", "timeout",
					      "output", "stream", NULL };
	int rc;
	json_t *v;
	if ((rc = check_fields2(body, NULL, fields, extra, err)) < 0 ||
	    (!hold->argv &&
	     (rc = parse_argv(json_object_get(body, "cmd"), json_object_get(body, "shell"), &hold->argv, err)) < 0) ||
	    (rc = v1_env(json_object_get(body, "env"), "env", &hold->env, err)) < 0)
		return rc;
	r->argv = hold->argv;
	r->env = hold->env;
	json_t *cwd = json_object_get(body, "cwd");
	if (cwd && !json_is_string(cwd))
		return wd_fail(err, 400, "cwd: expected /workspace or a directory below it");
	r->cwd = string_or_null(cwd);
	if ((rc = parse_stdin(json_object_get(body, "stdin"), json_object_get(body, "stdin_base64"), r, hold, err)) < 0 ||
	    ((v = json_object_get(body, "timeout")) && (rc = v1_limit(v, "timeout", 'd', &r->timeout_ms, err)) < 0) ||
	    ((v = json_object_get(body, "output")) && (rc = v1_limit(v, "output", 's', &r->output_cap, err)) < 0))
		return rc;
	json_t *st = json_object_get(body, "stream");
	if (st && !json_is_boolean(st))
		return wd_fail(err, 400, "stream: expected true or false");
	*stream = st && json_is_true(st);
	return 0;
}

/* {"cols": N, "rows": N}: 1 to 65535 each. */
static int parse_size_pair(json_t *obj, const char *where, uint16_t *cols, uint16_t *rows, struct wd_error *err)
{
	static const char *const fields[] = { "cols", "rows", NULL };
	if (!json_is_object(obj))
		return wd_fail(err, 400, "%s: expected {\"cols\": N, \"rows\": N}", where);
	int rc = v1_check_fields(obj, where, fields, err);
	if (rc < 0)
		return rc;
	json_t *c = json_object_get(obj, "cols"), *r = json_object_get(obj, "rows");
	if (!c && !r && strcmp(where, "pty") == 0)
		return 0; /* the default size */
	if (!json_is_integer(c) || !json_is_integer(r) || json_integer_value(c) < 1 || json_integer_value(c) > 65535 ||
	    json_integer_value(r) < 1 || json_integer_value(r) > 65535)
		return wd_fail(err, 400, "%s: cols and rows: expected whole numbers from 1 to 65535", where);
	*cols = (uint16_t)json_integer_value(c);
	*rows = (uint16_t)json_integer_value(r);
	return 0;
}

int v1_terminal_size(json_t *body, uint16_t *cols, uint16_t *rows, struct wd_error *err)
{
	return parse_size_pair(body, "", cols, rows, err);
}

int v1_process_request(json_t *body, struct process_request *r, struct v1_hold *hold, struct wd_error *err)
{
	static const char *const fields[] = { "cmd", "shell", "env", "cwd", "stdin", "pty", "timeout", "tag", NULL };
	int rc;
	json_t *v;
	if ((rc = v1_check_fields(body, NULL, fields, err)) < 0 ||
	    (rc = parse_argv(json_object_get(body, "cmd"), json_object_get(body, "shell"), &hold->argv, err)) < 0 ||
	    (rc = v1_env(json_object_get(body, "env"), "env", &hold->env, err)) < 0)
		return rc;
	r->argv = hold->argv;
	r->env = hold->env;
	json_t *cwd = json_object_get(body, "cwd"), *tag = json_object_get(body, "tag");
	if (cwd && !json_is_string(cwd))
		return wd_fail(err, 400, "cwd: expected /workspace or a directory below it");
	if (tag && (!json_is_string(tag) || strlen(json_string_value(tag)) != json_string_length(tag)))
		return wd_fail(err, 400, "tag: expected a string without NUL bytes");
	r->cwd = string_or_null(cwd);
	r->tag = string_or_null(tag);
	if ((v = json_object_get(body, "stdin")) && !json_is_boolean(v))
		return wd_fail(err, 400, "stdin: expected true (keep it open for POST .../stdin) or false");
	r->stdin = v && json_is_true(v);
	if ((v = json_object_get(body, "pty")) && !json_is_null(v)) {
		if ((rc = parse_size_pair(v, "pty", &r->cols, &r->rows, err)) < 0)
			return rc;
		r->pty = true;
	}
	if ((v = json_object_get(body, "timeout")) && (rc = v1_limit(v, "timeout", 'd', &r->timeout_ms, err)) < 0)
		return rc;
	return 0;
}

void v1_iso_time(time_t t, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
