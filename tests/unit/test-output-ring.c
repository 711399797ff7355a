/* A process's kept output (output-ring.c) and signal names
 * (signal-name.c), without a daemon: numbering, the cap (bookkeeping
 * counted), what a follower resuming from an id gets, and events cut
 * between characters rather than inside one. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "output-ring.h"
#include "signal-name.h"
#include "unit.h"

START_TEST(events_are_numbered_from_one_across_streams)
{
	struct output_ring r;
	output_ring_init(&r, 1 << 20);
	ck_assert_int_eq(output_ring_push(&r, 0, "out", 3), 0);
	ck_assert_int_eq(output_ring_push(&r, 1, "err", 3), 0);
	uint64_t dropped;
	const struct ring_event *e = output_ring_after(&r, 0, &dropped);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->seq, 1);
	ck_assert_uint_eq(e->stream, 0);
	ck_assert_uint_eq(dropped, 0);
	e = output_ring_after(&r, 1, &dropped);
	ck_assert_uint_eq(e->seq, 2);
	ck_assert_uint_eq(e->stream, 1);
	ck_assert(!memcmp(e->data, "err", 3));
	ck_assert_ptr_null(output_ring_after(&r, 2, &dropped));
	/* the exit's number comes after the output's; nothing is kept for it */
	ck_assert_uint_eq(output_ring_next_seq(&r), 3);
	ck_assert_ptr_null(output_ring_after(&r, 2, &dropped));
	ck_assert_uint_eq(dropped, 0);
	output_ring_free(&r);
}
END_TEST

START_TEST(the_cap_drops_the_oldest_and_says_how_many)
{
	struct output_ring r;
	output_ring_init(&r, 64 * 1024);
	char line[1000];
	memset(line, 'x', sizeof line);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(output_ring_push(&r, 0, line, sizeof line), 0);
	ck_assert_uint_le(r.bytes, 64 * 1024);
	ck_assert_uint_gt(r.dropped_events, 900);
	ck_assert_uint_eq(r.dropped_bytes, r.dropped_events * sizeof line);
	uint64_t dropped;
	const struct ring_event *e = output_ring_after(&r, 0, &dropped);
	ck_assert_uint_eq(e->seq, output_ring_first(&r));
	ck_assert_uint_eq(dropped, r.dropped_events);
	/* resuming inside what is kept skips nothing */
	e = output_ring_after(&r, 999, &dropped);
	ck_assert_uint_eq(e->seq, 1000);
	ck_assert_uint_eq(dropped, 0);
	output_ring_free(&r);
}
END_TEST

START_TEST(tiny_events_cannot_pass_the_cap)
{
	/* one byte each: their bookkeeping is what fills the cap */
	struct output_ring r;
	output_ring_init(&r, 64 * 1024);
	for (int i = 0; i < 100000; i++)
		ck_assert_int_eq(output_ring_push(&r, 0, "k", 1), 0);
	ck_assert_uint_le(r.bytes, 64 * 1024);
	ck_assert_uint_lt(r.count, 64 * 1024 / 24);
	ck_assert_uint_eq(r.last_seq, 100000);
	output_ring_free(&r);
}
END_TEST

START_TEST(large_output_is_cut_into_events_between_characters)
{
	struct output_ring r;
	output_ring_init(&r, 1 << 20);
	/* "é" (2 bytes) repeated: an even cut would split one */
	size_t len = OUTPUT_RING_CHUNK * 3 + 1;
	char *buf = malloc(len);
	for (size_t i = 0; i + 1 < len; i += 2)
		memcpy(buf + i, "\xc3\xa9", 2);
	buf[len - 1] = 'x';
	ck_assert_int_eq(output_ring_push(&r, 0, buf, len), 0);
	ck_assert_uint_ge(r.count, 4);
	size_t total = 0;
	uint64_t dropped, after = 0;
	for (const struct ring_event *e; (e = output_ring_after(&r, after, &dropped)); after = e->seq) {
		ck_assert_uint_le(e->len, OUTPUT_RING_CHUNK);
		ck_assert_uint_ne((unsigned char)e->data[0] & 0xc0, 0x80); /* begins a character */
		ck_assert(!memcmp(e->data, buf + total, e->len));
		total += e->len;
	}
	ck_assert_uint_eq(total, len);
	free(buf);
	output_ring_free(&r);
}
END_TEST

START_TEST(signals_by_name_or_number)
{
	int sig;
	ck_assert_int_eq(signal_parse("SIGINT", &sig), 0);
	ck_assert_int_eq(sig, SIGINT);
	ck_assert_int_eq(signal_parse("term", &sig), 0);
	ck_assert_int_eq(sig, SIGTERM);
	ck_assert_int_eq(signal_parse("9", &sig), 0);
	ck_assert_int_eq(sig, SIGKILL);
	ck_assert_int_eq(signal_parse("64", &sig), 0);
	ck_assert_int_eq(signal_parse("0", &sig), -EINVAL);
	ck_assert_int_eq(signal_parse("65", &sig), -EINVAL);
	ck_assert_int_eq(signal_parse("-9", &sig), -EINVAL);
	ck_assert_int_eq(signal_parse("9x", &sig), -EINVAL);
	ck_assert_int_eq(signal_parse("SIGFOO", &sig), -EINVAL);
	ck_assert_int_eq(signal_parse("", &sig), -EINVAL);
	ck_assert_str_eq(signal_name(SIGWINCH), "SIGWINCH");
	ck_assert_ptr_null(signal_name(40));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("output-ring");
	TCase *tc = tcase_create("ring");
	tcase_add_test(tc, events_are_numbered_from_one_across_streams);
	tcase_add_test(tc, the_cap_drops_the_oldest_and_says_how_many);
	tcase_add_test(tc, tiny_events_cannot_pass_the_cap);
	tcase_add_test(tc, large_output_is_cut_into_events_between_characters);
	tcase_add_test(tc, signals_by_name_or_number);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
