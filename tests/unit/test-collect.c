/* collect: patterns, globs and limits of what is collected from a
 * sandbox, and the tricks a sandbox could plant where files are collected
 * (symlinks to outside, a fifo, a file swapped for a link meanwhile) and
 * in the host directory warren run --collect writes to. A temporary
 * directory holds "ws" and "tmp" (the two areas), "outside" with a canary
 * and "out" (an output directory). No root needed. */
#include "config.h"

#include "unit.h"
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect.h"

#define CANARY "CANARY outside the areas\n"

static char base[64], ws[128], tmp[128], outside[128], out[128];
static struct collect_source src;
static int out_fd = -1;

static void put(const char *dir, const char *rel, const char *text, size_t len)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "fopen %s", path);
	if (len)
		fwrite(text, 1, len, f);
	fclose(f);
}

static void put_size(const char *dir, const char *rel, size_t len)
{
	char *buf = malloc(len + 1);
	memset(buf, 'x', len);
	put(dir, rel, buf, len);
	free(buf);
}

static void mk(const char *dir, const char *rel)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	ck_assert_int_eq(mkdir(path, 0755), 0);
}

static void setup(void)
{
	snprintf(base, sizeof base, "/tmp/test-collect-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
	snprintf(ws, sizeof ws, "%s/ws", base);
	snprintf(tmp, sizeof tmp, "%s/tmp", base);
	snprintf(outside, sizeof outside, "%s/outside", base);
	snprintf(out, sizeof out, "%s/out", base);
	ck_assert_int_eq(mkdir(ws, 0755), 0);
	ck_assert_int_eq(mkdir(tmp, 0755), 0);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	ck_assert_int_eq(mkdir(out, 0755), 0);
	put(outside, "canary", CANARY, strlen(CANARY));
	src = (struct collect_source){ .uid = (uid_t)-1, .gid = (gid_t)-1 };
	src.area[COLLECT_WORKSPACE] = open(ws, O_PATH | O_DIRECTORY | O_CLOEXEC);
	src.area[COLLECT_TMP] = open(tmp, O_PATH | O_DIRECTORY | O_CLOEXEC);
	out_fd = open(out, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert(src.area[0] >= 0 && src.area[1] >= 0 && out_fd >= 0);
}

static void teardown(void)
{
	close(src.area[0]);
	close(src.area[1]);
	close(out_fd);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", base);
	ck_assert_int_eq(system(cmd), 0);
}

/* A sink that keeps each file's bytes in its entry ("content"). */
static int sink_memory(void *arg, struct collect_file *f, uint64_t *copied, wr_error *e)
{
	char *buf = malloc(f->max + 1);
	int r = collect_copy(f->fd, -1, buf, f->max, copied);
	if (r == 0)
		json_object_set_new(f->entry, "content", json_stringn(buf, (size_t)*copied));
	free(buf);
	return r;
}

static json_t *run(const char *const *texts, size_t n, uint64_t file_max, uint64_t total_max, uint32_t count_max)
{
	struct collect_pattern p[8];
	wr_error e = { 0 };
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(collect_pattern_parse(texts[i], strlen(texts[i]), &p[i], &e) == 0, "%s: %s", texts[i],
			      e.message);
	struct collect_limits lim = { file_max, total_max, count_max };
	json_t *report = NULL;
	ck_assert_msg(collect_run(&src, p, n, &lim, sink_memory, NULL, &report, &e) == 0, "%s", e.message);
	return report;
}

/* "path=code" for each not_collected entry, "path" for each collected one. */
static const char *summary(json_t *report)
{
	static char buf[4096];
	size_t o = 0, i;
	json_t *v;
	buf[0] = '\0';
	json_array_foreach(json_object_get(report, "collected"), i, v)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "%s ", json_string_value(json_object_get(v, "path")));
	o += (size_t)snprintf(buf + o, sizeof buf - o, "|");
	json_array_foreach(json_object_get(report, "not_collected"), i, v)
		o += (size_t)snprintf(buf + o, sizeof buf - o, " %s=%s", json_string_value(json_object_get(v, "path")),
				      json_string_value(json_object_get(v, "code")));
	return buf;
}

static const char *content_of(json_t *report, const char *path)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(report, "collected"), i, v)
		if (!strcmp(json_string_value(json_object_get(v, "path")), path))
			return json_string_value(json_object_get(v, "content"));
	return NULL;
}

START_TEST(patterns_parse)
{
	static const struct { const char *text; int area; const char *base, *glob, *shown; } ok[] = {
		{ "output/", COLLECT_WORKSPACE, "output", "", "/workspace/output" },
		{ "/workspace/output", COLLECT_WORKSPACE, "output", "", "/workspace/output" },
		{ "/workspace", COLLECT_WORKSPACE, "", "", "/workspace" },
		{ "/tmp/output/", COLLECT_TMP, "output", "", "/tmp/output" },
		{ "/tmp/workspace/x", COLLECT_TMP, "workspace/x", "", "/tmp/workspace/x" },
		{ "*.png", COLLECT_WORKSPACE, "", "*.png", "/workspace/*.png" },
		{ "data/*/r?.csv", COLLECT_WORKSPACE, "data", "*/r?.csv", "/workspace/data/*/r?.csv" },
		{ "a/./b/../c", COLLECT_WORKSPACE, "a/c", "", "/workspace/a/c" },
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct collect_pattern p;
		wr_error e = { 0 };
		ck_assert_msg(collect_pattern_parse(ok[i].text, strlen(ok[i].text), &p, &e) == 0, "%s: %s", ok[i].text,
			      e.message);
		ck_assert_int_eq(p.area, ok[i].area);
		ck_assert_str_eq(p.base, ok[i].base);
		ck_assert_str_eq(p.glob, ok[i].glob);
		ck_assert_str_eq(p.shown, ok[i].shown);
	}
	static const char *const bad[] = { "", "/etc/passwd", "/tmpx", "../x", "/tmp/../etc", "/workspace/../etc",
					   "/proc/self/root" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct collect_pattern p;
		wr_error e = { 0 };
		ck_assert_msg(collect_pattern_parse(bad[i], strlen(bad[i]), &p, &e) == -EINVAL, "%s accepted", bad[i]);
		ck_assert_msg(e.message[0], "%s: no message", bad[i]);
	}
	struct collect_pattern p;
	wr_error e = { 0 };
	ck_assert_int_eq(collect_pattern_parse("a\0b", 3, &p, &e), -EINVAL);
}
END_TEST

/* The old services' shape: everything below /tmp/output, within limits;
 * what is left out is named with its reason, links and fifos included. */
START_TEST(directory_with_limits_and_tricks)
{
	mk(tmp, "output");
	put(tmp, "output/a.png", "PNG", 3);
	put_size(tmp, "output/big.csv", 3000);
	put_size(tmp, "output/c.txt", 1500);
	put_size(tmp, "output/d.txt", 800);
	mk(tmp, "output/sub");
	put(tmp, "output/sub/e.txt", "e", 1);
	char target[256], link[256], fifo[256];
	snprintf(target, sizeof target, "%s/canary", outside);
	snprintf(link, sizeof link, "%s/output/passwd", tmp);
	ck_assert_int_eq(symlink(target, link), 0);
	snprintf(link, sizeof link, "%s/output/etc", tmp);
	ck_assert_int_eq(symlink(outside, link), 0);
	snprintf(fifo, sizeof fifo, "%s/output/fifo", tmp);
	ck_assert_int_eq(mkfifo(fifo, 0644), 0);
	const char *pat[] = { "/tmp/output/" };
	json_t *r = run(pat, 1, 2000, 2500, 3);
	/* sorted: a.png big.csv c.txt d.txt etc fifo passwd sub/e.txt */
	ck_assert_str_eq(summary(r), "/tmp/output/a.png /tmp/output/c.txt /tmp/output/d.txt | "
				     "/tmp/output/big.csv=too_large /tmp/output/etc=symlink /tmp/output/fifo=not_regular "
				     "/tmp/output/passwd=symlink /tmp/output/sub/e.txt=count_limit");
	ck_assert_str_eq(content_of(r, "/tmp/output/a.png"), "PNG");
	json_t *first = json_array_get(json_object_get(r, "collected"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(first, "name")), "a.png");
	json_decref(r);
	/* the total: c.txt (1500) fits, d.txt (800) then would not */
	const char *two[] = { "/tmp/output/c.txt", "/tmp/output/d.txt", "/tmp/output/a.png" };
	r = run(two, 3, 2000, 2000, 10);
	ck_assert_str_eq(summary(r), "/tmp/output/c.txt /tmp/output/a.png | /tmp/output/d.txt=total_limit");
	json_decref(r);
}
END_TEST

START_TEST(globs_match_as_fnmatch_with_pathname)
{
	put(ws, "top.png", "1", 1);
	put(ws, "notes.txt", "2", 1);
	mk(ws, "plots");
	put(ws, "plots/deep.png", "3", 1);
	mk(ws, "data");
	mk(ws, "data/2024");
	put(ws, "data/2024/r1.csv", "4", 1);
	put(ws, "data/2024/r22.csv", "5", 1);
	const char *pngs[] = { "*.png" };
	json_t *r = run(pngs, 1, 100, 100, 10);
	ck_assert_str_eq(summary(r), "/workspace/top.png |"); /* "*" stops at "/" */
	json_decref(r);
	const char *deep[] = { "data/*/r?.csv", "plots/*.png", "/workspace/plots/deep.png", "nothing/*.x" };
	r = run(deep, 4, 100, 100, 10);
	/* the same file through two patterns is collected once */
	ck_assert_str_eq(summary(r), "/workspace/data/2024/r1.csv /workspace/plots/deep.png | "
				     "/workspace/nothing/*.x=missing");
	json_t *first = json_array_get(json_object_get(r, "collected"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(first, "name")), "2024/r1.csv");
	json_decref(r);
	/* a directory a glob names comes whole */
	const char *dirs[] = { "pl*" };
	r = run(dirs, 1, 100, 100, 10);
	ck_assert_str_eq(summary(r), "/workspace/plots/deep.png |");
	json_decref(r);
}
END_TEST

/* A symlink as the pattern's own directory (or on the way to it) is
 * never followed either. */
START_TEST(symlinked_base_is_refused)
{
	char link[256];
	snprintf(link, sizeof link, "%s/output", tmp);
	ck_assert_int_eq(symlink(outside, link), 0);
	const char *pat[] = { "/tmp/output/", "/tmp/output/canary", "/tmp/output/*" };
	json_t *r = run(pat, 3, 100, 100, 10);
	ck_assert_str_eq(summary(r), "| /tmp/output=symlink /tmp/output/canary=symlink /tmp/output/*=symlink");
	json_decref(r);
}
END_TEST

/* A thread swaps a file for a symlink to the canary as fast as it can
 * while the file is collected again and again: the canary's bytes never
 * come back, whichever the walk meets. */
static atomic_bool swapping;

static void *swapper(void *arg)
{
	char file[256], link[256], name[256];
	snprintf(file, sizeof file, "%s/file.new", tmp);
	snprintf(link, sizeof link, "%s/link.new", tmp);
	snprintf(name, sizeof name, "%s/x", tmp);
	char target[256];
	snprintf(target, sizeof target, "%s/canary", outside);
	while (atomic_load(&swapping)) {
		put(tmp, "file.new", "mine", 4);
		rename(file, name);
		unlink(link);
		if (symlink(target, link) == 0)
			rename(link, name);
	}
	return arg;
}

START_TEST(swapped_for_a_symlink_meanwhile)
{
	put(tmp, "x", "mine", 4);
	atomic_store(&swapping, true);
	pthread_t t;
	ck_assert_int_eq(pthread_create(&t, NULL, swapper, NULL), 0);
	unsigned mine = 0;
	/* 2000 rounds, and on a loaded machine (where the swapper may win
	 * every one of them) more, until the file itself was met at least
	 * once: otherwise the test would have proved nothing */
	for (int i = 0; i < 2000 || (mine == 0 && i < 200000); i++) {
		const char *pat[] = { "/tmp/*", "/tmp/x" };
		json_t *r = run(pat, 2, 100, 100, 10);
		const char *got = content_of(r, "/tmp/x");
		ck_assert_msg(!got || !strcmp(got, "mine"), "collected through the link: %s", got);
		mine += got != NULL;
		json_decref(r);
	}
	atomic_store(&swapping, false);
	pthread_join(t, NULL);
	ck_assert_msg(mine > 0, "never collected the file itself");
}
END_TEST

/* A host file's text, NULL when it does not exist. */
static char *slurp(const char *path)
{
	static char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

/* warren run --collect's sink: into the output directory, never through
 * a link planted there (as a file or as a directory on the way). */
START_TEST(output_directory_refuses_planted_links)
{
	mk(ws, "sub");
	put(ws, "sub/a.txt", "new a", 5);
	put(ws, "b.txt", "new b", 5);
	put(ws, "c.txt", "new c", 5);
	char target[256], link[256];
	snprintf(target, sizeof target, "%s/canary", outside);
	snprintf(link, sizeof link, "%s/b.txt", out);
	ck_assert_int_eq(symlink(target, link), 0); /* a file's name */
	snprintf(link, sizeof link, "%s/sub", out);
	ck_assert_int_eq(symlink(outside, link), 0); /* a directory on the way */
	put(out, "c.txt", "old c", 5);              /* replaced */
	struct collect_pattern p;
	wr_error e = { 0 };
	ck_assert_int_eq(collect_pattern_parse("/workspace", 10, &p, &e), 0);
	struct collect_limits lim = { 100, 100, 10 };
	json_t *r = NULL;
	ck_assert_int_eq(collect_run(&src, &p, 1, &lim, collect_sink_dir, &out_fd, &r, &e), 0);
	ck_assert_str_eq(summary(r), "/workspace/c.txt | /workspace/b.txt=symlink /workspace/sub/a.txt=symlink");
	json_decref(r);
	char path[256];
	snprintf(path, sizeof path, "%s/canary", outside);
	ck_assert_str_eq(slurp(path), CANARY);
	snprintf(path, sizeof path, "%s/a.txt", outside);
	ck_assert_ptr_null(slurp(path));
	snprintf(path, sizeof path, "%s/c.txt", out);
	ck_assert_str_eq(slurp(path), "new c");
}
END_TEST

START_TEST(copy_is_bounded)
{
	put_size(ws, "f", 100);
	char path[256];
	snprintf(path, sizeof path, "%s/f", ws);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t n;
	char buf[100];
	ck_assert_int_eq(collect_copy(fd, -1, buf, 99, &n), -EFBIG);
	lseek(fd, 0, SEEK_SET);
	ck_assert_int_eq(collect_copy(fd, -1, buf, 100, &n), 0);
	ck_assert_uint_eq(n, 100);
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("collect");
	TCase *tc = tcase_create("collect");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, patterns_parse);
	tcase_add_test(tc, directory_with_limits_and_tricks);
	tcase_add_test(tc, globs_match_as_fnmatch_with_pathname);
	tcase_add_test(tc, symlinked_base_is_refused);
	tcase_add_test(tc, swapped_for_a_symlink_meanwhile);
	tcase_add_test(tc, output_directory_refuses_planted_links);
	tcase_add_test(tc, copy_is_bounded);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
