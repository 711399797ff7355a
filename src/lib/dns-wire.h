/* DNS messages (RFC 1035) as the egress forwarder reads and writes them.
 * Both directions are untrusted: queries come from the sandbox, answers
 * from the network. Pure functions over byte buffers: every offset is
 * checked against the length, compression pointers may only point
 * backwards (no loops), names are at most 255 bytes on the wire. Fuzzed
 * (fuzz/fuzz-dns.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DNS_HEADER_LEN 12
#define DNS_NAME_TEXT_MAX 254   /* 253 characters and the NUL */
#define DNS_TYPE_A 1
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1
#define DNS_RCODE_FORMERR 1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP 4
#define DNS_RCODE_REFUSED 5

struct dns_question {
	uint16_t id;
	uint16_t flags;              /* the query's header flags */
	char name[DNS_NAME_TEXT_MAX]; /* lower case, no trailing dot; "" for the root */
	uint16_t qtype, qclass;
	size_t end;                  /* offset just past the question */
};

/* A query from a client: a header that is a query (QR 0), opcode QUERY,
 * exactly one question, a name of letters, digits, '-' and '_' only.
 * 0; -EBADMSG when it deserves no answer at all (shorter than a header,
 * or a response); -EPROTO when malformed (answer FORMERR); -EOPNOTSUPP
 * for another opcode (answer NOTIMP). q->id is set whenever a header was
 * there. */
int dns_parse_query(const uint8_t *msg, size_t len, struct dns_question *q);

/* The answer to query `q` carrying only `rcode` (and the question when it
 * parsed: q->end > 0): its length, or -ENOSPC. RD is echoed, RA set. */
ssize_t dns_build_error(const uint8_t *query, const struct dns_question *q, int rcode, uint8_t *out, size_t cap);

struct dns_address {
	int family;          /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint32_t ttl;        /* after clamping */
};

/* A response from upstream to the query `q` was: QR 1, opcode QUERY, the
 * same single question (name compared case-insensitively), every record
 * well formed. The A and AAAA records of the answer section (class IN)
 * go to out (up to max; *n says how many); every answer record's TTL is
 * clamped in place to max_ttl. 0, or -EBADMSG. */
int dns_parse_response(uint8_t *msg, size_t len, const struct dns_question *q, uint32_t max_ttl,
		       struct dns_address *out, size_t max, size_t *n);

/* The rcode of a message at least a header long. */
static inline int dns_rcode(const uint8_t *msg) { return msg[3] & 0x0f; }
