/* The CLI's reading of text/event-stream replies (warren exec, attach):
 * bytes in as they come, whole events out, with their id. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "http-client.h"

/* Called for each whole event: its name ("message" when it had none),
 * its data (lines joined with newlines) and the last id seen (NULL when
 * none). 0 to go on, 1 to stop reading (the last event), -errno after
 * setting e. */
typedef int (*sse_event_fn)(void *data, const char *event, const char *text, const char *id, wr_error *e);

struct sse_reader {
	char *buf;                 /* bytes of lines not yet whole */
	size_t len, cap;
	char *event, *data;        /* of the event being read */
	size_t data_len;
	char id[64];
	bool has_id;
	sse_event_fn fn;
	void *fn_data;
};

void sse_reader_init(struct sse_reader *r, sse_event_fn fn, void *fn_data);
void sse_reader_free(struct sse_reader *r);
/* Takes len bytes and calls fn for the events they complete: 0, 1 once
 * fn said stop, -errno. */
int sse_reader_feed(struct sse_reader *r, const char *bytes, size_t len, wr_error *e);
/* Feeds what c holds already, without reading its socket: as
 * sse_reader_feed (0: more must come). */
int sse_reader_pump(struct sse_reader *r, struct http_conn *c, wr_error *e);
/* Reads the stream of c (blocking) until fn says stop (1) or an error;
 * -EPIPE with e set when the stream ended first. */
int sse_reader_run(struct sse_reader *r, struct http_conn *c, wr_error *e);
/* After poll said c's socket is readable: one read, then as
 * sse_reader_pump; -EPIPE with e set when the stream ended. */
int sse_reader_step(struct sse_reader *r, struct http_conn *c, wr_error *e);
