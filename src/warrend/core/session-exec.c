/* Commands in a session: checked against the session's limits, admitted
 * against the caps, started in its box, counted while they run. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cleanup.h"
#include "daemon.h"
#include "session-internal.h"
#include "spawn.h"

unsigned exec_cap_for_owner(const char *owner)
{
	const struct token_restrictions *r = auth_restrictions(owner);
	return r && r->max_execs ? r->max_execs : daemon_state->cfg.max_execs_per_token;
}

/* /workspace or below it; with `anywhere`, any absolute path (the
 * command changes to it inside the sandbox, as its user, so it reaches
 * what that user may). No ".." either way: the path says where it goes. */
static bool valid_cwd(const char *cwd, bool anywhere)
{
	if (anywhere ? cwd[0] != '/' : strncmp(cwd, "/workspace", 10) || (cwd[10] && cwd[10] != '/'))
		return false;
	for (const char *p = cwd; (p = strstr(p, "/..")); p += 3)
		if (p[3] == '/' || p[3] == '\0')
			return false;
	return strlen(cwd) < 4096;
}

/* Each running command holds three of the daemon's fds (its pipes) for as
 * long as it runs: these caps keep one tenant from taking them all. */
static int admit_exec(const struct session *s, struct wd_error *err)
{
	unsigned per_session = daemon_state->cfg.max_execs_per_session, per_token = exec_cap_for_owner(s->owner->name);
	if (s->running >= per_session)
		return wd_fail(err, 429, "session %s runs its maximum of %u commands at once", s->id, per_session);
	if (s->owner->execs >= per_token)
		return wd_fail(err, 429, "this token runs its maximum of %u commands at once", per_token);
	return 0;
}

/* An exec of the session ended: off the counts (before its followers hear). */
static void exec_ended(void *holder, struct exec *x)
{
	struct session *s = holder;
	s->running--;
	s->owner->execs--;
	session_touch(s);
}

/* Starts p in s's box, counted until it ends. */
static struct exec *start_counted(struct session *s, struct exec_params *p, struct exec_observer *first,
				  struct wd_error *err)
{
	p->session_id = s->id;
	p->ended = exec_ended;
	p->holder = s;
	box_set_log_ids(s->box, p->request_id, s->id);
	struct exec *x = exec_start(s->box, p, first, err);
	if (!x)
		return NULL;
	s->running++;
	s->owner->execs++;
	session_touch(s);
	return x;
}

struct exec *session_exec(struct session *s, const struct exec_request *r, struct exec_observer *first,
			  struct wd_error *err)
{
	if (session_check_alive(s, err) < 0)
		return NULL;
	if (r->cwd && !valid_cwd(r->cwd, r->cwd_anywhere))
		return wd_fail(err, 400, r->cwd_anywhere ? "cwd: expected an absolute path without \"..\""
							 : "cwd: expected /workspace or a directory below it"), NULL;
	if (r->timeout_ms > s->limits.timeout_ms)
		return wd_fail(err, 400, "timeout: exceeds the session's limit of %llus",
			       (unsigned long long)(s->limits.timeout_ms / 1000)), NULL;
	if (r->output_cap > s->limits.output)
		return wd_fail(err, 400, "output: exceeds the session's limit of %llu bytes",
			       (unsigned long long)s->limits.output), NULL;
	if (admit_exec(s, err) < 0)
		return NULL;
	/* session env then request env, the request's winning; a terminal
	 * wants a TERM: docker's, below both */
	char *term[] = { "TERM=xterm", NULL };
	_cleanup_free_ char **base = r->pty ? env_merge(term, s->env) : NULL;
	_cleanup_free_ char **env = (!r->pty || base) ? env_merge(r->pty ? base : s->env, (char **)r->env) : NULL;
	if (!env)
		return wd_fail(err, 503, "out of memory"), NULL;
	struct exec_params p = {
		.kind = BACKEND_EXEC_COMMAND, .argv = r->argv, .envp = env, .cwd = r->cwd ? r->cwd : "/workspace",
		.stdin_data = r->stdin_data, .stdin_len = r->stdin_len,
		.timeout_ms = r->no_timeout ? 0 : r->timeout_ms ? r->timeout_ms : s->limits.timeout_ms,
		.output_cap = r->output_cap ? r->output_cap : s->limits.output, .keep_output = r->keep_output,
		.request_id = r->request_id, .bound = !r->detached, .stdin_open = r->stdin_open, .pty = r->pty,
		.cols = r->cols, .rows = r->rows, .keep = r->detached && box_kept(s->box),
	};
	if (r->detached)
		p.output_cap = UINT64_MAX;
	return start_counted(s, &p, first, err);
}

struct exec *session_exec_adopt(struct session *s, uint32_t id, const struct exec_request *r, const int *fds,
				int n_fds, struct exec_observer *first, struct wd_error *err)
{
	struct exec_params p = {
		.kind = BACKEND_EXEC_COMMAND, .timeout_ms = r->timeout_ms, .output_cap = UINT64_MAX,
		.request_id = r->request_id, .bound = !r->detached, .pty = r->pty, .cols = r->cols, .rows = r->rows,
		.keep = r->detached, .session_id = s->id, .ended = exec_ended, .holder = s,
	};
	struct exec *x = exec_adopt(s->box, id, &p, fds, n_fds, first, err);
	if (!x)
		return NULL;
	s->running++;
	s->owner->execs++;
	return x;
}

/* A file operation as an exec (workspace.c, for backends without a
 * workspace fd): admitted and counted like a command. */
struct exec *session_file_exec(struct session *s, const struct exec_params *fp, struct exec_observer *first,
			       struct wd_error *err)
{
	if (session_check_alive(s, err) < 0 || admit_exec(s, err) < 0)
		return NULL;
	struct exec_params p = *fp;
	p.bound = true;
	return start_counted(s, &p, first, err);
}
