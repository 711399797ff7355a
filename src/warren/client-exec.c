/* warren exec: runs a command in a session through
 * POST /v1/sessions/ID/exec with "stream": true, copying the command's
 * stdout and stderr (text/event-stream events) to ours as they come, and
 * exits with the command's status as warren run does. */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "client.h"
#include "client-sse.h"
#include "fdio.h"
#include "pty-relay.h"
#include "encode.h"
#include "sandbox.h"
#include "units.h"

static void exec_usage(FILE *out)
{
	fputs("Usage: warren exec [OPTION...] ID [--] COMMAND [ARG...]\n"
	      "       warren exec [OPTION...] ID --shell 'STRING'\n"
	      "\n"
	      "Run COMMAND in session ID; its output is copied as it comes and warren exits\n"
	      "with its status. The command ends if warren is interrupted (except with -d).\n"
	      "\n"
	      "  -c, --shell STRING        run STRING with /bin/sh -c instead of COMMAND\n"
	      "  -e, --env KEY[=VALUE]     set an environment variable (repeatable); KEY alone passes\n"
	      "                            our own value of KEY (none if we have none)\n"
	      "  -C, --cwd DIR             working directory (/workspace or below)\n"
	      "  -i, --interactive         attach our standard input to the command's as it comes\n"
	      "                            (--stdin: the same)\n"
	      "  -t, --tty                 give the command a terminal of the sandbox's own; with -i\n"
	      "                            our terminal is raw while it runs (Ctrl-P Ctrl-Q detaches)\n"
	      "  -d, --detach              start the command as a process and print its pid (see\n"
	      "                            warren ps, attach, kill)\n"
	      "      --tag NAME            a name for the process (with -d, -i or -t)\n"
	      "      --timeout DURATION    time limit, e.g. 10s (at most the session's)\n"
	      "      --json                wait, then print the daemon's result object (with -d:\n"
	      "                            the process object)\n"
	      "      --url URL, --token TOKEN  see warren(1)\n"
	      "  -h, --help                show this help\n"
	      "\n"
	      "Exit status: the command's; 128+N if it was killed by signal N (137 also for an\n"
	      "out-of-memory kill); 124 on timeout; 126/127 if COMMAND could not run / was not\n"
	      "found; 125 if warren or warrend failed (the reason is on stderr).\n", out);
}

struct exec_args {
	const char *id;
	const char *timeout;
	bool json;
	bool interactive, tty, detach;
};

enum { OPT_TAG = 0x300, OPT_TIMEOUT };

/* The request body from the command line; NULL after printing an error
 * (*status says which exit status: 0 after --help). */
static json_t *exec_request(int argc, char **argv, struct exec_args *a, int *status)
{
	static const struct option options[] = {
		{ "shell", required_argument, NULL, 'c' },     { "env", required_argument, NULL, 'e' },
		{ "cwd", required_argument, NULL, 'C' },       { "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "interactive", no_argument, NULL, 'i' },     { "stdin", no_argument, NULL, 'i' },
		{ "tty", no_argument, NULL, 't' },             { "detach", no_argument, NULL, 'd' },
		{ "tag", required_argument, NULL, OPT_TAG },    { "json", no_argument, NULL, CLIENT_OPT_JSON },
		{ "help", no_argument, NULL, 'h' },            CLIENT_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	json_auto_t *req = json_object(), *env = json_object();
	const char *shell = NULL, *tag = NULL;
	uint64_t ms;
	int opt;
	*status = WARREN_EXIT_SETUP;
	if (!req || !env)
		return NULL;
	/* Options come before and after ID; after it, the first argument that
	 * is not an option (or what follows "--") starts the command, whose
	 * own options are its own: `warren exec ID ls -a`. So getopt ('+')
	 * stops at ID, and again at the command. */
	bool have_id = false;
	for (;;) {
		opt = getopt_long(argc, argv, "+c:e:C:itdh", options, NULL);
		if (opt == -1 && !have_id && optind < argc && strcmp(argv[optind - 1], "--")) {
			a->id = argv[optind++];
			have_id = true;
			continue;
		}
		if (opt == -1)
			break;
		switch (opt) {
		case 'c': shell = optarg; break;
		case 'e':
			if (!client_add_env(env, "--env", optarg))
				return NULL;
			break;
		case 'C': json_object_set_new(req, "cwd", json_string(optarg)); break;
		case OPT_TIMEOUT:
			if (parse_duration(optarg, &ms) < 0 || ms == 0) {
				cli_error("--timeout: expected a duration like 10s, got '%s'", optarg);
				return NULL;
			}
			a->timeout = optarg;
			json_object_set_new(req, "timeout", json_string(optarg));
			break;
		case 'i': a->interactive = true; break;
		case 't': a->tty = true; break;
		case 'd': a->detach = true; break;
		case OPT_TAG: tag = optarg; break;
		case CLIENT_OPT_JSON: a->json = true; break;
		case 'h': exec_usage(stdout); *status = 0; return NULL;
		default:
			if (!client_common_option(opt, optarg)) {
				cli_error("exec: try 'warren exec --help'");
				return NULL;
			}
		}
	}
	if (!have_id && optind < argc)
		a->id = argv[optind++]; /* after "--": warren exec -- ID CMD */
	if (!a->id) {
		cli_error("exec: expected a session ID (try 'warren exec --help')");
		return NULL;
	}
	if (shell && optind < argc) {
		cli_error("exec: give either --shell STRING or -- COMMAND, not both");
		return NULL;
	}
	if (!shell && optind >= argc) {
		cli_error("exec: expected -- COMMAND [ARG...] or --shell STRING after the session ID");
		return NULL;
	}
	if (shell) {
		json_object_set_new(req, "shell", json_string(shell));
	} else {
		json_t *cmd = json_array();
		for (int i = optind; i < argc; i++)
			json_array_append_new(cmd, json_string(argv[i]));
		json_object_set_new(req, "cmd", cmd);
	}
	if (json_object_size(env) > 0)
		json_object_set(req, "env", env);
	if (tag && !a->detach && !a->interactive && !a->tty) {
		cli_error("exec: --tag names a process: give it with -d, -i or -t");
		return NULL;
	}
	if (a->detach || a->tty || (a->interactive && !a->json)) {
		/* a process (POST …/processes): its stdin open, a terminal */
		json_object_set_new(req, "stdin", json_boolean(a->interactive));
		if (tag)
			json_object_set_new(req, "tag", json_string(tag));
		if (a->tty) {
			unsigned short cols = 80, rows = 24;
			struct pty_relay ours;
			pty_relay_init(&ours, STDIN_FILENO, STDOUT_FILENO);
			pty_relay_caller_size(&ours, &cols, &rows);
			json_object_set_new(req, "pty", json_pack("{s:i, s:i}", "cols", cols, "rows", rows));
		}
		return json_incref(req);
	}
	if (a->interactive) {
		/* --json: the whole of our stdin goes with the request */
		_cleanup_free_ char *data = NULL, *b64 = NULL;
		size_t len = 0;
		int r = client_read_all(STDIN_FILENO, &data, &len);
		if (r < 0) {
			cli_error("exec: reading standard input: %s", strerror(-r));
			return NULL;
		}
		if (!(b64 = base64_encode(data, len))) {
			cli_error("exec: out of memory");
			return NULL;
		}
		json_object_set_new(req, "stdin_base64", json_string(b64));
	}
	json_object_set_new(req, "stream", json_boolean(!a->json));
	return json_incref(req);
}

/* Writes one piece of output: {"data":"text"} or {"data_base64":"…"}
 * (also the buffered result's "stdout" + "stdout_encoding"). */
static int write_output(int fd, json_t *text, bool is_base64)
{
	if (!json_is_string(text))
		return 0;
	const char *s = json_string_value(text);
	size_t len = json_string_length(text);
	if (!is_base64)
		return write_all(fd, s, len);
	size_t n;
	_cleanup_free_ void *bytes = base64_decode(s, len, &n);
	if (!bytes)
		return errno == EINVAL ? -EBADMSG : -ENOMEM;
	return write_all(fd, bytes, n);
}

static bool is_base64(json_t *result, const char *key)
{
	const char *encoding = json_string_value(json_object_get(result, key));
	return encoding && strcmp(encoding, "base64") == 0;
}

/* The value of a session's limit ("30s", "256M") for messages, or NULL. */
static char *session_limit(const char *id, const char *key)
{
	_cleanup_free_ char *target = client_session_target(id, "");
	json_t *s = NULL;
	wr_error e = { 0 };
	if (!target || client_call("GET", target, NULL, &s, NULL, &e) < 0)
		return NULL;
	const char *v = json_string_value(json_object_get(json_object_get(s, "limits"), key));
	char *copy = v ? strdup(v) : NULL;
	json_decref(s);
	return copy;
}

int client_exit_status(const char *id, const char *timeout, json_t *res)
{
	json_t *code = json_object_get(res, "exit_code"), *sig = json_object_get(res, "signal");
	if (json_is_true(json_object_get(res, "truncated")))
		cli_error("output truncated: the command wrote more than its output limit");
	if (json_is_true(json_object_get(res, "timed_out"))) {
		_cleanup_free_ char *limit = timeout ? strdup(timeout) : session_limit(id, "timeout");
		char took[32];
		format_duration((uint64_t)json_integer_value(json_object_get(res, "duration_ms")), took, sizeof took);
		cli_error("killed: timeout after %s", limit ? limit : took);
		return WARREN_EXIT_TIMEOUT;
	}
	if (json_is_true(json_object_get(res, "oom_killed"))) {
		_cleanup_free_ char *limit = session_limit(id, "memory");
		if (limit)
			cli_error("killed: out of memory (limit %s)", limit);
		else
			cli_error("killed: out of memory");
		return 128 + 9;
	}
	if (json_is_integer(code))
		return (int)(json_integer_value(code) & 0xff);
	if (json_is_integer(sig) && json_integer_value(sig) > 0 && json_integer_value(sig) < 128)
		return 128 + (int)json_integer_value(sig);
	cli_error("warrend's result has neither an exit code nor a signal");
	return WARREN_EXIT_SETUP;
}

int client_stream_event(const char *event, const char *data, json_t **result, wr_error *e)
{
	json_auto_t *j = json_loads(data, 0, NULL);
	if (!j)
		return wr_error_set(e, 0, "warrend sent a '%s' event that is not JSON", event);
	if (!strcmp(event, "stdout") || !strcmp(event, "stderr") || !strcmp(event, "pty")) {
		int fd = strcmp(event, "stderr") ? STDOUT_FILENO : STDERR_FILENO;
		json_t *b64 = json_object_get(j, "data_base64");
		int r = write_output(fd, b64 ? b64 : json_object_get(j, "data"), b64 != NULL);
		if (r == -EBADMSG)
			return wr_error_set(e, 0, "warrend sent bad base64 in a '%s' event", event);
		if (r < 0)
			return wr_error_set(e, -r, "writing the command's %s", event);
		return 0;
	}
	if (!strcmp(event, "exit")) {
		*result = json_incref(j);
		return 0;
	}
	if (!strcmp(event, "dropped")) {
		cli_error("%lld events of the output were dropped: the process's buffer keeps only its latest",
			  (long long)json_integer_value(json_object_get(j, "events")));
		return 0;
	}
	if (!strcmp(event, "error")) {
		const char *m = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
		return wr_error_set(e, 0, "%s", m ? m : data);
	}
	return 0; /* events this client does not know are for newer clients */
}

static int on_stream_event(void *data, const char *event, const char *text, const char *id, wr_error *e)
{
	json_t **result = data;
	int r = client_stream_event(event, text, result, e);
	return r < 0 ? r : *result != NULL;
}

/* Copies the events of the body until "exit". */
static int read_stream(struct http_conn *c, json_t **result, wr_error *e)
{
	struct sse_reader r;
	sse_reader_init(&r, on_stream_event, result);
	int rc = sse_reader_pump(&r, c, e); /* what came with the head */
	if (rc == 0)
		rc = sse_reader_run(&r, c, e);
	sse_reader_free(&r);
	return rc < 0 ? rc : 0;
}

int cmd_exec(int argc, char **argv)
{
	struct exec_args a = { 0 };
	int status;
	json_auto_t *req = exec_request(argc, argv, &a, &status);
	if (!req)
		return status;
	if (a.detach || a.tty || (a.interactive && !a.json))
		return client_exec_process(a.id, req, a.detach, a.json, a.timeout);
	_cleanup_free_ char *target = client_session_target(a.id, "/exec");
	_cleanup_free_ char *body = json_dumps(req, JSON_COMPACT);
	if (!target || !body) {
		cli_error("exec: out of memory");
		return WARREN_EXIT_SETUP;
	}
	struct http_conn c = { .fd = -1 };
	wr_error e = { 0 };
	json_auto_t *result = NULL;
	int r = client_open(&c, "POST", target, "application/json", body, strlen(body), &e);
	if (r == 0 && c.status == 200 && strncmp(c.content_type, "text/event-stream", 17) == 0) {
		r = read_stream(&c, &result, &e);
		http_close(&c);
	} else if (r == 0) {
		/* the buffered result (--json), or an error */
		r = client_finish_json(&c, &result, &e);
		if (r == 0 && a.json)
			r = client_print_json(result) < 0 ? -EIO : 0;
		else if (r == 0 && ((r = write_output(STDOUT_FILENO, json_object_get(result, "stdout"),
						      is_base64(result, "stdout_encoding"))) < 0 ||
				    (r = write_output(STDERR_FILENO, json_object_get(result, "stderr"),
						      is_base64(result, "stderr_encoding"))) < 0))
			wr_error_set(&e, -r, "writing the command's output");
	}
	if (r < 0) {
		if (e.message[0])
			cli_error("%s", e.message);
		return WARREN_EXIT_SETUP;
	}
	return client_exit_status(a.id, a.timeout, result);
}
