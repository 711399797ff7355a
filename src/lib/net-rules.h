/* Egress firewall rules in warren's own nftables table, `inet warren`,
 * through libnftables' JSON API. Nothing outside that table is touched.
 *
 * Shared by every egress sandbox of the host (warren runs and warrend
 * alike), under a lock file: the table with its base chains (input: a
 * sandbox's link reaches no host address; forward: each link's traffic
 * goes to its own chain; postrouting: masquerade) is created with the
 * first sandbox and deleted with the last. Per sandbox (slot K): chains
 * sbK-out and sbK-in, the sets of addresses its DNS answers allowed
 * (sbK-dns4, sbK-dns6, with timeouts) and its counters. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "dns-wire.h"
#include "error.h"
#include "policy.h"

#define NET_RULES_TABLE "warren"
#define NET_RULES_LOCK_FILE "/run/warren/net.lock"
/* What the firewall keeps an address past its DNS TTL for: a connection
 * opened just as the answer expires still gets through. */
#define NET_RULES_DNS_GRACE_S 60

/* One sandbox as the rules see it. */
struct net_rules_sandbox {
	unsigned slot;
	char link[16];             /* host side of its veth pair */
	char egress[16];           /* the only interface its traffic may leave by */
	uint8_t addr4[4];          /* its own addresses (anything else is spoofed) */
	bool has6;
	uint8_t addr6[16];
	const struct policy_network *net;   /* allowlist, pools, connection limit */
};

struct net_counters {
	uint64_t out_bytes, out_packets;   /* leaving the sandbox, allowed */
	uint64_t in_bytes, in_packets;     /* arriving for it (replies) */
	uint64_t new_connections;          /* allowed new connections (first packets) */
	uint64_t denied_packets, denied_bytes; /* refused or dropped */
};

struct nft_ctx;
/* One libnftables context per process (creating one costs ~1 ms). */
struct nft_ctx *net_rules_context(wr_error *e);

/* The host-wide lock every change to the table's shared parts is made
 * under (add, remove, enable_forwarding, a sweep): an fd to close. */
int net_rules_lock(wr_error *e);

/* Under the lock: creates the table if it is missing and adds the
 * sandbox's chains, sets and counters, in one transaction each. */
int net_rules_add(const struct net_rules_sandbox *sb, wr_error *e);
/* Replaces the sandbox's rules (a new allowlist, live); established
 * connections go on, new ones follow the new list. */
int net_rules_update(const struct net_rules_sandbox *sb, wr_error *e);
/* Under the lock: removes everything of slot K; the table goes with the last sandbox
 * (and so does the forwarding warren turned on for an egress interface). */
int net_rules_remove(unsigned slot, wr_error *e);
/* Lets addresses through for `ttl` seconds (plus the grace). */
int net_rules_learn(unsigned slot, const struct dns_address *a, size_t n, wr_error *e);
/* Takes one back (a live allowlist no longer allows its name). */
int net_rules_forget(unsigned slot, const struct dns_address *a, wr_error *e);
/* Takes back every address learned (a sandbox taken back by a restarted
 * warrend: what its old forwarder let through, no PATCH could take back). */
int net_rules_forget_all(unsigned slot, wr_error *e);
int net_rules_counters(unsigned slot, struct net_counters *c, wr_error *e);
/* Every sandbox's counters in one listing (warrend's /metrics): a
 * malloc'd array, none when there is no table. */
struct net_slot_counters {
	unsigned slot;
	struct net_counters c;
};
int net_rules_counters_all(struct net_slot_counters **out, size_t *n, wr_error *e);
/* Under the lock: deletes the table when no sandbox has anything in it
 * any more (what a process killed while it removed its last sandbox
 * left), turning off the forwarding warren turned on. */
int net_rules_remove_if_unused(wr_error *e);

/* Turns on IPv4 forwarding on `ifname` for the sandboxes' replies (with
 * the table present); when warren is the one that turned
 * it on, the table's forward chain drops whatever else that would let
 * through, and the last sandbox turns it off again. */
int net_rules_enable_forwarding(const char *ifname, wr_error *e);

/* Under the lock: the slots that have chains in the table (for sweeps),
 * a malloc'd array. */
int net_rules_slots(unsigned **slots, size_t *n, wr_error *e);
