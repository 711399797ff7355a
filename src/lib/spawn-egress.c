/* Network egress as a step of sandbox creation (spawn_use_egress): apart
 * from spawn.c so that a program without libnl and libnftables (the static
 * warren-spawner) can clone sandboxes. warren and warrend register it. */
#include "config.h"
#include "spawn.h"

#include <stdio.h>

#include "net-allow.h"
#include "net-egress.h"

/* Network egress, a step of its own: the sandbox's namespace exists and
 * it waits for "go", so its link, addresses, routes, rules and resolver
 * are all there before it runs anything. */
static int setup(const struct spawn_options *o, struct spawned *s, wr_error *e)
{
	const struct policy_network *net = &o->policy->net;
	int r = net_egress_setup(o->policy, s->pid, &s->net, e);
	if (r < 0) {
		wr_error_prefix(e, "network egress: ");
		return r;
	}
	if (o->verbose) {
		char where[192], resolvers[160] = "", allow[512] = "";
		net_egress_describe(&s->net, where, sizeof where);
		for (size_t i = 0, n = 0; i < s->net.n_resolvers && n < sizeof resolvers; i++) {
			char one[64];
			net_endpoint_format(&s->net.resolvers[i], one, sizeof one);
			n += (size_t)snprintf(resolvers + n, sizeof resolvers - n, "%s%s", i ? ", " : "", one);
		}
		for (size_t i = 0, n = 0; i < net->allow.n && n < sizeof allow; i++) {
			char one[ALLOW_NAME_MAX + 8];
			allow_entry_format(&net->allow.v[i], one, sizeof one);
			n += (size_t)snprintf(allow + n, sizeof allow - n, "%s%s", i ? ", " : "", one);
		}
		spawn_verbose(o, "network: egress, %s", where);
		spawn_verbose(o, "network: allowed: %s", allow[0] ? allow : "nothing");
		spawn_verbose(o, "network: resolver " NET_DNS_ADDRESS " answers allowed names from %s, others NXDOMAIN",
			resolvers);
		if (net->bandwidth || net->connections)
			spawn_verbose(o, "network: at most %llu bytes/s each way, %u connections",
				(unsigned long long)net->bandwidth, (unsigned)net->connections);
	}
	return 0;
}

const struct spawn_egress spawn_egress_netlink = { .setup = setup, .teardown = net_egress_teardown };
