/* Networking inside the sandbox's own network namespace. */
#pragma once
#include "error.h"

struct nl_sock;

/* Brings lo up in the calling process's network namespace. The socket is
 * opened here, after the namespace exists (one opened earlier would still
 * be in the old namespace). */
int net_loopback_up(wr_error *e);
/* Brings interface `ifindex` (`name` in messages) up in the namespace
 * `sk` was opened in (net-link.c). */
int net_link_set_up(struct nl_sock *sk, int ifindex, const char *name, wr_error *e);
