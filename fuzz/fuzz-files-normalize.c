/* Path resolution for the file API (files.c): every PUT/GET/DELETE
 * /v1/sessions/{id}/files/{path} and the compatibility upload go through
 * files_normalize before openat2. Properties (files.h): the result is a
 * workspace-relative path with no leading or trailing '/', no empty, "."
 * or ".." component, within FILES_PATH_MAX bytes; normalizing it again
 * gives it back; files_quote, which names the path in every error
 * message, always ends inside its buffer with valid UTF-8. */
#include "fuzz.h"

#include <errno.h>

#include "encode.h"
#include "files.h"

static void check_components(const char *out)
{
	size_t len = strlen(out);
	FUZZ_ASSERT(len <= FILES_PATH_MAX);
	if (len == 0)
		return;
	FUZZ_ASSERT(out[0] != '/' && out[len - 1] != '/');
	for (const char *c = out; c;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);
		FUZZ_ASSERT(n > 0 && n <= FILES_NAME_MAX);
		FUZZ_ASSERT(!(n == 1 && c[0] == '.') && !(n == 2 && c[0] == '.' && c[1] == '.'));
		c = slash ? slash + 1 : NULL;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = malloc(size ? size : 1);
	FUZZ_ASSERT(path);
	memcpy(path, data, size);
	char out[FILES_PATH_MAX + 1], again[FILES_PATH_MAX + 1];
	wr_error e = { 0 };

	int r = files_normalize(path, size, out, &e);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ENAMETOOLONG);
	if (r < 0) {
		FUZZ_ASSERT(e.message[0] && utf8_valid(e.message, strlen(e.message)));
	} else {
		FUZZ_ASSERT(memchr(path, '\0', size) == NULL);
		check_components(out);
		FUZZ_ASSERT(files_normalize(out, strlen(out), again, &e) == 0);
		FUZZ_ASSERT(strcmp(out, again) == 0);
	}

	/* Every buffer size a caller might use, down to 1 byte. */
	static const size_t sizes[] = { 1, 2, 4, 5, 16, 64, 300 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char *q = malloc(sizes[i]);
		FUZZ_ASSERT(q);
		files_quote(path, size, q, sizes[i]);
		size_t qlen = strnlen(q, sizes[i]);
		FUZZ_ASSERT(qlen < sizes[i]);
		FUZZ_ASSERT(utf8_valid(q, qlen));
		free(q);
	}
	free(path);
	return 0;
}
