#include "config.h"
#include "spawn.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/mount.h>

#include "caps.h"
#include "cleanup.h"
#include "init-protocol.h"
#include "init.h"
#include "mount.h"
#include "socket-family.h"
#include "units.h"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
#endif

/* What exists only until the clone: the child has its own copy. */
struct spawn_prep {
	struct mount_plan mounts;
	struct caps_plan caps;
	struct seccomp_program own_seccomp;
	char **envp;
	char *workspace;
	int workspace_fd;
	int child_sock;
};

static void spawn_prep_free(struct spawn_prep *p)
{
	mount_plan_free(&p->mounts);
	caps_plan_free(&p->caps);
	seccomp_program_free(&p->own_seccomp);
	free(p->envp);
	free(p->workspace);
	if (p->workspace_fd >= 0)
		close(p->workspace_fd);
	if (p->child_sock >= 0)
		close(p->child_sock);
}

static void verbose(const struct spawn_options *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void verbose(const struct spawn_options *o, const char *fmt, ...)
{
	if (o->verbose < 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	fputs("warren: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

char **env_merge(char *const *base, char *const *extra)
{
	size_t n = 0, m = 0;
	while (base && base[n])
		n++;
	while (extra && extra[m])
		m++;
	char **env = calloc(n + m + 1, sizeof *env);
	if (!env)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		size_t klen = strcspn(base[i], "=");
		bool replaced = false;
		for (size_t j = 0; j < m && !replaced; j++)
			replaced = !strncmp(extra[j], base[i], klen) && extra[j][klen] == '=';
		if (!replaced)
			env[k++] = base[i];
	}
	for (size_t j = 0; j < m; j++)
		env[k++] = extra[j];
	env[k] = NULL;
	return env;
}

char **spawn_build_env(const struct policy *p, char *const *extra)
{
	return env_merge(p->env, extra);
}

/* As root, the host directory is bind-mounted through an idmapping so that
 * what the sandbox user writes is owned by the caller on the host. */
static int open_idmapped_workspace(const char *dir, const struct uid_range *ids, int *out, wr_error *e)
{
	_cleanup_close_ int userns = -1;
	int r = userns_open_idmap(ids->caller_uid, ids->caller_gid,
				  uid_range_host_uid(ids, SANDBOX_UID),
				  (gid_t)uid_range_host_uid(ids, SANDBOX_GID), &userns, e);
	if (r < 0)
		return r;
	_cleanup_close_ int fd = (int)syscall(SYS_open_tree, AT_FDCWD, dir,
					      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0)
		return wr_error_set(e, errno, "open_tree %s", dir);
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
		.userns_fd = (uint64_t)userns,
	};
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0)
		return wr_error_set(e, errno, "idmapped mount of %s (the filesystem must support idmapped mounts)", dir);
	*out = TAKE_FD(fd);
	return 0;
}

static int prepare_cgroup(const struct spawn_options *o, struct spawned *s, wr_error *e)
{
	const struct policy *p = o->policy;
	char name[64], a[32], b[32], c[32];
	if (o->cgroup_name)
		snprintf(name, sizeof name, "%s", o->cgroup_name);
	else
		snprintf(name, sizeof name, "run-%d-%u", (int)getpid(), s->ids.slot);
	/* A one-shot sandbox dies whole on OOM (v2 memory.oom.group); a
	 * session keeps its init and other processes when one command is
	 * killed. */
	struct cgroup_limits lim = {
		.memory = p->limits.memory, .pids = p->limits.pids, .cpu_millis = p->limits.cpu_millis,
		.oom_kill_all = o->argv != NULL,
	};
	int r = cgroup_create(name, &lim, &s->cg, e);
	if (r < 0) {
		if (s->ids.rootless && (r == -EACCES || r == -EPERM || r == -EROFS))
			wr_error_prefix(e, "rootless: no cgroup to enforce the limits in (run as root, or in a "
					"delegated cgroup: systemd-run --user --scope -p Delegate=yes warren run ...): ");
		return r;
	}
	if (o->verbose) {
		format_size(lim.memory, a, sizeof a);
		format_cpus(lim.cpu_millis, b, sizeof b);
		format_duration(p->limits.timeout_ms, c, sizeof c);
		verbose(o, "%s: memory %s, pids %llu, cpus %s; timeout %s", cgroup_describe(s->cg), a,
			(unsigned long long)lim.pids, b, c);
	}
	return 0;
}

static int prepare(const struct spawn_options *o, struct spawned *s, struct spawn_prep *prep,
		   int sock[2], wr_error *e)
{
	const struct policy *p = o->policy;
	int r;

	if ((r = uid_range_acquire(&s->ids, NULL, e)) < 0)
		return r;
	if (s->ids.rootless)
		verbose(o, "rootless: sandbox uid %u is host uid %u", SANDBOX_UID, (unsigned)s->ids.caller_uid);
	else
		verbose(o, "user namespace: uids 0-%u are host uids %u-%u (range %u)", s->ids.count - 1,
			(unsigned)s->ids.host_base, (unsigned)(s->ids.host_base + s->ids.count - 1), s->ids.slot);
	if ((r = prepare_cgroup(o, s, e)) < 0)
		return r;

	if (o->workspace_dir) {
		prep->workspace = realpath(o->workspace_dir, NULL);
		struct stat st;
		if (!prep->workspace || stat(prep->workspace, &st) < 0)
			return wr_error_set(e, errno, "--workspace %s", o->workspace_dir);
		if (!S_ISDIR(st.st_mode))
			return wr_error_set(e, ENOTDIR, "--workspace %s", o->workspace_dir);
		if (!s->ids.rootless &&
		    (r = open_idmapped_workspace(prep->workspace, &s->ids, &prep->workspace_fd, e)) < 0)
			return r;
		verbose(o, "workspace: %s%s", prep->workspace, s->ids.rootless ? "" : " (idmapped to the caller)");
	}
	struct mount_config mc = {
		.image_dir = o->image, .image_detached = !s->ids.rootless, .workspace_dir = prep->workspace, .workspace_fd = prep->workspace_fd,
		.workspace_size = policy_tmpfs_size(p->limits.workspace, p->limits.memory),
		.tmp_size = policy_tmpfs_size(p->limits.tmp, p->limits.memory), .network = p->network,
		.resolv_conf = p->network == NET_EGRESS ? NET_RESOLV_CONF : NULL,
		.extra = p->mounts, .n_extra = p->n_mounts, .hide = p->hide, .n_hide = p->n_hide,
		.sandbox_uid = SANDBOX_UID, .sandbox_gid = SANDBOX_GID,
	};
	if ((r = mount_plan_build(&prep->mounts, &mc, e)) < 0)
		return r;
	if (o->verbose >= 2)
		mount_plan_describe(&prep->mounts, STDERR_FILENO);
	if ((r = caps_plan_prepare(&prep->caps, e)) < 0)
		return r;
	/* A persistent sandbox needs its filter before it reports ready; a
	 * one-shot run gets it after "go", compiled while the child sets up. */
	if (!o->seccomp && !o->argv && (r = seccomp_program_build(p, &prep->own_seccomp, e)) < 0)
		return r;
	if (o->verbose >= 2 && (r = seccomp_program_dump(p, STDERR_FILENO, e)) < 0)
		return r;
	if (p->network != NET_EGRESS) /* egress says more once its link exists */
		verbose(o, "network: %s", p->network == NET_NONE ? "none (a new namespace with lo up)" : "host");
	if (o->argv && !(prep->envp = spawn_build_env(p, o->extra_env)))
		return wr_error_set(e, ENOMEM, "environment");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0)
		return wr_error_set(e, errno, "socketpair");
	return 0;
}

/* Network egress, a step of its own: the sandbox's namespace exists and
 * it waits for "go", so its link, addresses, routes, rules and resolver
 * are all there before it runs anything. */
static int spawn_setup_egress(const struct spawn_options *o, struct spawned *s, wr_error *e)
{
	const struct policy_network *net = &o->policy->net;
	int r = net_egress_setup(o->policy, s->pid, &s->net, e);
	if (r < 0) {
		wr_error_prefix(e, "network egress: ");
		return r;
	}
	if (o->verbose) {
		char where[192], resolvers[160] = "", allow[512] = "";
		net_egress_describe(&s->net, where, sizeof where);
		for (size_t i = 0, n = 0; i < s->net.n_resolvers && n < sizeof resolvers; i++) {
			char one[64];
			net_endpoint_format(&s->net.resolvers[i], one, sizeof one);
			n += (size_t)snprintf(resolvers + n, sizeof resolvers - n, "%s%s", i ? ", " : "", one);
		}
		for (size_t i = 0, n = 0; i < net->allow.n && n < sizeof allow; i++) {
			char one[ALLOW_NAME_MAX + 8];
			allow_entry_format(&net->allow.v[i], one, sizeof one);
			n += (size_t)snprintf(allow + n, sizeof allow - n, "%s%s", i ? ", " : "", one);
		}
		verbose(o, "network: egress, %s", where);
		verbose(o, "network: allowed: %s", allow[0] ? allow : "nothing");
		verbose(o, "network: resolver " NET_DNS_ADDRESS " answers allowed names from %s, others NXDOMAIN",
			resolvers);
		if (net->bandwidth || net->connections)
			verbose(o, "network: at most %llu bytes/s each way, %u connections",
				(unsigned long long)net->bandwidth, (unsigned)net->connections);
	}
	return 0;
}

/* Whether init can trace its commands through their exec (init.c
 * settle_command): Yama's ptrace_scope 2 and 3 refuse PTRACE_TRACEME. */
static bool commands_traceable(void)
{
	char v = '0';
	_cleanup_close_ int fd = open("/proc/sys/kernel/yama/ptrace_scope", O_RDONLY | O_CLOEXEC);
	return fd < 0 || read(fd, &v, 1) != 1 || v < '2';
}

int spawn_protect_init_from_oom(pid_t pid, bool exempt)
{
	char path[64];
	/* The legacy oom_adj sets the score without lowering
	 * oom_score_adj_min, which children inherit: written through
	 * oom_score_adj, a command could go back to -1000 on its own and be
	 * killable by no one. -17 is -1000, -16 is -941. */
	snprintf(path, sizeof path, "/proc/%d/oom_adj", (int)pid);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, exempt ? "-17" : "-16", 3) == 3)
		return 0;
	int err = errno;
	/* no CAP_SYS_RESOURCE: no lower than 0 (what an OCI runtime may have
	 * raised it from) */
	snprintf(path, sizeof path, "/proc/%d/oom_score_adj", (int)pid);
	_cleanup_close_ int fd0 = open(path, O_WRONLY | O_CLOEXEC);
	if (fd0 >= 0)
		(void)!write(fd0, "0", 1);
	return -err;
}

/* Compiles the policy's filter (the child is setting up meanwhile) and
 * sends it to init, which loads it in the command right before exec. */
static int send_seccomp(const struct spawn_options *o, struct spawned *s, wr_error *e)
{
	struct seccomp_program prog = { 0 };
	int r = seccomp_program_build(o->policy, &prog, e);
	if (r < 0)
		return r;
	char families[512];
	socket_families_format(o->policy->socket_families, families, sizeof families);
	verbose(o, "seccomp: %zu system calls allowed, the rest denied; socket families %s; filter of %u "
		"instructions", seccomp_allowed_count(o->policy), families[0] ? families : "none", (unsigned)prog.len);
	size_t len = prog.len * sizeof prog.filter[0];
	if (send(s->sock, prog.filter, len, MSG_NOSIGNAL) != (ssize_t)len)
		r = wr_error_set(e, errno, "send the seccomp filter to the sandbox");
	seccomp_program_free(&prog);
	return r;
}

int spawn_sandbox(const struct spawn_options *o, struct spawned *s, wr_error *e)
{
	struct spawn_prep prep = { .workspace_fd = -1, .child_sock = -1 };
	int sock[2] = { -1, -1 };
	*s = (struct spawned){ .sock = -1, .ids = { .lock_fd = -1 }, .net = { .lock_fd = -1, .dns_fd = -1 }, .areas = -1 };
	int areas[2] = { -1, -1 };

	int r = prepare(o, s, &prep, sock, e);
	if (r < 0)
		goto fail;
	s->sock = sock[0];
	prep.child_sock = sock[1];
	if (o->send_areas && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, areas) < 0) {
		r = wr_error_set(e, errno, "socketpair");
		goto fail;
	}
	s->areas = areas[0];

	/* Commands start with the mask asked for, else with nothing blocked
	 * (a daemon blocks the signals it reads through a signalfd). */
	sigset_t current;
	if (o->command_mask)
		current = *o->command_mask;
	else
		sigemptyset(&current);
	struct init_plan plan = {
		.policy = o->policy, .ids = &s->ids, .mounts = &prep.mounts, .caps = &prep.caps,
		.seccomp = o->seccomp ? o->seccomp : o->argv ? NULL : &prep.own_seccomp, .sock = sock[1], .areas_sock = areas[1],
		.parent_mask = current, .argv = o->argv, .envp = prep.envp,
		.cwd = o->cwd ? o->cwd : "/workspace",
	};
	unsigned long flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
			      (o->policy->network != NET_HOST ? CLONE_NEWNET : 0) | SIGCHLD;
	fflush(stdout);
	fflush(stderr);
	/* Fork-like clone (no new stack): the child runs on a copy of ours. */
	s->pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
	if (s->pid < 0) {
		s->pid = 0;
		r = wr_error_set(e, errno, "clone the sandbox namespaces");
		goto fail;
	}
	if (s->pid == 0) {
		close(sock[0]);
		if (areas[0] >= 0)
			close(areas[0]);
		init_main(&plan);
	}
	if (areas[1] >= 0)
		close(areas[1]);
	areas[1] = -1;
	spawn_prep_free(&prep);
	if ((r = userns_write_maps(s->pid, &s->ids, e)) < 0 || (r = cgroup_add_pid(s->cg, s->pid, e)) < 0)
		goto fail_spawned;
	if (o->policy->network == NET_EGRESS && (r = spawn_setup_egress(o, s, e)) < 0)
		goto fail_spawned;
	/* Exempt only if init can raise its commands' score before they run:
	 * a command that kept init's -1000 would be killable by no one. */
	if ((r = spawn_protect_init_from_oom(s->pid, commands_traceable())) < 0)
		verbose(o, "init is not exempt from the OOM killer (%s; that needs CAP_SYS_RESOURCE)",
			strerror(-r));
	else
		verbose(o, "init is the OOM killer's last choice; commands are its first");
	char go = INIT_GO_BYTE;
	if (write(s->sock, &go, 1) != 1) {
		r = wr_error_set(e, errno, "start the sandbox");
		goto fail_spawned;
	}
	if (!plan.seccomp && (r = send_seccomp(o, s, e)) < 0)
		goto fail_spawned;
	return 0;

fail:
	spawn_prep_free(&prep);
	if (areas[1] >= 0)
		close(areas[1]);
	if (s->sock < 0 && sock[0] >= 0)
		close(sock[0]);
	s->sock = -1;
fail_spawned:
	spawned_release(s, NULL);
	return r;
}

int spawned_release(struct spawned *s, wr_error *e)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
			;
		s->pid = 0;
	}
	int r = 0;
	if (s->cg) {
		r = cgroup_destroy(s->cg, e);
		s->cg = NULL;
	}
	/* after init: its namespace, and so the sandbox's end of the link, is gone */
	wr_error net_error = { 0 };
	int rn = net_egress_teardown(&s->net, &net_error);
	if (rn < 0 && r == 0) {
		r = rn;
		if (e)
			*e = net_error;
	}
	uid_range_release(&s->ids);
	if (s->sock >= 0)
		close(s->sock);
	s->sock = -1;
	if (s->areas >= 0)
		close(s->areas);
	s->areas = -1;
	return r;
}
