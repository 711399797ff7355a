/* A session's network: the mode it asked for, its own allowlist (the
 * policy's, or narrower, changed live with session_set_allow), and for
 * egress the DNS forwarder of its sandbox served on the daemon's loop.
 *
 * Egress sandboxes are pooled like any other: a pool's sandboxes get the
 * policy's allowlist when they are made (nothing runs in them until a
 * session has them), and a session that asks for less has its list
 * applied when it leases one, before its first command: the same live
 * change as a PATCH (one nftables transaction, a new list for the
 * forwarder), a millisecond or two against the tens a cold egress
 * sandbox costs (bench/README.md). A session asking "none" of an egress
 * policy gets a sibling pool of that policy without egress. */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "backends.h"
#include "cleanup.h"
#include "daemon.h"
#include "dns-forward.h"
#include "loop.h"
#include "net-egress.h"
#include "net-rules.h"
#include "session-internal.h"

/* Denied names logged per session and window; the rest are counted and
 * said on the next line logged (a sandbox asking in a loop must not fill
 * the log or keep the loop writing to it). */
#define DENIED_LOG_BURST 20
#define DENIED_LOG_WINDOW_MS 10000
/* Addresses the firewall lets through, and until when: an answer whose
 * addresses are open long enough already costs no nftables transaction
 * (~0.8 ms each, on the loop), so a sandbox asking for an allowed name in
 * a loop costs one per address and half grace period, not one per
 * answer. */
#define OPEN_CACHE 64
#define OPEN_MARGIN_MS (NET_RULES_DNS_GRACE_S * 1000 / 2)

struct open_addr {
	struct dns_address a;
	uint64_t until_ms;               /* what the firewall's element timeout says */
};

struct session_net {
	struct session *s;
	enum net_mode mode;
	struct net_allow allow;          /* the session's own list (egress) */
	bool narrowed;                   /* not the pool's list: applied at attach */
	struct net_egress *egress;       /* the box's, while attached */
	struct dns_forwarder *fwd;
	struct loop_io *io[3];           /* dups of the forwarder's fds, on the loop */
	int fds[3];                      /* the forwarder's own */
	int n_fds;
	uint64_t check_at;               /* when to look for queries that waited too long */
	uint64_t log_window_ms;
	unsigned logged, suppressed;
	struct open_addr open[OPEN_CACHE];
	struct list link;                /* in `attached` */
};

static struct list attached = LIST_INIT(attached);
static uint64_t dns_denied_total;

uint64_t sessions_dns_denied_total(void) { return dns_denied_total; }

static void allow_free(struct net_allow *a)
{
	free(a->v);
	*a = (struct net_allow){ 0 };
}

/* The rules' view of the sandbox with the session's list. */
static void rules_view(const struct session_net *n, struct policy_network *net, struct net_rules_sandbox *view)
{
	*net = pool_policy(n->s->pool)->net;
	net->allow = n->allow;
	net_egress_rules_view(n->egress, net, view);
}

/* ---- creation ----------------------------------------------------------------- */

int session_net_prepare(struct session *s, const struct network_request *r, struct pool **pool, struct wd_error *err)
{
	const struct policy *p = pool_policy(*pool);
	enum net_mode mode = p->network;
	if (r && r->has_mode)
		mode = r->mode;
	else if (r && r->has_allow)
		mode = NET_EGRESS; /* an allowlist is for egress, as warren run --allow */
	if (mode == NET_HOST)
		return wd_fail(err, 400, "network: a session cannot have the host's network (policy %s): it would "
			       "reach warrend itself; ask for \"network\": {\"mode\": \"none\"} or \"egress\"", p->name);
	if (r && r->has_allow && mode != NET_EGRESS)
		return wd_fail(err, 400, "network.allow is for mode \"egress\", not \"%s\"", policy_net_mode_name(mode));
	wr_error e = { 0 };
	if (mode != p->network) {
		struct policy probe = *p; /* policy_set_network changes only the mode */
		if (policy_set_network(&probe, mode, &e) < 0)
			return wd_fail(err, 400, "network: %s", e.message);
		if (!(*pool = pool_with_network(*pool, mode, err)))
			return -err->cause.code;
		p = pool_policy(*pool);
	}
	if (mode == NET_EGRESS && backend_check_network(backend_get(pool_backend(*pool)), p, &e) < 0)
		return wd_fail(err, 400, "network: %s", e.message);
	struct session_net *n = calloc(1, sizeof *n);
	if (!n)
		return wd_fail(err, 503, "out of memory");
	*n = (struct session_net){ .s = s, .mode = mode };
	list_init(&n->link);
	s->net = n;
	if (mode != NET_EGRESS)
		return 0;
	if (r && r->has_allow) {
		if (policy_allow_narrowed(p, r->allow, r->n_allow, "network.allow:", &n->allow, &e) < 0)
			return wd_fail(err, 400, "%s", e.message);
		n->narrowed = true;
		return 0;
	}
	n->allow.n = p->net.allow.n;
	if (!(n->allow.v = calloc(n->allow.n + 1, sizeof *n->allow.v)))
		return wd_fail(err, 503, "out of memory");
	memcpy(n->allow.v, p->net.allow.v, n->allow.n * sizeof *n->allow.v);
	return 0;
}

/* ---- the forwarder --------------------------------------------------------------- */

static struct open_addr *open_find(struct session_net *n, const struct dns_address *a)
{
	for (size_t i = 0; i < OPEN_CACHE; i++)
		if (n->open[i].until_ms && n->open[i].a.family == a->family &&
		    !memcmp(n->open[i].a.addr, a->addr, sizeof a->addr))
			return &n->open[i];
	return NULL;
}

/* Where to keep an address: its own entry, else a free or the soonest
 * to end (forgetting one only costs a transaction later). */
static struct open_addr *open_slot(struct session_net *n, const struct dns_address *a)
{
	struct open_addr *o = open_find(n, a), *soonest = &n->open[0];
	for (size_t i = 0; !o && i < OPEN_CACHE; i++)
		if (n->open[i].until_ms < soonest->until_ms)
			soonest = &n->open[i];
	return o ? o : soonest;
}

static int learn(void *ctx, const char *name, const struct dns_address *a, size_t count)
{
	struct session_net *n = ctx;
	uint64_t now = daemon_now_ms();
	struct dns_address fresh[64];
	size_t k = 0;
	for (size_t i = 0; i < count && k < ARRAY_SIZE(fresh); i++) {
		const struct open_addr *o = open_find(n, &a[i]);
		if (!o || o->until_ms < now + (uint64_t)a[i].ttl * 1000 + OPEN_MARGIN_MS)
			fresh[k++] = a[i];
	}
	if (k == 0)
		return 0;
	wr_error e = { 0 };
	int r = net_rules_learn(n->egress->slot, fresh, k, &e);
	if (r < 0) {
		daemon_log("network: could not allow what %s resolved to: %s", name, e.message);
		return r;
	}
	for (size_t i = 0; i < k; i++)
		*open_slot(n, &fresh[i]) = (struct open_addr){
			.a = fresh[i], .until_ms = now + ((uint64_t)fresh[i].ttl + NET_RULES_DNS_GRACE_S) * 1000 };
	return 0;
}

static void forget(void *ctx, const struct dns_address *a)
{
	struct session_net *n = ctx;
	struct open_addr *o = open_find(n, a);
	if (o)
		o->until_ms = 0;
	wr_error e = { 0 };
	if (net_rules_forget(n->egress->slot, a, &e) < 0)
		daemon_log("network: could not take back an address no allowed name resolves to: %s", e.message);
}

static void denied(void *ctx, const char *name)
{
	struct session_net *n = ctx;
	uint64_t now = daemon_now_ms();
	dns_denied_total++;
	if (now - n->log_window_ms >= DENIED_LOG_WINDOW_MS) {
		n->log_window_ms = now;
		n->logged = 0;
	}
	if (n->logged >= DENIED_LOG_BURST) {
		n->suppressed++;
		return;
	}
	n->logged++;
	daemon_log_dns_denied(n->s->request_id[0] ? n->s->request_id : NULL, n->s->id, name, n->suppressed);
	n->suppressed = 0;
}

static void on_dns(struct loop_io *io, const char *err)
{
	struct session_net *n = loop_io_data(io);
	LOG_CTX_SCOPE(n->s->request_id[0] ? n->s->request_id : NULL, n->s->id);
	uint64_t now = daemon_now_ms();
	for (int i = 0; i < n->n_fds; i++)
		if (n->io[i] == io)
			dns_forwarder_handle(n->fwd, n->fds[i], now);
	n->check_at = now; /* a query may wait now: the tick looks */
}

static void forwarder_stop(struct session_net *n)
{
	for (int i = 0; i < n->n_fds; i++)
		if (n->io[i])
			loop_io_close(n->io[i]);
	n->n_fds = 0;
	dns_forwarder_free(n->fwd);
	n->fwd = NULL;
	if (list_linked(&n->link))
		list_unlink(&n->link);
}

static int forwarder_start(struct session_net *n, struct wd_error *err)
{
	struct dns_forwarder_config c = {
		.resolvers = n->egress->resolvers, .n_resolvers = n->egress->n_resolvers, .allow = &n->allow,
		.learn = learn, .forget = forget, .denied = denied, .ctx = n,
	};
	/* a copy: the sandbox keeps its own for its init to hold (kept
	 * sessions' queries wait on it while no daemon runs) */
	int fd = fcntl(n->egress->dns_fd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return wd_fail(err, 503, "the sandbox's DNS forwarder: %s", strerror(errno));
	wr_error e = { 0 };
	if (dns_forwarder_new(&c, fd, &n->fwd, &e) < 0)
		return wd_fail(err, 503, "the sandbox's DNS forwarder: %s", e.message);
	n->n_fds = dns_forwarder_fds(n->fwd, n->fds);
	for (int i = 0; i < n->n_fds; i++) {
		int dup = fcntl(n->fds[i], F_DUPFD_CLOEXEC, 3);
		if (dup < 0 || !(n->io[i] = loop_io_new(dup, LOOP_IO_NOTIFY, n))) {
			forwarder_stop(n);
			return wd_fail(err, 503, "serve the sandbox's DNS forwarder: out of file descriptors");
		}
		loop_io_read_start(n->io[i], on_dns);
	}
	n->check_at = UINT64_MAX;
	list_insert(&attached, &n->link);
	return 0;
}

int session_net_attach(struct session *s, struct wd_error *err)
{
	struct session_net *n = s->net;
	if (!n || n->mode != NET_EGRESS)
		return 0;
	if (!(n->egress = box_net(s->box)))
		return wd_fail(err, 503, "the sandbox has no egress link (its backend made none)");
	if (n->narrowed) {
		struct policy_network net;
		struct net_rules_sandbox view;
		wr_error e = { 0 };
		rules_view(n, &net, &view);
		if (net_rules_update(&view, &e) < 0)
			return wd_fail(err, 503, "apply the session's allowlist: %s", e.message);
	}
	return forwarder_start(n, err);
}

void session_net_detach(struct session *s)
{
	if (!s->net)
		return;
	forwarder_stop(s->net);
	s->net->egress = NULL;
}

void session_net_free(struct session *s)
{
	if (!s->net)
		return;
	session_net_detach(s);
	allow_free(&s->net->allow);
	free(s->net);
	s->net = NULL;
}

void session_nets_tick(uint64_t now)
{
	for (struct list *l = attached.next; l != &attached; l = l->next) {
		struct session_net *n = LIST_ENTRY(struct session_net, link, l);
		if (now < n->check_at)
			continue;
		LOG_CTX_SCOPE(n->s->request_id[0] ? n->s->request_id : NULL, n->s->id);
		dns_forwarder_expire(n->fwd, now);
		int wait = dns_forwarder_next_timeout(n->fwd, now);
		n->check_at = wait < 0 ? UINT64_MAX : now + (uint64_t)wait;
	}
}

/* ---- live ------------------------------------------------------------------------ */

int session_set_allow(struct session *s, char *const *texts, size_t count, struct wd_error *err)
{
	struct session_net *n = s->net;
	if (!n || n->mode != NET_EGRESS)
		return wd_fail(err, 409, "session %s has no network egress (its network is \"%s\"): an allowlist "
			       "applies to egress sessions", s->id, n ? policy_net_mode_name(n->mode) : "none");
	if (session_check_alive(s, err) < 0)
		return -err->cause.code;
	wr_error e = { 0 };
	struct net_allow fresh, old = n->allow;
	if (policy_allow_narrowed(pool_policy(s->pool), texts, count, "network.allow:", &fresh, &e) < 0)
		return wd_fail(err, 400, "%s", e.message);
	n->allow = fresh;
	struct policy_network net;
	struct net_rules_sandbox view;
	rules_view(n, &net, &view);
	if (net_rules_update(&view, &e) < 0) {
		n->allow = old;
		free(fresh.v);
		return wd_fail(err, 503, "change the allowlist: %s", e.message);
	}
	/* the forwarder borrows the list: the old one goes once it has the new */
	dns_forwarder_set_allow(n->fwd, &n->allow, daemon_now_ms());
	free(old.v);
	n->narrowed = true;
	session_record_write(s); /* a restart keeps the new list */
	return 0;
}

/* ---- records (warrend(8) RESTARTS) ---------------------------------------------- */

json_t *session_net_allow_json(const struct net_allow *allow)
{
	json_t *a = json_array();
	char text[ALLOW_NAME_MAX + 8];
	for (size_t i = 0; a && i < allow->n; i++) {
		allow_entry_format(&allow->v[i], text, sizeof text);
		json_array_append_new(a, json_string(text));
	}
	return a;
}

void session_net_save(const struct session *s, json_t *record)
{
	/* the session's own list (a PATCHed one too): the pool's policy may
	 * allow more than the session has */
	if (record && s->net && s->net->mode == NET_EGRESS)
		json_object_set_new(record, "network_allow", session_net_allow_json(&s->net->allow));
}

int session_net_request_of(json_t *record, struct network_request *r, char ***texts, char *why, size_t len)
{
	const char *mode = json_string_value(json_object_get(record, "network"));
	json_t *allow = json_object_get(record, "network_allow");
	*r = (struct network_request){ .has_mode = true, .mode = NET_NONE };
	*texts = NULL;
	if (mode && !strcmp(mode, policy_net_mode_name(NET_NONE)))
		return 0;
	if (!mode || strcmp(mode, policy_net_mode_name(NET_EGRESS)) || !json_is_array(allow))
		return snprintf(why, len, "network %s%s does not outlive warrend", mode ? mode : "(none)",
				mode && !json_is_array(allow) ? " without its allowlist" : ""), -ENOTSUP;
	size_t n = json_array_size(allow);
	if (!(*texts = calloc(n + 1, sizeof **texts)))
		return snprintf(why, len, "out of memory"), -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!((*texts)[i] = (char *)json_string_value(json_array_get(allow, i))))
			return snprintf(why, len, "its allowlist is malformed"), -EBADMSG;
	*r = (struct network_request){ .has_mode = true, .mode = NET_EGRESS, .has_allow = true, .allow = *texts,
				       .n_allow = n };
	return 0;
}

void session_network_info(const struct session *s, struct session_network_info *out)
{
	const struct session_net *n = s->net;
	*out = (struct session_network_info){ .mode = policy_net_mode_name(n ? n->mode : NET_NONE) };
	if (!n || n->mode != NET_EGRESS)
		return;
	out->allow = &n->allow;
	if (n->egress) {
		inet_ntop(AF_INET, n->egress->addr4, out->address, sizeof out->address);
		if (n->egress->has6)
			inet_ntop(AF_INET6, n->egress->addr6, out->address6, sizeof out->address6);
	}
}

void sessions_net_foreach(void (*fn)(const struct session_net_stats *st, void *data), void *data)
{
	if (list_empty(&attached))
		return;
	_cleanup_free_ struct net_slot_counters *all = NULL;
	size_t n_all = 0;
	wr_error e = { 0 };
	if (net_rules_counters_all(&all, &n_all, &e) < 0)
		daemon_log("metrics: the egress counters: %s", e.message);
	for (struct list *l = attached.next; l != &attached; l = l->next) {
		const struct session_net *n = LIST_ENTRY(struct session_net, link, l);
		struct dns_forwarder_stats dns = dns_forwarder_stats(n->fwd);
		struct session_net_stats st = { .session_id = n->s->id, .dns_queries = dns.queries,
						.dns_denied = dns.denied };
		for (size_t i = 0; i < n_all; i++)
			if (all[i].slot == n->egress->slot) {
				const struct net_counters *c = &all[i].c;
				st.out_bytes = c->out_bytes;
				st.in_bytes = c->in_bytes;
				st.connections = c->new_connections;
				st.denied_packets = c->denied_packets;
				st.denied_bytes = c->denied_bytes;
			}
		fn(&st, data);
	}
}
