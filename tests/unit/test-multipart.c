#include "config.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

#define CT "multipart/form-data; boundary=XyZ"

static int parse(const char *ct, const char *body, size_t len, struct multipart_part *parts, size_t *n, wr_error *e)
{
	return multipart_parse(ct, strlen(ct), body, len, parts, 8, n, e);
}

START_TEST(two_fields)
{
	const char body[] =
		"--XyZ\r\nContent-Disposition: form-data; name=\"session_id\"\r\n\r\nabc123\r\n"
		"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.txt\"\r\n"
		"Content-Type: text/plain\r\n\r\nline1\r\nline2 --XyZ not a delimiter\r\n--XyZ--\r\n";
	struct multipart_part p[8];
	size_t n;
	wr_error e = { 0 };
	ck_assert_msg(parse(CT, body, sizeof body - 1, p, &n, &e) == 0, "%s", e.message);
	ck_assert_uint_eq(n, 2);
	ck_assert(p[0].name_len == 10 && !memcmp(p[0].name, "session_id", 10));
	ck_assert_ptr_null(p[0].filename);
	ck_assert(p[0].len == 6 && !memcmp(p[0].data, "abc123", 6));
	ck_assert(p[1].filename_len == 7 && !memcmp(p[1].filename, "a b.txt", 7));
	const char want[] = "line1\r\nline2 --XyZ not a delimiter";
	ck_assert_uint_eq(p[1].len, sizeof want - 1);
	ck_assert(!memcmp(p[1].data, want, sizeof want - 1));
}
END_TEST

START_TEST(binary_data_and_quoted_boundary)
{
	char body[256];
	size_t len = 0;
	const char head[] = "--b\r\nContent-Disposition: form-data; name=file; filename=x\r\n\r\n";
	memcpy(body, head, sizeof head - 1);
	len += sizeof head - 1;
	const char bin[] = { 0, 1, 2, '\r', '\n', (char)0xff };
	memcpy(body + len, bin, sizeof bin);
	len += sizeof bin;
	memcpy(body + len, "\r\n--b--", 7);
	len += 7;
	struct multipart_part p[8];
	size_t n;
	wr_error e = { 0 };
	ck_assert_msg(parse("multipart/form-data; boundary=\"b\"", body, len, p, &n, &e) == 0, "%s", e.message);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(p[0].len, sizeof bin);
	ck_assert(!memcmp(p[0].data, bin, sizeof bin));
}
END_TEST

START_TEST(malformed_bodies)
{
	struct multipart_part p[8];
	size_t n;
	wr_error e = { 0 };
	ck_assert_int_eq(parse("text/plain", "x", 1, p, &n, &e), -EINVAL);
	ck_assert_int_eq(parse("multipart/form-data", "x", 1, p, &n, &e), -EINVAL);
	const char unterminated[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue";
	ck_assert_int_eq(parse(CT, unterminated, sizeof unterminated - 1, p, &n, &e), -EINVAL);
	ck_assert_ptr_nonnull(strstr(e.message, "no closing boundary"));
	const char no_name[] = "--XyZ\r\nContent-Disposition: form-data\r\n\r\nv\r\n--XyZ--";
	ck_assert_int_eq(parse(CT, no_name, sizeof no_name - 1, p, &n, &e), -EINVAL);
	const char no_headers_end[] = "--XyZ\r\nContent-Disposition: form-data; name=a";
	ck_assert_int_eq(parse(CT, no_headers_end, sizeof no_headers_end - 1, p, &n, &e), -EINVAL);
	ck_assert_int_eq(parse(CT, "", 0, p, &n, &e), -EINVAL);
}
END_TEST

START_TEST(too_many_parts)
{
	char body[4096] = "";
	for (int i = 0; i < 9; i++)
		strcat(body, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n");
	strcat(body, "--XyZ--");
	struct multipart_part p[8];
	size_t n;
	wr_error e = { 0 };
	ck_assert_int_eq(parse(CT, body, strlen(body), p, &n, &e), -E2BIG);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("multipart");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, two_fields);
	tcase_add_test(tc, binary_data_and_quoted_boundary);
	tcase_add_test(tc, malformed_bodies);
	tcase_add_test(tc, too_many_parts);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
