/* The seccomp filter, generated as classic BPF without libseccomp's
 * compiler (which took 2-3 ms per `warren run` for an allowlist of 300
 * calls; this takes microseconds). libseccomp still names the calls.
 *
 * The program, native calls only:
 *   another architecture, or an x32 number (bit 30): kill the process;
 *   a number above every call the filter names: ENOSYS;
 *   otherwise a binary search over runs of numbers with one action each:
 *   allow, the policy's errno, ENOSYS, or a short check of one argument's
 *   low 32 bits (the kernel reads these arguments as 32 bits, so high bits
 *   neither bypass a check nor fail a harmless call). */
#include "config.h"
#include "seccomp-filter.h"
#include "cleanup.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "socket-family.h"

/* What one syscall number does. */
enum slot_kind {
	SLOT_DEFAULT,      /* the policy's errno */
	SLOT_ALLOW,
	SLOT_ENOSYS,
	SLOT_MASK,         /* allowed unless the argument has a bit of the mask: EPERM */
	SLOT_PERSONALITY,  /* allowed for seccomp_personality_allowed, else EPERM */
	SLOT_IOCTL,        /* EPERM for seccomp_ioctl_denied, else allowed */
	SLOT_SOCKET,       /* allowed for the policy's families, else EAFNOSUPPORT */
};

struct slot {
	uint8_t kind;
	uint8_t rule;      /* SLOT_MASK: the index in seccomp_conditional_allows */
};

static bool policy_denies(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->n_seccomp_deny; i++)
		if (strcmp(p->seccomp_deny[i], name) == 0)
			return true;
	return false;
}

/* The native number of a name, or -1 when it has none here (a call of
 * another architecture). */
static int native_number(const char *name)
{
	int nr = seccomp_syscall_number(name);
	return nr < 0 ? -1 : nr;
}

size_t seccomp_allowed_count(const struct policy *p)
{
	size_t n = 0;
	for (const char *const *s = seccomp_allowed; *s; s++)
		n += native_number(*s) >= 0 && !policy_denies(p, *s);
	return n;
}

/* The action of every number from 0 to *max_nr, the highest number the
 * filter names (allowed, denied by the policy or the contract). */
static int slots_build(const struct policy *p, struct slot **out, int *max_nr, wr_error *e)
{
	/* ERRNO(0) would make a denied call "succeed" without running. */
	if (p->seccomp_errno <= 0 || p->seccomp_errno > 4095)
		return wr_error_set(e, EINVAL, "seccomp.errno %d: expected an errno between 1 and 4095",
				    p->seccomp_errno);
	int max = -1;
	for (size_t i = 0; i < p->n_seccomp_deny; i++) {
		int nr = seccomp_syscall_number(p->seccomp_deny[i]);
		if (nr == __NR_SCMP_ERROR)
			return wr_error_set(e, EINVAL, "seccomp.deny: unknown system call \"%s\"", p->seccomp_deny[i]);
		max = nr > max ? nr : max;
	}
	for (const char *const *s = seccomp_allowed; *s; s++)
		max = native_number(*s) > max ? native_number(*s) : max;
	for (size_t i = 0; i < seccomp_n_deny_rules; i++)
		max = native_number(seccomp_deny_rules[i].syscall) > max ? native_number(seccomp_deny_rules[i].syscall) : max;
	if (max < 0)
		return wr_error_set(e, EINVAL, "seccomp: no system call of this architecture in the lists");

	_cleanup_free_ struct slot *slots = calloc((size_t)max + 1, sizeof *slots);
	if (!slots)
		return wr_error_set(e, ENOMEM, "seccomp: allocate the call table");
	for (const char *const *s = seccomp_allowed; *s; s++) {
		int nr = native_number(*s);
		if (nr >= 0 && !policy_denies(p, *s))
			slots[nr].kind = SLOT_ALLOW;
	}
	for (size_t i = 0; i < seccomp_n_conditional_allows; i++) {
		int nr = native_number(seccomp_conditional_allows[i].syscall);
		if (nr >= 0 && slots[nr].kind == SLOT_ALLOW)
			slots[nr] = (struct slot){ SLOT_MASK, (uint8_t)i };
	}
	/* the contract's whole-call errors (clone3, openat2: ENOSYS), unless
	 * the policy denies the call outright, which is stricter */
	for (size_t i = 0; i < seccomp_n_deny_rules; i++) {
		const struct seccomp_deny_rule *rule = &seccomp_deny_rules[i];
		int nr = native_number(rule->syscall);
		if (nr >= 0 && !rule->has_arg && !policy_denies(p, rule->syscall))
			slots[nr].kind = rule->err == ENOSYS ? SLOT_ENOSYS : SLOT_DEFAULT;
	}
	static const struct { int nr; enum slot_kind kind; } special[] = {
		{ SYS_personality, SLOT_PERSONALITY }, { SYS_ioctl, SLOT_IOCTL },
		{ SYS_socket, SLOT_SOCKET }, { SYS_socketpair, SLOT_SOCKET },
	};
	for (size_t i = 0; i < ARRAY_SIZE(special); i++)
		if (special[i].nr <= max && slots[special[i].nr].kind == SLOT_ALLOW)
			slots[special[i].nr].kind = (uint8_t)special[i].kind;
	*out = TAKE_PTR(slots);
	*max_nr = max;
	return 0;
}

/* ---- a small assembler: forward jumps to labels, resolved at the end ---- */

#define MAX_LABELS 1024

struct bpf {
	struct sock_filter insn[BPF_MAXINSNS];
	uint16_t jt[BPF_MAXINSNS], jf[BPF_MAXINSNS];  /* labels (0: the next insn); BPF_JA's in jt */
	size_t at[MAX_LABELS];
	size_t n, n_labels;
	bool overflow;
};

static uint16_t label_new(struct bpf *b)
{
	if (b->n_labels == MAX_LABELS) {
		b->overflow = true;
		return 0;
	}
	b->at[b->n_labels] = SIZE_MAX;
	return (uint16_t)b->n_labels++;
}

static void place(struct bpf *b, uint16_t l) { b->at[l] = b->n; }

static void emit(struct bpf *b, uint16_t code, uint32_t k, uint16_t jt, uint16_t jf)
{
	if (b->n == BPF_MAXINSNS) {
		b->overflow = true;
		return;
	}
	b->insn[b->n] = (struct sock_filter){ .code = code, .k = k };
	b->jt[b->n] = jt;
	b->jf[b->n] = jf;
	b->n++;
}

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LOW(i) ((uint32_t)offsetof(struct seccomp_data, args[i]))
#else
#define ARG_LOW(i) ((uint32_t)offsetof(struct seccomp_data, args[i]) + 4)
#endif

static void load(struct bpf *b, uint32_t offset) { emit(b, BPF_LD | BPF_W | BPF_ABS, offset, 0, 0); }
static void jump_if(struct bpf *b, uint16_t op, uint32_t k, uint16_t t, uint16_t f)
{
	emit(b, BPF_JMP | op | BPF_K, k, t, f);
}
static void ret(struct bpf *b, uint32_t action) { emit(b, BPF_RET | BPF_K, action, 0, 0); }
static uint32_t ret_errno(int err) { return SECCOMP_RET_ERRNO | ((uint32_t)err & SECCOMP_RET_DATA); }

static int resolve(struct bpf *b, wr_error *e)
{
	if (b->overflow)
		return wr_error_set(e, E2BIG, "seccomp: the filter needs more than %d instructions", BPF_MAXINSNS);
	for (size_t i = 0; i < b->n; i++) {
		struct sock_filter *f = &b->insn[i];
		if (BPF_CLASS(f->code) != BPF_JMP)
			continue;
		size_t off[2] = { 0, 0 };
		for (int k = 0; k < 2; k++) {
			uint16_t l = k ? b->jf[i] : b->jt[i];
			if (l == 0)
				continue;
			if (b->at[l] == SIZE_MAX || b->at[l] <= i)
				return wr_error_set(e, EINVAL, "seccomp: jump %zu to an unplaced label", i);
			off[k] = b->at[l] - i - 1;
		}
		if (BPF_OP(f->code) == BPF_JA) {
			f->k = (uint32_t)off[0];
			continue;
		}
		if (off[0] > 255 || off[1] > 255)
			return wr_error_set(e, E2BIG, "seccomp: conditional jump %zu too far", i);
		f->jt = (uint8_t)off[0];
		f->jf = (uint8_t)off[1];
	}
	return 0;
}

/* ---- the leaves: what one call number does ------------------------------- */

static void leaf_mask(struct bpf *b, const struct seccomp_conditional_allow *c)
{
	uint16_t deny = label_new(b);
	load(b, ARG_LOW(c->arg));
	jump_if(b, BPF_JSET, (uint32_t)c->mask, deny, 0);
	ret(b, SECCOMP_RET_ALLOW);
	place(b, deny);
	/* the contract's errno for namespace flags and set-ID bits */
	ret(b, ret_errno(EPERM));
}

/* A value of one argument among `values` goes to `hit`, else to `miss`. */
static void leaf_values(struct bpf *b, unsigned arg, const uint32_t *values, size_t n, uint32_t hit, uint32_t miss)
{
	uint16_t found = label_new(b);
	load(b, ARG_LOW(arg));
	for (size_t i = 0; i < n; i++)
		jump_if(b, BPF_JEQ, values[i], found, 0);
	ret(b, miss);
	place(b, found);
	ret(b, hit);
}

/* socket() and socketpair(): the family is argument 0, the protocol 2. */
static void leaf_socket(struct bpf *b, socket_family_set set)
{
	uint32_t families[64], protocols[64];
	size_t n_families = 0, n_protocols = 0;
	for (size_t i = 0; i < n_socket_families; i++) {
		if (!(set & (1ULL << i)))
			continue;
		if (socket_families[i].protocol < 0)
			families[n_families++] = (uint32_t)socket_families[i].family;
		else
			protocols[n_protocols++] = (uint32_t)socket_families[i].protocol;
	}
	uint16_t allow = label_new(b), refuse = label_new(b);
	load(b, ARG_LOW(0));
	for (size_t i = 0; i < n_families; i++)
		jump_if(b, BPF_JEQ, families[i], allow, 0);
	if (n_protocols) {
		/* only netlink is split by protocol */
		jump_if(b, BPF_JEQ, AF_NETLINK, 0, refuse);
		load(b, ARG_LOW(2));
		for (size_t i = 0; i < n_protocols; i++)
			jump_if(b, BPF_JEQ, protocols[i], allow, 0);
	}
	place(b, refuse);
	ret(b, ret_errno(EAFNOSUPPORT));
	place(b, allow);
	ret(b, SECCOMP_RET_ALLOW);
}

static void leaf(struct bpf *b, const struct policy *p, struct slot s)
{
	switch (s.kind) {
	case SLOT_ALLOW: ret(b, SECCOMP_RET_ALLOW); break;
	case SLOT_ENOSYS: ret(b, ret_errno(ENOSYS)); break;
	case SLOT_MASK: leaf_mask(b, &seccomp_conditional_allows[s.rule]); break;
	case SLOT_PERSONALITY:
		leaf_values(b, 0, seccomp_personality_allowed, seccomp_n_personality_allowed, SECCOMP_RET_ALLOW,
			    ret_errno(EPERM));
		break;
	case SLOT_IOCTL:
		leaf_values(b, 1, seccomp_ioctl_denied, seccomp_n_ioctl_denied, ret_errno(EPERM), SECCOMP_RET_ALLOW);
		break;
	case SLOT_SOCKET: leaf_socket(b, p->socket_families); break;
	default: ret(b, ret_errno(p->seccomp_errno)); break;
	}
}

/* ---- the search ---------------------------------------------------------- */

/* Numbers with one simple action in a row form one run; a call whose
 * arguments decide is a run of its own. */
struct run {
	int first;
	struct slot slot;
};

static bool simple(struct slot s) { return s.kind <= SLOT_ENOSYS; }

static size_t runs_build(const struct slot *slots, int max, struct run *runs)
{
	size_t n = 0;
	for (int nr = 0; nr <= max; nr++)
		if (n == 0 || !simple(slots[nr]) || slots[nr].kind != runs[n - 1].slot.kind ||
		    !simple(runs[n - 1].slot))
			runs[n++] = (struct run){ nr, slots[nr] };
	return n;
}

/* runs[l..r], the number in A: "A >= first of the middle run" chooses the
 * upper half, reached with BPF_JA since it may lie beyond a conditional
 * jump's 255 instructions. */
static void search(struct bpf *b, const struct policy *p, const struct run *runs, size_t l, size_t r)
{
	if (l == r) {
		leaf(b, p, runs[l].slot);
		return;
	}
	size_t m = (l + r + 1) / 2;
	uint16_t upper = label_new(b), lower = label_new(b);
	jump_if(b, BPF_JGE, (uint32_t)runs[m].first, 0, lower);
	emit(b, BPF_JMP | BPF_JA, 0, upper, 0);
	place(b, lower);
	search(b, p, runs, l, m - 1);
	place(b, upper);
	search(b, p, runs, m, r);
}

/* The program and what it was made from (the dump reads both). */
struct compiled {
	struct bpf *b;
	struct slot *slots;
	int max_nr;
	size_t n_runs;
};

static void compiled_free(struct compiled *c)
{
	free(c->b);
	free(c->slots);
}

static int program_build(const struct policy *p, struct compiled *c, wr_error *e)
{
	*c = (struct compiled){ 0 };
	struct bpf *b = c->b = malloc(sizeof *b);
	if (!b)
		return wr_error_set(e, ENOMEM, "seccomp: allocate the program");
	int r = slots_build(p, &c->slots, &c->max_nr, e);
	if (r < 0)
		return r;
	_cleanup_free_ struct run *runs = calloc((size_t)c->max_nr + 1, sizeof *runs);
	if (!runs)
		return wr_error_set(e, ENOMEM, "seccomp: allocate the runs");
	c->n_runs = runs_build(c->slots, c->max_nr, runs);

	b->n = 0;
	b->n_labels = 1; /* label 0 is "the next instruction" */
	b->overflow = false;
	uint16_t kill = label_new(b), enosys = label_new(b), table = label_new(b);
	load(b, offsetof(struct seccomp_data, arch));
	jump_if(b, BPF_JEQ, (uint32_t)seccomp_arch_native(), 0, kill);
	load(b, offsetof(struct seccomp_data, nr));
	/* x32 numbers (bit 30) share x86_64's arch value: a foreign ABI */
	jump_if(b, BPF_JGE, 0x40000000u, kill, 0);
	jump_if(b, BPF_JGT, (uint32_t)c->max_nr, enosys, table);
	place(b, kill);
	ret(b, SECCOMP_RET_KILL_PROCESS);
	place(b, enosys);
	ret(b, ret_errno(ENOSYS));
	place(b, table);
	search(b, p, runs, 0, c->n_runs - 1);
	return resolve(b, e);
}

int seccomp_program_build(const struct policy *p, struct seccomp_program *out, wr_error *e)
{
	_cleanup_(compiled_free) struct compiled c = { 0 };
	int r = program_build(p, &c, e);
	if (r < 0)
		return r;
	struct sock_filter *filter = calloc(c.b->n, sizeof *filter);
	if (!filter)
		return wr_error_set(e, ENOMEM, "seccomp: allocate the filter");
	memcpy(filter, c.b->insn, c.b->n * sizeof *filter);
	out->filter = filter;
	out->len = (unsigned short)c.b->n;
	return 0;
}

int seccomp_program_load(const struct seccomp_program *prog)
{
	if (!prog->filter || prog->len == 0)
		return -EINVAL;
	/* Cast away const: the kernel copies the program and never writes it. */
	struct sock_fprog fprog = { .len = prog->len, .filter = (struct sock_filter *)prog->filter };
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fprog, 0, 0) < 0)
		return -errno;
	return 0;
}

void seccomp_program_free(struct seccomp_program *prog)
{
	free(prog->filter);
	prog->filter = NULL;
	prog->len = 0;
}

/* ---- the dump (warren run -vv) ------------------------------------------- */

static void describe(const struct policy *p, struct slot s, char *buf, size_t len)
{
	char families[1024];
	const struct seccomp_conditional_allow *c = &seccomp_conditional_allows[s.rule];
	switch (s.kind) {
	case SLOT_ALLOW: snprintf(buf, len, "ALLOW"); break;
	case SLOT_ENOSYS: snprintf(buf, len, "ERRNO(%d)", ENOSYS); break;
	case SLOT_MASK:
		snprintf(buf, len, "ALLOW unless arg%u & %#llx, then ERRNO(%d)", c->arg, (unsigned long long)c->mask,
			 EPERM);
		break;
	case SLOT_PERSONALITY: snprintf(buf, len, "ALLOW if arg0 is 0, 0x20000 or 0xffffffff, else ERRNO(%d)", EPERM); break;
	case SLOT_IOCTL: snprintf(buf, len, "ERRNO(%d) if arg1 is TIOCSTI or TIOCLINUX, else ALLOW", EPERM); break;
	case SLOT_SOCKET:
		socket_families_format(p->socket_families, families, sizeof families);
		snprintf(buf, len, "ALLOW for families [%s], else ERRNO(%d)", families[0] ? families : "none",
			 EAFNOSUPPORT);
		break;
	default: snprintf(buf, len, "ERRNO(%d)", p->seccomp_errno); break;
	}
}

int seccomp_program_dump(const struct policy *p, int fd, wr_error *e)
{
	_cleanup_(compiled_free) struct compiled c = { 0 };
	int r = program_build(p, &c, e);
	if (r < 0)
		return r;
	const struct slot *slots = c.slots;
	int max_nr = c.max_nr;
	if (dprintf(fd, "# seccomp filter: %zu instructions, a binary search over %zu runs of calls\n"
			"#   another architecture, or an x32 call: KILL_PROCESS\n"
			"#   a call numbered above %d: ERRNO(%d)\n", c.b->n, c.n_runs, max_nr, ENOSYS) < 0)
		return wr_error_set(e, errno, "write seccomp dump");
	/* one line per action, naming every call it covers */
	for (int nr = 0; nr <= max_nr;) {
		int end = nr;
		while (end < max_nr && simple(slots[nr]) && slots[end + 1].kind == slots[nr].kind)
			end++;
		char action[1200];
		describe(p, slots[nr], action, sizeof action);
		int w = end > nr ? dprintf(fd, "#   %d-%d:", nr, end) : dprintf(fd, "#   %d:", nr);
		if (w < 0)
			return wr_error_set(e, errno, "write seccomp dump");
		bool named = false;
		for (int k = nr; k <= end; k++) {
			const char *name = seccomp_syscall_name(k);
			if (name && dprintf(fd, " %s", name) < 0)
				return wr_error_set(e, errno, "write seccomp dump");
			named |= name != NULL;
		}
		if (!named && dprintf(fd, " (no calls)") < 0)
			return wr_error_set(e, errno, "write seccomp dump");
		if (dprintf(fd, ": %s\n", action) < 0)
			return wr_error_set(e, errno, "write seccomp dump");
		nr = end + 1;
	}
	return 0;
}
