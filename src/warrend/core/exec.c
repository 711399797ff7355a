/* One command in a box: its pipes on the event loop, its deadline, its
 * output cap, its followers (observers) and its result. */
#include "config.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "box-internal.h"
#include "cleanup.h"
#include "encode.h"

/* After the command exits, how long its pipes may stay open (a background
 * process holding them) before we stop reading. */
#define DRAIN_GRACE_MS 100
/* How long after a kill (timeout, or its followers left) init may take
 * to report the end. */
#define UNRESPONSIVE_MS 5000

/* The exec's request and session name its log lines (daemon.h). */
static void (*finish_hook)(const struct exec_result *r);

void execs_on_finish(void (*fn)(const struct exec_result *r))
{
	finish_hook = fn;
}

#define EXEC_LOG_SCOPE(x) LOG_CTX_SCOPE((x)->request_id[0] ? (x)->request_id : NULL, \
					(x)->session_id[0] ? (x)->session_id : NULL)

struct exec *box_find_exec(struct box *b, uint32_t id)
{
	for (struct list *n = b->execs.next; n != &b->execs; n = n->next) {
		struct exec *x = LIST_ENTRY(struct exec, box_link, n);
		if (x->id == id)
			return x;
	}
	return NULL;
}

uint32_t exec_id(const struct exec *x) { return x->id; }

static void close_io(struct loop_io **io)
{
	if (*io) {
		loop_io_close(*io);
		*io = NULL;
	}
}

static void exec_free(struct exec *x)
{
	close_io(&x->pipe[0]);
	close_io(&x->pipe[1]);
	close_io(&x->reply);
	exec_stdin_release(x);
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
		int fd = loop_io_fd(x->pipe[stream]);
		for (int rounds = 0; fd >= 0 && rounds < 64; rounds++) {
			ssize_t n = read(fd, buf, sizeof buf);
			if (n <= 0)
				break;
			keep_output(x, stream, buf, (size_t)n);
		}
	}
}

static void fill_result(struct exec *x)
{
	struct exec_result *r = &x->res;
	for (int i = 0; i < 2; i++)
		r->out_base64[i] = output_scan_needs_base64(&x->scan[i]);
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
}

static void log_end(const struct exec *x, const struct exec_result *r)
{
	bool notable = r->timed_out || r->oom_killed || r->failed_to_start || r->exec_error[0];
	if (!notable && !daemon_state->cfg.verbose)
		return;
	char how[64];
	if (r->exited)
		snprintf(how, sizeof how, "exit %d", r->exit_code);
	else
		snprintf(how, sizeof how, "signal %d", r->signal);
	daemon_log("exec %u: %s after %llu ms%s%s%s%s%s", x->id, how, (unsigned long long)r->duration_ms,
		   r->timed_out ? ", timed out" : "", r->oom_killed ? ", OOM-killed" : "",
		   x->abandoned ? ", its client left" : "", r->exec_error[0] ? ": " : "", r->exec_error);
}

static void exec_finish(struct exec *x)
{
	EXEC_LOG_SCOPE(x);
	exec_terminal_settle(x); /* a master sent just before the end */
	if (x->exited && !x->failed)
		drain_pipes(x);
	close_io(&x->pipe[0]);
	close_io(&x->pipe[1]);
	exec_stdin_release(x);
	list_unlink(&x->box_link);
	fill_result(x);
	if (x->box->state != BOX_DEAD)
		x->box->ops->exec_release(x->box->bb, x->id); /* stays while its background processes live */
	log_end(x, &x->res);
	if (finish_hook)
		finish_hook(&x->res);
	if (x->ended)
		x->ended(x->holder, x);
	/* A follower's on_done may end the box, the session, other execs:
	 * each leaves the list before it is called. */
	while (!list_empty(&x->observers)) {
		struct exec_observer *o = LIST_ENTRY(struct exec_observer, link, x->observers.next);
		list_unlink(&o->link);
		if (o->on_done)
			o->on_done(o, &x->res);
	}
	exec_free(x);
}

static void maybe_finish(struct exec *x)
{
	if (x->exited && !x->pipe[0] && !x->pipe[1] && !x->reply)
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
	x->seq++;
	for (struct list *n = x->observers.next, *next; n != &x->observers; n = next) {
		next = n->next; /* a follower may leave from its callback */
		struct exec_observer *o = LIST_ENTRY(struct exec_observer, link, n);
		if (o->on_output)
			o->on_output(o, stream, buf, take, x->seq);
	}
	x->kept += take;
	output_scan_feed(&x->scan[stream], buf, take);
	if (!x->keep_output)
		return;
	char *grown = realloc(x->res.out[stream], x->res.out_len[stream] + take + 1);
	if (!grown) {
		x->res.truncated = true;
		return;
	}
	memcpy(grown + x->res.out_len[stream], buf, take);
	x->res.out_len[stream] += take;
	grown[x->res.out_len[stream]] = '\0';
	x->res.out[stream] = grown;
}

void exec_on_pipe_read(struct loop_io *io, const char *err)
{
	struct exec *x = loop_io_data(io);
	int stream = io == x->pipe[0] ? 0 : 1;
	size_t len;
	const char *bytes = loop_io_input(io, &len);
	if (len > 0) {
		keep_output(x, stream, bytes, len);
		loop_io_consume(io, len);
	}
	if (err) {
		close_io(&x->pipe[stream]);
		if (x->pty)
			exec_stdin_release(x); /* the terminal is gone: typing has nowhere to go */
		if (!x->exited && !x->pipe[0] && !x->pipe[1] && !x->reply) {
			box_poll(x->box); /* may finish (and free) x */
			return;
		}
		maybe_finish(x);
	}
}

static struct loop_io *watch_fd(int fd, struct exec *x)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return loop_io_new(fd, LOOP_IO_READ, x);
}

static void close_pair(int p[2])
{
	for (int i = 0; i < 2; i++)
		if (p[i] >= 0)
			close(p[i]);
}

/* The command's pipes (stdin /dev/null unless it has input or stays
 * open), handed to the backend; ours go on the loop once it took them. */
static int start_with_pipes(struct exec *x, const struct exec_params *p, struct backend_exec *req,
			    struct wd_error *err)
{
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, in[2] = { -1, -1 };
	bool with_stdin = p->stdin_len || p->stdin_open;
	int r = 0;
	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 ||
	    (with_stdin ? pipe2(in, O_CLOEXEC) : ((in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0 ? -1 : 0)) < 0) {
		r = wd_fail(err, 503, "pipes for the command: %s", strerror(errno));
		goto out;
	}
	req->stdio[0] = in[0];
	req->stdio[1] = out[1];
	req->stdio[2] = errp[1];
	req->own[0] = out[0];
	req->own[1] = errp[0];
	/* a kept command whose stdin stays open: the sandbox holds our end
	 * too, so a restart of the daemon is no end-of-file for it */
	req->own[2] = req->keep && p->stdin_open ? in[1] : -1;
	x->stdin_kept = req->own[2] >= 0 && x->box->ops->exec_close_stdin;
	wr_error e = { 0 };
	if (x->box->ops->exec_start(x->box->bb, req, &e) < 0) {
		r = wd_fail(err, 409, "%s", e.message);
		goto out;
	}
	x->pipe[0] = watch_fd(TAKE_FD(out[0]), x);
	x->pipe[1] = watch_fd(TAKE_FD(errp[0]), x);
	for (int i = 0; i < 2; i++)
		if (x->pipe[i])
			loop_io_read_start(x->pipe[i], exec_on_pipe_read);
	/* (out of memory here loses the input: the command reads EOF) */
	if (with_stdin)
		exec_stdin_setup(x, TAKE_FD(in[1]), p->stdin_data, p->stdin_len, err);
out:
	close_pair(out);
	close_pair(errp);
	close_pair(in);
	return r;
}

/* An exec of box b as p describes, not started nor linked yet. */
static struct exec *exec_new(struct box *b, const struct exec_params *p, struct wd_error *err)
{
	if (b->state == BOX_DEAD)
		return wd_fail(err, 409, "the sandbox is gone: %s", b->error), NULL;
	struct exec *x = calloc(1, sizeof *x);
	if (!x)
		return wd_fail(err, 503, "out of memory"), NULL;
	x->box = b;
	x->cap = p->output_cap;
	x->keep_output = p->keep_output;
	x->bound = p->bound;
	x->ended = p->ended;
	x->holder = p->holder;
	x->pty = p->pty;
	x->stdin_open = p->stdin_open || p->pty;
	x->start_ms = daemon_now_ms();
	x->deadline_ms = p->timeout_ms ? x->start_ms + p->timeout_ms : 0;
	snprintf(x->request_id, sizeof x->request_id, "%s", p->request_id ? p->request_id : "");
	snprintf(x->session_id, sizeof x->session_id, "%s", p->session_id ? p->session_id : "");
	list_init(&x->observers);
	struct backend_stats st = { 0 };
	if (b->ops->stats(b->bb, &st) == 0)
		x->oom_before = st.oom_kills;
	return x;
}

/* x runs from here: in its box's list, followed by first. */
static void exec_link(struct exec *x, struct exec_observer *first)
{
	list_insert(&x->box->execs, &x->box_link);
	if (first)
		list_insert(&x->observers, &first->link);
}

struct exec *exec_start(struct box *b, const struct exec_params *p, struct exec_observer *first,
			struct wd_error *err)
{
	struct exec *x = exec_new(b, p, err);
	if (!x)
		return NULL;
	x->id = ++b->next_exec_id;
	struct backend_exec req = {
		.id = x->id, .kind = p->kind, .argv = p->argv, .envp = p->envp, .cwd = p->cwd,
		.path = p->path, .max_size = p->max_size, .stdio = { -1, -1, -1 }, .keep = p->keep,
		.own = { -1, -1, -1 },
	};
	if ((p->pty ? exec_terminal_start(x, &req, p, err) : start_with_pipes(x, p, &req, err)) < 0) {
		exec_stdin_release(x);
		free(x);
		return NULL;
	}
	exec_link(x, first);
	if (daemon_state->cfg.verbose >= 2) {
		EXEC_LOG_SCOPE(x);
		daemon_log("exec %u: started%s", x->id, x->pty ? " with a terminal" : "");
	}
	return x;
}

struct exec *exec_adopt(struct box *b, uint32_t id, const struct exec_params *p, const int *fds, int n_fds,
			struct exec_observer *first, struct wd_error *err)
{
	struct exec *x = exec_new(b, p, err);
	if (!x) {
		for (int i = 0; i < n_fds; i++)
			close(fds[i]);
		return NULL;
	}
	x->id = id;
	if (id > b->next_exec_id)
		b->next_exec_id = id;
	x->stdin_open = p->pty;
	for (int i = 0; i < n_fds && i < (p->pty ? 1 : 2); i++)
		if ((x->pipe[i] = watch_fd(fds[i], x)))
			loop_io_read_start(x->pipe[i], exec_on_pipe_read);
	/* a third: its stdin, still open (INIT_EXEC_KEEP_STDIN) */
	int used = p->pty ? 1 : 2;
	if (!p->pty && n_fds == 3 && b->ops->exec_close_stdin) {
		x->stdin_open = x->stdin_kept = true;
		struct wd_error ignored = { 0 };
		exec_stdin_setup(x, fds[2], NULL, 0, &ignored); /* (out of memory: its stdin is lost) */
		used = 3;
	}
	for (int i = used; i < n_fds; i++)
		close(fds[i]);
	exec_link(x, first);
	return x;
}

void exec_observe(struct exec *x, struct exec_observer *o)
{
	list_insert(&x->observers, &o->link);
}

void box_release_exec(struct box *b, uint32_t id)
{
	if (b->state != BOX_DEAD)
		b->ops->exec_release(b->bb, id);
}

void exec_kill(struct exec *x)
{
	x->killed_ms = daemon_now_ms();
	if (!x->exited && x->box->state != BOX_DEAD)
		x->box->ops->exec_kill(x->box->bb, x->id);
}

static void exec_abandon(struct exec *x)
{
	x->abandoned = true;
	x->killed_ms = daemon_now_ms();
	if (!x->exited && x->box->state != BOX_DEAD)
		x->box->ops->exec_kill(x->box->bb, x->id);
}

void exec_unobserve(struct exec *x, struct exec_observer *o)
{
	if (list_linked(&o->link))
		list_unlink(&o->link);
	if (x->bound && list_empty(&x->observers) && !x->abandoned)
		exec_abandon(x);
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

void exec_pause_output(struct exec *x, bool paused)
{
	unsigned before = x->paused;
	x->paused = paused ? x->paused + 1 : x->paused ? x->paused - 1 : 0;
	if (!before == !x->paused)
		return;
	for (int i = 0; i < 2; i++) {
		if (!x->pipe[i])
			continue;
		if (x->paused)
			loop_io_read_stop(x->pipe[i]);
		else
			loop_io_read_start(x->pipe[i], exec_on_pipe_read);
	}
}

void box_check_execs(struct box *b, uint64_t now)
{
	/* exec_finish runs callbacks that may end other execs of this box or
	 * the box itself (a one-shot run destroys its box): after one, start
	 * over from the head rather than trust a saved next pointer. */
	for (struct list *n = b->execs.next; n != &b->execs && b->state != BOX_DEAD;) {
		struct exec *x = LIST_ENTRY(struct exec, box_link, n);
		n = n->next;
		if (x->exited && now - x->exited_ms >= DRAIN_GRACE_MS) {
			exec_finish(x);
			n = b->execs.next;
			continue;
		}
		if (!x->exited && x->deadline_ms && now >= x->deadline_ms && !x->timed_out) {
			x->timed_out = true;
			x->killed_ms = now;
			b->ops->exec_kill(b->bb, x->id);
		} else if (!x->exited && x->killed_ms && now - x->killed_ms >= UNRESPONSIVE_MS) {
			/* killed, yet init never reported the end (it is stopped,
			 * or wedged): answer rather than wait for ever */
			exec_box_gone(x, x->timed_out ? "the sandbox did not report the command's end after the timeout"
						       : "the sandbox did not report the command's end after it was killed");
			n = b->execs.next;
		} else if (!x->exited && x->killed_ms) {
			/* again each tick: a process forked during a kill pass
			 * escapes that pass */
			b->ops->exec_kill(b->bb, x->id);
		}
	}
}
