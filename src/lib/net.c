#include "config.h"
#include "net.h"

#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>

int net_loopback_up(wr_error *e)
{
	int rc = 0;
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *lo = NULL, *change = NULL;
	if (!sk)
		return wr_error_set(e, ENOMEM, "netlink socket");
	int err = nl_connect(sk, NETLINK_ROUTE);
	if (err < 0) {
		rc = wr_error_set(e, 0, "netlink connect: %s", nl_geterror(err));
		goto out;
	}
	err = rtnl_link_get_kernel(sk, 0, "lo", &lo);
	if (err < 0) {
		rc = wr_error_set(e, 0, "find lo: %s", nl_geterror(err));
		goto out;
	}
	change = rtnl_link_alloc();
	if (!change) {
		rc = wr_error_set(e, ENOMEM, "bring lo up");
		goto out;
	}
	rtnl_link_set_flags(change, IFF_UP);
	err = rtnl_link_change(sk, lo, change, 0);
	if (err < 0)
		rc = wr_error_set(e, 0, "bring lo up: %s", nl_geterror(err));
out:
	rtnl_link_put(change);
	rtnl_link_put(lo);
	nl_socket_free(sk);
	return rc;
}
