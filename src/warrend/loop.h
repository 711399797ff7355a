/* The event loop as the core sees it: file descriptors watched for
 * reading (with an input buffer), written without blocking, and closed.
 * A thin layer over h2o's evloop sockets, so the core and the boxes hold
 * no h2o type and could sit on another loop. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop_io;                 /* one watched fd */
/* Called when bytes arrived (loop_io_input) or, with err set, on EOF or
 * an error. */
typedef void (*loop_io_fn)(struct loop_io *io, const char *err);

/* Watches fd (taken: closed with the io; closed at once on failure,
 * which returns NULL). Not read until loop_io_read_start; then the loop
 * reads what arrives into the input (loop_io_input), or with
 * LOOP_IO_NOTIFY only says the fd is readable (a pidfd). */
enum { LOOP_IO_READ = 0, LOOP_IO_NOTIFY = 1 };
struct loop_io *loop_io_new(int fd, int mode, void *data);
void *loop_io_data(const struct loop_io *io);
int loop_io_fd(const struct loop_io *io);
void loop_io_read_start(struct loop_io *io, loop_io_fn on_read);
void loop_io_read_stop(struct loop_io *io);
/* What has been read and not consumed yet. */
const char *loop_io_input(const struct loop_io *io, size_t *len);
void loop_io_consume(struct loop_io *io, size_t len);
/* Writes len bytes (which must live until done runs). */
void loop_io_write(struct loop_io *io, const void *buf, size_t len, loop_io_fn done);
void loop_io_close(struct loop_io *io);

/* fn(data) every `ms` milliseconds from now on, on the loop; NULL when
 * out of memory. */
struct loop_timer;
struct loop_timer *loop_every(uint64_t ms, void (*fn)(void *data), void *data);
void loop_timer_free(struct loop_timer *t);
