/* The oci backend across restarts of warrend (warrend(8) RESTARTS).
 *
 * The runtime keeps the container, detached, whatever becomes of the
 * daemon; what would not outlive it is the lock of the sandbox's host uid
 * range, an open file description the daemon holds. A kept container's
 * range is held by a holder (started once the container is up, so a
 * crashed daemon's pool containers keep theirs too): a tiny process of
 * its own session (nobody's child, out of the sandbox's reach: the runtime's preserved fds would put
 * the lock in the container's init, whose uid the sandbox's commands
 * share) with a dup of that lock and a pidfd of the container's init; it
 * exits when the init does, releasing the range. A restarted daemon
 * proves the container (the runtime's state names the recorded init, the
 * init started when recorded and sits in the recorded cgroup) and the
 * holder (its start time), takes the lock's file description from the
 * holder (pidfd_getfd) and locks the range through it again. Background
 * processes run on: their exec waiters outlive the daemon and are taken
 * back the same way (oci-keep.c); a command a request held is killed. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend-oci-internal.h"
#include "cleanup.h"
#include "init-protocol.h"
#include "net-egress.h"
#include "oci-keep.h"
#include "sandbox.h"

/* The holder's fds: 3 the ids' lock, 4 the init's pidfd; with egress 5
 * its slot lock, 6 its resolver socket (kept by the holder as a native
 * sandbox's init keeps them: its link and rules stay the sandbox's, DNS
 * queries wait on the socket). */
enum { HOLDER_IDS = 3, HOLDER_INIT, HOLDER_SLOT, HOLDER_DNS };

static void holder_main(int lock_fd, int init_pidfd, const struct net_egress *net)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	int lock = fcntl(lock_fd, F_DUPFD, 10), pidfd = fcntl(init_pidfd, F_DUPFD, 10);
	int slot = net ? fcntl(net->lock_fd, F_DUPFD, 10) : -1, dns = net ? fcntl(net->dns_fd, F_DUPFD, 10) : -1;
	int devnull = open("/dev/null", O_RDWR);
	if (lock < 0 || pidfd < 0 || devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 ||
	    dup2(devnull, 2) < 0 || dup2(lock, HOLDER_IDS) < 0 || dup2(pidfd, HOLDER_INIT) < 0 ||
	    (net && (slot < 0 || dns < 0 || dup2(slot, HOLDER_SLOT) < 0 || dup2(dns, HOLDER_DNS) < 0)))
		_exit(1);
	syscall(SYS_close_range, net ? HOLDER_DNS + 1U : HOLDER_SLOT + 0U, ~0U, 0U);
	prctl(PR_SET_NAME, "warren-ids");
	struct pollfd p = { .fd = HOLDER_INIT, .events = POLLIN };
	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
	_exit(0);
}

/* Starts b's holder (a grandchild, so the daemon never reaps it). */
int oci_start_holder(struct backend_box *b, wr_error *e)
{
	int pipe_fds[2];
	if (pipe2(pipe_fds, O_CLOEXEC) < 0)
		return wr_error_set(e, errno, "pipe");
	pid_t middle = fork();
	if (middle == 0) {
		pid_t h = setsid() < 0 ? -1 : fork();
		if (h == 0)
			holder_main(b->ids.lock_fd, b->init_pidfd, oci_net_egress(&b->net));
		_exit(h > 0 && write(pipe_fds[1], &h, sizeof h) == (ssize_t)sizeof h ? 0 : 1);
	}
	close(pipe_fds[1]);
	int err = middle < 0 ? errno : 0, st = 0;
	pid_t h = -1;
	if (middle > 0) {
		while (waitpid(middle, &st, 0) < 0 && errno == EINTR)
			;
		if (read(pipe_fds[0], &h, sizeof h) != (ssize_t)sizeof h)
			h = -1;
	}
	close(pipe_fds[0]);
	if (h <= 0)
		return wr_error_set(e, err ? err : ECHILD, "start the holder of its host ids");
	b->holder = h;
	return 0;
}

int oci_keep(struct backend_box *b, const char *name, wr_error *e)
{
	if (strcmp(name, b->name))
		return wr_error_set(e, EINVAL, "container %s keeps its name, not %s", b->name, name);
	if (b->state != OCI_READY || b->holder <= 0)
		return wr_error_set(e, ESRCH, "container %s is not running", b->name);
	b->kept = true; /* (its holder runs since the container came up) */
	return 0;
}

json_t *oci_save(const struct backend_box *b)
{
	unsigned long long started = 0, holder_started = 0;
	char cgroup[4096];
	if (!b->kept || b->state != OCI_READY || proc_start_time(b->init_pid, &started) < 0 ||
	    proc_start_time(b->holder, &holder_started) < 0 || cgroup_export(b->cg, cgroup, sizeof cgroup) < 0)
		return NULL;
	return json_pack("{s:s, s:i, s:I, s:s, s:i, s:I, s:{s:i, s:I, s:I}, s:o}", "container", b->name, "init_pid",
			 (int)b->init_pid, "init_start_time", (json_int_t)started, "cgroup", cgroup, "holder_pid",
			 (int)b->holder, "holder_start_time", (json_int_t)holder_started, "host_ids", "slot",
			 (int)b->ids.slot, "base", (json_int_t)b->ids.host_base, "count", (json_int_t)b->ids.count,
			 "egress", net_egress_save(&b->net.egress));
}

struct saved_oci {
	const char *name, *cgroup;
	int pid, holder;
	json_int_t started, holder_started, slot, base, count;
	json_t *egress;          /* its link (net-egress-keep.c); null or absent without */
};

static int saved_parse(const json_t *saved, struct saved_oci *out, wr_error *e)
{
	json_error_t je;
	*out = (struct saved_oci){ 0 };
	if (json_unpack_ex((json_t *)saved, &je, JSON_STRICT,
			   "{s:s, s:i, s:I, s:s, s:i, s:I, s:{s:I, s:I, s:I}, s?o}", "container", &out->name,
			   "init_pid", &out->pid, "init_start_time", &out->started, "cgroup", &out->cgroup,
			   "holder_pid", &out->holder, "holder_start_time", &out->holder_started, "host_ids", "slot",
			   &out->slot, "base", &out->base, "count", &out->count, "egress", &out->egress) < 0)
		return wr_error_set(e, EBADMSG, "its oci state: %s", je.text);
	if (out->pid <= 1 || out->holder <= 1 || out->started < 0 || out->holder_started < 0 || out->slot < 0 ||
	    out->slot > UINT32_MAX || out->base < 0 || out->base > UINT32_MAX || out->count <= 0 ||
	    out->count > UINT32_MAX || strncmp(out->name, "wd-", 3) || strchr(out->name, '/') ||
	    strlen(out->name) >= 64)
		return wr_error_set(e, EBADMSG, "its oci state holds values out of range");
	return 0;
}

/* The runtime's own state of the container names the recorded init. */
static int runtime_state_matches(const struct saved_oci *sv, wr_error *e)
{
	char path[PATH_MAX * 2];
	snprintf(path, sizeof path, "%s/%s/state.json", oci_cfg.root, sv->name);
	json_auto_t *st = json_load_file(path, 0, NULL);
	if (!st)
		return wr_error_set(e, ENOENT, "the runtime has no container %s", sv->name);
	json_int_t pid = json_integer_value(json_object_get(st, "init_process_pid"));
	json_int_t started = json_integer_value(json_object_get(st, "init_process_start"));
	if (pid != sv->pid || started != sv->started)
		return wr_error_set(e, ESRCH, "container %s's init is pid %lld, not the recorded %d", sv->name,
				    (long long)pid, sv->pid);
	return 0;
}

/* The holder's lock, taken again through its file description. */
static int take_ids(const struct saved_oci *sv, struct uid_range *ids, wr_error *e)
{
	_cleanup_close_ int holder = keep_pidfd_of(sv->holder, sv->holder_started, "holder of its host ids", e);
	if (holder < 0)
		return holder;
	int fd = (int)syscall(SYS_pidfd_getfd, holder, HOLDER_IDS, 0);
	if (fd < 0)
		return wr_error_set(e, errno, "take the lock of its host ids from its holder (pid %d)", sv->holder);
	int r = uid_range_take_fd(ids, fd, (unsigned)sv->slot, (uid_t)sv->base, (uint32_t)sv->count, e);
	if (r < 0)
		close(fd);
	return r;
}

/* Its egress, with the slot lock and resolver socket its holder kept. */
static int take_net(const struct saved_oci *sv, struct oci_net *net, wr_error *e)
{
	if (!sv->egress || json_is_null(sv->egress))
		return 0;
	_cleanup_close_ int holder = keep_pidfd_of(sv->holder, sv->holder_started, "holder of its host ids", e);
	if (holder < 0)
		return holder;
	int held[2] = { (int)syscall(SYS_pidfd_getfd, holder, HOLDER_SLOT, 0),
			(int)syscall(SYS_pidfd_getfd, holder, HOLDER_DNS, 0) };
	int r = net_egress_adopt(sv->egress, sv->pid, held, held[0] >= 0 && held[1] >= 0 ? 2 : 0, &net->egress, e);
	for (int i = 0; i < 2; i++)
		if (held[i] >= 0)
			close(held[i]);
	return r;
}

/* The execs the old daemon ran: a kept one (a background process) runs
 * on, its waiter's fds and pidfd taken back, or ended meanwhile with the
 * status its waiter left (oci-keep.c); one a request held (its client,
 * and the pipes of its output, ended with the old daemon) is killed and
 * reported so. */
static void take_left_execs(struct backend_box *b, struct init_greeting *found)
{
	found->last_id = cgroup_child_max(b->cg, "exec-");
	for (uint32_t id = 1; id && id <= found->last_id; id++) {
		char cgname[32];
		snprintf(cgname, sizeof cgname, "exec-%u", id);
		if (!cgroup_child_exists(b->cg, cgname))
			continue;
		struct init_greeting_exec x;
		int waiter = -1, r = oci_keep_find(b->bundle, id, &x, &waiter);
		struct oci_exec *ox = r == 1 ? calloc(1, sizeof *ox) : NULL;
		if (r == 1 && (!ox || found->n >= ARRAY_SIZE(found->execs))) {
			for (int i = 0; i < x.n_fds; i++)
				close(x.fds[i]);
			x.n_fds = 0;
			close(waiter);
			free(ox);
			r = -ESRCH;
			snprintf(x.error, sizeof x.error, "killed when warrend restarted: out of memory");
		}
		if (r < 0) {
			for (int pass = 0; pass < 3; pass++) /* (v1: one pass may miss a fork) */
				cgroup_child_kill(b->cg, cgname);
			x.status = W_EXITCODE(0, SIGKILL);
		}
		if (r == -ENOENT)
			snprintf(x.error, sizeof x.error, "killed when warrend restarted: nothing kept it (a request's "
				 "command, or one a warrend before this one started)");
		if (r == 1) {
			*ox = (struct oci_exec){ .id = id, .proc = PROC_INIT, .waiter_pidfd = waiter, .next = b->execs };
			b->execs = ox;
		}
		if (found->n < ARRAY_SIZE(found->execs)) /* (else its end is lost: "not seen") */
			found->execs[found->n++] = x;
	}
}

int oci_adopt(const json_t *saved, char *name, struct backend_box **out, struct init_greeting *found,
		     wr_error *e)
{
	found->n = 0;
	struct saved_oci sv;
	int r = saved_parse(saved, &sv, e);
	if (r < 0 || (r = runtime_state_matches(&sv, e)) < 0)
		return r;
	struct backend_box *b = calloc(1, sizeof *b);
	if (!b)
		return wr_error_set(e, ENOMEM, "sandbox");
	*b = (struct backend_box){ .ids = { .lock_fd = -1 }, .runtime = PROC_INIT, .init_pidfd = -1,
				   .init_pid = sv.pid, .net = OCI_NET_INIT, .holder = sv.holder, .kept = true,
				   .state = OCI_READY, .state_reported = true };
	snprintf(b->name, sizeof b->name, "%s", sv.name);
	snprintf(b->bundle, sizeof b->bundle, "%s/%s", oci_cfg.bundles, sv.name);
	char path[PATH_MAX + 16], cg_path[PATH_MAX];
	snprintf(path, sizeof path, "%s/config.json", b->bundle);
	json_auto_t *config = json_load_file(path, 0, NULL);
	b->process = json_incref(json_object_get(config, "process"));
	if (!json_is_object(b->process))
		r = wr_error_set(e, ENOENT, "%s: no process", path);
	else if ((b->init_pidfd = keep_pidfd_of(sv.pid, sv.started, "init", e)) < 0)
		r = b->init_pidfd;
	else if (!proc_in_cgroup_named(sv.pid, sv.name))
		r = wr_error_set(e, ESRCH, "pid %d is not in the container's cgroup %s", sv.pid, sv.name);
	else if ((r = cgroup_import(sv.cgroup, &b->cg, e)) == 0 && !cgroup_is_named(b->cg, sv.name))
		r = wr_error_set(e, EINVAL, "its recorded cgroup is not %s under the cgroup root", sv.name);
	if (r == 0 && (r = oci_cgroups_path(b, cg_path, sizeof cg_path, e)) == 0 && (r = take_ids(&sv, &b->ids, e)) == 0)
		r = take_net(&sv, &b->net, e);
	if (r < 0) {
		if (b->cg)
			cgroup_forget(b->cg);
		b->cg = NULL;
		oci_box_free(b);
		return r;
	}
	take_left_execs(b, found);
	snprintf(name, 64, "%s", b->name);
	*out = b;
	return 0;
}

/* Not adopted: the runtime removes the container it still knows by that
 * name (it kills an init only once it proved it is the container's);
 * the stale sweep that follows removes its cgroups and bundle. */
void oci_discard(const json_t *saved)
{
	struct saved_oci sv;
	wr_error e = { 0 };
	if (saved_parse(saved, &sv, &e) < 0)
		return;
	const char *argv[12];
	oci_delete_argv(argv, sv.name);
	char msg[1024];
	proc_run((char *const *)argv, 5000, msg, sizeof msg, &e);
	char path[PATH_MAX * 2];
	snprintf(path, sizeof path, "%s/%s", oci_cfg.bundles, sv.name);
	oci_keep_wait_waiters(path, 5000); /* (their commands went with the container) */
	oci_remove_tree(path);
}
