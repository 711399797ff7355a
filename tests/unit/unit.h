/* What every check unit test's main() ends with. */
#pragma once
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* automake's exit status for a skipped test program. */
#define UNIT_SKIP 77

/* The root-only tests a program could not run (at most a few per program). */
static const char *unit_skipped[8];
static int unit_n_skipped;

/* Adds a test that needs root. Without root it is not run, and the program
 * ends with automake's skip (77) naming it, never a silent pass; tests/run
 * counts that as a failure under WARREN_MUST_RUN=1. */
#define unit_add_root_test(tc, fn) unit_add_root_test_((tc), (fn), #fn)
static inline void unit_add_root_test_(TCase *tc, const TTest *test, const char *name)
{
	if (geteuid() == 0)
		tcase_add_test(tc, test);
	else if (unit_n_skipped < (int)(sizeof unit_skipped / sizeof *unit_skipped))
		unit_skipped[unit_n_skipped++] = name;
}

/* Runs the suite (forked per test, as check does by default) and turns
 * its failures, then its skipped root-only tests, into the exit status
 * automake's harness reads. */
static inline int unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed)
		return EXIT_FAILURE;
	if (unit_n_skipped) {
		printf("SKIP: not root, so not run:");
		for (int i = 0; i < unit_n_skipped; i++)
			printf(" %s", unit_skipped[i]);
		printf("\n");
		return UNIT_SKIP;
	}
	return EXIT_SUCCESS;
}
