/* A link up over netlink (libnl), for egress (net-egress.c). Apart from
 * net.c so that the sandbox's init, a clone of the static warren-spawner,
 * carries no netlink library. */
#include "config.h"
#include "net.h"

#include <net/if.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <linux/rtnetlink.h>

/* One RTM_NEWLINK that sets IFF_UP, acknowledged. Building the message
 * directly costs a fraction of rtnl_link_get_kernel + rtnl_link_change,
 * which first dump the link into a cache object (about 1 ms of every
 * sandbox start). */
int net_link_set_up(struct nl_sock *sk, int ifindex, const char *name, wr_error *e)
{
	int rc = 0, err;
	struct ifinfomsg ifi = {
		.ifi_family = AF_UNSPEC, .ifi_index = ifindex, .ifi_flags = IFF_UP, .ifi_change = IFF_UP,
	};
	struct nl_msg *msg = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK);
	if (!msg || nlmsg_append(msg, &ifi, sizeof ifi, NLMSG_ALIGNTO) < 0)
		rc = wr_error_set(e, ENOMEM, "bring %s up", name);
	else if ((err = nl_send_auto(sk, msg)) < 0 || (err = nl_wait_for_ack(sk)) < 0)
		rc = wr_error_set(e, 0, "bring %s up: %s", name, nl_geterror(err));
	nlmsg_free(msg);
	return rc;
}
