#include "config.h"

#include "unit.h"

START_TEST(placeholder)
{
	ck_assert(1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("placeholder");
	TCase *tc = tcase_create("all");
	tcase_add_test(tc, placeholder);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
