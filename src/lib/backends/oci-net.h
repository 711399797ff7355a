/* The oci backend's egress (oci-net.c): the container's own network
 * namespace, made by the runtime, given its link, rules and resolver
 * (net-egress.c) once the container is up and before it is reported
 * ready, as a native sandbox's are before it runs anything. */
#pragma once
#include <sys/types.h>

#include "error.h"
#include "net-egress.h"
#include "policy.h"

struct oci_net {
	bool wanted;              /* the policy's mode is egress */
	struct policy policy;     /* its network settings, copied: create's policy does not last */
	struct net_egress egress;
};
#define OCI_NET_INIT { .egress = { .lock_fd = -1, .dns_fd = -1 } }

/* At create: keeps what the setup will need (nothing without egress). */
int oci_net_prepare(const struct policy *p, struct oci_net *n, wr_error *e);
/* The container's init is up, its network namespace new: the link,
 * addresses, routes, rules and the resolver's socket. */
int oci_net_setup(struct oci_net *n, pid_t init_pid, wr_error *e);
/* Once the container's processes are gone: the rules go (the link goes
 * with the namespace), and the copy. Safe on one set to OCI_NET_INIT. */
void oci_net_teardown(struct oci_net *n);
/* The egress the daemon serves (backend_ops.net), or NULL without. */
struct net_egress *oci_net_egress(struct oci_net *n);
