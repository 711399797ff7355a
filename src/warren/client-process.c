/* Processes of a session, from the command line: warren exec -d/-i/-t,
 * warren attach, ps and kill, over POST/GET /v1/sessions/ID/processes….
 *
 * A relayed process (exec -i/-t, attach): its output stream (server-sent
 * events) is read on one connection while our stdin goes, as it comes,
 * to …/stdin, each piece a request of its own. With a terminal and our
 * stdin one, our terminal is raw while it runs (pty-relay.c), so every
 * key is the process's, and put back as it was on every way out warren
 * can catch; SIGWINCH sends our size on. */
#include "config.h"

#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "client.h"
#include "client-sse.h"
#include "pty-relay.h"
#include "sandbox.h"

/* Ctrl-P Ctrl-Q: detach, as docker's default keys. */
#define DETACH_1 0x10
#define DETACH_2 0x11

struct relay {
	const char *id;              /* the session */
	unsigned pid;
	const char *timeout;         /* as asked, for the message on timeout */
	bool tty;                    /* the process has a terminal */
	bool forward_stdin;          /* our stdin goes to it */
	bool close_at_eof;           /* our stdin's end is its stdin's (exec -i); attach only stops */
	bool kill_on_signal;         /* exec: a signal to warren ends the process */
	bool stdin_done;
	bool held_detach;            /* a Ctrl-P waits for the next key */
	bool detached;
	char last_in;                /* the last byte sent, for a terminal's end of file */
	int sigfd;
	struct pty_relay ours;       /* our terminal: raw mode and size */
	struct http_conn out;
	struct sse_reader sse;
	json_t *result;              /* the exit event's data */
};

static char *process_target(const char *id, unsigned pid, const char *suffix)
{
	char tail[64];
	snprintf(tail, sizeof tail, "/processes/%u%s", pid, suffix);
	return client_session_target(id, tail);
}

/* POST …/processes/PID/ACTION with a JSON body (stolen); the reply is
 * dropped. */
static int post_action(const struct relay *r, const char *action, json_t *body, wr_error *e)
{
	_cleanup_free_ char *target = process_target(r->id, r->pid, action);
	json_t *reply = NULL;
	int rc = target ? client_call("POST", target, body, &reply, NULL, e) : wr_error_set(e, ENOMEM, "request");
	json_decref(body);
	json_decref(reply);
	return rc;
}

static void send_size(struct relay *r)
{
	unsigned short cols, rows;
	wr_error e = { 0 };
	if (r->tty && pty_relay_caller_size(&r->ours, &cols, &rows) == 0)
		post_action(r, "/resize", json_pack("{s:i, s:i}", "cols", cols, "rows", rows), &e);
}

/* Bytes for its stdin. A full queue (429: it is not reading) is waited
 * out, as a pipe would make a writer wait; a stdin that closed (409)
 * takes nothing more. */
static int send_stdin(struct relay *r, const char *buf, size_t len)
{
	_cleanup_free_ char *target = process_target(r->id, r->pid, "/stdin");
	if (!target)
		return -ENOMEM;
	for (;;) {
		struct http_conn c = { .fd = -1 };
		wr_error e = { 0 };
		json_t *reply = NULL;
		int rc = client_open(&c, "POST", target, "application/octet-stream", buf, len, &e);
		if (rc == 0)
			rc = client_finish_json(&c, &reply, &e);
		json_decref(reply);
		if (rc == -EAGAIN) {
			poll(NULL, 0, 50);
			continue;
		}
		if (rc == -EBUSY)
			r->forward_stdin = false;
		else if (rc < 0)
			cli_error("%s", e.message);
		return rc == -EBUSY ? 0 : rc;
	}
}

/* Our stdin ended: exec's ends with it (attach only stops sending).
 * Without a terminal its stdin closes. A terminal's reader learns it
 * from the end-of-file character at the start of a line (a second one
 * ends a line typed without a newline). */
static void stdin_ended(struct relay *r)
{
	r->stdin_done = true;
	wr_error e = { 0 };
	if (!r->close_at_eof)
		return;
	if (r->tty) {
		char eof[2] = { 4, 4 };
		send_stdin(r, eof, r->last_in == '\n' || r->last_in == '\r' ? 1 : 2);
	} else if (post_action(r, "/close-stdin", NULL, &e) < 0 && e.message[0] && !strstr(e.message, "ended")) {
		cli_error("%s", e.message);
	}
}

/* Our stdin is ready: what it has goes on, but Ctrl-P Ctrl-Q typed at a
 * raw terminal detaches. */
static int from_stdin(struct relay *r)
{
	char buf[PTY_RELAY_BUF + 1];
	size_t start = 0;
	if (r->held_detach)
		buf[start++] = DETACH_1;
	ssize_t n = read(STDIN_FILENO, buf + start, sizeof buf - start);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		if (start)
			send_stdin(r, buf, start);
		stdin_ended(r);
		return 0;
	}
	size_t len = start + (size_t)n;
	r->held_detach = false;
	if (r->ours.raw) {
		for (size_t i = 0; i + 1 < len; i++)
			if (buf[i] == DETACH_1 && buf[i + 1] == DETACH_2) {
				r->detached = true;
				return i ? send_stdin(r, buf, i) : 0;
			}
		if (buf[len - 1] == DETACH_1) {
			r->held_detach = true; /* its pair may come in the next read */
			len--;
		}
	}
	if (!len)
		return 0;
	r->last_in = buf[len - 1];
	return send_stdin(r, buf, len);
}

static int on_output_event(void *data, const char *event, const char *text, const char *id, wr_error *e)
{
	struct relay *r = data;
	int rc = client_stream_event(event, text, &r->result, e);
	if (rc == -EPIPE || rc == -EIO)
		return 0; /* our stdout is gone: the process goes on */
	return rc < 0 ? rc : r->result != NULL;
}

/* A signal to us: SIGWINCH is passed on (1); any other ends the relay
 * with 128+N, ending the process too for exec. */
static int on_signal(struct relay *r)
{
	struct signalfd_siginfo si;
	if (read(r->sigfd, &si, sizeof si) != (ssize_t)sizeof si)
		return 1;
	if (si.ssi_signo == SIGWINCH) {
		send_size(r);
		return 1;
	}
	pty_relay_restore(&r->ours);
	wr_error e = { 0 };
	if (r->kill_on_signal && post_action(r, "/signal", json_pack("{s:s}", "signal", "SIGKILL"), &e) == 0)
		cli_error("interrupted by signal %u: process %u killed", si.ssi_signo, r->pid);
	else
		cli_error("interrupted by signal %u: process %u goes on (warren attach %s %u)", si.ssi_signo,
			  r->pid, r->id, r->pid);
	return 128 + (int)si.ssi_signo;
}

/* Until the exit event (0), a detach (0), a signal (128+N) or an error
 * (-errno, said). */
static int relay_loop(struct relay *r)
{
	wr_error e = { 0 };
	int rc = sse_reader_pump(&r->sse, &r->out, &e); /* what came with the head */
	while (rc >= 0 && !r->result && !r->detached) {
		bool reading = r->forward_stdin && !r->stdin_done;
		struct pollfd fds[3] = {
			{ .fd = r->out.fd, .events = POLLIN },
			{ .fd = r->sigfd, .events = POLLIN },
			{ .fd = reading ? STDIN_FILENO : -1, .events = POLLIN },
		};
		if (poll(fds, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if ((fds[1].revents & POLLIN) && (rc = on_signal(r)) != 1)
			return rc;
		rc = 0;
		if (fds[2].revents && (rc = from_stdin(r)) < 0)
			return rc;
		if (fds[0].revents)
			rc = sse_reader_step(&r->sse, &r->out, &e);
	}
	if (rc < 0) {
		pty_relay_restore(&r->ours);
		cli_error("%s", e.message);
	}
	return rc < 0 ? rc : 0;
}

/* Follows process r->pid until it ends or we detach; the exit status. */
static int relay_process(struct relay *r)
{
	_cleanup_free_ char *target = process_target(r->id, r->pid, "/output");
	if (!target)
		return WARREN_EXIT_SETUP;
	wr_error e = { 0 };
	r->out = (struct http_conn){ .fd = -1 };
	int rc = client_open(&r->out, "GET", target, NULL, NULL, 0, &e);
	if (rc == 0 && (r->out.status != 200 || strncmp(r->out.content_type, "text/event-stream", 17))) {
		json_t *reply = NULL;
		rc = client_finish_json(&r->out, &reply, &e);
		json_decref(reply);
		if (rc == 0)
			rc = wr_error_set(&e, 0, "warrend did not answer with the process's output stream");
	}
	if (rc < 0) {
		cli_error("%s", e.message);
		wr_error ignored = { 0 };
		if (r->kill_on_signal) /* exec: the command lives no longer than warren's relay of it */
			post_action(r, "/signal", json_pack("{s:s}", "signal", "SIGKILL"), &ignored);
		return WARREN_EXIT_SETUP;
	}
	/* Every signal that would end us ends the relay instead, so that our
	 * terminal is put back (SIGKILL cannot be: `stty sane`, warren(1)). */
	sigset_t mask, old;
	sigemptyset(&mask);
	int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH };
	for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
		sigaddset(&mask, sigs[i]);
	sigprocmask(SIG_BLOCK, &mask, &old);
	struct sigaction ignore = { .sa_handler = SIG_IGN }, old_pipe;
	sigaction(SIGPIPE, &ignore, &old_pipe);
	r->sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	r->last_in = '\n';
	pty_relay_init(&r->ours, r->forward_stdin ? STDIN_FILENO : -1, STDOUT_FILENO);
	sse_reader_init(&r->sse, on_output_event, r);
	send_size(r); /* a terminal as large as ours, if we have one */
	if (r->sigfd < 0)
		rc = wr_error_set(&e, errno, "signalfd");
	else if (r->tty && r->forward_stdin && (rc = pty_relay_make_raw(&r->ours)) < 0)
		rc = wr_error_set(&e, -rc, "make the terminal raw");
	if (rc < 0)
		cli_error("%s", e.message);
	else
		rc = relay_loop(r);

	pty_relay_restore(&r->ours);
	sse_reader_free(&r->sse);
	http_close(&r->out);
	if (r->sigfd >= 0)
		close(r->sigfd);
	sigaction(SIGPIPE, &old_pipe, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		return rc < 0 ? WARREN_EXIT_SETUP : rc;
	if (r->detached) {
		cli_error("detached from process %u of session %s (warren attach %s %u)", r->pid, r->id, r->id,
			  r->pid);
		return 0;
	}
	int status = client_exit_status(r->id, r->timeout, r->result);
	json_decref(r->result);
	return status;
}

int client_exec_process(const char *id, json_t *req, bool detach, bool json, const char *timeout)
{
	_cleanup_free_ char *target = client_session_target(id, "/processes");
	json_t *reply = NULL;
	wr_error e = { 0 };
	if (!target || client_call("POST", target, req, &reply, NULL, &e) < 0) {
		cli_error("%s", target ? e.message : "out of memory");
		return WARREN_EXIT_SETUP;
	}
	json_int_t pid = json_integer_value(json_object_get(reply, "pid"));
	int status = 0;
	if (pid <= 0 || pid > UINT32_MAX) {
		cli_error("warrend's reply has no process id");
		status = WARREN_EXIT_SETUP;
	} else if (detach && json) {
		status = client_print_json(reply) < 0 ? WARREN_EXIT_SETUP : 0;
	} else if (detach) {
		status = printf("%lld\n", (long long)pid) < 0 || fflush(stdout) == EOF ? WARREN_EXIT_SETUP : 0;
	} else {
		struct relay r = {
			.id = id, .pid = (unsigned)pid, .timeout = timeout,
			.tty = json_is_object(json_object_get(reply, "pty")),
			.forward_stdin = json_is_true(json_object_get(req, "stdin")), .close_at_eof = true,
			.kill_on_signal = true,
		};
		status = relay_process(&r);
	}
	json_decref(reply);
	return status;
}

/* ---- warren ps ------------------------------------------------------------ */

static void ps_usage(FILE *out)
{
	fputs("Usage: warren ps [--json] ID\n"
	      "\n"
	      "List the processes of session ID: those running and those that ended and\n"
	      "are still kept (their status and output; warren attach shows the output).\n", out);
}

/* "running", "exit 3", "SIGKILL", "timed out", "OOM-killed". */
static void describe_state(json_t *p, char *buf, size_t len)
{
	json_t *res = json_object_get(p, "result");
	json_t *code = json_object_get(res, "exit_code"), *sig = json_object_get(res, "signal");
	if (!json_is_object(res))
		snprintf(buf, len, "running");
	else if (json_is_true(json_object_get(res, "timed_out")))
		snprintf(buf, len, "timed out");
	else if (json_is_true(json_object_get(res, "oom_killed")))
		snprintf(buf, len, "OOM-killed");
	else if (json_is_integer(code))
		snprintf(buf, len, "exit %lld", (long long)json_integer_value(code));
	else if (json_is_integer(sig))
		snprintf(buf, len, "signal %lld", (long long)json_integer_value(sig));
	else
		snprintf(buf, len, "ended");
}

static void join_command(json_t *cmd, char *buf, size_t len)
{
	size_t used = 0;
	json_t *arg;
	size_t i;
	buf[0] = '\0';
	json_array_foreach(cmd, i, arg) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? " " : "", json_string_value(arg) ?: "");
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

int cmd_ps(int argc, char **argv)
{
	bool json = false;
	int first = client_simple_options(argc, argv, "ps", &json, ps_usage);
	if (first <= 0)
		return first == 0 ? 0 : WARREN_EXIT_SETUP;
	if (argc - first != 1) {
		cli_error("ps: expected one session ID (try 'warren ps --help')");
		return WARREN_EXIT_SETUP;
	}
	_cleanup_free_ char *target = client_session_target(argv[first], "/processes");
	json_t *reply = NULL;
	wr_error e = { 0 };
	if (!target || client_call("GET", target, NULL, &reply, NULL, &e) < 0) {
		cli_error("%s", target ? e.message : "out of memory");
		return 1;
	}
	int r = 0;
	if (json) {
		r = client_print_json(reply);
	} else {
		struct table t = { .n_cols = 6 };
		time_t now = time(NULL);
		json_t *p;
		size_t i;
		r = table_add(&t, "PID", "STATE", "STARTED", "TTY", "TAG", "COMMAND");
		json_array_foreach(json_object_get(reply, "processes"), i, p) {
			char pid[24], state[32], started[48], command[512];
			snprintf(pid, sizeof pid, "%lld", (long long)json_integer_value(json_object_get(p, "pid")));
			describe_state(p, state, sizeof state);
			human_time(json_string_value(json_object_get(p, "started")), now, started, sizeof started);
			join_command(json_object_get(p, "cmd"), command, sizeof command);
			const char *tag = json_string_value(json_object_get(p, "tag"));
			if (r == 0)
				r = table_add(&t, pid, state, started, json_is_object(json_object_get(p, "pty")) ? "yes" : "no",
					      tag ? tag : "-", command);
		}
		if (r == 0)
			table_print(&t, stdout);
		table_free(&t);
		if (fflush(stdout) == EOF)
			r = -EIO;
	}
	json_decref(reply);
	return r < 0 ? 1 : 0;
}

/* ---- warren kill ------------------------------------------------------------ */

static void kill_usage(FILE *out)
{
	fputs("Usage: warren kill [-s SIGNAL] ID PID...\n"
	      "\n"
	      "Send a signal to processes of session ID: to each one's process group, or\n"
	      "with SIGKILL (the default) to everything it started.\n"
	      "\n"
	      "  -s, --signal SIGNAL       a name (TERM, SIGINT) or a number (default KILL)\n", out);
}

/* A process id as given on the command line: 1 to 2^32-1. */
static bool parse_pid(const char *text, unsigned *pid)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	if (errno || *end || end == text || text[0] == '-' || v == 0 || v > UINT32_MAX)
		return false;
	*pid = (unsigned)v;
	return true;
}

int cmd_kill(int argc, char **argv)
{
	static const struct option options[] = {
		{ "signal", required_argument, NULL, 's' }, { "help", no_argument, NULL, 'h' },
		CLIENT_LONG_OPTIONS,                        { NULL, 0, NULL, 0 },
	};
	const char *sig = "KILL";
	int opt;
	while ((opt = getopt_long(argc, argv, "+s:h", options, NULL)) != -1) {
		if (opt == 's') {
			sig = optarg;
		} else if (opt == 'h') {
			kill_usage(stdout);
			return 0;
		} else if (!client_common_option(opt, optarg)) {
			cli_error("kill: try 'warren kill --help'");
			return WARREN_EXIT_SETUP;
		}
	}
	if (argc - optind < 2) {
		cli_error("kill: expected a session ID and at least one PID (try 'warren kill --help')");
		return WARREN_EXIT_SETUP;
	}
	int status = 0;
	for (int i = optind + 1; i < argc; i++) {
		struct relay r = { .id = argv[optind] };
		wr_error e = { 0 };
		if (!parse_pid(argv[i], &r.pid)) {
			cli_error("kill: '%s' is not a process id", argv[i]);
			status = 1;
		} else if (post_action(&r, "/signal", json_pack("{s:s}", "signal", sig), &e) < 0) {
			cli_error("kill %s: %s", argv[i], e.message);
			status = 1;
		}
	}
	return status;
}

/* ---- warren attach ------------------------------------------------------------ */

static void attach_usage(FILE *out)
{
	fputs("Usage: warren attach ID PID\n"
	      "\n"
	      "Follow process PID of session ID: the output it still keeps, then what it\n"
	      "writes until it ends (warren exits with its status). Our stdin goes to it when\n"
	      "its stdin is open; with a terminal ours is raw while attached. Ctrl-P Ctrl-Q\n"
	      "(or a signal to warren) detaches and leaves it running.\n", out);
}

int cmd_attach(int argc, char **argv)
{
	int first = client_simple_options(argc, argv, "attach", NULL, attach_usage);
	if (first <= 0)
		return first == 0 ? 0 : WARREN_EXIT_SETUP;
	struct relay r = { 0 };
	if (argc - first != 2 || !parse_pid(argv[first + 1], &r.pid)) {
		cli_error("attach: expected a session ID and a process id (try 'warren attach --help')");
		return WARREN_EXIT_SETUP;
	}
	r.id = argv[first];
	_cleanup_free_ char *target = process_target(r.id, r.pid, "");
	json_t *p = NULL;
	wr_error e = { 0 };
	if (!target || client_call("GET", target, NULL, &p, NULL, &e) < 0) {
		cli_error("%s", target ? e.message : "out of memory");
		return WARREN_EXIT_SETUP;
	}
	r.tty = json_is_object(json_object_get(p, "pty"));
	r.forward_stdin = json_is_true(json_object_get(p, "stdin"));
	json_decref(p);
	return relay_process(&r);
}
