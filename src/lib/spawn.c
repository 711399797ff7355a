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
#include <linux/sched.h>

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
	int template_fd;
	int child_sock;         /* init's end, when we made the pair */
	int child_sync;
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
	if (p->template_fd >= 0)
		close(p->template_fd);
	if (p->child_sock >= 0)
		close(p->child_sock);
	if (p->child_sync >= 0)
		close(p->child_sync);
}

/* Egress (spawn_use_egress): NULL in the static warren-spawner. */
static const struct spawn_egress *egress;

void spawn_use_egress(const struct spawn_egress *ops) { egress = ops; }

void spawn_verbose(const struct spawn_options *o, const char *fmt, ...)
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
		spawn_verbose(o, "%s: memory %s, pids %llu, cpus %s; timeout %s", cgroup_describe(s->cg), a,
			(unsigned long long)lim.pids, b, c);
	}
	return 0;
}

/* Root with a store: the root's shared part comes from a template and the
 * sandbox mounts only its own. A store that fails leaves the whole root to
 * the sandbox, said in --verbose (isolation is the same either way). */
static void use_template(const struct spawn_options *o, struct spawned *s, struct spawn_prep *prep,
			 struct mount_config *mc)
{
	/* an egress sandbox's /etc/resolv.conf is written on its scratch root */
	if (!o->templates || s->ids.rootless || (mc->workspace_dir && mc->workspace_fd < 0) || mc->resolv_conf)
		return;
	wr_error te = { 0 };
	if (template_store_clone(o->templates, mc, &prep->template_fd, &s->template_built, &te) < 0) {
		spawn_verbose(o, "template: %s; the sandbox builds its whole root", te.message);
		return;
	}
	s->template_used = true;
	spawn_verbose(o, "template: %s", s->template_built ? "built, then copied" : "copied");
	mc->part = MOUNT_PART_SANDBOX;
	mc->template_fd = prep->template_fd;
}

static int prepare(const struct spawn_options *o, struct spawned *s, struct spawn_prep *prep,
		   int sock[2], wr_error *e)
{
	const struct policy *p = o->policy;
	int r;

	if (o->ids) {
		s->ids = *o->ids;
		s->ids.lock_fd = -1; /* the caller's to release */
		s->ids.pool = NULL;
	} else if ((r = uid_range_acquire(&s->ids, NULL, e)) < 0) {
		return r;
	}
	if (s->ids.rootless)
		spawn_verbose(o, "rootless: sandbox uid %u is host uid %u", SANDBOX_UID, (unsigned)s->ids.caller_uid);
	else
		spawn_verbose(o, "user namespace: uids 0-%u are host uids %u-%u (range %u)", s->ids.count - 1,
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
		spawn_verbose(o, "workspace: %s%s", prep->workspace, s->ids.rootless ? "" : " (idmapped to the caller)");
	}
	struct mount_config mc = {
		.image_dir = o->image, .image_detached = !s->ids.rootless, .workspace_dir = prep->workspace, .workspace_fd = prep->workspace_fd,
		.workspace_size = policy_tmpfs_size(p->limits.workspace, p->limits.memory),
		.tmp_size = policy_tmpfs_size(p->limits.tmp, p->limits.memory), .network = p->network,
		.resolv_conf = p->network == NET_EGRESS ? NET_RESOLV_CONF : NULL,
		.extra = p->mounts, .n_extra = p->n_mounts, .hide = p->hide, .n_hide = p->n_hide,
		.sandbox_uid = SANDBOX_UID, .sandbox_gid = SANDBOX_GID, .template_fd = -1,
	};
	use_template(o, s, prep, &mc);
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
		spawn_verbose(o, "network: %s", p->network == NET_NONE ? "none (a new namespace with lo up)" : "host");
	if (o->argv && !(prep->envp = spawn_build_env(p, o->extra_env)))
		return wr_error_set(e, ENOMEM, "environment");
	int sync[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sync) < 0)
		return wr_error_set(e, errno, "socketpair");
	s->sync = sync[0];
	prep->child_sync = sync[1];
	if (o->init_sock > 0)
		sock[1] = o->init_sock; /* borrowed: the caller closes it */
	else if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0)
		return wr_error_set(e, errno, "socketpair");
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
	spawn_verbose(o, "seccomp: %zu system calls allowed, the rest denied; socket families %s; filter of %u "
		"instructions", seccomp_allowed_count(o->policy), families[0] ? families : "none", (unsigned)prog.len);
	size_t len = prog.len * sizeof prog.filter[0];
	if (send(s->sync, prog.filter, len, MSG_NOSIGNAL) != (ssize_t)len)
		r = wr_error_set(e, errno, "send the seccomp filter to the sandbox");
	seccomp_program_free(&prog);
	return r;
}

/* Fork-like (no new stack: the child runs on a copy of ours). On cgroup v2
 * the child is born in the sandbox's cgroup (clone3's CLONE_INTO_CGROUP):
 * moving it there afterwards would take the kernel's migration lock for
 * writing, an RCU grace period. Older kernels, or v1: clone, then a move. */
static pid_t clone_sandbox(unsigned long flags, const struct cgroup *cg, bool *born_in_cgroup)
{
	*born_in_cgroup = false;
	_cleanup_close_ int dir = cgroup_open_dir(cg);
	if (dir >= 0) {
		struct clone_args args = {
			.flags = flags | CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)dir,
		};
		long pid = syscall(SYS_clone3, &args, sizeof args);
		if (pid >= 0) {
			*born_in_cgroup = true;
			return (pid_t)pid;
		}
		if (errno != ENOSYS && errno != E2BIG && errno != EINVAL)
			return -1;
	}
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

int spawn_start(const struct spawn_options *o, struct spawned *s, wr_error *e)
{
	struct spawn_prep prep = { .workspace_fd = -1, .template_fd = -1, .child_sock = -1, .child_sync = -1 };
	int sock[2] = { -1, -1 };
	*s = SPAWNED_EMPTY;
	int areas[2] = { -1, -1 };

	int r = prepare(o, s, &prep, sock, e);
	if (r < 0)
		goto fail;
	s->sock = sock[0];
	if (o->init_sock <= 0)
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
		.seccomp = o->seccomp ? o->seccomp : o->argv ? NULL : &prep.own_seccomp, .sock = sock[1],
		.areas_sock = areas[1], .sync = prep.child_sync, .parent_mask = current, .argv = o->argv,
		.envp = prep.envp, .cwd = o->cwd ? o->cwd : "/workspace",
	};
	unsigned long flags = CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC |
			      (o->policy->network != NET_HOST ? CLONE_NEWNET : 0) |
			      (o->clone_parent ? CLONE_PARENT : 0);
	fflush(stdout);
	fflush(stderr);
	bool born_in_cgroup;
	s->pid = clone_sandbox(flags, s->cg, &born_in_cgroup);
	if (s->pid < 0) {
		s->pid = 0;
		r = wr_error_set(e, errno, "clone the sandbox namespaces");
		goto fail;
	}
	if (s->pid == 0) {
		if (sock[0] >= 0)
			close(sock[0]);
		close(s->sync);
		if (areas[0] >= 0)
			close(areas[0]);
		init_main(&plan);
	}
	if (areas[1] >= 0)
		close(areas[1]);
	areas[1] = -1;
	spawn_prep_free(&prep);
	if ((r = userns_write_maps(s->pid, &s->ids, e)) < 0 ||
	    (!born_in_cgroup && (r = cgroup_add_pid(s->cg, s->pid, e)) < 0))
		goto fail_spawned;
	if (o->policy->network == NET_EGRESS &&
	    (r = egress ? egress->setup(o, s, e) : wr_error_set(e, ENOTSUP, "network egress: not in this program")) < 0)
		goto fail_spawned;
	/* Exempt only if init can raise its commands' score before they run:
	 * a command that kept init's -1000 would be killable by no one. */
	if ((r = spawn_protect_init_from_oom(s->pid, commands_traceable())) < 0)
		spawn_verbose(o, "init is not exempt from the OOM killer (%s; that needs CAP_SYS_RESOURCE)",
			strerror(-r));
	else
		spawn_verbose(o, "init is the OOM killer's last choice; commands are its first");
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

int spawn_go(const struct spawn_options *o, struct spawned *s, wr_error *e)
{
	char go = INIT_GO_BYTE;
	int r = 0;
	if (send(s->sync, &go, 1, MSG_NOSIGNAL) != 1)
		r = wr_error_set(e, errno, "start the sandbox");
	else if (o->argv && !o->seccomp)
		r = send_seccomp(o, s, e);
	close(s->sync);
	s->sync = -1;
	if (r < 0)
		spawned_release(s, NULL);
	return r;
}

int spawn_sandbox(const struct spawn_options *o, struct spawned *s, wr_error *e)
{
	int r = spawn_start(o, s, e);
	return r < 0 ? r : spawn_go(o, s, e);
}

int spawned_release(struct spawned *s, wr_error *e)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		pid_t w;
		while ((w = waitpid(s->pid, NULL, 0)) < 0 && errno == EINTR)
			;
		/* ECHILD: init is our parent's (clone_parent), who reaps it and
		 * must learn its pid from s->pid */
		if (w == s->pid)
			s->pid = 0;
	}
	if (s->sync >= 0)
		close(s->sync);
	s->sync = -1;
	int r = 0;
	if (s->cg) {
		r = cgroup_destroy(s->cg, e);
		s->cg = NULL;
	}
	/* after init: its namespace, and so the sandbox's end of the link, is gone */
	wr_error net_error = { 0 };
	int rn = egress ? egress->teardown(&s->net, &net_error) : 0;
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
