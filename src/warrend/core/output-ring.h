/* A process's output, kept for followers that come later or fall behind:
 * numbered events (from 1, one counter for every stream), the oldest
 * dropped once the bytes kept would pass the cap. Pure: no loop, no I/O
 * (tests/unit/test-output-ring.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Output is kept in events of at most this many bytes, so that a cap of
 * a few of them always holds the newest output. */
#define OUTPUT_RING_CHUNK 16384

struct ring_event {
	uint64_t seq;
	uint32_t len;
	uint8_t stream;            /* the caller's: 0 stdout, 1 stderr, 2 a terminal */
	char data[];
};

/* Kept events have consecutive numbers (an exit's number is taken after
 * the last output): a circular array of them finds the one after any
 * number at once. */
struct output_ring {
	struct ring_event **slots;
	size_t n_slots;            /* a power of 2, or 0 */
	size_t first, count;       /* slots[first] is the oldest kept */
	uint64_t cap;              /* bytes kept at most, events' bookkeeping included */
	uint64_t bytes;            /* kept now */
	uint64_t last_seq;         /* of the newest event numbered, 0 before the first */
	uint64_t dropped_events, dropped_bytes;
};

/* An empty ring keeping at most cap bytes (cap >= 1). */
void output_ring_init(struct output_ring *r, uint64_t cap);
void output_ring_free(struct output_ring *r);
/* Appends len bytes of `stream` as events of at most
 * min(OUTPUT_RING_CHUNK, cap) bytes each (cut before a UTF-8 character
 * rather than inside it where one is near), dropping the oldest as
 * needed. 0, or -ENOMEM (nothing appended). */
int output_ring_push(struct output_ring *r, int stream, const char *buf, size_t len);
/* The number of the oldest event kept, or last_seq + 1 when none is. */
uint64_t output_ring_first(const struct output_ring *r);
/* A number for an event kept elsewhere (a process's exit). */
uint64_t output_ring_next_seq(struct output_ring *r);
/* The oldest kept event numbered after `after`, or NULL when there is
 * none (yet); *dropped gets how many events between `after` and it are
 * no longer kept. The newest output is always kept. */
const struct ring_event *output_ring_after(const struct output_ring *r, uint64_t after, uint64_t *dropped);
