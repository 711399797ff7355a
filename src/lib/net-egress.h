/* An egress sandbox's way out (network.mode "egress", warren-policy(5)):
 * a veth pair from the host into the sandbox's network namespace, a /31
 * (and /127) of the policy's pools on it, the sandbox's default route
 * through it, its firewall rules (net-rules.c) and the socket its DNS
 * forwarder (dns-forward.c) answers on. One step of its own in sandbox
 * creation: the parent calls net_egress_setup once the sandbox's
 * namespaces exist and before the sandbox runs anything.
 *
 * Everything is named after a slot: an OFD lock on byte K of
 * NET_SLOTS_LOCK_FILE, held for the sandbox's life, owns link wrnK, the
 * K-th address pair of the pool and the table's sbK objects. Whatever a
 * killed process left of a slot whose lock is free is swept by the next
 * setup (net_egress_sweep). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "policy.h"

#define NET_SLOTS_LOCK_FILE "/run/warren/net-slots.lock"
#define NET_SLOTS_MAX 65536
/* Where the sandbox's resolver listens, inside its namespace. */
#define NET_DNS_ADDRESS "127.0.0.53"
#define NET_RESOLV_CONF "nameserver " NET_DNS_ADDRESS "\noptions edns0\n"

struct net_egress {
	unsigned slot;
	int lock_fd;              /* holds the slot; -1 when nothing is set up */
	char link[16];            /* host side: wrnK */
	char egress[16];          /* the interface it leaves by */
	uint8_t host4[4], addr4[4];
	bool has6;
	uint8_t host6[16], addr6[16];
	int dns_fd;               /* UDP socket on NET_DNS_ADDRESS:53 in the sandbox; ours until taken */
	struct net_endpoint resolvers[POLICY_MAX_RESOLVERS];
	size_t n_resolvers;
	bool rules;               /* the firewall has its rules */
};

/* Sets up the sandbox whose init is `pid` (its network namespace new and
 * empty) per p->net. Root only. On failure nothing is left. */
int net_egress_setup(const struct policy *p, pid_t pid, struct net_egress *n, wr_error *e);
/* Removes what setup made and releases the slot; the link goes with the
 * sandbox's namespace (the kernel removes it a moment after init is gone).
 * Safe on a zeroed or torn-down one (lock_fd -1). */
int net_egress_teardown(struct net_egress *n, wr_error *e);
/* Removes the links, addresses and rules of every slot whose owner is
 * gone, and the table when nothing is left in it (setup calls it;
 * warrend at start). Returns how many slots. */
int net_egress_sweep(wr_error *e);
/* Kept across a restart of warrend (net-egress-keep.c): what the record
 * says of it (JSON null without egress), and taking it back with the two
 * fds the sandbox's init held (`held`: the slot lock, the resolver
 * socket; taken, set to -1, on success), each proven to be the record's:
 * the lock file's byte of its slot, a UDP socket on NET_DNS_ADDRESS:53 in
 * the network namespace of init `pid`, its link still there. */
json_t *net_egress_save(const struct net_egress *n);
int net_egress_adopt(const json_t *saved, pid_t pid, int *held, int n_held, struct net_egress *n, wr_error *e);
/* One line for -v: "wrn3 10.231.0.7 via eth0 (IPv6 …)". */
void net_egress_describe(const struct net_egress *n, char *buf, size_t len);
/* The rules' view of the sandbox (for net_rules_update after a new allowlist). */
struct net_rules_sandbox;
void net_egress_rules_view(const struct net_egress *n, const struct policy_network *net, struct net_rules_sandbox *out);
