#include "config.h"

/* Server-sent events (sse.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "http.h"
#include "sse.h"

#define HEARTBEAT_MS 1000

static struct list open_streams = LIST_INIT(open_streams);

size_t sse_queued(const struct sse_stream *st) { return st->queued; }

static void flush(struct sse_stream *st)
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
		if (list_linked(&st->link))
			list_unlink(&st->link);
		h2o_send(st->req, &buf, buf.len ? 1 : 0, H2O_SEND_STATE_FINAL);
	} else {
		h2o_send(st->req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
	}
}

static void queue_text(struct sse_stream *st, const char *text, size_t len)
{
	char *q = realloc(st->queue, st->queued + len + 1);
	if (q) {
		st->queue = q;
		memcpy(q + st->queued, text, len);
		st->queued += len;
	}
}

void sse_event(struct sse_stream *st, const char *event, uint64_t id, json_t *data)
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
					       (unsigned long long)id, event, json);
	}
	free(json);
	flush(st);
}

void sse_finish(struct sse_stream *st)
{
	st->finished = true;
	flush(st);
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
	struct sse_stream *st = (struct sse_stream *)gen;
	st->sending = false;
	free(st->inflight);
	st->inflight = NULL;
	flush(st);
	if (st->drained && st->req && !st->final_sent)
		st->drained(st);
}

/* The client went away (h2o stops the generator, then frees the request),
 * or the request is being freed. */
static void gone(struct sse_stream *st)
{
	if (!st->req)
		return;
	st->req = NULL;
	if (list_linked(&st->link))
		list_unlink(&st->link);
	if (st->closed)
		st->closed(st);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
	gone((struct sse_stream *)gen);
}

static void sse_dispose(void *obj)
{
	struct sse_stream *st = obj;
	gone(st);
	free(st->queue);
	free(st->inflight);
	st->queue = st->inflight = NULL;
}

void *sse_new(h2o_req_t *req, size_t size)
{
	struct sse_stream *st = h2o_mem_alloc_shared(&req->pool, size, sse_dispose);
	memset(st, 0, size);
	st->req = req;
	st->gen.proceed = on_proceed;
	st->gen.stop = on_stop;
	return st;
}

void sse_start(struct sse_stream *st)
{
	sse_start_as(st, "text/event-stream");
}

void sse_write(struct sse_stream *st, const void *buf, size_t len)
{
	queue_text(st, buf, len);
	flush(st);
}

void sse_start_as(struct sse_stream *st, const char *content_type)
{
	h2o_req_t *req = st->req;
	st->last_sent_ms = daemon_now_ms();
	list_insert(&open_streams, &st->link);
	http_start_status(req, 200, content_type);
	h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
	h2o_start_response(req, &st->gen);
	h2o_send(req, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);
	st->sending = true;
}

json_t *sse_output_data(const char *buf, size_t len)
{
	if (!output_needs_base64(buf, len))
		return json_pack("{s:s%}", "data", buf, len);
	char *b64 = base64_encode(buf, len);
	json_t *d = json_pack("{s:s}", "data_base64", b64 ? b64 : "");
	free(b64);
	return d;
}

void sse_tick(uint64_t now)
{
	for (struct list *n = open_streams.next, *next; n != &open_streams; n = next) {
		next = n->next;
		struct sse_stream *st = LIST_ENTRY(struct sse_stream, link, n);
		uint64_t every = st->heartbeat_ms ? st->heartbeat_ms : HEARTBEAT_MS;
		if (!st->sending && st->queued == 0 && now - st->last_sent_ms >= every) {
			if (st->heartbeat) {
				st->last_sent_ms = now; /* (the heartbeat may queue nothing) */
				st->heartbeat(st);
				continue;
			}
			queue_text(st, ": keep-alive\n\n", 14);
			flush(st);
		}
	}
}
