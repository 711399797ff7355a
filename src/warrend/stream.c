/* Streaming exec: output as server-sent events while the command runs.
 * h2o allows one h2o_send in flight: what arrives meanwhile is queued and
 * sent from the generator's proceed callback. A client that does not read
 * gets no proceed: once the queue passes QUEUE_HIGH the command's pipes
 * are not read until it drains (the command blocks on a full pipe), so a
 * stream holds at most about twice that, whatever the command writes. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "box-internal.h"
#include "encode.h"
#include "session-internal.h"
#include "sessions.h"
#include "warrend.h"

struct stream {
	h2o_generator_t gen;          /* first: h2o hands it back to us */
	h2o_linklist_t link;          /* in live_streams while the exec runs */
	uint64_t last_sent_ms;
	h2o_req_t *req;               /* NULL once the client is gone */
	struct exec *x;
	struct session *s;
	char *queue;                  /* events not yet handed to h2o */
	size_t queued;
	char *inflight;               /* what h2o is sending, freed at proceed */
	bool sending;                 /* an h2o_send is in flight */
	bool paused;                  /* the exec's output is paused (backpressure) */
	bool finished;                /* the exit event is queued */
	bool final_sent;
};

/* Streams whose command is running: a silent command still gets a
 * comment line every second, so a client that left is noticed (h2o only
 * learns of a closed connection when it writes) and its exec killed. */
static h2o_linklist_t live_streams = { &live_streams, &live_streams };
#define HEARTBEAT_MS 1000
#define QUEUE_HIGH (256 * 1024)

static void stream_unlink(struct stream *st)
{
	if (h2o_linklist_is_linked(&st->link))
		h2o_linklist_unlink(&st->link);
}

static void queue_text(struct stream *st, const char *text, size_t len)
{
	char *q = realloc(st->queue, st->queued + len + 1);
	if (q) {
		st->queue = q;
		memcpy(q + st->queued, text, len);
		st->queued += len;
	}
}

static void queue_event(struct stream *st, const char *event, json_t *data)
{
	char *json = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	if (!json)
		return;
	size_t len = strlen("event: ") + strlen(event) + strlen("\ndata: ") + strlen(json) + 2;
	char *q = realloc(st->queue, st->queued + len + 1);
	if (q) {
		st->queue = q;
		st->queued += (size_t)sprintf(q + st->queued, "event: %s\ndata: %s\n\n", event, json);
	}
	free(json);
}

static void flush(struct stream *st)
{
	if (!st->req || st->sending || st->final_sent)
		return;
	if (st->queued == 0 && !st->finished)
		return;
	/* The bytes must live until proceed: the queue becomes the in-flight
	 * buffer (not a copy in the request's pool, which would keep every
	 * byte ever sent until the request ends). */
	h2o_iovec_t buf = h2o_iovec_init(NULL, 0);
	if (st->queued) {
		free(st->inflight);
		st->inflight = st->queue;
		buf = h2o_iovec_init(st->inflight, st->queued);
		st->queue = NULL;
		st->queued = 0;
	}
	st->sending = true;
	st->last_sent_ms = daemon_now_ms();
	if (st->finished) {
		st->final_sent = true;
		h2o_send(st->req, &buf, buf.len ? 1 : 0, H2O_SEND_STATE_FINAL);
	} else {
		h2o_send(st->req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
	}
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
	struct stream *st = (struct stream *)gen;
	st->sending = false;
	free(st->inflight);
	st->inflight = NULL;
	flush(st);
	if (st->paused && st->queued < QUEUE_HIGH && st->x) {
		st->paused = false;
		exec_pause_output(st->x, false);
	}
}

static void stream_release(struct stream *st)
{
	free(st->queue);
	free(st->inflight);
	st->queue = st->inflight = NULL;
}

/* The client went away (h2o stops the generator, then frees the request). */
static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
	struct stream *st = (struct stream *)gen;
	st->req = NULL;
	stream_unlink(st);
	if (st->x) {
		if (st->s)
			st->s->running--;
		exec_abandon(st->x);
		st->x = NULL;
	}
}

static void on_dispose(void *p)
{
	struct stream *st = p;
	on_stop(&st->gen, NULL);
	stream_release(st);
}

static void on_output(struct exec *x, void *data, int stream, const char *buf, size_t len)
{
	struct stream *st = data;
	json_t *d;
	if (!output_needs_base64(buf, len)) {
		d = json_pack("{s:s%}", "data", buf, len);
	} else {
		char *b64 = base64_encode(buf, len);
		d = json_pack("{s:s}", "data_base64", b64 ? b64 : "");
		free(b64);
	}
	queue_event(st, stream == 0 ? "stdout" : "stderr", d);
	flush(st);
	if (st->queued >= QUEUE_HIGH && !st->paused) {
		st->paused = true;
		exec_pause_output(x, true);
	}
}

static void on_done(struct exec *x, void *data, struct exec_result *r)
{
	struct stream *st = data;
	st->x = NULL;
	stream_unlink(st);
	if (st->s) {
		st->s->running--;
		session_touch(st->s);
	}
	if (r->failed_to_start) {
		char msg[300];
		snprintf(msg, sizeof msg, "warren: %s\n", r->exec_error);
		queue_event(st, "stderr", json_pack("{s:s}", "data", msg));
	}
	queue_event(st, "exit", exec_result_json(r));
	st->finished = true;
	flush(st);
}

int session_exec_stream(h2o_req_t *req, struct session *s, const struct exec_params *p)
{
	struct stream *st = h2o_mem_alloc_shared(&req->pool, sizeof *st, on_dispose);
	memset(st, 0, sizeof *st);
	st->gen.proceed = on_proceed;
	st->gen.stop = on_stop;
	st->req = req;
	st->s = s;
	char err[256];
	if (session_exec_admit(req, s) < 0)
		return 0;
	struct exec_callbacks cb = { .on_output = on_output, .on_done = on_done, .data = st };
	st->x = exec_start(s->box, p, &cb, err, sizeof err);
	if (!st->x)
		return http_reply_error(req, 409, "conflict", "%s", err);
	s->running++;
	session_touch(s);
	st->last_sent_ms = daemon_now_ms();
	h2o_linklist_insert(&live_streams, &st->link);
	req->res.status = 200;
	req->res.reason = "OK";
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/event-stream"));
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
	h2o_start_response(req, &st->gen);
	/* Headers go out now so the client sees the stream open at once. */
	h2o_send(req, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);
	st->sending = true;
	return 0;
}

void streams_tick(uint64_t now)
{
	for (h2o_linklist_t *n = live_streams.next; n != &live_streams; n = n->next) {
		struct stream *st = H2O_STRUCT_FROM_MEMBER(struct stream, link, n);
		if (!st->sending && st->queued == 0 && now - st->last_sent_ms >= HEARTBEAT_MS) {
			queue_text(st, ": keep-alive\n\n", 14);
			flush(st);
		}
	}
}
