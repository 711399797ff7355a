#include "config.h"
#include "dns-forward.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cleanup.h"

#define MAX_MSG 4096

struct pending {
	bool used;
	uint16_t upstream_id;
	uint16_t client_id;
	struct sockaddr_storage client;
	socklen_t client_len;
	struct dns_question q;
	uint8_t query_head[DNS_HEADER_LEN]; /* for a SERVFAIL built later */
	uint8_t question[DNS_NAME_TEXT_MAX + 6];
	uint64_t deadline;
};

struct learned {
	char name[DNS_NAME_TEXT_MAX];
	struct dns_address a;
	uint64_t expires;
};

struct dns_forwarder {
	struct dns_forwarder_config c;
	struct net_endpoint resolvers[POLICY_MAX_RESOLVERS];
	int listen_fd, up4, up6;
	unsigned next_resolver;
	struct pending pending[DNS_FORWARD_MAX_PENDING];
	struct learned learned[DNS_FORWARD_MAX_LEARNED];
	struct dns_forwarder_stats stats;
};

static int upstream_socket(int family, wr_error *e)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return wr_error_set(e, errno, "socket for the upstream resolver");
	return fd;
}

int dns_forwarder_new(const struct dns_forwarder_config *c, int listen_fd, struct dns_forwarder **out, wr_error *e)
{
	_cleanup_close_ int lfd = listen_fd;
	if (c->n_resolvers == 0 || c->n_resolvers > POLICY_MAX_RESOLVERS)
		return wr_error_set(e, EINVAL, "the DNS forwarder needs 1 to %d upstream resolvers", POLICY_MAX_RESOLVERS);
	struct dns_forwarder *f = calloc(1, sizeof *f);
	if (!f)
		return wr_error_set(e, ENOMEM, "DNS forwarder");
	f->c = *c;
	f->up4 = f->up6 = -1;
	memcpy(f->resolvers, c->resolvers, c->n_resolvers * sizeof *c->resolvers);
	f->c.resolvers = f->resolvers;
	int flags = fcntl(lfd, F_GETFL);
	if (flags < 0 || fcntl(lfd, F_SETFL, flags | O_NONBLOCK) < 0) {
		free(f);
		return wr_error_set(e, errno, "the DNS listening socket");
	}
	f->listen_fd = TAKE_FD(lfd);
	for (size_t i = 0; i < c->n_resolvers; i++) {
		int *fd = c->resolvers[i].family == AF_INET ? &f->up4 : &f->up6;
		if (*fd < 0 && (*fd = upstream_socket(c->resolvers[i].family, e)) < 0) {
			int r = *fd;
			*fd = -1;
			dns_forwarder_free(f);
			return r;
		}
	}
	*out = f;
	return 0;
}

void dns_forwarder_free(struct dns_forwarder *f)
{
	if (!f)
		return;
	closep(&f->listen_fd);
	closep(&f->up4);
	closep(&f->up6);
	free(f);
}

int dns_forwarder_fds(const struct dns_forwarder *f, int fds[3])
{
	int n = 0;
	fds[n++] = f->listen_fd;
	if (f->up4 >= 0)
		fds[n++] = f->up4;
	if (f->up6 >= 0)
		fds[n++] = f->up6;
	return n;
}

struct dns_forwarder_stats dns_forwarder_stats(const struct dns_forwarder *f)
{
	return f->stats;
}

static void reply(struct dns_forwarder *f, const void *msg, size_t len, const struct sockaddr *to, socklen_t tolen)
{
	(void)!sendto(f->listen_fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL, to, tolen);
}

static void reply_error(struct dns_forwarder *f, const uint8_t *query, const struct dns_question *q, int rcode,
			const struct sockaddr *to, socklen_t tolen)
{
	uint8_t out[DNS_HEADER_LEN + DNS_NAME_TEXT_MAX + 6];
	ssize_t n = dns_build_error(query, q, rcode, out, sizeof out);
	if (n > 0)
		reply(f, out, (size_t)n, to, tolen);
}

/* The answer to a query we forwarded, from what we kept of it. */
static void reply_pending_error(struct dns_forwarder *f, const struct pending *p, int rcode)
{
	uint8_t query[DNS_HEADER_LEN + sizeof p->question];
	memcpy(query, p->query_head, DNS_HEADER_LEN);
	memcpy(query + DNS_HEADER_LEN, p->question, p->q.end - DNS_HEADER_LEN);
	reply_error(f, query, &p->q, rcode, (const struct sockaddr *)&p->client, p->client_len);
}

static struct pending *pending_slot(struct dns_forwarder *f, uint64_t now_ms)
{
	struct pending *oldest = &f->pending[0];
	for (size_t i = 0; i < DNS_FORWARD_MAX_PENDING; i++) {
		if (!f->pending[i].used)
			return &f->pending[i];
		if (f->pending[i].deadline < oldest->deadline)
			oldest = &f->pending[i];
	}
	/* full: the oldest gives way (its client will ask again) */
	f->stats.failed++;
	return oldest;
}

static uint16_t fresh_id(const struct dns_forwarder *f)
{
	for (;;) {
		uint16_t id;
		if (getrandom(&id, sizeof id, 0) != sizeof id)
			id = (uint16_t)rand();
		bool taken = false;
		for (size_t i = 0; i < DNS_FORWARD_MAX_PENDING && !taken; i++)
			taken = f->pending[i].used && f->pending[i].upstream_id == id;
		if (!taken)
			return id;
	}
}

static void forward(struct dns_forwarder *f, uint8_t *msg, size_t len, const struct dns_question *q,
		    const struct sockaddr_storage *from, socklen_t fromlen, uint64_t now_ms)
{
	const struct net_endpoint *up = &f->resolvers[f->next_resolver++ % f->c.n_resolvers];
	struct pending *p = pending_slot(f, now_ms);
	*p = (struct pending){
		.used = true, .upstream_id = fresh_id(f), .client_id = q->id, .client = *from, .client_len = fromlen,
		.q = *q, .deadline = now_ms + DNS_FORWARD_TIMEOUT_MS,
	};
	memcpy(p->query_head, msg, DNS_HEADER_LEN);
	memcpy(p->question, msg + DNS_HEADER_LEN, q->end - DNS_HEADER_LEN);
	msg[0] = (uint8_t)(p->upstream_id >> 8);
	msg[1] = (uint8_t)p->upstream_id;
	struct sockaddr_storage to = { 0 };
	socklen_t tolen;
	if (up->family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&to;
		in->sin_family = AF_INET;
		in->sin_port = htons(up->port);
		memcpy(&in->sin_addr, up->addr, 4);
		tolen = sizeof *in;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&to;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(up->port);
		memcpy(&in6->sin6_addr, up->addr, 16);
		tolen = sizeof *in6;
	}
	int fd = up->family == AF_INET ? f->up4 : f->up6;
	if (sendto(fd, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&to, tolen) < 0) {
		p->used = false;
		f->stats.failed++;
		reply_error(f, msg, q, DNS_RCODE_SERVFAIL, (const struct sockaddr *)from, fromlen);
		return;
	}
	f->stats.allowed++;
}

static void on_query(struct dns_forwarder *f, uint8_t *msg, size_t len, const struct sockaddr_storage *from,
		     socklen_t fromlen, uint64_t now_ms)
{
	struct dns_question q;
	int r = dns_parse_query(msg, len, &q);
	f->stats.queries++;
	if (r == -EBADMSG) {
		f->stats.failed++;
		return;
	}
	if (r < 0) {
		f->stats.failed++;
		reply_error(f, msg, &q, r == -EOPNOTSUPP ? DNS_RCODE_NOTIMP : DNS_RCODE_FORMERR,
			    (const struct sockaddr *)from, fromlen);
		return;
	}
	if (!net_allow_name(f->c.allow, q.name)) {
		f->stats.denied++;
		if (f->c.denied)
			f->c.denied(f->c.ctx, q.name);
		reply_error(f, msg, &q, DNS_RCODE_NXDOMAIN, (const struct sockaddr *)from, fromlen);
		return;
	}
	forward(f, msg, len, &q, from, fromlen, now_ms);
}

/* Keeps what each allowed name resolved to, for set_allow. */
static void remember(struct dns_forwarder *f, const char *name, const struct dns_address *a, size_t n, uint64_t now_ms)
{
	for (size_t i = 0; i < n; i++) {
		struct learned *slot = NULL, *oldest = &f->learned[0];
		for (size_t k = 0; k < DNS_FORWARD_MAX_LEARNED && !slot; k++) {
			struct learned *l = &f->learned[k];
			if (l->expires > now_ms && !strcmp(l->name, name) && l->a.family == a[i].family &&
			    !memcmp(l->a.addr, a[i].addr, sizeof l->a.addr))
				slot = l;
			else if (l->expires <= now_ms)
				slot = l;
			else if (l->expires < oldest->expires)
				oldest = l;
		}
		if (!slot)
			slot = oldest;
		memcpy(slot->name, name, sizeof slot->name);
		slot->a = a[i];
		slot->expires = now_ms + (uint64_t)a[i].ttl * 1000 + 1;
	}
}

static void on_answer(struct dns_forwarder *f, uint8_t *msg, size_t len, const struct sockaddr_storage *from,
		      uint64_t now_ms)
{
	if (len < DNS_HEADER_LEN)
		return;
	uint16_t id = (uint16_t)(msg[0] << 8 | msg[1]);
	struct pending *p = NULL;
	for (size_t i = 0; i < DNS_FORWARD_MAX_PENDING && !p; i++)
		if (f->pending[i].used && f->pending[i].upstream_id == id)
			p = &f->pending[i];
	/* only from a resolver we asked, to a question we asked */
	bool known = false;
	for (size_t i = 0; p && i < f->c.n_resolvers && !known; i++) {
		const struct net_endpoint *r = &f->resolvers[i];
		if (r->family == AF_INET && from->ss_family == AF_INET) {
			const struct sockaddr_in *in = (const struct sockaddr_in *)from;
			known = !memcmp(&in->sin_addr, r->addr, 4) && ntohs(in->sin_port) == r->port;
		} else if (r->family == AF_INET6 && from->ss_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)from;
			known = !memcmp(&in6->sin6_addr, r->addr, 16) && ntohs(in6->sin6_port) == r->port;
		}
	}
	if (!known)
		return;
	struct dns_address addrs[64];
	size_t n = 0;
	if (dns_parse_response(msg, len, &p->q, DNS_FORWARD_MAX_TTL, addrs, 64, &n) < 0)
		return; /* not an answer to it: a later one may be, or the deadline */
	p->used = false;
	/* a name allowed when asked may have been taken off the list since */
	if (!net_allow_name(f->c.allow, p->q.name)) {
		f->stats.denied++;
		reply_pending_error(f, p, DNS_RCODE_NXDOMAIN);
		return;
	}
	if (n && f->c.learn && f->c.learn(f->c.ctx, p->q.name, addrs, n) < 0) {
		f->stats.failed++;
		reply_pending_error(f, p, DNS_RCODE_SERVFAIL);
		return;
	}
	remember(f, p->q.name, addrs, n, now_ms);
	msg[0] = (uint8_t)(p->client_id >> 8);
	msg[1] = (uint8_t)p->client_id;
	reply(f, msg, len, (const struct sockaddr *)&p->client, p->client_len);
}

void dns_forwarder_handle(struct dns_forwarder *f, int fd, uint64_t now_ms)
{
	uint8_t msg[MAX_MSG];
	for (int i = 0; i < 64; i++) { /* a bounded batch: others get their turn */
		struct sockaddr_storage from;
		socklen_t fromlen = sizeof from;
		ssize_t n = recvfrom(fd, msg, sizeof msg, MSG_DONTWAIT | MSG_TRUNC, (struct sockaddr *)&from, &fromlen);
		if (n < 0)
			return;
		if ((size_t)n > sizeof msg) {
			f->stats.failed++;
			continue;
		}
		if (fd == f->listen_fd)
			on_query(f, msg, (size_t)n, &from, fromlen, now_ms);
		else
			on_answer(f, msg, (size_t)n, &from, now_ms);
	}
}

int dns_forwarder_next_timeout(const struct dns_forwarder *f, uint64_t now_ms)
{
	uint64_t next = UINT64_MAX;
	for (size_t i = 0; i < DNS_FORWARD_MAX_PENDING; i++)
		if (f->pending[i].used && f->pending[i].deadline < next)
			next = f->pending[i].deadline;
	if (next == UINT64_MAX)
		return -1;
	return next <= now_ms ? 0 : (int)(next - now_ms);
}

void dns_forwarder_expire(struct dns_forwarder *f, uint64_t now_ms)
{
	for (size_t i = 0; i < DNS_FORWARD_MAX_PENDING; i++) {
		struct pending *p = &f->pending[i];
		if (!p->used || p->deadline > now_ms)
			continue;
		p->used = false;
		f->stats.failed++;
		reply_pending_error(f, p, DNS_RCODE_SERVFAIL);
	}
}

void dns_forwarder_set_allow(struct dns_forwarder *f, const struct net_allow *allow, uint64_t now_ms)
{
	f->c.allow = allow;
	for (size_t i = 0; i < DNS_FORWARD_MAX_LEARNED; i++) {
		struct learned *l = &f->learned[i];
		if (l->expires <= now_ms || net_allow_name(allow, l->name))
			continue;
		/* still there through another name the new list allows? */
		bool kept = false;
		for (size_t k = 0; k < DNS_FORWARD_MAX_LEARNED && !kept; k++) {
			const struct learned *o = &f->learned[k];
			kept = k != i && o->expires > now_ms && o->a.family == l->a.family &&
			       !memcmp(o->a.addr, l->a.addr, sizeof o->a.addr) && net_allow_name(allow, o->name);
		}
		if (!kept && f->c.forget)
			f->c.forget(f->c.ctx, &l->a);
		l->expires = 0;
	}
}
