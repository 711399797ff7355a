/* Between pool.c (boxes) and exec.c (their commands); nobody else. */
#pragma once
#include "backend.h"
#include "encode.h"
#include "box.h"
#include "metrics.h"

struct box {
	const struct backend_ops *ops;
	struct backend_box *bb;      /* NULL once destroyed */
	h2o_socket_t *sock;          /* a dup of the backend's event fd, on the loop (if it has one) */
	enum box_state state;
	struct pool *pool;
	struct session *session;
	h2o_linklist_t link;         /* in the pool's idle list */
	h2o_linklist_t all_link;     /* in all_boxes, then in dying */
	h2o_linklist_t execs;        /* running execs */
	uint32_t next_exec_id;
	box_ready_fn ready_cb;
	void *ready_data;
	uint64_t started_ms;
	char error[256];
};

struct exec {
	struct box *box;
	h2o_linklist_t box_link;
	uint32_t id;
	h2o_socket_t *pipe[2];       /* our ends of stdout, stderr */
	h2o_socket_t *in;            /* our end of stdin, while writing */
	char *stdin_copy;
	bool exited, failed, timed_out, abandoned;
	int status;
	char fail_msg[256];
	int fail_errno;
	bool fail_not_found;
	uint64_t start_ms, deadline_ms, exited_ms;
	uint64_t oom_before;
	uint64_t cap, kept;
	struct output_scan scan[2];  /* what out[] is, as it arrives */
	bool paused;
	struct exec_result res;
	struct exec_callbacks cb;
};

struct exec *box_find_exec(struct box *b, uint32_t id);
void exec_on_event(struct exec *x, const struct backend_event *ev);
void exec_box_gone(struct exec *x, const char *why);
void box_check_execs(struct box *b, uint64_t now);
/* Polls a backend without an event fd (its pipes reached EOF: the end may
 * be known now rather than at the next tick). */
void box_poll(struct box *b);

/* sessions.c: the box of a session died (OOM, init killed, shutdown). */
void session_box_died(struct session *s, const char *why);
