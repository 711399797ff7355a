#include "config.h"

#include "unit.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "userns.h"

static struct uid_range root_range(unsigned slot)
{
	return (struct uid_range){
		.host_base = UID_RANGE_BASE + slot * UID_RANGE_SIZE, .count = UID_RANGE_SIZE,
		.slot = slot, .lock_fd = -1,
	};
}

START_TEST(maps_root_mode)
{
	struct uid_range r = root_range(2);
	char buf[64];
	ck_assert_int_gt(userns_format_uid_map(&r, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "0 1879179264 65536\n");
	ck_assert_int_gt(userns_format_gid_map(&r, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "0 1879179264 65536\n");
	ck_assert_uint_eq(uid_range_host_uid(&r, 1000), 1879179264u + 1000);
	ck_assert_uint_eq(uid_range_host_uid(&r, 65536), (uid_t)-1);
}
END_TEST

START_TEST(maps_rootless_mode)
{
	struct uid_range r = { .rootless = true, .count = 1, .caller_uid = 1234, .caller_gid = 99, .lock_fd = -1 };
	char buf[64];
	ck_assert_int_gt(userns_format_uid_map(&r, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "1000 1234 1\n");
	ck_assert_int_gt(userns_format_gid_map(&r, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "1000 99 1\n");
	ck_assert_uint_eq(uid_range_host_uid(&r, 1000), 1234);
	ck_assert_uint_eq(uid_range_host_uid(&r, 0), (uid_t)-1);
}
END_TEST

START_TEST(maps_buffer_too_small)
{
	struct uid_range r = root_range(4095);
	char buf[8];
	ck_assert_int_eq(userns_format_uid_map(&r, buf, sizeof buf), -ENOSPC);
}
END_TEST

START_TEST(slots_top_below_signed_limit)
{
	/* The last slot's last uid must stay below 2^31 (signed uid bugs). */
	ck_assert_uint_le((unsigned long long)UID_RANGE_BASE + (unsigned long long)UID_RANGE_SLOTS * UID_RANGE_SIZE,
			  0x80000000ull);
}
END_TEST

/* Host uid ranges others reserve (systemd's UIDS-GIDS, closed intervals). */
static const struct { unsigned long long first, last; const char *what; } reserved[] = {
	{ 0, 65535, "system and regular users, nobody, 16-bit (uid_t)-1" },
	{ 524288, 1879048191, "systemd's container ranges" },
	{ 0x7FFE0000, 0x7FFEFFFF, "systemd's foreign range (systemd >= 256)" },
	{ 0x7FFF0000, 0xFFFFFFFF, "the top of the signed range, >= 2^31 and (uid_t)-1" },
};

START_TEST(slots_clear_of_reserved_ranges)
{
	ck_assert_uint_ge(UID_RANGE_SLOTS, 4094);
	for (unsigned slot = 0; slot < UID_RANGE_SLOTS; slot++) {
		unsigned long long first = uid_range_slot_base(slot), last = first + UID_RANGE_SIZE - 1;
		for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
			ck_assert_msg(last < reserved[i].first || first > reserved[i].last,
				      "slot %u (host uids %llu-%llu) overlaps %s (%llu-%llu)", slot, first, last,
				      reserved[i].what, reserved[i].first, reserved[i].last);
		if (slot > 0) /* adjacent, never overlapping each other */
			ck_assert_uint_eq(first, uid_range_slot_base(slot - 1) + UID_RANGE_SIZE);
	}
}
END_TEST

/* Without root the caller's own uid is the only one mapped. As root the
 * check runs in a child that drops to another uid first (not in the test's
 * own process: under CK_FORK=no, as valgrind runs it, that would drop root
 * for the tests after it), so it runs either way. Exit status 0: mapped as
 * promised; 1-4: which check failed. */
static int check_rootless_range(void)
{
	if (geteuid() == 0 && setresuid(65534, 65534, 65534) < 0)
		return 1;
	struct uid_range r;
	wr_error e = { 0 };
	if (uid_range_acquire(&r, "/nonexistent/lock", &e) != 0)
		return 2;
	if (!r.rootless || r.count != 1)
		return 3;
	return r.host_base == getuid() ? 0 : 4;
}

START_TEST(rootless_range_is_the_callers_uid)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(check_rootless_range());
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "rootless range check failed: status %#x",
		      status);
}
END_TEST

/* Root only: the slots are locked in a file only root writes, and the
 * ranges are mapped only by root. */
START_TEST(live_ranges_never_shared)
{
	char path[] = "/tmp/warren-test-uidlock-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);

	enum { N = 64 };
	struct uid_range r[N];
	wr_error e = { 0 };
	for (int i = 0; i < N; i++) {
		ck_assert_msg(uid_range_acquire(&r[i], path, &e) == 0, "%s", e.message);
		ck_assert(!r[i].rootless);
		ck_assert_uint_lt(r[i].slot, UID_RANGE_SLOTS);
		ck_assert_uint_eq(r[i].host_base, uid_range_slot_base(r[i].slot));
		for (int j = 0; j < i; j++)
			ck_assert_uint_ne(r[i].slot, r[j].slot);
	}
	/* A held slot cannot be locked through a separate open (as another
	 * warren process would try); once released it can. */
	int other = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(other, 0);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = r[0].slot, .l_len = 1 };
	ck_assert_int_eq(fcntl(other, F_OFD_SETLK, &fl), -1);
	uid_range_release(&r[0]);
	ck_assert_int_eq(fcntl(other, F_OFD_SETLK, &fl), 0);
	close(other);
	for (int i = 1; i < N; i++)
		uid_range_release(&r[i]);
	unlink(path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("userns");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, maps_root_mode);
	tcase_add_test(tc, maps_rootless_mode);
	tcase_add_test(tc, maps_buffer_too_small);
	tcase_add_test(tc, slots_top_below_signed_limit);
	tcase_add_test(tc, rootless_range_is_the_callers_uid);
	tcase_add_test(tc, slots_clear_of_reserved_ranges);
	unit_add_root_test(tc, live_ranges_never_shared);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
