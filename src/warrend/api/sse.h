/* Server-sent events (text/event-stream) for the front ends: a streamed
 * exec, a process's output. Each event is "id: N", "event: NAME",
 * "data: JSON". h2o allows one h2o_send in flight: what is queued
 * meanwhile goes from the generator's proceed callback; the owner is told
 * when a send completed (room for more) and when the client left. While
 * a stream is open it gets a comment line every second when it has sent
 * nothing else, so a client that left is noticed (h2o learns of a closed
 * connection only when it writes). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <h2o.h>
#include <jansson.h>

#include "list.h"

struct sse_stream {
	h2o_generator_t gen;        /* first: h2o hands it back */
	h2o_req_t *req;             /* NULL once the client is gone */
	/* The owner's callbacks: a send went out (optional), the client left
	 * before the stream was finished (once). */
	void (*drained)(struct sse_stream *st);
	void (*closed)(struct sse_stream *st);
	/* Optional: what keeps a quiet stream alive instead of the SSE
	 * comment (another framing's keep-alive message, sse_write), and
	 * how often (0: HEARTBEAT_MS). */
	void (*heartbeat)(struct sse_stream *st);
	uint64_t heartbeat_ms;
	/* the rest is sse.c's */
	struct list link;           /* in the open streams (heartbeats) */
	uint64_t last_sent_ms;
	char *queue, *inflight;
	size_t queued;
	bool sending, finished, final_sent;
};

/* A zeroed object of `size` bytes (an owner's struct that begins with a
 * struct sse_stream) for req, in its pool: freed with the request, after
 * `closed` if the stream was still open. */
void *sse_new(h2o_req_t *req, size_t size);
/* Answers 200 text/event-stream and sends the head at once, so the
 * client sees the stream open. */
void sse_start(struct sse_stream *st);
/* The same stream for another framing (E2B's Connect envelopes): answers
 * 200 with content_type; sse_write queues bytes as they are. */
void sse_start_as(struct sse_stream *st, const char *content_type);
void sse_write(struct sse_stream *st, const void *buf, size_t len);
/* Queues one event (data stolen; NULL: nothing) and sends what it can. */
void sse_event(struct sse_stream *st, const char *event, uint64_t id, json_t *data);
/* The stream ends once what is queued has gone. */
void sse_finish(struct sse_stream *st);
/* Bytes queued and not yet handed to h2o. */
size_t sse_queued(const struct sse_stream *st);
/* {"data": text}, or {"data_base64": …} for output that is not text
 * (output_needs_base64). */
json_t *sse_output_data(const char *buf, size_t len);
/* Heartbeats, from the daemon's tick. */
void sse_tick(uint64_t now_ms);
