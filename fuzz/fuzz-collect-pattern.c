/* The paths and globs a client asks to collect (collect.c): /v1/run's
 * "collect", POST /v1/sessions/{id}/artifacts, warren run --collect.
 * Properties (collect.h): a pattern is accepted or refused with -EINVAL
 * and a UTF-8 message; an accepted one names /workspace or /tmp, its
 * directory part is normalized (no "..", no glob character, no leading
 * or trailing '/'), and parsing the path it shows gives it back. */
#include "fuzz.h"

#include <errno.h>

#include "collect.h"
#include "encode.h"

static void check_base(const char *base)
{
	size_t len = strlen(base);
	FUZZ_ASSERT(len <= FILES_PATH_MAX);
	FUZZ_ASSERT(strpbrk(base, "*?[") == NULL);
	if (len == 0)
		return;
	FUZZ_ASSERT(base[0] != '/' && base[len - 1] != '/');
	for (const char *c = base; c;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);
		FUZZ_ASSERT(n > 0 && !(n == 1 && c[0] == '.') && !(n == 2 && c[0] == '.' && c[1] == '.'));
		c = slash ? slash + 1 : NULL;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size ? size : 1);
	FUZZ_ASSERT(text);
	memcpy(text, data, size);
	struct collect_pattern p, again;
	wr_error e = { 0 };
	int r = collect_pattern_parse(text, size, &p, &e);
	FUZZ_ASSERT(r == 0 || r == -EINVAL);
	if (r < 0) {
		FUZZ_ASSERT(e.message[0] && utf8_valid(e.message, strlen(e.message)));
	} else {
		FUZZ_ASSERT(p.area == COLLECT_WORKSPACE || p.area == COLLECT_TMP);
		FUZZ_ASSERT(!strncmp(p.shown, p.area == COLLECT_TMP ? "/tmp" : "/workspace", p.area == COLLECT_TMP ? 4 : 10));
		check_base(p.base);
		FUZZ_ASSERT(!p.glob[0] || (p.glob[0] != '/' && strpbrk(p.glob, "*?[") != NULL));
		FUZZ_ASSERT(collect_pattern_parse(p.shown, strlen(p.shown), &again, &e) == 0);
		FUZZ_ASSERT(again.area == p.area && !strcmp(again.base, p.base) && !strcmp(again.glob, p.glob));
	}
	free(text);
	return 0;
}
