#include "config.h"

/* The Connect envelope and proto3's JSON mapping (connect.h), as E2B's
 * SDKs send and read them. */
#include "unit.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "connect.h"

START_TEST(envelope_reads_one_message)
{
	static const uint8_t buf[] = { 0, 0, 0, 0, 2, '{', '}', 0x02, 0, 0, 0, 0 };
	struct connect_envelope e;
	ck_assert_int_eq(connect_envelope_read(buf, sizeof buf, 1024, &e), 7);
	ck_assert_int_eq(e.flags, 0);
	ck_assert_uint_eq(e.len, 2);
	ck_assert(!memcmp(e.data, "{}", 2));
	/* the end-of-stream envelope after it, empty */
	ck_assert_int_eq(connect_envelope_read(buf + 7, sizeof buf - 7, 1024, &e), 5);
	ck_assert_int_eq(e.flags, CONNECT_FLAG_END_STREAM);
	ck_assert_uint_eq(e.len, 0);
}
END_TEST

START_TEST(envelope_waits_for_the_rest_and_refuses_the_odd)
{
	struct connect_envelope e;
	static const uint8_t part[] = { 0, 0, 0, 0, 9, '{' };
	ck_assert_int_eq(connect_envelope_read(part, 3, 1024, &e), 0);           /* header cut */
	ck_assert_int_eq(connect_envelope_read(part, sizeof part, 1024, &e), 0); /* body cut */
	static const uint8_t big[] = { 0, 0x7f, 0xff, 0xff, 0xff };
	ck_assert_int_eq(connect_envelope_read(big, sizeof big, 1 << 20, &e), -EMSGSIZE);
	static const uint8_t gz[] = { CONNECT_FLAG_COMPRESSED, 0, 0, 0, 0 };
	ck_assert_int_eq(connect_envelope_read(gz, sizeof gz, 1024, &e), -EPROTO);
	static const uint8_t odd[] = { 0x80, 0, 0, 0, 0 };
	ck_assert_int_eq(connect_envelope_read(odd, sizeof odd, 1024, &e), -EPROTO);
}
END_TEST

START_TEST(envelope_header_is_big_endian)
{
	uint8_t h[CONNECT_ENVELOPE_HEADER];
	connect_envelope_header(CONNECT_FLAG_END_STREAM, 0x01020304, h);
	static const uint8_t want[] = { 2, 1, 2, 3, 4 };
	ck_assert(!memcmp(h, want, sizeof want));
}
END_TEST

START_TEST(codes_and_statuses)
{
	ck_assert_int_eq(connect_code_status("not_found"), 404);
	ck_assert_int_eq(connect_code_status("invalid_argument"), 400);
	ck_assert_int_eq(connect_code_status("unauthenticated"), 401);
	ck_assert_int_eq(connect_code_status("already_exists"), 409);
	ck_assert_int_eq(connect_code_status("resource_exhausted"), 429);
	ck_assert_int_eq(connect_code_status("unavailable"), 503);
	ck_assert_int_eq(connect_code_status("deadline_exceeded"), 504);
	ck_assert_int_eq(connect_code_status("unimplemented"), 501);
	ck_assert_int_eq(connect_code_status("no such code"), 500);
	ck_assert_str_eq(connect_code_of_status(404), "not_found");
	ck_assert_str_eq(connect_code_of_status(400), "invalid_argument");
	ck_assert_str_eq(connect_code_of_status(429), "resource_exhausted");
	ck_assert_str_eq(connect_code_of_status(502), "internal");
}
END_TEST

static json_t *parse(const char *text)
{
	json_error_t err;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
	ck_assert_msg(v != NULL, "%s: %s", text, err.text);
	return v;
}

/* camelCase or snake_case, never both; null is the zero value. */
START_TEST(fields_by_either_name)
{
	char msg[128];
	json_t *v;
	json_t *o = parse("{\"exitCode\": 3, \"include_entry\": true, \"gone\": null, \"dup\": 1, \"d_up\": 2}");
	ck_assert_int_eq(pj_field(o, "exitCode", "exit_code", &v, msg, sizeof msg), 0);
	ck_assert_int_eq(json_integer_value(v), 3);
	ck_assert_int_eq(pj_field(o, "includeEntry", "include_entry", &v, msg, sizeof msg), 0);
	ck_assert(json_is_true(v));
	ck_assert_int_eq(pj_field(o, "gone", "gone", &v, msg, sizeof msg), 0);
	ck_assert_ptr_null(v);
	ck_assert_int_eq(pj_field(o, "dup", "d_up", &v, msg, sizeof msg), -EINVAL);
	ck_assert_str_eq(msg, "dup: given twice (as dup and d_up)");
	json_decref(o);
}
END_TEST

/* int64 travels as a string; numbers are accepted too; ranges hold. */
START_TEST(integers)
{
	char msg[128];
	int64_t n;
	uint32_t u;
	json_t *v = parse("\"-9223372036854775808\"");
	ck_assert_int_eq(pj_int64(v, "size", &n, msg, sizeof msg), 0);
	ck_assert(n == INT64_MIN);
	json_decref(v);
	v = parse("\"9223372036854775808\"");
	ck_assert_int_eq(pj_int64(v, "size", &n, msg, sizeof msg), -EINVAL);
	json_decref(v);
	v = parse("\"1e2\"");
	ck_assert_int_eq(pj_int64(v, "size", &n, msg, sizeof msg), -EINVAL);
	ck_assert_str_eq(msg, "size: expected an integer (a number, or its decimal digits in a string)");
	json_decref(v);
	v = parse("4294967295");
	ck_assert_int_eq(pj_uint32(v, "pid", &u, msg, sizeof msg), 0);
	ck_assert_uint_eq(u, 4294967295u);
	json_decref(v);
	v = parse("-1");
	ck_assert_int_eq(pj_uint32(v, "pid", &u, msg, sizeof msg), -EINVAL);
	json_decref(v);
	v = parse("1.5");
	ck_assert_int_eq(pj_uint32(v, "pid", &u, msg, sizeof msg), -EINVAL);
	json_decref(v);
	ck_assert_int_eq(pj_uint32(NULL, "pid", &u, msg, sizeof msg), 0);
	ck_assert_uint_eq(u, 0);
}
END_TEST

/* bytes: base64 in either alphabet, padded or not, one spelling each. */
START_TEST(bytes_in_base64)
{
	char msg[128];
	uint8_t *b;
	size_t n;
	static const char *const good[] = { "\"aGk=\"", "\"aGk\"", "\"-_8=\"", "\"+/8\"", "\"\"" };
	static const char *const want[] = { "hi", "hi", "\xfb\xff", "\xfb\xff", "" };
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		json_t *v = parse(good[i]);
		ck_assert_msg(pj_bytes(v, "stdin", &b, &n, msg, sizeof msg) == 0, "%s: %s", good[i], msg);
		ck_assert_uint_eq(n, strlen(want[i]));
		ck_assert(!memcmp(b, want[i], n));
		free(b);
		json_decref(v);
	}
	static const char *const bad[] = { "\"a\"", "\"aGk==\"", "\"a*k=\"", "\"aGl=\"", "7" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *v = parse(bad[i]);
		ck_assert_msg(pj_bytes(v, "stdin", &b, &n, msg, sizeof msg) == -EINVAL, "%s accepted", bad[i]);
		ck_assert_ptr_null(b);
		json_decref(v);
	}
}
END_TEST

/* enums by name or number; unknown names refused, unknown numbers kept. */
START_TEST(enums)
{
	static const char *const names[] = { "SIGNAL_UNSPECIFIED", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
					     "SIGNAL_SIGKILL" };
	char msg[128];
	int32_t e;
	json_t *v = parse("\"SIGNAL_SIGKILL\"");
	ck_assert_int_eq(pj_enum(v, "signal", names, 10, &e, msg, sizeof msg), 0);
	ck_assert_int_eq(e, 9);
	json_decref(v);
	v = parse("15");
	ck_assert_int_eq(pj_enum(v, "signal", names, 10, &e, msg, sizeof msg), 0);
	ck_assert_int_eq(e, 15);
	json_decref(v);
	v = parse("\"SIGNAL_SIGNOPE\"");
	ck_assert_int_eq(pj_enum(v, "signal", names, 10, &e, msg, sizeof msg), -EINVAL);
	ck_assert_str_eq(msg, "signal: unknown value \"SIGNAL_SIGNOPE\"");
	json_decref(v);
}
END_TEST

/* Writers leave zero values out; int64 as a string. */
START_TEST(writers_omit_zero_values)
{
	json_t *o = json_object();
	ck_assert_int_eq(pj_put_int64(o, "size", 0), 0);
	ck_assert_int_eq(pj_put_int32(o, "exitCode", 0), 0);
	ck_assert_int_eq(pj_put_bool(o, "exited", false), 0);
	ck_assert_int_eq(pj_put_string(o, "error", ""), 0);
	ck_assert_int_eq(pj_put_string(o, "tag", NULL), 0);
	ck_assert_int_eq(pj_put_bytes(o, "stdout", "", 0), 0);
	ck_assert_uint_eq(json_object_size(o), 0);
	ck_assert_int_eq(pj_put_int64(o, "size", 12345678901234), 0);
	ck_assert_int_eq(pj_put_int32(o, "exitCode", -1), 0);
	ck_assert_int_eq(pj_put_uint32(o, "pid", 7), 0);
	ck_assert_int_eq(pj_put_bool(o, "exited", true), 0);
	ck_assert_int_eq(pj_put_bytes(o, "stdout", "hi", 2), 0);
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	ck_assert_str_eq(text, "{\"exitCode\":-1,\"exited\":true,\"pid\":7,\"size\":\"12345678901234\",\"stdout\":\"aGk=\"}");
	free(text);
	json_decref(o);
}
END_TEST

START_TEST(timestamps)
{
	char t[40];
	pj_timestamp(1796119200, 0, t);
	ck_assert_str_eq(t, "2026-12-01T10:00:00Z");
	pj_timestamp(1796119200, 123000000, t);
	ck_assert_str_eq(t, "2026-12-01T10:00:00.123Z");
	pj_timestamp(1796119200, 123456000, t);
	ck_assert_str_eq(t, "2026-12-01T10:00:00.123456Z");
	pj_timestamp(1796119200, 123456789, t);
	ck_assert_str_eq(t, "2026-12-01T10:00:00.123456789Z");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("connect");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, envelope_reads_one_message);
	tcase_add_test(tc, envelope_waits_for_the_rest_and_refuses_the_odd);
	tcase_add_test(tc, envelope_header_is_big_endian);
	tcase_add_test(tc, codes_and_statuses);
	tcase_add_test(tc, fields_by_either_name);
	tcase_add_test(tc, integers);
	tcase_add_test(tc, bytes_in_base64);
	tcase_add_test(tc, enums);
	tcase_add_test(tc, writers_omit_zero_values);
	tcase_add_test(tc, timestamps);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
