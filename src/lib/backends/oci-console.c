#include "config.h"

/* The console socket of an OCI runtime's exec (oci-console.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "oci-console.h"
#include "pty.h"

int oci_console_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	/* only root (the runtime) may connect: nothing else may hand us a terminal */
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r < 0 || listen(fd, 1) < 0)
		return -errno;
	return TAKE_FD(fd);
}

/* Polls fd for input, checking every 100 ms whether the runtime ended:
 * 1 ready, 0 the runtime ended (*status), -ETIMEDOUT, -errno. */
static int wait_readable(int fd, pid_t runtime, int *status, unsigned *left_ms)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int n = poll(&pfd, 1, *left_ms < 100 ? (int)*left_ms : 100);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -errno;
		if (runtime > 0 && waitpid(runtime, status, WNOHANG) == runtime)
			return 0;
		if (*left_ms <= 100)
			return -ETIMEDOUT;
		*left_ms -= 100;
	}
}

int oci_console_pass(int listener, pid_t runtime, int *status, int reply, uint16_t cols, uint16_t rows,
		     unsigned timeout_ms, int keep_at)
{
	int r = wait_readable(listener, runtime, status, &timeout_ms);
	if (r <= 0)
		return r == 0 ? -ECHILD : r;
	_cleanup_close_ int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return -errno;
	/* the runtime has connected: it sends at once, then may exit */
	if ((r = wait_readable(conn, 0, status, &timeout_ms)) <= 0)
		return r == 0 ? -ECHILD : r;
	_cleanup_close_ int master = -1;
	if ((r = pty_receive_master(conn, &master)) < 0)
		return r;
	if (cols && rows)
		pty_set_size(master, cols, rows);
	if (keep_at >= 0 && dup3(master, keep_at, O_CLOEXEC) < 0)
		return -errno;
	return pty_send_fd(reply, master);
}
