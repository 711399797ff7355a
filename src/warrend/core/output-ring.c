#include "config.h"

/* A process's kept output (output-ring.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output-ring.h"

/* What one event costs beyond its bytes: its header, its slot and the
 * allocator's own word. The cap counts it, so a flood of one-byte
 * events is bounded as surely as a few large ones. */
#define EVENT_OVERHEAD (sizeof(struct ring_event) + sizeof(struct ring_event *) + 16)

void output_ring_init(struct output_ring *r, uint64_t cap)
{
	*r = (struct output_ring){ .cap = cap ? cap : 1 };
}

void output_ring_free(struct output_ring *r)
{
	for (size_t i = 0; i < r->count; i++)
		free(r->slots[(r->first + i) & (r->n_slots - 1)]);
	free(r->slots);
	r->slots = NULL;
	r->n_slots = r->first = r->count = 0;
	r->bytes = 0;
}

static struct ring_event *slot(const struct output_ring *r, size_t i)
{
	return r->slots[(r->first + i) & (r->n_slots - 1)];
}

static void drop_oldest(struct output_ring *r)
{
	struct ring_event *e = slot(r, 0);
	r->bytes -= e->len + EVENT_OVERHEAD;
	r->dropped_events++;
	r->dropped_bytes += e->len;
	free(e);
	r->first = (r->first + 1) & (r->n_slots - 1);
	r->count--;
}

static int grow(struct output_ring *r)
{
	size_t n = r->n_slots ? r->n_slots * 2 : 64;
	struct ring_event **slots = calloc(n, sizeof *slots);
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < r->count; i++)
		slots[i] = slot(r, i);
	free(r->slots);
	r->slots = slots;
	r->n_slots = n;
	r->first = 0;
	return 0;
}

/* How much of buf the next event takes: at most max bytes, ended before
 * a character that would be cut (a UTF-8 continuation byte follows). */
static size_t piece_len(const char *buf, size_t len, size_t max)
{
	if (len <= max)
		return len;
	for (size_t n = max; n > max - 4 && n > 0; n--)
		if (((unsigned char)buf[n] & 0xc0) != 0x80)
			return n;
	return max;
}

static int push_one(struct output_ring *r, int stream, const char *buf, size_t len)
{
	if (r->count == r->n_slots && grow(r) < 0)
		return -ENOMEM;
	struct ring_event *e = malloc(sizeof *e + len);
	if (!e)
		return -ENOMEM;
	while (r->count && r->bytes + len + EVENT_OVERHEAD > r->cap)
		drop_oldest(r);
	e->seq = ++r->last_seq;
	e->len = (uint32_t)len;
	e->stream = (uint8_t)stream;
	memcpy(e->data, buf, len);
	r->slots[(r->first + r->count) & (r->n_slots - 1)] = e;
	r->count++;
	r->bytes += len + EVENT_OVERHEAD;
	return 0;
}

int output_ring_push(struct output_ring *r, int stream, const char *buf, size_t len)
{
	size_t max = OUTPUT_RING_CHUNK;
	if (r->cap > EVENT_OVERHEAD && r->cap - EVENT_OVERHEAD < max)
		max = (size_t)(r->cap - EVENT_OVERHEAD);
	else if (r->cap <= EVENT_OVERHEAD)
		max = 1;
	while (len > 0) {
		size_t n = piece_len(buf, len, max);
		int rc = push_one(r, stream, buf, n);
		if (rc < 0)
			return rc;
		buf += n;
		len -= n;
	}
	return 0;
}

uint64_t output_ring_first(const struct output_ring *r)
{
	return r->count ? slot(r, 0)->seq : r->last_seq + 1;
}

uint64_t output_ring_next_seq(struct output_ring *r)
{
	return ++r->last_seq;
}

const struct ring_event *output_ring_after(const struct output_ring *r, uint64_t after, uint64_t *dropped)
{
	*dropped = 0;
	/* the newest output is always kept: past it come only numbers taken
	 * for other events (the exit) */
	if (r->count == 0 || after >= slot(r, r->count - 1)->seq)
		return NULL;
	uint64_t oldest = slot(r, 0)->seq;
	if (after + 1 >= oldest)
		return slot(r, (size_t)(after + 1 - oldest));
	*dropped = oldest - after - 1;
	return slot(r, 0);
}
