#include "config.h"
#include "dns-wire.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#define FLAG_QR 0x8000
#define FLAG_RD 0x0100
#define FLAG_RA 0x0080
#define OPCODE(flags) (((flags) >> 11) & 0x0f)
#define MAX_POINTERS 32

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }

static bool name_char(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Reads the name at *off: its text (lower case; NULL to only check it)
 * and the offset past it in the record (not past where pointers led).
 * Pointers must go strictly backwards, and only where `pointers` allows
 * (a query's one name has nothing before it to point to but the header,
 * which an answer rewrites). With `text`, a byte outside name_char fails
 * too (such names are never allowed, and the text must say exactly what
 * the resolver will look up). */
static int read_name(const uint8_t *msg, size_t len, size_t *off, char *text, bool pointers)
{
	/* limit: what a pointed-to name must end before (the pointer itself),
	 * so a name never reads bytes at or after its own record, which
	 * dns_parse_response rewrites (TTLs) */
	size_t pos = *off, out = 0, wire = 0, end = 0, limit = len;
	unsigned jumps = 0;
	bool jumped = false;
	for (;;) {
		if (pos >= limit)
			return -EBADMSG;
		uint8_t l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			if (!pointers || pos + 1 >= limit || ++jumps > MAX_POINTERS)
				return -EBADMSG;
			size_t target = (size_t)(l & 0x3f) << 8 | msg[pos + 1];
			if (target >= pos)
				return -EBADMSG;
			if (!jumped)
				end = pos + 2;
			jumped = true;
			limit = pos;
			pos = target;
			continue;
		}
		if (l & 0xc0)
			return -EBADMSG; /* the reserved label types */
		wire += (size_t)l + 1;
		if (wire > 255 || pos + 1 + l > limit)
			return -EBADMSG;
		if (l == 0) {
			if (!jumped)
				end = pos + 1;
			break;
		}
		if (text) {
			if (out + l + 1 >= DNS_NAME_TEXT_MAX)
				return -EBADMSG;
			if (out)
				text[out++] = '.';
			for (size_t i = 0; i < l; i++) {
				uint8_t c = msg[pos + 1 + i];
				if (!name_char(c))
					return -EBADMSG;
				text[out++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
			}
		}
		pos += 1 + (size_t)l;
	}
	if (text)
		text[out] = '\0';
	*off = end;
	return 0;
}

int dns_parse_query(const uint8_t *msg, size_t len, struct dns_question *q)
{
	*q = (struct dns_question){ 0 };
	if (len < DNS_HEADER_LEN)
		return -EBADMSG;
	q->id = get16(msg);
	q->flags = get16(msg + 2);
	if (q->flags & FLAG_QR)
		return -EBADMSG;
	if (OPCODE(q->flags) != 0)
		return -EOPNOTSUPP;
	/* one question; no answers or authority in a query (an OPT record in
	 * the additional section is fine) */
	if (get16(msg + 4) != 1 || get16(msg + 6) || get16(msg + 8))
		return -EPROTO;
	size_t off = DNS_HEADER_LEN;
	if (read_name(msg, len, &off, q->name, false) < 0 || off + 4 > len)
		return -EPROTO;
	q->qtype = get16(msg + off);
	q->qclass = get16(msg + off + 2);
	q->end = off + 4;
	return 0;
}

ssize_t dns_build_error(const uint8_t *query, const struct dns_question *q, int rcode, uint8_t *out, size_t cap)
{
	size_t qlen = q->end > DNS_HEADER_LEN ? q->end - DNS_HEADER_LEN : 0;
	if (cap < DNS_HEADER_LEN + qlen)
		return -ENOSPC;
	memset(out, 0, DNS_HEADER_LEN);
	put16(out, q->id);
	put16(out + 2, (uint16_t)(FLAG_QR | (q->flags & FLAG_RD) | FLAG_RA | (rcode & 0x0f)));
	if (qlen) {
		put16(out + 4, 1);
		memcpy(out + DNS_HEADER_LEN, query + DNS_HEADER_LEN, qlen);
	}
	return (ssize_t)(DNS_HEADER_LEN + qlen);
}

/* One resource record at *off: checks it, clamps its TTL when `answer`,
 * and keeps an address record. */
static int read_record(uint8_t *msg, size_t len, size_t *off, bool answer, uint32_t max_ttl,
		       struct dns_address *out, size_t max, size_t *n)
{
	if (read_name(msg, len, off, NULL, true) < 0 || *off + 10 > len)
		return -EBADMSG;
	uint8_t *rr = msg + *off;
	uint16_t type = get16(rr), klass = get16(rr + 2), rdlen = get16(rr + 8);
	uint32_t ttl = get32(rr + 4);
	if (*off + 10 + rdlen > len)
		return -EBADMSG;
	*off += 10 + (size_t)rdlen;
	if (!answer)
		return 0;
	if (ttl > 0x7fffffff) /* RFC 2181: such a TTL counts as 0 */
		ttl = 0;
	if (ttl > max_ttl)
		ttl = max_ttl;
	put32(rr + 4, ttl);
	if (klass != DNS_CLASS_IN || (type != DNS_TYPE_A && type != DNS_TYPE_AAAA))
		return 0;
	size_t alen = type == DNS_TYPE_A ? 4 : 16;
	if (rdlen != alen)
		return -EBADMSG;
	if (*n < max) {
		out[*n] = (struct dns_address){ .family = type == DNS_TYPE_A ? AF_INET : AF_INET6, .ttl = ttl };
		memcpy(out[*n].addr, rr + 10, alen);
		(*n)++;
	}
	return 0;
}

int dns_parse_response(uint8_t *msg, size_t len, const struct dns_question *q, uint32_t max_ttl,
		       struct dns_address *out, size_t max, size_t *n)
{
	*n = 0;
	if (len < DNS_HEADER_LEN)
		return -EBADMSG;
	uint16_t flags = get16(msg + 2);
	if (!(flags & FLAG_QR) || OPCODE(flags) != 0 || get16(msg + 4) != 1)
		return -EBADMSG;
	char name[DNS_NAME_TEXT_MAX];
	size_t off = DNS_HEADER_LEN;
	if (read_name(msg, len, &off, name, true) < 0 || off + 4 > len || strcmp(name, q->name) ||
	    get16(msg + off) != q->qtype || get16(msg + off + 2) != q->qclass)
		return -EBADMSG;
	off += 4;
	unsigned counts[3] = { get16(msg + 6), get16(msg + 8), get16(msg + 10) };
	for (int section = 0; section < 3; section++)
		for (unsigned i = 0; i < counts[section]; i++)
			if (read_record(msg, len, &off, section == 0, max_ttl, out, max, n) < 0)
				return -EBADMSG;
	return 0;
}
