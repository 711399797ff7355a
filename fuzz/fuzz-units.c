/* The limit parsers (units.c) that read request bodies: POST /v1/sessions
 * "limits", exec "timeout"/"output" and the CLI flags all end in
 * parse_size / parse_duration / parse_cpus. Properties: no crash on any
 * text, and whatever parses formats back to a text that parses to the same
 * value (the daemon's error messages and `policy check` print those). */
#include "fuzz.h"

#include <errno.h>

#include "units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstring(data, size);
	char buf[64];
	uint64_t v, again;
	uint32_t m, m_again;
	int r;

	r = parse_size(text, &v);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
	if (r == 0) {
		format_size(v, buf, sizeof buf);
		FUZZ_ASSERT(parse_size(buf, &again) == 0 && again == v);
	}
	r = parse_duration(text, &v);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
	if (r == 0) {
		format_duration(v, buf, sizeof buf);
		FUZZ_ASSERT(parse_duration(buf, &again) == 0 && again == v);
	}
	r = parse_cpus(text, &m);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
	if (r == 0) {
		FUZZ_ASSERT(m > 0 && m <= 1024 * 1000);
		format_cpus(m, buf, sizeof buf);
		FUZZ_ASSERT(parse_cpus(buf, &m_again) == 0 && m_again == m);
	}
	free(text);
	return 0;
}
