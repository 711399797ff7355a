#include "config.h"

/* Processes of a session (process.h): an exec that no request holds,
 * its output kept in a ring of numbered events, its followers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cleanup.h"
#include "daemon.h"
#include "init-protocol.h"
#include "output-ring.h"
#include "process.h"
#include "session-internal.h"

struct process {
	struct session *session;
	struct list link;           /* in session->processes */
	uint32_t pid;
	char **argv, **env;
	char *cwd, *tag;
	bool pty, stdin_requested;
	uint16_t cols, rows;
	time_t started;
	uint64_t timeout_ms;
	struct exec *x;             /* while it runs */
	struct exec_observer obs;
	struct output_ring ring;
	bool ended;
	uint64_t exit_id;
	struct exec_result result;  /* once ended (without output: the ring has it) */
	struct list followers;
	unsigned n_followers;
};

/* ---- the exec's side ---------------------------------------------------------- */

static void wake_followers(struct process *p)
{
	for (struct list *n = p->followers.next, *next; n != &p->followers; n = next) {
		next = n->next; /* a follower may leave from its callback */
		struct process_follower *f = LIST_ENTRY(struct process_follower, link, n);
		f->wake(f);
	}
}

static void on_output(struct exec_observer *o, int stream, const char *buf, size_t len, uint64_t seq)
{
	struct process *p = LIST_ENTRY(struct process, obs, o);
	if (output_ring_push(&p->ring, p->pty ? 2 : stream, buf, len) < 0) {
		LOG_CTX_SCOPE(NULL, p->session->id);
		daemon_log("process %u: out of memory: %zu bytes of its output lost", p->pid, len);
		return;
	}
	wake_followers(p);
}

static void on_done(struct exec_observer *o, struct exec_result *r)
{
	struct process *p = LIST_ENTRY(struct process, obs, o);
	p->x = NULL;
	p->result = *r;
	for (int i = 0; i < 2; i++) {
		p->result.out[i] = NULL; /* the exec's to free (none: it kept no output) */
		p->result.out_len[i] = 0;
	}
	p->result.truncated = false; /* no cap: the ring says what it dropped */
	p->exit_id = output_ring_next_seq(&p->ring);
	p->ended = true;
	wake_followers(p);
	session_record_write(p->session);
}

/* ---- the session's list ----------------------------------------------------------- */

/* What a process owns (one not in a session's list yet, or one leaving it). */
static void process_freep(struct process **p)
{
	if (*p) {
		output_ring_free(&(*p)->ring);
		strv_freep(&(*p)->argv);
		strv_freep(&(*p)->env);
		free((*p)->cwd);
		free((*p)->tag);
		free(*p);
	}
}

static void process_free(struct process *p)
{
	/* followers may still pull what is left, then they are let go */
	while (!list_empty(&p->followers)) {
		struct process_follower *f = LIST_ENTRY(struct process_follower, link, p->followers.next);
		if (f->gone)
			f->gone(f);
		if (list_linked(&f->link))
			process_unfollow(f);
	}
	if (p->x)
		exec_unobserve(p->x, &p->obs); /* (never: its session ends its execs first) */
	list_unlink(&p->link);
	p->session->n_processes--;
	process_freep(&p);
}

void processes_release(struct session *s)
{
	while (!list_empty(&s->processes))
		process_free(LIST_ENTRY(struct process, link, s->processes.next));
}

/* The oldest process that ended and that nobody follows, or NULL. */
static struct process *evictable(struct session *s)
{
	for (struct list *n = s->processes.next; n != &s->processes; n = n->next) {
		struct process *p = LIST_ENTRY(struct process, link, n);
		if (p->ended && list_empty(&p->followers))
			return p;
	}
	return NULL;
}

static char **strv_copy(char *const *v)
{
	size_t n = 0;
	while (v && v[n])
		n++;
	char **copy = calloc(n + 1, sizeof *copy);
	for (size_t i = 0; copy && i < n; i++)
		if (!(copy[i] = strdup(v[i]))) {
			strv_freep(&copy);
			return NULL;
		}
	return copy;
}

static int check_request(const struct session *s, const struct process_request *r, struct wd_error *err)
{
	if (r->tag && (!r->tag[0] || strlen(r->tag) > PROCESS_TAG_MAX))
		return wd_fail(err, 400, "tag: expected 1 to %d bytes", PROCESS_TAG_MAX);
	if (r->pty && (!r->cols != !r->rows))
		return wd_fail(err, 400, "pty: give both cols and rows, or neither");
	unsigned cap = daemon_state->cfg.max_processes_per_session;
	if (s->n_processes >= cap && !evictable((struct session *)s))
		return wd_fail(err, 429, "session %s keeps its maximum of %u processes, all of them running or "
			       "followed: end one (signal it) or let its followers go", s->id, cap);
	return 0;
}

struct process *process_start(struct session *s, const struct process_request *r, struct wd_error *err)
{
	if (session_check_alive(s, err) < 0 || check_request(s, r, err) < 0)
		return NULL;
	_cleanup_(process_freep) struct process *p = calloc(1, sizeof *p);
	if (!p)
		return wd_fail(err, 503, "out of memory"), NULL;
	p->session = s;
	p->pty = r->pty;
	p->stdin_requested = r->stdin || r->pty;
	/* a terminal's size when none is given: 80x24, as warren run's */
	p->cols = r->pty && !r->cols ? 80 : r->cols;
	p->rows = r->pty && !r->rows ? 24 : r->rows;
	p->started = time(NULL);
	list_init(&p->followers);
	uint64_t cap = daemon_state->cfg.process_buffer;
	output_ring_init(&p->ring, s->limits.output && s->limits.output < cap ? s->limits.output : cap);
	if (!(p->argv = strv_copy(r->argv)) || !(p->env = strv_copy(r->env)) ||
	    (r->cwd && !(p->cwd = strdup(r->cwd))) || (r->tag && !(p->tag = strdup(r->tag))))
		return wd_fail(err, 503, "out of memory"), NULL;
	p->obs.on_output = on_output;
	p->obs.on_done = on_done;
	struct exec_request er = {
		.argv = r->argv, .env = r->env, .cwd = r->cwd, .cwd_anywhere = r->cwd_anywhere, .timeout_ms = r->timeout_ms,
		.no_timeout = r->no_timeout,
		.request_id = r->request_id, .detached = true, .stdin_open = r->stdin, .pty = r->pty,
		.cols = p->cols, .rows = p->rows,
	};
	if (!(p->x = session_exec(s, &er, &p->obs, err)))
		return NULL;
	p->timeout_ms = r->no_timeout ? 0 : r->timeout_ms ? r->timeout_ms : s->limits.timeout_ms;
	p->pid = ++s->next_pid;
	list_insert(&s->processes, &p->link);
	s->n_processes++;
	/* room for it: the oldest that ended and that nobody follows goes */
	struct process *old;
	if (s->n_processes > daemon_state->cfg.max_processes_per_session && (old = evictable(s)))
		process_free(old);
	if (daemon_state->cfg.verbose) {
		LOG_CTX_SCOPE(r->request_id, s->id);
		daemon_log("process %u: started (exec %u)%s", p->pid, exec_id(p->x), p->pty ? " with a terminal" : "");
	}
	struct process *started = TAKE_PTR(p);
	session_record_write(s);
	return started;
}

struct process *process_find(struct session *s, uint32_t pid, struct wd_error *err)
{
	for (struct list *n = s->processes.next; n != &s->processes; n = n->next) {
		struct process *p = LIST_ENTRY(struct process, link, n);
		if (p->pid == pid)
			return p;
	}
	return wd_fail(err, 404, "session %s has no process %u", s->id, pid), NULL;
}

struct process *process_find_tag(struct session *s, const char *tag, struct wd_error *err)
{
	for (struct list *n = s->processes.prev; n != &s->processes; n = n->prev) {
		struct process *p = LIST_ENTRY(struct process, link, n);
		if (p->tag && !strcmp(p->tag, tag))
			return p;
	}
	return wd_fail(err, 404, "session %s has no process tagged \"%s\"", s->id, tag), NULL;
}

uint32_t process_pid(const struct process *p) { return p->pid; }

void processes_foreach(struct session *s, void (*fn)(struct process *p, void *data), void *data)
{
	for (struct list *n = s->processes.next, *next; n != &s->processes; n = next) {
		next = n->next;
		fn(LIST_ENTRY(struct process, link, n), data);
	}
}

void process_info(const struct process *p, struct process_info *out)
{
	const struct output_ring *r = &p->ring;
	*out = (struct process_info){
		.pid = p->pid, .argv = p->argv, .env = p->env, .cwd = p->cwd ? p->cwd : "/workspace", .tag = p->tag,
		.running = !p->ended, .pty = p->pty, .stdin_open = p->x && exec_stdin_open(p->x),
		.cols = p->cols, .rows = p->rows, .started = p->started, .timeout_ms = p->timeout_ms,
		.result = p->ended ? &p->result : NULL,
		.first_event = !r->count && p->ended ? p->exit_id : output_ring_first(r), .last_event = r->last_seq, .dropped_events = r->dropped_events, .dropped_bytes = r->dropped_bytes,
		.followers = p->n_followers,
	};
}

/* ---- what goes in ------------------------------------------------------------------ */

static int running(struct process *p, struct wd_error *err)
{
	if (!p->x)
		return wd_fail(err, 409, "process %u has ended", p->pid);
	session_touch(p->session);
	return 0;
}

int process_write(struct process *p, const void *buf, size_t len, struct wd_error *err)
{
	if (running(p, err) < 0)
		return -err->cause.code;
	if (!p->stdin_requested)
		return wd_fail(err, 409, "process %u was started without stdin (\"stdin\": true keeps it open)", p->pid);
	return exec_write_stdin(p->x, buf, len, err);
}

int process_close_stdin(struct process *p, struct wd_error *err)
{
	if (running(p, err) < 0)
		return -err->cause.code;
	if (!p->stdin_requested)
		return wd_fail(err, 409, "process %u was started without stdin", p->pid);
	return exec_close_stdin(p->x, err);
}

int process_signal(struct process *p, int sig, struct wd_error *err)
{
	if (running(p, err) < 0)
		return -err->cause.code;
	return exec_signal(p->x, sig, err);
}

int process_resize(struct process *p, uint16_t cols, uint16_t rows, struct wd_error *err)
{
	if (running(p, err) < 0)
		return -err->cause.code;
	if (!p->pty)
		return wd_fail(err, 409, "process %u has no terminal to resize", p->pid);
	if (!cols || !rows)
		return wd_fail(err, 400, "cols and rows: expected 1 to 65535");
	int r = exec_resize(p->x, cols, rows, err);
	if (r == 0) {
		p->cols = cols;
		p->rows = rows;
	}
	return r;
}

/* ---- followers ------------------------------------------------------------------ */

int process_follow(struct process *p, struct process_follower *f, uint64_t after, struct wd_error *err)
{
	unsigned cap = daemon_state->cfg.max_process_followers;
	if (p->n_followers >= cap)
		return wd_fail(err, 429, "process %u has its maximum of %u followers", p->pid, cap);
	uint64_t last = p->ended ? p->exit_id - 1 : p->ring.last_seq;
	if (after == PROCESS_FROM_NOW)
		f->cursor = last;
	else
		f->cursor = p->ended && after >= p->exit_id ? p->exit_id : after > last ? last : after;
	f->process = p;
	list_insert(&p->followers, &f->link);
	p->n_followers++;
	session_touch(p->session);
	return 0;
}

void process_unfollow(struct process_follower *f)
{
	if (!f->process || !list_linked(&f->link))
		return;
	list_unlink(&f->link);
	f->process->n_followers--;
	f->process = NULL;
}

int process_next(struct process_follower *f, struct process_event *ev)
{
	struct process *p = f->process;
	if (!p || (p->ended && f->cursor >= p->exit_id))
		return -1;
	uint64_t dropped;
	const struct ring_event *e = output_ring_after(&p->ring, f->cursor, &dropped);
	if (dropped) {
		f->cursor += dropped;
		*ev = (struct process_event){ .kind = PROCESS_EV_DROPPED, .id = f->cursor, .dropped = dropped };
		return 1;
	}
	if (e) {
		f->cursor = e->seq;
		*ev = (struct process_event){ .kind = PROCESS_EV_OUTPUT, .id = e->seq, .stream = e->stream,
					      .data = e->data, .len = e->len };
		return 1;
	}
	if (!p->ended)
		return 0;
	f->cursor = p->exit_id;
	*ev = (struct process_event){ .kind = PROCESS_EV_EXIT, .id = p->exit_id, .result = &p->result };
	return 1;
}

/* ---- in the session's record (session-record.c) ---------------------------------- */

static json_t *process_save(const struct process *p)
{
	const struct exec_result *r = &p->result;
	json_t *result = !p->ended ? json_null()
			 : json_pack("{s:b, s:i, s:i, s:b, s:b, s:b, s:s, s:I}", "exited", r->exited, "exit_code",
				     r->exit_code, "signal", r->signal, "timed_out", r->timed_out, "oom_killed",
				     r->oom_killed, "failed_to_start", r->failed_to_start, "error", r->exec_error,
				     "duration_ms", (json_int_t)r->duration_ms);
	return json_pack("{s:i, s:i, s:o, s:o, s:s*, s:s*, s:b, s:b, s:i, s:i, s:I, s:I, s:o}", "pid", (int)p->pid,
			 "exec", p->x ? (int)exec_id(p->x) : 0, "argv", strv_json(p->argv), "env",
			 strv_json(p->env), "cwd", p->cwd, "tag", p->tag, "pty", p->pty, "stdin", p->stdin_requested,
			 "cols", (int)p->cols, "rows", (int)p->rows, "started", (json_int_t)p->started, "timeout_ms",
			 (json_int_t)p->timeout_ms, "result", result);
}

json_t *processes_save(const struct session *s)
{
	json_t *a = json_array();
	for (struct list *n = s->processes.next; a && n != &s->processes; n = n->next)
		json_array_append_new(a, process_save(LIST_ENTRY(struct process, link, n)));
	return a;
}

/* The recorded end of a process, or one that could not be seen. */
static void restore_result(struct process *p, const json_t *saved, const struct init_greeting_exec *ended)
{
	struct exec_result *r = &p->result;
	*r = (struct exec_result){ 0 };
	if (ended) {
		int st = ended->status;
		r->exited = WIFEXITED(st);
		r->exit_code = r->exited ? WEXITSTATUS(st) : 0;
		r->signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
		snprintf(r->exec_error, sizeof r->exec_error, "%s", ended->error);
	} else if (json_is_object(saved)) {
		int exited = 0, timed_out = 0, oom = 0, failed = 0;
		const char *error = "";
		json_int_t duration = 0;
		json_unpack((json_t *)saved, "{s?b, s?i, s?i, s?b, s?b, s?b, s?s, s?I}", "exited", &exited, "exit_code",
			    &r->exit_code, "signal", &r->signal, "timed_out", &timed_out, "oom_killed", &oom,
			    "failed_to_start", &failed, "error", &error, "duration_ms", &duration);
		r->exited = exited;
		r->timed_out = timed_out;
		r->oom_killed = oom;
		r->failed_to_start = failed;
		r->duration_ms = duration > 0 ? (uint64_t)duration : 0;
		snprintf(r->exec_error, sizeof r->exec_error, "%s", error);
	} else {
		snprintf(r->exec_error, sizeof r->exec_error, "its end was not seen: warrend restarted meanwhile");
	}
	p->ended = true;
	p->exit_id = output_ring_next_seq(&p->ring);
}

static struct init_greeting_exec *greeting_find(struct init_greeting *g, uint32_t id)
{
	for (size_t i = 0; id && i < g->n; i++)
		if (g->execs[i].id == id && !g->execs[i].claimed)
			return &g->execs[i];
	return NULL;
}

/* One process of the record: running on (its exec adopted) or ended. */
static void process_restore(struct session *s, json_t *o, struct init_greeting *g)
{
	int pid = 0, exec = 0, pty = 0, stdin_req = 0, cols = 0, rows = 0;
	json_t *argv = NULL, *env = NULL, *result = NULL;
	const char *cwd = NULL, *tag = NULL;
	json_int_t started = 0, timeout = 0;
	if (json_unpack(o, "{s:i, s:i, s:o, s:o, s?s, s?s, s:b, s:b, s:i, s:i, s:I, s:I, s:o}", "pid", &pid, "exec",
			&exec, "argv", &argv, "env", &env, "cwd", &cwd, "tag", &tag, "pty", &pty, "stdin", &stdin_req,
			"cols", &cols, "rows", &rows, "started", &started, "timeout_ms", &timeout, "result", &result) < 0 ||
	    pid <= 0 || exec < 0 || cols < 0 || cols > 65535 || rows < 0 || rows > 65535 || timeout < 0)
		return;
	_cleanup_(process_freep) struct process *p = calloc(1, sizeof *p);
	if (!p || !(p->argv = strv_from_json(argv)) || !(p->env = strv_from_json(env)) || !p->argv[0] ||
	    (cwd && !(p->cwd = strdup(cwd))) || (tag && !(p->tag = strdup(tag))))
		return;
	p->session = s;
	p->pid = (uint32_t)pid;
	p->pty = pty;
	p->stdin_requested = stdin_req;
	p->cols = (uint16_t)cols;
	p->rows = (uint16_t)rows;
	p->started = (time_t)started;
	p->timeout_ms = (uint64_t)timeout;
	list_init(&p->followers);
	uint64_t cap = daemon_state->cfg.process_buffer;
	output_ring_init(&p->ring, s->limits.output && s->limits.output < cap ? s->limits.output : cap);
	p->obs.on_output = on_output;
	p->obs.on_done = on_done;
	struct init_greeting_exec *x = greeting_find(g, (uint32_t)exec);
	if (x)
		x->claimed = true;
	if (x && x->running) {
		/* what is left of its timeout, counted from its start */
		uint64_t ran = (uint64_t)(time(NULL) > p->started ? time(NULL) - p->started : 0) * 1000;
		struct exec_request r = { .detached = true, .pty = p->pty, .cols = p->cols, .rows = p->rows,
					  .timeout_ms = p->timeout_ms > ran ? p->timeout_ms - ran : 1 };
		struct wd_error err = { 0 };
		p->x = session_exec_adopt(s, x->id, &r, x->fds, x->n_fds, &p->obs, &err);
		x->n_fds = 0;
		if (!p->x)
			restore_result(p, NULL, NULL);
	} else {
		restore_result(p, exec ? NULL : result, x);
	}
	list_insert(&s->processes, &p->link);
	s->n_processes++;
	TAKE_PTR(p);
}

void processes_restore(struct session *s, json_t *saved, struct init_greeting *g)
{
	size_t i;
	json_t *o;
	json_array_foreach(saved, i, o)
		process_restore(s, o, g);
}
