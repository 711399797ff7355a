#include "config.h"
#include "sandbox.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "init-protocol.h"
#include "spawn.h"
#include "spawner.h"

struct sandbox {
	struct spawned sp;
	bool init_reaped;
	bool sock_given;   /* sandbox_give_fd: someone else closes sp.sock */
	int init_version;  /* what its init understands (INIT_PROTOCOL_VERSION) */
};

int sandbox_create(const struct spawn_options *o, struct sandbox **out, wr_error *e)
{
	if (o->argv)
		return wr_error_set(e, EINVAL, "sandbox_create: a persistent sandbox takes no command");
	struct sandbox *sb = calloc(1, sizeof *sb);
	if (!sb)
		return wr_error_set(e, ENOMEM, "sandbox");
	sb->init_version = INIT_PROTOCOL_VERSION; /* ours: the same build */
	/* warrend: through its spawner, off the event loop (spawner.h); an
	 * egress sandbox here, with its link, rules and resolver socket, which
	 * the daemon keeps (warrend(8) PROCESSES) */
	bool remote = spawner_in_use() && o->policy->network != NET_EGRESS;
	int r = remote ? spawner_request(o, &sb->sp, e) : spawn_sandbox(o, &sb->sp, e);
	if (r < 0) {
		free(sb);
		return r;
	}
	*out = sb;
	return 0;
}

/* A sandbox asked of the spawner gets its pid and cgroup with the
 * spawner's answer, which comes before init's first message. */
static void settle(const struct sandbox *sb)
{
	if (sb->sp.remote_id)
		spawner_collect();
}

void sandbox_settle(struct sandbox *sb)
{
	settle(sb);
}

int sandbox_fd(const struct sandbox *sb) { return sb->sp.sock; }
void sandbox_give_fd(struct sandbox *sb) { sb->sock_given = true; }

/* Closes our end of init's socket, unless it was given away. */
static void drop_sock(struct sandbox *sb)
{
	if (sb->sp.sock >= 0 && !sb->sock_given)
		close(sb->sp.sock);
	sb->sp.sock = -1;
}
pid_t sandbox_pid(const struct sandbox *sb) { settle(sb); return sb->sp.pid; }
struct cgroup *sandbox_cgroup(const struct sandbox *sb) { settle(sb); return sb->sp.cg; }
uid_t sandbox_host_uid(const struct sandbox *sb, uid_t inside) { return uid_range_host_uid(&sb->sp.ids, inside); }
struct net_egress *sandbox_net(struct sandbox *sb) { return &sb->sp.net; }
const struct uid_range *sandbox_ids(const struct sandbox *sb) { return &sb->sp.ids; }

int sandbox_wait_init(struct sandbox *sb, int *status)
{
	if (sb->init_reaped || sb->sp.pid <= 0)
		return -ECHILD;
	while (waitpid(sb->sp.pid, status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	sb->init_reaped = true;
	return 0;
}

int sandbox_event_validate(const struct init_event *ev)
{
	if (ev->type < INIT_EV_SETUP_FAILED || ev->type > INIT_EV_EXITED)
		return -EBADMSG;
	if (ev->err < 0 || ev->err >= 4096)
		return -EBADMSG;
	if (memchr(ev->step, '\0', sizeof ev->step) == NULL || memchr(ev->path, '\0', sizeof ev->path) == NULL)
		return -EBADMSG;
	return 0;
}

static void exec_cgroup_name(uint32_t id, char *buf, size_t len)
{
	snprintf(buf, len, "exec-%u", id);
}

/* Packs cwd, argv and env after the header; NULL on overflow. */
static char *pack_request(const struct sandbox_exec *x, bool keep_stdin, size_t *len_out)
{
	struct init_exec_request hdr = {
		.type = INIT_REQ_EXEC, .exec_id = x->id,
		.flags = INIT_EXEC_CGROUP_FD | (x->pty ? INIT_EXEC_PTY : 0) | (x->keep ? INIT_EXEC_KEEP : 0) |
			 (keep_stdin ? INIT_EXEC_KEEP_STDIN : 0),
		.pty_cols = x->pty ? x->pty_cols : 0, .pty_rows = x->pty ? x->pty_rows : 0,
	};
	size_t len = sizeof hdr + strlen(x->cwd) + 1;
	for (char *const *a = x->argv; *a; a++, hdr.argc++)
		len += strlen(*a) + 1;
	for (char *const *v = x->envp; v && *v; v++, hdr.envc++)
		len += strlen(*v) + 1;
	if (len > INIT_MAX_REQUEST || hdr.argc == 0 || (uint64_t)hdr.argc + hdr.envc + 2 > INIT_MAX_ARGS)
		return NULL;
	hdr.strings_len = (uint32_t)(len - sizeof hdr);
	char *buf = malloc(len), *p = buf;
	if (!buf)
		return NULL;
	memcpy(p, &hdr, sizeof hdr);
	p += sizeof hdr;
	p = stpcpy(p, x->cwd) + 1;
	for (char *const *a = x->argv; *a; a++)
		p = stpcpy(p, *a) + 1;
	for (char *const *v = x->envp; v && *v; v++)
		p = stpcpy(p, *v) + 1;
	*len_out = len;
	return buf;
}

int sandbox_exec_start(struct sandbox *sb, const struct sandbox_exec *x, wr_error *e)
{
	size_t len;
	/* an init from before INIT_EXEC_KEEP_STDIN (a sandbox taken back
	 * after an upgrade): its command's stdin ends with the daemon */
	bool keep_stdin = x->keep && !x->pty && x->own[2] >= 0 && sb->init_version >= 2;
	_cleanup_free_ char *req = pack_request(x, keep_stdin, &len);
	if (!req)
		return wr_error_set(e, E2BIG, "the command and its environment exceed %d bytes or %d strings",
				    INIT_MAX_REQUEST, INIT_MAX_ARGS);
	char name[32];
	exec_cgroup_name(x->id, name, sizeof name);
	_cleanup_close_ int procs = -1;
	if (!sandbox_cgroup(sb))
		return wr_error_set(e, EIO, "the sandbox has no cgroup");
	int r = cgroup_child_create(sb->sp.cg, name, &procs, e);
	if (r < 0)
		return r;

	/* stdio then the cgroup fd, or with a pty the reply socket then it;
	 * then what init keeps */
	int fds[INIT_MAX_FDS] = { x->stdio[0], x->stdio[1], x->stdio[2], procs, x->own[0], x->own[1], x->own[2] };
	size_t n_fds = x->keep ? (keep_stdin ? 7 : 6) : 4;
	if (x->pty) {
		fds[0] = x->pty_reply;
		fds[1] = procs;
		n_fds = 2;
	}
	union {
		char buf[CMSG_SPACE(sizeof fds)];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof control);
	struct iovec iov = { .iov_base = req, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = control.buf, .msg_controllen = CMSG_SPACE(n_fds * sizeof(int)) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));
	if (sendmsg(sb->sp.sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)len) {
		int err = errno;
		cgroup_child_remove(sb->sp.cg, name);
		return wr_error_set(e, err, "send the exec request to the sandbox");
	}
	return 0;
}

int sandbox_exec_signal(struct sandbox *sb, uint32_t id, int sig)
{
	if (sig < 1 || sig > INIT_MAX_SIGNAL)
		return -EINVAL;
	struct init_signal_request req = { .type = INIT_REQ_SIGNAL, .exec_id = id, .signal = sig };
	return send(sb->sp.sock, &req, sizeof req, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof req ? 0 : -errno;
}

void sandbox_set_init_version(struct sandbox *sb, int version)
{
	sb->init_version = version;
}

int sandbox_exec_close_stdin(struct sandbox *sb, uint32_t id)
{
	if (sb->init_version < 2)
		return 0; /* it holds no copy (sandbox_exec_start) */
	struct init_close_stdin_request req = { .type = INIT_REQ_CLOSE_STDIN, .exec_id = id };
	return send(sb->sp.sock, &req, sizeof req, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof req ? 0 : -errno;
}

int sandbox_exec_kill(struct sandbox *sb, uint32_t id)
{
	char name[32];
	exec_cgroup_name(id, name, sizeof name);
	return cgroup_child_kill(sb->sp.cg, name);
}

int sandbox_exec_release(struct sandbox *sb, uint32_t id)
{
	char name[32];
	exec_cgroup_name(id, name, sizeof name);
	return cgroup_child_remove(sb->sp.cg, name);
}

int sandbox_keep(struct sandbox *sb, int listener, wr_error *e)
{
	int ids_lock = -1;
	int r = spawner_hand_over_ids(&sb->sp.ids, &ids_lock, e);
	if (r < 0)
		return r;
	/* a range of its own (an egress sandbox, made by warrend itself): init
	 * shares its lock's file description, so the range stays locked with
	 * init alive, daemon or not */
	if (ids_lock < 0 && sb->sp.ids.lock_fd >= 0) {
		if ((ids_lock = fcntl(sb->sp.ids.lock_fd, F_DUPFD_CLOEXEC, 3)) < 0)
			return wr_error_set(e, errno, "the lock of its host ids");
		sb->sp.ids.handed = true;
	}
	/* an egress sandbox's init holds its slot (its link and rules stay
	 * its own) and its resolver's socket (queries wait there) */
	const struct net_egress *net = &sb->sp.net;
	if (net->lock_fd >= 0 && net->dns_fd < 0)
		r = wr_error_set(e, EBADF, "the sandbox's resolver socket is gone");
	if (r < 0) {
		if (ids_lock >= 0)
			close(ids_lock);
		return r;
	}
	int fds[2 + INIT_MAX_HELD] = { listener, ids_lock };
	size_t n = ids_lock >= 0 ? 2 : 1;
	struct init_keep_request req = { .type = INIT_REQ_KEEP };
	if (net->lock_fd >= 0) {
		fds[n++] = net->lock_fd;
		fds[n++] = net->dns_fd;
		req.held = 2;
	}
	union {
		char buf[CMSG_SPACE(sizeof fds)];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof control);
	struct iovec iov = { .iov_base = &req, .iov_len = sizeof req };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	if (sendmsg(sb->sp.sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof req)
		r = wr_error_set(e, errno, "send the keep request to the sandbox");
	/* (sent or not, the lock is the sandbox's: a range it no longer holds
	 * stays counted as ours until the sandbox is destroyed) */
	if (ids_lock >= 0)
		close(ids_lock);
	return r;
}

/* sandbox-adopt.c: a sandbox of these parts (taken). */
struct sandbox *sandbox_of_parts(pid_t pid, int sock, struct cgroup *cg, const struct uid_range *ids)
{
	struct sandbox *sb = calloc(1, sizeof *sb);
	if (!sb)
		return NULL;
	sb->sp = SPAWNED_EMPTY;
	sb->sp.pid = pid;
	sb->sp.sock = sock;
	sb->sp.cg = cg;
	sb->sp.ids = *ids;
	/* not our child: nobody to reap, and once it died its pid may be
	 * another's, so only its cgroup is ever killed */
	sb->init_reaped = true;
	return sb;
}

int sandbox_destroy_step(struct sandbox *sb)
{
	if (!sb)
		return 0;
	drop_sock(sb);
	if (spawner_forget(&sb->sp, false) == -EBUSY)
		return -EBUSY;
	if (!sb->init_reaped && sb->sp.pid > 0) {
		kill(sb->sp.pid, SIGKILL);
		pid_t r = waitpid(sb->sp.pid, NULL, WNOHANG);
		if (r == 0)
			return -EBUSY;
		sb->init_reaped = true;
	}
	if (sb->sp.cg) {
		int r = cgroup_try_destroy(sb->sp.cg);
		if (r == -EBUSY)
			return r;
		if (r < 0)
			cgroup_destroy(sb->sp.cg, NULL); /* frees; reports nothing more we could do */
		sb->sp.cg = NULL;
	}
	sb->sp.pid = 0;
	spawned_release(&sb->sp, NULL);
	free(sb);
	return 0;
}

void sandbox_destroy(struct sandbox *sb)
{
	if (!sb)
		return;
	for (int i = 0; i < 100 && spawner_forget(&sb->sp, false) == -EBUSY; i++)
		usleep(10 * 1000);
	spawner_forget(&sb->sp, true);
	drop_sock(sb);
	if (sb->init_reaped)
		sb->sp.pid = 0;
	spawned_release(&sb->sp, NULL);
	free(sb);
}
