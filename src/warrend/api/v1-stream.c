/* Streaming exec: output as server-sent events (sse.h) while the command
 * runs. Each event carries `id: N`, its sequence number: one counter for
 * stdout and stderr together, so a client can order them and say where it
 * stopped (the data objects stay as they were).
 * A client that does not read gets no proceed: once the queue passes
 * QUEUE_HIGH the command's pipes are not read until it drains (the
 * command blocks on a full pipe), so a stream holds at most about twice
 * that, whatever the command writes. A client that leaves ends the
 * command (the exec is bound to it). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "exec-reply.h"
#include "http.h"
#include "sse.h"
#include "v1-routes.h"

#define QUEUE_HIGH (256 * 1024)

struct stream {
	struct sse_stream sse;        /* first */
	struct exec_observer obs;
	uint64_t seq;                 /* of the last event */
	struct exec *x;               /* while it runs */
	bool paused;                  /* the exec's output is paused (backpressure) */
};

static void on_drained(struct sse_stream *sse)
{
	struct stream *st = (struct stream *)sse;
	if (st->paused && sse_queued(sse) < QUEUE_HIGH && st->x) {
		st->paused = false;
		exec_pause_output(st->x, false);
	}
}

static void on_closed(struct sse_stream *sse)
{
	struct stream *st = (struct stream *)sse;
	if (st->x) {
		struct exec *x = st->x;
		st->x = NULL;
		if (st->paused)
			exec_pause_output(x, false);
		exec_unobserve(x, &st->obs); /* bound: the command is killed */
	}
}

static void on_output(struct exec_observer *o, int stream, const char *buf, size_t len, uint64_t seq)
{
	struct stream *st = LIST_ENTRY(struct stream, obs, o);
	st->seq = seq;
	sse_event(&st->sse, stream == 0 ? "stdout" : "stderr", seq, sse_output_data(buf, len));
	if (sse_queued(&st->sse) >= QUEUE_HIGH && !st->paused && st->x) {
		st->paused = true;
		exec_pause_output(st->x, true);
	}
}

static void on_done(struct exec_observer *o, struct exec_result *r)
{
	struct stream *st = LIST_ENTRY(struct stream, obs, o);
	st->x = NULL;
	if (r->failed_to_start) {
		char msg[300];
		snprintf(msg, sizeof msg, "warren: %s\n", r->exec_error);
		sse_event(&st->sse, "stderr", ++st->seq, json_pack("{s:s}", "data", msg));
	}
	sse_event(&st->sse, "exit", ++st->seq, exec_result_json(r));
	sse_finish(&st->sse);
}

int v1_exec_stream(h2o_req_t *req, struct session *s, struct exec_request *er)
{
	struct stream *st = sse_new(req, sizeof *st);
	st->sse.drained = on_drained;
	st->sse.closed = on_closed;
	st->obs.on_output = on_output;
	st->obs.on_done = on_done;
	struct wd_error err = { 0 };
	er->request_id = http_ctx(req)->request_id;
	if (!(st->x = session_exec(s, er, &st->obs, &err)))
		return http_reply_wd_error(req, &err);
	sse_start(&st->sse);
	return 0;
}
