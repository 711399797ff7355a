/* Networking inside the sandbox's own network namespace (libnl-route-3). */
#pragma once
#include "error.h"

/* Brings lo up in the calling process's network namespace. The netlink
 * socket is opened here, after the namespace exists (one opened earlier
 * would still talk to the old namespace). */
int net_loopback_up(wr_error *e);
