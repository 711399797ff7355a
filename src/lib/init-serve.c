/* A persistent sandbox's init serving exec requests (init-protocol.h):
 * its commands, their ends, and the daemon's restarts, when init keeps
 * what a kept exec needs for the next daemon. init.c sets the sandbox up
 * and starts one command; the same rules hold here: raw syscalls, no
 * allocation, everything in static storage. */
#include "config.h"
#include "init.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init-internal.h"
#include "init-protocol.h"
#include "init-request.h"
#include "pty.h"
#include "sandbox.h"

struct running_exec {
	pid_t pid;
	uint32_t id;
	/* INIT_EXEC_KEEP: the requester's ends of the output (a terminal: its
	 * master in kept[0]), and with INIT_EXEC_KEEP_STDIN its end of stdin,
	 * handed to whoever connects next; else -1 */
	int kept[INIT_MAX_KEPT];
};

/* Execs that ended while no daemon was connected (warrend restarting):
 * their status goes to the next connection, with the requester's ends of
 * their output when kept (what they wrote last waits in the pipes). */
struct ended_exec {
	uint32_t id;
	int status;
	int out[INIT_MAX_KEPT - 1];  /* kept: stdout's and stderr's (a terminal's master alone), else -1 */
	int n_out;
};
static struct ended_exec ended_alone[INIT_MAX_RUNNING];
static int n_ended_alone;

static void close_kept(struct running_exec *x)
{
	for (int i = 0; i < INIT_MAX_KEPT; i++) {
		if (x->kept[i] >= 0)
			close(x->kept[i]);
		x->kept[i] = -1;
	}
}

/* An exec's end, to the daemon, or kept for the next one with the ends
 * of its output (x->kept: taken; its stdin's goes with the command). */
static void report_exit(const struct init_plan *p, struct running_exec *x, int status)
{
	if (init_send_event(p->sock, INIT_EV_EXITED, x->id, 0, status, NULL, NULL) || n_ended_alone >= INIT_MAX_RUNNING)
		return;
	struct ended_exec *end = &ended_alone[n_ended_alone++];
	*end = (struct ended_exec){ .id = x->id, .status = status };
	for (int k = 0; k < INIT_MAX_KEPT - 1; k++)
		if (x->kept[k] >= 0) {
			end->out[end->n_out++] = x->kept[k];
			x->kept[k] = -1;
		}
}

static void close_fds(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Refuses exec `id`: its requester learns why, then that it ended. */
static void refuse_exec(const struct init_plan *p, uint32_t id, int err, const char *step)
{
	init_send_event(p->sock, INIT_EV_EXEC_FAILED, id, err, 0, step, NULL);
	init_send_event(p->sock, INIT_EV_EXITED, id, 0, WARREN_EXIT_SETUP << 8, NULL, NULL);
}

static void start_exec(const struct init_plan *p, char *buf, size_t len, int *fds, int n_fds,
		       struct running_exec *running)
{
	static char *argv[INIT_MAX_ARGS], *envp[INIT_MAX_ARGS];
	struct init_exec_request hdr = { 0 };
	const char *cwd;
	int r = init_parse_request(buf, len, &hdr, argv, envp, &cwd);
	if (r == 0 && n_fds != init_request_n_fds(&hdr))
		r = -EBADMSG;
	int slot = -1;
	for (int i = 0; r == 0 && i < INIT_MAX_RUNNING && slot < 0; i++)
		if (running[i].pid == 0)
			slot = i;
	if (r == 0 && slot < 0)
		r = -EAGAIN;
	if (r < 0) {
		close_fds(fds, n_fds);
		refuse_exec(p, hdr.exec_id, -r, "exec request");
		return;
	}
	/* A terminal: the pair is opened here, in the sandbox's devpts; the
	 * command gets the slave as 0, 1, 2 (and the cgroup fd after them),
	 * the requester the master on the reply socket (fds[0]). */
	bool pty = hdr.flags & INIT_EXEC_PTY, keep = hdr.flags & INIT_EXEC_KEEP;
	int master = -1, slave = -1, cmd_fds[4];
	const int *use = fds;
	int n_kept = init_request_n_kept(&hdr), n_use = n_fds - n_kept;
	int kept[INIT_MAX_KEPT] = { -1, -1, -1 };
	for (int i = 0; i < n_kept; i++)
		kept[i] = fds[n_use + i];
	if (pty) {
		const char *step;
		if ((r = pty_open(hdr.pty_cols, hdr.pty_rows, &master, &slave, &step)) < 0) {
			close_fds(fds, n_fds);
			refuse_exec(p, hdr.exec_id, -r, step);
			return;
		}
		cmd_fds[0] = cmd_fds[1] = cmd_fds[2] = slave;
		cmd_fds[3] = n_fds > 1 ? fds[1] : -1;
		use = cmd_fds;
		n_use = n_fds > 1 ? 4 : 3;
	}
	/* what is kept is not the command's, and not closed below */
	for (int i = n_use; i < n_fds; i++)
		fds[i] = -1;
	pid_t pid = init_vfork_command(p, hdr.exec_id, argv, envp, cwd, use, n_use, pty);
	int fork_err = errno, status = 0;
	if (slave >= 0)
		close(slave);
	bool ended = pid < 0 || init_settle_command(pid, &status);
	if (!ended) {
		running[slot] = (struct running_exec){ .pid = pid, .id = hdr.exec_id,
						       .kept = { kept[0], kept[1], kept[2] } };
		/* Unsent (the requester gave up): the master closes below
		 * and the command's terminal hangs up. */
		if (pty)
			(void)pty_send_fd(fds[0], master);
		if (pty && keep) {
			running[slot].kept[0] = master; /* the terminal outlives the requester */
			master = -1;
		}
	} else {
		close_fds(kept, INIT_MAX_KEPT);
	}
	/* Before EXITED: whoever reads that finds the reply socket at EOF. */
	if (master >= 0)
		close(master);
	close_fds(fds, n_fds);
	if (pid < 0)
		refuse_exec(p, hdr.exec_id, fork_err, "fork");
	else if (ended)
		report_exit(p, &(struct running_exec){ .id = hdr.exec_id, .kept = { -1, -1, -1 } }, status);
}

/* INIT_REQ_SIGNAL: the exec's process group (its command is a session
 * leader, so the group is the command's id and cannot change). An exec
 * that ended, or was never started, is no error: the signal raced its
 * end, which INIT_EV_EXITED reports. Its pid is ours until reaped here, so
 * the group cannot be another's. */
static void signal_exec(const char *buf, size_t len, const struct running_exec *running)
{
	struct init_signal_request req;
	if (init_parse_signal(buf, len, &req) < 0)
		return;
	for (int i = 0; i < INIT_MAX_RUNNING; i++)
		if (running[i].pid > 0 && running[i].id == req.exec_id) {
			kill(-running[i].pid, req.signal);
			return;
		}
}

/* INIT_REQ_CLOSE_STDIN: the requester closed the exec's stdin; with our
 * copy gone too, the command reads end-of-file. */
static void close_exec_stdin(const char *buf, size_t len, struct running_exec *running)
{
	uint32_t id;
	if (init_parse_close_stdin(buf, len, &id) < 0)
		return;
	for (int i = 0; i < INIT_MAX_RUNNING; i++)
		if (running[i].pid > 0 && running[i].id == id && running[i].kept[2] >= 0) {
			close(running[i].kept[2]);
			running[i].kept[2] = -1;
			return;
		}
}

static void reap(const struct init_plan *p, struct running_exec *running)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < INIT_MAX_RUNNING; i++) {
			if (running[i].pid == pid) {
				report_exit(p, &running[i], status);
				close_kept(&running[i]);
				running[i].pid = 0;
				break;
			}
		}
	}
}

/* What INIT_REQ_KEEP gave init to hold for the next daemons. */
static int held[INIT_MAX_HELD];
static int n_held;

/* An event of a greeting with n (<= INIT_MAX_KEPT) fds. */
_Static_assert(INIT_MAX_HELD <= INIT_MAX_KEPT, "send_event_fds's room");
static bool send_event_fds(int sock, struct init_event *ev, const int *fds, int n)
{
	union {
		char buf[CMSG_SPACE(INIT_MAX_KEPT * sizeof(int))];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof control);
	struct iovec iov = { .iov_base = ev, .iov_len = sizeof *ev };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (n) {
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof *ev;
}

/* A new connection on the keep listener (the daemon restarted): what it
 * must know first (init-protocol.h). Fails when that daemon went too. */
static bool greet(const struct init_plan *p, struct running_exec *running)
{
	/* one whose output waits in its pipes is running to the greeting (the
	 * daemon takes them as any kept exec's), and ends right after it */
	for (int i = 0; i < n_ended_alone; i++) {
		struct ended_exec *x = &ended_alone[i];
		struct init_event ev = { .type = x->n_out ? INIT_EV_RUNNING : INIT_EV_EXITED, .exec_id = x->id,
					 .status = x->n_out ? x->n_out : x->status };
		if (!send_event_fds(p->sock, &ev, x->out, x->n_out))
			return false;
	}
	for (int i = 0; i < INIT_MAX_RUNNING; i++) {
		if (running[i].pid <= 0)
			continue;
		/* in their order: output ends, then stdin's (3 fds tell it is there) */
		int fds[INIT_MAX_KEPT], n = 0;
		for (int k = 0; k < INIT_MAX_KEPT; k++)
			if (running[i].kept[k] >= 0)
				fds[n++] = running[i].kept[k];
		struct init_event ev = { .type = INIT_EV_RUNNING, .exec_id = running[i].id, .status = n };
		if (!send_event_fds(p->sock, &ev, fds, n))
			return false;
	}
	/* exec_id: what this init understands (older inits send 0) */
	struct init_event ready = { .type = INIT_EV_READY, .exec_id = INIT_PROTOCOL_VERSION, .status = n_held };
	if (!send_event_fds(p->sock, &ready, held, n_held))
		return false;
	for (int i = 0; i < n_ended_alone; i++) {
		struct ended_exec *x = &ended_alone[i];
		if (x->n_out && !init_send_event(p->sock, INIT_EV_EXITED, x->id, 0, x->status, NULL, NULL))
			return false;
	}
	for (int i = 0; i < n_ended_alone; i++)
		close_fds(ended_alone[i].out, ended_alone[i].n_out);
	n_ended_alone = 0;
	return true;
}

/* INIT_REQ_KEEP: from now on the sandbox outlives its parent and is
 * reached again through `listener`; the last `n` of fds are held for the
 * next daemons (the ids' lock before them stays open: init's for life). */
static void keep_alive(int *listener, const int *fds, int n_fds, int n)
{
	if (*listener >= 0)
		close(*listener);
	*listener = fds[0];
	close_fds(held, n_held);
	n_held = n;
	for (int i = 0; i < n; i++)
		held[i] = fds[n_fds - n + i];
	prctl(PR_SET_PDEATHSIG, 0);
}

_Noreturn void init_serve_requests(const struct init_plan *plan)
{
	static struct running_exec running[INIT_MAX_RUNNING];
	static char buf[INIT_MAX_REQUEST];
	/* the connection changes when the daemon restarts */
	struct init_plan live = *plan;
	const struct init_plan *p = &live;
	int listener = -1;
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		init_setup_failed(p, errno, "signalfd", NULL);
	for (int i = 0; i < INIT_MAX_RUNNING; i++)
		for (int k = 0; k < INIT_MAX_KEPT; k++)
			running[i].kept[k] = -1;
	init_send_event(p->sock, INIT_EV_READY, 0, 0, 0, NULL, NULL);

	for (;;) {
		struct pollfd fds[2] = { { .fd = live.sock >= 0 ? live.sock : listener, .events = POLLIN },
					 { .fd = sfd, .events = POLLIN } };
		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			_exit(WARREN_EXIT_SETUP);
		if (fds[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0)
				;
			reap(p, running);
		}
		if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (live.sock < 0) {
			/* a daemon again (the directory holding the listener
			 * is root's: nothing else can connect) */
			int c = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			live.sock = c;
			if (!greet(p, running)) {
				close(live.sock);
				live.sock = -1;
			}
			continue;
		}
		union {
			char buf[CMSG_SPACE(INIT_MAX_FDS * sizeof(int))];
			struct cmsghdr align;
		} control;
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control.buf, .msg_controllen = sizeof control.buf,
		};
		ssize_t n = recvmsg(p->sock, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0 && listener < 0)
			_exit(0); /* the parent is gone: the sandbox ends with it */
		if (n <= 0) {
			/* the daemon is gone; its successor connects */
			close(live.sock);
			live.sock = -1;
			continue;
		}
		int fds_in[INIT_MAX_FDS], n_fds = 0;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < count; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
				if (n_fds < INIT_MAX_FDS)
					fds_in[n_fds++] = fd;
				else
					close(fd);
			}
		}
		if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
			close_fds(fds_in, n_fds);
			init_send_event(p->sock, INIT_EV_EXEC_FAILED, 0, EMSGSIZE, 0, "exec request", NULL);
			continue;
		}
		uint32_t type = init_request_type(buf, (size_t)n);
		if (type == INIT_REQ_SIGNAL) {
			close_fds(fds_in, n_fds);
			signal_exec(buf, (size_t)n, running);
			continue;
		}
		if (type == INIT_REQ_CLOSE_STDIN) {
			close_fds(fds_in, n_fds);
			close_exec_stdin(buf, (size_t)n, running);
			continue;
		}
		if (type == INIT_REQ_KEEP) {
			int n_keep = init_parse_keep(buf, (size_t)n, n_fds);
			if (n_keep >= 0)
				keep_alive(&listener, fds_in, n_fds, n_keep);
			else
				close_fds(fds_in, n_fds);
			continue;
		}
		start_exec(p, buf, (size_t)n, fds_in, n_fds, running);
	}
}
