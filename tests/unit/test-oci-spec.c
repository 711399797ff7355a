#include "config.h"

#include "unit.h"

#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <linux/netlink.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "mount.h"
#include "oci-spec.h"
#include "policy.h"
#include "seccomp-filter.h"
#include "socket-family.h"

static struct policy *builtin(void)
{
	struct policy *p = NULL;
	wr_error e = { 0 };
	ck_assert_msg(policy_load_builtin(&p, &e) == 0, "%s", e.message);
	return p;
}

static json_t *seccomp_of(const struct policy *p)
{
	wr_error e = { 0 };
	json_t *sc = oci_seccomp_json(p, &e);
	ck_assert_msg(sc, "%s", e.message);
	return sc;
}

/* The built-in policy's seccomp object (the policy in *p, to free). */
static json_t *builtin_seccomp(struct policy **p)
{
	*p = builtin();
	return seccomp_of(*p);
}

static bool names_hold(json_t *rule, const char *name)
{
	size_t j;
	json_t *v;
	json_array_foreach(json_object_get(rule, "names"), j, v)
		if (!strcmp(json_string_value(v), name))
			return true;
	return false;
}

/* The rules that name a call. */
static size_t rules_for(json_t *seccomp, const char *name)
{
	size_t n = 0, i;
	json_t *rule;
	json_array_foreach(json_object_get(seccomp, "syscalls"), i, rule)
		n += names_hold(rule, name);
	return n;
}

static bool cmp_holds(json_t *a, const uint64_t *args)
{
	const char *op = json_string_value(json_object_get(a, "op"));
	uint64_t v = args[json_integer_value(json_object_get(a, "index"))];
	uint64_t k = (uint64_t)json_integer_value(json_object_get(a, "value"));
	uint64_t k2 = (uint64_t)json_integer_value(json_object_get(a, "valueTwo"));
	if (!strcmp(op, "SCMP_CMP_EQ"))
		return v == k;
	if (!strcmp(op, "SCMP_CMP_GT"))
		return v > k;
	if (!strcmp(op, "SCMP_CMP_MASKED_EQ"))
		return (v & k) == k2;
	ck_abort_msg("unexpected op %s", op);
	return false;
}

#define ALLOWED 0

/* What a runtime loading the profile answers for name(args): ALLOWED or
 * the errno. Different indexes in one rule are ANDed (runc, crun). Two
 * matching rules that disagree fail the test: a runtime would have to
 * pick one. */
static int answer(json_t *sc, const char *name, uint64_t a0, uint64_t a1, uint64_t a2)
{
	const uint64_t args[6] = { a0, a1, a2 };
	int got = -1;
	size_t i, j;
	json_t *rule, *a;
	json_array_foreach(json_object_get(sc, "syscalls"), i, rule) {
		if (!names_hold(rule, name))
			continue;
		bool match = true;
		json_array_foreach(json_object_get(rule, "args"), j, a)
			match = match && cmp_holds(a, args);
		if (!match)
			continue;
		bool allow = !strcmp(json_string_value(json_object_get(rule, "action")), "SCMP_ACT_ALLOW");
		int this = allow ? ALLOWED : (int)json_integer_value(json_object_get(rule, "errnoRet"));
		ck_assert_msg(got < 0 || got == this, "%s(%#llx, %#llx, %#llx): rules answer %d and %d", name,
			      (unsigned long long)a0, (unsigned long long)a1, (unsigned long long)a2, got, this);
		got = this;
	}
	return got < 0 ? (int)json_integer_value(json_object_get(sc, "defaultErrnoRet")) : got;
}

static void deny_also(struct policy *p, const char *name)
{
	char **deny = realloc(p->seccomp_deny, (p->n_seccomp_deny + 2) * sizeof *deny);
	deny[p->n_seccomp_deny++] = strdup(name);
	deny[p->n_seccomp_deny] = NULL;
	p->seccomp_deny = deny;
}

START_TEST(seccomp_is_an_allowlist_with_the_policy_errno)
{
	struct policy *p;
	json_t *sc = builtin_seccomp(&p);
	ck_assert_str_eq(json_string_value(json_object_get(sc, "defaultAction")), "SCMP_ACT_ERRNO");
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "defaultErrnoRet")), EPERM);
	json_t *arch = json_object_get(sc, "architectures");
	ck_assert_uint_eq(json_array_size(arch), 1);
	ck_assert_str_eq(json_string_value(json_array_get(arch, 0)), "SCMP_ARCH_X86_64");
	ck_assert_int_eq(answer(sc, "read", 0, 0, 0), ALLOWED);
	ck_assert_int_eq(answer(sc, "execve", 0, 0, 0), ALLOWED);
	ck_assert_int_eq(answer(sc, "statmount", 0, 0, 0), ALLOWED);
	/* the contract, the shipped io_uring denial and what was never listed */
	static const char *const denied[] = { "ptrace", "mount", "unshare", "bpf", "set_mempolicy_home_node",
					      "io_uring_setup", "lsm_list_modules", "process_madvise" };
	for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++) {
		ck_assert_int_eq(answer(sc, denied[i], 0, 0, 0), EPERM);
		ck_assert_uint_eq(rules_for(sc, denied[i]), 0);
	}
	/* every allowed call without argument rules runs */
	for (const char *const *s = seccomp_allowed; *s; s++)
		if (rules_for(sc, *s) == 1)
			ck_assert_msg(answer(sc, *s, 0, 0, 0) == ALLOWED, "%s", *s);
	json_decref(sc);

	/* another errno travels as the default */
	p->seccomp_errno = ENOSYS;
	sc = seccomp_of(p);
	ck_assert_int_eq(json_integer_value(json_object_get(sc, "defaultErrnoRet")), ENOSYS);
	ck_assert_int_eq(answer(sc, "ptrace", 0, 0, 0), ENOSYS);
	json_decref(sc);
	wr_error e = { 0 };
	p->seccomp_errno = 0;
	ck_assert_ptr_null(oci_seccomp_json(p, &e));
	ck_assert_int_eq(e.code, EINVAL);
	policy_free(p);
}
END_TEST

START_TEST(seccomp_refuses_unknown_names)
{
	struct policy *p = builtin();
	free(p->seccomp_deny[0]);
	p->seccomp_deny[0] = strdup("no_such_call");
	wr_error e = { 0 };
	ck_assert_ptr_null(oci_seccomp_json(p, &e));
	ck_assert_int_eq(e.code, EINVAL);
	ck_assert_ptr_nonnull(strstr(e.message, "no_such_call"));
	policy_free(p);
}
END_TEST

static const uint64_t ns_flags[] = { CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
				     CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME };

START_TEST(seccomp_clone_namespace_flags_each_fail)
{
	struct policy *p = builtin();
	for (int errno_case = 0; errno_case < 2; errno_case++) {
		/* the contract's EPERM whatever the policy's errno */
		p->seccomp_errno = errno_case ? EACCES : EPERM;
		json_t *sc = seccomp_of(p);
		for (size_t f = 0; f < sizeof ns_flags / sizeof ns_flags[0]; f++) {
			ck_assert_int_eq(answer(sc, "clone", ns_flags[f] | SIGCHLD, 0, 0), EPERM);
			ck_assert_int_eq(answer(sc, "clone", ns_flags[f] | CLONE_NEWUSER | CLONE_VM, 0, 0), EPERM);
		}
		ck_assert_int_eq(answer(sc, "clone", SIGCHLD, 0, 0), ALLOWED);
		ck_assert_int_eq(answer(sc, "clone", CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
						     CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS, 0, 0), ALLOWED);
		ck_assert_int_eq(answer(sc, "clone3", 0, 0, 0), ENOSYS);
		ck_assert_int_eq(answer(sc, "openat2", 0, 0, 0), ENOSYS);
		/* no rule repeats the default (runtimes refuse or skip those) */
		ck_assert_uint_eq(rules_for(sc, "clone"), errno_case ? 9 : 1);
		json_decref(sc);
	}
	policy_free(p);
}
END_TEST

START_TEST(seccomp_ioctl_and_setid_rules)
{
	struct policy *p = builtin();
	for (int errno_case = 0; errno_case < 2; errno_case++) {
		p->seccomp_errno = errno_case ? ENOSYS : EPERM;
		json_t *sc = seccomp_of(p);
		/* the kernel reads 32 bits of the request: high bits must not help */
		static const uint64_t denied[] = { TIOCSTI, TIOCLINUX, 0x100005412ULL, 0xffffffff0000541cULL };
		for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
			ck_assert_int_eq(answer(sc, "ioctl", 0, denied[i], 0), EPERM);
		static const uint64_t fine[] = { FIONREAD, TCGETS, TIOCGWINSZ, 0, 0xffffffffu, 0x5413,
						 0xffffffff80085410ULL /* a sign-extended request */ };
		for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++)
			ck_assert_int_eq(answer(sc, "ioctl", 0, fine[i], 0), ALLOWED);
		for (uint64_t v = 1, k = 0; k < 20000; k++, v = v * 6364136223846793005ULL + 1442695040888963407ULL) {
			uint32_t low = (uint32_t)v;
			ck_assert_int_eq(answer(sc, "ioctl", 0, v, 0), low == TIOCSTI || low == TIOCLINUX ? EPERM : ALLOWED);
		}

		const struct { const char *name; int arg; } setid[] = {
			{ "chmod", 1 }, { "fchmod", 1 }, { "fchmodat", 2 }, { "fchmodat2", 2 }, { "creat", 1 },
			{ "open", 2 }, { "openat", 3 }, { "mknod", 1 }, { "mknodat", 2 },
		};
		for (size_t i = 0; i < sizeof setid / sizeof setid[0]; i++) {
			uint64_t args[4] = { 0 };
			for (int m = 0; m < 4; m++) {
				static const uint64_t modes[] = { 04755, 02755, 06700, 01777 };
				args[setid[i].arg] = modes[m];
				int want = modes[m] & (S_ISUID | S_ISGID) ? EPERM : ALLOWED;
				ck_assert_msg(setid[i].arg == 3 || answer(sc, setid[i].name, args[0], args[1], args[2]) == want,
					      "%s mode %llo", setid[i].name, (unsigned long long)modes[m]);
			}
		}
		json_decref(sc);
	}
	policy_free(p);
}
END_TEST

START_TEST(seccomp_personality_allows_only_the_harmless_values)
{
	struct policy *p = builtin();
	for (int errno_case = 0; errno_case < 2; errno_case++) {
		p->seccomp_errno = errno_case ? EACCES : EPERM;
		json_t *sc = seccomp_of(p);
		ck_assert_int_eq(answer(sc, "personality", 0, 0, 0), ALLOWED);
		ck_assert_int_eq(answer(sc, "personality", 0x0020000, 0, 0), ALLOWED);   /* UNAME26 */
		ck_assert_int_eq(answer(sc, "personality", 0xffffffffu, 0, 0), ALLOWED); /* query */
		ck_assert_int_eq(answer(sc, "personality", 0x0400000, 0, 0), EPERM);     /* READ_IMPLIES_EXEC */
		ck_assert_int_eq(answer(sc, "personality", 0x0040000, 0, 0), EPERM);     /* ADDR_NO_RANDOMIZE */
		ck_assert_int_eq(answer(sc, "personality", 0x0008, 0, 0), EPERM);        /* PER_LINUX32 */
		/* high bits: the kernel reads 32 */
		ck_assert_int_eq(answer(sc, "personality", 0x100000008ULL, 0, 0), EPERM);
		for (int b = 0; b < 32; b++)
			ck_assert_int_eq(answer(sc, "personality", 1u << b, 0, 0), b == 17 ? ALLOWED : EPERM);
		for (uint32_t v = 1, k = 0; k < 20000; k++, v = v * 2654435761u + 12345)
			ck_assert_int_eq(answer(sc, "personality", v, 0, 0),
					 v == 0 || v == 0x20000 || v == 0xffffffffu ? ALLOWED : EPERM);
		json_decref(sc);
	}
	policy_free(p);
}
END_TEST

static uint64_t family_set(const char *const *names)
{
	uint64_t set = 0;
	for (; *names; names++)
		set |= 1ULL << socket_family_index(*names);
	return set;
}

/* Every family and netlink protocol below 64, and a sample above, answer
 * as the set says, for socket and socketpair. */
static void check_families(json_t *sc, uint64_t set)
{
	static const char *const calls[] = { "socket", "socketpair" };
	for (int c = 0; c < 2; c++) {
		for (uint64_t af = 0; af < 64; af++) {
			bool plain = false, netlink_any = false;
			for (size_t i = 0; i < n_socket_families; i++)
				if ((set & (1ULL << i)) && (uint64_t)socket_families[i].family == af) {
					plain |= socket_families[i].protocol < 0;
					netlink_any = true;
				}
			for (uint64_t proto = 0; proto < 40; proto++) {
				bool ok = plain;
				for (size_t i = 0; !plain && i < n_socket_families; i++)
					ok |= (set & (1ULL << i)) && socket_families[i].family == AF_NETLINK &&
					      af == AF_NETLINK && (uint64_t)socket_families[i].protocol == proto;
				ck_assert_msg(answer(sc, calls[c], af, SOCK_STREAM, proto) == (ok ? ALLOWED : EAFNOSUPPORT),
					      "%s(%llu, .., %llu)", calls[c], (unsigned long long)af,
					      (unsigned long long)proto);
				/* high bits never open a family, whatever the low ones say */
				ck_assert_int_eq(answer(sc, calls[c], af | 1ULL << 32, SOCK_STREAM, proto), EAFNOSUPPORT);
				if (af == AF_NETLINK && netlink_any && !plain)
					ck_assert_int_eq(answer(sc, calls[c], af, 0, proto | 1ULL << 40), EAFNOSUPPORT);
			}
		}
		ck_assert_int_eq(answer(sc, calls[c], 0xffffffffffffffffULL, 0, 0), EAFNOSUPPORT);
	}
}

START_TEST(seccomp_socket_families)
{
	struct policy *p = builtin();
	json_t *sc = seccomp_of(p);
	ck_assert_int_eq(answer(sc, "socket", AF_UNIX, SOCK_STREAM, 0), ALLOWED);
	ck_assert_int_eq(answer(sc, "socket", AF_INET6, SOCK_DGRAM, 0), ALLOWED);
	ck_assert_int_eq(answer(sc, "socket", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE), ALLOWED);
	ck_assert_int_eq(answer(sc, "socket", AF_NETLINK, SOCK_RAW, NETLINK_AUDIT), EAFNOSUPPORT);
	ck_assert_int_eq(answer(sc, "socket", AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT), EAFNOSUPPORT);
	ck_assert_int_eq(answer(sc, "socket", AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT);
	ck_assert_int_eq(answer(sc, "socket", AF_PACKET, SOCK_RAW, 0), EAFNOSUPPORT);
	ck_assert_int_eq(answer(sc, "socket", AF_ALG, SOCK_SEQPACKET, 0), EAFNOSUPPORT);
	check_families(sc, p->socket_families);
	json_decref(sc);

	static const char *const extra[] = { "vsock", "netlink_audit", "netlink_kobject_uevent", "unix", NULL };
	p->socket_families = family_set(extra);
	sc = seccomp_of(p);
	ck_assert_int_eq(answer(sc, "socket", AF_VSOCK, SOCK_STREAM, 0), ALLOWED);
	ck_assert_int_eq(answer(sc, "socket", AF_INET, SOCK_STREAM, 0), EAFNOSUPPORT);
	check_families(sc, p->socket_families);
	json_decref(sc);

	static const char *const all[] = { "packet", "inet", "mctp", "netlink_route", "netlink_smc", NULL };
	p->socket_families = family_set(all);
	sc = seccomp_of(p);
	check_families(sc, p->socket_families);
	json_decref(sc);

	p->socket_families = 0;
	sc = seccomp_of(p);
	check_families(sc, 0);
	json_decref(sc);
	policy_free(p);
}
END_TEST

START_TEST(seccomp_outright_denial_replaces_argument_rules)
{
	struct policy *p = builtin();
	p->seccomp_errno = EACCES;
	deny_also(p, "ioctl");
	deny_also(p, "socket");
	deny_also(p, "clone");
	json_t *sc = seccomp_of(p);
	ck_assert_uint_eq(rules_for(sc, "ioctl"), 0);
	ck_assert_int_eq(answer(sc, "ioctl", 0, FIONREAD, 0), EACCES);
	ck_assert_int_eq(answer(sc, "ioctl", 0, TIOCSTI, 0), EACCES);
	ck_assert_uint_eq(rules_for(sc, "clone"), 0);
	ck_assert_int_eq(answer(sc, "clone", SIGCHLD, 0, 0), EACCES);
	ck_assert_int_eq(answer(sc, "socket", AF_UNIX, SOCK_STREAM, 0), EACCES);
	ck_assert_int_eq(answer(sc, "socketpair", AF_UNIX, SOCK_STREAM, 0), ALLOWED);
	ck_assert_int_eq(answer(sc, "socketpair", AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT);
	json_decref(sc);
	policy_free(p);
}
END_TEST

static json_t *host_config(struct policy *p, struct mount_plan *plan)
{
	wr_error e = { 0 };
	struct mount_config mc = {
		.image_dir = NULL, .workspace_fd = -1, .workspace_size = p->limits.workspace,
		.tmp_size = p->limits.tmp, .network = p->network, .sandbox_uid = 1000, .sandbox_gid = 1000,
	};
	ck_assert_msg(mount_plan_build(plan, &mc, &e) == 0, "%s", e.message);
	char *argv[] = { "/bin/sh", "-c", "sleep 1", NULL };
	struct oci_config_params c = {
		.policy = p, .mounts = plan, .rootfs = "/run/x/rootfs", .host_uid_base = 0x70010000u,
		.id_count = 65536, .cgroups_path = "/warren/wd-1", .init_argv = argv,
	};
	json_t *config = oci_config_json(&c, &e);
	ck_assert_msg(config, "%s", e.message);
	return config;
}

START_TEST(config_process_has_no_privileges)
{
	struct policy *p = builtin();
	struct mount_plan plan;
	json_t *config = host_config(p, &plan);
	json_t *proc = json_object_get(config, "process");
	ck_assert(json_is_true(json_object_get(proc, "noNewPrivileges")));
	json_t *caps = json_object_get(proc, "capabilities");
	const char *sets[] = { "bounding", "effective", "inheritable", "permitted", "ambient" };
	for (size_t i = 0; i < 5; i++) {
		json_t *s = json_object_get(caps, sets[i]);
		ck_assert_msg(json_is_array(s) && json_array_size(s) == 0, "%s not empty", sets[i]);
	}
	json_t *user = json_object_get(proc, "user");
	ck_assert_int_eq(json_integer_value(json_object_get(user, "uid")), 1000);
	ck_assert_int_eq(json_integer_value(json_object_get(user, "gid")), 1000);
	ck_assert_uint_eq(json_array_size(json_object_get(user, "additionalGids")), 0);
	ck_assert_str_eq(json_string_value(json_object_get(proc, "cwd")), "/workspace");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(proc, "args"), 0)), "/bin/sh");
	/* the policy's environment and rlimits */
	ck_assert_uint_eq(json_array_size(json_object_get(proc, "env")), p->n_env);
	bool nofile = false;
	size_t i;
	json_t *rl;
	json_array_foreach(json_object_get(proc, "rlimits"), i, rl)
		if (!strcmp(json_string_value(json_object_get(rl, "type")), "RLIMIT_NOFILE")) {
			nofile = true;
			ck_assert_int_eq(json_integer_value(json_object_get(rl, "hard")), 1024);
			ck_assert_int_eq(json_integer_value(json_object_get(rl, "soft")), 1024);
		}
	ck_assert(nofile);
	json_decref(config);
	mount_plan_free(&plan);
	policy_free(p);
}
END_TEST

START_TEST(config_linux_isolation_and_limits)
{
	struct policy *p = builtin();
	struct mount_plan plan;
	json_t *config = host_config(p, &plan);
	json_t *root = json_object_get(config, "root");
	ck_assert(json_is_true(json_object_get(root, "readonly")));
	ck_assert_str_eq(json_string_value(json_object_get(root, "path")), "/run/x/rootfs");
	ck_assert_str_eq(json_string_value(json_object_get(config, "hostname")), p->hostname);
	json_t *lnx = json_object_get(config, "linux");
	const char *want[] = { "user", "pid", "mount", "ipc", "uts", "cgroup", "network" };
	json_t *ns = json_object_get(lnx, "namespaces");
	ck_assert_uint_eq(json_array_size(ns), 7);
	for (size_t i = 0; i < 7; i++)
		ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ns, i), "type")), want[i]);
	json_t *uid = json_array_get(json_object_get(lnx, "uidMappings"), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(uid, "containerID")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(uid, "hostID")), 0x70010000);
	ck_assert_int_eq(json_integer_value(json_object_get(uid, "size")), 65536);
	ck_assert_uint_eq(json_array_size(json_object_get(lnx, "gidMappings")), 1);
	json_t *res = json_object_get(lnx, "resources");
	json_t *mem = json_object_get(res, "memory");
	ck_assert_uint_eq(json_integer_value(json_object_get(mem, "limit")), p->limits.memory);
	ck_assert_uint_eq(json_integer_value(json_object_get(mem, "swap")), p->limits.memory);
	ck_assert_uint_eq(json_integer_value(json_object_get(json_object_get(res, "pids"), "limit")), p->limits.pids);
	json_t *cpu = json_object_get(res, "cpu");
	ck_assert_int_eq(json_integer_value(json_object_get(cpu, "period")), 100000);
	ck_assert_int_eq(json_integer_value(json_object_get(cpu, "quota")), p->limits.cpu_millis * 100);
	ck_assert_str_eq(json_string_value(json_object_get(lnx, "cgroupsPath")), "/warren/wd-1");
	json_t *sc = json_object_get(lnx, "seccomp");
	ck_assert_int_eq(answer(sc, "ptrace", 0, 0, 0), EPERM);
	ck_assert_int_eq(answer(sc, "socket", AF_VSOCK, SOCK_STREAM, 0), EAFNOSUPPORT);
	json_decref(config);
	mount_plan_free(&plan);

	/* host network: no network namespace */
	p->network = NET_HOST;
	config = host_config(p, &plan);
	ns = json_object_get(json_object_get(config, "linux"), "namespaces");
	ck_assert_uint_eq(json_array_size(ns), 6);
	json_decref(config);
	mount_plan_free(&plan);
	policy_free(p);
}
END_TEST

static json_t *mount_at(json_t *config, const char *dest)
{
	size_t i;
	json_t *m;
	json_array_foreach(json_object_get(config, "mounts"), i, m)
		if (!strcmp(json_string_value(json_object_get(m, "destination")), dest))
			return m;
	return NULL;
}

static bool has_option(json_t *m, const char *opt)
{
	size_t i;
	json_t *o;
	json_array_foreach(json_object_get(m, "options"), i, o)
		if (!strcmp(json_string_value(o), opt))
			return true;
	return false;
}

START_TEST(config_mounts_follow_the_native_plan)
{
	struct policy *p = builtin();
	struct mount_plan plan;
	json_t *config = host_config(p, &plan);
	json_t *usr = mount_at(config, "/usr");
	ck_assert_ptr_nonnull(usr);
	ck_assert_str_eq(json_string_value(json_object_get(usr, "type")), "bind");
	ck_assert_str_eq(json_string_value(json_object_get(usr, "source")), "/usr");
	ck_assert(has_option(usr, "ro") && has_option(usr, "nosuid") && !has_option(usr, "rw"));
	json_t *ws = mount_at(config, "/workspace");
	ck_assert_str_eq(json_string_value(json_object_get(ws, "type")), "tmpfs");
	ck_assert(has_option(ws, "uid=1000") && has_option(ws, "gid=1000") && has_option(ws, "mode=0755"));
	json_t *tmp = mount_at(config, "/tmp");
	ck_assert(has_option(tmp, "mode=1777"));
	ck_assert_ptr_nonnull(mount_at(config, "/proc"));
	ck_assert_ptr_nonnull(mount_at(config, "/dev"));
	ck_assert_ptr_nonnull(mount_at(config, "/dev/shm"));
	ck_assert_ptr_nonnull(mount_at(config, "/dev/pts"));
	ck_assert_ptr_null(mount_at(config, "/"));
	ck_assert_ptr_null(mount_at(config, "/dev/null")); /* the runtime's */
	/* the host's passwd never shows: it is written into the skeleton */
	ck_assert_ptr_null(mount_at(config, "/etc/passwd"));
	bool kcore = false, sys = false;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(json_object_get(config, "linux"), "maskedPaths"), i, v)
		kcore |= !strcmp(json_string_value(v), "/proc/kcore");
	json_array_foreach(json_object_get(json_object_get(config, "linux"), "readonlyPaths"), i, v)
		sys |= !strcmp(json_string_value(v), "/proc/sys");
	ck_assert(kcore && sys);
	for (size_t k = 0; k < plan.n; k++)
		if (!strcmp(oci_plan_path(plan.ops[k].target), "/etc/passwd"))
			ck_assert(oci_plan_op_is_skeleton(&plan.ops[k]));
	json_decref(config);
	mount_plan_free(&plan);
	policy_free(p);
}
END_TEST

/* Egress: the container has a network namespace of its own (warren sets
 * it up once it is up), and its /etc/resolv.conf names the resolver warren
 * serves there. */
START_TEST(config_egress_names_warrens_resolver)
{
	struct policy *p = builtin();
	p->network = NET_EGRESS;
	wr_error e = { 0 };
	struct mount_plan plan;
	struct mount_config mc = {
		.workspace_fd = -1, .workspace_size = p->limits.workspace, .tmp_size = p->limits.tmp,
		.network = p->network, .resolv_conf = "nameserver 127.0.0.53\n", .sandbox_uid = 1000,
		.sandbox_gid = 1000,
	};
	ck_assert_msg(mount_plan_build(&plan, &mc, &e) == 0, "%s", e.message);
	char *argv[] = { "/bin/sh", NULL };
	struct oci_config_params c = {
		.policy = p, .mounts = &plan, .rootfs = "/run/x/rootfs", .host_uid_base = 0x70010000u,
		.id_count = 65536, .init_argv = argv,
	};
	json_t *config = oci_config_json(&c, &e);
	ck_assert_msg(config, "%s", e.message);
	json_t *ns = json_object_get(json_object_get(config, "linux"), "namespaces"), *v, *net = NULL;
	size_t i;
	json_array_foreach(ns, i, v)
		if (!strcmp(json_string_value(json_object_get(v, "type")), "network"))
			net = v;
	ck_assert_ptr_nonnull(net);
	ck_assert_ptr_null(json_object_get(net, "path"));
	json_t *resolv = mount_at(config, "/etc/resolv.conf");
	ck_assert_ptr_nonnull(resolv);
	/* the file the plan wrote on the scratch root: in the skeleton, never the host's */
	ck_assert_str_eq(json_string_value(json_object_get(resolv, "source")), "/run/x/rootfs/resolv.conf");
	ck_assert(has_option(resolv, "ro"));
	json_decref(config);
	mount_plan_free(&plan);
	policy_free(p);
}
END_TEST

START_TEST(plan_paths_lose_their_prefix)
{
	ck_assert_str_eq(oci_plan_path(MOUNT_NEWROOT "/usr"), "/usr");
	ck_assert_str_eq(oci_plan_path(MOUNT_NEWROOT), "/");
	ck_assert_str_eq(oci_plan_path(MOUNT_OLDROOT "/etc/ssl"), "/etc/ssl");
	ck_assert_str_eq(oci_plan_path(MOUNT_NEWROOT "x/y"), MOUNT_NEWROOT "x/y");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("oci-spec");
	TCase *tc = tcase_create("all");
	tcase_add_test(tc, seccomp_is_an_allowlist_with_the_policy_errno);
	tcase_add_test(tc, seccomp_refuses_unknown_names);
	tcase_add_test(tc, seccomp_clone_namespace_flags_each_fail);
	tcase_add_test(tc, seccomp_ioctl_and_setid_rules);
	tcase_add_test(tc, seccomp_personality_allows_only_the_harmless_values);
	tcase_add_test(tc, seccomp_socket_families);
	tcase_add_test(tc, seccomp_outright_denial_replaces_argument_rules);
	tcase_add_test(tc, config_process_has_no_privileges);
	tcase_add_test(tc, config_linux_isolation_and_limits);
	tcase_add_test(tc, config_mounts_follow_the_native_plan);
	tcase_add_test(tc, config_egress_names_warrens_resolver);
	tcase_add_test(tc, plan_paths_lose_their_prefix);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
