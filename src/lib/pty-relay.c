#include "config.h"
#include "pty-relay.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "pty.h"

void pty_relay_init(struct pty_relay *r, int in, int out)
{
	memset(r, 0, sizeof *r);
	r->in = in;
	r->out = out;
	r->master = -1;
	r->last_in = '\n';
}

int pty_relay_make_raw(struct pty_relay *r)
{
	if (r->in < 0 || !isatty(r->in) || tcgetattr(r->in, &r->saved) < 0)
		return 0;
	struct termios raw = r->saved;
	cfmakeraw(&raw);
	if (tcsetattr(r->in, TCSANOW, &raw) < 0)
		return -errno;
	r->raw = true;
	return 0;
}

void pty_relay_restore(struct pty_relay *r)
{
	if (r->raw)
		tcsetattr(r->in, TCSADRAIN, &r->saved);
	r->raw = false;
}

int pty_relay_set_master(struct pty_relay *r, int master)
{
	int flags = fcntl(master, F_GETFL);
	if (flags < 0 || fcntl(master, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	r->master = master;
	return 0;
}

int pty_relay_caller_size(const struct pty_relay *r, unsigned short *cols, unsigned short *rows)
{
	int fds[3] = { r->in, r->out, STDERR_FILENO };
	for (int i = 0; i < 3; i++) {
		uint16_t c, l;
		if (fds[i] >= 0 && pty_get_size(fds[i], &c, &l) == 0 && c && l) {
			*cols = c;
			*rows = l;
			return 0;
		}
	}
	return -ENOTTY;
}

void pty_relay_resize(struct pty_relay *r)
{
	unsigned short cols, rows;
	if (r->master >= 0 && pty_relay_caller_size(r, &cols, &rows) == 0)
		pty_set_size(r->master, cols, rows);
}

size_t pty_relay_pollfds(const struct pty_relay *r, bool draining, struct pollfd *fds)
{
	size_t n = 0;
	if (r->master < 0)
		return 0;
	/* Each way holds one buffer: a side is read only when its buffer has
	 * room, so a slow reader slows the writer instead of growing memory. */
	if (!draining && r->in >= 0 && !r->in_done && r->to_master_len < sizeof r->to_master)
		fds[n++] = (struct pollfd){ .fd = r->in, .events = POLLIN };
	short master_events = 0;
	if (!r->master_done && r->to_out_len == 0)
		master_events |= POLLIN;
	if (!draining && r->to_master_len > 0)
		master_events |= POLLOUT;
	if (master_events)
		fds[n++] = (struct pollfd){ .fd = r->master, .events = master_events };
	if (r->to_out_len > 0)
		fds[n++] = (struct pollfd){ .fd = r->out, .events = POLLOUT };
	return n;
}

/* Our stdin ended: a terminal's reader learns it from the EOF character
 * at the start of a line (a second one ends a line typed without a
 * newline), as from a person typing Ctrl-D. Raw-mode readers get none. */
static void stdin_ended(struct pty_relay *r)
{
	struct termios t;
	r->in_done = true;
	if (tcgetattr(r->master, &t) < 0 || !(t.c_lflag & ICANON))
		return;
	for (int i = r->last_in == '\n' ? 1 : 2; i > 0 && r->to_master_len < sizeof r->to_master; i--)
		r->to_master[r->to_master_len++] = (char)t.c_cc[VEOF];
}

static size_t from_in(struct pty_relay *r)
{
	ssize_t n = read(r->in, r->to_master + r->to_master_len, sizeof r->to_master - r->to_master_len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		stdin_ended(r);
		return 0;
	}
	r->to_master_len += (size_t)n;
	r->last_in = r->to_master[r->to_master_len - 1];
	return (size_t)n;
}

static size_t to_master(struct pty_relay *r)
{
	ssize_t n = write(r->master, r->to_master, r->to_master_len);
	if (n < 0) {
		if (errno != EINTR && errno != EAGAIN)
			r->to_master_len = 0; /* the terminal is gone: input has nowhere to go */
		return 0;
	}
	memmove(r->to_master, r->to_master + n, r->to_master_len - (size_t)n);
	r->to_master_len -= (size_t)n;
	return (size_t)n;
}

static size_t from_master(struct pty_relay *r)
{
	ssize_t n = read(r->master, r->to_out, sizeof r->to_out);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		/* EIO: no process holds the slave any more, and what they
		 * wrote has been read */
		r->master_done = true;
		return 0;
	}
	r->to_out_len = (size_t)n;
	if (r->out_broken)
		r->to_out_len = 0;
	return (size_t)n;
}

static size_t to_out(struct pty_relay *r)
{
	/* At most PIPE_BUF after POLLOUT: a pipe takes that much without
	 * blocking */
	size_t len = r->to_out_len < PIPE_BUF ? r->to_out_len : PIPE_BUF;
	ssize_t n = write(r->out, r->to_out, len);
	if (n < 0) {
		if (errno != EINTR && errno != EAGAIN) {
			r->out_broken = true; /* keep the terminal read, so the command never blocks on it */
			r->to_out_len = 0;
		}
		return 0;
	}
	memmove(r->to_out, r->to_out + n, r->to_out_len - (size_t)n);
	r->to_out_len -= (size_t)n;
	return (size_t)n;
}

size_t pty_relay_io(struct pty_relay *r, const struct pollfd *fds, size_t n)
{
	size_t moved = 0;
	for (size_t i = 0; i < n; i++) {
		short ev = fds[i].revents;
		if (!ev)
			continue;
		if (fds[i].fd == r->in && (fds[i].events & POLLIN))
			moved += from_in(r);
		if (fds[i].fd == r->master) {
			if ((fds[i].events & POLLIN) && (ev & (POLLIN | POLLHUP | POLLERR)))
				moved += from_master(r);
			if ((fds[i].events & POLLOUT) && (ev & POLLOUT))
				moved += to_master(r);
			else if ((fds[i].events & POLLOUT) && (ev & (POLLHUP | POLLERR)))
				r->to_master_len = 0; /* no one reads the terminal any more */
		}
		if (fds[i].fd == r->out && (fds[i].events & POLLOUT))
			moved += to_out(r);
	}
	return moved;
}

void pty_relay_close(struct pty_relay *r)
{
	if (r->master >= 0)
		close(r->master);
	r->master = -1;
}
