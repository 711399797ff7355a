#include "config.h"

/* What goes into a running command: its stdin (bytes queued and written
 * without blocking, as they are taken), its terminal (the master that
 * arrives from the backend, typed into and resized), and signals. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "box-internal.h"
#include "pty.h"

static void close_io(struct loop_io **io)
{
	if (*io) {
		loop_io_close(*io);
		*io = NULL;
	}
}

/* Where stdin's bytes go: the pipe, or the terminal once its master came. */
static struct loop_io *stdin_io(const struct exec *x)
{
	return x->pty ? x->pipe[0] : x->in;
}

bool exec_stdin_open(const struct exec *x)
{
	if (x->exited || x->in_close)
		return false;
	return x->pty ? (x->reply || x->pipe[0]) : x->in != NULL;
}

/* The bytes in flight are h2o's until it calls back; a closed io never
 * does, so they are ours again here. */
void exec_stdin_release(struct exec *x)
{
	close_io(&x->in);
	free(x->in_queue);
	free(x->in_flight);
	x->in_queue = x->in_flight = NULL;
	x->in_queued = x->in_flight_len = 0;
	x->in_writing = false;
}

static void flush_stdin(struct exec *x);

static void on_stdin_written(struct loop_io *io, const char *err)
{
	struct exec *x = loop_io_data(io);
	x->in_writing = false;
	free(x->in_flight);
	x->in_flight = NULL;
	x->in_flight_len = 0;
	if (err) {
		/* the reader is gone (EPIPE): what waits has nowhere to go */
		free(x->in_queue);
		x->in_queue = NULL;
		x->in_queued = 0;
		if (!x->pty)
			close_io(&x->in);
		return;
	}
	flush_stdin(x);
}

static void flush_stdin(struct exec *x)
{
	struct loop_io *io = stdin_io(x);
	if (!io || x->in_writing)
		return;
	if (x->in_queued) {
		x->in_flight = x->in_queue;
		x->in_flight_len = x->in_queued;
		x->in_queue = NULL;
		x->in_queued = 0;
		x->in_writing = true;
		loop_io_write(io, x->in_flight, x->in_flight_len, on_stdin_written);
	} else if (x->in_close && !x->pty) {
		close_io(&x->in); /* EOF for the command */
		int r = 0; /* ... once the sandbox's copy goes */
		if (x->stdin_kept && x->box->state != BOX_DEAD)
			r = x->box->ops->exec_close_stdin(x->box->bb, x->id);
		if (r < 0)
			daemon_log("exec %u: its close-stdin did not reach its sandbox (%s): it may never read "
				   "end-of-file", x->id, strerror(-r));
		x->stdin_kept = false;
	}
}

static int queue_stdin(struct exec *x, const void *buf, size_t len)
{
	if (!len)
		return 0;
	char *grown = realloc(x->in_queue, x->in_queued + len);
	if (!grown)
		return -ENOMEM;
	memcpy(grown + x->in_queued, buf, len);
	x->in_queue = grown;
	x->in_queued += len;
	return 0;
}

int exec_stdin_setup(struct exec *x, int fd, const void *data, size_t len, struct wd_error *err)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (!(x->in = loop_io_new(fd, LOOP_IO_READ, x)) || queue_stdin(x, data, len) < 0)
		return wd_fail(err, 503, "out of memory");
	x->in_close = !x->stdin_open;
	flush_stdin(x);
	return 0;
}

int exec_write_stdin(struct exec *x, const void *buf, size_t len, struct wd_error *err)
{
	if (!exec_stdin_open(x))
		return wd_fail(err, 409, "%s", x->exited ? "the command has ended" : "its stdin is closed");
	if (x->in_queued + x->in_flight_len + len > EXEC_STDIN_QUEUE_MAX)
		return wd_fail(err, 429, "%zu bytes wait for the command to read them: at most %u may",
			       x->in_queued + x->in_flight_len, EXEC_STDIN_QUEUE_MAX);
	if (queue_stdin(x, buf, len) < 0)
		return wd_fail(err, 503, "out of memory");
	flush_stdin(x);
	return 0;
}

int exec_close_stdin(struct exec *x, struct wd_error *err)
{
	if (x->pty)
		return wd_fail(err, 409, "a terminal has no stdin to close: write its end-of-file character "
			       "(Ctrl-D, \\u0004) at the start of a line instead");
	if (!exec_stdin_open(x))
		return wd_fail(err, 409, "%s", x->exited ? "the command has ended" : "its stdin is closed already");
	x->in_close = true;
	flush_stdin(x);
	return 0;
}

/* ---- the terminal ----------------------------------------------------------- */

static void take_master(struct exec *x)
{
	int master;
	int r = pty_receive_master(loop_io_fd(x->reply), &master);
	if (r == -EAGAIN)
		return;
	close_io(&x->reply);
	if (r < 0) {
		/* EPIPE: it did not start (its events say why). Anything else
		 * came from the sandbox's side of the socket: not a terminal. */
		if (r != -EPIPE) {
			LOG_CTX_SCOPE(x->request_id[0] ? x->request_id : NULL, x->session_id[0] ? x->session_id : NULL);
			daemon_log("exec %u: the sandbox sent something other than its terminal: %s", x->id,
				   strerror(-r));
		}
		return;
	}
	fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
	if (!(x->pipe[0] = loop_io_new(master, LOOP_IO_READ, x)))
		return;
	if (x->resize_pending)
		pty_set_size(master, x->cols, x->rows);
	x->resize_pending = false;
	loop_io_read_start(x->pipe[0], exec_on_pipe_read);
	flush_stdin(x); /* typed before it came */
}

static void on_reply_ready(struct loop_io *io, const char *err)
{
	take_master(loop_io_data(io));
}

int exec_terminal_start(struct exec *x, const struct backend_exec *req, const struct exec_params *p,
			struct wd_error *err)
{
	struct box *b = x->box;
	if (!b->ops->exec_start_terminal)
		return wd_fail(err, 501, "the %s backend cannot give a command a terminal (pty): use a "
			       "process without one, or another backend", b->ops->name);
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return wd_fail(err, 503, "socketpair for the terminal: %s", strerror(errno));
	struct backend_terminal t = { .cols = p->cols, .rows = p->rows, .reply = sv[1] };
	wr_error e = { 0 };
	int r = b->ops->exec_start_terminal(b->bb, req, &t, &e);
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		return wd_fail(err, 409, "%s", e.message);
	}
	/* The command runs from here: out of memory loses its terminal (its
	 * end comes as usual), it does not unmake the exec. */
	if ((x->reply = loop_io_new(sv[0], LOOP_IO_NOTIFY, x)))
		loop_io_read_start(x->reply, on_reply_ready);
	return 0;
}

void exec_terminal_settle(struct exec *x)
{
	if (x->reply)
		take_master(x);
	close_io(&x->reply);
}

int exec_resize(struct exec *x, uint16_t cols, uint16_t rows, struct wd_error *err)
{
	if (!x->pty)
		return wd_fail(err, 409, "the command has no terminal to resize");
	if (x->exited)
		return wd_fail(err, 409, "the command has ended");
	x->cols = cols;
	x->rows = rows;
	if (!x->pipe[0]) {
		x->resize_pending = true; /* set once the master arrives */
		return 0;
	}
	int r = pty_set_size(loop_io_fd(x->pipe[0]), cols, rows);
	if (r < 0)
		return wd_fail(err, 409, "set the terminal's size: %s", strerror(-r));
	return 0;
}

/* ---- signals -------------------------------------------------------------- */

int exec_signal(struct exec *x, int sig, struct wd_error *err)
{
	struct box *b = x->box;
	if (x->exited || b->state == BOX_DEAD)
		return wd_fail(err, 409, "the command has ended");
	if (sig == SIGKILL) {
		/* its cgroup, not only its group: what it double-forked too; the
		 * tick repeats it and answers if the sandbox never reports */
		if (!x->killed_ms)
			x->killed_ms = daemon_now_ms();
		b->ops->exec_kill(b->bb, x->id);
		return 0;
	}
	if (!b->ops->exec_signal)
		return wd_fail(err, 501, "the %s backend cannot send signals other than SIGKILL to a command",
			       b->ops->name);
	int r = b->ops->exec_signal(b->bb, x->id, sig);
	if (r == -EINVAL)
		return wd_fail(err, 400, "signal %d: expected 1 to 64", sig);
	if (r < 0)
		return wd_fail(err, 409, "signal the command: %s", strerror(-r));
	return 0;
}
