/* Egress networking's pure parts: allowlist entries, DNS messages (both
 * directions untrusted), and the DNS forwarder driven over loopback UDP
 * sockets with a fake upstream (no root, no namespaces). */
#include "config.h"

#include "unit.h"
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns-forward.h"
#include "dns-wire.h"
#include "net-allow.h"

/* ---- allowlist ---------------------------------------------------------- */

START_TEST(test_allow_entries_round_trip)
{
	static const struct { const char *in, *out; } ok[] = {
		{ "198.18.0.0/15", "198.18.0.0/15" }, { "198.18.0.1:80", "198.18.0.1:80" },
		{ "198.18.0.1/32", "198.18.0.1" }, { "2001:db8::/32", "2001:db8::/32" },
		{ "[2001:db8::1]:443", "[2001:db8::1]:443" }, { "2001:DB8::1", "2001:db8::1" },
		{ "PyPI.Org.", "pypi.org" }, { "*.GitHubUserContent.com", "*.githubusercontent.com" },
		{ "_service.example.com", "_service.example.com" }, { "0.0.0.0/0", "0.0.0.0/0" },
		{ "dead.beef", "dead.beef" }, { "1.2.3.4.nip.io", "1.2.3.4.nip.io" },
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		struct allow_entry a;
		const char *why = NULL;
		char buf[300];
		ck_assert_msg(allow_entry_parse(ok[i].in, &a, &why) == 0, "%s: %s", ok[i].in, why);
		allow_entry_format(&a, buf, sizeof buf);
		ck_assert_str_eq(buf, ok[i].out);
	}
	static const char *const bad[] = {
		"", "1.2.3.4/33", "1.2.3.4/24", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:", "[::1", "a..b", "*.com",
		"a.*.b", "*", "x.y:80", "169.254.169.254", "169.254.0.0/16", "127.0.0.1", "::1", "fe80::1",
		"224.0.0.1", "255.255.255.255", "0.0.0.0", "bad name.com", "a/b.com",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct allow_entry a;
		const char *why = NULL;
		ck_assert_msg(allow_entry_parse(bad[i], &a, &why) == -EINVAL, "%s parsed", bad[i]);
		ck_assert_ptr_nonnull(why);
	}
}
END_TEST

START_TEST(test_allow_names_and_ranges)
{
	struct allow_entry v[2];
	const char *why;
	ck_assert_int_eq(allow_entry_parse("pypi.org", &v[0], &why), 0);
	ck_assert_int_eq(allow_entry_parse("*.example.com", &v[1], &why), 0);
	struct net_allow list = { .v = v, .n = 2 };
	ck_assert(net_allow_name(&list, "pypi.org"));
	ck_assert(!net_allow_name(&list, "files.pypi.org"));
	ck_assert(!net_allow_name(&list, "pypi.org.evil.test"));
	ck_assert(net_allow_name(&list, "a.example.com"));
	ck_assert(net_allow_name(&list, "a.b.example.com"));
	ck_assert(!net_allow_name(&list, "example.com"));
	ck_assert(!net_allow_name(&list, "badexample.com"));
	ck_assert(!net_allow_name(NULL, "pypi.org"));

	struct net_cidr c;
	ck_assert_int_eq(net_cidr_parse("10.1.0.0/16", &c, &why), 0);
	ck_assert(net_cidr_is_private(&c));
	ck_assert_int_eq(net_cidr_parse("198.18.0.0/15", &c, &why), 0);
	ck_assert(!net_cidr_is_private(&c));
	ck_assert_int_eq(net_cidr_parse("0.0.0.0/0", &c, &why), 0);
	ck_assert(!net_cidr_is_private(&c)); /* wider than any: its private part is dropped, not named */
	uint8_t a[4] = { 10, 1, 2, 3 };
	struct net_cidr ten;
	net_cidr_parse("10.0.0.0/8", &ten, &why);
	ck_assert(net_cidr_has_addr(&ten, AF_INET, a));
	a[0] = 11;
	ck_assert(!net_cidr_has_addr(&ten, AF_INET, a));
}
END_TEST

/* ---- DNS messages --------------------------------------------------------- */

/* A query for `name` (dotted), type A. */
static size_t make_query(uint8_t *buf, uint16_t id, const char *name, uint16_t qtype)
{
	uint8_t head[12] = { (uint8_t)(id >> 8), (uint8_t)id, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
	memcpy(buf, head, 12);
	size_t off = 12;
	while (*name) {
		size_t l = strcspn(name, ".");
		buf[off++] = (uint8_t)l;
		memcpy(buf + off, name, l);
		off += l;
		name += l + (name[l] == '.');
	}
	buf[off++] = 0;
	buf[off++] = (uint8_t)(qtype >> 8);
	buf[off++] = (uint8_t)qtype;
	buf[off++] = 0;
	buf[off++] = 1;
	return off;
}

/* The answer to a query: its question, then A records (TTL ttl) of `addrs`. */
static size_t make_answer(uint8_t *buf, const uint8_t *query, size_t qlen, const char *const *addrs, size_t n,
			  uint32_t ttl)
{
	memcpy(buf, query, qlen);
	buf[2] = 0x81;
	buf[3] = 0x80;
	buf[7] = (uint8_t)n;
	size_t off = qlen;
	for (size_t i = 0; i < n; i++) {
		uint8_t rr[16] = { 0xc0, 0x0c, 0, 1, 0, 1, (uint8_t)(ttl >> 24), (uint8_t)(ttl >> 16), (uint8_t)(ttl >> 8),
				   (uint8_t)ttl, 0, 4 };
		inet_pton(AF_INET, addrs[i], rr + 12);
		memcpy(buf + off, rr, 16);
		off += 16;
	}
	return off;
}

START_TEST(test_dns_queries)
{
	uint8_t q[512];
	struct dns_question dq;
	size_t len = make_query(q, 0x1234, "WWW.Example.COM", DNS_TYPE_A);
	ck_assert_int_eq(dns_parse_query(q, len, &dq), 0);
	ck_assert_str_eq(dq.name, "www.example.com");
	ck_assert_int_eq(dq.id, 0x1234);
	ck_assert_int_eq(dq.qtype, DNS_TYPE_A);
	ck_assert_uint_eq(dq.end, len);

	uint8_t out[512];
	ssize_t n = dns_build_error(q, &dq, DNS_RCODE_NXDOMAIN, out, sizeof out);
	ck_assert_int_eq(n, (ssize_t)len);
	ck_assert_int_eq(out[0], 0x12);
	ck_assert_int_eq(out[2], 0x81); /* QR, RD echoed */
	ck_assert_int_eq(dns_rcode(out), DNS_RCODE_NXDOMAIN);
	ck_assert_int_eq(memcmp(out + 12, q + 12, len - 12), 0);
	ck_assert_int_eq(dns_build_error(q, &dq, DNS_RCODE_NXDOMAIN, out, 20), -ENOSPC);

	/* too short for an id, or a response: no answer at all */
	ck_assert_int_eq(dns_parse_query(q, 11, &dq), -EBADMSG);
	uint8_t r[512];
	memcpy(r, q, len);
	r[2] |= 0x80;
	ck_assert_int_eq(dns_parse_query(r, len, &dq), -EBADMSG);
	/* another opcode: NOTIMP */
	memcpy(r, q, len);
	r[2] |= 0x10;
	ck_assert_int_eq(dns_parse_query(r, len, &dq), -EOPNOTSUPP);
	/* two questions, an answer record, a cut name, a label of odd bytes: FORMERR */
	memcpy(r, q, len);
	r[5] = 2;
	ck_assert_int_eq(dns_parse_query(r, len, &dq), -EPROTO);
	memcpy(r, q, len);
	r[7] = 1;
	ck_assert_int_eq(dns_parse_query(r, len, &dq), -EPROTO);
	ck_assert_int_eq(dns_parse_query(q, 16, &dq), -EPROTO);
	ck_assert_int_eq(dns_parse_query(q, len - 1, &dq), -EPROTO);
	memcpy(r, q, len);
	r[13] = '.'; /* "w.w.example.com" as one label would read as the name of another */
	ck_assert_int_eq(dns_parse_query(r, len, &dq), -EPROTO);
	/* a pointer in a query's only name must point backwards: it cannot */
	uint8_t loop[18] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1 };
	ck_assert_int_eq(dns_parse_query(loop, sizeof loop, &dq), -EPROTO);
	/* a name over 255 bytes */
	uint8_t big[600];
	memcpy(big, q, 12);
	size_t off = 12;
	for (int i = 0; i < 5; i++) {
		big[off++] = 63;
		memset(big + off, 'a', 63);
		off += 63;
	}
	big[off++] = 0;
	memset(big + off, 0, 4);
	ck_assert_int_eq(dns_parse_query(big, off + 4, &dq), -EPROTO);
}
END_TEST

START_TEST(test_dns_responses)
{
	uint8_t q[512], a[1024];
	struct dns_question dq;
	size_t qlen = make_query(q, 7, "pypi.org", DNS_TYPE_A);
	ck_assert_int_eq(dns_parse_query(q, qlen, &dq), 0);
	const char *addrs[] = { "198.18.0.7", "198.18.0.8" };
	size_t alen = make_answer(a, q, qlen, addrs, 2, 86400);
	struct dns_address got[4];
	size_t n;
	ck_assert_int_eq(dns_parse_response(a, alen, &dq, 3600, got, 4, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(got[0].family, AF_INET);
	ck_assert_int_eq(got[1].addr[3], 8);
	ck_assert_uint_eq(got[0].ttl, 3600);
	/* the TTL is clamped in the message too */
	ck_assert_int_eq(a[qlen + 6], 0);
	ck_assert_int_eq(a[qlen + 8] << 8 | a[qlen + 9], 3600);
	/* only as many as asked for */
	ck_assert_int_eq(dns_parse_response(a, alen, &dq, 3600, got, 1, &n), 0);
	ck_assert_uint_eq(n, 1);

	/* another question, a cut record, a bad length, a forward pointer */
	struct dns_question other = dq;
	strcpy(other.name, "evil.test");
	ck_assert_int_eq(dns_parse_response(a, alen, &other, 3600, got, 4, &n), -EBADMSG);
	other = dq;
	other.qtype = DNS_TYPE_AAAA;
	ck_assert_int_eq(dns_parse_response(a, alen, &other, 3600, got, 4, &n), -EBADMSG);
	ck_assert_int_eq(dns_parse_response(a, alen - 1, &dq, 3600, got, 4, &n), -EBADMSG);
	uint8_t b[1024];
	memcpy(b, a, alen);
	b[qlen + 11] = 5; /* rdlength 5 for an A record */
	ck_assert_int_eq(dns_parse_response(b, alen, &dq, 3600, got, 4, &n), -EBADMSG);
	memcpy(b, a, alen);
	b[qlen + 1] = (uint8_t)(qlen + 2); /* the record's name points past itself */
	ck_assert_int_eq(dns_parse_response(b, alen, &dq, 3600, got, 4, &n), -EBADMSG);
	memcpy(b, a, alen);
	b[2] &= 0x7f; /* not a response */
	ck_assert_int_eq(dns_parse_response(b, alen, &dq, 3600, got, 4, &n), -EBADMSG);
	/* the case of the echoed question does not matter (0x20 encoding) */
	memcpy(b, a, alen);
	b[13] = 'P';
	ck_assert_int_eq(dns_parse_response(b, alen, &dq, 3600, got, 4, &n), 0);
}
END_TEST

/* ---- the forwarder over loopback ------------------------------------------------ */

static int udp_socket(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	socklen_t len = sizeof sa;
	getsockname(fd, (struct sockaddr *)&sa, &len);
	*port = ntohs(sa.sin_port);
	return fd;
}

struct seen {
	int learned, forgotten, denied;
	char last_denied[64];
	struct dns_address addrs[8];
};

static int on_learn(void *ctx, const char *name, const struct dns_address *a, size_t n)
{
	struct seen *s = ctx;
	memcpy(s->addrs, a, n * sizeof *a);
	s->learned += (int)n;
	return 0;
}
static void on_forget(void *ctx, const struct dns_address *a) { ((struct seen *)ctx)->forgotten++; }
static void on_denied(void *ctx, const char *name)
{
	struct seen *s = ctx;
	s->denied++;
	snprintf(s->last_denied, sizeof s->last_denied, "%s", name);
}

/* Runs the forwarder until `fd` (a client or the fake upstream) is readable. */
static void pump_until(struct dns_forwarder *f, int fd)
{
	for (int i = 0; i < 200; i++) {
		struct pollfd p[4] = { { .fd = fd, .events = POLLIN } };
		int fds[3], n = dns_forwarder_fds(f, fds);
		for (int k = 0; k < n; k++)
			p[1 + k] = (struct pollfd){ .fd = fds[k], .events = POLLIN };
		ck_assert_int_ge(poll(p, (nfds_t)(1 + n), 50), 0);
		for (int k = 0; k < n; k++)
			if (p[1 + k].revents & POLLIN)
				dns_forwarder_handle(f, p[1 + k].fd, 0);
		if (p[0].revents & POLLIN)
			return;
	}
	ck_abort_msg("nothing arrived");
}

START_TEST(test_forwarder)
{
	uint16_t listen_port, up_port, client_port;
	int listen_fd = udp_socket(&listen_port), up = udp_socket(&up_port), client = udp_socket(&client_port);
	struct net_endpoint resolver = { .family = AF_INET, .addr = { 127, 0, 0, 1 }, .port = up_port };
	struct allow_entry entries[1];
	const char *why;
	ck_assert_int_eq(allow_entry_parse("*.allowed.test", &entries[0], &why), 0);
	struct net_allow allow = { .v = entries, .n = 1 }, none = { 0 };
	struct seen seen = { 0 };
	struct dns_forwarder_config c = {
		.resolvers = &resolver, .n_resolvers = 1, .allow = &allow,
		.learn = on_learn, .forget = on_forget, .denied = on_denied, .ctx = &seen,
	};
	struct dns_forwarder *f;
	wr_error e = { 0 };
	ck_assert_int_eq(dns_forwarder_new(&c, listen_fd, &f, &e), 0);
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(listen_port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint8_t q[512], buf[1024];

	/* a name the list does not allow: NXDOMAIN, and nothing asked upstream */
	size_t qlen = make_query(q, 0x4242, "evil.test", DNS_TYPE_A);
	sendto(client, q, qlen, 0, (struct sockaddr *)&to, sizeof to);
	pump_until(f, client);
	ssize_t n = recv(client, buf, sizeof buf, 0);
	ck_assert_int_eq(n, (ssize_t)qlen);
	ck_assert_int_eq(dns_rcode(buf), DNS_RCODE_NXDOMAIN);
	ck_assert_int_eq(buf[0] << 8 | buf[1], 0x4242);
	ck_assert_int_eq(seen.denied, 1);
	ck_assert_str_eq(seen.last_denied, "evil.test");
	ck_assert_int_eq(recv(up, buf, sizeof buf, MSG_DONTWAIT), -1);

	/* an allowed one: asked upstream under another id, its answer learned and relayed */
	qlen = make_query(q, 0x0101, "www.allowed.test", DNS_TYPE_A);
	sendto(client, q, qlen, 0, (struct sockaddr *)&to, sizeof to);
	pump_until(f, up);
	struct sockaddr_in from;
	socklen_t fromlen = sizeof from;
	n = recvfrom(up, buf, sizeof buf, 0, (struct sockaddr *)&from, &fromlen);
	ck_assert_int_eq(n, (ssize_t)qlen);
	ck_assert_int_eq(memcmp(buf + 2, q + 2, qlen - 2), 0);
	uint8_t answer[1024];
	const char *addrs[] = { "198.18.0.9" };
	size_t alen = make_answer(answer, buf, qlen, addrs, 1, 30);
	/* an answer from elsewhere (the client's socket) is ignored */
	sendto(client, answer, alen, 0, (struct sockaddr *)&from, fromlen);
	sendto(up, answer, alen, 0, (struct sockaddr *)&from, fromlen);
	pump_until(f, client);
	n = recv(client, buf, sizeof buf, 0);
	ck_assert_int_eq(n, (ssize_t)alen);
	ck_assert_int_eq(buf[0] << 8 | buf[1], 0x0101);
	ck_assert_int_eq(dns_rcode(buf), 0);
	ck_assert_int_eq(seen.learned, 1);
	ck_assert_int_eq(seen.addrs[0].addr[3], 9);
	ck_assert_int_eq(recv(client, buf, sizeof buf, MSG_DONTWAIT), -1);

	/* a query nobody answers: SERVFAIL once its time is up */
	qlen = make_query(q, 0x0202, "slow.allowed.test", DNS_TYPE_A);
	sendto(client, q, qlen, 0, (struct sockaddr *)&to, sizeof to);
	pump_until(f, up);
	recv(up, buf, sizeof buf, 0);
	ck_assert_int_eq(dns_forwarder_next_timeout(f, 0), DNS_FORWARD_TIMEOUT_MS);
	dns_forwarder_expire(f, DNS_FORWARD_TIMEOUT_MS);
	n = recv(client, buf, sizeof buf, 0);
	ck_assert_int_eq(n, (ssize_t)qlen);
	ck_assert_int_eq(dns_rcode(buf), DNS_RCODE_SERVFAIL);
	ck_assert_int_eq(dns_forwarder_next_timeout(f, 0), -1);

	/* a new list that no longer allows the name: its address is forgotten */
	dns_forwarder_set_allow(f, &none, 0);
	ck_assert_int_eq(seen.forgotten, 1);
	struct dns_forwarder_stats st = dns_forwarder_stats(f);
	ck_assert_uint_eq(st.queries, 3);
	ck_assert_uint_eq(st.denied, 1);
	ck_assert_uint_eq(st.allowed, 2);
	dns_forwarder_free(f);
	close(up);
	close(client);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_allow_entries_round_trip);
	tcase_add_test(tc, test_allow_names_and_ranges);
	tcase_add_test(tc, test_dns_queries);
	tcase_add_test(tc, test_dns_responses);
	tcase_add_test(tc, test_forwarder);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
