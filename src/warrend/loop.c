#include "config.h"

/* loop.h over h2o's evloop sockets. */
#include <h2o.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon.h"
#include "loop.h"

struct loop_io {
	h2o_socket_t *sock;
	loop_io_fn on_read, on_written;
	void *data;
};

struct loop_io *loop_io_new(int fd, int mode, void *data)
{
	struct loop_io *io = calloc(1, sizeof *io);
	if (!io || !(io->sock = h2o_evloop_socket_create(daemon_state->loop, fd,
							  mode == LOOP_IO_NOTIFY ? H2O_SOCKET_FLAG_DONT_READ : 0))) {
		free(io);
		close(fd);
		return NULL;
	}
	io->sock->data = io;
	io->data = data;
	return io;
}

void *loop_io_data(const struct loop_io *io) { return io->data; }
int loop_io_fd(const struct loop_io *io) { return h2o_socket_get_fd(io->sock); }

static void on_read(h2o_socket_t *sock, const char *err)
{
	struct loop_io *io = sock->data;
	if (io)
		io->on_read(io, err);
}

static void on_written(h2o_socket_t *sock, const char *err)
{
	struct loop_io *io = sock->data;
	if (io && io->on_written)
		io->on_written(io, err);
}

void loop_io_read_start(struct loop_io *io, loop_io_fn fn)
{
	io->on_read = fn;
	h2o_socket_read_start(io->sock, on_read);
}

void loop_io_read_stop(struct loop_io *io) { h2o_socket_read_stop(io->sock); }

const char *loop_io_input(const struct loop_io *io, size_t *len)
{
	*len = io->sock->input->size;
	return io->sock->input->bytes;
}

void loop_io_consume(struct loop_io *io, size_t len) { h2o_buffer_consume(&io->sock->input, len); }

void loop_io_write(struct loop_io *io, const void *buf, size_t len, loop_io_fn done)
{
	h2o_iovec_t v = h2o_iovec_init(buf, len);
	io->on_written = done;
	h2o_socket_write(io->sock, &v, 1, on_written);
}

/* h2o frees the socket once any write in flight is done with. */
void loop_io_close(struct loop_io *io)
{
	io->sock->data = NULL;
	h2o_socket_close(io->sock);
	free(io);
}

/* ---- a periodic timer --------------------------------------------------- */

struct loop_timer {
	h2o_timeout_t timeout;
	h2o_timeout_entry_t entry;
	void (*fn)(void *data);
	void *data;
};

static void timer_fired(h2o_timeout_entry_t *entry)
{
	struct loop_timer *t = H2O_STRUCT_FROM_MEMBER(struct loop_timer, entry, entry);
	h2o_timeout_link(daemon_state->loop, &t->timeout, &t->entry);
	t->fn(t->data);
}

struct loop_timer *loop_every(uint64_t ms, void (*fn)(void *data), void *data)
{
	struct loop_timer *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	h2o_timeout_init(daemon_state->loop, &t->timeout, ms);
	t->entry.cb = timer_fired;
	t->fn = fn;
	t->data = data;
	h2o_timeout_link(daemon_state->loop, &t->timeout, &t->entry);
	return t;
}

void loop_timer_free(struct loop_timer *t)
{
	if (!t)
		return;
	if (h2o_timeout_is_linked(&t->entry))
		h2o_timeout_unlink(&t->entry);
	h2o_timeout_dispose(daemon_state->loop, &t->timeout);
	free(t);
}
