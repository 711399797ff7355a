/* Networking inside the sandbox's own network namespace. */
#pragma once
#include "error.h"

/* Brings lo up in the calling process's network namespace. The socket is
 * opened here, after the namespace exists (one opened earlier would still
 * be in the old namespace). */
int net_loopback_up(wr_error *e);
