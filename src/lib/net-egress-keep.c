/* An egress sandbox that outlives warrend (net-egress.h): what its record
 * says of its link, and taking it back with the slot lock and resolver
 * socket its init held while no daemon ran (init-protocol.h
 * INIT_REQ_KEEP). Both fds come from the sandbox's init: untrusted until
 * each is shown to be what the record says. */
#include "config.h"
#include "net-egress.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/sockios.h>
#include <jansson.h>

#include "cleanup.h"
#include "net-rules.h"

static json_t *address_json(int family, const uint8_t *addr)
{
	char text[INET6_ADDRSTRLEN];
	return json_string(inet_ntop(family, addr, text, sizeof text));
}

json_t *net_egress_save(const struct net_egress *n)
{
	if (n->lock_fd < 0)
		return json_null();
	json_t *resolvers = json_array();
	for (size_t i = 0; resolvers && i < n->n_resolvers; i++) {
		char text[64];
		net_endpoint_format(&n->resolvers[i], text, sizeof text);
		json_array_append_new(resolvers, json_string(text));
	}
	return json_pack("{s:i, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "slot", (int)n->slot, "link", n->link, "egress",
			 n->egress, "host4", address_json(AF_INET, n->host4), "addr4", address_json(AF_INET, n->addr4),
			 "host6", n->has6 ? address_json(AF_INET6, n->host6) : json_null(), "addr6",
			 n->has6 ? address_json(AF_INET6, n->addr6) : json_null(), "resolvers", resolvers);
}

static int address_parse(const char *text, int family, uint8_t *out)
{
	return text && inet_pton(family, text, out) == 1 ? 0 : -EBADMSG;
}

/* The record's fields into n (no fds yet). */
static int saved_parse(const json_t *saved, struct net_egress *n, wr_error *e)
{
	json_error_t je;
	int slot;
	const char *link, *egress, *host4, *addr4;
	json_t *resolvers, *v6[2] = { NULL, NULL };
	if (json_unpack_ex((json_t *)saved, &je, JSON_STRICT, "{s:i, s:s, s:s, s:s, s:s, s?o, s?o, s:o}", "slot", &slot,
			   "link", &link, "egress", &egress, "host4", &host4, "addr4", &addr4, "host6", &v6[0], "addr6",
			   &v6[1], "resolvers", &resolvers) < 0)
		return wr_error_set(e, EBADMSG, "its egress in the record: %s", je.text);
	const char *host6 = json_string_value(v6[0]), *addr6 = json_string_value(v6[1]);
	n->has6 = host6 && addr6;
	if (slot < 0 || slot >= NET_SLOTS_MAX || strlen(egress) >= sizeof n->egress || !json_is_array(resolvers) ||
	    json_array_size(resolvers) > POLICY_MAX_RESOLVERS || address_parse(host4, AF_INET, n->host4) < 0 ||
	    address_parse(addr4, AF_INET, n->addr4) < 0 || (!host6 != !addr6) ||
	    (n->has6 && (address_parse(host6, AF_INET6, n->host6) < 0 || address_parse(addr6, AF_INET6, n->addr6) < 0)))
		return wr_error_set(e, EBADMSG, "its egress in the record holds values out of range");
	n->slot = (unsigned)slot;
	snprintf(n->link, sizeof n->link, "wrn%u", n->slot);
	if (strcmp(link, n->link))
		return wr_error_set(e, EBADMSG, "its egress link %s is not its slot's (%s)", link, n->link);
	snprintf(n->egress, sizeof n->egress, "%s", egress);
	for (size_t i = 0; i < json_array_size(resolvers); i++) {
		const char *why;
		const char *text = json_string_value(json_array_get(resolvers, i));
		if (!text || net_endpoint_parse(text, &n->resolvers[i], &why) < 0)
			return wr_error_set(e, EBADMSG, "its egress in the record names a bad resolver");
		n->n_resolvers++;
	}
	return 0;
}

/* The fd is the host's slot lock file and holds (or now takes) byte
 * `slot`: nobody else owns the sandbox's link and rules. */
static int check_slot_lock(int fd, unsigned slot, wr_error *e)
{
	struct stat held, file;
	if (fstat(fd, &held) < 0 || stat(NET_SLOTS_LOCK_FILE, &file) < 0 || held.st_dev != file.st_dev ||
	    held.st_ino != file.st_ino)
		return wr_error_set(e, EBADF, "what its init held for its egress slot is not %s", NET_SLOTS_LOCK_FILE);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = slot, .l_len = 1 };
	if (fcntl(fd, F_OFD_SETLK, &fl) < 0)
		return wr_error_set(e, errno, "its egress slot %u is another sandbox's", slot);
	return 0;
}

/* The fd is a UDP socket bound to NET_DNS_ADDRESS:53 in the network
 * namespace of the sandbox whose init is `pid`. */
static int check_resolver_socket(int fd, pid_t pid, wr_error *e)
{
	int domain = 0, type = 0;
	socklen_t len = sizeof domain;
	struct sockaddr_in sa = { 0 }, want = { .sin_family = AF_INET, .sin_port = htons(53) };
	inet_pton(AF_INET, NET_DNS_ADDRESS, &want.sin_addr);
	socklen_t salen = sizeof sa;
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_INET ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &(socklen_t){ sizeof type }) < 0 || type != SOCK_DGRAM ||
	    getsockname(fd, (struct sockaddr *)&sa, &salen) < 0 || sa.sin_port != want.sin_port ||
	    sa.sin_addr.s_addr != want.sin_addr.s_addr)
		return wr_error_set(e, EBADF, "what its init held for its resolver is not a socket on %s:53",
				    NET_DNS_ADDRESS);
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
	_cleanup_close_ int ns = ioctl(fd, SIOCGSKNS);
	struct stat of_socket, of_init;
	if (ns < 0 || fstat(ns, &of_socket) < 0 || stat(path, &of_init) < 0 || of_socket.st_ino != of_init.st_ino ||
	    of_socket.st_dev != of_init.st_dev)
		return wr_error_set(e, EBADF, "its resolver's socket is not in its network namespace");
	return 0;
}

int net_egress_adopt(const json_t *saved, pid_t pid, int *held, int n_held, struct net_egress *n, wr_error *e)
{
	*n = (struct net_egress){ .lock_fd = -1, .dns_fd = -1 };
	if (n_held != 2)
		return wr_error_set(e, ENOENT, "its init holds no egress slot and resolver socket (%d fds)", n_held);
	int r = saved_parse(saved, n, e);
	if (r < 0 || (r = check_slot_lock(held[0], n->slot, e)) < 0 || (r = check_resolver_socket(held[1], pid, e)) < 0)
		return r;
	if (!if_nametoindex(n->link))
		return wr_error_set(e, ENODEV, "its egress link %s is gone", n->link);
	/* what the old forwarder let through goes: the new one does not know
	 * which names it was for, and a PATCH must be able to take it back
	 * (connections open go on); this fails too when its rules are gone */
	if ((r = net_rules_forget_all(n->slot, e)) < 0)
		return r;
	n->lock_fd = held[0];
	n->dns_fd = held[1];
	held[0] = held[1] = -1;
	n->rules = true; /* removed with it from now on */
	return 0;
}
