#include "config.h"
#include "oneshot-dns.h"

#include <stdio.h>

#include "clock.h"
#include "dns-forward.h"
#include "net-rules.h"

static int learn(void *ctx, const char *name, const struct dns_address *a, size_t n)
{
	struct run_dns *d = ctx;
	wr_error e = { 0 };
	int r = net_rules_learn(d->slot, a, n, &e);
	if (r < 0)
		fprintf(stderr, "warren: network: %s: %s\n", name, e.message);
	return r;
}

static void denied(void *ctx, const char *name)
{
	struct run_dns *d = ctx;
	if (d->verbose)
		fprintf(stderr, "warren: network: refused to resolve %s (not in the allowlist)\n", name);
}

int run_dns_start(struct run_dns *d, const struct policy *p, struct net_egress *n, int verbose, wr_error *e)
{
	*d = (struct run_dns){ .slot = n->slot, .verbose = verbose };
	struct dns_forwarder_config c = {
		.resolvers = n->resolvers, .n_resolvers = n->n_resolvers, .allow = &p->net.allow,
		.learn = learn, .denied = denied, .ctx = d,
	};
	int fd = n->dns_fd;
	n->dns_fd = -1;
	return dns_forwarder_new(&c, fd, &d->fwd, e);
}

size_t run_dns_pollfds(const struct run_dns *d, struct pollfd *fds)
{
	int fd[3];
	size_t n = d->fwd ? (size_t)dns_forwarder_fds(d->fwd, fd) : 0;
	for (size_t i = 0; i < n; i++)
		fds[i] = (struct pollfd){ .fd = fd[i], .events = POLLIN };
	return n;
}

void run_dns_io(struct run_dns *d, const struct pollfd *fds, size_t n)
{
	if (!d->fwd)
		return;
	uint64_t now = monotonic_ms();
	for (size_t i = 0; i < n; i++)
		if (fds[i].revents & POLLIN)
			dns_forwarder_handle(d->fwd, fds[i].fd, now);
	dns_forwarder_expire(d->fwd, now);
}

int run_dns_timeout(const struct run_dns *d, int timeout_ms)
{
	int t = d->fwd ? dns_forwarder_next_timeout(d->fwd, monotonic_ms()) : -1;
	if (t < 0)
		return timeout_ms;
	return timeout_ms < 0 || t < timeout_ms ? t : timeout_ms;
}

void run_dns_end(struct run_dns *d)
{
	if (!d->fwd)
		return;
	if (d->verbose) {
		struct dns_forwarder_stats s = dns_forwarder_stats(d->fwd);
		struct net_counters c;
		wr_error e = { 0 };
		if (net_rules_counters(d->slot, &c, &e) == 0)
			fprintf(stderr, "warren: network: %llu connections allowed, %llu packets denied, %llu bytes out, "
				"%llu in\n", (unsigned long long)c.new_connections, (unsigned long long)c.denied_packets,
				(unsigned long long)c.out_bytes, (unsigned long long)c.in_bytes);
		fprintf(stderr, "warren: network: DNS: %llu queries, %llu forwarded, %llu refused, %llu failed\n",
			(unsigned long long)s.queries, (unsigned long long)s.allowed, (unsigned long long)s.denied,
			(unsigned long long)s.failed);
	}
	dns_forwarder_free(d->fwd);
	d->fwd = NULL;
}
