/* Egress for the oci backend. The runtime makes the container's network
 * namespace as it makes its others, owned by the container's user
 * namespace, so that `runtime exec` joins it like the rest (a namespace
 * of the host's own, joined through config.json's path, would not let
 * exec in: the runtime joins the user namespace first, and from there
 * has no right to the host's). warren then sets it up from the host, as
 * root, before the sandbox is reported ready and so before anything of a
 * session runs in it. */
#include "config.h"
#include "oci-net.h"

#include <stdlib.h>
#include <string.h>

int oci_net_prepare(const struct policy *p, struct oci_net *n, wr_error *e)
{
	*n = (struct oci_net)OCI_NET_INIT;
	if (p->network != NET_EGRESS)
		return 0;
	/* what net_egress_setup reads: the mode and the network section */
	n->policy.network = p->network;
	n->policy.net = p->net;
	n->policy.net.allow.v = calloc(p->net.allow.n + 1, sizeof *p->net.allow.v);
	if (!n->policy.net.allow.v)
		return wr_error_set(e, ENOMEM, "egress settings");
	memcpy(n->policy.net.allow.v, p->net.allow.v, p->net.allow.n * sizeof *p->net.allow.v);
	n->wanted = true;
	return 0;
}

int oci_net_setup(struct oci_net *n, pid_t init_pid, wr_error *e)
{
	if (!n->wanted)
		return 0;
	int r = net_egress_setup(&n->policy, init_pid, &n->egress, e);
	if (r < 0)
		wr_error_prefix(e, "network egress: ");
	return r;
}

void oci_net_teardown(struct oci_net *n)
{
	net_egress_teardown(&n->egress, NULL);
	free(n->policy.net.allow.v);
	n->policy.net.allow.v = NULL;
	n->wanted = false;
}

struct net_egress *oci_net_egress(struct oci_net *n)
{
	return n->egress.lock_fd >= 0 ? &n->egress : NULL;
}
