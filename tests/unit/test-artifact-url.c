/* The signed URLs of artifacts: a URL verifies as signed; any change to
 * what it names, its expiry or its signature, or another key, is refused;
 * an expired one is told apart (403 either way, but the log says which). */
#include "config.h"

#include "unit.h"
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "artifact-url.h"

static const uint8_t key[ARTIFACT_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const char id[] = "00112233445566778899aabbccddeeff";
#define NOW 1800000000LL

static enum artifact_url_verdict check(const char *url, struct artifact_url *u)
{
	return artifact_url_check(key, url, strlen(url), NOW, u);
}

START_TEST(signed_urls_verify)
{
	char url[ARTIFACT_PATH_MAX];
	struct artifact_url u;
	ck_assert_int_eq(artifact_url_sign(key, id, "chart.png", NOW + 60, url, sizeof url), 0);
	ck_assert_msg(!strncmp(url, "/v1/artifacts/00112233445566778899aabbccddeeff/chart.png?expires=1800000060"
			       "&signature=", 86), "%s", url);
	ck_assert_int_eq(check(url, &u), ARTIFACT_URL_OK);
	ck_assert_str_eq(u.id, id);
	ck_assert_str_eq(u.name, "chart.png");
	ck_assert_int_eq(u.expires, NOW + 60);
	/* a name of any bytes but "/" travels escaped and comes back whole */
	const char odd[] = "r\xc3\xa9sum\xc3\xa9 100%?&#.csv";
	ck_assert_int_eq(artifact_url_sign(key, id, odd, NOW, url, sizeof url), 0);
	ck_assert_msg(strstr(url, "/r%c3%a9sum%c3%a9%20100%25%3f%26%23.csv?expires=") != NULL, "%s", url);
	ck_assert_int_eq(check(url, &u), ARTIFACT_URL_OK); /* expiring this very second: still good */
	ck_assert_str_eq(u.name, odd);
	/* a newline in a name (a file may be called so) signs apart from the expiry */
	ck_assert_int_eq(artifact_url_sign(key, id, "a\n1800000000", NOW, url, sizeof url), 0);
	ck_assert_int_eq(check(url, &u), ARTIFACT_URL_OK);
	ck_assert_str_eq(u.name, "a\n1800000000");
	/* an extra parameter a client adds does not matter */
	strcat(url, "&download=1");
	ck_assert_int_eq(check(url, &u), ARTIFACT_URL_OK);
}
END_TEST

START_TEST(tampered_urls_are_refused)
{
	char url[ARTIFACT_PATH_MAX], bad[ARTIFACT_PATH_MAX + 32];
	struct artifact_url u;
	ck_assert_int_eq(artifact_url_sign(key, id, "data.csv", NOW + 60, url, sizeof url), 0);
	char *sig = strstr(url, "signature=") + 10, *exp = strstr(url, "expires=") + 8;
	/* every signature digit changed, one at a time */
	for (size_t i = 0; i < 64; i++) {
		snprintf(bad, sizeof bad, "%s", url);
		char *d = bad + (sig - url) + i;
		*d = *d == '0' ? '1' : '0';
		ck_assert_int_eq(check(bad, &u), ARTIFACT_URL_BAD);
	}
	/* a longer life */
	snprintf(bad, sizeof bad, "%.*s9%s", (int)(exp - url), url, exp);
	ck_assert_int_eq(check(bad, &u), ARTIFACT_URL_BAD);
	/* another artifact, another name */
	snprintf(bad, sizeof bad, "%s", url);
	bad[14] = bad[14] == '0' ? '1' : '0';
	ck_assert_int_eq(check(bad, &u), ARTIFACT_URL_BAD);
	snprintf(bad, sizeof bad, "%s", url);
	memcpy(strstr(bad, "data.csv"), "date", 4);
	ck_assert_int_eq(check(bad, &u), ARTIFACT_URL_BAD);
	/* another key */
	uint8_t other[ARTIFACT_KEY_LEN];
	memcpy(other, key, sizeof other);
	other[0] ^= 1;
	ck_assert_int_eq(artifact_url_check(other, url, strlen(url), NOW, &u), ARTIFACT_URL_BAD);
	/* no signature, half a signature, twice the expiry */
	snprintf(bad, sizeof bad, "%.*s", (int)(strchr(url, '&') - url), url);
	ck_assert_int_eq(check(bad, &u), ARTIFACT_URL_BAD);
	snprintf(bad, sizeof bad, "%.*s", (int)(strlen(url) - 2), url);
	ck_assert_int_eq(check(bad, &u), ARTIFACT_URL_BAD);
	snprintf(bad, sizeof bad, "%s&expires=1", url);
	ck_assert_int_eq(check(bad, &u), ARTIFACT_URL_BAD);
	snprintf(bad, sizeof bad, "/v1/artifacts/%s/..?expires=1&signature=00", id);
	ck_assert_int_eq(check(bad, &u), ARTIFACT_URL_BAD);
	ck_assert_int_eq(check("/v1/sessions", &u), ARTIFACT_URL_NOT_OURS);
	/* what cannot be signed */
	ck_assert_int_eq(artifact_url_sign(key, id, "a/b", NOW, url, sizeof url), -EINVAL);
	ck_assert_int_eq(artifact_url_sign(key, "xyz", "a", NOW, url, sizeof url), -EINVAL);
	ck_assert_int_eq(artifact_url_sign(key, id, "a", NOW, url, 40), -ENAMETOOLONG);
}
END_TEST

START_TEST(expired_urls_are_told_apart)
{
	char url[ARTIFACT_PATH_MAX];
	struct artifact_url u;
	ck_assert_int_eq(artifact_url_sign(key, id, "old.txt", NOW - 1, url, sizeof url), 0);
	ck_assert_int_eq(check(url, &u), ARTIFACT_URL_EXPIRED);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("artifact-url");
	TCase *tc = tcase_create("artifact-url");
	tcase_add_test(tc, signed_urls_verify);
	tcase_add_test(tc, tampered_urls_are_refused);
	tcase_add_test(tc, expired_urls_are_told_apart);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
