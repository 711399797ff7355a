/* UTF-8 validation and base64 (encode.c): command output goes into JSON
 * through them, and exec's "stdin_base64" is decoded by base64_decode.
 * Properties: utf8_valid agrees with a second, independent decoder written
 * here; encode then decode gives the input back; decode of any text either
 * refuses it or gives bytes that encode back to exactly that text (padded
 * base64 has one spelling per byte string, apart from the unused low bits
 * of the last group, which we check are refused or round-trip); output
 * that output_needs_base64 leaves as text is valid UTF-8 and jansson writes
 * it in at most 1.5 times its size plus one byte per 2-byte escape; the
 * scan of output in pieces answers as output_needs_base64 on the whole;
 * utf8_lossy makes any bytes valid UTF-8 and leaves valid text alone. */
#include "fuzz.h"

#include <errno.h>
#include <stdbool.h>

#include <jansson.h>

#include "encode.h"

/* A straightforward reference: Unicode's table 3-7 of well-formed byte
 * sequences. */
static bool utf8_reference(const uint8_t *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t c = s[i];
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		uint8_t lo = 0x80, hi = 0xbf;
		size_t n;
		if (c >= 0xc2 && c <= 0xdf)
			n = 1;
		else if (c == 0xe0)
			n = 2, lo = 0xa0;
		else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef)
			n = 2;
		else if (c == 0xed)
			n = 2, hi = 0x9f;
		else if (c == 0xf0)
			n = 3, lo = 0x90;
		else if (c >= 0xf1 && c <= 0xf3)
			n = 3;
		else if (c == 0xf4)
			n = 3, hi = 0x8f;
		else
			return false;
		if (len - i <= n)
			return false;
		if (s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += n + 1;
	}
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);
	FUZZ_ASSERT(buf);
	memcpy(buf, data, size);

	FUZZ_ASSERT(utf8_valid(buf, size) == utf8_reference(data, size));

	/* fed in three pieces cut anywhere (inside characters too), the scan
	 * answers as for the whole */
	struct output_scan scan = { 0 };
	size_t cut1 = size ? data[0] % (size + 1) : 0, cut2 = cut1 + (size > cut1 ? data[size - 1] % (size - cut1 + 1) : 0);
	output_scan_feed(&scan, buf, cut1);
	output_scan_feed(&scan, buf + cut1, cut2 - cut1);
	output_scan_feed(&scan, buf + cut2, size - cut2);
	FUZZ_ASSERT(output_scan_needs_base64(&scan) == output_needs_base64(buf, size));
	FUZZ_ASSERT(!utf8_valid(buf, size) <= output_needs_base64(buf, size));

	/* utf8_lossy: valid UTF-8 but for NUL, the input itself when that was
	 * valid, and each byte becomes at most the 3 of U+FFFD */
	size_t lossy_len;
	char *lossy = utf8_lossy(buf, size, &lossy_len);
	FUZZ_ASSERT(lossy && lossy[lossy_len] == '\0' && lossy_len <= 3 * size);
	bool has_nul = memchr(buf, '\0', size) != NULL;
	if (!has_nul) {
		FUZZ_ASSERT(utf8_valid(lossy, lossy_len));
		FUZZ_ASSERT(!utf8_valid(buf, size) || (lossy_len == size && !memcmp(lossy, buf, size)));
	}
	free(lossy);

	if (!output_needs_base64(buf, size)) {
		FUZZ_ASSERT(utf8_valid(buf, size));
		json_t *str = json_stringn(buf, size);
		char *text = json_dumps(str, JSON_ENCODE_ANY);
		FUZZ_ASSERT(str && text);
		size_t two = 0;
		for (size_t i = 0; i < size; i++)
			two += strchr("\"\\\b\t\n\f\r", data[i]) != NULL && data[i];
		FUZZ_ASSERT(strlen(text) - 2 <= size + size / 2 + two);
		free(text);
		json_decref(str);
	}

	char *enc = base64_encode(buf, size);
	FUZZ_ASSERT(enc);
	size_t dec_len = 0;
	unsigned char *dec = base64_decode(enc, strlen(enc), &dec_len);
	FUZZ_ASSERT(dec && dec_len == size && memcmp(dec, data, size) == 0);
	free(dec);
	free(enc);

	dec = base64_decode(buf, size, &dec_len);
	if (!dec) {
		FUZZ_ASSERT(errno == EINVAL);
	} else {
		FUZZ_ASSERT(dec_len <= size / 4 * 3);
		char *back = base64_encode(dec, dec_len);
		FUZZ_ASSERT(back);
		/* Only the last group may differ, in bits the decoder drops. */
		FUZZ_ASSERT(strlen(back) == size);
		FUZZ_ASSERT(size < 4 || memcmp(back, buf, size - 4) == 0);
		free(back);
		free(dec);
	}
	free(buf);
	return 0;
}
