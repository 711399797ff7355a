/* Streaming exec: output as server-sent events while the command runs.
 * Each event carries `id: N`, its sequence number: one counter for stdout
 * and stderr together, so a client can order them and say where it
 * stopped (the data objects stay as they were).
 * h2o allows one h2o_send in flight: what arrives meanwhile is queued and
 * sent from the generator's proceed callback. A client that does not read
 * gets no proceed: once the queue passes QUEUE_HIGH the command's pipes
 * are not read until it drains (the command blocks on a full pipe), so a
 * stream holds at most about twice that, whatever the command writes. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "exec-reply.h"
#include "http.h"
#include "list.h"
#include "v1-routes.h"

struct stream {
	h2o_generator_t gen;          /* first: h2o hands it back to us */
	struct exec_observer obs;
	struct list link;             /* in live_streams while the exec runs */
	uint64_t last_sent_ms;
	uint64_t seq;                 /* of the last event */
	h2o_req_t *req;               /* NULL once the client is gone */
	struct exec *x;
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
static struct list live_streams = LIST_INIT(live_streams);
#define HEARTBEAT_MS 1000
#define QUEUE_HIGH (256 * 1024)

static void stream_unlink(struct stream *st)
{
	if (list_linked(&st->link))
		list_unlink(&st->link);
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

static void queue_event(struct stream *st, const char *event, uint64_t seq, json_t *data)
{
	char *json = data ? json_dumps(data, JSON_COMPACT) : NULL;
	json_decref(data);
	if (!json)
		return;
	size_t len = strlen(json) + strlen(event) + 64;
	char *q = realloc(st->queue, st->queued + len + 1);
	if (q) {
		st->queue = q;
		st->queued += (size_t)snprintf(q + st->queued, len + 1, "id: %llu\nevent: %s\ndata: %s\n\n",
					       (unsigned long long)seq, event, json);
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

/* The client went away (h2o stops the generator, then frees the request). */
static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
	struct stream *st = (struct stream *)gen;
	st->req = NULL;
	stream_unlink(st);
	if (st->x) {
		struct exec *x = st->x;
		st->x = NULL;
		if (st->paused)
			exec_pause_output(x, false);
		exec_unobserve(x, &st->obs); /* bound: the command is killed */
	}
}

static void on_dispose(void *p)
{
	struct stream *st = p;
	on_stop(&st->gen, NULL);
	free(st->queue);
	free(st->inflight);
	st->queue = st->inflight = NULL;
}

static void on_output(struct exec_observer *o, int stream, const char *buf, size_t len, uint64_t seq)
{
	struct stream *st = LIST_ENTRY(struct stream, obs, o);
	json_t *d;
	if (!output_needs_base64(buf, len)) {
		d = json_pack("{s:s%}", "data", buf, len);
	} else {
		char *b64 = base64_encode(buf, len);
		d = json_pack("{s:s}", "data_base64", b64 ? b64 : "");
		free(b64);
	}
	st->seq = seq;
	queue_event(st, stream == 0 ? "stdout" : "stderr", seq, d);
	flush(st);
	if (st->queued >= QUEUE_HIGH && !st->paused && st->x) {
		st->paused = true;
		exec_pause_output(st->x, true);
	}
}

static void on_done(struct exec_observer *o, struct exec_result *r)
{
	struct stream *st = LIST_ENTRY(struct stream, obs, o);
	st->x = NULL;
	stream_unlink(st);
	if (r->failed_to_start) {
		char msg[300];
		snprintf(msg, sizeof msg, "warren: %s\n", r->exec_error);
		queue_event(st, "stderr", ++st->seq, json_pack("{s:s}", "data", msg));
	}
	queue_event(st, "exit", ++st->seq, exec_result_json(r));
	st->finished = true;
	flush(st);
}

int v1_exec_stream(h2o_req_t *req, struct session *s, struct exec_request *er)
{
	struct stream *st = h2o_mem_alloc_shared(&req->pool, sizeof *st, on_dispose);
	memset(st, 0, sizeof *st);
	st->gen.proceed = on_proceed;
	st->gen.stop = on_stop;
	st->obs.on_output = on_output;
	st->obs.on_done = on_done;
	st->req = req;
	struct wd_error err = { 0 };
	er->request_id = http_ctx(req)->request_id;
	if (!(st->x = session_exec(s, er, &st->obs, &err)))
		return http_reply_wd_error(req, &err);
	st->last_sent_ms = daemon_now_ms();
	list_insert(&live_streams, &st->link);
	http_start_status(req, 200, "text/event-stream");
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
	h2o_start_response(req, &st->gen);
	/* Headers go out now so the client sees the stream open at once. */
	h2o_send(req, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);
	st->sending = true;
	return 0;
}

void v1_streams_tick(uint64_t now)
{
	for (struct list *n = live_streams.next; n != &live_streams; n = n->next) {
		struct stream *st = LIST_ENTRY(struct stream, link, n);
		if (!st->sending && st->queued == 0 && now - st->last_sent_ms >= HEARTBEAT_MS) {
			queue_text(st, ": keep-alive\n\n", 14);
			flush(st);
		}
	}
}
