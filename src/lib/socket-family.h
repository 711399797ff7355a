/* The socket address families a policy may allow (seccomp.socket_families
 * in warren-policy(5)): one table of names, read by the policy parser, the
 * native seccomp filter and the OCI profile alike. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct socket_family {
	const char *name;  /* "inet6", "netlink_route" */
	int family;        /* AF_* */
	int protocol;      /* AF_NETLINK entries: one NETLINK_* protocol; else -1 (any) */
};

extern const struct socket_family socket_families[];
extern const size_t n_socket_families;

/* A set of families: bit i allows socket_families[i]. */
typedef uint64_t socket_family_set;

/* unix, inet, inet6 and netlink_route (getifaddrs, `ip` listing). */
socket_family_set socket_families_default(void);
/* The index of `name` in socket_families, or -1. */
int socket_family_index(const char *name);
/* "unix, inet, inet6" into buf (truncated to len). */
void socket_families_format(socket_family_set set, char *buf, size_t len);
