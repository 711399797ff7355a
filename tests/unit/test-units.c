/* units: every accepted spelling of sizes, durations and CPU counts, every
 * rejected one, and the formatting that policy_to_json and messages use. */
#include "config.h"

#include "unit.h"
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "units.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define KIB UINT64_C(1024)
#define MIB (KIB * KIB)
#define GIB (MIB * KIB)
#define TIB (GIB * KIB)

static const struct { const char *text; int r; uint64_t value; } size_cases[] = {
	{ "512", 0, 512 },
	{ "0", 0, 0 },
	{ "64k", 0, 64 * KIB },
	{ "64K", 0, 64 * KIB },
	{ "64KB", 0, 64 * KIB },
	{ "64kb", 0, 64 * KIB },
	{ "64KiB", 0, 64 * KIB },
	{ "512M", 0, 512 * MIB },
	{ "512m", 0, 512 * MIB },
	{ "1.5G", 0, 3 * GIB / 2 },
	{ "0.5K", 0, 512 },
	{ "2T", 0, 2 * TIB },
	{ "100B", 0, 100 },
	{ "8388607T", 0, 8388607 * TIB },
	{ "", -EINVAL, 0 },
	{ "-1", -EINVAL, 0 },
	{ "+1", -EINVAL, 0 },
	{ "12X", -EINVAL, 0 },
	{ "1e3", -EINVAL, 0 },
	{ " 5M", -EINVAL, 0 },
	{ "5M ", -EINVAL, 0 },
	{ "5 M", -EINVAL, 0 },
	{ "M", -EINVAL, 0 },
	{ "1.", -EINVAL, 0 },
	{ ".5M", -EINVAL, 0 },
	{ "1..5M", -EINVAL, 0 },
	{ "5MM", -EINVAL, 0 },
	{ "5Mi", -EINVAL, 0 },
	{ "8388608T", -ERANGE, 0 },           /* 2^63 */
	{ "9223372036854775808", -ERANGE, 0 }, /* 2^63 */
	{ "99999999999999999999999", -ERANGE, 0 },
};

START_TEST(test_parse_size)
{
	uint64_t v = 12345;
	int r = parse_size(size_cases[_i].text, &v);
	ck_assert_msg(r == size_cases[_i].r, "parse_size(\"%s\") = %d, want %d", size_cases[_i].text, r,
		      size_cases[_i].r);
	if (r == 0)
		ck_assert_uint_eq(v, size_cases[_i].value);
	else
		ck_assert_uint_eq(v, 12345); /* untouched on error */
}
END_TEST

START_TEST(test_parse_size_null)
{
	uint64_t v;
	ck_assert_int_eq(parse_size(NULL, &v), -EINVAL);
}
END_TEST

static const struct { const char *text; int r; uint64_t ms; } duration_cases[] = {
	{ "250ms", 0, 250 },
	{ "5s", 0, 5000 },
	{ "2m", 0, 120000 },
	{ "1h", 0, 3600000 },
	{ "1.5s", 0, 1500 },
	{ "0.5m", 0, 30000 },
	{ "30", 0, 30000 },
	{ "0", 0, 0 },
	{ "", -EINVAL, 0 },
	{ "5", 0, 5000 },
	{ "5x", -EINVAL, 0 },
	{ "5M", -EINVAL, 0 },
	{ "5 s", -EINVAL, 0 },
	{ "-5s", -EINVAL, 0 },
	{ "1d", -EINVAL, 0 },
	{ "ms", -EINVAL, 0 },
	{ "99999999999999999h", -ERANGE, 0 },
};

START_TEST(test_parse_duration)
{
	uint64_t ms = 777;
	int r = parse_duration(duration_cases[_i].text, &ms);
	ck_assert_msg(r == duration_cases[_i].r, "parse_duration(\"%s\") = %d, want %d",
		      duration_cases[_i].text, r, duration_cases[_i].r);
	if (r == 0)
		ck_assert_uint_eq(ms, duration_cases[_i].ms);
}
END_TEST

static const struct { const char *text; int r; uint32_t millis; } cpus_cases[] = {
	{ "0.5", 0, 500 },
	{ "2", 0, 2000 },
	{ "1.25", 0, 1250 },
	{ "0.001", 0, 1 },
	{ "1024", 0, 1024000 },
	{ "0", -EINVAL, 0 },
	{ "0.0001", -EINVAL, 0 },  /* finer than a thousandth: would be 0 */
	{ "1024.001", -ERANGE, 0 },
	{ "2000", -ERANGE, 0 },
	{ "", -EINVAL, 0 },
	{ "-1", -EINVAL, 0 },
	{ "1c", -EINVAL, 0 },
	{ "1e2", -EINVAL, 0 },
};

START_TEST(test_parse_cpus)
{
	uint32_t m = 99;
	int r = parse_cpus(cpus_cases[_i].text, &m);
	ck_assert_msg(r == cpus_cases[_i].r, "parse_cpus(\"%s\") = %d, want %d", cpus_cases[_i].text, r,
		      cpus_cases[_i].r);
	if (r == 0)
		ck_assert_uint_eq(m, cpus_cases[_i].millis);
}
END_TEST

START_TEST(test_format_size)
{
	char buf[32];
	static const struct { uint64_t v; const char *text; } cases[] = {
		{ 67108864, "64M" }, { 1536, "1536" }, { 1024, "1K" }, { 0, "0" }, { 1, "1" },
		{ GIB, "1G" }, { 3 * GIB / 2, "1536M" }, { 2 * TIB, "2T" }, { 4096 * TIB, "4096T" },
		{ 5000000, "5000000" },
	};
	for (size_t i = 0; i < N(cases); i++) {
		format_size(cases[i].v, buf, sizeof buf);
		ck_assert_str_eq(buf, cases[i].text);
		uint64_t back;
		ck_assert_int_eq(parse_size(buf, &back), 0);
		ck_assert_uint_eq(back, cases[i].v);
	}
}
END_TEST

START_TEST(test_format_duration)
{
	char buf[32];
	static const struct { uint64_t ms; const char *text; } cases[] = {
		{ 5000, "5s" }, { 1500, "1500ms" }, { 120000, "2m" }, { 3600000, "1h" }, { 0, "0s" },
		{ 90000, "90s" }, { 1, "1ms" }, { 7200000, "2h" },
	};
	for (size_t i = 0; i < N(cases); i++) {
		format_duration(cases[i].ms, buf, sizeof buf);
		ck_assert_str_eq(buf, cases[i].text);
		uint64_t back;
		ck_assert_int_eq(parse_duration(buf, &back), 0);
		ck_assert_uint_eq(back, cases[i].ms);
	}
}
END_TEST

START_TEST(test_format_cpus)
{
	char buf[32];
	static const struct { uint32_t m; const char *text; } cases[] = {
		{ 500, "0.5" }, { 2000, "2" }, { 1250, "1.25" }, { 1, "0.001" }, { 1010, "1.01" },
		{ 1024000, "1024" },
	};
	for (size_t i = 0; i < N(cases); i++) {
		format_cpus(cases[i].m, buf, sizeof buf);
		ck_assert_str_eq(buf, cases[i].text);
		uint32_t back;
		ck_assert_int_eq(parse_cpus(buf, &back), 0);
		ck_assert_uint_eq(back, cases[i].m);
	}
}
END_TEST

START_TEST(test_format_truncates_safely)
{
	char buf[3] = "xx";
	format_size(67108864, buf, sizeof buf);
	ck_assert_str_eq(buf, "64");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("units");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_parse_size, 0, N(size_cases));
	tcase_add_test(tc, test_parse_size_null);
	tcase_add_loop_test(tc, test_parse_duration, 0, N(duration_cases));
	tcase_add_loop_test(tc, test_parse_cpus, 0, N(cpus_cases));
	tcase_add_test(tc, test_format_size);
	tcase_add_test(tc, test_format_duration);
	tcase_add_test(tc, test_format_cpus);
	tcase_add_test(tc, test_format_truncates_safely);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
