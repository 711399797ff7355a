/* warren run's host for an egress sandbox's DNS forwarder (dns-forward.c):
 * its fds join the wait loop's poll, and the firewall learns what allowed
 * names resolve to (net-rules.c). A zeroed run_dns (no egress) does
 * nothing. */
#pragma once
#include <poll.h>
#include <stddef.h>

#include "error.h"
#include "net-egress.h"
#include "policy.h"

struct dns_forwarder;

struct run_dns {
	struct dns_forwarder *fwd;
	unsigned slot;
	int verbose;
};

/* Takes n->dns_fd. */
int run_dns_start(struct run_dns *d, const struct policy *p, struct net_egress *n, int verbose, wr_error *e);
/* Adds its fds (at most RUN_DNS_MAX_FDS) to fds: how many. */
#define RUN_DNS_MAX_FDS 3
size_t run_dns_pollfds(const struct run_dns *d, struct pollfd *fds);
/* After poll: answers what came on them. */
void run_dns_io(struct run_dns *d, const struct pollfd *fds, size_t n);
/* The poll timeout that also wakes for the forwarder's deadlines. */
int run_dns_timeout(const struct run_dns *d, int timeout_ms);
/* With -v: what the sandbox's network did. Before the sandbox is released. */
void run_dns_end(struct run_dns *d);
