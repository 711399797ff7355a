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
	const struct uid_layout *l = uid_layout_get();
	return (struct uid_range){
		.host_base = uid_layout_slot_base(l, slot), .count = l->size, .slot = slot, .lock_fd = -1,
	};
}

START_TEST(maps_root_mode)
{
	struct uid_range r = root_range(2);
	char buf[64];
	ck_assert_int_gt(userns_format_uid_map(&r, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "0 1879080960 16384\n");
	ck_assert_int_gt(userns_format_gid_map(&r, buf, sizeof buf), 0);
	ck_assert_str_eq(buf, "0 1879080960 16384\n");
	ck_assert_uint_eq(uid_range_host_uid(&r, 1000), 1879080960u + 1000);
	ck_assert_uint_eq(uid_range_host_uid(&r, 16384), (uid_t)-1);
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
	struct uid_range r = root_range(16375);
	char buf[8];
	ck_assert_int_eq(userns_format_uid_map(&r, buf, sizeof buf), -ENOSPC);
}
END_TEST

START_TEST(slots_top_below_signed_limit)
{
	/* The last slot's last uid must stay below 2^31 (signed uid bugs). */
	const struct uid_layout *l = uid_layout_get();
	ck_assert_uint_le((unsigned long long)uid_layout_slot_base(l, uid_layout_slots(l) - 1) + l->size,
			  0x80000000ull);
}
END_TEST

/* Issue 12: one daemon holds 10,000 sessions and leaves 256 ranges (its
 * UID_RANGES_SPARED) to warren run. */
START_TEST(default_layout_holds_ten_thousand_sandboxes)
{
	const struct uid_layout *l = uid_layout_get();
	ck_assert_uint_ge(uid_layout_slots(l), 10000 + 256);
	ck_assert_uint_eq(l->size, 16384);
	ck_assert_int_eq(uid_layout_check(l, NULL), 0);
}
END_TEST

/* Host uid ranges others reserve (systemd's UIDS-GIDS, closed intervals). */
static const struct { unsigned long long first, last; const char *what; } reserved[] = {
	{ 0, 65535, "system and regular users, nobody, 16-bit (uid_t)-1" },
	{ 524288, 1879048191, "systemd's container ranges" },
	{ 0x7FFE0000, 0x7FFEFFFF, "systemd's foreign range (systemd >= 256)" },
	{ 0x7FFF0000, 0xFFFFFFFF, "the top of the signed range, >= 2^31 and (uid_t)-1" },
};

static void assert_clear_of_reserved(const struct uid_layout *l)
{
	for (unsigned slot = 0; slot < uid_layout_slots(l); slot++) {
		unsigned long long first = uid_layout_slot_base(l, slot), last = first + l->size - 1;
		for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
			ck_assert_msg(last < reserved[i].first || first > reserved[i].last,
				      "slot %u (host uids %llu-%llu) overlaps %s (%llu-%llu)", slot, first, last,
				      reserved[i].what, reserved[i].first, reserved[i].last);
		if (slot > 0) /* adjacent, never overlapping each other */
			ck_assert_uint_eq(first, uid_layout_slot_base(l, slot - 1) + l->size);
		ck_assert_uint_le(last, l->last);
	}
}

START_TEST(slots_clear_of_reserved_ranges)
{
	assert_clear_of_reserved(uid_layout_get());
	/* and so is every layout uid_layout_check accepts at the edges */
	static const struct uid_layout ok[] = {
		{ 65536, 524287, 1001 }, { 65536, 524287, 65536 }, { 0x70000000, 0x7FFDFFFF, 65536 },
		{ 0x7FF00000, 0x7FFDFFFF, 4096 },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		wr_error e = { 0 };
		ck_assert_msg(uid_layout_check(&ok[i], &e) == 0, "%s", e.message);
		assert_clear_of_reserved(&ok[i]);
	}
}
END_TEST

START_TEST(layouts_into_reserved_ranges_refused)
{
	static const struct uid_layout bad[] = {
		{ 0, 0x7FFDFFFF, 16384 },           /* system users */
		{ 61184, 200000, 16384 },           /* systemd's dynamic users */
		{ 65536, 600000, 16384 },           /* into the container ranges */
		{ 524288, 1000000, 16384 },         /* the container ranges */
		{ 0x70000000, 0x7FFEFFFF, 16384 },  /* the foreign range */
		{ 0x70000000, 0x8FFFFFFF, 16384 },  /* past 2^31 */
		{ 0x70000000, 0x7FFDFFFF, 1000 },   /* no room for the sandbox user */
		{ 0x70000000, 0x7FFDFFFF, 65537 },
		{ 0x70000000, 0x70000FFF, 16384 },  /* not one whole range */
		{ 0x70010000, 0x70000000, 16384 },  /* reversed */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		wr_error e = { 0 };
		ck_assert_msg(uid_layout_check(&bad[i], &e) < 0, "layout %zu (%u-%u by %u) accepted", i, bad[i].first,
			      bad[i].last, bad[i].size);
		ck_assert(e.message[0]);
	}
}
END_TEST

START_TEST(layout_parse)
{
	struct uid_layout l;
	wr_error e = { 0 };
	ck_assert_int_eq(uid_layout_parse("0x70000000-0x7000FFFF", "4096", &l, &e), 0);
	ck_assert_uint_eq(l.first, 0x70000000u);
	ck_assert_uint_eq(l.last, 0x7000FFFFu);
	ck_assert_uint_eq(l.size, 4096);
	ck_assert_uint_eq(uid_layout_slots(&l), 16);
	ck_assert_int_eq(uid_layout_parse("100000-165535", NULL, &l, &e), 0); /* the default size */
	ck_assert_uint_eq(l.size, 16384);
	ck_assert_int_eq(uid_layout_parse(NULL, "65536", &l, &e), 0); /* the default ids */
	ck_assert_uint_eq(uid_layout_slots(&l), 4094);
	static const char *const bad[] = { "", "1", "1-", "-5", "a-b", "100000-165535x", "100000--165535" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(uid_layout_parse(bad[i], NULL, &l, &e) < 0, "\"%s\" accepted", bad[i]);
	ck_assert_int_lt(uid_layout_parse(NULL, "-1", &l, &e), 0);
	ck_assert_int_lt(uid_layout_parse(NULL, "lots", &l, &e), 0);
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
		ck_assert_uint_lt(r[i].slot, uid_layout_slots(uid_layout_get()));
		ck_assert_uint_eq(r[i].host_base, uid_layout_slot_base(uid_layout_get(), r[i].slot));
		for (int j = 0; j < i; j++)
			ck_assert_uint_ne(r[i].slot, r[j].slot);
	}
	/* A held slot cannot be locked through a separate open (as another
	 * warren process would try); once released it can. */
	int other = open(path, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(other, 0);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = r[0].host_base, .l_len = 1 };
	ck_assert_int_eq(fcntl(other, F_OFD_SETLK, &fl), -1);
	uid_range_release(&r[0]);
	ck_assert_int_eq(fcntl(other, F_OFD_SETLK, &fl), 0);
	close(other);
	for (int i = 1; i < N; i++)
		uid_range_release(&r[i]);
	unlink(path);
}
END_TEST

/* A small layout of four ranges of 4096 ids for the lock tests. */
static const struct uid_layout four = { 0x70000000u, 0x70000000u + 4 * 4096 - 1, 4096 };

static char *temp_lock_file(void)
{
	static char path[64];
	snprintf(path, sizeof path, "/tmp/warren-test-uidlock-XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	return path;
}

/* Ranges overlapping /etc/subuid or /etc/subgid are skipped. */
START_TEST(subids_never_handed_out)
{
	char dir[] = "/tmp/warren-test-subid-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof path, "%s/subuid", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "alice:%u:100\n", 0x70000000u + 4096 + 10); /* inside range 1 */
	fclose(f);
	snprintf(path, sizeof path, "%s/subgid", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "alice:%u:4096\n", 0x70000000u + 2 * 4096 + 4095); /* the end of range 2 and into 3 */
	fclose(f);
	setenv("WARREN_SUBID_DIR", dir, 1);
	uid_layout_set(&four);
	char *lock = temp_lock_file();
	struct uid_range a, b;
	wr_error e = { 0 };
	ck_assert_msg(uid_range_acquire(&a, lock, &e) == 0, "%s", e.message);
	ck_assert_uint_eq(a.slot, 0);
	ck_assert_int_eq(uid_range_acquire(&b, lock, &e), -EAGAIN);
	ck_assert_ptr_nonnull(strstr(e.message, "in use"));
	struct uid_pool *pool;
	ck_assert_int_eq(uid_pool_open(&pool, lock, &e), 0);
	ck_assert_int_eq(uid_pool_acquire(pool, &b, &e), -EAGAIN);
	uid_range_release(&a);
	ck_assert_int_eq(uid_pool_acquire(pool, &b, &e), 0);
	ck_assert_uint_eq(b.slot, 0);
	uid_range_release(&b);
	uid_pool_close(pool);
	unsetenv("WARREN_SUBID_DIR");
	unlink(lock);
	snprintf(path, sizeof path, "%s/subuid", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/subgid", dir);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* One fd holds many ranges; another process (a separate open) sees them
 * held, and a released one free. */
START_TEST(pool_ranges_held_on_one_fd)
{
	uid_layout_set(&four);
	char *lock = temp_lock_file();
	struct uid_pool *pool;
	wr_error e = { 0 };
	ck_assert_int_eq(uid_pool_open(&pool, lock, &e), 0);
	struct uid_range r[4], other;
	for (unsigned i = 0; i < 3; i++) {
		ck_assert_msg(uid_pool_acquire(pool, &r[i], &e) == 0, "%s", e.message);
		ck_assert_uint_eq(r[i].slot, i); /* lowest first */
		ck_assert_int_eq(r[i].lock_fd, -1);
	}
	ck_assert_uint_eq(uid_pool_in_use(pool), 3);
	ck_assert_int_eq(uid_range_acquire(&other, lock, &e), 0);
	ck_assert_uint_eq(other.slot, 3);
	ck_assert_int_eq(uid_pool_acquire(pool, &r[3], &e), -EAGAIN);
	uid_range_release(&r[1]);
	ck_assert_uint_eq(uid_pool_in_use(pool), 2);
	ck_assert_int_eq(uid_pool_acquire(pool, &r[3], &e), 0);
	ck_assert_uint_eq(r[3].slot, 1);
	uid_range_release(&r[0]);
	/* the middle of the pool's merged locks is free to others now */
	struct uid_range again;
	uid_range_release(&other);
	ck_assert_int_eq(uid_pool_acquire(pool, &r[0], &e), 0);
	ck_assert_int_eq(uid_range_acquire(&again, lock, &e), 0);
	ck_assert_uint_eq(again.slot, 3);
	uid_range_release(&again);
	for (unsigned i = 0; i < 4; i++)
		uid_range_release(&r[i]);
	uid_pool_close(pool);
	unlink(lock);
}
END_TEST

/* An older warren locked byte k for host ids 0x70000000 + k*65536: it and
 * a range of ours on those ids exclude each other. */
START_TEST(older_warren_slots_respected)
{
	uid_layout_set(&four); /* all four ranges lie on old slot 0 */
	char *lock = temp_lock_file();
	int old = open(lock, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(old, 0);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
	ck_assert_int_eq(fcntl(old, F_OFD_SETLK, &fl), 0);
	struct uid_range r;
	struct uid_pool *pool;
	wr_error e = { 0 };
	ck_assert_int_eq(uid_range_acquire(&r, lock, &e), -EAGAIN);
	ck_assert_int_eq(uid_pool_open(&pool, lock, &e), 0);
	ck_assert_int_eq(uid_pool_acquire(pool, &r, &e), -EAGAIN);
	fl.l_type = F_UNLCK;
	ck_assert_int_eq(fcntl(old, F_OFD_SETLK, &fl), 0);
	struct uid_range a, b;
	ck_assert_int_eq(uid_pool_acquire(pool, &a, &e), 0);
	ck_assert_int_eq(uid_pool_acquire(pool, &b, &e), 0);
	fl.l_type = F_WRLCK;
	ck_assert_int_eq(fcntl(old, F_OFD_SETLK, &fl), -1); /* the old one would now skip slot 0 */
	uid_range_release(&a);
	ck_assert_int_eq(fcntl(old, F_OFD_SETLK, &fl), -1); /* b still there */
	uid_range_release(&b);
	ck_assert_int_eq(fcntl(old, F_OFD_SETLK, &fl), 0);
	close(old);
	uid_pool_close(pool);
	unlink(lock);
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
	tcase_add_test(tc, default_layout_holds_ten_thousand_sandboxes);
	tcase_add_test(tc, layouts_into_reserved_ranges_refused);
	tcase_add_test(tc, layout_parse);
	unit_add_root_test(tc, live_ranges_never_shared);
	unit_add_root_test(tc, subids_never_handed_out);
	unit_add_root_test(tc, pool_ranges_held_on_one_fd);
	unit_add_root_test(tc, older_warren_slots_respected);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
