/* What every check unit test's main() ends with. */
#pragma once
#include <check.h>
#include <stdlib.h>

/* Runs the suite (forked per test, as check does by default) and turns
 * its failures into the exit status automake's harness reads. */
static inline int unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
