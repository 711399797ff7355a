/* The native filter (seccomp.c) as an OCI runtime's seccomp profile, for
 * the oci backend's config.json and the docker backend's SecurityOpt: the
 * same allowlist, default errno and contract rules, said in rules of one
 * masked or plain comparison per argument, since that is all a runtime
 * takes. The runtime answers ENOSYS above the highest call it knows (runc's
 * stub), as the native prefix does. */
#include "config.h"
#include "oci-spec.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup.h"
#include "seccomp-filter.h"
#include "socket-family.h"

#define LOW32 0xffffffffu

static json_t *arg_cmp(int index, const char *op, uint64_t value, uint64_t value_two)
{
	/* runtime-spec: for MASKED_EQ "value" is the mask, "valueTwo" the datum */
	if (!strcmp(op, "SCMP_CMP_MASKED_EQ"))
		return json_pack("{s:i, s:I, s:I, s:s}", "index", index, "value", (json_int_t)value,
				 "valueTwo", (json_int_t)value_two, "op", op);
	return json_pack("{s:i, s:I, s:s}", "index", index, "value", (json_int_t)value, "op", op);
}

/* Appends {names, action, errnoRet?, args?}; err 0 is SCMP_ACT_ALLOW. Steals
 * names and args (either may be NULL: no args, or out of memory). */
static int add_rule(json_t *syscalls, json_t *names, int err, json_t *args, wr_error *e)
{
	json_auto_t *rule = err ? json_pack("{s:o, s:s, s:i}", "names", names, "action", "SCMP_ACT_ERRNO", "errnoRet", err)
				: json_pack("{s:o, s:s}", "names", names, "action", "SCMP_ACT_ALLOW");
	if (!rule || (args && json_object_set_new(rule, "args", args) < 0)) {
		if (!rule)
			json_decref(args);
		return wr_error_set(e, ENOMEM, "seccomp rule");
	}
	if (json_array_append(syscalls, rule) < 0)
		return wr_error_set(e, ENOMEM, "seccomp rule");
	return 0;
}

static bool denied_outright(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_seccomp_deny; i++)
		if (!strcmp(p->seccomp_deny[i], name))
			return true;
	return false;
}

/* Calls whose arguments decide, written below rather than in the plain
 * allowlist. */
static bool has_argument_rules(const char *name)
{
	static const char *const special[] = { "personality", "ioctl", "socket", "socketpair" };
	for (size_t i = 0; i < ARRAY_SIZE(special); i++)
		if (!strcmp(special[i], name))
			return true;
	for (size_t i = 0; i < seccomp_n_conditional_allows; i++)
		if (!strcmp(seccomp_conditional_allows[i].syscall, name))
			return true;
	return false;
}

/* The policy's allowed names among `names` as a JSON array, NULL when none. */
static json_t *allowed_names(const struct policy *p, const char *const *names, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (!denied_outright(p, names[i]))
			json_array_append_new(a, json_string(names[i]));
	if (a && json_array_size(a) == 0) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* Calls fn with aligned blocks (mask, value) over the low `bits` bits that
 * hold, together, every value but `points` (all below 2^bits): a walk down
 * the binary trie, emitting each subtree that holds no point. */
typedef int (*block_fn)(void *ctx, uint64_t mask, uint64_t value, wr_error *e);

static int complement_blocks(const uint32_t *points, size_t n, unsigned bits, uint64_t prefix, unsigned depth,
			     block_fn fn, void *ctx, wr_error *e)
{
	uint64_t free_bits = depth >= bits ? 0 : (1ULL << (bits - depth)) - 1;
	uint64_t mask = ((1ULL << bits) - 1) & ~free_bits;
	bool holds = false;
	for (size_t i = 0; i < n && !holds; i++)
		holds = (points[i] & mask) == prefix;
	if (!holds)
		return fn(ctx, mask, prefix, e);
	if (depth == bits)
		return 0; /* a point itself */
	uint64_t bit = 1ULL << (bits - depth - 1);
	int r = complement_blocks(points, n, bits, prefix, depth + 1, fn, ctx, e);
	return r < 0 ? r : complement_blocks(points, n, bits, prefix | bit, depth + 1, fn, ctx, e);
}

/* ---- ioctl and personality ----------------------------------------------- */

struct block_rule {
	json_t *syscalls;
	const char *const *names;
	size_t n_names;
	const struct policy *p;
	int err;            /* 0: allow */
	int index;          /* the argument compared */
	json_t *also;       /* another comparison ANDed in (borrowed), or NULL */
	uint64_t above;     /* blocks starting above this are covered already */
};

static int emit_block(void *ctx, uint64_t mask, uint64_t value, wr_error *e)
{
	struct block_rule *b = ctx;
	if (value > b->above)
		return 0;
	json_t *args = json_pack("[o]", arg_cmp(b->index, "SCMP_CMP_MASKED_EQ", mask, value));
	if (args && b->also)
		json_array_append(args, b->also);
	return add_rule(b->syscalls, allowed_names(b->p, b->names, b->n_names), b->err, args, e);
}

/* ioctl runs unless its request's low 32 bits are TIOCSTI or TIOCLINUX:
 * allowed blocks that leave out exactly those (any high bits, which the
 * kernel drops), and EPERM for them where the policy's errno differs. */
static int add_ioctl_rules(json_t *syscalls, const struct policy *p, wr_error *e)
{
	static const char *const name[] = { "ioctl" };
	struct block_rule b = { syscalls, name, 1, p, 0, 1, NULL, UINT64_MAX };
	int r = complement_blocks(seccomp_ioctl_denied, seccomp_n_ioctl_denied, 32, 0, 0, emit_block, &b, e);
	for (size_t i = 0; r == 0 && p->seccomp_errno != EPERM && i < seccomp_n_ioctl_denied; i++)
		r = add_rule(syscalls, json_pack("[s]", "ioctl"), EPERM,
			     json_pack("[o]", arg_cmp(1, "SCMP_CMP_MASKED_EQ", LOW32, seccomp_ioctl_denied[i])), e);
	return r;
}

/* personality runs for the harmless values (low 32 bits); the rest is the
 * default errno, or EPERM where that differs: a value other than 0 and
 * all-ones has a run of set bits ending at some bit i (bit i set, bit i+1
 * clear, cyclically). Deny every such i except 17 (UNAME26 alone), and a
 * run ending at 17 that is longer than one bit (16, 17 set, 18 clear).
 * What is left is exactly the allowed three. */
static int add_personality_rules(json_t *syscalls, const struct policy *p, wr_error *e)
{
	int r = 0;
	for (size_t i = 0; r == 0 && i < seccomp_n_personality_allowed; i++)
		r = add_rule(syscalls, json_pack("[s]", "personality"), 0,
			     json_pack("[o]", arg_cmp(0, "SCMP_CMP_MASKED_EQ", LOW32, seccomp_personality_allowed[i])), e);
	if (p->seccomp_errno == EPERM)
		return r;
	const uint64_t uname26 = 0x0020000;
	for (int i = 0; r == 0 && i < 32; i++) {
		uint64_t set = 1ULL << i, clear = 1ULL << ((i + 1) % 32);
		if (set == uname26)
			continue;
		r = add_rule(syscalls, json_pack("[s]", "personality"), EPERM,
			     json_pack("[o]", arg_cmp(0, "SCMP_CMP_MASKED_EQ", set | clear, set)), e);
	}
	if (r == 0)
		r = add_rule(syscalls, json_pack("[s]", "personality"), EPERM,
			     json_pack("[o]", arg_cmp(0, "SCMP_CMP_MASKED_EQ", (uname26 >> 1) | uname26 | (uname26 << 1),
						      (uname26 >> 1) | uname26)), e);
	return r;
}

/* ---- socket families ------------------------------------------------------- */

static unsigned bits_for(uint32_t max)
{
	unsigned bits = 1;
	while (bits < 32 && (max >> bits))
		bits++;
	return bits;
}

/* On one argument: the first n_allowed values of `kept` (exact, all 64
 * bits) run; every value not in `kept` fails with EAFNOSUPPORT: above the
 * largest by one comparison, below it by the blocks that leave `kept` out.
 * The sets are disjoint, so no runtime has to choose between matching
 * rules. */
static int add_family_rules(struct block_rule *b, const uint32_t *kept, size_t n_kept, size_t n_allowed,
			    wr_error *e)
{
	uint32_t max = 0;
	int r = 0;
	for (size_t i = 0; i < n_kept; i++)
		max = kept[i] > max ? kept[i] : max;
	for (size_t i = 0; r == 0 && i < n_allowed; i++) {
		json_t *args = json_pack("[o]", arg_cmp(b->index, "SCMP_CMP_EQ", kept[i], 0));
		if (args && b->also)
			json_array_append(args, b->also);
		r = add_rule(b->syscalls, allowed_names(b->p, b->names, b->n_names), 0, args, e);
	}
	if (r < 0)
		return r;
	json_t *above = json_pack("[o]", arg_cmp(b->index, "SCMP_CMP_GT", max, 0));
	if (above && b->also)
		json_array_append(above, b->also);
	r = add_rule(b->syscalls, allowed_names(b->p, b->names, b->n_names), EAFNOSUPPORT, above, e);
	if (r < 0)
		return r;
	b->err = EAFNOSUPPORT;
	b->above = max;
	return complement_blocks(kept, n_kept, bits_for(max), 0, 0, emit_block, b, e);
}

/* socket() and socketpair(): the policy's families (argument 0) and, for
 * netlink, protocols (argument 2). */
static int add_socket_rules(json_t *syscalls, const struct policy *p, wr_error *e)
{
	static const char *const names[] = { "socket", "socketpair" };
	uint32_t families[64], protocols[64];
	size_t n_families = 0, n_protocols = 0;
	for (size_t i = 0; i < n_socket_families; i++) {
		if (!(p->socket_families & (1ULL << i)))
			continue;
		if (socket_families[i].protocol >= 0)
			protocols[n_protocols++] = (uint32_t)socket_families[i].protocol;
		else
			families[n_families++] = (uint32_t)socket_families[i].family;
	}
	/* netlink is kept from the family's denial but decided by protocol */
	size_t n_allowed = n_families;
	if (n_protocols)
		families[n_families++] = AF_NETLINK;
	if (n_families == 0)
		return add_rule(syscalls, allowed_names(p, names, 2), EAFNOSUPPORT, NULL, e);

	struct block_rule b = { syscalls, names, 2, p, 0, 0, NULL, 0 };
	int r = add_family_rules(&b, families, n_families, n_allowed, e);
	if (r < 0 || !n_protocols)
		return r;
	json_auto_t *netlink = arg_cmp(0, "SCMP_CMP_EQ", AF_NETLINK, 0);
	struct block_rule nl = { syscalls, names, 2, p, 0, 2, netlink, 0 };
	return add_family_rules(&nl, protocols, n_protocols, n_protocols, e);
}

/* ---- the profile ------------------------------------------------------------ */

json_t *oci_seccomp_json(const struct policy *p, wr_error *e)
{
	if (p->seccomp_errno <= 0 || p->seccomp_errno > 4095) {
		wr_error_set(e, EINVAL, "seccomp.errno %d: expected an errno between 1 and 4095", p->seccomp_errno);
		return NULL;
	}
	for (size_t i = 0; i < p->n_seccomp_deny; i++)
		if (!seccomp_syscall_known(p->seccomp_deny[i])) {
			wr_error_set(e, EINVAL, "seccomp.deny: unknown system call \"%s\"", p->seccomp_deny[i]);
			return NULL;
		}
	json_auto_t *sc = json_pack("{s:s, s:i, s:[s], s:[]}", "defaultAction", "SCMP_ACT_ERRNO",
				    "defaultErrnoRet", p->seccomp_errno, "architectures", "SCMP_ARCH_X86_64",
				    "syscalls");
	json_t *plain = json_array();
	if (!sc || !plain) {
		json_decref(plain);
		wr_error_set(e, ENOMEM, "seccomp");
		return NULL;
	}
	json_t *syscalls = json_object_get(sc, "syscalls");
	for (const char *const *s = seccomp_allowed; *s; s++)
		if (!has_argument_rules(*s) && !denied_outright(p, *s))
			json_array_append_new(plain, json_string(*s));
	if (add_rule(syscalls, plain, 0, NULL, e) < 0)
		return NULL;
	for (size_t i = 0; i < seccomp_n_conditional_allows; i++) {
		const struct seccomp_conditional_allow *c = &seccomp_conditional_allows[i];
		if (!denied_outright(p, c->syscall) &&
		    add_rule(syscalls, json_pack("[s]", c->syscall), 0,
			     json_pack("[o]", arg_cmp((int)c->arg, "SCMP_CMP_MASKED_EQ", c->mask, 0)), e) < 0)
			return NULL;
	}
	for (size_t i = 0; i < seccomp_n_deny_rules; i++) {
		const struct seccomp_deny_rule *rule = &seccomp_deny_rules[i];
		/* the default says it already; a call denied outright is stricter */
		if (rule->err == p->seccomp_errno || denied_outright(p, rule->syscall))
			continue;
		json_t *args = rule->has_arg ? json_pack("[o]", arg_cmp((int)rule->arg, "SCMP_CMP_MASKED_EQ",
									 rule->mask, rule->value)) : NULL;
		if (add_rule(syscalls, json_pack("[s]", rule->syscall), rule->err, args, e) < 0)
			return NULL;
	}
	if (!denied_outright(p, "personality") && add_personality_rules(syscalls, p, e) < 0)
		return NULL;
	if (!denied_outright(p, "ioctl") && add_ioctl_rules(syscalls, p, e) < 0)
		return NULL;
	if ((!denied_outright(p, "socket") || !denied_outright(p, "socketpair")) && add_socket_rules(syscalls, p, e) < 0)
		return NULL;
	return TAKE_PTR(sc);
}
