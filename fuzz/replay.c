/* A unit test per fuzz target: runs LLVMFuzzerTestOneInput over every
 * committed input of that target, fuzz/corpus/NAME/ (the seeds) and
 * fuzz/regressions/NAME/ (every crash the fuzzer ever found), one check
 * test per file, so `make check`, the sanitizer build and valgrind replay
 * them with gcc without needing clang. Built with -DFUZZ_NAME='"units"'. */
#include "fuzz.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef FUZZ_NAME
#error "build with -DFUZZ_NAME='\"target\"'"
#endif

static char **inputs;
static size_t n_inputs;

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void collect(const char *kind)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/fuzz/%s/%s", WARREN_SRCDIR, kind, FUZZ_NAME);
	DIR *d = opendir(dir);
	if (!d) {
		if (errno == ENOENT)
			return; /* no regressions yet is fine; no seeds is checked in main */
		fprintf(stderr, "opendir %s: %s\n", dir, strerror(errno));
		exit(EXIT_FAILURE);
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !strcmp(de->d_name, "README"))
			continue;
		inputs = realloc(inputs, (n_inputs + 1) * sizeof *inputs);
		if (!inputs || asprintf(&inputs[n_inputs++], "%s/%s", dir, de->d_name) < 0)
			abort();
	}
	closedir(d);
}

static uint8_t *read_input(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	/* Exactly the input's size, as libFuzzer hands it: ASan and valgrind
	 * then see a read one byte past the end. */
	uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	ck_assert_ptr_nonnull(buf);
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		ck_assert_msg(n > 0, "read %s", path);
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	return buf;
}

START_TEST(replay_input)
{
	size_t len;
	uint8_t *buf = read_input(inputs[_i], &len);
	fprintf(stderr, "%s\n", inputs[_i]);
	ck_assert_int_eq(LLVMFuzzerTestOneInput(buf, len), 0);
	free(buf);
}
END_TEST

int main(void)
{
	collect("corpus");
	size_t seeds = n_inputs;
	collect("regressions");
	if (seeds == 0) {
		fprintf(stderr, "fuzz/corpus/%s: no seed inputs\n", FUZZ_NAME);
		return EXIT_FAILURE;
	}
	qsort(inputs, n_inputs, sizeof *inputs, by_name);

	Suite *s = suite_create("fuzz-" FUZZ_NAME);
	TCase *tc = tcase_create("replay");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, replay_input, 0, (int)n_inputs);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	for (size_t i = 0; i < n_inputs; i++)
		free(inputs[i]);
	free(inputs);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
