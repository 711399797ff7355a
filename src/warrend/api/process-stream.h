/* A stream that follows a process's events (process.h) into an
 * sse_stream: v1's server-sent output and E2B's Connect streams, each
 * with its own framing. Events are pulled while the stream has room, so a
 * slow client falls behind in the process's buffer and never holds more
 * than PROCESS_STREAM_QUEUE of the daemon's memory. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "process.h"
#include "sse.h"

#define PROCESS_STREAM_QUEUE (64 * 1024)

struct process_stream {
	struct process_follower f;
	struct sse_stream *st;      /* the stream it fills */
	bool done, exited;          /* exited: the exit event went out */
	/* One event into the stream, in the owner's framing. */
	void (*emit)(struct process_stream *ps, const struct process_event *ev);
	/* No more events: after the exit event, or the process went (with
	 * its session) before one (exited false). */
	void (*end)(struct process_stream *ps);
};

/* Follows p from `after` (process_follow's: 429 past its followers); the
 * owner starts its stream, then pumps what is there already. */
int process_stream_follow(struct process_stream *ps, struct process *p, uint64_t after, struct wd_error *err);
/* Pulls events while the stream has room (every one with `all`). */
void process_stream_pump(struct process_stream *ps, bool all);
/* The client left: the process goes on without this follower. */
void process_stream_close(struct process_stream *ps);
