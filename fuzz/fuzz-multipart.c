/* The multipart/form-data decoder behind POST /upload_file: the body and
 * the Content-Type come straight from the client. Input: the Content-Type
 * up to the first newline, the body after it. Properties: no read outside
 * the body, every part's name, filename and data lie inside what was
 * given, and the part count respects max_parts. */
#include "fuzz.h"

#include <errno.h>

#include "multipart.h"

static int inside(const char *p, size_t len, const char *base, size_t base_len)
{
	return p >= base && len <= base_len && (size_t)(p - base) <= base_len - len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t ct_len = nl ? (size_t)(nl - data) : size;
	size_t body_len = nl ? size - ct_len - 1 : 0;
	/* Exact-size copies so ASan sees a read one past either end. */
	char *ct = malloc(ct_len ? ct_len : 1), *body = malloc(body_len ? body_len : 1);
	FUZZ_ASSERT(ct && body);
	memcpy(ct, data, ct_len);
	if (body_len)
		memcpy(body, nl + 1, body_len);

	struct multipart_part parts[4];
	size_t n = 0;
	wr_error e = { 0 };
	int r = multipart_parse(ct, ct_len, body, body_len, parts, 4, &n, &e);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -E2BIG);
	FUZZ_ASSERT(n <= 4);
	if (r < 0)
		FUZZ_ASSERT(e.message[0]);
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(inside(parts[i].name, parts[i].name_len, body, body_len));
		FUZZ_ASSERT(inside(parts[i].data, parts[i].len, body, body_len));
		if (parts[i].filename)
			FUZZ_ASSERT(inside(parts[i].filename, parts[i].filename_len, body, body_len));
	}
	free(ct);
	free(body);
	return 0;
}
