/* The "network" section of a policy (warren-policy(5)): the mode, and for
 * egress the allowlist, the address pools, the egress interface, the
 * upstream resolvers and the limits. Narrowing by a request is here too. */
#include "config.h"
#include "policy-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "units.h"

#define DEFAULT_POOL "10.231.0.0/16"
#define MAX_ALLOW 1024
#define MAX_CONNECTIONS 1000000
#define MIN_BANDWIDTH 1024

void policy_network_defaults(struct policy *p)
{
	const char *why;
	net_cidr_parse(DEFAULT_POOL, &p->net.pool, &why);
}

static const char *const mode_names[] = { [NET_NONE] = "none", [NET_EGRESS] = "egress", [NET_HOST] = "host" };

const char *policy_net_mode_name(enum net_mode mode)
{
	return mode_names[mode];
}

static int parse_mode(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	for (size_t i = 0; json_is_string(v) && i < ARRAY_SIZE(mode_names); i++)
		if (!strcmp(json_string_value(v), mode_names[i])) {
			ps->p->network = (enum net_mode)i;
			return 0;
		}
	if (json_is_string(v))
		return policy_fail(ps, path, "expected \"none\", \"egress\" or \"host\", got %s",
				   POLICY_QUOTE(json_string_value(v)));
	return policy_fail(ps, path, "expected \"none\", \"egress\" or \"host\", got %s", policy_type_name(v));
}

static int parse_allow_host(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	if (!json_is_boolean(v))
		return policy_fail(ps, path, "expected true or false, got %s", policy_type_name(v));
	ps->p->allow_host_network = json_is_true(v);
	return 0;
}

static int parse_allow(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	json_t *item;
	size_t i;
	if (!json_is_array(v))
		return policy_fail(ps, path, "expected an array, got %s", policy_type_name(v));
	if (json_array_size(v) > MAX_ALLOW)
		return policy_fail(ps, path, "at most %d entries", MAX_ALLOW);
	struct allow_entry *list = calloc(json_array_size(v) + 1, sizeof *list);
	if (!list)
		return policy_error(ps->e, ENOMEM, "out of memory");
	free(ps->p->net.allow.v);
	ps->p->net.allow = (struct net_allow){ .v = list };
	json_array_foreach(v, i, item) {
		char sub[JSON_PATH_MAX], again[ALLOW_NAME_MAX + 8];
		const char *s, *why;
		policy_path_index(sub, sizeof sub, path, i);
		int r = policy_expect_string(ps, sub, item, &s);
		if (r < 0)
			return r;
		if (allow_entry_parse(s, &list[i], &why) < 0)
			return policy_fail(ps, sub, "%s %s", POLICY_QUOTE(s), why);
		allow_entry_format(&list[i], again, sizeof again);
		for (size_t k = 0; k < i; k++) {
			char other[ALLOW_NAME_MAX + 8];
			allow_entry_format(&list[k], other, sizeof other);
			if (!strcmp(other, again))
				return policy_fail(ps, sub, "%s is listed twice", POLICY_QUOTE(again));
		}
		ps->p->net.allow.n = i + 1;
	}
	return 0;
}

static int parse_pool(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	bool v6 = f->kind != 0;
	struct net_cidr *out = v6 ? &ps->p->net.pool6 : &ps->p->net.pool;
	const char *s, *why;
	int r = policy_expect_string(ps, path, v, &s);
	if (r < 0)
		return r;
	if (net_cidr_parse(s, out, &why) < 0)
		return policy_fail(ps, path, "%s %s", POLICY_QUOTE(s), why);
	if (out->family != (v6 ? AF_INET6 : AF_INET))
		return policy_fail(ps, path, "%s is not an %s network", POLICY_QUOTE(s), v6 ? "IPv6" : "IPv4");
	/* two addresses per sandbox (a /31 or /127 each), and a pool large
	 * enough to matter */
	unsigned lo = v6 ? 48 : 8, hi = v6 ? 120 : 28;
	if (out->prefix < lo || out->prefix > hi)
		return policy_fail(ps, path, "%s: the prefix length must be from %u to %u", POLICY_QUOTE(s), lo, hi);
	if ((why = net_never_reason(out)))
		return policy_fail(ps, path, "%s %s", POLICY_QUOTE(s), why);
	return 0;
}

static int parse_interface(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	const char *s;
	int r = policy_expect_string(ps, path, v, &s);
	if (r < 0)
		return r;
	size_t n = strlen(s);
	if (n == 0 || n >= sizeof ps->p->net.interface || !strcmp(s, ".") || !strcmp(s, "..") ||
	    strcspn(s, "/: \t\n") != n)
		return policy_fail(ps, path, "%s is not an interface name (1 to 15 characters, no '/', ':' or "
				   "spaces)", POLICY_QUOTE(s));
	memcpy(ps->p->net.interface, s, n + 1);
	return 0;
}

int net_endpoint_parse(const char *text, struct net_endpoint *out, const char **why)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL;
	size_t hl;
	*out = (struct net_endpoint){ .port = 53 };
	*why = "is not an address (a resolver is IP, IP:PORT or [IPv6]:PORT)";
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || (close[1] && close[1] != ':'))
			return -EINVAL;
		hl = (size_t)(close - text - 1);
		port = close[1] ? close + 2 : NULL;
		text++;
	} else {
		const char *colon = strchr(text, ':');
		bool v4_port = colon && !strchr(colon + 1, ':');
		hl = v4_port ? (size_t)(colon - text) : strlen(text);
		port = v4_port ? colon + 1 : NULL;
	}
	if (hl >= sizeof host)
		return -EINVAL;
	memcpy(host, text, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->addr) == 1)
		out->family = AF_INET6;
	else
		return -EINVAL;
	if (port) {
		int v = atoi(port);
		if (!*port || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 || v < 1 || v > 65535) {
			*why = "has a port that is not a number from 1 to 65535";
			return -EINVAL;
		}
		out->port = (uint16_t)v;
	}
	return 0;
}

void net_endpoint_format(const struct net_endpoint *ep, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(ep->family, ep->addr, a, sizeof a);
	snprintf(buf, len, ep->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a, ep->port);
}

static int parse_resolvers(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	json_t *item;
	size_t i;
	if (!json_is_array(v))
		return policy_fail(ps, path, "expected an array, got %s", policy_type_name(v));
	if (json_array_size(v) > POLICY_MAX_RESOLVERS)
		return policy_fail(ps, path, "at most %d resolvers", POLICY_MAX_RESOLVERS);
	json_array_foreach(v, i, item) {
		char sub[JSON_PATH_MAX];
		const char *s, *why;
		policy_path_index(sub, sizeof sub, path, i);
		int r = policy_expect_string(ps, sub, item, &s);
		if (r < 0)
			return r;
		if (net_endpoint_parse(s, &ps->p->net.resolvers[i], &why) < 0)
			return policy_fail(ps, sub, "%s %s", POLICY_QUOTE(s), why);
	}
	ps->p->net.n_resolvers = json_array_size(v);
	return 0;
}

static int parse_bandwidth(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	uint64_t rate;
	int r = policy_json_size(ps, path, v, "10M", &rate);
	if (r < 0)
		return r;
	if (rate < MIN_BANDWIDTH)
		return policy_fail(ps, path, "at least 1K (bytes per second)");
	if (rate > UINT32_MAX)
		return policy_fail(ps, path, "at most 4G (bytes per second); leave it out for no limit");
	ps->p->net.bandwidth = rate;
	return 0;
}

static int parse_connections(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > MAX_CONNECTIONS)
		return policy_fail(ps, path, "expected an integer from 1 to %d", MAX_CONNECTIONS);
	ps->p->net.connections = (uint32_t)json_integer_value(v);
	return 0;
}

static const struct field network_fields[] = {
	{ .key = "mode", .parse = parse_mode },
	{ .key = "allow_host", .parse = parse_allow_host },
	{ .key = "allow", .parse = parse_allow },
	{ .key = "pool", .parse = parse_pool, .kind = 0 },
	{ .key = "pool6", .parse = parse_pool, .kind = 1 },
	{ .key = "interface", .parse = parse_interface },
	{ .key = "resolvers", .parse = parse_resolvers },
	{ .key = "bandwidth", .parse = parse_bandwidth },
	{ .key = "connections", .parse = parse_connections },
};

/* An allowlist entry inside a pool would name the sandboxes themselves
 * (a wider one is fine: the pools are carved out of it, net-rules.c). */
static int check_allow_outside_pools(struct parser *ps, const char *path)
{
	const struct policy_network *n = &ps->p->net;
	for (size_t i = 0; i < n->allow.n; i++) {
		const struct allow_entry *a = &n->allow.v[i];
		if (a->kind != ALLOW_CIDR)
			continue;
		if (net_cidr_contains(&n->pool, &a->cidr) || (n->pool6.family && net_cidr_contains(&n->pool6, &a->cidr))) {
			char sub[JSON_PATH_MAX], text[64];
			snprintf(sub, sizeof sub, "%s%sallow[%zu]", path, *path ? "." : "", i);
			allow_entry_format(a, text, sizeof text);
			return policy_fail(ps, sub, "%s lies in the sandboxes' own address pool: sandboxes never "
					   "reach each other", POLICY_QUOTE(text));
		}
	}
	return 0;
}

int policy_parse_network(struct parser *ps, const char *path, json_t *v, const struct field *f)
{
	int r = policy_parse_object(ps, path, v, network_fields, ARRAY_SIZE(network_fields));
	if (r < 0)
		return r;
	if (ps->p->network == NET_HOST && !ps->p->allow_host_network) {
		char sub[JSON_PATH_MAX];
		policy_path_key(sub, sizeof sub, path, "mode");
		return policy_fail(ps, sub, "\"host\" needs %s.allow_host: true", path);
	}
	return check_allow_outside_pools(ps, path);
}

int policy_set_network(struct policy *p, enum net_mode mode, wr_error *e)
{
	if (mode == NET_HOST && !p->allow_host_network)
		return policy_error(e, EPERM, "the host network is not allowed by policy %s "
				    "(it needs \"network\": {\"allow_host\": true})", p->name);
	if (mode == NET_EGRESS && p->network == NET_NONE)
		return policy_error(e, EPERM, "egress is not allowed by policy %s (its network.mode is \"none\"; "
				    "a policy with \"mode\": \"egress\" and an \"allow\" list says where sandboxes may go)",
				    p->name);
	p->network = mode;
	return 0;
}

int policy_allow_narrowed(const struct policy *p, char *const *texts, size_t n, const char *what, struct net_allow *out,
			  wr_error *e)
{
	const char *flag = what ? what : "--allow";
	if (n > MAX_ALLOW)
		return policy_error(e, EINVAL, "%s: at most %d entries", flag, MAX_ALLOW);
	_cleanup_free_ struct allow_entry *list = calloc(n + 1, sizeof *list);
	if (!list)
		return policy_error(e, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const char *why;
		if (allow_entry_parse(texts[i], &list[i], &why) < 0)
			return policy_error(e, EINVAL, "%s %s: %s", flag, texts[i], why);
		if (!net_allow_covers(&p->net.allow, &list[i]))
			return policy_error(e, EPERM, "%s %s is not within the allowlist of policy %s (its network.allow)",
					    flag, texts[i], p->name);
	}
	*out = (struct net_allow){ .v = TAKE_PTR(list), .n = n };
	return 0;
}

int policy_narrow_allow(struct policy *p, char *const *texts, size_t n, const char *what, wr_error *e)
{
	struct net_allow narrowed;
	int r = policy_allow_narrowed(p, texts, n, what, &narrowed, e);
	if (r < 0)
		return r;
	free(p->net.allow.v);
	p->net.allow = narrowed;
	return 0;
}

json_t *policy_network_to_json(const struct policy *p)
{
	const struct policy_network *n = &p->net;
	_cleanup_json_ json_t *o = json_pack("{s:s, s:b}", "mode", policy_net_mode_name(p->network), "allow_host", p->allow_host_network);
	_cleanup_json_ json_t *allow = json_array(), *resolvers = json_array();
	if (!o || !allow || !resolvers)
		return NULL;
	char text[ALLOW_NAME_MAX + 8];
	for (size_t i = 0; i < n->allow.n; i++) {
		allow_entry_format(&n->allow.v[i], text, sizeof text);
		json_array_append_new(allow, json_string(text));
	}
	for (size_t i = 0; i < n->n_resolvers; i++) {
		net_endpoint_format(&n->resolvers[i], text, sizeof text);
		json_array_append_new(resolvers, json_string(text));
	}
	if (n->allow.n)
		json_object_set(o, "allow", allow);
	net_cidr_format(&n->pool, text, sizeof text);
	json_object_set_new(o, "pool", json_string(text));
	if (n->pool6.family) {
		net_cidr_format(&n->pool6, text, sizeof text);
		json_object_set_new(o, "pool6", json_string(text));
	}
	if (n->interface[0])
		json_object_set_new(o, "interface", json_string(n->interface));
	if (n->n_resolvers)
		json_object_set(o, "resolvers", resolvers);
	if (n->bandwidth) {
		format_size(n->bandwidth, text, sizeof text);
		json_object_set_new(o, "bandwidth", json_string(text));
	}
	if (n->connections)
		json_object_set_new(o, "connections", json_integer(n->connections));
	return TAKE_PTR(o);
}

void policy_network_free(struct policy_network *n)
{
	free(n->allow.v);
	n->allow = (struct net_allow){ 0 };
}
