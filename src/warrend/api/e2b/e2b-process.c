#include "config.h"

/* envd's process.Process service (e2b.h): each E2B process is a process
 * of the session (process.h): its pid is the session's number for it, it
 * outlives the call that started it, and a client that disconnects does
 * not end it (Connect reattaches). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2b-proto.h"
#include "process-stream.h"
#include "e2b.h"

/* The code interpreter's processes: not the user's commands, so not listed. */
#define HIDDEN_TAG_PREFIX "warren:"

struct follow {
	struct connect_stream cs;   /* first */
	struct process_stream ps;
};

static void emit(struct process_stream *ps, const struct process_event *ev)
{
	struct connect_stream *cs = (struct connect_stream *)ps->st;
	if (ev->kind == PROCESS_EV_OUTPUT)
		connect_stream_send(cs, e2b_event_data(ev->stream, ev->data, ev->len));
	else if (ev->kind == PROCESS_EV_EXIT)
		connect_stream_send(cs, e2b_event_end(ev->result));
	/* PROCESS_EV_DROPPED: E2B's events have no word for it; the data just resumes */
}

static void end(struct process_stream *ps)
{
	connect_stream_end((struct connect_stream *)ps->st, ps->exited ? NULL : "unavailable",
			   ps->exited ? NULL : "the sandbox ended");
}

static void on_drained(struct sse_stream *sse)
{
	process_stream_pump(&((struct follow *)sse)->ps, false);
}

static void on_closed(struct sse_stream *sse)
{
	process_stream_close(&((struct follow *)sse)->ps); /* the process goes on */
}

/* Streams p's events from `after` on, the start event first. */
static int follow(struct e2b_call *c, struct process *p, uint64_t after)
{
	struct follow *st = connect_stream_new(c->req, sizeof *st, e2b_event_keepalive());
	st->cs.st.drained = on_drained;
	st->cs.st.closed = on_closed;
	st->ps = (struct process_stream){ .st = &st->cs.st, .emit = emit, .end = end };
	struct wd_error err = { 0 };
	connect_stream_start(&st->cs);
	connect_stream_send(&st->cs, e2b_event_start(process_pid(p)));
	if (process_stream_follow(&st->ps, p, after, &err) < 0)
		connect_stream_end(&st->cs, connect_code_of(&err), err.cause.message);
	else
		process_stream_pump(&st->ps, false);
	return 0;
}

/* ---- the calls ------------------------------------------------------------------------- */

/* A streamed call's error before its stream began: Connect wants 200 and
 * the end-of-stream message even then. */
static int stream_error(struct e2b_call *c, const char *code, const char *message)
{
	struct connect_stream *cs = connect_stream_new(c->req, sizeof *cs, NULL);
	connect_stream_start(cs);
	connect_stream_end(cs, code, message);
	return 0;
}

static int start(struct e2b_call *c)
{
	char msg[512];
	json_t *req = connect_request(c->req, true);
	if (!req)
		return 0;
	struct e2b_start st;
	int r = e2b_read_start(req, &st, msg, sizeof msg);
	if (r < 0) {
		json_decref(req);
		return stream_error(c, r == -ENOMEM ? "resource_exhausted" : "invalid_argument", r == -ENOMEM ? "out of memory" : msg);
	}
	int64_t timeout = connect_timeout_ms(c->req);
	char cwd[SBFS_PATH_MAX + 1];
	struct wd_error err = { 0 };
	struct process *p = NULL;
	if (e2b_check_basic_user(c->req, msg, sizeof msg) < 0)
		wd_fail(&err, 400, "%s", msg);
	else if (timeout < 0)
		wd_fail(&err, 400, "Connect-Timeout-Ms: expected milliseconds");
	else if (st.cwd && sbfs_resolve(st.cwd, strlen(st.cwd), cwd, &err) < 0)
		;
	else if (st.tag && !strncmp(st.tag, HIDDEN_TAG_PREFIX, strlen(HIDDEN_TAG_PREFIX)))
		wd_fail(&err, 400, "tag: names starting with \"%s\" are warren's own", HIDDEN_TAG_PREFIX);
	else {
		struct process_request pr = {
			.argv = st.argv, .env = st.env, .cwd = st.cwd ? cwd : NULL, .cwd_anywhere = true, .tag = st.tag,
			.stdin = st.stdin_open, .pty = st.pty, .cols = (uint16_t)st.cols, .rows = (uint16_t)st.rows,
			.timeout_ms = (uint64_t)timeout, .request_id = c->request_id,
		};
		p = process_start(c->s, &pr, &err);
	}
	e2b_start_free(&st);
	json_decref(req);
	if (!p)
		return stream_error(c, connect_code_of(&err), err.cause.message);
	return follow(c, p, 0);
}

/* The selected process, running; NULL with err set (not_found once it
 * ended: envd forgets a process when it ends). */
static struct process *selected(struct e2b_call *c, const json_t *req, struct wd_error *err)
{
	char msg[512];
	struct e2b_selector sel;
	if (e2b_read_selector(req, &sel, msg, sizeof msg) < 0)
		return wd_fail(err, 400, "%s", msg), NULL;
	struct process *p = sel.pid ? process_find(c->s, sel.pid, err) : process_find_tag(c->s, sel.tag, err);
	if (!p)
		return NULL;
	struct process_info i;
	process_info(p, &i);
	if (!i.running)
		return wd_fail(err, 404, "process %u has ended", i.pid), NULL;
	return p;
}

static int reconnect(struct e2b_call *c)
{
	json_t *req = connect_request(c->req, true);
	if (!req)
		return 0;
	struct wd_error err = { 0 };
	struct process *p = selected(c, req, &err);
	json_decref(req);
	if (!p)
		return stream_error(c, connect_code_of(&err), err.cause.message);
	return follow(c, p, PROCESS_FROM_NOW);
}

static void list_one(struct process *p, void *data)
{
	struct process_info i;
	process_info(p, &i);
	if (!i.running || (i.tag && !strncmp(i.tag, HIDDEN_TAG_PREFIX, strlen(HIDDEN_TAG_PREFIX))))
		return;
	json_array_append_new(data, e2b_process_info(i.pid, i.argv, i.env, i.cwd, i.tag));
}

static int list(struct e2b_call *c)
{
	json_t *req = connect_request(c->req, false), *out = json_array();
	json_decref(req);
	if (!req) {
		json_decref(out);
		return 0;
	}
	if (out)
		processes_foreach(c->s, list_one, out);
	return connect_reply(c->req, out ? json_pack("{s:o}", "processes", out) : NULL);
}

/* SendInput, SendSignal, CloseStdin, Update: one unary call on one process. */
static int act(struct e2b_call *c, const char *method)
{
	json_t *req = connect_request(c->req, false);
	if (!req)
		return 0;
	char msg[512];
	struct wd_error err = { 0 };
	struct process *p = selected(c, req, &err);
	int r = p ? 0 : -1;
	if (p && !strcmp(method, "SendInput")) {
		uint8_t *data;
		size_t n;
		bool pty;
		r = e2b_read_input(req, &data, &n, &pty, msg, sizeof msg);
		if (r < 0)
			wd_fail(&err, 400, "%s", msg);
		else
			r = process_write(p, data, n, &err);
		free(data);
	} else if (p && !strcmp(method, "SendSignal")) {
		int sig;
		if ((r = e2b_read_signal(req, &sig, msg, sizeof msg)) < 0)
			wd_fail(&err, 400, "%s", msg);
		else
			r = process_signal(p, sig, &err);
	} else if (p && !strcmp(method, "CloseStdin")) {
		struct process_info i;
		process_info(p, &i);
		/* envd: closing a stdin that was never open is no error */
		r = i.stdin_open ? process_close_stdin(p, &err) : 0;
	} else if (p) {
		bool has;
		uint32_t cols, rows;
		if ((r = e2b_read_pty_size(req, &has, &cols, &rows, msg, sizeof msg)) < 0)
			wd_fail(&err, 400, "%s", msg);
		else if (has && (!cols || !rows))
			r = wd_fail(&err, 400, "pty.size: cols and rows from 1 to 65535");
		else if (has)
			r = process_resize(p, (uint16_t)cols, (uint16_t)rows, &err);
	}
	json_decref(req);
	return r < 0 ? connect_reply_wd_error(c->req, &err) : connect_reply(c->req, json_object());
}

int e2b_process_call(struct e2b_call *c, const char *method)
{
	if (!strcmp(method, "Start"))
		return start(c);
	if (!strcmp(method, "Connect"))
		return reconnect(c);
	if (!strcmp(method, "List"))
		return list(c);
	if (!strcmp(method, "SendInput") || !strcmp(method, "SendSignal") || !strcmp(method, "CloseStdin") ||
	    !strcmp(method, "Update"))
		return act(c, method);
	if (!strcmp(method, "StreamInput"))
		return connect_reply_error(c->req, "unimplemented", "StreamInput (a client stream) is not offered over "
					   "HTTP/1.1: use SendInput");
	return connect_reply_error(c->req, "unimplemented", "process.Process has no method \"%s\"", method);
}
