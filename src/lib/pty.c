#include "config.h"
#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int pty_open(uint16_t cols, uint16_t rows, int *master, int *slave, const char **step)
{
	int unlock = 0;
	/* /dev/pts/ptmx, not /dev/ptmx: the node of this devpts instance
	 * itself, with no symlink in between. */
	int m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0) {
		*step = "open /dev/pts/ptmx";
		return -errno;
	}
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0) {
		*step = "unlock the pty";
	} else if (ioctl(m, TIOCSWINSZ, &ws) < 0) {
		*step = "set the pty's window size";
	} else {
		/* The slave by the master's own reference: no path lookup that
		 * the sandbox's processes could race. */
		int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (s >= 0) {
			*master = m;
			*slave = s;
			return 0;
		}
		*step = "open the pty's slave";
	}
	int err = errno;
	close(m);
	return -err;
}

int pty_send_fd(int sock, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	memset(&control, 0, sizeof control);
	char byte = 'p';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = control.buf, .msg_controllen = sizeof control.buf };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof fd);
	return sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == 1 ? 0 : -errno;
}

/* A pty master of any devpts instance: the ptmx node (5:2) that answers
 * TIOCGPTN (a slave, a host terminal or a file with that rdev does not). */
static bool is_pty_master(int fd)
{
	struct stat st;
	unsigned n;
	return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == 5 && minor(st.st_rdev) == 2 &&
	       ioctl(fd, TIOCGPTN, &n) == 0;
}

int pty_receive_fd(int sock, int *fd)
{
	/* Room for more than one fd, so that extra ones are seen (and
	 * closed) rather than silently cut by the kernel. */
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} control;
	char payload[256];
	struct iovec iov = { .iov_base = payload, .iov_len = sizeof payload };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = control.buf, .msg_controllen = sizeof control.buf };
	ssize_t n = recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	int fds[4], n_fds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < count && n_fds < 4; i++)
			memcpy(&fds[n_fds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (n == 0 && n_fds == 0)
		return -EPIPE;
	if (n_fds == 1 && !(msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
		*fd = fds[0];
		return 0;
	}
	for (int i = 0; i < n_fds; i++)
		close(fds[i]);
	return -EBADMSG;
}

int pty_receive_master(int sock, int *master)
{
	int r = pty_receive_fd(sock, master);
	if (r == 0 && !is_pty_master(*master)) {
		close(*master);
		return -EBADMSG;
	}
	return r;
}

int pty_set_size(int master, uint16_t cols, uint16_t rows)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };
	return ioctl(master, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

int pty_get_size(int fd, uint16_t *cols, uint16_t *rows)
{
	struct winsize ws;
	if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return -errno;
	*cols = ws.ws_col;
	*rows = ws.ws_row;
	return 0;
}
