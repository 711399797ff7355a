/* Between pool.c (boxes) and exec.c (their commands); nobody else. */
#pragma once
#include "backend.h"
#include "box.h"
#include "encode.h"
#include "list.h"
#include "loop.h"
#include "daemon.h"

struct box {
	const struct backend_ops *ops;
	struct backend_box *bb;      /* NULL once destroyed */
	struct loop_io *io;          /* a dup of the backend's event fd, on the loop (if it has one) */
	enum box_state state;
	struct pool *pool;
	box_died_fn died;            /* the holder's, while leased */
	void *holder;
	char request_id[REQUEST_ID_MAX + 1];
	char session_id[40];
	struct list link;            /* in the pool's idle list */
	struct list all_link;        /* in all_boxes, then in dying */
	struct list execs;           /* running execs */
	uint32_t next_exec_id;
	box_ready_fn ready_cb;
	void *ready_data;
	uint64_t started_ms;
	bool kept;                   /* it outlives the daemon (box_keep) */
	char name[64];               /* kept: its name; a fixed_name backend's: from creation on */
	char error[256];
};

struct exec {
	struct box *box;
	struct list box_link;
	uint32_t id;
	struct loop_io *pipe[2];     /* our ends of stdout, stderr; a terminal's master is pipe[0] */
	struct loop_io *in;          /* our end of stdin, while open (exec-input.c) */
	struct loop_io *reply;       /* a terminal's master arrives on it (exec-input.c) */
	bool pty, stdin_open;
	bool stdin_kept;             /* the sandbox holds a copy of our end of stdin (backend own[2]) */
	bool in_writing, in_close;   /* a write is in flight; close stdin once the queue is written */
	char *in_queue, *in_flight;  /* bytes waiting for the command, and those being written */
	size_t in_queued, in_flight_len;
	bool resize_pending;         /* a size to set once the master arrives */
	uint16_t cols, rows;
	bool exited, failed, timed_out, abandoned;
	bool keep_output, bound;
	int status;
	char fail_msg[256];
	bool fail_not_found;
	uint64_t start_ms, deadline_ms, exited_ms, killed_ms;
	uint64_t oom_before;
	uint64_t cap, kept;
	uint64_t seq;                /* output events so far */
	struct output_scan scan[2];  /* what out[] is, as it arrives */
	unsigned paused;             /* followers holding the output paused */
	struct list observers;
	void (*ended)(void *holder, struct exec *x);
	void *holder;
	char request_id[REQUEST_ID_MAX + 1];
	char session_id[40];
	struct exec_result res;
};

struct exec *box_find_exec(struct box *b, uint32_t id);
/* exec.c: reads output from pipe[i] (a terminal's master too). */
void exec_on_pipe_read(struct loop_io *io, const char *err);
/* exec-input.c, for exec.c: stdin on fd (taken) with `len` bytes queued
 * first, closed after them unless x->stdin_open; a terminal's start; a
 * master that may have come without the loop noticing yet; and what
 * stdin holds, released when the exec ends or its terminal closes. */
int exec_stdin_setup(struct exec *x, int fd, const void *data, size_t len, struct wd_error *err);
int exec_terminal_start(struct exec *x, const struct backend_exec *req, const struct exec_params *p,
			struct wd_error *err);
void exec_terminal_settle(struct exec *x);
void exec_stdin_release(struct exec *x);
void exec_on_event(struct exec *x, const struct backend_event *ev);
void exec_box_gone(struct exec *x, const char *why);
void box_check_execs(struct box *b, uint64_t now);
/* Polls a backend without an event fd (its pipes reached EOF: the end may
 * be known now rather than at the next tick). */
void box_poll(struct box *b);
