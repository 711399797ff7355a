/* The egress allowlist (warren-policy(5) network.allow): address ranges
 * with an optional port, and domain names, exact or "*." wildcards. Pure:
 * parsing, formatting, matching a DNS name, and whether one list stays
 * within another (a run or a session may narrow a policy's list, never
 * widen it). Also the address ranges a sandbox never reaches. */
#pragma once
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ALLOW_NAME_MAX 253

enum allow_kind {
	ALLOW_CIDR,      /* an address range, IPv4 or IPv6 */
	ALLOW_NAME,      /* exactly this DNS name */
	ALLOW_WILDCARD,  /* "*.suffix": every name below suffix, not suffix itself */
};

/* An IPv4 or IPv6 network: `family` AF_INET (the address in addr[0..3])
 * or AF_INET6; host bits are zero. */
struct net_cidr {
	int family;
	uint8_t addr[16];
	unsigned prefix;
};

struct allow_entry {
	enum allow_kind kind;
	struct net_cidr cidr;     /* ALLOW_CIDR */
	uint16_t port;            /* ALLOW_CIDR: 0 = every port and protocol; else TCP and UDP to it */
	char name[ALLOW_NAME_MAX + 1]; /* names: lower case, no trailing dot; a wildcard's suffix */
};

struct net_allow {
	struct allow_entry *v;
	size_t n;
};

/* "198.18.0.0/15", "198.18.0.1:80", "2001:db8::/32", "[2001:db8::1]:443",
 * "pypi.org", "*.githubusercontent.com". 0, or -EINVAL with *why set to a
 * static explanation. Ranges a sandbox never reaches are refused here
 * (net_never_reason). */
int allow_entry_parse(const char *text, struct allow_entry *out, const char **why);
/* Back to the text it was parsed from (normalized). */
void allow_entry_format(const struct allow_entry *a, char *buf, size_t len);

/* "10.0.0.0/8" or "fd00::/8" (prefix optional: a single address). 0 or
 * -EINVAL with *why. */
int net_cidr_parse(const char *text, struct net_cidr *out, const char **why);
void net_cidr_format(const struct net_cidr *c, char *buf, size_t len);
/* Whether `outer` contains all of `inner` (same family). */
bool net_cidr_contains(const struct net_cidr *outer, const struct net_cidr *inner);
bool net_cidr_overlaps(const struct net_cidr *a, const struct net_cidr *b);
/* Whether `addr` (4 or 16 bytes of `family`) lies in c. */
bool net_cidr_has_addr(const struct net_cidr *c, int family, const void *addr);

/* A DNS name as the allowlist compares it: lower case, no trailing dot;
 * -EINVAL when it is not a name (empty label, over 253, bad character). */
int allow_name_normalize(const char *in, char *out, size_t len);
/* Whether the normalized name is allowed by an entry of the list. */
bool net_allow_name(const struct net_allow *list, const char *name);
/* Whether `e` is within some entry of `outer` (for narrowing). */
bool net_allow_covers(const struct net_allow *outer, const struct allow_entry *e);

/* Ranges no sandbox ever reaches, whatever the allowlist says: cloud
 * metadata and link-local, loopback, "this network", multicast and
 * reserved. NULL-terminated texts, parsed by net_cidr_parse. */
extern const char *const net_never_ranges[];
/* Private ranges: reachable only through an allowlist entry inside one
 * (an address a domain resolved to there is dropped, so an allowed name
 * cannot point a sandbox into the host's network). */
extern const char *const net_private_ranges[];
/* Why `c` may never be allowed (it lies inside a never range), or NULL. */
const char *net_never_reason(const struct net_cidr *c);
/* Whether c lies inside one private range. */
bool net_cidr_is_private(const struct net_cidr *c);
