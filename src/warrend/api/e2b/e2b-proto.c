#include "config.h"

/* envd's messages in proto3's JSON mapping (e2b-proto.h). Field names are
 * accepted as JSON names (lowerCamelCase) or proto names (snake_case). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "box.h"
#include "cleanup.h"
#include "connect.h"
#include "e2b-proto.h"
#include "encode.h"
#include "policy.h"
#include "sandbox-files.h"

#define FIELD(obj, json, proto, out)                                   \
	do {                                                           \
		int r_ = pj_field((obj), (json), (proto), (out), msg, len); \
		if (r_ < 0)                                            \
			return r_;                                     \
	} while (0)

static int object_or_absent(const json_t *v, const char *name, char *msg, size_t len)
{
	if (v && !json_is_object(v)) {
		snprintf(msg, len, "%s: expected an object", name);
		return -EINVAL;
	}
	return 0;
}

int e2b_read_selector(const json_t *req, struct e2b_selector *out, char *msg, size_t len)
{
	json_t *process, *pid, *tag;
	*out = (struct e2b_selector){ 0 };
	FIELD(req, "process", "process", &process);
	if (object_or_absent(process, "process", msg, len) < 0)
		return -EINVAL;
	if (!process) {
		snprintf(msg, len, "process: give the process's pid or tag");
		return -EINVAL;
	}
	FIELD(process, "pid", "pid", &pid);
	FIELD(process, "tag", "tag", &tag);
	if (pid && tag) {
		snprintf(msg, len, "process: a pid or a tag, not both");
		return -EINVAL;
	}
	int r = pj_uint32(pid, "process.pid", &out->pid, msg, len);
	if (r == 0)
		r = pj_string(tag, "process.tag", &out->tag, NULL, msg, len);
	if (r == 0 && !out->pid && !out->tag) {
		snprintf(msg, len, "process: give the process's pid or tag");
		r = -EINVAL;
	}
	return r;
}

/* ---- Start ----------------------------------------------------------------------- */

static int read_args(const json_t *args, const char *cmd, char ***argv, char *msg, size_t len)
{
	if (args && !json_is_array(args)) {
		snprintf(msg, len, "process.args: expected an array of strings");
		return -EINVAL;
	}
	size_t n = args ? json_array_size(args) : 0;
	_cleanup_strv_ char **v = calloc(n + 2, sizeof *v);
	if (!v || !(v[0] = strdup(cmd)))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *a;
		size_t alen;
		char where[32];
		snprintf(where, sizeof where, "process.args[%zu]", i);
		if (pj_string(json_array_get(args, i), where, &a, &alen, msg, len) < 0)
			return -EINVAL;
		if (!a || memchr(a, '\0', alen)) {
			snprintf(msg, len, "%s: expected a string without NUL bytes", where);
			return -EINVAL;
		}
		if (!(v[i + 1] = strdup(a)))
			return -ENOMEM;
	}
	*argv = TAKE_PTR(v);
	return 0;
}

static bool env_name_valid(const char *k)
{
	if (!*k || isdigit((unsigned char)*k))
		return false;
	for (; *k; k++)
		if (!isalnum((unsigned char)*k) && *k != '_')
			return false;
	return true;
}

static int read_envs(const json_t *envs, char ***env, char *msg, size_t len)
{
	if (envs && !json_is_object(envs)) {
		snprintf(msg, len, "process.envs: expected an object of strings");
		return -EINVAL;
	}
	size_t n = envs ? json_object_size(envs) : 0, i = 0;
	_cleanup_strv_ char **v = calloc(n + 1, sizeof *v);
	if (!v)
		return -ENOMEM;
	const char *key;
	json_t *value;
	json_object_foreach((json_t *)envs, key, value) {
		if (!json_is_string(value) || !env_name_valid(key) || memchr(json_string_value(value), '\0',
									  json_string_length(value))) {
			snprintf(msg, len, "process.envs.%.64s: expected a name of letters, digits and _ with a string "
				 "value", key);
			return -EINVAL;
		}
		if (asprintf(&v[i], "%s=%s", key, json_string_value(value)) < 0) {
			v[i] = NULL;
			return -ENOMEM;
		}
		i++;
	}
	*env = TAKE_PTR(v);
	return 0;
}

static int read_size(const json_t *pty, const char *name, bool *has, uint32_t *cols, uint32_t *rows, char *msg,
		     size_t len)
{
	json_t *size, *c, *r;
	*has = pty != NULL;
	*cols = *rows = 0;
	if (!pty)
		return 0;
	if (object_or_absent(pty, name, msg, len) < 0)
		return -EINVAL;
	FIELD(pty, "size", "size", &size);
	if (object_or_absent(size, "pty.size", msg, len) < 0)
		return -EINVAL;
	if (!size)
		return 0;
	FIELD(size, "cols", "cols", &c);
	FIELD(size, "rows", "rows", &r);
	int rc = pj_uint32(c, "pty.size.cols", cols, msg, len);
	if (rc == 0)
		rc = pj_uint32(r, "pty.size.rows", rows, msg, len);
	if (rc == 0 && (*cols > 65535 || *rows > 65535)) {
		snprintf(msg, len, "pty.size: cols and rows go up to 65535");
		rc = -EINVAL;
	}
	return rc;
}

int e2b_read_start(const json_t *req, struct e2b_start *out, char *msg, size_t len)
{
	json_t *process, *cmd, *args, *envs, *cwd, *pty, *tag, *in;
	*out = (struct e2b_start){ 0 };
	FIELD(req, "process", "process", &process);
	FIELD(req, "pty", "pty", &pty);
	FIELD(req, "tag", "tag", &tag);
	FIELD(req, "stdin", "stdin", &in);
	if (object_or_absent(process, "process", msg, len) < 0)
		return -EINVAL;
	if (!process) {
		snprintf(msg, len, "process: expected {cmd, args, envs, cwd}");
		return -EINVAL;
	}
	FIELD(process, "cmd", "cmd", &cmd);
	FIELD(process, "args", "args", &args);
	FIELD(process, "envs", "envs", &envs);
	FIELD(process, "cwd", "cwd", &cwd);
	const char *cmd_s = NULL;
	size_t cmd_len = 0;
	int r = pj_string(cmd, "process.cmd", &cmd_s, &cmd_len, msg, len);
	if (r < 0)
		return r;
	if (!cmd_s || !cmd_len || memchr(cmd_s, '\0', cmd_len)) {
		snprintf(msg, len, "process.cmd: expected the program to run");
		return -EINVAL;
	}
	bool stdin_open = true;
	if ((r = read_args(args, cmd_s, &out->argv, msg, len)) < 0 || (r = read_envs(envs, &out->env, msg, len)) < 0 ||
	    (r = pj_string(cwd, "process.cwd", &out->cwd, NULL, msg, len)) < 0 ||
	    (r = pj_string(tag, "tag", &out->tag, NULL, msg, len)) < 0 ||
	    (r = read_size(pty, "pty", &out->pty, &out->cols, &out->rows, msg, len)) < 0 ||
	    (in && (r = pj_bool(in, "stdin", &stdin_open, msg, len)) < 0)) {
		e2b_start_free(out);
		return r;
	}
	if ((cwd && memchr(out->cwd, '\0', json_string_length(cwd))) || (tag && memchr(out->tag, '\0', json_string_length(tag)))) {
		snprintf(msg, len, "process.cwd and tag: no NUL bytes");
		e2b_start_free(out);
		return -EINVAL;
	}
	if (out->cwd && !*out->cwd)
		out->cwd = NULL;
	/* envd: stdin stays open unless the request says false (old SDKs send nothing) */
	out->stdin_open = stdin_open;
	return 0;
}

void e2b_start_free(struct e2b_start *s)
{
	strv_freep(&s->argv);
	strv_freep(&s->env);
}

/* ---- the other requests ------------------------------------------------------------- */

int e2b_read_input(const json_t *req, uint8_t **data, size_t *n, bool *pty, char *msg, size_t len)
{
	json_t *input, *in, *p;
	*data = NULL;
	*n = 0;
	FIELD(req, "input", "input", &input);
	if (object_or_absent(input, "input", msg, len) < 0)
		return -EINVAL;
	if (!input) {
		snprintf(msg, len, "input: expected {stdin} or {pty}");
		return -EINVAL;
	}
	FIELD(input, "stdin", "stdin", &in);
	FIELD(input, "pty", "pty", &p);
	if (!!in == !!p) {
		snprintf(msg, len, "input: one of stdin or pty");
		return -EINVAL;
	}
	*pty = p != NULL;
	return pj_bytes(in ? in : p, in ? "input.stdin" : "input.pty", data, n, msg, len);
}

int e2b_read_signal(const json_t *req, int *sig, char *msg, size_t len)
{
	static const char *const names[] = { [0] = "SIGNAL_UNSPECIFIED", [9] = "SIGNAL_SIGKILL",
					     [15] = "SIGNAL_SIGTERM" };
	json_t *v;
	int32_t n;
	FIELD(req, "signal", "signal", &v);
	int r = pj_enum(v, "signal", names, sizeof names / sizeof *names, &n, msg, len);
	if (r < 0)
		return r;
	if (n < 1 || n > 64) {
		snprintf(msg, len, "signal: expected SIGNAL_SIGKILL or SIGNAL_SIGTERM");
		return -EINVAL;
	}
	*sig = n;
	return 0;
}

int e2b_read_pty_size(const json_t *req, bool *has, uint32_t *cols, uint32_t *rows, char *msg, size_t len)
{
	json_t *pty;
	FIELD(req, "pty", "pty", &pty);
	return read_size(pty, "pty", has, cols, rows, msg, len);
}

/* ---- events ------------------------------------------------------------------------- */

static json_t *event(const char *kind, json_t *body)
{
	return body ? json_pack("{s:{s:o}}", "event", kind, body) : NULL;
}

json_t *e2b_event_start(uint32_t pid)
{
	return event("start", json_pack("{s:I}", "pid", (json_int_t)pid));
}

json_t *e2b_event_data(int stream, const void *buf, size_t len)
{
	static const char *const names[] = { "stdout", "stderr", "pty" };
	json_t *data = json_object();
	if (data && pj_put_bytes(data, names[stream < 0 || stream > 2 ? 0 : stream], buf, len) < 0) {
		json_decref(data);
		return NULL;
	}
	return event("data", data);
}

/* Go's names of signals, as envd's status strings carry them ("signal:
 * killed"): glibc's, first letter lowered. */
static void signal_text(int sig, char *out, size_t len)
{
	const char *s = strsignal(sig);
	snprintf(out, len, "%s", s ? s : "unknown signal");
	out[0] = (char)tolower((unsigned char)out[0]);
}

json_t *e2b_event_end(const struct exec_result *r)
{
	json_t *end = json_object();
	char status[300], sig[64];
	if (!end)
		return NULL;
	if (r->failed_to_start) {
		snprintf(status, sizeof status, "failed to start: %s", r->exec_error);
		pj_put_int32(end, "exitCode", -1);
		pj_put_string(end, "status", status);
		pj_put_string(end, "error", status);
	} else if (r->exited) {
		snprintf(status, sizeof status, "exit status %d", r->exit_code);
		pj_put_int32(end, "exitCode", r->exit_code);
		pj_put_bool(end, "exited", true);
		pj_put_string(end, "status", status);
		if (r->exit_code)
			pj_put_string(end, "error", status);
	} else {
		signal_text(r->signal, sig, sizeof sig);
		snprintf(status, sizeof status, "signal: %s", sig);
		pj_put_int32(end, "exitCode", -1);
		pj_put_string(end, "status", status);
		char error[400];
		snprintf(error, sizeof error, "%s%s", status, r->timed_out ? " (it reached its timeout)" :
			 r->oom_killed ? " (out of memory)" : "");
		pj_put_string(end, "error", error);
	}
	return event("end", end);
}

json_t *e2b_event_keepalive(void)
{
	return event("keepalive", json_object());
}

json_t *e2b_process_info(uint32_t pid, char *const *argv, char *const *env, const char *cwd, const char *tag)
{
	json_t *args = json_array();
	for (size_t i = 1; args && argv && argv[0] && argv[i]; i++)
		json_array_append_new(args, json_string(argv[i]));
	json_t *config = json_pack("{s:s, s:o, s:o}", "cmd", argv && argv[0] ? argv[0] : "", "args", args,
				   "envs", env_to_json(env, SIZE_MAX));
	if (config && cwd)
		json_object_set_new(config, "cwd", json_string(cwd));
	json_t *info = config ? json_pack("{s:o, s:I}", "config", config, "pid", (json_int_t)pid) : NULL;
	if (info && tag)
		json_object_set_new(info, "tag", json_string(tag));
	return info;
}

/* ---- files -------------------------------------------------------------------------- */

/* Names, owners and targets as the sandbox has them may not be UTF-8. */
static json_t *text(const char *s)
{
	size_t n = strlen(s);
	if (utf8_valid(s, n))
		return json_string(s);
	_cleanup_free_ char *lossy = utf8_lossy(s, n, &n);
	return lossy ? json_string(lossy) : NULL;
}

json_t *e2b_entry(const struct sbfs_entry *e)
{
	static const char types[] = "fdl";
	static const char *const type_names[] = { "FILE_TYPE_FILE", "FILE_TYPE_DIRECTORY", "FILE_TYPE_SYMLINK" };
	const char *t = strchr(types, e->type);
	char perms[11], when[40];
	sbfs_permissions(e->type, e->mode, perms);
	pj_timestamp(e->mtime_s, e->mtime_ns, when);
	json_t *o = json_pack("{s:o, s:o, s:s, s:s, s:o, s:o, s:s}", "name", text(e->name), "path", text(e->path),
			      "type", t && *t ? type_names[t - types] : "FILE_TYPE_UNSPECIFIED", "permissions", perms,
			      "owner", text(e->owner), "group", text(e->group), "modifiedTime", when);
	if (!o)
		return NULL;
	pj_put_int64(o, "size", e->size);
	pj_put_uint32(o, "mode", e->mode);
	if (e->target)
		json_object_set_new(o, "symlinkTarget", text(e->target));
	return o;
}

json_t *e2b_fs_event(const char *name, int type, const struct sbfs_entry *e)
{
	static const char *const types[] = { "EVENT_TYPE_UNSPECIFIED", "EVENT_TYPE_CREATE", "EVENT_TYPE_WRITE",
					     "EVENT_TYPE_REMOVE", "EVENT_TYPE_RENAME", "EVENT_TYPE_CHMOD" };
	json_t *o = json_pack("{s:o, s:s}", "name", text(name), "type", types[type >= 1 && type <= 5 ? type : 0]);
	if (o && e)
		json_object_set_new(o, "entry", e2b_entry(e));
	return o;
}
