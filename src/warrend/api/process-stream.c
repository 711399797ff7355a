#include "config.h"

/* Processes followed into streams (process-stream.h). */
#include "process-stream.h"

void process_stream_pump(struct process_stream *ps, bool all)
{
	struct process_event ev;
	int r = 0;
	while (!ps->done && (all || sse_queued(ps->st) < PROCESS_STREAM_QUEUE) && (r = process_next(&ps->f, &ev)) > 0) {
		ps->exited |= ev.kind == PROCESS_EV_EXIT;
		ps->emit(ps, &ev);
	}
	if (!ps->done && (r < 0 || all)) {
		ps->done = true;
		process_unfollow(&ps->f);
		ps->end(ps);
	}
}

static void on_wake(struct process_follower *f)
{
	process_stream_pump(LIST_ENTRY(struct process_stream, f, f), false);
}

/* The process is being freed: what is left goes now. */
static void on_gone(struct process_follower *f)
{
	process_stream_pump(LIST_ENTRY(struct process_stream, f, f), true);
}

int process_stream_follow(struct process_stream *ps, struct process *p, uint64_t after, struct wd_error *err)
{
	ps->f.wake = on_wake;
	ps->f.gone = on_gone;
	return process_follow(p, &ps->f, after, err) < 0 ? -1 : 0;
}

void process_stream_close(struct process_stream *ps)
{
	ps->done = true;
	process_unfollow(&ps->f);
}
