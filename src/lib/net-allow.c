#include "config.h"
#include "net-allow.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

const char *const net_never_ranges[] = {
	"0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
	"::/128", "::1/128", "::ffff:0:0/96", "fe80::/10", "ff00::/8", NULL,
};
const char *const net_private_ranges[] = {
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7", NULL,
};

static size_t addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

/* Zero (or test) the bits past the prefix. */
static bool host_bits_clear(const struct net_cidr *c)
{
	for (unsigned bit = c->prefix; bit < addr_len(c->family) * 8; bit++)
		if (c->addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

int net_cidr_parse(const char *text, struct net_cidr *out, const char **why)
{
	char buf[64];
	*out = (struct net_cidr){ 0 };
	size_t len = strlen(text);
	if (len == 0 || len >= sizeof buf) {
		*why = "is not an address or a network like 198.51.100.0/24";
		return -EINVAL;
	}
	memcpy(buf, text, len + 1);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, out->addr) == 1)
		out->family = AF_INET6;
	else {
		*why = "is not an address or a network like 198.51.100.0/24";
		return -EINVAL;
	}
	unsigned max = (unsigned)addr_len(out->family) * 8;
	out->prefix = max;
	if (slash) {
		const char *p = slash + 1;
		unsigned v = 0;
		if (!*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 3 || (p[0] == '0' && p[1])) {
			*why = "has a prefix length that is not a number";
			return -EINVAL;
		}
		v = (unsigned)atoi(p);
		if (v > max) {
			*why = out->family == AF_INET ? "has a prefix length over 32" : "has a prefix length over 128";
			return -EINVAL;
		}
		out->prefix = v;
	}
	if (!host_bits_clear(out)) {
		*why = "has bits set past its prefix length (write the network's first address)";
		return -EINVAL;
	}
	return 0;
}

void net_cidr_format(const struct net_cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(c->family, c->addr, a, sizeof a);
	if (c->prefix == addr_len(c->family) * 8)
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, c->prefix);
}

static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, bytes))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool net_cidr_has_addr(const struct net_cidr *c, int family, const void *addr)
{
	return c->family == family && prefix_equal(c->addr, addr, c->prefix);
}

bool net_cidr_contains(const struct net_cidr *outer, const struct net_cidr *inner)
{
	return outer->family == inner->family && outer->prefix <= inner->prefix &&
	       prefix_equal(outer->addr, inner->addr, outer->prefix);
}

bool net_cidr_overlaps(const struct net_cidr *a, const struct net_cidr *b)
{
	return net_cidr_contains(a, b) || net_cidr_contains(b, a);
}

static bool inside_one_of(const struct net_cidr *c, const char *const *ranges, const char **which)
{
	for (const char *const *r = ranges; *r; r++) {
		struct net_cidr range;
		const char *why;
		if (net_cidr_parse(*r, &range, &why) == 0 && net_cidr_contains(&range, c)) {
			if (which)
				*which = *r;
			return true;
		}
	}
	return false;
}

const char *net_never_reason(const struct net_cidr *c)
{
	const char *range;
	if (!inside_one_of(c, net_never_ranges, &range))
		return NULL;
	if (!strcmp(range, "169.254.0.0/16") || !strcmp(range, "fe80::/10"))
		return "is link-local (cloud metadata services live there): never reachable from a sandbox";
	if (!strcmp(range, "127.0.0.0/8") || !strcmp(range, "::1/128"))
		return "is loopback: a sandbox's loopback is its own";
	return "is not a unicast destination a sandbox may reach";
}

bool net_cidr_is_private(const struct net_cidr *c)
{
	return inside_one_of(c, net_private_ranges, NULL);
}

int allow_name_normalize(const char *in, char *out, size_t len)
{
	size_t n = strlen(in);
	if (n && in[n - 1] == '.')
		n--;
	if (n == 0 || n > ALLOW_NAME_MAX || n + 1 > len)
		return -EINVAL;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c == '.') {
			if (label == 0)
				return -EINVAL;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63)
				return -EINVAL;
		} else {
			return -EINVAL;
		}
		out[i] = c;
	}
	if (label == 0)
		return -EINVAL;
	out[n] = '\0';
	return 0;
}

/* "host:port" with host an IPv4 network or "[v6net]:port": splits off the port. */
static int split_port(const char *text, char *host, size_t len, uint16_t *port, const char **why)
{
	const char *colon;
	*port = 0;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || (close[1] && close[1] != ':')) {
			*why = "has a '[' without a matching ']:PORT'";
			return -EINVAL;
		}
		if ((size_t)(close - text - 1) >= len) {
			*why = "is too long";
			return -EINVAL;
		}
		memcpy(host, text + 1, (size_t)(close - text - 1));
		host[close - text - 1] = '\0';
		colon = close[1] ? close + 1 : NULL;
	} else {
		colon = strchr(text, ':');
		/* a second ':' means an IPv6 address without brackets: no port */
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;
		size_t hl = colon ? (size_t)(colon - text) : strlen(text);
		if (hl >= len) {
			*why = "is too long";
			return -EINVAL;
		}
		memcpy(host, text, hl);
		host[hl] = '\0';
	}
	if (colon) {
		const char *p = colon + 1;
		if (!*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5 || atoi(p) < 1 || atoi(p) > 65535) {
			*why = "has a port that is not a number from 1 to 65535";
			return -EINVAL;
		}
		*port = (uint16_t)atoi(p);
	}
	return 0;
}

int allow_entry_parse(const char *text, struct allow_entry *out, const char **why)
{
	char host[ALLOW_NAME_MAX + 8];
	uint16_t port;
	*out = (struct allow_entry){ 0 };
	if (split_port(text, host, sizeof host, &port, why) < 0)
		return -EINVAL;
	bool numeric = host[0] && strspn(host, "0123456789abcdefABCDEF.:/") == strlen(host) &&
		       (strchr(host, ':') || strspn(host, "0123456789./") == strlen(host));
	if (numeric) {
		if (net_cidr_parse(host, &out->cidr, why) < 0)
			return -EINVAL;
		const char *never = net_never_reason(&out->cidr);
		if (never) {
			*why = never;
			return -EINVAL;
		}
		out->kind = ALLOW_CIDR;
		out->port = port;
		return 0;
	}
	if (port) {
		*why = "names a domain with a port: ports go with addresses (a domain allows every port)";
		return -EINVAL;
	}
	const char *name = host;
	out->kind = ALLOW_NAME;
	if (!strncmp(host, "*.", 2)) {
		out->kind = ALLOW_WILDCARD;
		name = host + 2;
	}
	if (strchr(name, '*')) {
		*why = "has a '*' other than a leading \"*.\"";
		return -EINVAL;
	}
	if (allow_name_normalize(name, out->name, sizeof out->name) < 0) {
		*why = "is not an address, a network or a domain name (letters, digits, '-' and '_' in "
		       "dot-separated labels)";
		return -EINVAL;
	}
	if (out->kind == ALLOW_WILDCARD && !strchr(out->name, '.')) {
		*why = "is a wildcard over a whole top-level domain";
		return -EINVAL;
	}
	return 0;
}

void allow_entry_format(const struct allow_entry *a, char *buf, size_t len)
{
	char c[64];
	switch (a->kind) {
	case ALLOW_CIDR:
		net_cidr_format(&a->cidr, c, sizeof c);
		if (!a->port)
			snprintf(buf, len, "%s", c);
		else if (a->cidr.family == AF_INET6)
			snprintf(buf, len, "[%s]:%u", c, a->port);
		else
			snprintf(buf, len, "%s:%u", c, a->port);
		break;
	case ALLOW_NAME:
		snprintf(buf, len, "%s", a->name);
		break;
	case ALLOW_WILDCARD:
		snprintf(buf, len, "*.%s", a->name);
		break;
	}
}

/* Whether `name` is a proper subdomain of `suffix` (a.b.c of b.c). */
static bool below(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);
	return n > s + 1 && name[n - s - 1] == '.' && !strcmp(name + n - s, suffix);
}

static bool entry_allows_name(const struct allow_entry *a, const char *name)
{
	if (a->kind == ALLOW_NAME)
		return !strcmp(a->name, name);
	if (a->kind == ALLOW_WILDCARD)
		return below(name, a->name);
	return false;
}

bool net_allow_name(const struct net_allow *list, const char *name)
{
	for (size_t i = 0; list && i < list->n; i++)
		if (entry_allows_name(&list->v[i], name))
			return true;
	return false;
}

static bool entry_covers(const struct allow_entry *outer, const struct allow_entry *e)
{
	switch (e->kind) {
	case ALLOW_CIDR:
		return outer->kind == ALLOW_CIDR && net_cidr_contains(&outer->cidr, &e->cidr) &&
		       (outer->port == 0 || outer->port == e->port);
	case ALLOW_NAME:
		return entry_allows_name(outer, e->name);
	case ALLOW_WILDCARD:
		return outer->kind == ALLOW_WILDCARD && (!strcmp(outer->name, e->name) || below(e->name, outer->name));
	}
	return false;
}

bool net_allow_covers(const struct net_allow *outer, const struct allow_entry *e)
{
	for (size_t i = 0; outer && i < outer->n; i++)
		if (entry_covers(&outer->v[i], e))
			return true;
	return false;
}
