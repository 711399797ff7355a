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

int main(void)
{
	Suite *s = suite_create("encode");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, utf8_accepts_text);
	tcase_add_test(tc, utf8_rejects_binary);
	tcase_add_test(tc, base64_round_trips);
	tcase_add_test(tc, base64_rejects_garbage);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
