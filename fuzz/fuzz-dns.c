/* DNS messages as the egress forwarder reads them (dns-wire.c): queries
 * from the sandbox, answers from the network, both untrusted. Byte 0 even:
 * the rest is a query; odd: an answer (to the question its own question
 * section asks, as the forwarder would have sent it). Properties: no crash
 * or over-read on any input; an accepted query's error reply carries its
 * id and question and reads back as an answer to it; an accepted answer
 * yields at most `max` addresses with TTLs clamped, and reads the same a
 * second time (the clamping it wrote is stable). */
#include "fuzz.h"

#include <errno.h>
#include <sys/socket.h>

#include "dns-wire.h"

#define MAX_TTL 3600

static void query(const uint8_t *data, size_t size)
{
	struct dns_question q;
	int r = dns_parse_query(data, size, &q);
	FUZZ_ASSERT(r == 0 || r == -EBADMSG || r == -EPROTO || r == -EOPNOTSUPP);
	if (r != 0)
		return;
	FUZZ_ASSERT(q.end > DNS_HEADER_LEN && q.end <= size && strlen(q.name) < DNS_NAME_TEXT_MAX);
	uint8_t out[DNS_HEADER_LEN + DNS_NAME_TEXT_MAX + 8];
	ssize_t n = dns_build_error(data, &q, DNS_RCODE_NXDOMAIN, out, sizeof out);
	FUZZ_ASSERT(n == (ssize_t)q.end);
	FUZZ_ASSERT(dns_rcode(out) == DNS_RCODE_NXDOMAIN && (out[0] << 8 | out[1]) == q.id);
	struct dns_address a[4];
	size_t count;
	FUZZ_ASSERT(dns_parse_response(out, (size_t)n, &q, MAX_TTL, a, 4, &count) == 0 && count == 0);
}

static void answer(const uint8_t *data, size_t size)
{
	if (size < DNS_HEADER_LEN)
		return;
	uint8_t *msg = malloc(size);
	memcpy(msg, data, size);
	/* the question the forwarder would have asked: this one's own, as a query */
	uint8_t *asked = malloc(size);
	memcpy(asked, data, size);
	asked[2] &= 0x07; /* QR off, opcode 0 */
	asked[6] = asked[7] = asked[8] = asked[9] = 0;
	struct dns_question q;
	if (dns_parse_query(asked, size, &q) == 0) {
		struct dns_address a[8], b[8];
		size_t n = 0, m = 0;
		if (dns_parse_response(msg, size, &q, MAX_TTL, a, 8, &n) == 0) {
			FUZZ_ASSERT(n <= 8);
			for (size_t i = 0; i < n; i++)
				FUZZ_ASSERT(a[i].ttl <= MAX_TTL && (a[i].family == AF_INET || a[i].family == AF_INET6));
			FUZZ_ASSERT(dns_parse_response(msg, size, &q, MAX_TTL, b, 8, &m) == 0 && m == n &&
				    !memcmp(a, b, n * sizeof *a));
		}
	}
	free(asked);
	free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] % 2 == 0)
		query(data + 1, size - 1);
	else
		answer(data + 1, size - 1);
	return 0;
}
