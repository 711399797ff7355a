#include "config.h"

/* E2B's code interpreter (e2b.h): POST /execute answers NDJSON lines
 * (stdout, stderr, result, error, number_of_executions,
 * end_of_execution); /contexts creates, lists, deletes and restarts
 * contexts. A context is a process of the session running a driver that
 * warren ships (e2b-driver.py, e2b-driver.js: the language's own standard
 * library only) with its stdin kept open: one JSON request a line in,
 * JSON lines out, state kept between runs. A context's interpreter has
 * no deadline of its own; each run has the session's command timeout
 * (SIGINT when it passes, SIGKILL a little later). What the driver prints
 * is untrusted (the code could write anything there): every line is
 * parsed, checked and written anew. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cleanup.h"
#include "e2b.h"

extern const char warrend_e2b_driver_py[];
extern const char warrend_e2b_driver_js[];

#define CONTEXTS_MAX 8              /* per sandbox */
#define WAITING_MAX 8               /* runs queued behind the one running, per context */
#define LINE_MAX_BYTES (1 << 20)    /* one line from a driver */
#define RUN_OUTPUT_MAX ((uint64_t)16 << 20) /* what one run sends its client */
#define INTERRUPT_GRACE_MS 5000     /* from SIGINT to SIGKILL */
#define CONTEXT_TAG "warren:context:"

struct context;

struct run {
	struct sse_stream st;       /* first: in the request's pool */
	struct context *ctx;        /* NULL once finished or its client left */
	struct list link;           /* in ctx->waiting while it waits */
	json_t *request;            /* {code, env}, until sent */
	uint64_t sent;              /* bytes sent to the client */
	bool truncated;
};

struct context {
	struct list link;           /* in the sandbox's contexts */
	struct list all;            /* in every_context (the tick) */
	struct e2b_sandbox *sb;
	char id[33], language[16], cwd[SBFS_PATH_MAX + 1];
	bool is_default;
	struct process *p;          /* NULL when its interpreter is gone */
	struct process_follower f;
	char why_gone[512];
	char *line;                 /* stdout not yet a whole line */
	size_t line_len;
	char err_tail[400];         /* the end of the driver's own stderr */
	size_t err_len;
	uint64_t next_id, running_id; /* running_id 0: idle */
	uint64_t running_since_ms, interrupted_ms;
	struct run *cur;            /* the client of the running run (NULL once it left) */
	struct list waiting;
	unsigned n_waiting;
};

static struct list every_context = LIST_INIT(every_context);

/* ---- runs' replies ---------------------------------------------------------------------- */

static void run_line(struct run *r, json_t *msg)
{
	char *text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (!text)
		return;
	size_t len = strlen(text);
	text[len] = '\n';
	sse_write(&r->st, text, len + 1);
	r->sent += len + 1;
	free(text);
}

/* The run is over for its client: an error line first when there is one. */
static void run_finish(struct run *r, const char *error_name, const char *error_value)
{
	if (!r->ctx)
		return;
	if (error_name)
		run_line(r, json_pack("{s:s, s:s, s:s, s:s}", "type", "error", "name", error_name, "value", error_value,
				      "traceback", ""));
	if (error_name)
		run_line(r, json_pack("{s:s}", "type", "end_of_execution"));
	r->ctx = NULL;
	json_decref(r->request); /* (not sent when the context was gone) */
	r->request = NULL;
	sse_finish(&r->st);
}

/* A line the SDK skips (it reads types it knows), so a client that left
 * is noticed while the code runs quietly. */
static void run_heartbeat(struct sse_stream *st)
{
	static const char line[] = "{\"type\":\"keepalive\"}\n";
	sse_write(st, line, sizeof line - 1);
}

static void run_closed(struct sse_stream *st)
{
	struct run *r = (struct run *)st;
	struct context *c = r->ctx;
	if (!c)
		return;
	r->ctx = NULL;
	json_decref(r->request);
	r->request = NULL;
	if (c->cur == r) {
		/* its client left: the code is stopped, the context stays */
		c->cur = NULL;
		if (c->p && !c->interrupted_ms) {
			struct wd_error err = { 0 };
			process_signal(c->p, 2, &err);
			c->interrupted_ms = daemon_now_ms();
		}
	} else if (list_linked(&r->link)) {
		list_unlink(&r->link);
		c->n_waiting--;
	}
}

/* ---- the driver's lines --------------------------------------------------------------- */

static void start_next(struct context *c);

/* One line of the driver, checked: known types, known fields of the right
 * types, the running run's id. */
static void driver_line(struct context *c, const char *line, size_t len)
{
	json_t *in = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *id = json_object_get(in, "id"), *type = json_object_get(in, "type");
	if (!json_is_object(in) || !json_is_integer(id) || !json_is_string(type) || !c->running_id ||
	    (uint64_t)json_integer_value(id) != c->running_id) {
		json_decref(in);
		return;
	}
	const char *t = json_string_value(type);
	json_t *out = NULL;
	if (!strcmp(t, "stdout") || !strcmp(t, "stderr")) {
		json_t *text = json_object_get(in, "text");
		if (json_is_string(text))
			out = json_pack("{s:s, s:O}", "type", t, "text", text);
	} else if (!strcmp(t, "result")) {
		json_t *text = json_object_get(in, "text");
		if (json_is_string(text))
			out = json_pack("{s:s, s:O, s:b}", "type", "result", "text", text, "is_main_result",
					json_is_true(json_object_get(in, "is_main_result")));
	} else if (!strcmp(t, "error")) {
		json_t *n = json_object_get(in, "name"), *v = json_object_get(in, "value"),
		       *tb = json_object_get(in, "traceback");
		if (json_is_string(n) && json_is_string(v) && json_is_string(tb))
			out = json_pack("{s:s, s:O, s:O, s:O}", "type", "error", "name", n, "value", v, "traceback", tb);
	} else if (!strcmp(t, "number_of_executions")) {
		json_t *k = json_object_get(in, "execution_count");
		if (json_is_integer(k))
			out = json_pack("{s:s, s:O}", "type", "number_of_executions", "execution_count", k);
	} else if (!strcmp(t, "end_of_execution")) {
		json_decref(in);
		c->running_id = 0;
		c->interrupted_ms = 0;
		if (c->cur) {
			run_line(c->cur, json_pack("{s:s}", "type", "end_of_execution"));
			run_finish(c->cur, NULL, NULL);
			c->cur = NULL;
		}
		start_next(c);
		return;
	}
	bool output = !strcmp(t, "stdout") || !strcmp(t, "stderr"); /* (t is in's) */
	json_decref(in);
	struct run *r = c->cur;
	if (!out || !r) {
		json_decref(out);
		return;
	}
	if (output && r->sent > RUN_OUTPUT_MAX) {
		if (!r->truncated)
			run_line(r, json_pack("{s:s, s:s}", "type", "stderr", "text", "[warren: output past 16M dropped]\n"));
		r->truncated = true;
		json_decref(out);
		return;
	}
	run_line(r, out);
}

static void driver_output(struct context *c, int stream, const char *buf, size_t len)
{
	if (stream == 1) {
		sbfs_keep_tail(c->err_tail, sizeof c->err_tail, &c->err_len, buf, len);
		return;
	}
	while (len) {
		const char *nl = memchr(buf, '\n', len);
		size_t take = nl ? (size_t)(nl - buf) : len;
		if (c->line_len + take > LINE_MAX_BYTES) {
			c->line_len = 0; /* an oversized line is dropped whole */
			free(c->line);
			c->line = NULL;
			take = nl ? take : len;
		} else {
			char *grown = realloc(c->line, c->line_len + take + 1);
			if (grown) {
				c->line = grown;
				memcpy(c->line + c->line_len, buf, take);
				c->line_len += take;
			}
		}
		if (nl) {
			driver_line(c, c->line ? c->line : "", c->line_len);
			c->line_len = 0;
			take++;
		}
		buf += take;
		len -= take;
	}
}

/* The interpreter is gone: the run and those waiting fail. */
static void context_lost(struct context *c, const char *why)
{
	snprintf(c->why_gone, sizeof c->why_gone, "%s", why);
	c->p = NULL;
	c->running_id = 0;
	if (c->cur)
		run_finish(c->cur, "ContextExited", why);
	c->cur = NULL;
	while (!list_empty(&c->waiting)) {
		struct run *r = LIST_ENTRY(struct run, link, c->waiting.next);
		list_unlink(&r->link);
		c->n_waiting--;
		run_finish(r, "ContextExited", why);
	}
}

static void pull(struct context *c)
{
	struct process_event ev;
	while (c->p && process_next(&c->f, &ev) > 0) {
		if (ev.kind == PROCESS_EV_OUTPUT)
			driver_output(c, ev.stream, ev.data, ev.len);
		else if (ev.kind == PROCESS_EV_EXIT) {
			char why[512], tail[sizeof c->err_tail + 1];
			size_t n = c->err_len;
			memcpy(tail, c->err_tail, n);
			tail[n] = '\0';
			while (n && tail[n - 1] == '\n')
				tail[--n] = '\0';
			const char *last = strrchr(tail, '\n');
			/* 127: the image has no such program (no node in the python image) */
			if (ev.result->exited && ev.result->exit_code == 127 && !n)
				snprintf(why, sizeof why, "the %s interpreter could not start: the sandbox's image has no %s "
					 "(exit 127); create the sandbox from a template whose image has it", c->language,
					 strcmp(c->language, "python") ? "node" : "python3");
			else
				snprintf(why, sizeof why, "the %s interpreter ended (%s%d)%s%s: restart the context",
					 c->language, ev.result->exited ? "exit " : "signal ",
					 ev.result->exited ? ev.result->exit_code : ev.result->signal, n ? ": " : "",
					 last ? last + 1 : tail);
			process_unfollow(&c->f);
			context_lost(c, why);
		}
	}
}

static void on_wake(struct process_follower *f)
{
	pull(LIST_ENTRY(struct context, f, f));
}

static void on_gone(struct process_follower *f)
{
	struct context *c = LIST_ENTRY(struct context, f, f);
	pull(c);
	if (c->p) {
		process_unfollow(&c->f);
		context_lost(c, "the sandbox ended");
	}
}

/* ---- contexts -------------------------------------------------------------------------- */

static bool language_of(const char *asked, const char **name)
{
	if (!asked || !*asked || !strcmp(asked, "python") || !strcmp(asked, "python3"))
		*name = "python";
	else if (!strcmp(asked, "js") || !strcmp(asked, "javascript"))
		*name = "javascript";
	else
		return false;
	return true;
}

/* A new interpreter for c (its old one, if any, is let go first). */
static int context_spawn(struct context *c, struct session *s, const char *request_id, struct wd_error *err)
{
	char tag[64];
	snprintf(tag, sizeof tag, CONTEXT_TAG "%s", c->id);
	bool python = !strcmp(c->language, "python");
	char *argv[] = { python ? "python3" : "node", python ? "-u" : "-e", python ? "-c" : (char *)warrend_e2b_driver_js,
			 python ? (char *)warrend_e2b_driver_py : NULL, NULL };
	char *env[] = { python ? "PYTHONUNBUFFERED=1" : "NODE_NO_WARNINGS=1", NULL };
	struct process_request pr = { .argv = argv, .env = env, .cwd = c->cwd, .cwd_anywhere = true, .tag = tag,
				      .stdin = true, .no_timeout = true, .request_id = request_id };
	struct process *p = process_start(s, &pr, err);
	if (!p)
		return -1;
	c->f.wake = on_wake;
	c->f.gone = on_gone;
	if (process_follow(p, &c->f, 0, err) < 0) {
		struct wd_error ignored = { 0 };
		process_signal(p, 9, &ignored);
		return -1;
	}
	c->p = p;
	c->err_len = c->line_len = 0;
	c->why_gone[0] = '\0';
	return 0;
}

static void context_stop(struct context *c, const char *why)
{
	if (c->p) {
		struct process *p = c->p;
		struct wd_error ignored = { 0 };
		process_unfollow(&c->f);
		context_lost(c, why);
		process_signal(p, 9, &ignored);
	}
}

static void context_free(struct context *c)
{
	context_stop(c, "the context was deleted");
	list_unlink(&c->link);
	list_unlink(&c->all);
	free(c->line);
	free(c);
}

static struct context *context_new(struct e2b_sandbox *sb, struct session *s, const char *language, const char *cwd,
				   bool is_default, const char *request_id, struct wd_error *err)
{
	unsigned n = 0;
	for (struct list *l = sb->contexts.next; l != &sb->contexts; l = l->next)
		n++;
	if (n >= CONTEXTS_MAX)
		return wd_fail(err, 429, "sandbox %s has its maximum of %d code contexts: delete one", sb->id,
			       CONTEXTS_MAX), NULL;
	struct context *c = calloc(1, sizeof *c);
	unsigned char raw[16];
	if (!c || getrandom(raw, sizeof raw, 0) != sizeof raw) {
		free(c);
		return wd_fail(err, 503, "out of memory"), NULL;
	}
	for (int i = 0; i < 16; i++)
		sprintf(c->id + 2 * i, "%02x", raw[i]);
	c->sb = sb;
	c->is_default = is_default;
	snprintf(c->language, sizeof c->language, "%s", language);
	if (sbfs_resolve(cwd ? cwd : SBFS_HOME, strlen(cwd ? cwd : SBFS_HOME), c->cwd, err) < 0) {
		free(c);
		return NULL;
	}
	list_init(&c->waiting);
	if (context_spawn(c, s, request_id, err) < 0) {
		free(c);
		return NULL;
	}
	list_insert(&sb->contexts, &c->link);
	list_insert(&every_context, &c->all);
	return c;
}

static json_t *context_json(const struct context *c)
{
	return json_pack("{s:s, s:s, s:s}", "id", c->id, "language", c->language, "cwd", c->cwd);
}

void e2b_interp_release(struct e2b_sandbox *sb)
{
	while (!list_empty(&sb->contexts))
		context_free(LIST_ENTRY(struct context, link, sb->contexts.next));
}

/* ---- runs -------------------------------------------------------------------------------- */

static void start_next(struct context *c)
{
	while (!c->running_id && c->p && !list_empty(&c->waiting)) {
		struct run *r = LIST_ENTRY(struct run, link, c->waiting.next);
		list_unlink(&r->link);
		c->n_waiting--;
		uint64_t id = ++c->next_id;
		json_object_set_new(r->request, "id", json_integer((json_int_t)id));
		char *text = json_dumps(r->request, JSON_COMPACT);
		json_decref(r->request);
		r->request = NULL;
		struct wd_error err = { 0 };
		size_t len = text ? strlen(text) : 0;
		if (text)
			text[len] = '\n'; /* json_dumps' NUL becomes the line's end */
		if (!text || process_write(c->p, text, len + 1, &err) < 0) {
			free(text);
			run_finish(r, "RunFailed", text ? err.cause.message : "out of memory");
			continue;
		}
		free(text);
		c->running_id = id;
		c->running_since_ms = daemon_now_ms();
		c->interrupted_ms = 0;
		c->cur = r;
	}
}

static struct context *find_context(struct e2b_sandbox *sb, const char *id)
{
	for (struct list *n = sb->contexts.next; n != &sb->contexts; n = n->next) {
		struct context *c = LIST_ENTRY(struct context, link, n);
		if (!strcmp(c->id, id))
			return c;
	}
	return NULL;
}

static struct context *default_context(struct e2b_sandbox *sb, const char *language)
{
	for (struct list *n = sb->contexts.next; n != &sb->contexts; n = n->next) {
		struct context *c = LIST_ENTRY(struct context, link, n);
		if (c->is_default && !strcmp(c->language, language))
			return c;
	}
	return NULL;
}

static int execute(struct e2b_call *call)
{
	h2o_req_t *req = call->req;
	json_t *body = NULL;
	if (e2b_body_json(req, &body) < 0)
		return 0;
	json_t *code = json_object_get(body, "code"), *cid = json_object_get(body, "context_id"),
	       *lang = json_object_get(body, "language"), *env = json_object_get(body, "env_vars");
	const char *language = NULL;
	int rc = -1;
	if (!json_is_string(code))
		e2b_reply_error(req, 400, "code: expected a string");
	else if (cid && !json_is_null(cid) && lang && !json_is_null(lang))
		e2b_reply_error(req, 400, "give context_id or language, not both");
	else if ((cid && !json_is_null(cid) && !json_is_string(cid)) || (lang && !json_is_null(lang) && !json_is_string(lang)))
		e2b_reply_error(req, 400, "context_id and language: expected strings");
	else if (env && !json_is_null(env) && !json_is_object(env))
		e2b_reply_error(req, 400, "env_vars: expected an object of strings");
	else if (!language_of(json_string_value(lang), &language))
		e2b_reply_error(req, 400, "language \"%s\" is not offered: warren's code contexts run python and "
				"javascript", json_string_value(lang));
	else
		rc = 0;
	if (rc < 0) {
		json_decref(body);
		return 0;
	}
	struct context *c;
	struct wd_error err = { 0 };
	if (json_is_string(cid)) {
		if (!(c = find_context(call->sb, json_string_value(cid)))) {
			json_decref(body);
			return e2b_reply_error(req, 404, "context \"%.64s\" not found", json_string_value(cid));
		}
	} else if (!(c = default_context(call->sb, language)) &&
		   !(c = context_new(call->sb, call->s, language, NULL, true, call->request_id, &err))) {
		json_decref(body);
		return e2b_reply_wd_error(req, &err);
	}
	if (!c->p && c->is_default && context_spawn(c, call->s, call->request_id, &err) < 0) {
		json_decref(body);
		return e2b_reply_wd_error(req, &err);
	}
	if (c->n_waiting >= WAITING_MAX) {
		json_decref(body);
		return e2b_reply_error(req, 429, "context %s has %d runs waiting already", c->id, WAITING_MAX);
	}
	struct run *r = sse_new(req, sizeof *r);
	r->st.closed = run_closed;
	r->st.heartbeat = run_heartbeat;
	sse_start_as(&r->st, "application/x-ndjson");
	r->ctx = c;
	r->request = json_pack("{s:O, s:o}", "code", code, "env", json_is_object(env) ? json_incref(env) : json_object());
	json_decref(body);
	if (!c->p) {
		run_finish(r, "ContextExited", c->why_gone[0] ? c->why_gone : "the context's interpreter is gone: restart it");
		return 0;
	}
	list_insert(&c->waiting, &r->link);
	c->n_waiting++;
	start_next(c);
	return 0;
}

/* A run past the session's command timeout: interrupted, then killed. */
void e2b_interp_tick(uint64_t now)
{
	for (struct list *n = every_context.next, *next; n != &every_context; n = next) {
		next = n->next;
		struct context *c = LIST_ENTRY(struct context, all, n);
		struct session *s;
		if (!c->p || !c->running_id || !e2b_sandbox_find(c->sb->id, c->sb->owner, &s))
			continue;
		struct session_info i;
		session_info(s, &i);
		struct wd_error ignored = { 0 };
		if (c->interrupted_ms && now - c->interrupted_ms >= INTERRUPT_GRACE_MS)
			context_stop(c, "the run did not stop when interrupted: its interpreter was killed");
		else if (!c->interrupted_ms && now - c->running_since_ms >= i.limits->timeout_ms) {
			process_signal(c->p, 2, &ignored);
			c->interrupted_ms = now;
		}
	}
}

/* ---- /contexts ------------------------------------------------------------------------------ */

static int create_context(struct e2b_call *call)
{
	json_t *body = NULL;
	if (e2b_body_json(call->req, &body) < 0)
		return 0;
	json_t *lang = json_object_get(body, "language"), *cwd = json_object_get(body, "cwd");
	const char *language;
	struct wd_error err = { 0 };
	struct context *c = NULL;
	if ((lang && !json_is_null(lang) && !json_is_string(lang)) || (cwd && !json_is_null(cwd) && !json_is_string(cwd)))
		wd_fail(&err, 400, "language and cwd: expected strings");
	else if (!language_of(json_string_value(lang), &language))
		wd_fail(&err, 400, "language \"%s\" is not offered: warren's code contexts run python and javascript",
			json_string_value(lang));
	else
		c = context_new(call->sb, call->s, language, json_string_value(cwd), false, call->request_id, &err);
	json_decref(body);
	return c ? http_reply_json(call->req, 200, context_json(c)) : e2b_reply_wd_error(call->req, &err);
}

int e2b_interp_call(struct e2b_call *call)
{
	h2o_req_t *req = call->req;
	const char *path = call->rest;
	size_t len = call->rest_len;
	bool get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")),
	     post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")),
	     del = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("DELETE"));
	if (h2o_memis(path, len, H2O_STRLIT("/health")))
		return e2b_reply_empty(req, 200);
	if (h2o_memis(path, len, H2O_STRLIT("/execute")) && post)
		return execute(call);
	if (h2o_memis(path, len, H2O_STRLIT("/contexts"))) {
		if (post)
			return create_context(call);
		if (get) {
			json_t *list = json_array();
			for (struct list *n = call->sb->contexts.next; list && n != &call->sb->contexts; n = n->next)
				json_array_append_new(list, context_json(LIST_ENTRY(struct context, link, n)));
			return list ? http_reply_json(req, 200, list) : e2b_reply_error(req, 503, "out of memory");
		}
	}
	if (len > 10 && !memcmp(path, "/contexts/", 10)) {
		char id[40];
		const char *slash = memchr(path + 10, '/', len - 10);
		size_t n = slash ? (size_t)(slash - path - 10) : len - 10;
		if (n >= sizeof id)
			return e2b_reply_error(req, 404, "no such context");
		memcpy(id, path + 10, n);
		id[n] = '\0';
		const char *action = path + 10 + n;
		size_t alen = len - 10 - n;
		struct context *c = find_context(call->sb, id);
		if (!c)
			return e2b_reply_error(req, 404, "context \"%s\" not found", id);
		if (!alen && del) {
			context_free(c);
			return e2b_reply_empty(req, 204);
		}
		if (h2o_memis(action, alen, H2O_STRLIT("/restart")) && post) {
			struct wd_error err = { 0 };
			context_stop(c, "the context was restarted");
			if (context_spawn(c, call->s, call->request_id, &err) < 0)
				return e2b_reply_wd_error(req, &err);
			return e2b_reply_empty(req, 204);
		}
	}
	return e2b_reply_error(req, 404, "the code interpreter has no %.*s %.*s", (int)req->method.len, req->method.base,
			       (int)len, path);
}
