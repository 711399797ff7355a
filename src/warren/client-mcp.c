/* warren mcp: MCP over stdio, for agents that start their tools as a
 * command ({"command": "warren", "args": ["mcp"]}). A relay, not a second
 * server: each JSON-RPC line read on stdin is POSTed to warrend's /mcp
 * (where the tools live) with the session id initialize answered, and
 * each answer is written to stdout as one line. stdout carries nothing
 * else; messages for people go to stderr.
 *
 * Requests run side by side (one thread each), so a ping or a quick tool
 * is not stuck behind a long command; initialize runs alone first. When
 * warrend no longer knows the session (it expired while the agent sat
 * idle, or warrend restarted), the relay initializes a new one with the
 * client's own initialize and sends the request again: a desktop agent
 * stays up for days. At the end of stdin (once the requests in flight
 * are answered), or on SIGTERM, the session is deleted (its own sandbox
 * with it) and the relay exits. */
#include "config.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "client.h"
#include "sandbox.h"

/* As warrend's own limit on a message, and on an answer (a file read). */
#define MAX_REPLY ((size_t)128 << 20)
/* Requests in flight at once; more wait for one to end. */
#define MAX_IN_FLIGHT 32

static struct {
	pthread_mutex_t lock;        /* everything here, and stdout */
	pthread_cond_t changed;      /* in_flight went down */
	char session[256];           /* Mcp-Session-Id; "" before initialize */
	char protocol[32];
	char *initialize;            /* the client's initialize, replayed for a new session */
	unsigned generation;         /* sessions started so far */
	unsigned in_flight;
} relay = { .lock = PTHREAD_MUTEX_INITIALIZER, .changed = PTHREAD_COND_INITIALIZER };

static void usage(FILE *out)
{
	fputs("Usage: warren mcp [--url URL] [--token TOKEN]\n"
	      "\n"
	      "Speak MCP (the Model Context Protocol) on stdin and stdout for an agent that\n"
	      "starts its tool servers as commands, and forward every message to warrend's\n"
	      "/mcp endpoint: sandboxes, commands, code and files as tools. Configure the\n"
	      "agent with {\"command\": \"warren\", \"args\": [\"mcp\"]} (and WARREN_URL,\n"
	      "WARREN_TOKEN in its \"env\" for a daemon over TCP). Logs go to stderr.\n", out);
}

/* ---- stdout: one message a line ------------------------------------------------ */

/* Writes msg (compact JSON: no raw newline) and a newline; a client that
 * closed stdout ends the relay. Called with relay.lock held. */
static void write_message(json_t *msg)
{
	_cleanup_free_ char *text = json_dumps(msg, JSON_COMPACT);
	if (!text || fputs(text, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
		cli_error("mcp: writing to stdout failed: the client is gone");
		_exit(1);
	}
}

static void send_message(json_t *msg)
{
	pthread_mutex_lock(&relay.lock);
	write_message(msg);
	pthread_mutex_unlock(&relay.lock);
}

/* A JSON-RPC error for request `id` (nothing for a notification). */
static void send_error(json_t *id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_error(json_t *id, const char *fmt, ...)
{
	char message[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);
	cli_error("mcp: %s", message);
	if (!id)
		return;
	_cleanup_(json_decrefp) json_t *msg = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", id, "error",
							"code", -32000, "message", message);
	if (msg)
		send_message(msg);
}

/* ---- one POST to /mcp ------------------------------------------------------------ */

struct answer {
	int status;
	char session[256];           /* Mcp-Session-Id, when it sent one */
	json_t *body;                /* NULL when empty or not JSON */
};

/* POSTs text with the given session (none: ""); 0 with *a filled, or
 * -errno with e set when warrend could not be asked. */
static int post(const char *text, const char *session, const char *protocol, struct answer *a, wr_error *e)
{
	struct http_conn c = { .fd = -1 };
	char extra[512];
	*a = (struct answer){ 0 };
	int n = snprintf(extra, sizeof extra, "Accept: application/json, text/event-stream\r\n");
	if (session[0])
		snprintf(extra + n, sizeof extra - (size_t)n, "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: %s\r\n",
			 session, protocol);
	int r = http_connect(client_url(), &c, e);
	if (r < 0)
		return r;
	c.capture = "Mcp-Session-Id";
	_cleanup_free_ char *body = NULL;
	size_t len;
	if ((r = http_send_head_extra(&c, "POST", "/mcp", client_token(), "application/json", strlen(text), extra, e)) < 0 ||
	    (r = http_send(&c, text, strlen(text), e)) < 0 || (r = http_read_head(&c, e)) < 0 ||
	    (r = http_read_body_all(&c, MAX_REPLY, &body, &len, e)) < 0) {
		http_close(&c);
		return r;
	}
	http_close(&c);
	a->status = c.status;
	/* visible ASCII only (the spec's rule): it goes back into a header */
	if (strspn(c.captured, "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`"
		   "abcdefghijklmnopqrstuvwxyz{|}~") == strlen(c.captured))
		snprintf(a->session, sizeof a->session, "%s", c.captured);
	a->body = len ? json_loadb(body, len, 0, NULL) : NULL;
	return 0;
}

/* Starts a session with the client's initialize: 0, -1 when warrend said
 * no (a->status, a->body say why) or could not be asked (a->status 0, e).
 * Called with relay.lock held. */
static int start_session(const char *initialize, struct answer *a, wr_error *e)
{
	if (post(initialize, "", "", a, e) < 0)
		return -1;
	const char *protocol = json_string_value(json_object_get(json_object_get(a->body, "result"), "protocolVersion"));
	if (a->status != 200 || !a->session[0] || !protocol)
		return -1;
	snprintf(relay.session, sizeof relay.session, "%s", a->session);
	snprintf(relay.protocol, sizeof relay.protocol, "%s", protocol);
	relay.generation++;
	return 0;
}

/* warrend forgot the session `generation` (expired, restarted): a new one,
 * unless another request made one already. true when there is one. */
static bool renew_session(unsigned generation)
{
	pthread_mutex_lock(&relay.lock);
	bool ok = relay.generation != generation;
	if (!ok && relay.initialize) {
		struct answer a;
		wr_error e = { 0 };
		ok = start_session(relay.initialize, &a, &e) == 0;
		json_decref(a.body);
		if (ok && post("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", relay.session,
			       relay.protocol, &a, &e) == 0)
			json_decref(a.body);
		if (ok)
			cli_error("mcp: warrend no longer knew the session: started a new one (a new sandbox)");
	}
	pthread_mutex_unlock(&relay.lock);
	return ok;
}

/* ---- one message from the client -------------------------------------------------- */

/* warrend's answer to request `id` (none for a notification) to the client. */
static void deliver(const struct answer *a, json_t *id)
{
	if (!id)
		return;
	if (a->status >= 200 && a->status <= 299 && a->body) {
		send_message(a->body);
	} else if (json_is_string(json_object_get(a->body, "jsonrpc"))) {
		json_object_set(a->body, "id", id); /* warrend may not have read it */
		send_message(a->body);
	} else {
		/* not MCP's own answer: the HTTP layer's (a token refused, say) */
		const char *m = json_string_value(json_object_get(json_object_get(a->body, "error"), "message"));
		send_error(id, "warrend answered HTTP %d: %s%s", a->status, m ? m : "no message",
			   a->status == 401 && !client_token() ? " (set WARREN_TOKEN)" : "");
	}
}

static void forward(json_t *msg, const char *text)
{
	json_t *id = json_object_get(msg, "id");
	const char *method = json_string_value(json_object_get(msg, "method"));
	struct answer a = { 0 };
	wr_error e = { 0 };
	int r = 0;
	if (method && !strcmp(method, "initialize")) {
		pthread_mutex_lock(&relay.lock);
		free(relay.initialize);
		relay.initialize = strdup(text);
		r = start_session(text, &a, &e);
		pthread_mutex_unlock(&relay.lock);
	}
	for (int attempt = 0; !(method && !strcmp(method, "initialize")) && attempt < 2; attempt++) {
		char session[256], protocol[32];
		pthread_mutex_lock(&relay.lock);
		unsigned generation = relay.generation;
		snprintf(session, sizeof session, "%s", relay.session);
		snprintf(protocol, sizeof protocol, "%s", relay.protocol);
		pthread_mutex_unlock(&relay.lock);
		json_decref(a.body);
		if ((r = post(text, session, protocol, &a, &e)) < 0)
			break;
		if (!(a.status == 404 && session[0] && attempt == 0 && renew_session(generation)))
			break;
	}
	if (r < 0 && !a.status)
		send_error(id, "%s", e.message);
	else
		deliver(&a, id);
	json_decref(a.body);
}

struct job {
	json_t *msg;
	char *text;
};

static void *run_job(void *arg)
{
	struct job *j = arg;
	forward(j->msg, j->text);
	json_decref(j->msg);
	free(j->text);
	free(j);
	pthread_mutex_lock(&relay.lock);
	relay.in_flight--;
	pthread_cond_signal(&relay.changed);
	pthread_mutex_unlock(&relay.lock);
	return NULL;
}

/* ---- the end: stdin closed, or a signal ------------------------------------------------ */

static void end_session(void)
{
	pthread_mutex_lock(&relay.lock);
	if (relay.session[0]) {
		struct http_conn c = { .fd = -1 };
		wr_error e = { 0 };
		char extra[512];
		snprintf(extra, sizeof extra, "Mcp-Session-Id: %s\r\nMCP-Protocol-Version: %s\r\n", relay.session,
			 relay.protocol);
		if (http_connect(client_url(), &c, &e) == 0 &&
		    http_send_head_extra(&c, "DELETE", "/mcp", client_token(), NULL, 0, extra, &e) == 0)
			http_read_head(&c, &e);
		http_close(&c);
		relay.session[0] = '\0';
	}
	/* stays locked: no thread writes to stdout from here on */
}

static void *wait_for_signal(void *arg)
{
	sigset_t *set = arg;
	int sig;
	sigwait(set, &sig);
	end_session();
	_exit(0);
}

int cmd_mcp(int argc, char **argv)
{
	int first = client_simple_options(argc, argv, "mcp", NULL, usage);
	if (first <= 0)
		return first == 0 ? 0 : WARREN_EXIT_SETUP;
	if (first < argc) {
		cli_error("mcp: unexpected argument '%s' (try 'warren mcp --help')", argv[first]);
		return WARREN_EXIT_SETUP;
	}
	/* every thread but the signal one blocks these; a closed stdout is an
	 * error to see, not a SIGPIPE */
	static sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_attr_t detached;
	pthread_attr_init(&detached);
	pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);
	pthread_t t;
	if (pthread_create(&t, &detached, wait_for_signal, &set) != 0) {
		cli_error("mcp: cannot start a thread");
		return 1;
	}

	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, stdin)) >= 0) {
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (!len)
			continue;
		json_error_t error;
		json_t *msg = json_loadb(line, (size_t)len, 0, &error);
		if (!json_is_object(msg)) {
			json_decref(msg);
			_cleanup_(json_decrefp) json_t *reply = json_pack("{s:s, s:n, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
									  "error", "code", -32700, "message",
									  "Parse error: one JSON-RPC message (an object) a line");
			cli_error("mcp: not a JSON-RPC message: %s", error.text);
			send_message(reply);
			continue;
		}
		const char *method = json_string_value(json_object_get(msg, "method"));
		if (method && !strcmp(method, "initialize")) {
			forward(msg, line); /* alone: the others need its session */
			json_decref(msg);
			continue;
		}
		pthread_mutex_lock(&relay.lock);
		while (relay.in_flight >= MAX_IN_FLIGHT)
			pthread_cond_wait(&relay.changed, &relay.lock);
		relay.in_flight++;
		pthread_mutex_unlock(&relay.lock);
		struct job *j = calloc(1, sizeof *j);
		if (j) {
			j->msg = msg;
			j->text = strdup(line);
		}
		if (!j || !j->text || pthread_create(&t, &detached, run_job, j) != 0) {
			/* run here, in turn, rather than not at all */
			if (j && j->text)
				free(j->text);
			free(j);
			forward(msg, line);
			json_decref(msg);
			pthread_mutex_lock(&relay.lock);
			relay.in_flight--;
			pthread_mutex_unlock(&relay.lock);
		}
	}
	/* the answers to what is in flight are still wanted (a script that
	 * pipes its requests in); an agent that wants us gone sends SIGTERM */
	pthread_mutex_lock(&relay.lock);
	while (relay.in_flight > 0)
		pthread_cond_wait(&relay.changed, &relay.lock);
	pthread_mutex_unlock(&relay.lock);
	end_session();
	fflush(stdout);
	_exit(0);
}
