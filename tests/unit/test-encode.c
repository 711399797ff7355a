#include "config.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

START_TEST(utf8_accepts_text)
{
	ck_assert(utf8_valid("", 0));
	ck_assert(utf8_valid("hello\n", 6));
	ck_assert(utf8_valid("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15));
}
END_TEST

START_TEST(utf8_rejects_binary)
{
	ck_assert(!utf8_valid("\xff", 1));
	ck_assert(!utf8_valid("a\0b", 3));            /* NUL cannot travel in a JSON C string */
	ck_assert(!utf8_valid("\xc0\xaf", 2));        /* overlong '/' */
	ck_assert(!utf8_valid("\xed\xa0\x80", 3));    /* surrogate */
	ck_assert(!utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	ck_assert(!utf8_valid("\xe2\x82", 2));        /* truncated */
	ck_assert(!utf8_valid("\x80", 1));            /* lone continuation */
}
END_TEST

/* Text for readers that take only UTF-8: bad bytes become U+FFFD one
 * for one, good characters (NUL too) pass unchanged. */
START_TEST(utf8_lossy_replaces_bad_bytes)
{
	static const struct { const char *in; size_t len; const char *out; size_t out_len; } cases[] = {
		{ "plain\n", 6, "plain\n", 6 },
		{ "h\xc3\xa9 \xf0\x9f\x98\x80", 8, "h\xc3\xa9 \xf0\x9f\x98\x80", 8 },
		{ "a\xff" "b", 3, "a\xef\xbf\xbd" "b", 5 },
		{ "\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd", 6 },       /* overlong: both bytes */
		{ "\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 9 }, /* surrogate */
		{ "x\xe2\x82", 3, "x\xef\xbf\xbd\xef\xbf\xbd", 7 },       /* cut off at the end */
		{ "a\0b", 3, "a\0b", 3 },
		{ "", 0, "", 0 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len;
		char *out = utf8_lossy(cases[i].in, cases[i].len, &len);
		ck_assert_ptr_nonnull(out);
		ck_assert_msg(len == cases[i].out_len && !memcmp(out, cases[i].out, len), "case %zu", i);
		ck_assert(out[len] == '\0');
		ck_assert(memchr(out, '\0', len) || utf8_valid(out, len));
		free(out);
	}
}
END_TEST

START_TEST(base64_round_trips)
{
	const char *cases[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *enc = base64_encode(cases[i][0], strlen(cases[i][0]));
		ck_assert_str_eq(enc, cases[i][1]);
		size_t n;
		char *dec = base64_decode(enc, strlen(enc), &n);
		ck_assert_ptr_nonnull(dec);
		ck_assert_uint_eq(n, strlen(cases[i][0]));
		ck_assert(memcmp(dec, cases[i][0], n) == 0);
		free(enc);
		free(dec);
	}
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	char *enc = base64_encode(all, sizeof all);
	size_t n;
	unsigned char *dec = base64_decode(enc, strlen(enc), &n);
	ck_assert_uint_eq(n, 256);
	ck_assert(memcmp(dec, all, 256) == 0);
	free(enc);
	free(dec);
}
END_TEST

START_TEST(base64_rejects_garbage)
{
	size_t n;
	ck_assert_ptr_null(base64_decode("abc", 3, &n));
	ck_assert_ptr_null(base64_decode("ab!d", 4, &n));
	ck_assert_ptr_null(base64_decode("a===", 4, &n));
	ck_assert_ptr_null(base64_decode("ab=c", 4, &n));
	ck_assert_ptr_null(base64_decode("Zg==Zg==", 8, &n)); /* padding in the middle */
}
END_TEST

/* Text stays text, even with many newlines, tabs and quotes (they cost 2
 * bytes in JSON at most); output whose \u00XX escapes would make it more
 * than 1.5 times its size, or that is not UTF-8, goes as base64. */
START_TEST(hex_round_trips)
{
	const unsigned char bytes[] = { 0x00, 0x7f, 0xa5, 0xff };
	char text[9];
	hex_encode(bytes, sizeof bytes, text);
	ck_assert_str_eq(text, "007fa5ff");
	for (size_t i = 0; i < 8; i += 2)
		ck_assert_int_eq(hex_value(text[i]) << 4 | hex_value(text[i + 1]), bytes[i / 2]);
	ck_assert_int_eq(hex_value('F'), 15);
	ck_assert_int_eq(hex_value('g'), -1);
	ck_assert_int_eq(hex_value('/'), -1);
	ck_assert_int_eq(hex_value(':'), -1);
}
END_TEST

START_TEST(output_base64_rule)
{
	ck_assert(!output_needs_base64("", 0));
	ck_assert(!output_needs_base64("\n", 1));
	ck_assert(!output_needs_base64("\"\"\"\"\n\n\t\r", 8));
	ck_assert(!output_needs_base64("h\xc3\xa9llo\n", 7));
	ck_assert(output_needs_base64("\xff", 1));
	ck_assert(output_needs_base64("\x01", 1));
	/* one escape in ten bytes: exactly 1.5 times, still text */
	ck_assert(!output_needs_base64("\x01" "abcdefghi", 10));
	ck_assert(output_needs_base64("\x01" "abcdefgh", 9));
	char flood[4096];
	memset(flood, 1, sizeof flood);
	ck_assert(output_needs_base64(flood, sizeof flood));
	memset(flood, 'a', sizeof flood);
	for (size_t i = 0; i < sizeof flood; i += 10)
		flood[i] = 0x1b; /* 410 escapes in 4096 bytes: just over 1 in 10 */
	ck_assert(output_needs_base64(flood, sizeof flood));
	flood[0] = 'a';
	ck_assert(!output_needs_base64(flood, sizeof flood));
}
END_TEST

/* Output read in pieces that cut characters in two is judged as a whole. */
START_TEST(output_scan_in_pieces)
{
	const char *text = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n";
	size_t len = strlen(text);
	for (size_t cut = 0; cut <= len; cut++) {
		struct output_scan s = { 0 };
		output_scan_feed(&s, text, cut);
		output_scan_feed(&s, text + cut, len - cut);
		ck_assert_msg(!output_scan_needs_base64(&s), "cut at %zu", cut);
	}
	/* one byte at a time */
	struct output_scan s = { 0 };
	for (size_t i = 0; i < len; i++)
		output_scan_feed(&s, text + i, 1);
	ck_assert(!output_scan_needs_base64(&s));
	/* a character cut off at the very end is not UTF-8 */
	s = (struct output_scan){ 0 };
	output_scan_feed(&s, "ok \xe2\x82", 5);
	ck_assert(output_scan_needs_base64(&s));
	/* a bad continuation after a cut */
	s = (struct output_scan){ 0 };
	output_scan_feed(&s, "\xe2", 1);
	output_scan_feed(&s, "ab", 2);
	ck_assert(output_scan_needs_base64(&s));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("encode");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, utf8_accepts_text);
	tcase_add_test(tc, utf8_rejects_binary);
	tcase_add_test(tc, utf8_lossy_replaces_bad_bytes);
	tcase_add_test(tc, base64_round_trips);
	tcase_add_test(tc, base64_rejects_garbage);
	tcase_add_test(tc, hex_round_trips);
	tcase_add_test(tc, output_base64_rule);
	tcase_add_test(tc, output_scan_in_pieces);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
