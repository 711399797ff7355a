#include "config.h"
#include "net-rules.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/netlink.h>

#include "cleanup.h"

#define _cleanup_json_ __attribute__((cleanup(json_decrefp)))

static const char *const counters[] = { "out", "in", "new", "denied" };

/* ---- running commands ------------------------------------------------- */

struct nft_ctx *net_rules_context(wr_error *e)
{
	static struct nft_ctx *ctx;
	static int netfilter_missing;
	if (ctx)
		return ctx;
	/* libnftables exit()s the whole process when it cannot open its
	 * netlink socket (a kernel without netfilter's netlink, such as a
	 * guest without modules): ask the kernel first, once. */
	if (!netfilter_missing) {
		int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
		if (fd < 0)
			netfilter_missing = errno;
		else
			close(fd);
	}
	if (netfilter_missing) {
		wr_error_set(e, netfilter_missing, "nftables: no netfilter netlink socket in this kernel");
		return NULL;
	}
	ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!ctx) {
		wr_error_set(e, ENOMEM, "libnftables context");
		return NULL;
	}
	nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	return ctx;
}

/* Runs {"nftables": cmds} as one transaction; with `out`, the JSON it
 * printed (list commands). The message names `what`. */
static int run(json_t *cmds, json_t **out, const char *what, wr_error *e)
{
	struct nft_ctx *ctx = net_rules_context(e);
	if (!ctx)
		return -(e && e->code ? e->code : ENOMEM);
	_cleanup_json_ json_t *doc = json_pack("{s:O}", "nftables", cmds);
	_cleanup_free_ char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	if (!text)
		return wr_error_set(e, ENOMEM, "%s", what);
	if (nft_run_cmd_from_buffer(ctx, text) != 0) {
		const char *err = nft_ctx_get_error_buffer(ctx);
		char first[300] = "";
		if (err)
			snprintf(first, sizeof first, "%.*s", (int)strcspn(err, "\n"), err);
		return wr_error_set(e, 0, "nftables: %s: %s", what, first[0] ? first : "failed");
	}
	const char *printed = nft_ctx_get_output_buffer(ctx);
	if (out) {
		json_error_t jerr;
		*out = printed && *printed ? json_loads(printed, 0, &jerr) : NULL;
		if (!*out)
			return wr_error_set(e, EPROTO, "nftables: %s: unreadable output", what);
	}
	return 0;
}

int net_rules_lock(wr_error *e)
{
	mkdir("/run/warren", 0755);
	int fd = open(NET_RULES_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return wr_error_set(e, errno, "open %s", NET_RULES_LOCK_FILE);
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int err = errno;
			close(fd);
			return wr_error_set(e, err, "lock %s", NET_RULES_LOCK_FILE);
		}
	}
	return fd;
}

/* ---- building JSON ------------------------------------------------------ */

static json_t *in_table(const char *name)
{
	return json_pack("{s:s, s:s, s:s}", "family", "inet", "table", NET_RULES_TABLE, "name", name);
}

static void add_cmd(json_t *cmds, const char *verb, const char *kind, json_t *obj)
{
	json_array_append_new(cmds, json_pack("{s:{s:o}}", verb, kind, obj));
}

static json_t *meta(const char *key) { return json_pack("{s:{s:s}}", "meta", "key", key); }
static json_t *payload(const char *proto, const char *field)
{
	return json_pack("{s:{s:s, s:s}}", "payload", "protocol", proto, "field", field);
}
static json_t *match(const char *op, json_t *left, json_t *right)
{
	return json_pack("{s:{s:s, s:o, s:o}}", "match", "op", op, "left", left, "right", right);
}
static json_t *verdict(const char *v) { return json_pack("{s:n}", v); }
/* A refused packet from the sandbox's own address is answered
 * "administratively prohibited": the program's connect fails at once
 * instead of waiting out a timeout. (What may be spoofed, or comes from
 * outside, is dropped: an answer would go to whoever the source names.) */
static json_t *refuse(void)
{
	return json_pack("{s:{s:s, s:s}}", "reject", "type", "icmpx", "expr", "admin-prohibited");
}
static json_t *count(unsigned slot, const char *which)
{
	char name[32];
	snprintf(name, sizeof name, "sb%u-%s", slot, which);
	return json_pack("{s:s}", "counter", name);
}

static json_t *cidr_json(const struct net_cidr *c)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(c->family, c->addr, a, sizeof a);
	if (c->prefix == (c->family == AF_INET ? 32u : 128u))
		return json_string(a);
	return json_pack("{s:{s:s, s:i}}", "prefix", "addr", a, "len", (int)c->prefix);
}

static json_t *addr_json(int family, const uint8_t *addr)
{
	char a[INET6_ADDRSTRLEN];
	inet_ntop(family, addr, a, sizeof a);
	return json_string(a);
}

static void add_rule(json_t *cmds, const char *chain, json_t *expr)
{
	json_t *r = json_pack("{s:s, s:s, s:s, s:o}", "family", "inet", "table", NET_RULES_TABLE, "chain", chain,
			      "expr", expr);
	add_cmd(cmds, "add", "rule", r);
}

static void add_set(json_t *cmds, const char *name, const char *type, const char *flag)
{
	json_t *s = in_table(name);
	json_object_set_new(s, "type", json_string(type));
	if (flag)
		json_object_set_new(s, "flags", json_pack("[s]", flag));
	add_cmd(cmds, "add", "set", s);
}

static void add_map(json_t *cmds, const char *name)
{
	json_t *m = in_table(name);
	json_object_set_new(m, "type", json_string("ifname"));
	json_object_set_new(m, "map", json_string("verdict"));
	add_cmd(cmds, "add", "map", m);
}

static void add_base_chain(json_t *cmds, const char *name, const char *type, const char *hook, int prio)
{
	json_t *c = in_table(name);
	json_object_update_new(c, json_pack("{s:s, s:s, s:i, s:s}", "type", type, "hook", hook, "prio", prio,
					     "policy", "accept"));
	add_cmd(cmds, "add", "chain", c);
}

static void add_element(json_t *cmds, const char *verb, const char *set, json_t *elem)
{
	json_t *el = in_table(set);
	json_object_set_new(el, "elem", json_pack("[o]", elem));
	add_cmd(cmds, verb, "element", el);
}

/* The table and its shared parts (see net-rules.h). */
static void build_table(json_t *cmds)
{
	add_cmd(cmds, "add", "table", json_pack("{s:s, s:s}", "family", "inet", "name", NET_RULES_TABLE));
	add_set(cmds, "links", "ifname", NULL);
	add_set(cmds, "fwd_enabled", "ifname", NULL);
	add_set(cmds, "sources4", "ipv4_addr", NULL);
	add_set(cmds, "sources6", "ipv6_addr", NULL);
	add_map(cmds, "out");
	add_map(cmds, "in");
	add_base_chain(cmds, "input", "filter", "input", 0);
	add_base_chain(cmds, "forward", "filter", "forward", 0);
	add_base_chain(cmds, "postrouting", "nat", "postrouting", 100);
	/* a sandbox's link reaches no address of the host: only the
	 * neighbour discovery IPv6 needs to find the way out */
	add_rule(cmds, "input", json_pack("[o, o, o]", match("==", meta("iifname"), json_string("@links")),
					  match("==", payload("icmpv6", "type"),
						json_pack("{s:[s, s]}", "set", "nd-neighbor-solicit", "nd-neighbor-advert")),
					  verdict("accept")));
	/* refused at once from a sandbox's own address (anything else, which
	 * may be spoofed, is dropped) */
	add_rule(cmds, "input", json_pack("[o, o, o]", match("==", meta("iifname"), json_string("@links")),
					  match("==", payload("ip", "saddr"), json_string("@sources4")), refuse()));
	add_rule(cmds, "input", json_pack("[o, o, o]", match("==", meta("iifname"), json_string("@links")),
					  match("==", payload("ip6", "saddr"), json_string("@sources6")), refuse()));
	add_rule(cmds, "input", json_pack("[o, o]", match("==", meta("iifname"), json_string("@links")), verdict("drop")));
	add_rule(cmds, "forward", json_pack("[{s:{s:o, s:s}}]", "vmap", "key", meta("iifname"), "data", "@out"));
	add_rule(cmds, "forward", json_pack("[{s:{s:o, s:s}}]", "vmap", "key", meta("oifname"), "data", "@in"));
	/* forwarding warren switched on lets nothing else through */
	add_rule(cmds, "forward", json_pack("[o, o]", match("==", meta("iifname"), json_string("@fwd_enabled")),
					    verdict("drop")));
	add_rule(cmds, "postrouting", json_pack("[o, {s:n}]", match("==", payload("ip", "saddr"), json_string("@sources4")),
						"masquerade"));
	add_rule(cmds, "postrouting", json_pack("[o, {s:n}]", match("==", payload("ip6", "saddr"), json_string("@sources6")),
						"masquerade"));
}

static json_t *cidr_set(const char *const *texts, const struct net_cidr *extra, const struct net_cidr *extra2, int family)
{
	json_t *set = json_array();
	for (const char *const *t = texts; *t; t++) {
		struct net_cidr c;
		const char *why;
		if (net_cidr_parse(*t, &c, &why) == 0 && c.family == family)
			json_array_append_new(set, cidr_json(&c));
	}
	if (extra && extra->family == family)
		json_array_append_new(set, cidr_json(extra));
	if (extra2 && extra2->family == family)
		json_array_append_new(set, cidr_json(extra2));
	return set;
}

static const char *daddr_proto(int family) { return family == AF_INET ? "ip" : "ip6"; }

/* Accepts the allowlist's address entries whose privacy is `private_ones`. */
static void allow_rules(json_t *cmds, const char *chain, const struct net_rules_sandbox *sb, bool private_ones)
{
	const struct net_allow *allow = &sb->net->allow;
	for (int family = AF_INET; family <= AF_INET6; family += AF_INET6 - AF_INET) {
		json_t *plain = json_array();
		for (size_t i = 0; i < allow->n; i++) {
			const struct allow_entry *a = &allow->v[i];
			if (a->kind != ALLOW_CIDR || a->cidr.family != family || net_cidr_is_private(&a->cidr) != private_ones)
				continue;
			if (!a->port) {
				json_array_append_new(plain, cidr_json(&a->cidr));
				continue;
			}
			add_rule(cmds, chain, json_pack("[o, o, o, o, o]",
							match("==", payload(daddr_proto(family), "daddr"), cidr_json(&a->cidr)),
							match("==", meta("l4proto"), json_pack("{s:[s, s]}", "set", "tcp", "udp")),
							match("==", payload("th", "dport"), json_integer(a->port)),
							count(sb->slot, "new"), verdict("accept")));
		}
		if (json_array_size(plain))
			add_rule(cmds, chain, json_pack("[o, o, o]",
							match("==", payload(daddr_proto(family), "daddr"), json_pack("{s:o}", "set", plain)),
							count(sb->slot, "new"), verdict("accept")));
		else
			json_decref(plain);
	}
}

/* sbK-out, in order: what was let in goes on; its own source address
 * only; out by its egress interface only; never the never ranges nor
 * the pools (other sandboxes); the connection limit; allowed private
 * networks; no other private address; allowed public networks; what
 * allowed names resolved to; nothing else. */
static void out_rules(json_t *cmds, const struct net_rules_sandbox *sb)
{
	char chain[32], dns[2][32];
	snprintf(chain, sizeof chain, "sb%u-out", sb->slot);
	snprintf(dns[0], sizeof dns[0], "@sb%u-dns4", sb->slot);
	snprintf(dns[1], sizeof dns[1], "@sb%u-dns6", sb->slot);
	const struct policy_network *net = sb->net;
	unsigned slot = sb->slot;

	add_rule(cmds, chain, json_pack("[o, o, o]", match("in", json_pack("{s:{s:s}}", "ct", "key", "state"),
							   json_pack("[s, s]", "established", "related")),
					count(slot, "out"), verdict("accept")));
	/* spoofed: dropped, an answer would go to whoever the source names */
	add_rule(cmds, chain, json_pack("[o, o, o]", match("!=", payload("ip", "saddr"), addr_json(AF_INET, sb->addr4)),
					count(slot, "denied"), verdict("drop")));
	if (sb->has6)
		add_rule(cmds, chain, json_pack("[o, o, o]", match("!=", payload("ip6", "saddr"), addr_json(AF_INET6, sb->addr6)),
						count(slot, "denied"), verdict("drop")));
	else
		add_rule(cmds, chain, json_pack("[o, o, o]", match("==", meta("nfproto"), json_string("ipv6")),
						count(slot, "denied"), verdict("drop")));
	add_rule(cmds, chain, json_pack("[o, o, o]", match("!=", meta("oifname"), json_string(sb->egress)),
					count(slot, "denied"), refuse()));
	for (int family = AF_INET; family <= AF_INET6; family += AF_INET6 - AF_INET)
		add_rule(cmds, chain, json_pack("[o, o, o]", match("==", payload(daddr_proto(family), "daddr"),
								   json_pack("{s:o}", "set", cidr_set(net_never_ranges, &net->pool,
												       &net->pool6, family))),
						count(slot, "denied"), refuse()));
	if (net->connections)
		add_rule(cmds, chain, json_pack("[o, {s:{s:i, s:b}}, o, o]",
						match("==", json_pack("{s:{s:s}}", "ct", "key", "state"), json_string("new")),
						"ct count", "val", (int)net->connections, "inv", 1,
						count(slot, "denied"), refuse()));
	allow_rules(cmds, chain, sb, true);
	for (int family = AF_INET; family <= AF_INET6; family += AF_INET6 - AF_INET)
		add_rule(cmds, chain, json_pack("[o, o, o]", match("==", payload(daddr_proto(family), "daddr"),
								   json_pack("{s:o}", "set", cidr_set(net_private_ranges, NULL,
												       NULL, family))),
						count(slot, "denied"), refuse()));
	allow_rules(cmds, chain, sb, false);
	add_rule(cmds, chain, json_pack("[o, o, o]", match("==", payload("ip", "daddr"), json_string(dns[0])),
					count(slot, "new"), verdict("accept")));
	add_rule(cmds, chain, json_pack("[o, o, o]", match("==", payload("ip6", "daddr"), json_string(dns[1])),
					count(slot, "new"), verdict("accept")));
	add_rule(cmds, chain, json_pack("[o, o]", count(slot, "denied"), refuse()));
}

static void in_rules(json_t *cmds, unsigned slot)
{
	char chain[32];
	snprintf(chain, sizeof chain, "sb%u-in", slot);
	add_rule(cmds, chain, json_pack("[o, o, o]", match("in", json_pack("{s:{s:s}}", "ct", "key", "state"),
							   json_pack("[s, s]", "established", "related")),
					count(slot, "in"), verdict("accept")));
	add_rule(cmds, chain, json_pack("[o, o]", count(slot, "denied"), verdict("drop")));
}

/* ---- the table as it is ------------------------------------------------- */

/* The table's listing, or NULL (and 0) when there is no table. */
static int list_table(json_t **out, wr_error *e)
{
	_cleanup_json_ json_t *cmds = json_pack("[{s:{s:{s:s, s:s}}}]", "list", "table", "family", "inet",
						"name", NET_RULES_TABLE);
	wr_error ignored = { 0 };
	*out = NULL;
	int r = run(cmds, out, "list the table", &ignored);
	if (r < 0 && strstr(ignored.message, "No such file or directory"))
		return 0;
	if (r < 0)
		*e = ignored;
	return r;
}

/* Each object of the listing whose kind is `kind`. */
#define listing_foreach(listing, kind, obj)                                                        \
	for (size_t _i = 0; _i < json_array_size(json_object_get(listing, "nftables")); _i++)   \
		if (((obj) = json_object_get(json_array_get(json_object_get(listing, "nftables"), _i), kind)))

static json_t *find_set(json_t *listing, const char *kind, const char *name)
{
	json_t *obj;
	listing_foreach (listing, kind, obj)
		if (!strcmp(json_string_value(json_object_get(obj, "name")) ?: "", name))
			return obj;
	return NULL;
}

/* A set element's value and comment, in either form nft lists. */
static const char *elem_value(json_t *el, const char **comment)
{
	*comment = NULL;
	if (json_is_array(el)) /* a map's [key, value] */
		el = json_array_get(el, 0);
	json_t *inner = json_object_get(el, "elem");
	if (inner) {
		*comment = json_string_value(json_object_get(inner, "comment"));
		el = json_object_get(inner, "val");
	}
	return json_string_value(el);
}

/* Deletes what `listing` shows of slot `slot`; *others says whether
 * another sandbox's link is still in the table. */
static void build_removal(json_t *listing, unsigned slot, json_t *cmds, bool *others)
{
	char link[32], tag[32], name[32];
	snprintf(link, sizeof link, "wrn%u", slot);
	snprintf(tag, sizeof tag, "sb%u", slot);
	*others = false;
	static const char *const keyed[] = { "out", "in", "links", "sources4", "sources6" };
	for (size_t k = 0; k < ARRAY_SIZE(keyed); k++) {
		json_t *set = find_set(listing, k < 2 ? "map" : "set", keyed[k]), *el;
		size_t i;
		json_array_foreach(json_object_get(set, "elem"), i, el) {
			const char *comment, *v = elem_value(el, &comment);
			bool ours = k <= 2 ? v && !strcmp(v, link) : comment && !strcmp(comment, tag);
			if (ours) {
				json_t *copy = json_deep_copy(json_is_array(el) ? json_array_get(el, 0) : el);
				add_element(cmds, "delete", keyed[k], copy);
			} else if (k == 2) {
				*others = true;
			}
		}
	}
	static const char *const chains[] = { "out", "in" };
	for (size_t k = 0; k < ARRAY_SIZE(chains); k++) {
		snprintf(name, sizeof name, "sb%u-%s", slot, chains[k]);
		if (find_set(listing, "chain", name)) {
			add_cmd(cmds, "flush", "chain", in_table(name));
			add_cmd(cmds, "delete", "chain", in_table(name));
		}
	}
	for (int v = 4; v <= 6; v += 2) {
		snprintf(name, sizeof name, "sb%u-dns%d", slot, v);
		if (find_set(listing, "set", name))
			add_cmd(cmds, "delete", "set", in_table(name));
	}
	for (size_t k = 0; k < ARRAY_SIZE(counters); k++) {
		snprintf(name, sizeof name, "sb%u-%s", slot, counters[k]);
		if (find_set(listing, "counter", name))
			add_cmd(cmds, "delete", "counter", in_table(name));
	}
}

static int write_forwarding(const char *ifname, const char *value)
{
	char path[96];
	snprintf(path, sizeof path, "/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return write(fd, value, 1) == 1 ? 0 : -errno;
}

/* The last sandbox is gone: the table goes, and the forwarding warren
 * turned on is turned off again. */
static int remove_table(json_t *listing, wr_error *e)
{
	json_t *set = find_set(listing, "set", "fwd_enabled"), *el;
	size_t i;
	_cleanup_json_ json_t *cmds = json_array();
	add_cmd(cmds, "delete", "table", json_pack("{s:s, s:s}", "family", "inet", "name", NET_RULES_TABLE));
	int r = run(cmds, NULL, "delete the table", e);
	if (r < 0)
		return r;
	json_array_foreach(json_object_get(set, "elem"), i, el) {
		const char *comment, *ifname = elem_value(el, &comment);
		if (ifname)
			write_forwarding(ifname, "0");
	}
	return 0;
}

/* ---- the API --------------------------------------------------------------- */

int net_rules_add(const struct net_rules_sandbox *sb, wr_error *e)
{
	_cleanup_json_ json_t *listing = NULL;
	int r = list_table(&listing, e);
	if (r < 0)
		return r;
	_cleanup_json_ json_t *cmds = json_array();
	if (!listing)
		build_table(cmds);
	char name[32], tag[32];
	snprintf(tag, sizeof tag, "sb%u", sb->slot);
	for (size_t k = 0; k < ARRAY_SIZE(counters); k++) {
		snprintf(name, sizeof name, "sb%u-%s", sb->slot, counters[k]);
		add_cmd(cmds, "add", "counter", in_table(name));
	}
	snprintf(name, sizeof name, "sb%u-dns4", sb->slot);
	add_set(cmds, name, "ipv4_addr", "timeout");
	snprintf(name, sizeof name, "sb%u-dns6", sb->slot);
	add_set(cmds, name, "ipv6_addr", "timeout");
	snprintf(name, sizeof name, "sb%u-out", sb->slot);
	add_cmd(cmds, "add", "chain", in_table(name));
	snprintf(name, sizeof name, "sb%u-in", sb->slot);
	add_cmd(cmds, "add", "chain", in_table(name));
	out_rules(cmds, sb);
	in_rules(cmds, sb->slot);
	add_element(cmds, "add", "links", json_string(sb->link));
	add_element(cmds, "add", "sources4", json_pack("{s:{s:o, s:s}}", "elem", "val", addr_json(AF_INET, sb->addr4),
						       "comment", tag));
	if (sb->has6)
		add_element(cmds, "add", "sources6", json_pack("{s:{s:o, s:s}}", "elem", "val",
							       addr_json(AF_INET6, sb->addr6), "comment", tag));
	for (int k = 0; k < 2; k++) {
		snprintf(name, sizeof name, "sb%u-%s", sb->slot, k ? "in" : "out");
		add_element(cmds, "add", k ? "in" : "out",
			    json_pack("[s, {s:{s:s}}]", sb->link, "jump", "target", name));
	}
	return run(cmds, NULL, "add the sandbox's rules", e);
}

int net_rules_update(const struct net_rules_sandbox *sb, wr_error *e)
{
	char chain[32];
	snprintf(chain, sizeof chain, "sb%u-out", sb->slot);
	_cleanup_json_ json_t *cmds = json_array();
	add_cmd(cmds, "flush", "chain", in_table(chain));
	out_rules(cmds, sb);
	return run(cmds, NULL, "replace the sandbox's rules", e);
}

int net_rules_remove(unsigned slot, wr_error *e)
{
	_cleanup_json_ json_t *listing = NULL;
	int r = list_table(&listing, e);
	if (r < 0 || !listing)
		return r;
	bool others;
	_cleanup_json_ json_t *cmds = json_array();
	build_removal(listing, slot, cmds, &others);
	if (!others)
		return remove_table(listing, e);
	if (json_array_size(cmds) == 0)
		return 0;
	return run(cmds, NULL, "remove the sandbox's rules", e);
}

static int change_learned(const char *verb, unsigned slot, const struct dns_address *a, size_t n, wr_error *e)
{
	_cleanup_json_ json_t *cmds = json_array();
	char set[32];
	for (size_t i = 0; i < n; i++) {
		snprintf(set, sizeof set, "sb%u-dns%d", slot, a[i].family == AF_INET ? 4 : 6);
		json_t *el = addr_json(a[i].family, a[i].addr);
		if (!strcmp(verb, "add"))
			el = json_pack("{s:{s:o, s:i}}", "elem", "val", el, "timeout",
				       (int)a[i].ttl + NET_RULES_DNS_GRACE_S);
		add_element(cmds, verb, set, el);
	}
	return run(cmds, NULL, !strcmp(verb, "add") ? "allow what a name resolved to" : "forget an address", e);
}

int net_rules_learn(unsigned slot, const struct dns_address *a, size_t n, wr_error *e)
{
	/* An element already there keeps its old timeout on "add": take the
	 * addresses out first where they are (each alone: a missing one
	 * would fail the whole transaction), then add them all. */
	for (size_t i = 0; i < n; i++) {
		wr_error ignored = { 0 };
		change_learned("delete", slot, &a[i], 1, &ignored);
	}
	return change_learned("add", slot, a, n, e);
}

int net_rules_forget(unsigned slot, const struct dns_address *a, wr_error *e)
{
	return change_learned("delete", slot, a, 1, e);
}

int net_rules_forget_all(unsigned slot, wr_error *e)
{
	_cleanup_json_ json_t *cmds = json_array();
	char set[32];
	for (int v = 4; v <= 6; v += 2) {
		snprintf(set, sizeof set, "sb%u-dns%d", slot, v);
		add_cmd(cmds, "flush", "set", in_table(set));
	}
	return run(cmds, NULL, "forget what the sandbox's names resolved to", e);
}

/* A listed counter "sbK-WHICH" into its slot's figures: the slot, or -1
 * for a counter that is not a sandbox's. */
static long count_into(json_t *obj, unsigned want_slot, bool any_slot, struct net_counters *c)
{
	const char *name = json_string_value(json_object_get(obj, "name"));
	unsigned slot;
	char which[16];
	if (!name || sscanf(name, "sb%u-%15s", &slot, which) != 2 || (!any_slot && slot != want_slot))
		return -1;
	uint64_t packets = (uint64_t)json_integer_value(json_object_get(obj, "packets"));
	uint64_t bytes = (uint64_t)json_integer_value(json_object_get(obj, "bytes"));
	if (!strcmp(which, "out")) {
		c->out_packets = packets;
		c->out_bytes = bytes;
	} else if (!strcmp(which, "in")) {
		c->in_packets = packets;
		c->in_bytes = bytes;
	} else if (!strcmp(which, "new")) {
		c->new_connections = packets;
	} else if (!strcmp(which, "denied")) {
		c->denied_packets = packets;
		c->denied_bytes = bytes;
	} else {
		return -1;
	}
	return slot;
}

int net_rules_counters(unsigned slot, struct net_counters *c, wr_error *e)
{
	*c = (struct net_counters){ 0 };
	for (size_t k = 0; k < ARRAY_SIZE(counters); k++) {
		char name[32];
		snprintf(name, sizeof name, "sb%u-%s", slot, counters[k]);
		_cleanup_json_ json_t *cmds = json_pack("[{s:{s:o}}]", "list", "counter", in_table(name));
		_cleanup_json_ json_t *out = NULL;
		int r = run(cmds, &out, "read a counter", e);
		if (r < 0)
			return r;
		json_t *obj;
		listing_foreach (out, "counter", obj)
			count_into(obj, slot, false, c);
	}
	return 0;
}

int net_rules_counters_all(struct net_slot_counters **out, size_t *n, wr_error *e)
{
	*out = NULL;
	*n = 0;
	_cleanup_json_ json_t *cmds = json_pack("[{s:{s:{s:s, s:s}}}]", "list", "counters", "family", "inet",
						"table", NET_RULES_TABLE);
	_cleanup_json_ json_t *listing = NULL;
	wr_error ignored = { 0 };
	int r = run(cmds, &listing, "read the counters", &ignored);
	if (r < 0 && strstr(ignored.message, "No such file or directory"))
		return 0; /* no table: no sandbox */
	if (r < 0) {
		*e = ignored;
		return r;
	}
	size_t cap = json_array_size(json_object_get(listing, "nftables"));
	_cleanup_free_ struct net_slot_counters *v = calloc(cap + 1, sizeof *v);
	if (!v)
		return wr_error_set(e, ENOMEM, "counters");
	json_t *obj;
	listing_foreach (listing, "counter", obj) {
		struct net_counters one = { 0 };
		long slot = count_into(obj, 0, true, &one);
		if (slot < 0)
			continue;
		size_t i = 0;
		while (i < *n && v[i].slot != (unsigned)slot)
			i++;
		if (i == *n)
			v[(*n)++] = (struct net_slot_counters){ .slot = (unsigned)slot };
		/* each listed counter filled its own fields only */
		struct net_counters *c = &v[i].c;
		c->out_bytes += one.out_bytes;
		c->out_packets += one.out_packets;
		c->in_bytes += one.in_bytes;
		c->in_packets += one.in_packets;
		c->new_connections += one.new_connections;
		c->denied_packets += one.denied_packets;
		c->denied_bytes += one.denied_bytes;
	}
	*out = TAKE_PTR(v);
	return 0;
}

int net_rules_remove_if_unused(wr_error *e)
{
	_cleanup_json_ json_t *listing = NULL;
	int r = list_table(&listing, e);
	if (r < 0 || !listing)
		return r;
	json_t *links = find_set(listing, "set", "links"), *chain;
	if (json_array_size(json_object_get(links, "elem")))
		return 0;
	listing_foreach (listing, "chain", chain) {
		unsigned slot;
		const char *name = json_string_value(json_object_get(chain, "name"));
		if (name && sscanf(name, "sb%u-", &slot) == 1)
			return 0;
	}
	return remove_table(listing, e);
}

int net_rules_enable_forwarding(const char *ifname, wr_error *e)
{
	char path[96], v = '0';
	snprintf(path, sizeof path, "/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, &v, 1) != 1)
		return wr_error_set(e, errno, "read %s", path);
	if (v == '1')
		return 0;
	/* recorded first: the drop rule is in place before forwarding is */
	_cleanup_json_ json_t *cmds = json_array();
	add_element(cmds, "add", "fwd_enabled", json_string(ifname));
	int r = run(cmds, NULL, "record the egress interface", e);
	if (r < 0)
		return r;
	if ((r = write_forwarding(ifname, "1")) < 0)
		return wr_error_set(e, -r, "turn on forwarding on %s (%s)", ifname, path);
	return 0;
}

int net_rules_slots(unsigned **slots, size_t *n, wr_error *e)
{
	_cleanup_json_ json_t *listing = NULL;
	*slots = NULL;
	*n = 0;
	int r = list_table(&listing, e);
	if (r < 0 || !listing)
		return r;
	size_t cap = json_array_size(json_object_get(listing, "nftables"));
	_cleanup_free_ unsigned *v = calloc(cap + 1, sizeof *v);
	if (!v)
		return wr_error_set(e, ENOMEM, "slots");
	json_t *obj;
	listing_foreach (listing, "chain", obj) {
		unsigned slot;
		char rest[8];
		const char *name = json_string_value(json_object_get(obj, "name"));
		if (name && sscanf(name, "sb%u-%7s", &slot, rest) == 2 && !strcmp(rest, "out"))
			v[(*n)++] = slot;
	}
	*slots = TAKE_PTR(v);
	return 0;
}
