/* The daemon's ground floor without a daemon: request ids, the errno
 * table of its error type, and the access log's lines (a client's method
 * and path cannot forge a field or a line). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon.h"
#include "unit.h"
#include "wd-error.h"

START_TEST(request_ids_kept_only_when_well_formed)
{
	ck_assert(request_id_valid("abc-DEF_0.9:x", 13));
	ck_assert(!request_id_valid("", 0));
	ck_assert(!request_id_valid("has space", 9));
	ck_assert(!request_id_valid("new\nline", 8));
	ck_assert(!request_id_valid("quote\"", 6));
	char long_id[REQUEST_ID_MAX + 2];
	memset(long_id, 'a', sizeof long_id);
	ck_assert(request_id_valid(long_id, REQUEST_ID_MAX));
	ck_assert(!request_id_valid(long_id, REQUEST_ID_MAX + 1));
}
END_TEST

START_TEST(request_ids_made_are_valid_and_distinct)
{
	char a[REQUEST_ID_MAX + 1], b[REQUEST_ID_MAX + 1];
	request_id_new(a);
	request_id_new(b);
	ck_assert_uint_eq(strlen(a), 24);
	ck_assert(request_id_valid(a, strlen(a)));
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(one_errno_table)
{
	static const struct { int err, status; const char *code; } table[] = {
		{ ENOENT, 404, "not_found" }, { EFBIG, 413, "payload_too_large" },
		{ ENOSPC, 507, "insufficient_storage" }, { ENOMEM, 507, "insufficient_storage" },
		{ EINVAL, 400, "bad_request" }, { EISDIR, 400, "bad_request" }, { EACCES, 403, "forbidden" },
		{ EROFS, 403, "forbidden" }, { ESTALE, 409, "conflict" }, { ETIMEDOUT, 503, "unavailable" },
		{ EIO, 500, "internal" },
	};
	for (size_t i = 0; i < sizeof table / sizeof *table; i++) {
		struct wd_error e = { 0 };
		wr_error from = { table[i].err, "x: what happened" };
		ck_assert_int_eq(wd_from_errno(&e, -table[i].err, &from), -table[i].err);
		ck_assert_int_eq(e.status, table[i].status);
		ck_assert_str_eq(e.code, table[i].code);
		ck_assert_int_eq(e.cause.code, table[i].err);
		ck_assert(strstr(e.cause.message, "x: what happened") == e.cause.message);
	}
	struct wd_error e = { 0 };
	ck_assert_int_eq(wd_fail(&e, 429, "full: %d", 3), -EAGAIN);
	ck_assert_str_eq(e.code, "capacity");
	ck_assert_str_eq(e.cause.message, "full: 3");
	ck_assert_uint_eq(e.retry_after_s, 1);
	wd_fail(&e, 400, "bad");
	ck_assert_uint_eq(e.retry_after_s, 0);
}
END_TEST

/* What daemon_log_access writes, read back from stderr. */
static void access_line(const struct access_entry *a, char *out, size_t len)
{
	int fd = memfd_create("log", MFD_CLOEXEC), saved = dup(STDERR_FILENO);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	daemon_log_access(a);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	ssize_t n = pread(fd, out, len - 1, 0);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
}

START_TEST(access_lines_cannot_be_forged)
{
	static const char path[] = "/v1/x y\n\"warrend: access request_id=forged";
	struct access_entry a = {
		.request_id = "r1", .token = "alice", .method = "GET", .method_len = 3, .path = path,
		.path_len = sizeof path - 1, .status = 404, .bytes = 12, .duration_ms = 1.5,
	};
	char line[1024];
	access_line(&a, line, sizeof line);
	ck_assert_str_eq(line, strstr(line, "warrend: access time="));
	ck_assert_ptr_nonnull(strstr(line, " request_id=r1 token=alice method=GET "
					   "path=/v1/x%20y%0A%22warrend:%20access%20request_id=forged status=404 "
					   "bytes=12 duration_ms=1.500 session_id=-\n"));
	ck_assert_ptr_eq(strchr(line, '\n'), line + strlen(line) - 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("daemon-floor");
	TCase *tc = tcase_create("floor");
	tcase_add_test(tc, request_ids_kept_only_when_well_formed);
	tcase_add_test(tc, request_ids_made_are_valid_and_distinct);
	tcase_add_test(tc, one_errno_table);
	tcase_add_test(tc, access_lines_cannot_be_forged);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
