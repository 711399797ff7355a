/* The resolver of one egress sandbox: a UDP socket inside the sandbox's
 * network namespace (its /etc/resolv.conf names it) that answers allowed
 * names by asking the upstream resolvers and everything else with
 * NXDOMAIN. The addresses an allowed name resolves to are handed to the
 * `learn` callback (which opens the firewall for them) before the answer
 * goes back, so the connection that follows is let through.
 *
 * No HTTP, no loop of its own: the host (warren run's wait loop, warrend's
 * event loop) polls the fds it lists and calls dns_forwarder_handle when
 * one is readable, and dns_forwarder_expire when the timeout it gives has
 * passed. Nothing here blocks. */
#pragma once
#include <stdint.h>

#include "dns-wire.h"
#include "error.h"
#include "net-allow.h"
#include "policy.h"

/* An answer's TTLs are clamped to this (the firewall keeps an address a
 * little longer, net-rules.c), and a query unanswered after
 * DNS_FORWARD_TIMEOUT_MS gets SERVFAIL. */
#define DNS_FORWARD_MAX_TTL 3600
#define DNS_FORWARD_TIMEOUT_MS 4000
/* Per sandbox (about 100 KB with the learned table): queries in flight
 * (the oldest gives way), and what allowed names resolved to (for a new
 * allowlist to take back). */
#define DNS_FORWARD_MAX_PENDING 64
#define DNS_FORWARD_MAX_LEARNED 256

struct dns_forwarder_config {
	const struct net_endpoint *resolvers;  /* copied */
	size_t n_resolvers;
	const struct net_allow *allow;         /* borrowed: must outlive the forwarder (or set_allow) */
	/* The addresses `name` resolved to, before the answer is sent; a
	 * negative return answers SERVFAIL instead (the firewall could not be
	 * opened, so the addresses would not work). */
	int (*learn)(void *ctx, const char *name, const struct dns_address *a, size_t n);
	/* An address no allowed name resolves to any more (after
	 * dns_forwarder_set_allow): close the firewall for it. May be NULL. */
	void (*forget)(void *ctx, const struct dns_address *a);
	/* A name refused (NXDOMAIN), for logs and counters. May be NULL. */
	void (*denied)(void *ctx, const char *name);
	void *ctx;
};

struct dns_forwarder_stats {
	uint64_t queries;      /* queries read from the sandbox */
	uint64_t allowed;      /* forwarded upstream */
	uint64_t denied;       /* answered NXDOMAIN: name not allowed */
	uint64_t failed;       /* answered SERVFAIL or FORMERR, or dropped */
};

struct dns_forwarder;

/* Takes `listen_fd` (a bound UDP socket, any namespace) and opens the
 * upstream sockets in the caller's namespace. */
int dns_forwarder_new(const struct dns_forwarder_config *c, int listen_fd, struct dns_forwarder **out, wr_error *e);
void dns_forwarder_free(struct dns_forwarder *f);
/* The fds to poll for input (at most 3): their count. */
int dns_forwarder_fds(const struct dns_forwarder *f, int fds[3]);
/* Reads what `fd` has (all of it, without blocking) and answers. */
void dns_forwarder_handle(struct dns_forwarder *f, int fd, uint64_t now_ms);
/* Milliseconds until the next query times out, or -1 when none waits. */
int dns_forwarder_next_timeout(const struct dns_forwarder *f, uint64_t now_ms);
/* Answers SERVFAIL to queries that waited too long. */
void dns_forwarder_expire(struct dns_forwarder *f, uint64_t now_ms);
/* A new allowlist (borrowed): later queries follow it, and the addresses
 * learned only from names it no longer allows are forgotten. */
void dns_forwarder_set_allow(struct dns_forwarder *f, const struct net_allow *allow, uint64_t now_ms);
struct dns_forwarder_stats dns_forwarder_stats(const struct dns_forwarder *f);
