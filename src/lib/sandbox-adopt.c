/* A restarted warrend takes back the sandboxes it kept (sandbox.h): it
 * proves each is the one its record names, then connects to it again. */
#include "config.h"
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cgroup.h"
#include "cleanup.h"
#include "init-protocol.h"

/* How long a sandbox may take to greet us: a stopped or wedged init is
 * not adopted rather than hold up the daemon's start. */
#define GREETING_TIMEOUT_MS 2000

int proc_start_time(pid_t pid, unsigned long long *out)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	/* after the name's ')' come field 3 (state) onwards; 22 is starttime */
	char *p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	p++;
	if (p[0] != ' ' || p[1] == 'Z' || p[1] == 'X')
		return -ESRCH; /* a zombie: as good as gone */
	for (int field = 2; field < 21 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p)
		return -EIO;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p + 1, &end, 10);
	if (errno || end == p + 1)
		return -EIO;
	*out = v;
	return 0;
}

bool proc_in_cgroup_named(pid_t pid, const char *name)
{
	char path[64], buf[4096];
	snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	size_t len = strlen(name);
	/* lines "ID:CONTROLLERS:/path": a path that ends in /NAME */
	for (char *line = buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		nl = strchr(line, '\n');
		size_t l = nl ? (size_t)(nl - line) : strlen(line);
		if (l > len && line[l - len - 1] == '/' && !memcmp(line + l - len, name, len))
			return true;
	}
	return false;
}

/* A connection to the listener `name` in the directory `dir` (through
 * /proc/self/fd: a state directory's path may be longer than sun_path). */
static int connect_control(int dir, const char *name, wr_error *e)
{
	if (!name[0] || strchr(name, '/') || strlen(name) > 64)
		return wr_error_set(e, EINVAL, "control socket: \"%s\" is not a name", name);
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof a.sun_path, "/proc/self/fd/%d/%s", dir, name);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return wr_error_set(e, errno, "socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		int err = errno;
		close(fd);
		return wr_error_set(e, err, "connect to its control socket %s", name);
	}
	return fd;
}

/* One message of init's greeting, with the fds it carries. */
static int read_greeting_event(int fd, struct init_event *ev, int *fds, int *n_fds, wr_error *e)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, GREETING_TIMEOUT_MS);
	if (r == 0)
		return wr_error_set(e, ETIMEDOUT, "its init did not answer within %d s", GREETING_TIMEOUT_MS / 1000);
	if (r < 0)
		return wr_error_set(e, errno, "poll");
	union {
		char buf[CMSG_SPACE(INIT_MAX_KEPT * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = ev, .iov_len = sizeof *ev };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof control.buf };
	ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	*n_fds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n > 0 && c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < count; i++) {
			int got;
			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
			if (*n_fds < INIT_MAX_KEPT)
				fds[(*n_fds)++] = got;
			else
				close(got);
		}
	}
	if (n != (ssize_t)sizeof *ev || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		for (int i = 0; i < *n_fds; i++)
			close(fds[i]);
		*n_fds = 0;
		return wr_error_set(e, n == 0 ? ECONNRESET : EBADMSG, "its init's greeting was %s",
				    n == 0 ? "cut short" : "malformed");
	}
	return 0;
}

void init_greeting_release(struct init_greeting *g)
{
	for (size_t i = 0; i < g->n; i++)
		for (int k = 0; k < g->execs[i].n_fds; k++)
			close(g->execs[i].fds[k]);
	g->n = 0;
	for (int i = 0; i < g->n_held; i++)
		close(g->held[i]);
	g->n_held = 0;
}

/* init's greeting (init-protocol.h), up to its READY. Untrusted: every
 * field is checked. */
static int read_greeting(int fd, struct init_greeting *g, wr_error *e)
{
	g->n = 0;
	g->n_held = 0;
	for (;;) {
		struct init_event ev;
		int fds[INIT_MAX_KEPT], n_fds, r;
		if ((r = read_greeting_event(fd, &ev, fds, &n_fds, e)) < 0)
			return r;
		bool ok = memchr(ev.step, '\0', sizeof ev.step) && memchr(ev.path, '\0', sizeof ev.path);
		if (ok && ev.type == INIT_EV_READY && ev.status == n_fds && n_fds <= INIT_MAX_HELD) {
			g->init_version = (int)ev.exec_id;
			/* what init held for us (INIT_REQ_KEEP), checked by its user */
			for (int i = 0; i < n_fds; i++)
				g->held[g->n_held++] = fds[i];
			return 0;
		}
		ok = ok && ev.exec_id > 0 && g->n < sizeof g->execs / sizeof g->execs[0] &&
		     ((ev.type == INIT_EV_RUNNING && ev.status == n_fds) || (ev.type == INIT_EV_EXITED && n_fds == 0));
		if (!ok) {
			for (int i = 0; i < n_fds; i++)
				close(fds[i]);
			return wr_error_set(e, EBADMSG, "its init sent an unexpected message (type %d) in its greeting",
					    (int)ev.type);
		}
		struct init_greeting_exec *x = &g->execs[g->n++];
		*x = (struct init_greeting_exec){ .id = ev.exec_id, .running = ev.type == INIT_EV_RUNNING,
						  .status = ev.status, .fds = { -1, -1, -1 }, .n_fds = n_fds };
		if (!x->running)
			x->status = ev.status;
		else
			x->status = 0;
		for (int i = 0; i < n_fds; i++)
			x->fds[i] = fds[i];
	}
}

int sandbox_adopt(const struct sandbox_record *r, struct sandbox **out, struct init_greeting *found, wr_error *e)
{
	found->n = 0;
	unsigned long long started;
	int rc = proc_start_time(r->pid, &started);
	if (rc < 0)
		return wr_error_set(e, -rc, "its init (pid %d) is gone", (int)r->pid);
	if (started != r->start_time)
		return wr_error_set(e, ESRCH, "pid %d is another process now (started at %llu, not %llu)", (int)r->pid,
				    started, r->start_time);
	if (!proc_in_cgroup_named(r->pid, r->cgroup_name))
		return wr_error_set(e, ESRCH, "pid %d is not in the sandbox's cgroup %s", (int)r->pid, r->cgroup_name);
	_cleanup_(cgroup_forgetp) struct cgroup *cg = NULL;
	if ((rc = cgroup_import(r->cgroup, &cg, e)) < 0)
		return rc;
	if (!cgroup_is_named(cg, r->cgroup_name))
		return wr_error_set(e, EINVAL, "its recorded cgroup is not %s under the cgroup root", r->cgroup_name);
	_cleanup_close_ int fd = connect_control(r->control_dir, r->control_name, e);
	if (fd < 0)
		return fd;
	if ((rc = read_greeting(fd, found, e)) < 0) {
		init_greeting_release(found);
		return rc;
	}
	struct sandbox *sb = sandbox_of_parts(r->pid, fd, cg, &r->ids);
	if (!sb) {
		init_greeting_release(found);
		return wr_error_set(e, ENOMEM, "sandbox");
	}
	sandbox_set_init_version(sb, found->init_version);
	fd = -1;
	cg = NULL;
	*out = sb;
	return 0;
}
