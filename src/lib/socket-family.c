#include "config.h"
#include "socket-family.h"

#include <linux/netlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"

#define NL(name, proto) { "netlink_" name, AF_NETLINK, proto }

/* Every family a current kernel implements, by its AF_ name in lower case;
 * netlink split by protocol, since NETLINK_ROUTE (interface listing) and
 * NETLINK_AUDIT or NETLINK_KOBJECT_UEVENT (host-wide event streams) are
 * worlds apart. Families the kernel dropped (decnet, irda, econet) are
 * left out: asking for them would be a typo or a hope. */
const struct socket_family socket_families[] = {
	{ "unix", AF_UNIX, -1 },
	{ "inet", AF_INET, -1 },
	{ "inet6", AF_INET6, -1 },
	NL("route", NETLINK_ROUTE),
	NL("usersock", NETLINK_USERSOCK),
	NL("sock_diag", NETLINK_SOCK_DIAG),
	NL("nflog", NETLINK_NFLOG),
	NL("xfrm", NETLINK_XFRM),
	NL("selinux", NETLINK_SELINUX),
	NL("iscsi", NETLINK_ISCSI),
	NL("audit", NETLINK_AUDIT),
	NL("fib_lookup", NETLINK_FIB_LOOKUP),
	NL("connector", NETLINK_CONNECTOR),
	NL("netfilter", NETLINK_NETFILTER),
	NL("ip6_fw", NETLINK_IP6_FW),
	NL("dnrtmsg", NETLINK_DNRTMSG),
	NL("kobject_uevent", NETLINK_KOBJECT_UEVENT),
	NL("generic", NETLINK_GENERIC),
	NL("scsitransport", NETLINK_SCSITRANSPORT),
	NL("ecryptfs", NETLINK_ECRYPTFS),
	NL("rdma", NETLINK_RDMA),
	NL("crypto", NETLINK_CRYPTO),
	NL("smc", NETLINK_SMC),
	{ "ax25", AF_AX25, -1 },
	{ "ipx", AF_IPX, -1 },
	{ "appletalk", AF_APPLETALK, -1 },
	{ "netrom", AF_NETROM, -1 },
	{ "bridge", AF_BRIDGE, -1 },
	{ "atmpvc", AF_ATMPVC, -1 },
	{ "x25", AF_X25, -1 },
	{ "rose", AF_ROSE, -1 },
	{ "key", AF_KEY, -1 },
	{ "packet", AF_PACKET, -1 },
	{ "atmsvc", AF_ATMSVC, -1 },
	{ "rds", AF_RDS, -1 },
	{ "pppox", AF_PPPOX, -1 },
	{ "llc", AF_LLC, -1 },
	{ "ib", AF_IB, -1 },
	{ "mpls", AF_MPLS, -1 },
	{ "can", AF_CAN, -1 },
	{ "tipc", AF_TIPC, -1 },
	{ "bluetooth", AF_BLUETOOTH, -1 },
	{ "iucv", AF_IUCV, -1 },
	{ "rxrpc", AF_RXRPC, -1 },
	{ "isdn", AF_ISDN, -1 },
	{ "phonet", AF_PHONET, -1 },
	{ "ieee802154", AF_IEEE802154, -1 },
	{ "caif", AF_CAIF, -1 },
	{ "alg", AF_ALG, -1 },
	{ "nfc", AF_NFC, -1 },
	{ "vsock", AF_VSOCK, -1 },
	{ "kcm", AF_KCM, -1 },
	{ "qipcrtr", AF_QIPCRTR, -1 },
	{ "smc", AF_SMC, -1 },
	{ "xdp", AF_XDP, -1 },
	{ "mctp", AF_MCTP, -1 },
};
const size_t n_socket_families = ARRAY_SIZE(socket_families);
_Static_assert(ARRAY_SIZE(socket_families) <= 64, "a socket_family_set has 64 bits");

int socket_family_index(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(socket_families); i++)
		if (strcmp(socket_families[i].name, name) == 0)
			return (int)i;
	return -1;
}

socket_family_set socket_families_default(void)
{
	static const char *const names[] = { "unix", "inet", "inet6", "netlink_route" };
	socket_family_set set = 0;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		set |= 1ULL << socket_family_index(names[i]);
	return set;
}

void socket_families_format(socket_family_set set, char *buf, size_t len)
{
	size_t o = 0;
	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(socket_families) && o < len; i++)
		if (set & (1ULL << i))
			o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? ", " : "", socket_families[i].name);
}
