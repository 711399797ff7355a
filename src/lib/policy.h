/* Policies: the JSON documents that say what a sandbox may do
 * (warren-policy(5)). Parsing is table driven, rejects unknown keys and
 * names the JSON path of every bad field. A request may tighten a policy,
 * never loosen it. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "error.h"
#include "net-allow.h"

/* Ordered: a request may go from a mode to a lower one (egress to none),
 * and to host only where network.allow_host says so. */
enum net_mode {
	NET_NONE = 0, /* a new network namespace holding only lo, up */
	NET_EGRESS,   /* its own namespace, a link to the host, NAT to the allowlist */
	NET_HOST,     /* the host's network namespace; only if allowed */
};

/* An upstream DNS server: address and port (53). */
struct net_endpoint {
	int family;               /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint16_t port;
};
#define POLICY_MAX_RESOLVERS 3
/* "192.0.2.53", "192.0.2.53:5353", "2001:db8::53", "[2001:db8::53]:5353"
 * (port 53 by default): 0, or -EINVAL with *why. */
int net_endpoint_parse(const char *text, struct net_endpoint *out, const char **why);
void net_endpoint_format(const struct net_endpoint *ep, char *buf, size_t len);
const char *policy_net_mode_name(enum net_mode mode);

/* network.* for egress (warren-policy(5)). */
struct policy_network {
	struct net_allow allow;   /* where the sandbox may go */
	struct net_cidr pool;     /* IPv4 addresses of the sandboxes' links */
	struct net_cidr pool6;    /* IPv6 ones; family 0: no IPv6 */
	char interface[16];       /* egress interface; "": the default route's */
	struct net_endpoint resolvers[POLICY_MAX_RESOLVERS]; /* none: the host's resolv.conf */
	size_t n_resolvers;
	uint64_t bandwidth;       /* bytes per second each way; 0: no limit */
	uint32_t connections;     /* concurrent connections; 0: no limit */
};

/* The resource limits of a sandbox. In a policy they are both the default
 * and the maximum; in a request, 0 means "not asked for". */
struct policy_limits {
	uint64_t memory;      /* bytes; cgroup memory.max, swap 0 */
	uint64_t pids;        /* cgroup pids.max */
	uint32_t cpu_millis;  /* thousandths of a CPU; cgroup cpu.max */
	uint64_t timeout_ms;  /* wall clock limit of one command */
	uint64_t workspace;   /* bytes; size of the /workspace tmpfs */
	uint64_t tmp;         /* bytes; size of the /tmp tmpfs */
	uint64_t output;      /* bytes of stdout+stderr kept per exec (daemon) */
};

/* setrlimit values applied before exec; `set` says the policy names it. */
enum policy_rlimit_index {
	POLICY_RLIMIT_CORE, POLICY_RLIMIT_NOFILE, POLICY_RLIMIT_FSIZE,
	POLICY_RLIMIT_STACK, POLICY_RLIMIT_CPU, POLICY_RLIMIT_NPROC,
	POLICY_RLIMIT_MEMLOCK, POLICY_RLIMIT_AS,
	POLICY_RLIMIT_COUNT
};
struct policy_rlimit {
	bool set;
	int resource;     /* RLIMIT_* */
	uint64_t value;   /* soft = hard = value; RLIM_INFINITY allowed for some */
};

struct policy_mount {     /* an extra read-only bind of a host path */
	char *source;     /* absolute host path */
	char *target;     /* absolute path inside the sandbox */
};

/* "collect": the most that may be collected from a sandbox at the end of
 * a command (warrend's "collect", warren run --collect). */
struct policy_collect {
	uint64_t file_max;        /* bytes of one file (10M) */
	uint64_t total_max;       /* bytes of one collection in all (50M) */
	uint32_t count_max;       /* files of one collection (10) */
};

struct policy {
	char *name;               /* "default" */
	char *origin;             /* file it came from, or "built-in" */
	char *description;        /* free text, or NULL */
	char *hostname;           /* "sandbox" */
	struct policy_limits limits;
	struct policy_rlimit rlimits[POLICY_RLIMIT_COUNT];
	enum net_mode network;    /* default mode, and the most a request gets but host */
	bool allow_host_network;  /* network.allow_host */
	struct policy_network net;
	char **seccomp_deny;      /* NULL-terminated syscall names */
	size_t n_seccomp_deny;
	int seccomp_errno;        /* errno denied calls return (EPERM) */
	uint64_t socket_families; /* seccomp.socket_families: a socket_family_set */
	struct policy_mount *mounts;
	size_t n_mounts;
	char **env;               /* NULL-terminated "KEY=VALUE" */
	size_t n_env;
	char **images;            /* NULL-terminated allowed image names; NULL = any */
	size_t n_images;
	char **hide;              /* NULL-terminated paths masked in the sandbox ("hide") */
	size_t n_hide;
	struct policy_collect collect;
};

/* Parses and validates one policy document. `origin` names it in errors
 * ("policy/default.json: limits.memory: expected size like \"512M\"").
 * On success *out is a new policy to free with policy_free. */
int policy_parse(const char *text, size_t len, const char *origin,
		 struct policy **out, wr_error *e);
int policy_load_file(const char *path, struct policy **out, wr_error *e);
/* The policy compiled into the binary (policy/default.json). */
int policy_load_builtin(struct policy **out, wr_error *e);
/* A name ("python") looked up as NAME.json in $WARREN_POLICY_DIR, then in
 * the installed policy directory; anything with a '/' or ending in .json is a
 * path. NULL or "default" without a file found gives the built-in one. */
int policy_load(const char *name_or_path, struct policy **out, wr_error *e);

/* Applies a request's limits: each non-zero field must be <= the policy's
 * (else -EPERM with "--memory 1G exceeds the policy's limit of 512M"),
 * and replaces it. `flag_names` maps fields to what the user typed; NULL
 * uses the JSON names. */
struct policy_limit_names {
	const char *memory, *pids, *cpus, *timeout, *workspace, *tmp, *output;
};
int policy_tighten(struct policy *p, const struct policy_limits *request,
		   const struct policy_limit_names *flag_names, wr_error *e);
/* The size a tmpfs of the sandbox (/workspace, /tmp, /dev/shm) is
 * mounted with: `size`, but at most the memory limit (`memory`, 0: none)
 * less a reserve of a quarter of it, at most 32M. Its pages are charged to
 * the sandbox's memory, so a larger tmpfs could never be filled: it would
 * take all the memory first, and leave no page for init or the next
 * command. Capped, filling it fails writes with ENOSPC. */
uint64_t policy_tmpfs_size(uint64_t size, uint64_t memory);
#define POLICY_TMPFS_RESERVE_MAX (32ULL << 20)

/* Adds a path to the policy's "hide" list (a request may add, never
 * remove): validated as in a policy document; one already listed is fine. */
int policy_hide_add(struct policy *p, const char *path, wr_error *e);

/* Asks for a network mode: no higher than the policy's (egress needs a
 * policy in egress mode), NET_HOST only with network.allow_host. */
int policy_set_network(struct policy *p, enum net_mode mode, wr_error *e);
/* Replaces the egress allowlist by `texts` (allowlist entries), each of
 * which must lie within the policy's list: -EPERM naming the first that
 * does not, -EINVAL for one that does not parse ("--allow" names them
 * when `what` is NULL). Nothing changes on failure. */
int policy_narrow_allow(struct policy *p, char *const *texts, size_t n, const char *what, wr_error *e);
/* The same checks, the list into *out (out->v malloc'd) and the policy
 * unchanged: a session's own allowlist, set at creation or live. */
int policy_allow_narrowed(const struct policy *p, char *const *texts, size_t n, const char *what, struct net_allow *out,
			  wr_error *e);
/* Narrows seccomp.socket_families to `want` (a socket_family_set); a family
 * the policy does not allow is -EPERM naming it, and changes nothing. */
int policy_restrict_socket_families(struct policy *p, uint64_t want, wr_error *e);

/* The effective policy as JSON, in the same shape it is written in. */
json_t *policy_to_json(const struct policy *p);
/* "KEY=VALUE" strings as {KEY: VALUE}: the first n, or up to a NULL. */
json_t *env_to_json(char *const *env, size_t n);

void policy_free(struct policy *p);
static inline void policy_freep(struct policy **p) { if (*p) policy_free(*p); }
#define _cleanup_policy_ __attribute__((cleanup(policy_freep)))

/* Set by the build: the embedded text of policy/default.json. */
extern const char warren_builtin_policy[];
