/* policy: the shipped and built-in policies parse; every field's accepted
 * forms; every error names its JSON path; tightening never loosens; the
 * isolation contract cannot be written out of a policy. */
#include "config.h"

#include "unit.h"
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cleanup.h"
#include "policy.h"
#include "seccomp-filter.h"
#include "socket-family.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

static struct policy *parse_ok(const char *json)
{
	struct policy *p = NULL;
	wr_error e = { 0 };
	int r = policy_parse(json, strlen(json), "test", &p, &e);
	ck_assert_msg(r == 0, "policy_parse(%s) failed: %s", json, e.message);
	ck_assert_ptr_nonnull(p);
	return p;
}

static bool strv_has(char **v, const char *s)
{
	for (; v && *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

/* Each bad document and the exact message a user sees ("test" is the origin). */
static const struct { const char *json, *message; } error_cases[] = {
	/* document level */
	{ "{\"version\":1,", "test: line 1 column 13: string or '}' expected near end of file" },
	{ "{\"version\":1,\"version\":1}", "test: line 1 column 22: duplicate object key near '\"version\"'" },
	{ "[1]", "test: expected a JSON object at the top level, got an array" },
	{ "{}", "test: version: missing (this format is version 1: add \"version\": 1)" },
	{ "{\"version\":2}", "test: version: unsupported version 2 (this warren reads version 1)" },
	{ "{\"version\":\"1\"}", "test: version: expected an integer, got a string" },
	{ "{\"version\":1,\"colour\":1}", "test: colour: unknown field (known fields: version, name, description, "
	  "hostname, limits, rlimits, network, seccomp, mounts, env, images, hide, collect)" },
	/* collect */
	{ "{\"version\":1,\"collect\":{\"file_max\":\"big\"}}",
	  "test: collect.file_max: expected size like \"10M\", got \"big\"" },
	{ "{\"version\":1,\"collect\":{\"total_max\":0}}",
	  "test: collect.total_max: must be more than 0 (leave \"paths\" out of a request to collect nothing)" },
	{ "{\"version\":1,\"collect\":{\"count_max\":0}}", "test: collect.count_max: must be between 1 and 100000, got 0" },
	{ "{\"version\":1,\"collect\":{\"count_max\":\"5\"}}", "test: collect.count_max: expected an integer, got a string" },
	{ "{\"version\":1,\"collect\":{\"files\":1}}",
	  "test: collect.files: unknown field (known fields: file_max, total_max, count_max)" },
	{ "{\"version\":1,\"name\":\"a\\u0000b\"}",
	  "test: line 1 column 30: \\u0000 is not allowed without JSON_ALLOW_NUL near '\"a\\u0000b\"'" },
	/* name, description, hostname */
	{ "{\"version\":1,\"name\":5}", "test: name: expected a string, got an integer" },
	{ "{\"version\":1,\"name\":\"a b\"}", "test: name: \"a b\" is not a valid name (1 to 64 letters, "
	  "digits, '.', '_' or '-', not starting with '.' or '-')" },
	{ "{\"version\":1,\"description\":[]}", "test: description: expected a string, got an array" },
	{ "{\"version\":1,\"hostname\":\"bad_host\"}", "test: hostname: \"bad_host\" is not a valid hostname "
	  "(dot-separated labels of letters, digits and '-', at most 64 characters)" },
	{ "{\"version\":1,\"hostname\":null}", "test: hostname: expected a string, got null" },
	/* limits */
	{ "{\"version\":1,\"limits\":[]}", "test: limits: expected an object, got an array" },
	{ "{\"version\":1,\"limits\":{\"memroy\":\"1G\"}}", "test: limits.memroy: unknown field (known fields: "
	  "memory, pids, cpus, timeout, workspace, tmp, output)" },
	{ "{\"version\":1,\"limits\":{\"memory\":true}}", "test: limits.memory: expected size like \"512M\"" },
	{ "{\"version\":1,\"limits\":{\"memory\":-1}}", "test: limits.memory: expected size like \"512M\"" },
	{ "{\"version\":1,\"limits\":{\"memory\":\"12X\"}}",
	  "test: limits.memory: expected size like \"512M\", got \"12X\"" },
	{ "{\"version\":1,\"limits\":{\"memory\":\"9999999T\"}}", "test: limits.memory: \"9999999T\" is too large" },
	{ "{\"version\":1,\"limits\":{\"memory\":\"1M\"}}", "test: limits.memory: 1M is below the minimum of 4M" },
	{ "{\"version\":1,\"limits\":{\"memory\":0}}", "test: limits.memory: must be more than 0" },
	{ "{\"version\":1,\"limits\":{\"pids\":\"5\"}}", "test: limits.pids: expected an integer, got a string" },
	{ "{\"version\":1,\"limits\":{\"pids\":0}}", "test: limits.pids: must be between 1 and 4194304, got 0" },
	{ "{\"version\":1,\"limits\":{\"pids\":4194305}}",
	  "test: limits.pids: must be between 1 and 4194304, got 4194305" },
	{ "{\"version\":1,\"limits\":{\"cpus\":0}}", "test: limits.cpus: must be more than 0" },
	{ "{\"version\":1,\"limits\":{\"cpus\":-1.5}}", "test: limits.cpus: must be more than 0" },
	{ "{\"version\":1,\"limits\":{\"cpus\":0.0001}}", "test: limits.cpus: must be at least 0.001" },
	{ "{\"version\":1,\"limits\":{\"cpus\":1025}}", "test: limits.cpus: at most 1024 CPUs" },
	{ "{\"version\":1,\"limits\":{\"cpus\":\"2000\"}}", "test: limits.cpus: at most 1024 CPUs" },
	{ "{\"version\":1,\"limits\":{\"cpus\":\"abc\"}}", "test: limits.cpus: expected a number of CPUs like 1 "
	  "or \"0.5\" (at least 0.001), got \"abc\"" },
	{ "{\"version\":1,\"limits\":{\"cpus\":[]}}",
	  "test: limits.cpus: expected a number of CPUs like 1 or \"0.5\"" },
	{ "{\"version\":1,\"limits\":{\"timeout\":\"5x\"}}", "test: limits.timeout: expected duration like "
	  "\"5m\" (units ms, s, m, h), got \"5x\"" },
	{ "{\"version\":1,\"limits\":{\"timeout\":1.5}}",
	  "test: limits.timeout: expected duration like \"5m\" or integer seconds" },
	{ "{\"version\":1,\"limits\":{\"timeout\":0}}", "test: limits.timeout: must be more than 0" },
	{ "{\"version\":1,\"limits\":{\"timeout\":\"0ms\"}}", "test: limits.timeout: must be more than 0" },
	{ "{\"version\":1,\"limits\":{\"timeout\":9223372036854775807}}",
	  "test: limits.timeout: 9223372036854775807 seconds is too long" },
	{ "{\"version\":1,\"limits\":{\"workspace\":0}}", "test: limits.workspace: must be more than 0" },
	{ "{\"version\":1,\"limits\":{\"tmp\":\"0M\"}}", "test: limits.tmp: must be more than 0" },
	{ "{\"version\":1,\"limits\":{\"output\":\"lots\"}}",
	  "test: limits.output: expected size like \"512M\", got \"lots\"" },
	/* rlimits */
	{ "{\"version\":1,\"rlimits\":1}", "test: rlimits: expected an object, got an integer" },
	{ "{\"version\":1,\"rlimits\":{\"files\":1}}", "test: rlimits.files: unknown field (known fields: core, "
	  "nofile, fsize, stack, cpu, nproc, memlock, as)" },
	{ "{\"version\":1,\"rlimits\":{\"core\":1}}",
	  "test: rlimits.core: must be 0: the isolation contract allows no core dumps" },
	{ "{\"version\":1,\"rlimits\":{\"core\":\"unlimited\"}}",
	  "test: rlimits.core: must be 0: the isolation contract allows no core dumps" },
	{ "{\"version\":1,\"rlimits\":{\"nofile\":\"unlimited\"}}",
	  "test: rlimits.nofile: cannot be \"unlimited\" (at most 1048576)" },
	{ "{\"version\":1,\"rlimits\":{\"nofile\":1048577}}",
	  "test: rlimits.nofile: must be at most 1048576, got 1048577" },
	{ "{\"version\":1,\"rlimits\":{\"nofile\":\"1K\"}}", "test: rlimits.nofile: expected an integer" },
	{ "{\"version\":1,\"rlimits\":{\"cpu\":\"5m\"}}", "test: rlimits.cpu: expected an integer or \"unlimited\"" },
	{ "{\"version\":1,\"rlimits\":{\"stack\":true}}",
	  "test: rlimits.stack: expected an integer, a size like \"8M\" or \"unlimited\"" },
	{ "{\"version\":1,\"rlimits\":{\"fsize\":\"big\"}}",
	  "test: rlimits.fsize: expected size like \"8M\", got \"big\"" },
	/* network */
	{ "{\"version\":1,\"network\":\"none\"}", "test: network: expected an object, got a string" },
	{ "{\"version\":1,\"network\":{\"mode\":\"host\"}}",
	  "test: network.mode: \"host\" needs network.allow_host: true" },
	{ "{\"version\":1,\"network\":{\"mode\":\"host\",\"allow_host\":false}}",
	  "test: network.mode: \"host\" needs network.allow_host: true" },
	{ "{\"version\":1,\"network\":{\"mode\":\"bridge\"}}",
	  "test: network.mode: expected \"none\", \"egress\" or \"host\", got \"bridge\"" },
	{ "{\"version\":1,\"network\":{\"mode\":1}}",
	  "test: network.mode: expected \"none\", \"egress\" or \"host\", got an integer" },
	{ "{\"version\":1,\"network\":{\"allow_host\":\"yes\"}}",
	  "test: network.allow_host: expected true or false, got a string" },
	{ "{\"version\":1,\"network\":{\"egress\":true}}",
	  "test: network.egress: unknown field (known fields: mode, allow_host, allow, pool, pool6, interface, "
	  "resolvers, bandwidth, connections)" },
	{ "{\"version\":1,\"network\":{\"allow\":\"pypi.org\"}}", "test: network.allow: expected an array, got a string" },
	{ "{\"version\":1,\"network\":{\"allow\":[\"pypi.org\",5]}}",
	  "test: network.allow[1]: expected a string, got an integer" },
	{ "{\"version\":1,\"network\":{\"allow\":[\"169.254.169.254\"]}}",
	  "test: network.allow[0]: \"169.254.169.254\" is link-local (cloud metadata services live there): never "
	  "reachable from a sandbox" },
	{ "{\"version\":1,\"network\":{\"allow\":[\"127.0.0.1:80\"]}}",
	  "test: network.allow[0]: \"127.0.0.1:80\" is loopback: a sandbox's loopback is its own" },
	{ "{\"version\":1,\"network\":{\"allow\":[\"10.1.2.3/24\"]}}",
	  "test: network.allow[0]: \"10.1.2.3/24\" has bits set past its prefix length (write the network's first "
	  "address)" },
	{ "{\"version\":1,\"network\":{\"allow\":[\"198.51.100.1:0\"]}}",
	  "test: network.allow[0]: \"198.51.100.1:0\" has a port that is not a number from 1 to 65535" },
	{ "{\"version\":1,\"network\":{\"allow\":[\"pypi.org:443\"]}}",
	  "test: network.allow[0]: \"pypi.org:443\" names a domain with a port: ports go with addresses (a domain "
	  "allows every port)" },
	{ "{\"version\":1,\"network\":{\"allow\":[\"a.*.org\"]}}",
	  "test: network.allow[0]: \"a.*.org\" has a '*' other than a leading \"*.\"" },
	{ "{\"version\":1,\"network\":{\"allow\":[\"*.org\"]}}",
	  "test: network.allow[0]: \"*.org\" is a wildcard over a whole top-level domain" },
	{ "{\"version\":1,\"network\":{\"allow\":[\"bad..name\"]}}",
	  "test: network.allow[0]: \"bad..name\" is not an address, a network or a domain name (letters, digits, "
	  "'-' and '_' in dot-separated labels)" },
	{ "{\"version\":1,\"network\":{\"allow\":[\"PyPI.org.\",\"pypi.org\"]}}",
	  "test: network.allow[1]: \"pypi.org\" is listed twice" },
	{ "{\"version\":1,\"network\":{\"allow\":[\"10.231.7.0/24\"]}}",
	  "test: network.allow[0]: \"10.231.7.0/24\" lies in the sandboxes' own address pool: sandboxes never reach "
	  "each other" },
	{ "{\"version\":1,\"network\":{\"pool\":\"fd00::/64\"}}", "test: network.pool: \"fd00::/64\" is not an IPv4 network" },
	{ "{\"version\":1,\"network\":{\"pool\":\"10.0.0.0/30\"}}",
	  "test: network.pool: \"10.0.0.0/30\": the prefix length must be from 8 to 28" },
	{ "{\"version\":1,\"network\":{\"pool\":\"127.0.0.0/16\"}}",
	  "test: network.pool: \"127.0.0.0/16\" is loopback: a sandbox's loopback is its own" },
	{ "{\"version\":1,\"network\":{\"pool6\":\"fd00::/130\"}}", "test: network.pool6: \"fd00::/130\" has a prefix "
	  "length over 128" },
	{ "{\"version\":1,\"network\":{\"interface\":\"../eth0\"}}", "test: network.interface: \"../eth0\" is not an "
	  "interface name (1 to 15 characters, no '/', ':' or spaces)" },
	{ "{\"version\":1,\"network\":{\"resolvers\":[\"dns.example\"]}}", "test: network.resolvers[0]: "
	  "\"dns.example\" is not an address (a resolver is IP, IP:PORT or [IPv6]:PORT)" },
	{ "{\"version\":1,\"network\":{\"resolvers\":[\"1.1.1.1\",\"1.0.0.1\",\"8.8.8.8\",\"8.8.4.4\"]}}",
	  "test: network.resolvers: at most 3 resolvers" },
	{ "{\"version\":1,\"network\":{\"bandwidth\":\"100\"}}", "test: network.bandwidth: at least 1K (bytes per second)" },
	{ "{\"version\":1,\"network\":{\"connections\":0}}",
	  "test: network.connections: expected an integer from 1 to 1000000" },
	/* seccomp */
	{ "{\"version\":1,\"seccomp\":true}", "test: seccomp: expected an object, got a boolean" },
	{ "{\"version\":1,\"seccomp\":{\"allow\":[]}}",
	  "test: seccomp.allow: unknown field (known fields: errno, deny, socket_families)" },
	{ "{\"version\":1,\"seccomp\":{\"errno\":\"EIO\"}}",
	  "test: seccomp.errno: expected one of \"EPERM\", \"EACCES\", \"ENOSYS\"" },
	{ "{\"version\":1,\"seccomp\":{\"errno\":1}}",
	  "test: seccomp.errno: expected one of \"EPERM\", \"EACCES\", \"ENOSYS\"" },
	{ "{\"version\":1,\"seccomp\":{\"deny\":\"mount\"}}", "test: seccomp.deny: expected an array, got a string" },
	{ "{\"version\":1,\"seccomp\":{\"deny\":[\"mount\",7]}}", "test: seccomp.deny[1]: expected a string, got an integer" },
	{ "{\"version\":1,\"seccomp\":{\"deny\":[\"mount\",\"not_a_syscall\"]}}",
	  "test: seccomp.deny[1]: \"not_a_syscall\" is not a system call warren knows on this architecture" },
	{ "{\"version\":1,\"seccomp\":{\"deny\":[\"mount\",\"mount\"]}}", "test: seccomp.deny[1]: \"mount\" is listed twice" },
	{ "{\"version\":1,\"seccomp\":{\"socket_families\":\"unix\"}}",
	  "test: seccomp.socket_families: expected an array, got a string" },
	{ "{\"version\":1,\"seccomp\":{\"socket_families\":[\"unix\",1]}}",
	  "test: seccomp.socket_families[1]: expected a string, got an integer" },
	{ "{\"version\":1,\"seccomp\":{\"socket_families\":[\"unix\",\"AF_INET\"]}}",
	  "test: seccomp.socket_families[1]: \"AF_INET\" is not a socket family warren knows (e.g. \"unix\", "
	  "\"inet\", \"inet6\", \"netlink_route\", \"packet\", \"vsock\"; see warren-policy(5))" },
	{ "{\"version\":1,\"seccomp\":{\"socket_families\":[\"netlink\"]}}",
	  "test: seccomp.socket_families[0]: \"netlink\" is not a socket family warren knows (e.g. \"unix\", "
	  "\"inet\", \"inet6\", \"netlink_route\", \"packet\", \"vsock\"; see warren-policy(5))" },
	{ "{\"version\":1,\"seccomp\":{\"socket_families\":[\"inet\",\"unix\",\"inet\"]}}",
	  "test: seccomp.socket_families[2]: \"inet\" is listed twice" },
	/* mounts */
	{ "{\"version\":1,\"mounts\":{}}", "test: mounts: expected an array, got an object" },
	{ "{\"version\":1,\"mounts\":[\"/opt\"]}", "test: mounts[0]: expected an object, got a string" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/opt\",\"target\":\"/data\",\"writable\":true}]}",
	  "test: mounts[0].writable: unknown field (known fields: source, target)" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/opt\"}]}",
	  "test: mounts[0].target: missing (each mount needs a source and a target)" },
	{ "{\"version\":1,\"mounts\":[{\"target\":\"/data\"}]}",
	  "test: mounts[0].source: missing (each mount needs a source and a target)" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"opt\",\"target\":\"/data\"}]}",
	  "test: mounts[0].source: \"opt\" must be an absolute path" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/opt/../etc\",\"target\":\"/data\"}]}",
	  "test: mounts[0].source: \"/opt/../etc\" must be normalized (no \".\", \"..\", \"//\" or trailing \"/\")" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/opt\",\"target\":\"/a//b\"}]}",
	  "test: mounts[0].target: \"/a//b\" must be normalized (no \".\", \"..\", \"//\" or trailing \"/\")" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/opt/\",\"target\":\"/data\"}]}",
	  "test: mounts[0].source: \"/opt/\" must be normalized (no \".\", \"..\", \"//\" or trailing \"/\")" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/opt/./x\",\"target\":\"/data\"}]}",
	  "test: mounts[0].source: \"/opt/./x\" must be normalized (no \".\", \"..\", \"//\" or trailing \"/\")" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/opt\",\"target\":\"/\"}]}",
	  "test: mounts[0].target: \"/\" is the sandbox's root and cannot be replaced" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/opt\",\"target\":\"/proc\"}]}",
	  "test: mounts[0].target: \"/proc\" is reserved: the sandbox mounts /proc itself" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/opt\",\"target\":\"/dev/shm\"}]}",
	  "test: mounts[0].target: \"/dev/shm\" is reserved: the sandbox mounts /dev itself" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/opt\",\"target\":\"/workspace/x\"}]}",
	  "test: mounts[0].target: \"/workspace/x\" is reserved: the sandbox mounts /workspace itself" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/opt\",\"target\":\"/tmp\"}]}",
	  "test: mounts[0].target: \"/tmp\" is reserved: the sandbox mounts /tmp itself" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/opt\",\"target\":\"/oldroot/x\"}]}",
	  "test: mounts[0].target: \"/oldroot/x\" is reserved: the sandbox mounts /oldroot itself" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/opt\",\"target\":\"/newroot\"}]}",
	  "test: mounts[0].target: \"/newroot\" is reserved: the sandbox mounts /newroot itself" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/\",\"target\":\"/host\"}]}",
	  "test: mounts[0].source: \"/\" is refused: the host's whole tree holds its /proc, /sys and /dev" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/proc\",\"target\":\"/data\"}]}",
	  "test: mounts[0].source: \"/proc\" is refused: binding the host's /proc would bypass the sandbox's own" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/sys/fs\",\"target\":\"/data\"}]}",
	  "test: mounts[0].source: \"/sys/fs\" is refused: binding the host's /sys would bypass the sandbox's own" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/a\",\"target\":\"/data\"},{\"source\":\"/b\",\"target\":\"/data\"}]}",
	  "test: mounts[1].target: \"/data\" is already the target of mounts[0]" },
	{ "{\"version\":1,\"mounts\":[{\"source\":\"/a\",\"target\":5}]}",
	  "test: mounts[0].target: expected a string, got an integer" },
	/* env */
	{ "{\"version\":1,\"env\":[]}", "test: env: expected an object, got an array" },
	{ "{\"version\":1,\"env\":{\"A\":1}}", "test: env.A: expected a string, got an integer" },
	{ "{\"version\":1,\"env\":{\"A=B\":\"x\"}}",
	  "test: env[\"A=B\"]: variable names must be non-empty, without '=' or NUL" },
	{ "{\"version\":1,\"env\":{\"\":\"x\"}}", "test: env[\"\"]: variable names must be non-empty, without '=' or NUL" },
	/* images */
	{ "{\"version\":1,\"images\":\"host\"}", "test: images: expected an array, got a string" },
	{ "{\"version\":1,\"images\":[]}", "test: images: must not be empty (leave it out to allow any image)" },
	{ "{\"version\":1,\"images\":[\"host\",\"host\"]}", "test: images[1]: \"host\" is listed twice" },
	{ "{\"version\":1,\"images\":[\"../etc\"]}", "test: images[0]: \"../etc\" is not a valid image name (1 to 64 "
	  "letters, digits, '.', '_' or '-', not starting with '.' or '-')" },
	/* hide */
	{ "{\"version\":1,\"hide\":\"/etc/ssh\"}", "test: hide: expected an array, got a string" },
	{ "{\"version\":1,\"hide\":[\"etc/ssh\"]}", "test: hide[0]: \"etc/ssh\" must be an absolute path" },
	{ "{\"version\":1,\"hide\":[\"/etc/../ssh\"]}",
	  "test: hide[0]: \"/etc/../ssh\" must be normalized (no \".\", \"..\", \"//\" or trailing \"/\")" },
	{ "{\"version\":1,\"hide\":[\"/\"]}", "test: hide[0]: \"/\" would hide the whole of the sandbox's root or /proc" },
	{ "{\"version\":1,\"hide\":[\"/etc/ssh\",\"/workspace/x\"]}",
	  "test: hide[1]: \"/workspace/x\" is reserved: the sandbox mounts it itself" },
	{ "{\"version\":1,\"hide\":[\"/dev\"]}", "test: hide[0]: \"/dev\" is reserved: the sandbox mounts it itself" },
	{ "{\"version\":1,\"hide\":[\"/etc/ssh\",\"/etc/ssh\"]}", "test: hide[1]: \"/etc/ssh\" is listed twice" },
	{ "{\"version\":1,\"hide\":[7]}", "test: hide[0]: expected a string, got an integer" },
};

START_TEST(test_parse_errors)
{
	struct policy *p = NULL;
	wr_error e = { 0 };
	const char *json = error_cases[_i].json;
	int r = policy_parse(json, strlen(json), "test", &p, &e);
	ck_assert_msg(r == -EINVAL, "policy_parse(%s) = %d, want -EINVAL", json, r);
	ck_assert_int_eq(e.code, EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_str_eq(e.message, error_cases[_i].message);
}
END_TEST

START_TEST(test_contract_deny_always_in)
{
	/* a deny list written without a contract name (say, for an older,
	 * shorter contract) still denies it: the contract joins the list */
	for (size_t drop = 0; seccomp_contract_deny[drop]; drop++) {
		json_t *deny = json_array();
		json_array_append_new(deny, json_string("io_uring_setup"));
		for (size_t i = 0; seccomp_contract_deny[i]; i++)
			if (i != drop)
				json_array_append_new(deny, json_string(seccomp_contract_deny[i]));
		json_t *doc = json_pack("{s:i, s:{s:o}}", "version", 1, "seccomp", "deny", deny);
		char *text = json_dumps(doc, 0);
		_cleanup_policy_ struct policy *p = parse_ok(text);
		size_t n = 0;
		for (; seccomp_contract_deny[n]; n++)
			ck_assert_msg(strv_has(p->seccomp_deny, seccomp_contract_deny[n]), "%s left out",
				      seccomp_contract_deny[n]);
		ck_assert(strv_has(p->seccomp_deny, "io_uring_setup"));
		ck_assert_uint_eq(p->n_seccomp_deny, n + 1);
		ck_assert_ptr_null(p->seccomp_deny[n + 1]);
		free(text);
		json_decref(doc);
	}
}
END_TEST

START_TEST(test_too_large)
{
	size_t len = (1 << 20) + 1;
	char *text = malloc(len + 1);
	memset(text, ' ', len);
	memcpy(text, "{\"version\":1}", 13);
	text[len] = '\0';
	struct policy *p = NULL;
	wr_error e = { 0 };
	ck_assert_int_eq(policy_parse(text, len, "test", &p, &e), -EINVAL);
	ck_assert_str_eq(e.message, "test: 1048577 bytes is more than a policy may have (1 MiB)");
	/* exactly 1 MiB is still fine */
	ck_assert_int_eq(policy_parse(text, len - 1, "test", &p, &e), 0);
	policy_free(p);
	free(text);
}
END_TEST

/* The minimal document gets every documented default. */
START_TEST(test_defaults)
{
	_cleanup_policy_ struct policy *p = parse_ok("{\"version\": 1}");
	ck_assert_str_eq(p->name, "default");
	ck_assert_str_eq(p->origin, "test");
	ck_assert_ptr_null(p->description);
	ck_assert_str_eq(p->hostname, "sandbox");
	ck_assert_uint_eq(p->limits.memory, 512 * MIB);
	ck_assert_uint_eq(p->limits.pids, 256);
	ck_assert_uint_eq(p->limits.cpu_millis, 1000);
	ck_assert_uint_eq(p->limits.timeout_ms, 5 * 60 * 1000);
	ck_assert_uint_eq(p->limits.workspace, GIB);
	ck_assert_uint_eq(p->limits.tmp, 256 * MIB);
	ck_assert_uint_eq(p->limits.output, 16 * MIB);
	ck_assert(p->rlimits[POLICY_RLIMIT_CORE].set);
	ck_assert_int_eq(p->rlimits[POLICY_RLIMIT_CORE].resource, RLIMIT_CORE);
	ck_assert_uint_eq(p->rlimits[POLICY_RLIMIT_CORE].value, 0);
	ck_assert_int_eq(p->rlimits[POLICY_RLIMIT_NOFILE].resource, RLIMIT_NOFILE);
	ck_assert_uint_eq(p->rlimits[POLICY_RLIMIT_NOFILE].value, 1024);
	ck_assert_uint_eq(p->rlimits[POLICY_RLIMIT_FSIZE].value, GIB);
	ck_assert_int_eq(p->rlimits[POLICY_RLIMIT_STACK].resource, RLIMIT_STACK);
	ck_assert_uint_eq(p->rlimits[POLICY_RLIMIT_STACK].value, 8 * MIB);
	ck_assert(!p->rlimits[POLICY_RLIMIT_CPU].set);
	ck_assert(!p->rlimits[POLICY_RLIMIT_NPROC].set);
	ck_assert(!p->rlimits[POLICY_RLIMIT_MEMLOCK].set);
	ck_assert(!p->rlimits[POLICY_RLIMIT_AS].set);
	ck_assert_int_eq(p->network, NET_NONE);
	ck_assert(!p->allow_host_network);
	ck_assert_int_eq(p->seccomp_errno, EPERM);
	size_t n = 0;
	for (; seccomp_contract_deny[n]; n++)
		ck_assert(strv_has(p->seccomp_deny, seccomp_contract_deny[n]));
	ck_assert_uint_eq(p->n_seccomp_deny, n);
	ck_assert_ptr_null(p->seccomp_deny[n]);
	ck_assert_uint_eq(p->n_mounts, 0);
	ck_assert_uint_eq(p->n_env, 4);
	ck_assert_str_eq(p->env[0], "PATH=/usr/local/bin:/usr/bin:/bin");
	ck_assert_str_eq(p->env[1], "HOME=/workspace");
	ck_assert_str_eq(p->env[2], "LANG=C.UTF-8");
	ck_assert_str_eq(p->env[3], "USER=sandbox");
	ck_assert_ptr_null(p->env[4]);
	ck_assert_ptr_null(p->images);
	/* what the code-execution services warren replaces collected */
	ck_assert_uint_eq(p->collect.file_max, 10 * MIB);
	ck_assert_uint_eq(p->collect.total_max, 50 * MIB);
	ck_assert_uint_eq(p->collect.count_max, 10);
}
END_TEST

START_TEST(test_every_field)
{
	_cleanup_policy_ struct policy *p = parse_ok(
		"{\"version\": 1, \"name\": \"strict\", \"description\": \"for tests\", \"hostname\": \"box.local\","
		" \"limits\": {\"memory\": 134217728, \"pids\": 64, \"cpus\": \"0.5\", \"timeout\": 30,"
		"   \"workspace\": \"64MiB\", \"tmp\": \"1.5M\", \"output\": \"1K\"},"
		" \"rlimits\": {\"nofile\": 64, \"stack\": \"unlimited\", \"as\": \"2G\", \"cpu\": 10,"
		"   \"nproc\": \"unlimited\", \"memlock\": 65536},"
		" \"network\": {\"mode\": \"host\", \"allow_host\": true},"
		" \"seccomp\": {\"errno\": \"ENOSYS\"},"
		" \"mounts\": [{\"source\": \"/opt/data\", \"target\": \"/data\"}, {\"target\": \"/procfs\", \"source\": \"/srv\"}],"
		" \"env\": {\"LC_ALL\": \"C\", \"EMPTY\": \"\"},"
		" \"images\": [\"python\", \"host\"],"
		" \"collect\": {\"file_max\": \"40M\", \"total_max\": 104857600, \"count_max\": 3}}");
	ck_assert_str_eq(p->name, "strict");
	ck_assert_uint_eq(p->collect.file_max, 40 * MIB);
	ck_assert_uint_eq(p->collect.total_max, 100 * MIB);
	ck_assert_uint_eq(p->collect.count_max, 3);
	ck_assert_str_eq(p->description, "for tests");
	ck_assert_str_eq(p->hostname, "box.local");
	ck_assert_uint_eq(p->limits.memory, 128 * MIB);
	ck_assert_uint_eq(p->limits.pids, 64);
	ck_assert_uint_eq(p->limits.cpu_millis, 500);
	ck_assert_uint_eq(p->limits.timeout_ms, 30000);
	ck_assert_uint_eq(p->limits.workspace, 64 * MIB);
	ck_assert_uint_eq(p->limits.tmp, 3 * MIB / 2);
	ck_assert_uint_eq(p->limits.output, 1024);
	/* a written rlimits replaces the defaults, but core stays 0 */
	ck_assert(p->rlimits[POLICY_RLIMIT_CORE].set);
	ck_assert_uint_eq(p->rlimits[POLICY_RLIMIT_CORE].value, 0);
	ck_assert(!p->rlimits[POLICY_RLIMIT_FSIZE].set);
	ck_assert_uint_eq(p->rlimits[POLICY_RLIMIT_NOFILE].value, 64);
	ck_assert_uint_eq(p->rlimits[POLICY_RLIMIT_STACK].value, RLIM_INFINITY);
	ck_assert_int_eq(p->rlimits[POLICY_RLIMIT_AS].resource, RLIMIT_AS);
	ck_assert_uint_eq(p->rlimits[POLICY_RLIMIT_AS].value, 2 * GIB);
	ck_assert_int_eq(p->rlimits[POLICY_RLIMIT_CPU].resource, RLIMIT_CPU);
	ck_assert_uint_eq(p->rlimits[POLICY_RLIMIT_CPU].value, 10);
	ck_assert_uint_eq(p->rlimits[POLICY_RLIMIT_NPROC].value, RLIM_INFINITY);
	ck_assert_int_eq(p->rlimits[POLICY_RLIMIT_MEMLOCK].resource, RLIMIT_MEMLOCK);
	ck_assert_uint_eq(p->rlimits[POLICY_RLIMIT_MEMLOCK].value, 65536);
	ck_assert_int_eq(p->network, NET_HOST);
	ck_assert(p->allow_host_network);
	ck_assert_int_eq(p->seccomp_errno, ENOSYS);
	ck_assert_uint_eq(p->n_mounts, 2);
	ck_assert_str_eq(p->mounts[0].source, "/opt/data");
	ck_assert_str_eq(p->mounts[0].target, "/data");
	ck_assert_str_eq(p->mounts[1].source, "/srv");
	ck_assert_str_eq(p->mounts[1].target, "/procfs");
	ck_assert_uint_eq(p->n_env, 2);
	ck_assert_str_eq(p->env[0], "LC_ALL=C");
	ck_assert_str_eq(p->env[1], "EMPTY=");
	ck_assert_ptr_null(p->env[2]);
	ck_assert_uint_eq(p->n_images, 2);
	ck_assert_str_eq(p->images[0], "python");
	ck_assert_str_eq(p->images[1], "host");
	ck_assert_ptr_null(p->images[2]);
}
END_TEST

START_TEST(test_empty_deny_is_the_contract)
{
	_cleanup_policy_ struct policy *p = parse_ok("{\"version\":1,\"seccomp\":{\"deny\":[]}}");
	size_t n = 0;
	for (; seccomp_contract_deny[n]; n++)
		ck_assert_str_eq(p->seccomp_deny[n], seccomp_contract_deny[n]);
	ck_assert_uint_eq(p->n_seccomp_deny, n);
}
END_TEST

static struct policy *default_policy(void);

static uint64_t families(const char *const *names)
{
	uint64_t set = 0;
	for (; *names; names++) {
		int k = socket_family_index(*names);
		ck_assert_msg(k >= 0, "%s", *names);
		set |= 1ULL << k;
	}
	return set;
}

START_TEST(test_socket_families)
{
	static const char *const dflt[] = { "unix", "inet", "inet6", "netlink_route", NULL };
	static const char *const extra[] = { "unix", "vsock", "netlink_audit", NULL };
	_cleanup_policy_ struct policy *d = parse_ok("{\"version\":1}");
	ck_assert_uint_eq(d->socket_families, families(dflt));
	_cleanup_policy_ struct policy *p = parse_ok(
		"{\"version\":1,\"seccomp\":{\"socket_families\":[\"vsock\",\"unix\",\"netlink_audit\"]}}");
	ck_assert_uint_eq(p->socket_families, families(extra));
	_cleanup_policy_ struct policy *none = parse_ok("{\"version\":1,\"seccomp\":{\"socket_families\":[]}}");
	ck_assert_uint_eq(none->socket_families, 0);

	/* the table's names are unique and netlink is the only family split
	 * by protocol (the filter relies on it) */
	for (size_t i = 0; i < n_socket_families; i++) {
		ck_assert_int_eq(socket_family_index(socket_families[i].name), (int)i);
		if (socket_families[i].protocol >= 0)
			ck_assert_int_eq(socket_families[i].family, 16 /* AF_NETLINK */);
	}

	/* shown by policy check, in table order */
	json_t *j = policy_to_json(p);
	char *text = json_dumps(json_object_get(json_object_get(j, "seccomp"), "socket_families"), JSON_COMPACT);
	ck_assert_str_eq(text, "[\"unix\",\"netlink_audit\",\"vsock\"]");
	free(text);
	json_decref(j);
}
END_TEST

START_TEST(test_socket_families_only_tighten)
{
	static const char *const unix_only[] = { "unix", NULL };
	static const char *const loosen[] = { "unix", "vsock", "packet", NULL };
	_cleanup_policy_ struct policy *p = default_policy();
	uint64_t before = p->socket_families;
	wr_error e = { 0 };
	ck_assert_int_eq(policy_restrict_socket_families(p, families(loosen), &e), -EPERM);
	ck_assert_str_eq(e.message, "socket family packet, vsock is not allowed by policy default "
			 "(its seccomp.socket_families: unix, inet, inet6, netlink_route)");
	ck_assert_uint_eq(p->socket_families, before);
	ck_assert_int_eq(policy_restrict_socket_families(p, families(unix_only), &e), 0);
	ck_assert_uint_eq(p->socket_families, families(unix_only));
	/* the narrowed set is the new ceiling */
	ck_assert_int_eq(policy_restrict_socket_families(p, before, &e), -EPERM);
	ck_assert_int_eq(policy_restrict_socket_families(p, 0, &e), 0);
	ck_assert_uint_eq(p->socket_families, 0);
}
END_TEST

START_TEST(test_value_forms)
{
	static const struct { const char *json; uint32_t cpus; uint64_t timeout_ms; } cases[] = {
		{ "{\"version\":1,\"limits\":{\"cpus\":0.5,\"timeout\":\"250ms\"}}", 500, 250 },
		{ "{\"version\":1,\"limits\":{\"cpus\":2,\"timeout\":\"1h\"}}", 2000, 3600000 },
		{ "{\"version\":1,\"limits\":{\"cpus\":\"1.25\",\"timeout\":\"1.5s\"}}", 1250, 1500 },
		{ "{\"version\":1,\"limits\":{\"cpus\":0.3,\"timeout\":\"2m\"}}", 300, 120000 },
		{ "{\"version\":1,\"limits\":{\"cpus\":1024,\"timeout\":\"30\"}}", 1024000, 30000 },
	};
	for (size_t i = 0; i < N(cases); i++) {
		_cleanup_policy_ struct policy *p = parse_ok(cases[i].json);
		ck_assert_uint_eq(p->limits.cpu_millis, cases[i].cpus);
		ck_assert_uint_eq(p->limits.timeout_ms, cases[i].timeout_ms);
	}
}
END_TEST

START_TEST(test_hostnames)
{
	static const char *const good[] = { "a", "sandbox", "box-1.example.org", "A1" };
	static const char *const bad[] = { "", "-a", "a-", "a..b", ".a", "a.", "a b", "é",
		"0123456789012345678901234567890123456789012345678901234567890123" /* 64 in one label */ };
	char json[256];
	for (size_t i = 0; i < N(good); i++) {
		snprintf(json, sizeof json, "{\"version\":1,\"hostname\":\"%s\"}", good[i]);
		_cleanup_policy_ struct policy *p = parse_ok(json);
		ck_assert_str_eq(p->hostname, good[i]);
	}
	for (size_t i = 0; i < N(bad); i++) {
		struct policy *p = NULL;
		wr_error e = { 0 };
		snprintf(json, sizeof json, "{\"version\":1,\"hostname\":\"%s\"}", bad[i]);
		ck_assert_msg(policy_parse(json, strlen(json), "test", &p, &e) == -EINVAL, "accepted %s", bad[i]);
		ck_assert(strncmp(e.message, "test: hostname: ", 16) == 0);
	}
}
END_TEST

START_TEST(test_name_from_origin)
{
	const char *json = "{\"version\":1}";
	struct policy *p = NULL;
	wr_error e = { 0 };
	ck_assert_int_eq(policy_parse(json, strlen(json), "/etc/warren/strict.json", &p, &e), 0);
	ck_assert_str_eq(p->name, "strict");
	ck_assert_str_eq(p->origin, "/etc/warren/strict.json");
	policy_free(p);
	ck_assert_int_eq(policy_parse(json, strlen(json), "request", &p, &e), 0);
	ck_assert_str_eq(p->name, "default");
	policy_free(p);
}
END_TEST

static void check_shipped(const struct policy *p)
{
	/* everything the contract says, plus io_uring (not in the contract
	 * because a policy may need it, but off in what we ship) */
	for (size_t i = 0; seccomp_contract_deny[i]; i++)
		ck_assert(strv_has(p->seccomp_deny, seccomp_contract_deny[i]));
	ck_assert(strv_has(p->seccomp_deny, "io_uring_setup"));
	ck_assert(strv_has(p->seccomp_deny, "io_uring_enter"));
	ck_assert(strv_has(p->seccomp_deny, "io_uring_register"));
	ck_assert_int_eq(p->network, NET_NONE);
	ck_assert(!p->allow_host_network);
	ck_assert(p->rlimits[POLICY_RLIMIT_CORE].set);
	ck_assert_uint_eq(p->rlimits[POLICY_RLIMIT_CORE].value, 0);
}

START_TEST(test_builtin_policy)
{
	_cleanup_policy_ struct policy *p = NULL;
	wr_error e = { 0 };
	ck_assert_msg(policy_load_builtin(&p, &e) == 0, "%s", e.message);
	ck_assert_str_eq(p->name, "default");
	ck_assert_str_eq(p->origin, "built-in");
	ck_assert_uint_eq(p->limits.memory, 512 * MIB);
	ck_assert_uint_eq(p->limits.pids, 256);
	ck_assert_uint_eq(p->limits.timeout_ms, 5 * 60 * 1000);
	check_shipped(p);
}
END_TEST

START_TEST(test_shipped_files)
{
	_cleanup_policy_ struct policy *def = NULL, *py = NULL, *builtin = NULL;
	wr_error e = { 0 };
	ck_assert_msg(policy_load_file(WARREN_SRCDIR "/policy/default.json", &def, &e) == 0, "%s", e.message);
	ck_assert_msg(policy_load_file(WARREN_SRCDIR "/policy/python.json", &py, &e) == 0, "%s", e.message);
	ck_assert_int_eq(policy_load_builtin(&builtin, &e), 0);
	ck_assert_str_eq(def->name, "default");
	ck_assert_str_eq(py->name, "python");
	check_shipped(def);
	check_shipped(py);
	/* the compiled-in copy is the file */
	json_t *a = policy_to_json(def), *b = policy_to_json(builtin);
	ck_assert(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	ck_assert_uint_eq(py->limits.memory, GIB);
	ck_assert_uint_eq(py->limits.pids, 512);
	ck_assert_uint_eq(py->limits.timeout_ms, 10 * 60 * 1000);
	ck_assert_uint_gt(py->limits.memory, def->limits.memory);
}
END_TEST

START_TEST(test_load_by_name)
{
	_cleanup_policy_ struct policy *p = NULL;
	wr_error e = { 0 };
	setenv("WARREN_POLICY_DIR", WARREN_SRCDIR "/policy", 1);
	ck_assert_msg(policy_load("python", &p, &e) == 0, "%s", e.message);
	ck_assert_str_eq(p->name, "python");
	ck_assert_str_eq(p->origin, WARREN_SRCDIR "/policy/python.json");
	policy_free(TAKE_PTR(p));

	/* a path is never looked up by name */
	ck_assert_int_eq(policy_load("policy-that-does-not-exist.json", &p, &e), -ENOENT);
	ck_assert_str_eq(e.message, "open policy-that-does-not-exist.json: No such file or directory");

	setenv("WARREN_POLICY_DIR", "/nonexistent-dir", 1);
	ck_assert_int_eq(policy_load("nosuch", &p, &e), -ENOENT);
	ck_assert_str_eq(e.message, "policy \"nosuch\" not found: no nosuch.json in /nonexistent-dir "
			 "($WARREN_POLICY_DIR) or " WARREN_POLICYDIR);
	/* warrend sets it to its policy_dir, often the installed one: named once */
	setenv("WARREN_POLICY_DIR", WARREN_POLICYDIR, 1);
	ck_assert_int_eq(policy_load("nosuch", &p, &e), -ENOENT);
	ck_assert_str_eq(e.message, "policy \"nosuch\" not found: no nosuch.json in " WARREN_POLICYDIR
			 " (set $WARREN_POLICY_DIR or give a path)");
	unsetenv("WARREN_POLICY_DIR");
	ck_assert_int_eq(policy_load("nosuch", &p, &e), -ENOENT);
	ck_assert_str_eq(e.message, "policy \"nosuch\" not found: no nosuch.json in " WARREN_POLICYDIR
			 " (set $WARREN_POLICY_DIR or give a path)");
	ck_assert_int_eq(policy_load("..", &p, &e), -EINVAL);
	ck_assert_int_eq(policy_load("", &p, &e), -EINVAL);

	/* "default" (and NULL) falls back to the built-in one when no file is installed */
	setenv("WARREN_POLICY_DIR", "/nonexistent-dir", 1);
	bool installed = access(WARREN_POLICYDIR "/default.json", F_OK) == 0;
	ck_assert_msg(policy_load(NULL, &p, &e) == 0, "%s", e.message);
	ck_assert_str_eq(p->origin, installed ? WARREN_POLICYDIR "/default.json" : "built-in");
	policy_free(TAKE_PTR(p));
	ck_assert_int_eq(policy_load("default", &p, &e), 0);
	ck_assert_str_eq(p->name, "default");
	unsetenv("WARREN_POLICY_DIR");
}
END_TEST

START_TEST(test_load_file_errors)
{
	_cleanup_policy_ struct policy *p = NULL;
	wr_error e = { 0 };
	char dir[] = "/tmp/test-policy-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof path, "%s/bad.json", dir);

	FILE *f = fopen(path, "w");
	fputs("{\"version\": 1,\n \"limits\": {\"pids\": \"many\"}}\n", f);
	fclose(f);
	ck_assert_int_eq(policy_load_file(path, &p, &e), -EINVAL);
	char want[200];
	snprintf(want, sizeof want, "%s: limits.pids: expected an integer, got a string", path);
	ck_assert_str_eq(e.message, want);

	/* a policy file may not be a directory, nor bigger than 1 MiB */
	ck_assert_int_eq(policy_load_file(dir, &p, &e), -EINVAL);
	snprintf(want, sizeof want, "%s: not a regular file", dir);
	ck_assert_str_eq(e.message, want);
	ck_assert_int_eq(truncate(path, (1 << 20) + 1), 0);
	ck_assert_int_eq(policy_load_file(path, &p, &e), -EINVAL);
	snprintf(want, sizeof want, "%s: larger than a policy may be (1 MiB)", path);
	ck_assert_str_eq(e.message, want);

	unlink(path);
	rmdir(dir);
}
END_TEST

static struct policy *default_policy(void)
{
	struct policy *p = NULL;
	wr_error e = { 0 };
	ck_assert_int_eq(policy_load_builtin(&p, &e), 0);
	return p;
}

static const struct policy_limit_names flags = {
	.memory = "--memory", .pids = "--pids", .cpus = "--cpus", .timeout = "--timeout",
	.workspace = "--workspace", .tmp = "--tmp", .output = NULL,
};

START_TEST(test_tighten_within)
{
	_cleanup_policy_ struct policy *p = default_policy();
	wr_error e = { 0 };
	struct policy_limits req = { .memory = 256 * MIB, .cpu_millis = 500, .timeout_ms = 1000 };
	ck_assert_int_eq(policy_tighten(p, &req, &flags, &e), 0);
	ck_assert_uint_eq(p->limits.memory, 256 * MIB);
	ck_assert_uint_eq(p->limits.cpu_millis, 500);
	ck_assert_uint_eq(p->limits.timeout_ms, 1000);
	ck_assert_uint_eq(p->limits.pids, 256);  /* not asked for: unchanged */
	ck_assert_uint_eq(p->limits.workspace, GIB);
	/* equal to the limit is fine too */
	struct policy_limits same = { .pids = 256, .output = 16 * MIB };
	ck_assert_int_eq(policy_tighten(p, &same, NULL, &e), 0);
	ck_assert_uint_eq(p->limits.pids, 256);
}
END_TEST

START_TEST(test_tighten_over)
{
	_cleanup_policy_ struct policy *p = default_policy();
	wr_error e = { 0 };
	struct policy_limits req = { .memory = GIB };
	ck_assert_int_eq(policy_tighten(p, &req, &flags, &e), -EPERM);
	ck_assert_int_eq(e.code, EPERM);
	ck_assert_str_eq(e.message, "--memory 1G exceeds the policy's limit of 512M (policy default)");
	ck_assert_uint_eq(p->limits.memory, 512 * MIB);

	/* refused as a whole: the acceptable field is not applied either */
	struct policy_limits mixed = { .pids = 10, .cpu_millis = 1500 };
	ck_assert_int_eq(policy_tighten(p, &mixed, &flags, &e), -EPERM);
	ck_assert_str_eq(e.message, "--cpus 1.5 exceeds the policy's limit of 1 (policy default)");
	ck_assert_uint_eq(p->limits.pids, 256);

	struct policy_limits t = { .timeout_ms = 600000 };
	ck_assert_int_eq(policy_tighten(p, &t, &flags, &e), -EPERM);
	ck_assert_str_eq(e.message, "--timeout 10m exceeds the policy's limit of 5m (policy default)");
	struct policy_limits n = { .pids = 257 };
	ck_assert_int_eq(policy_tighten(p, &n, NULL, &e), -EPERM);
	ck_assert_str_eq(e.message, "limits.pids 257 exceeds the policy's limit of 256 (policy default)");
	/* a NULL entry in flag_names falls back to the JSON name */
	struct policy_limits o = { .output = 32 * MIB };
	ck_assert_int_eq(policy_tighten(p, &o, &flags, &e), -EPERM);
	ck_assert_str_eq(e.message, "limits.output 32M exceeds the policy's limit of 16M (policy default)");
	struct policy_limits w = { .workspace = 2 * GIB, .tmp = 512 * MIB };
	ck_assert_int_eq(policy_tighten(p, &w, &flags, &e), -EPERM);
	ck_assert_str_eq(e.message, "--workspace 2G exceeds the policy's limit of 1G (policy default)");

	/* a tightened policy is the new ceiling */
	struct policy_limits down = { .memory = 128 * MIB }, up = { .memory = 256 * MIB };
	ck_assert_int_eq(policy_tighten(p, &down, &flags, &e), 0);
	ck_assert_int_eq(policy_tighten(p, &up, &flags, &e), -EPERM);
	ck_assert_str_eq(e.message, "--memory 256M exceeds the policy's limit of 128M (policy default)");
}
END_TEST

START_TEST(test_tighten_below_minimum)
{
	_cleanup_policy_ struct policy *p = default_policy();
	wr_error e = { 0 };
	struct policy_limits req = { .memory = MIB };
	ck_assert_int_eq(policy_tighten(p, &req, &flags, &e), -EINVAL);
	ck_assert_str_eq(e.message, "--memory 1M is below the minimum of 4M");
	ck_assert_uint_eq(p->limits.memory, 512 * MIB);
}
END_TEST

#define EGRESS_POLICY "{\"version\":1,\"name\":\"eg\",\"network\":{\"mode\":\"egress\",\"allow\":[" \
	"\"198.18.0.0/15\",\"203.0.113.7:443\",\"[2001:db8::]:80\",\"2001:db8:1::/48\",\"PyPI.org.\"," \
	"\"*.githubusercontent.com\",\"10.1.0.0/16\"],\"pool\":\"10.99.0.0/16\",\"pool6\":\"fd00:99::/64\"," \
	"\"interface\":\"veth-up\",\"resolvers\":[\"198.18.0.1\",\"[2001:db8::53]:5353\"]," \
	"\"bandwidth\":\"10M\",\"connections\":64}}"

/* Every egress field read, written back as read (normalized), and read
 * again to the same thing. */
START_TEST(test_egress_fields)
{
	_cleanup_policy_ struct policy *p = parse_ok(EGRESS_POLICY);
	ck_assert_int_eq(p->network, NET_EGRESS);
	ck_assert_uint_eq(p->net.allow.n, 7);
	ck_assert_int_eq(p->net.allow.v[1].port, 443);
	ck_assert_int_eq(p->net.allow.v[4].kind, ALLOW_NAME);
	ck_assert_str_eq(p->net.allow.v[4].name, "pypi.org");
	ck_assert_int_eq(p->net.allow.v[5].kind, ALLOW_WILDCARD);
	ck_assert_str_eq(p->net.allow.v[5].name, "githubusercontent.com");
	ck_assert_str_eq(p->net.interface, "veth-up");
	ck_assert_uint_eq(p->net.n_resolvers, 2);
	ck_assert_int_eq(p->net.resolvers[1].port, 5353);
	ck_assert_uint_eq(p->net.bandwidth, 10 * MIB);
	ck_assert_uint_eq(p->net.connections, 64);

	json_auto_t *j = policy_to_json(p);
	_cleanup_free_ char *text = json_dumps(json_object_get(j, "network"), JSON_COMPACT);
	ck_assert_str_eq(text, "{\"mode\":\"egress\",\"allow_host\":false,\"allow\":[\"198.18.0.0/15\","
			 "\"203.0.113.7:443\",\"[2001:db8::]:80\",\"2001:db8:1::/48\",\"pypi.org\","
			 "\"*.githubusercontent.com\",\"10.1.0.0/16\"],\"pool\":\"10.99.0.0/16\",\"pool6\":\"fd00:99::/64\","
			 "\"interface\":\"veth-up\",\"resolvers\":[\"198.18.0.1:53\",\"[2001:db8::53]:5353\"],"
			 "\"bandwidth\":\"10M\",\"connections\":64}");
	_cleanup_free_ char *all = json_dumps(j, JSON_COMPACT);
	_cleanup_policy_ struct policy *again = parse_ok(all);
	json_auto_t *j2 = policy_to_json(again);
	ck_assert(json_equal(j, j2));

	/* the default policy: no egress, and the default pool */
	_cleanup_policy_ struct policy *d = default_policy();
	char pool[64];
	net_cidr_format(&d->net.pool, pool, sizeof pool);
	ck_assert_str_eq(pool, "10.231.0.0/16");
	ck_assert_uint_eq(d->net.allow.n, 0);
}
END_TEST

/* A run may ask for egress only under an egress policy, and may narrow
 * its allowlist, never widen it. */
START_TEST(test_egress_narrowing)
{
	wr_error e = { 0 };
	_cleanup_policy_ struct policy *d = default_policy();
	ck_assert_int_eq(policy_set_network(d, NET_EGRESS, &e), -EPERM);
	ck_assert_str_eq(e.message, "egress is not allowed by policy default (its network.mode is \"none\"; a policy "
			 "with \"mode\": \"egress\" and an \"allow\" list says where sandboxes may go)");

	_cleanup_policy_ struct policy *p = parse_ok(EGRESS_POLICY);
	char *wider[] = { "198.18.0.1:80", "0.0.0.0/0" };
	ck_assert_int_eq(policy_narrow_allow(p, wider, 2, NULL, &e), -EPERM);
	ck_assert_str_eq(e.message, "--allow 0.0.0.0/0 is not within the allowlist of policy eg (its network.allow)");
	ck_assert_uint_eq(p->net.allow.n, 7); /* unchanged */
	char *other_port[] = { "203.0.113.7:80" };
	ck_assert_int_eq(policy_narrow_allow(p, other_port, 1, NULL, &e), -EPERM);
	char *bare[] = { "pypi.org.evil.example" };
	ck_assert_int_eq(policy_narrow_allow(p, bare, 1, "allow", &e), -EPERM);
	ck_assert_str_eq(e.message, "allow pypi.org.evil.example is not within the allowlist of policy eg (its network.allow)");
	char *apex[] = { "githubusercontent.com" }; /* "*.x" does not cover x itself */
	ck_assert_int_eq(policy_narrow_allow(p, apex, 1, NULL, &e), -EPERM);
	char *bad[] = { "169.254.169.254" };
	ck_assert_int_eq(policy_narrow_allow(p, bad, 1, NULL, &e), -EINVAL);
	ck_assert_str_eq(e.message, "--allow 169.254.169.254: is link-local (cloud metadata services live there): never "
			 "reachable from a sandbox");

	char *narrower[] = { "198.18.0.10", "203.0.113.7:443", "2001:db8:1:2::/64", "pypi.org",
			     "raw.githubusercontent.com", "*.a.githubusercontent.com" };
	/* a session's own list: the policy keeps its own */
	struct net_allow own;
	ck_assert_int_eq(policy_allow_narrowed(p, narrower, 2, "network.allow:", &own, &e), 0);
	ck_assert_uint_eq(own.n, 2);
	ck_assert_uint_eq(p->net.allow.n, 7);
	ck_assert(own.v != p->net.allow.v);
	free(own.v);
	ck_assert_int_eq(policy_allow_narrowed(p, wider, 2, "network.allow:", &own, &e), -EPERM);
	ck_assert_str_eq(e.message, "network.allow: 0.0.0.0/0 is not within the allowlist of policy eg (its network.allow)");
	ck_assert_int_eq(policy_narrow_allow(p, narrower, 6, NULL, &e), 0);
	ck_assert_uint_eq(p->net.allow.n, 6);
	ck_assert(net_allow_name(&p->net.allow, "raw.githubusercontent.com"));
	ck_assert(net_allow_name(&p->net.allow, "x.a.githubusercontent.com"));
	ck_assert(!net_allow_name(&p->net.allow, "objects.githubusercontent.com"));
	ck_assert_int_eq(policy_set_network(p, NET_NONE, &e), 0);
	ck_assert_int_eq(policy_set_network(p, NET_HOST, &e), -EPERM);
}
END_TEST

START_TEST(test_host_network)
{
	_cleanup_policy_ struct policy *p = default_policy();
	wr_error e = { 0 };
	ck_assert_int_eq(policy_set_network(p, NET_HOST, &e), -EPERM);
	ck_assert_str_eq(e.message, "the host network is not allowed by policy default "
			 "(it needs \"network\": {\"allow_host\": true})");
	ck_assert_int_eq(p->network, NET_NONE);
	ck_assert_int_eq(policy_set_network(p, NET_NONE, &e), 0);

	_cleanup_policy_ struct policy *open = parse_ok("{\"version\":1,\"network\":{\"allow_host\":true}}");
	ck_assert_int_eq(open->network, NET_NONE);
	ck_assert_int_eq(policy_set_network(open, NET_HOST, &e), 0);
	ck_assert_int_eq(open->network, NET_HOST);
	ck_assert_int_eq(policy_set_network(open, NET_NONE, &e), 0);
	ck_assert_int_eq(open->network, NET_NONE);
}
END_TEST

/* policy_to_json writes what policy_parse reads, and nothing is lost. */
START_TEST(test_to_json_round_trip)
{
	static const char *const docs[] = {
		"{\"version\":1}",
		"{\"version\":1,\"name\":\"x\",\"description\":\"d\",\"limits\":{\"cpus\":0.25,\"timeout\":\"1500ms\","
		"\"memory\":5000000},\"rlimits\":{\"stack\":\"unlimited\",\"nofile\":7,\"as\":12345,\"fsize\":\"3K\"},"
		"\"network\":{\"allow_host\":true,\"mode\":\"host\"},\"seccomp\":{\"errno\":\"EACCES\","
		"\"socket_families\":[\"packet\",\"inet\"]},"
		"\"mounts\":[{\"source\":\"/a\",\"target\":\"/b\"}],\"env\":{\"A\":\"1\"},\"images\":[\"host\"],"
		"\"collect\":{\"file_max\":1500,\"count_max\":7}}",
	};
	for (size_t i = 0; i < N(docs); i++) {
		_cleanup_policy_ struct policy *p = parse_ok(docs[i]);
		json_t *j = policy_to_json(p);
		ck_assert_ptr_nonnull(j);
		char *text = json_dumps(j, JSON_INDENT(2));
		_cleanup_policy_ struct policy *q = parse_ok(text);
		json_t *k = policy_to_json(q);
		ck_assert_msg(json_equal(j, k), "round trip changed %s", text);
		ck_assert_mem_eq(&p->limits, &q->limits, sizeof p->limits);
		ck_assert_mem_eq(p->rlimits, q->rlimits, sizeof p->rlimits);
		ck_assert_mem_eq(&p->collect, &q->collect, sizeof p->collect);
		free(text);
		json_decref(j);
		json_decref(k);
	}
}
END_TEST

START_TEST(test_to_json_shape)
{
	_cleanup_policy_ struct policy *p = parse_ok(
		"{\"version\":1,\"limits\":{\"cpus\":0.5},\"rlimits\":{\"nproc\":\"unlimited\"}}");
	json_t *j = policy_to_json(p);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "version")), 1);
	json_t *limits = json_object_get(j, "limits");
	ck_assert_str_eq(json_string_value(json_object_get(limits, "memory")), "512M");
	ck_assert_int_eq(json_integer_value(json_object_get(limits, "pids")), 256);
	ck_assert_str_eq(json_string_value(json_object_get(limits, "cpus")), "0.5");
	ck_assert_str_eq(json_string_value(json_object_get(limits, "timeout")), "5m");
	json_t *rl = json_object_get(j, "rlimits");
	ck_assert_uint_eq(json_object_size(rl), 2);  /* only the set ones */
	ck_assert_int_eq(json_integer_value(json_object_get(rl, "core")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(rl, "nproc")), "unlimited");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "env"), "HOME")), "/workspace");
	ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(j, "seccomp"), "deny")),
			  p->n_seccomp_deny);
	ck_assert_ptr_null(json_object_get(j, "images"));
	ck_assert_ptr_null(json_object_get(j, "description"));
	json_decref(j);
}
END_TEST

START_TEST(test_tmpfs_size_leaves_memory)
{
	const uint64_t M = 1ULL << 20;
	/* a 16M sandbox: a 1G workspace gets 12M, 4M stay for its processes */
	ck_assert_uint_eq(policy_tmpfs_size(1024 * M, 16 * M), 12 * M);
	ck_assert_uint_eq(policy_tmpfs_size(8 * M, 16 * M), 8 * M);
	/* the reserve is at most 32M */
	ck_assert_uint_eq(policy_tmpfs_size(1024 * M, 512 * M), 480 * M);
	ck_assert_uint_eq(policy_tmpfs_size(256 * M, 512 * M), 256 * M);
	ck_assert_uint_eq(policy_tmpfs_size(3 * M, 4 * M), 3 * M);
	/* no memory limit: as asked */
	ck_assert_uint_eq(policy_tmpfs_size(1024 * M, 0), 1024 * M);
	for (uint64_t mem = 4 * M; mem < 64 * 1024 * M; mem = mem * 3 / 2)
		ck_assert_uint_lt(policy_tmpfs_size(UINT64_MAX, mem), mem);
}
END_TEST

/* "hide": read, written back, and a request may only add to it. */
START_TEST(test_hide)
{
	_cleanup_policy_ struct policy *p = parse_ok(
		"{\"version\": 1, \"hide\": [\"/etc/ssh\", \"/proc/cpuinfo\", \"/usr/local/share/x\"]}");
	ck_assert_uint_eq(p->n_hide, 3);
	ck_assert_str_eq(p->hide[0], "/etc/ssh");
	ck_assert_str_eq(p->hide[2], "/usr/local/share/x");
	ck_assert_ptr_null(p->hide[3]);
	wr_error e = { 0 };
	ck_assert_int_eq(policy_hide_add(p, "/etc/ssh", &e), 0); /* already there */
	ck_assert_int_eq(policy_hide_add(p, "/opt/keys", &e), 0);
	ck_assert_uint_eq(p->n_hide, 4);
	ck_assert_str_eq(p->hide[3], "/opt/keys");
	ck_assert_ptr_null(p->hide[4]);
	ck_assert_int_eq(policy_hide_add(p, "/tmp", &e), -EINVAL);
	ck_assert_str_eq(e.message, "hide \"/tmp\": is reserved: the sandbox mounts it itself");
	ck_assert_int_eq(policy_hide_add(p, "relative", &e), -EINVAL);
	json_t *j = policy_to_json(p);
	json_t *hide = json_object_get(j, "hide");
	ck_assert_uint_eq(json_array_size(hide), 4);
	ck_assert_str_eq(json_string_value(json_array_get(hide, 3)), "/opt/keys");
	json_decref(j);
	/* left out: none */
	_cleanup_policy_ struct policy *d = parse_ok("{\"version\": 1}");
	ck_assert_uint_eq(d->n_hide, 0);
	ck_assert_ptr_null(json_object_get(j = policy_to_json(d), "hide"));
	json_decref(j);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_parse_errors, 0, N(error_cases));
	tcase_add_test(tc, test_contract_deny_always_in);
	tcase_add_test(tc, test_empty_deny_is_the_contract);
	tcase_add_test(tc, test_socket_families);
	tcase_add_test(tc, test_socket_families_only_tighten);
	tcase_add_test(tc, test_too_large);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_field);
	tcase_add_test(tc, test_value_forms);
	tcase_add_test(tc, test_hostnames);
	tcase_add_test(tc, test_name_from_origin);
	tcase_add_test(tc, test_builtin_policy);
	tcase_add_test(tc, test_shipped_files);
	tcase_add_test(tc, test_load_by_name);
	tcase_add_test(tc, test_load_file_errors);
	tcase_add_test(tc, test_tighten_within);
	tcase_add_test(tc, test_tighten_over);
	tcase_add_test(tc, test_tighten_below_minimum);
	tcase_add_test(tc, test_host_network);
	tcase_add_test(tc, test_egress_fields);
	tcase_add_test(tc, test_egress_narrowing);
	tcase_add_test(tc, test_to_json_round_trip);
	tcase_add_test(tc, test_to_json_shape);
	tcase_add_test(tc, test_tmpfs_size_leaves_memory);
	tcase_add_test(tc, test_hide);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
