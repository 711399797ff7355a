#include "config.h"

#include "unit.h"

#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "mount.h"
#include "oci-spec.h"
#include "policy.h"

static struct policy *builtin(void)
{
	struct policy *p = NULL;
	wr_error e = { 0 };
	ck_assert_msg(policy_load_builtin(&p, &e) == 0, "%s", e.message);
	return p;
}

/* The built-in policy's seccomp object (the policy in *p, to free). */
static json_t *builtin_seccomp(struct policy **p)
{
	*p = builtin();
	wr_error e = { 0 };
	json_t *sc = oci_seccomp_json(*p, &e);
	ck_assert_msg(sc, "%s", e.message);
	return sc;
}

/* The syscalls rules of one syscall name, in order. */
static size_t rules_for(json_t *seccomp, const char *name, json_t **out, size_t max)
{
	size_t n = 0, i, j;
	json_t *rule, *v;
	json_array_foreach(json_object_get(seccomp, "syscalls"), i, rule)
		json_array_foreach(json_object_get(rule, "names"), j, v)
			if (!strcmp(json_string_value(v), name) && n < max)
				out[n++] = rule;
	return n;
}

static int rule_errno(json_t *rule)
{
	ck_assert_str_eq(json_string_value(json_object_get(rule, "action")), "SCMP_ACT_ERRNO");
	return (int)json_integer_value(json_object_get(rule, "errnoRet"));
}

/* A rule's one argument compare: (arg[index] & mask) == value. */
static void rule_arg(json_t *rule, int *index, uint64_t *mask, uint64_t *value)
{
	json_t *args = json_object_get(rule, "args");
	ck_assert_uint_eq(json_array_size(args), 1);
	json_t *a = json_array_get(args, 0);
	ck_assert_str_eq(json_string_value(json_object_get(a, "op")), "SCMP_CMP_MASKED_EQ");
	*index = (int)json_integer_value(json_object_get(a, "index"));
	*mask = (uint64_t)json_integer_value(json_object_get(a, "value"));
	*value = (uint64_t)json_integer_value(json_object_get(a, "valueTwo"));
}

/* personality's rules, read once (the test asks about 100,000 values,
 * under valgrind too). */
struct personality_rules {
	size_t n;
	uint64_t mask[64], value[64];
};

static void personality_rules(json_t *sc, struct personality_rules *pr)
{
	json_t *rules[64];
	pr->n = 0;
	size_t n = rules_for(sc, "personality", rules, 64);
	for (size_t i = 0; i < n; i++) {
		int index;
		rule_arg(rules[i], &index, &pr->mask[pr->n], &pr->value[pr->n]);
		if (index == 0)
			pr->n++;
	}
}

/* Whether the filter as written answers EPERM for personality(v). */
static bool personality_denied(const struct personality_rules *pr, uint32_t v)
{
	for (size_t i = 0; i < pr->n; i++)
		if ((v & pr->mask[i]) == pr->value[i])
			return true;
	return false;
}

START_TEST(seccomp_denies_the_policy_list_with_its_errno)
{
	struct policy *p;
	json_t *sc = builtin_seccomp(&p);
	ck_assert_str_eq(json_string_value(json_object_get(sc, "defaultAction")), "SCMP_ACT_ALLOW");
	json_t *arch = json_object_get(sc, "architectures");
	ck_assert_uint_eq(json_array_size(arch), 1);
	ck_assert_str_eq(json_string_value(json_array_get(arch, 0)), "SCMP_ARCH_X86_64");
	json_t *r[4];
	ck_assert_uint_eq(rules_for(sc, "ptrace", r, 4), 1);
	ck_assert_int_eq(rule_errno(r[0]), EPERM);
	ck_assert_ptr_null(json_object_get(r[0], "args"));
	ck_assert_uint_eq(rules_for(sc, "unshare", r, 4), 1);
	ck_assert_uint_eq(rules_for(sc, "mount", r, 4), 1);
	json_decref(sc);

	/* another errno travels */
	wr_error e = { 0 };
	p->seccomp_errno = ENOSYS;
	sc = oci_seccomp_json(p, &e);
	ck_assert_uint_eq(rules_for(sc, "ptrace", r, 4), 1);
	ck_assert_int_eq(rule_errno(r[0]), ENOSYS);
	json_decref(sc);
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

START_TEST(seccomp_clone_namespace_flags_each_fail)
{
	struct policy *p;
	json_t *sc = builtin_seccomp(&p);
	json_t *r[16];
	size_t n = rules_for(sc, "clone", r, 16);
	const uint64_t flags[] = { CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER,
				   CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME };
	ck_assert_uint_eq(n, 8);
	for (size_t f = 0; f < 8; f++) {
		bool found = false;
		for (size_t i = 0; i < n; i++) {
			int index;
			uint64_t mask, value;
			rule_arg(r[i], &index, &mask, &value);
			ck_assert_int_eq(rule_errno(r[i]), EPERM);
			found |= index == 0 && mask == flags[f] && value == flags[f];
		}
		ck_assert_msg(found, "no rule for clone flag %#llx", (unsigned long long)flags[f]);
	}
	ck_assert_uint_eq(rules_for(sc, "clone3", r, 16), 1);
	ck_assert_int_eq(rule_errno(r[0]), ENOSYS);
	ck_assert_uint_eq(rules_for(sc, "openat2", r, 16), 1);
	ck_assert_int_eq(rule_errno(r[0]), ENOSYS);
	json_decref(sc);
	policy_free(p);
}
END_TEST

START_TEST(seccomp_ioctl_and_setid_rules)
{
	struct policy *p;
	json_t *sc = builtin_seccomp(&p);
	json_t *r[8];
	int index;
	uint64_t mask, value;
	ck_assert_uint_eq(rules_for(sc, "ioctl", r, 8), 2);
	rule_arg(r[0], &index, &mask, &value);
	ck_assert_int_eq(index, 1);
	ck_assert_uint_eq(mask, 0xffffffffu); /* high bits set must not bypass it */
	ck_assert_uint_eq(value, TIOCSTI);
	rule_arg(r[1], &index, &mask, &value);
	ck_assert_uint_eq(value, TIOCLINUX);

	const struct { const char *name; int arg; } setid[] = {
		{ "chmod", 1 }, { "fchmod", 1 }, { "fchmodat", 2 }, { "creat", 1 }, { "open", 2 },
		{ "openat", 3 }, { "mknod", 1 }, { "mknodat", 2 },
	};
	for (size_t i = 0; i < sizeof setid / sizeof setid[0]; i++) {
		ck_assert_uint_eq(rules_for(sc, setid[i].name, r, 8), 2);
		rule_arg(r[0], &index, &mask, &value);
		ck_assert_int_eq(index, setid[i].arg);
		ck_assert_uint_eq(mask, S_ISUID);
		ck_assert_uint_eq(value, S_ISUID);
		rule_arg(r[1], &index, &mask, &value);
		ck_assert_int_eq(index, setid[i].arg);
		ck_assert_uint_eq(mask, S_ISGID);
	}
	json_decref(sc);
	policy_free(p);
}
END_TEST

START_TEST(seccomp_personality_allows_only_the_harmless_values)
{
	struct policy *p;
	json_t *json = builtin_seccomp(&p);
	struct personality_rules rules, *sc = &rules;
	personality_rules(json, &rules);
	ck_assert(!personality_denied(sc, 0));
	ck_assert(!personality_denied(sc, 0x0020000));   /* UNAME26 */
	ck_assert(!personality_denied(sc, 0xffffffffu)); /* query */
	ck_assert(personality_denied(sc, 0x0400000));    /* READ_IMPLIES_EXEC */
	ck_assert(personality_denied(sc, 0x0040000));    /* ADDR_NO_RANDOMIZE */
	ck_assert(personality_denied(sc, 0x0008));       /* PER_LINUX32 */
	ck_assert(personality_denied(sc, 0x0030000));
	ck_assert(personality_denied(sc, 0x0060000));
	ck_assert(personality_denied(sc, 0xfffeffffu));
	ck_assert(personality_denied(sc, 0x80000000u));
	/* every single bit but UNAME26's, and a sample of the rest */
	for (int b = 0; b < 32; b++)
		ck_assert(personality_denied(sc, 1u << b) == (b != 17));
	for (uint32_t v = 1, k = 0; k < 100000; k++, v = v * 2654435761u + 12345)
		ck_assert(personality_denied(sc, v) == !(v == 0 || v == 0x20000 || v == 0xffffffffu));
	json_decref(json);
	policy_free(p);
}
END_TEST

START_TEST(seccomp_outright_denial_replaces_argument_rules)
{
	struct policy *p = builtin();
	char **deny = realloc(p->seccomp_deny, (p->n_seccomp_deny + 2) * sizeof *deny);
	deny[p->n_seccomp_deny++] = strdup("ioctl");
	deny[p->n_seccomp_deny] = NULL;
	p->seccomp_deny = deny;
	wr_error e = { 0 };
	json_t *sc = oci_seccomp_json(p, &e);
	json_t *r[4];
	ck_assert_uint_eq(rules_for(sc, "ioctl", r, 4), 1);
	ck_assert_ptr_null(json_object_get(r[0], "args"));
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
	json_t *r[2];
	ck_assert_uint_eq(rules_for(json_object_get(lnx, "seccomp"), "ptrace", r, 2), 1);
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
	tcase_add_test(tc, seccomp_denies_the_policy_list_with_its_errno);
	tcase_add_test(tc, seccomp_refuses_unknown_names);
	tcase_add_test(tc, seccomp_clone_namespace_flags_each_fail);
	tcase_add_test(tc, seccomp_ioctl_and_setid_rules);
	tcase_add_test(tc, seccomp_personality_allows_only_the_harmless_values);
	tcase_add_test(tc, seccomp_outright_denial_replaces_argument_rules);
	tcase_add_test(tc, config_process_has_no_privileges);
	tcase_add_test(tc, config_linux_isolation_and_limits);
	tcase_add_test(tc, config_mounts_follow_the_native_plan);
	tcase_add_test(tc, plan_paths_lose_their_prefix);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
