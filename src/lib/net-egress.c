#include "config.h"
#include "net-egress.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/if_addr.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/tbf.h>
#include <netlink/route/route.h>

#include "cleanup.h"
#include "net-rules.h"
#include "net.h"

#define SANDBOX_IFNAME "eth0"

static void nl_sock_freep(struct nl_sock **sk) { if (*sk) nl_socket_free(*sk); }
#define _cleanup_nl_sock_ _cleanup_(nl_sock_freep)

/* ---- slots ----------------------------------------------------------------- */

static int open_slots_file(wr_error *e)
{
	mkdir("/run/warren", 0755);
	int fd = open(NET_SLOTS_LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return wr_error_set(e, errno, "open %s", NET_SLOTS_LOCK_FILE);
	return fd;
}

/* An OFD lock on byte `slot`: 1 when taken, 0 when another holds it. */
static int try_slot(int fd, unsigned slot)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = slot, .l_len = 1 };
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 1;
	return errno == EAGAIN || errno == EACCES ? 0 : -errno;
}

static void release_slot(int fd, unsigned slot)
{
	struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = slot, .l_len = 1 };
	fcntl(fd, F_OFD_SETLK, &fl);
}

/* How many /31 (and /127) pairs the pools hold, at most NET_SLOTS_MAX. */
static unsigned pool_slots(const struct policy_network *net)
{
	unsigned bits = 32 - net->pool.prefix - 1;
	unsigned n = bits >= 16 ? NET_SLOTS_MAX : 1u << bits;
	if (net->pool6.family) {
		unsigned bits6 = 128 - net->pool6.prefix - 1;
		if (bits6 < 16 && (1u << bits6) < n)
			n = 1u << bits6;
	}
	return n;
}

static int acquire_slot(const struct policy_network *net, struct net_egress *n, wr_error *e)
{
	_cleanup_close_ int fd = open_slots_file(e);
	if (fd < 0)
		return fd;
	unsigned count = pool_slots(net);
	for (unsigned slot = 0; slot < count; slot++) {
		int r = try_slot(fd, slot);
		if (r < 0)
			return wr_error_set(e, -r, "lock %s", NET_SLOTS_LOCK_FILE);
		if (r) {
			n->slot = slot;
			n->lock_fd = TAKE_FD(fd);
			return 0;
		}
	}
	return wr_error_set(e, EAGAIN, "all %u addresses of the pool are in use", count);
}

/* The K-th pair of a pool: the host's side is even, the sandbox's odd.
 * pool_slots keeps K inside the pool, so the sum never carries past it. */
static void pair_address(const struct net_cidr *pool, unsigned slot, uint8_t *host, uint8_t *sandbox)
{
	size_t len = pool->family == AF_INET ? 4 : 16;
	uint64_t low = 0;
	for (size_t i = len - 4; i < len; i++)
		low = low << 8 | pool->addr[i];
	low += (uint64_t)slot * 2;
	memcpy(host, pool->addr, len);
	for (size_t i = len; i-- > len - 4; low >>= 8)
		host[i] = (uint8_t)low;
	memcpy(sandbox, host, len);
	sandbox[len - 1] |= 1;
}

/* ---- the host's defaults ---------------------------------------------------- */

/* The interface of the IPv4 default route with the lowest metric. */
static int default_route_interface(char *out, size_t len, wr_error *e)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/net/route", "re");
	if (!f)
		return wr_error_set(e, errno, "/proc/net/route");
	char line[256], ifname[32];
	unsigned long dest, mask, metric, best = ~0UL;
	unsigned flags;
	out[0] = '\0';
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%31s %lx %*x %x %*d %*d %lu %lx", ifname, &dest, &flags, &metric, &mask) == 5 &&
		    dest == 0 && mask == 0 && (flags & 1) && metric < best && strlen(ifname) < len) {
			best = metric;
			snprintf(out, len, "%s", ifname);
		}
	if (!out[0])
		return wr_error_set(e, ENOENT, "no IPv4 default route to send egress traffic by (set network.interface)");
	return 0;
}

/* The host's resolvers, from /etc/resolv.conf. */
static int host_resolvers(struct net_endpoint *out, size_t *n, wr_error *e)
{
	_cleanup_fclose_ FILE *f = fopen("/etc/resolv.conf", "re");
	char line[256], addr[128];
	*n = 0;
	while (f && fgets(line, sizeof line, f) && *n < POLICY_MAX_RESOLVERS) {
		const char *why;
		if (sscanf(line, " nameserver %127s", addr) == 1 && net_endpoint_parse(addr, &out[*n], &why) == 0)
			(*n)++;
	}
	if (*n == 0)
		return wr_error_set(e, ENOENT, "no resolver for the sandbox's DNS forwarder to ask: /etc/resolv.conf "
				    "names none (set network.resolvers)");
	return 0;
}

static int read_sysctl(const char *path, char *v)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd >= 0 && read(fd, v, 1) == 1 ? 0 : -errno;
}

static int write_sysctl(const char *path, const char *value, wr_error *e)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, value, strlen(value)) != (ssize_t)strlen(value))
		return wr_error_set(e, errno, "write %s", path);
	return 0;
}

/* ---- netlink ------------------------------------------------------------------ */

static int nl_open(struct nl_sock **out, wr_error *e)
{
	struct nl_sock *sk = nl_socket_alloc();
	int err;
	if (!sk)
		return wr_error_set(e, ENOMEM, "netlink socket");
	if ((err = nl_connect(sk, NETLINK_ROUTE)) < 0) {
		nl_socket_free(sk);
		return wr_error_set(e, 0, "netlink connect: %s", nl_geterror(err));
	}
	*out = sk;
	return 0;
}

static int delete_link(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *l = rtnl_link_alloc();
	if (!l)
		return -ENOMEM;
	rtnl_link_set_name(l, name);
	int err = rtnl_link_delete(sk, l);
	rtnl_link_put(l);
	return err;
}

static int create_veth(struct nl_sock *sk, const char *name, int netns_fd, wr_error *e)
{
	struct rtnl_link *l = rtnl_link_veth_alloc();
	if (!l)
		return wr_error_set(e, ENOMEM, "veth");
	struct rtnl_link *peer = rtnl_link_veth_get_peer(l);
	rtnl_link_set_name(l, name);
	rtnl_link_set_name(peer, SANDBOX_IFNAME);
	rtnl_link_set_ns_fd(peer, netns_fd);
	int err = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	rtnl_link_put(peer);
	rtnl_link_veth_release(l);
	if (err < 0)
		return wr_error_set(e, 0, "create the veth pair %s: %s", name, nl_geterror(err));
	return 0;
}

static int add_address(struct nl_sock *sk, int ifindex, int family, const uint8_t *addr, const char *ifname, wr_error *e)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local = nl_addr_build(family, addr, family == AF_INET ? 4 : 16);
	int err = -NLE_NOMEM;
	if (a && local) {
		nl_addr_set_prefixlen(local, family == AF_INET ? 31 : 127);
		rtnl_addr_set_ifindex(a, ifindex);
		rtnl_addr_set_local(a, local);
		if (family == AF_INET6) /* no duplicate detection: the address is usable at once */
			rtnl_addr_set_flags(a, IFA_F_NODAD);
		err = rtnl_addr_add(sk, a, 0);
	}
	nl_addr_put(local);
	rtnl_addr_put(a);
	if (err < 0) {
		char text[INET6_ADDRSTRLEN];
		inet_ntop(family, addr, text, sizeof text);
		return wr_error_set(e, 0, "add %s to %s: %s", text, ifname, nl_geterror(err));
	}
	return 0;
}

static int add_default_route(struct nl_sock *sk, int ifindex, int family, const uint8_t *gateway, wr_error *e)
{
	static const uint8_t any[16];
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst = nl_addr_build(family, any, family == AF_INET ? 4 : 16);
	struct nl_addr *gw = nl_addr_build(family, gateway, family == AF_INET ? 4 : 16);
	int err = -NLE_NOMEM;
	if (r && nh && dst && gw) {
		nl_addr_set_prefixlen(dst, 0);
		rtnl_route_set_family(r, (uint8_t)family);
		rtnl_route_set_dst(r, dst);
		rtnl_route_set_table(r, RT_TABLE_MAIN);
		rtnl_route_set_protocol(r, RTPROT_STATIC);
		rtnl_route_set_scope(r, RT_SCOPE_UNIVERSE);
		rtnl_route_nh_set_ifindex(nh, ifindex);
		rtnl_route_nh_set_gateway(nh, gw);
		rtnl_route_add_nexthop(r, nh);
		nh = NULL; /* the route owns it now */
		err = rtnl_route_add(sk, r, NLM_F_CREATE);
	}
	if (nh)
		rtnl_route_nh_free(nh);
	nl_addr_put(dst);
	nl_addr_put(gw);
	rtnl_route_put(r);
	if (err < 0)
		return wr_error_set(e, 0, "the sandbox's default route: %s", nl_geterror(err));
	return 0;
}

/* A token bucket at `rate` bytes per second on what `ifindex` sends. */
static int limit_rate(struct nl_sock *sk, int ifindex, uint64_t rate, const char *ifname, wr_error *e)
{
	struct rtnl_qdisc *q = rtnl_qdisc_alloc();
	if (!q)
		return wr_error_set(e, ENOMEM, "qdisc");
	int bucket = (int)(rate / 10 > 16384 ? rate / 10 : 16384);
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	int err = rtnl_tc_set_kind(TC_CAST(q), "tbf");
	if (err == 0) {
		rtnl_qdisc_tbf_set_rate(q, (int)rate, bucket, 0);
		rtnl_qdisc_tbf_set_limit(q, bucket + (int)(rate / 20)); /* ~50 ms of queue */
		err = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_REPLACE);
	}
	rtnl_qdisc_put(q);
	if (err < 0)
		return wr_error_set(e, 0, "limit the bandwidth of %s: %s", ifname, nl_geterror(err));
	return 0;
}

/* A netlink socket and the DNS socket in the sandbox's namespace (they
 * stay there wherever we are), and its interface's index. Only this
 * thread moves, and it comes straight back. */
static int open_in_sandbox(pid_t pid, struct nl_sock **sk, int *dns_fd, int *ifindex, wr_error *e)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
	_cleanup_close_ int target = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_close_ int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (target < 0 || self < 0)
		return wr_error_set(e, errno, "open %s", target < 0 ? path : "/proc/thread-self/ns/net");
	if (setns(target, CLONE_NEWNET) < 0)
		return wr_error_set(e, errno, "enter the sandbox's network namespace");
	wr_error inside = { 0 };
	int r = nl_open(sk, &inside);
	if (r == 0 && (*dns_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		r = wr_error_set(&inside, errno, "socket for the sandbox's resolver");
	if (r == 0 && !(*ifindex = (int)if_nametoindex(SANDBOX_IFNAME)))
		r = wr_error_set(&inside, errno, "the sandbox's %s", SANDBOX_IFNAME);
	if (setns(self, CLONE_NEWNET) < 0)
		abort(); /* never go on in the sandbox's namespace */
	if (r < 0)
		*e = inside;
	return r;
}

/* ---- setup and teardown ----------------------------------------------------------- */

static int bind_dns(int fd, wr_error *e)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53) };
	inet_pton(AF_INET, NET_DNS_ADDRESS, &sa.sin_addr);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return wr_error_set(e, errno, "bind the sandbox's resolver to " NET_DNS_ADDRESS ":53");
	return 0;
}

/* Inside: lo and eth0 up, the addresses, the default routes, the upload
 * limit, the resolver's socket. */
static int configure_sandbox_side(const struct policy *p, pid_t pid, struct net_egress *n, wr_error *e)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	_cleanup_close_ int dns = -1;
	int ifindex, r;
	if ((r = open_in_sandbox(pid, &sk, &dns, &ifindex, e)) < 0)
		return r;
	if ((r = net_link_set_up(sk, 1, "lo", e)) < 0 ||
	    (r = add_address(sk, ifindex, AF_INET, n->addr4, SANDBOX_IFNAME, e)) < 0 ||
	    (n->has6 && (r = add_address(sk, ifindex, AF_INET6, n->addr6, SANDBOX_IFNAME, e)) < 0) ||
	    (r = net_link_set_up(sk, ifindex, SANDBOX_IFNAME, e)) < 0 ||
	    (r = add_default_route(sk, ifindex, AF_INET, n->host4, e)) < 0 ||
	    (n->has6 && (r = add_default_route(sk, ifindex, AF_INET6, n->host6, e)) < 0) ||
	    (p->net.bandwidth && (r = limit_rate(sk, ifindex, p->net.bandwidth, "the sandbox's eth0", e)) < 0) ||
	    (r = bind_dns(dns, e)) < 0)
		return r;
	n->dns_fd = TAKE_FD(dns);
	return 0;
}

static int configure_host_side(const struct policy *p, struct nl_sock *sk, struct net_egress *n, wr_error *e)
{
	char path[96];
	int ifindex = (int)if_nametoindex(n->link), r;
	if (!ifindex)
		return wr_error_set(e, errno, "%s", n->link);
	if ((r = add_address(sk, ifindex, AF_INET, n->host4, n->link, e)) < 0 ||
	    (n->has6 && (r = add_address(sk, ifindex, AF_INET6, n->host6, n->link, e)) < 0))
		return r;
	snprintf(path, sizeof path, "/proc/sys/net/ipv4/conf/%s/forwarding", n->link);
	if ((r = write_sysctl(path, "1", e)) < 0)
		return r;
	if (p->net.bandwidth && (r = limit_rate(sk, ifindex, p->net.bandwidth, n->link, e)) < 0)
		return r;
	return net_link_set_up(sk, ifindex, n->link, e);
}

void net_egress_rules_view(const struct net_egress *n, const struct policy_network *net, struct net_rules_sandbox *out)
{
	*out = (struct net_rules_sandbox){ .slot = n->slot, .has6 = n->has6, .net = net };
	memcpy(out->link, n->link, sizeof out->link);
	memcpy(out->egress, n->egress, sizeof out->egress);
	memcpy(out->addr4, n->addr4, 4);
	memcpy(out->addr6, n->addr6, 16);
}

/* What a dead owner left of `slot`: its link (if its sandbox's namespace
 * still holds it) and its rules. Under the rules' lock. */
static int clean_slot(struct nl_sock *sk, unsigned slot, wr_error *e)
{
	char link[16];
	snprintf(link, sizeof link, "wrn%u", slot);
	delete_link(sk, link);
	return net_rules_remove(slot, e);
}

/* Under the rules' lock: every slot with chains or a link whose lock
 * is free. */
static int sweep_locked(struct nl_sock *sk, wr_error *e)
{
	_cleanup_free_ unsigned *slots = NULL;
	size_t n = 0;
	int r = net_rules_slots(&slots, &n, e);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = open_slots_file(e);
	if (fd < 0)
		return fd;
	struct if_nameindex *links = if_nameindex();
	int swept = 0;
	for (size_t i = 0; links && links[i].if_index; i++) {
		unsigned slot;
		char rest;
		if (sscanf(links[i].if_name, "wrn%u%c", &slot, &rest) == 1 && try_slot(fd, slot) == 1) {
			release_slot(fd, slot);
			/* checked again below with the rules; the link goes now */
			char name[16];
			snprintf(name, sizeof name, "wrn%u", slot);
			delete_link(sk, name);
			swept++;
		}
	}
	if (links)
		if_freenameindex(links);
	for (size_t i = 0; i < n; i++) {
		if (try_slot(fd, slots[i]) != 1)
			continue;
		r = clean_slot(sk, slots[i], e);
		release_slot(fd, slots[i]);
		if (r < 0)
			return r;
		swept++;
	}
	return swept;
}

int net_egress_sweep(wr_error *e)
{
	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	int r = nl_open(&sk, e);
	if (r < 0)
		return r;
	_cleanup_close_ int lock = net_rules_lock(e);
	if (lock < 0)
		return lock;
	int swept = sweep_locked(sk, e);
	if (swept < 0)
		return swept;
	r = net_rules_remove_if_unused(e);
	return r < 0 ? r : swept;
}

/* The host's side: the slot's leftovers gone, the rules in, the veth pair
 * made and addressed, forwarding on; under the rules' lock. */
static int setup_host(const struct policy *p, pid_t pid, struct nl_sock *sk, struct net_egress *n, wr_error *e)
{
	_cleanup_close_ int lock = net_rules_lock(e);
	if (lock < 0)
		return lock;
	int r = sweep_locked(sk, e);
	if (r < 0 || (r = clean_slot(sk, n->slot, e)) < 0)
		return r;
	struct net_rules_sandbox view;
	net_egress_rules_view(n, &p->net, &view);
	if ((r = net_rules_add(&view, e)) < 0)
		return r;
	n->rules = true;
	if ((r = net_rules_enable_forwarding(n->egress, e)) < 0)
		return r;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
	_cleanup_close_ int netns = open(path, O_RDONLY | O_CLOEXEC);
	if (netns < 0)
		return wr_error_set(e, errno, "open %s", path);
	if ((r = create_veth(sk, n->link, netns, e)) < 0)
		return r;
	return configure_host_side(p, sk, n, e);
}

static int check_host(const struct policy *p, struct net_egress *n, wr_error *e)
{
	const struct policy_network *net = &p->net;
	int r;
	if (geteuid() != 0)
		return wr_error_set(e, EPERM, "network egress needs root (it adds a link and firewall rules to the host)");
	if (net->interface[0])
		snprintf(n->egress, sizeof n->egress, "%s", net->interface);
	else if ((r = default_route_interface(n->egress, sizeof n->egress, e)) < 0)
		return r;
	if (!if_nametoindex(n->egress))
		return wr_error_set(e, ENODEV, "the egress interface %s does not exist (network.interface)", n->egress);
	if (net->pool6.family) {
		char v = '0';
		read_sysctl("/proc/sys/net/ipv6/conf/all/forwarding", &v);
		if (v != '1')
			return wr_error_set(e, EPERM, "IPv6 egress (network.pool6) needs the host to forward IPv6 "
					    "(net.ipv6.conf.all.forwarding=1), which warren does not turn on: it changes "
					    "how every interface takes router advertisements");
	}
	if (net->n_resolvers) {
		memcpy(n->resolvers, net->resolvers, sizeof n->resolvers);
		n->n_resolvers = net->n_resolvers;
		return 0;
	}
	return host_resolvers(n->resolvers, &n->n_resolvers, e);
}

int net_egress_setup(const struct policy *p, pid_t pid, struct net_egress *n, wr_error *e)
{
	*n = (struct net_egress){ .lock_fd = -1, .dns_fd = -1 };
	int r = check_host(p, n, e);
	if (r < 0 || (r = acquire_slot(&p->net, n, e)) < 0)
		return r;
	snprintf(n->link, sizeof n->link, "wrn%u", n->slot);
	pair_address(&p->net.pool, n->slot, n->host4, n->addr4);
	if ((n->has6 = p->net.pool6.family == AF_INET6))
		pair_address(&p->net.pool6, n->slot, n->host6, n->addr6);

	_cleanup_nl_sock_ struct nl_sock *sk = NULL;
	if ((r = nl_open(&sk, e)) < 0 || (r = setup_host(p, pid, sk, n, e)) < 0 ||
	    (r = configure_sandbox_side(p, pid, n, e)) < 0) {
		net_egress_teardown(n, NULL);
		return r;
	}
	return 0;
}

int net_egress_teardown(struct net_egress *n, wr_error *e)
{
	if (n->lock_fd < 0)
		return 0;
	int r = 0;
	/* The link is not deleted here: it goes with the sandbox's namespace,
	 * which the kernel tears down once init is gone and nothing holds it
	 * (this socket was the last). Deleting it ourselves waits out an RCU
	 * grace period, most of an egress sandbox's cost (~16 ms here); a slot
	 * reused before the kernel is done deletes the old link (clean_slot). */
	closep(&n->dns_fd);
	n->dns_fd = -1;
	if (n->rules) {
		_cleanup_close_ int lock = net_rules_lock(e);
		r = lock < 0 ? lock : net_rules_remove(n->slot, e);
		n->rules = false;
	}
	close(n->lock_fd);
	n->lock_fd = -1;
	return r;
}

void net_egress_describe(const struct net_egress *n, char *buf, size_t len)
{
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN] = "";
	inet_ntop(AF_INET, n->addr4, a4, sizeof a4);
	if (n->has6)
		inet_ntop(AF_INET6, n->addr6, a6, sizeof a6);
	snprintf(buf, len, "sandbox address %s%s%s on link %s, out by %s", a4, n->has6 ? " and " : "", a6, n->link,
		 n->egress);
}
