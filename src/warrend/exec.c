/* One command in a box: its pipes on the event loop, its deadline, its
 * output cap and its result. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "box-internal.h"
#include "encode.h"
#include "warrend.h"

/* After the command exits, how long its pipes may stay open (a background
 * process holding them) before we stop reading. */
#define DRAIN_GRACE_MS 100
/* How long after a timeout's kill init may take to report the end. */
#define UNRESPONSIVE_MS 5000

struct exec *box_find_exec(struct box *b, uint32_t id)
{
	for (h2o_linklist_t *n = b->execs.next; n != &b->execs; n = n->next) {
		struct exec *x = H2O_STRUCT_FROM_MEMBER(struct exec, box_link, n);
		if (x->id == id)
			return x;
	}
	return NULL;
}

static void close_socket(h2o_socket_t **s)
{
	if (*s) {
		h2o_socket_close(*s);
		*s = NULL;
	}
}

static void exec_free(struct exec *x)
{
	close_socket(&x->pipe[0]);
	close_socket(&x->pipe[1]);
	close_socket(&x->in);
	free(x->stdin_copy);
	free(x->res.out[0]);
	free(x->res.out[1]);
	free(x);
}

static void keep_output(struct exec *x, int stream, const char *buf, size_t len);

/* What is still in the pipes when we stop waiting for their EOF (a
 * background process holds them, or the loop lagged behind the exit
 * event): read it now, without blocking, rather than drop it. */
static void drain_pipes(struct exec *x)
{
	char buf[65536];
	for (int stream = 0; stream < 2; stream++) {
		if (!x->pipe[stream])
			continue;
		int fd = h2o_socket_get_fd(x->pipe[stream]);
		for (int rounds = 0; fd >= 0 && rounds < 64; rounds++) {
			ssize_t n = read(fd, buf, sizeof buf);
			if (n <= 0)
				break;
			keep_output(x, stream, buf, (size_t)n);
		}
	}
}

static void exec_finish(struct exec *x)
{
	struct exec_result *r = &x->res;
	if (x->exited && !x->failed)
		drain_pipes(x);
	for (int i = 0; i < 2; i++)
		r->out_base64[i] = output_scan_needs_base64(&x->scan[i]);
	close_socket(&x->pipe[0]);
	close_socket(&x->pipe[1]);
	close_socket(&x->in);
	h2o_linklist_unlink(&x->box_link);
	r->duration_ms = (x->exited ? x->exited_ms : daemon_now_ms()) - x->start_ms;
	r->timed_out = x->timed_out;
	if (x->exited) {
		if (WIFEXITED(x->status)) {
			r->exited = true;
			r->exit_code = WEXITSTATUS(x->status);
		} else if (WIFSIGNALED(x->status)) {
			r->signal = WTERMSIG(x->status);
		}
	}
	if (x->failed) {
		r->failed_to_start = true;
		r->exited = true;
		r->signal = 0;
		r->exit_code = x->fail_not_found ? 127 : 126;
		snprintf(r->exec_error, sizeof r->exec_error, "%s", x->fail_msg);
	}
	struct backend_stats st = { 0 };
	if (!r->timed_out && (r->signal == SIGKILL || !x->exited) && x->box->bb &&
	    x->box->ops->stats(x->box->bb, &st) == 0 && st.oom_kills > x->oom_before)
		r->oom_killed = true;
	if (x->box->state != BOX_DEAD)
		x->box->ops->exec_release(x->box->bb, x->id); /* stays while its background processes live */
	metrics_exec_done((double)r->duration_ms / 1000.0, r->timed_out, r->oom_killed);
	if (!x->abandoned && x->cb.on_done)
		x->cb.on_done(x, x->cb.data, r);
	exec_free(x);
}

static void maybe_finish(struct exec *x)
{
	if (x->exited && !x->pipe[0] && !x->pipe[1])
		exec_finish(x);
}

static void keep_output(struct exec *x, int stream, const char *buf, size_t len)
{
	size_t room = x->kept < x->cap ? (size_t)(x->cap - x->kept) : 0;
	size_t take = len < room ? len : room;
	if (take < len)
		x->res.truncated = true;
	if (take == 0)
		return;
	if (x->cb.on_output) {
		/* streamed: the caller has it, keeping a copy would double it */
		x->kept += take;
		if (!x->abandoned)
			x->cb.on_output(x, x->cb.data, stream, buf, take);
		return;
	}
	char *grown = realloc(x->res.out[stream], x->res.out_len[stream] + take + 1);
	if (!grown) {
		x->res.truncated = true;
		return;
	}
	memcpy(grown + x->res.out_len[stream], buf, take);
	x->res.out_len[stream] += take;
	grown[x->res.out_len[stream]] = '\0';
	x->res.out[stream] = grown;
	x->kept += take;
	output_scan_feed(&x->scan[stream], buf, take);
}

static void on_pipe_read(h2o_socket_t *sock, const char *err)
{
	struct exec *x = sock->data;
	int stream = sock == x->pipe[0] ? 0 : 1;
	if (sock->input->size > 0) {
		keep_output(x, stream, sock->input->bytes, sock->input->size);
		h2o_buffer_consume(&sock->input, sock->input->size);
	}
	if (err) {
		close_socket(&x->pipe[stream]);
		if (!x->exited && !x->pipe[0] && !x->pipe[1]) {
			box_poll(x->box); /* may finish (and free) x */
			return;
		}
		maybe_finish(x);
	}
}

static void on_stdin_written(h2o_socket_t *sock, const char *err)
{
	struct exec *x = sock->data;
	close_socket(&x->in); /* EOF for the command */
}

static h2o_socket_t *watch_fd(int fd, struct exec *x)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	h2o_socket_t *s = h2o_evloop_socket_create(daemon_state->loop, fd, 0);
	if (s)
		s->data = x;
	else
		close(fd);
	return s;
}

struct exec *exec_start(struct box *b, const struct exec_params *p, const struct exec_callbacks *cb,
			char *err, size_t errlen)
{
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, in[2] = { -1, -1 };
	struct exec *x = calloc(1, sizeof *x);
	if (!x) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (b->state == BOX_DEAD) {
		snprintf(err, errlen, "the sandbox is gone: %s", b->error);
		free(x);
		return NULL;
	}
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    (p->stdin_len ? pipe2(in, O_CLOEXEC) : ((in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 ? -1 : 0)) < 0) {
		snprintf(err, errlen, "pipes for the command: %s", strerror(errno));
		goto fail;
	}
	x->box = b;
	x->id = ++b->next_exec_id;
	x->cap = p->output_cap;
	x->cb = *cb;
	x->start_ms = daemon_now_ms();
	x->deadline_ms = p->timeout_ms ? x->start_ms + p->timeout_ms : 0;
	struct backend_stats st = { 0 };
	if (b->ops->stats(b->bb, &st) == 0)
		x->oom_before = st.oom_kills;

	struct backend_exec req = {
		.id = x->id, .kind = p->kind, .argv = p->argv, .envp = p->envp, .cwd = p->cwd,
		.path = p->path, .max_size = p->max_size, .stdio = { in[0], out[1], errp[1] },
	};
	wr_error e = { 0 };
	if (b->ops->exec_start(b->bb, &req, &e) < 0) {
		snprintf(err, errlen, "%s", e.message);
		goto fail;
	}
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	h2o_linklist_insert(&b->execs, &x->box_link);
	x->pipe[0] = watch_fd(out[0], x);
	x->pipe[1] = watch_fd(errp[0], x);
	for (int i = 0; i < 2; i++)
		if (x->pipe[i])
			h2o_socket_read_start(x->pipe[i], on_pipe_read);
	if (p->stdin_len) {
		x->stdin_copy = malloc(p->stdin_len);
		x->in = watch_fd(in[1], x);
		if (x->stdin_copy && x->in) {
			memcpy(x->stdin_copy, p->stdin_data, p->stdin_len);
			h2o_iovec_t buf = h2o_iovec_init(x->stdin_copy, p->stdin_len);
			h2o_socket_write(x->in, &buf, 1, on_stdin_written);
		} else {
			close_socket(&x->in);
		}
	}
	return x;

fail:
	for (int i = 0; i < 2; i++) {
		if (out[i] >= 0) close(out[i]);
		if (errp[i] >= 0) close(errp[i]);
		if (in[i] >= 0) close(in[i]);
	}
	free(x);
	return NULL;
}

void exec_on_event(struct exec *x, const struct backend_event *ev)
{
	if (ev->type == BACKEND_EV_EXEC_FAILED) {
		x->failed = true;
		x->fail_not_found = ev->err == ENOENT;
		snprintf(x->fail_msg, sizeof x->fail_msg, "%s", ev->message);
		return;
	}
	x->exited = true;
	x->status = ev->status;
	x->exited_ms = daemon_now_ms();
	maybe_finish(x);
}

void exec_box_gone(struct exec *x, const char *why)
{
	if (!x->exited) {
		x->exited = true;
		x->status = SIGKILL; /* as the kernel reports a SIGKILLed process */
		x->exited_ms = daemon_now_ms();
		snprintf(x->res.exec_error, sizeof x->res.exec_error, "%s", why);
	}
	exec_finish(x);
}

void exec_abandon(struct exec *x)
{
	x->abandoned = true;
	if (!x->exited && x->box->state != BOX_DEAD)
		x->box->ops->exec_kill(x->box->bb, x->id);
}

void exec_pause_output(struct exec *x, bool paused)
{
	if (x->paused == paused)
		return;
	x->paused = paused;
	for (int i = 0; i < 2; i++) {
		if (!x->pipe[i])
			continue;
		if (paused)
			h2o_socket_read_stop(x->pipe[i]);
		else
			h2o_socket_read_start(x->pipe[i], on_pipe_read);
	}
}

void box_check_execs(struct box *b, uint64_t now)
{
	/* exec_finish runs callbacks that may end other execs of this box or
	 * the box itself (a one-shot run destroys its box): after one, start
	 * over from the head rather than trust a saved next pointer. */
	for (h2o_linklist_t *n = b->execs.next; n != &b->execs && b->state != BOX_DEAD;) {
		struct exec *x = H2O_STRUCT_FROM_MEMBER(struct exec, box_link, n);
		n = n->next;
		if (x->exited && now - x->exited_ms >= DRAIN_GRACE_MS) {
			exec_finish(x);
			n = b->execs.next;
			continue;
		}
		if (!x->exited && x->deadline_ms && now >= x->deadline_ms && !x->timed_out) {
			x->timed_out = true;
			b->ops->exec_kill(b->bb, x->id);
		} else if (!x->exited && x->timed_out && x->deadline_ms && now - x->deadline_ms >= UNRESPONSIVE_MS) {
			/* killed, yet init never reported the end (it is stopped,
			 * or wedged): answer rather than wait for ever */
			exec_box_gone(x, "the sandbox did not report the command's end after the timeout");
			n = b->execs.next;
		} else if (!x->exited && (x->timed_out || x->abandoned)) {
			/* again each tick: a process forked during a kill pass
			 * escapes that pass */
			b->ops->exec_kill(b->bb, x->id);
		}
	}
}

json_t *exec_result_json(const struct exec_result *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "exit_code", r->exited ? json_integer(r->exit_code) : json_null());
	json_object_set_new(o, "signal", !r->exited && r->signal ? json_integer(r->signal) : json_null());
	json_object_set_new(o, "duration_ms", json_integer((json_int_t)r->duration_ms));
	json_object_set_new(o, "timed_out", json_boolean(r->timed_out));
	json_object_set_new(o, "oom_killed", json_boolean(r->oom_killed));
	json_object_set_new(o, "truncated", json_boolean(r->truncated));
	if (r->exec_error[0] && !r->failed_to_start)
		json_object_set_new(o, "error", json_string(r->exec_error));
	return o;
}
