/* warren create | ls | rm | status: sessions of warrend, over its HTTP
 * API (/work/notes/api.md; warren(1) "Talking to warrend"), and the request
 * helpers the other client subcommands share. */
#include "config.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "cli.h"
#include "client.h"
#include "sandbox.h"
#include "units.h"

const char *client_url_option, *client_token_option;

/* Daemon replies other than file downloads are small JSON documents. */
#define MAX_JSON_REPLY (64u << 20)

const char *client_url(void)
{
	const char *env = getenv("WARREN_URL");
	if (client_url_option)
		return client_url_option;
	return env && *env ? env : WARREN_DEFAULT_URL;
}

const char *client_token(void)
{
	const char *env = getenv("WARREN_TOKEN");
	if (client_token_option)
		return *client_token_option ? client_token_option : NULL;
	return env && *env ? env : NULL;
}

bool client_common_option(int opt, const char *arg)
{
	if (opt == CLIENT_OPT_URL)
		client_url_option = arg;
	else if (opt == CLIENT_OPT_TOKEN)
		client_token_option = arg;
	else
		return false;
	return true;
}

int client_leading_options(int argc, char **argv)
{
	int i = 1;
	while (i < argc) {
		const char *a = argv[i];
		const char **slot = NULL;
		const char *name = NULL;
		if (strncmp(a, "--url", 5) == 0 && (a[5] == '\0' || a[5] == '='))
			slot = &client_url_option, name = "--url";
		else if (strncmp(a, "--token", 7) == 0 && (a[7] == '\0' || a[7] == '='))
			slot = &client_token_option, name = "--token";
		else
			break;
		const char *eq = strchr(a, '=');
		if (eq) {
			*slot = eq + 1;
			i++;
		} else if (i + 1 < argc) {
			*slot = argv[i + 1];
			i += 2;
		} else {
			cli_error("%s needs a value", name);
			return -1;
		}
	}
	return i - 1;
}

int client_open(struct http_conn *c, const char *method, const char *target, const char *content_type,
		const void *body, size_t body_len, wr_error *e)
{
	int r = http_connect(client_url(), c, e);
	if (r < 0)
		return r;
	if ((r = http_send_head(c, method, target, client_token(), content_type, body_len, e)) < 0 ||
	    (body_len > 0 && (r = http_send(c, body, body_len, e)) < 0) || (r = http_read_head(c, e)) < 0) {
		http_close(c);
		return r;
	}
	return 0;
}

/* The errno that best says what an HTTP error status means, so callers
 * can tell "not found" from the rest. */
static int http_status_errno(int status)
{
	switch (status) {
	case 400: return -EINVAL;
	case 401: case 403: return -EACCES;
	case 404: return -ENOENT;
	case 409: return -EBUSY;
	case 413: return -EFBIG;
	case 429: case 503: return -EAGAIN;
	default: return -EPROTO;
	}
}

/* The daemon's one-line message from {"error":{"message":…}}, or a
 * description of a reply that is not ours (a proxy's page, say). */
static int reply_error(const struct http_conn *c, json_t *reply, const char *body, wr_error *e)
{
	const char *message = json_string_value(json_object_get(json_object_get(reply, "error"), "message"));
	if (message) {
		/* Over TCP warrend wants a token: say where the CLI takes one. */
		wr_error_set(e, 0, "%s%s", message,
			     c->status == 401 && !client_token() ? " (give one with --token or WARREN_TOKEN)" : "");
		return http_status_errno(c->status);
	}
	size_t line = body ? strcspn(body, "\r\n") : 0;
	if (line > 200)
		line = 200;
	wr_error_set(e, 0, "warrend answered HTTP %d%s%.*s", c->status, line ? ": " : "", (int)line,
		     body ? body : "");
	return http_status_errno(c->status);
}

int client_finish_json(struct http_conn *c, json_t **reply, wr_error *e)
{
	_cleanup_free_ char *body = NULL;
	size_t len;
	*reply = NULL;
	int r = http_read_body_all(c, MAX_JSON_REPLY, &body, &len, e);
	http_close(c);
	if (r < 0)
		return r;
	json_t *j = json_loadb(body, len, 0, NULL);
	if (c->status < 200 || c->status > 299) {
		r = reply_error(c, j, body, e);
		json_decref(j);
		return r;
	}
	if (!j)
		return wr_error_set(e, 0, "warrend answered HTTP %d with a body that is not JSON", c->status);
	*reply = j;
	return 0;
}

int client_call(const char *method, const char *target, json_t *body, json_t **reply, int *status,
		wr_error *e)
{
	struct http_conn c = { .fd = -1 };
	_cleanup_free_ char *text = NULL;
	if (status)
		*status = 0;
	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		return wr_error_set(e, ENOMEM, "request");
	int r = client_open(&c, method, target, body ? "application/json" : NULL, text,
			    text ? strlen(text) : 0, e);
	if (r < 0)
		return r;
	if (status)
		*status = c.status;
	return client_finish_json(&c, reply, e);
}

char *client_session_target(const char *id, const char *suffix)
{
	_cleanup_free_ char *escaped = http_escape_path(id, false);
	char *target;
	if (!escaped || asprintf(&target, "/v1/sessions/%s%s", escaped, suffix) < 0)
		return NULL;
	return target;
}

int client_print_json(json_t *j)
{
	if (json_dumpf(j, stdout, JSON_INDENT(2)) < 0 || fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
		cli_error("writing to stdout failed");
		return -EIO;
	}
	return 0;
}

bool client_is_json(const char *content_type)
{
	size_t n = strlen("application/json");
	return strncasecmp(content_type, "application/json", n) == 0 &&
	       (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

bool client_add_env(json_t *env, const char *flag, const char *kv)
{
	_cleanup_free_ char *key = NULL;
	const char *value;
	int got = cli_env_arg(flag, kv, &key, &value);
	if (got <= 0)
		return got == 0;
	if (json_object_set_new(env, key, json_string(value)) < 0) {
		cli_error("%s: '%s' is not valid UTF-8", flag, kv);
		return false;
	}
	return true;
}

int client_read_all(int fd, char **out, size_t *out_len)
{
	size_t cap = 65536, len = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (len == cap) {
			char *bigger = realloc(buf, cap *= 2);
			if (!bigger)
				return -ENOMEM;
			buf = bigger;
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	*out = TAKE_PTR(buf);
	*out_len = len;
	return 0;
}

/* ---- warren create ------------------------------------------------------ */

static void create_usage(FILE *out)
{
	fputs("Usage: warren create [OPTION...]\n"
	      "\n"
	      "Create a session in warrend and print its id (ID=$(warren create) works).\n"
	      "\n"
	      "      --image NAME          root filesystem image (default: the daemon's, \"host\")\n"
	      "  -p, --policy NAME         policy (default: the daemon's, \"default\")\n"
	      "  -m, --memory SIZE         memory limit, e.g. 256M (at most the policy's)\n"
	      "      --pids N              process limit (at most the policy's)\n"
	      "      --cpus N              CPU limit, e.g. 0.5 (at most the policy's)\n"
	      "      --timeout DURATION    default time limit of each exec, e.g. 30s\n"
	      "  -e, --env KEY=VALUE       environment of every exec (repeatable)\n"
	      "      --idle-timeout DURATION  delete the session after this long unused\n"
	      "      --max-lifetime DURATION  delete the session this long after creation\n"
	      "      --net none|egress     network: none (loopback only) or egress (the policy's\n"
	      "                            allowlist, or --allow's; the policy must allow egress)\n"
	      "      --allow DEST          egress only to DEST (repeatable; implies --net egress): an\n"
	      "                            address or network with an optional :PORT, or a domain name\n"
	      "                            (*.example.com), each within the policy's allowlist\n"
	      "      --json                print the daemon's session object\n"
	      "      --url URL, --token TOKEN  see warren(1)\n"
	      "  -h, --help                show this help\n", out);
}

enum { OPT_PIDS = 0x100, OPT_CPUS, OPT_IDLE, OPT_LIFETIME, OPT_NET, OPT_ALLOW, OPT_IMAGE, OPT_TIMEOUT };

static bool check_flag(const char *flag, const char *value, int (*parse)(const char *, uint64_t *),
		       const char *example)
{
	uint64_t v;
	if (parse(value, &v) < 0 || v == 0) {
		cli_error("%s: expected %s, got '%s'", flag, example, value);
		return false;
	}
	return true;
}

/* Builds the POST /v1/sessions body from the command line; NULL after
 * printing an error. */
static json_t *create_request(int argc, char **argv, bool *json_out)
{
	static const struct option options[] = {
		{ "image", required_argument, NULL, OPT_IMAGE }, { "policy", required_argument, NULL, 'p' },
		{ "memory", required_argument, NULL, 'm' },   { "pids", required_argument, NULL, OPT_PIDS },
		{ "cpus", required_argument, NULL, OPT_CPUS }, { "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "env", required_argument, NULL, 'e' },      { "idle-timeout", required_argument, NULL, OPT_IDLE },
		{ "max-lifetime", required_argument, NULL, OPT_LIFETIME },
		{ "net", required_argument, NULL, OPT_NET },   { "allow", required_argument, NULL, OPT_ALLOW },
		{ "json", no_argument, NULL, CLIENT_OPT_JSON }, { "help", no_argument, NULL, 'h' },
		CLIENT_LONG_OPTIONS,                           { NULL, 0, NULL, 0 },
	};
	json_t *req = json_object(), *limits = json_object(), *env = json_object(), *net = json_object();
	json_t *allow = json_array();
	bool ok = req && limits && env && net && allow;
	int opt;
	char *end;
	while (ok && (opt = getopt_long(argc, argv, "itp:m:e:h", options, NULL)) != -1) {
		switch (opt) {
		case 'i':
		case 't':
			/* a changed meaning is said, not guessed at */
			cli_error("create: -%c is no longer --%s: write --%s (as in docker, -i and -t attach stdin and "
				  "a terminal: warren exec -it)", opt, opt == 'i' ? "image" : "timeout",
				  opt == 'i' ? "image NAME" : "timeout DURATION");
			ok = false;
			break;
		case OPT_IMAGE: json_object_set_new(req, "image", json_string(optarg)); break;
		case 'p': json_object_set_new(req, "policy", json_string(optarg)); break;
		case 'm':
			ok = check_flag("--memory", optarg, parse_size, "a size like 256M");
			json_object_set_new(limits, "memory", json_string(optarg));
			break;
		case OPT_PIDS: {
			errno = 0;
			long long n = strtoll(optarg, &end, 10);
			ok = errno == 0 && *end == '\0' && end != optarg && n > 0;
			if (!ok)
				cli_error("--pids: expected a positive number, got '%s'", optarg);
			json_object_set_new(limits, "pids", json_integer(n));
			break;
		}
		case OPT_CPUS: {
			uint32_t milli;
			ok = parse_cpus(optarg, &milli) == 0;
			if (!ok)
				cli_error("--cpus: expected a number of CPUs like 0.5, got '%s'", optarg);
			json_object_set_new(limits, "cpus", json_real(milli / 1000.0));
			break;
		}
		case OPT_TIMEOUT:
			ok = check_flag("--timeout", optarg, parse_duration, "a duration like 30s");
			json_object_set_new(limits, "timeout", json_string(optarg));
			break;
		case OPT_IDLE:
			ok = check_flag("--idle-timeout", optarg, parse_duration, "a duration like 1h");
			json_object_set_new(req, "idle_timeout", json_string(optarg));
			break;
		case OPT_LIFETIME:
			ok = check_flag("--max-lifetime", optarg, parse_duration, "a duration like 24h");
			json_object_set_new(req, "max_lifetime", json_string(optarg));
			break;
		case 'e': ok = client_add_env(env, "--env", optarg); break;
		case OPT_NET:
			ok = !strcmp(optarg, "none") || !strcmp(optarg, "egress");
			if (!ok)
				cli_error("--net: expected 'none' or 'egress' (a session never gets the host's), got '%s'",
					  optarg);
			json_object_set_new(net, "mode", json_string(optarg));
			break;
		case OPT_ALLOW: json_array_append_new(allow, json_string(optarg)); break; /* the daemon checks it */
		case CLIENT_OPT_JSON: *json_out = true; break;
		case 'h': create_usage(stdout); ok = false; break;
		default:
			if (!client_common_option(opt, optarg)) {
				cli_error("create: try 'warren create --help'");
				ok = false;
			}
		}
	}
	if (ok && optind < argc) {
		cli_error("create: unexpected argument '%s' (try 'warren create --help')", argv[optind]);
		ok = false;
	}
	if (ok && json_object_size(limits) > 0)
		json_object_set(req, "limits", limits);
	if (ok && json_object_size(env) > 0)
		json_object_set(req, "env", env);
	if (ok && json_array_size(allow) > 0)
		json_object_set(net, "allow", allow);
	if (ok && json_object_size(net) > 0)
		json_object_set(req, "network", net);
	json_decref(limits);
	json_decref(env);
	json_decref(net);
	json_decref(allow);
	if (!ok) {
		json_decref(req);
		return NULL;
	}
	return req;
}

int cmd_create(int argc, char **argv)
{
	bool json = false;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			create_usage(stdout);
			return 0;
		}
	json_t *req = create_request(argc, argv, &json);
	if (!req)
		return WARREN_EXIT_SETUP;
	json_t *reply;
	wr_error e = { 0 };
	int r = client_call("POST", "/v1/sessions", req, &reply, NULL, &e);
	json_decref(req);
	if (r < 0) {
		cli_error("%s", e.message);
		return 1;
	}
	const char *id = json_string_value(json_object_get(reply, "id"));
	if (json)
		r = client_print_json(reply);
	else if (id)
		r = printf("%s\n", id) < 0 || fflush(stdout) == EOF ? -EIO : 0;
	else
		cli_error("warrend's reply has no session id");
	json_decref(reply);
	return r < 0 || (!json && !id) ? 1 : 0;
}

/* ---- warren rm ---------------------------------------------------------- */

/* Parses the options of a subcommand that only has --json, --url, --token
 * and --help; returns optind, 0 after --help, -1 after an error. */
int client_simple_options(int argc, char **argv, const char *name, bool *json, void (*usage)(FILE *))
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, CLIENT_OPT_JSON }, { "help", no_argument, NULL, 'h' },
		CLIENT_LONG_OPTIONS,                     { NULL, 0, NULL, 0 },
	};
	int opt;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		if (opt == CLIENT_OPT_JSON && json) {
			*json = true;
			continue;
		}
		if (!client_common_option(opt, optarg)) {
			cli_error("%s: try 'warren %s --help'", name, name);
			return -1;
		}
	}
	return optind;
}

static void rm_usage(FILE *out)
{
	fputs("Usage: warren rm ID...\n"
	      "\n"
	      "Delete sessions: their processes are killed and their workspaces removed.\n"
	      "Exit status 1 if any could not be deleted (one message each).\n", out);
}

int cmd_rm(int argc, char **argv)
{
	int first = client_simple_options(argc, argv, "rm", NULL, rm_usage);
	if (first <= 0)
		return first == 0 ? 0 : WARREN_EXIT_SETUP;
	if (first >= argc) {
		cli_error("rm: expected at least one session ID (try 'warren rm --help')");
		return WARREN_EXIT_SETUP;
	}
	int status = 0;
	for (int i = first; i < argc; i++) {
		_cleanup_free_ char *target = client_session_target(argv[i], "");
		json_t *reply = NULL;
		wr_error e = { 0 };
		if (!target || client_call("DELETE", target, NULL, &reply, NULL, &e) < 0) {
			cli_error("rm %s: %s", argv[i], target ? e.message : "out of memory");
			status = 1;
		}
		json_decref(reply);
	}
	return status;
}

/* ---- warren status ------------------------------------------------------ */

static void status_usage(FILE *out)
{
	fputs("Usage: warren status [--json]\n"
	      "\n"
	      "Show whether warrend is up: version, uptime, sessions and warm pools.\n", out);
}

static const char *str_or_dash(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "-";
}

static void print_health(json_t *h)
{
	char up[32] = "-";
	json_t *uptime = json_object_get(h, "uptime_s");
	if (json_is_integer(uptime) && json_integer_value(uptime) >= 0)
		human_duration((uint64_t)json_integer_value(uptime), up, sizeof up);
	printf("warrend %s at %s\n", str_or_dash(h, "version"), client_url());
	printf("  status    %s\n", str_or_dash(h, "status"));
	printf("  uptime    %s\n", up);
	printf("  sessions  %lld\n", (long long)json_integer_value(json_object_get(h, "sessions")));
	printf("  cgroup    %s\n", str_or_dash(h, "cgroup"));
	json_t *pools = json_object_get(h, "pools"), *pool;
	size_t i;
	if (json_array_size(pools) == 0)
		return;
	struct table t = { .n_cols = 4 };
	table_add(&t, "IMAGE", "POLICY", "READY", "TARGET");
	json_array_foreach(pools, i, pool) {
		char ready[24], target[24];
		snprintf(ready, sizeof ready, "%lld", (long long)json_integer_value(json_object_get(pool, "ready")));
		snprintf(target, sizeof target, "%lld", (long long)json_integer_value(json_object_get(pool, "target")));
		table_add(&t, str_or_dash(pool, "image"), str_or_dash(pool, "policy"), ready, target);
	}
	printf("\nPools (sandboxes kept ready):\n");
	table_print(&t, stdout);
	table_free(&t);
}

int cmd_status(int argc, char **argv)
{
	bool json = false;
	int first = client_simple_options(argc, argv, "status", &json, status_usage);
	if (first <= 0)
		return first == 0 ? 0 : WARREN_EXIT_SETUP;
	if (first < argc) {
		cli_error("status: unexpected argument '%s'", argv[first]);
		return WARREN_EXIT_SETUP;
	}
	json_t *reply;
	wr_error e = { 0 };
	if (client_call("GET", "/v1/health", NULL, &reply, NULL, &e) < 0) {
		cli_error("%s", e.message);
		return 1;
	}
	int r = 0;
	if (json)
		r = client_print_json(reply);
	else
		print_health(reply);
	json_decref(reply);
	if (!json && fflush(stdout) == EOF)
		r = -EIO;
	return r < 0 ? 1 : 0;
}

/* ---- warren ls ---------------------------------------------------------- */

int client_workspace_path(const char *path, char **out, wr_error *e)
{
	static const char root[] = "/workspace";
	const char *rel = path;
	if (path[0] == '/') {
		if (strncmp(path, root, strlen(root)) != 0 || (path[strlen(root)] != '\0' && path[strlen(root)] != '/'))
			return wr_error_set(e, 0, "%s: paths in a session are under /workspace "
					    "(write them relative to it, or starting with /workspace/)", path);
		rel = path + strlen(root);
		rel += strspn(rel, "/");
		/* "/workspace/" means the directory itself; keep its slash */
		if (*rel == '\0' && path[strlen(root)] == '/')
			rel = "/";
	}
	*out = strdup(rel);
	return *out ? 0 : wr_error_set(e, ENOMEM, "path");
}

char *client_files_target(const char *id, const char *rel_path)
{
	_cleanup_free_ char *path = strdup(rel_path + strspn(rel_path, "/"));
	if (!path)
		return NULL;
	for (size_t n = strlen(path); n > 0 && path[n - 1] == '/'; n--)
		path[n - 1] = '\0';
	_cleanup_free_ char *escaped = http_escape_path(path, true), *suffix = NULL;
	if (!escaped || asprintf(&suffix, "/files/%s", escaped) < 0)
		return NULL;
	return client_session_target(id, suffix);
}

static void ls_usage(FILE *out)
{
	fputs("Usage: warren ls [--json]\n"
	      "       warren ls [--json] ID[:PATH]\n"
	      "\n"
	      "Without ID: list your sessions. With ID: list a directory of the session's\n"
	      "workspace (PATH relative to /workspace; default: /workspace itself).\n", out);
}

static int print_sessions(json_t *reply)
{
	json_t *sessions = json_object_get(reply, "sessions"), *s;
	size_t i;
	time_t now = time(NULL);
	struct table t = { .n_cols = 6 };
	int r = table_add(&t, "ID", "IMAGE", "POLICY", "CREATED", "LAST USED", "STATE");
	json_array_foreach(sessions, i, s) {
		char created[48], used[48];
		human_time(json_string_value(json_object_get(s, "created")), now, created, sizeof created);
		human_time(json_string_value(json_object_get(s, "last_used")), now, used, sizeof used);
		if (r == 0)
			r = table_add(&t, str_or_dash(s, "id"), str_or_dash(s, "image"), str_or_dash(s, "policy"),
				      created, used, str_or_dash(s, "state"));
	}
	if (r == 0)
		table_print(&t, stdout);
	table_free(&t);
	return r;
}

/* Entries of a directory listing, or only the one named `only`. */
static int print_entries(json_t *listing, const char *only)
{
	json_t *entries = json_object_get(listing, "entries"), *entry;
	size_t i;
	time_t now = time(NULL);
	struct table t = { .n_cols = 4 };
	int r = table_add(&t, "NAME", "TYPE", "SIZE", "MTIME");
	json_array_foreach(entries, i, entry) {
		const char *name = str_or_dash(entry, "name");
		if (only && strcmp(name, only) != 0)
			continue;
		char size[32] = "-", mtime[48];
		json_t *bytes = json_object_get(entry, "size");
		if (json_is_integer(bytes) && json_integer_value(bytes) >= 0)
			human_size((uint64_t)json_integer_value(bytes), size, sizeof size);
		human_time(json_string_value(json_object_get(entry, "mtime")), now, mtime, sizeof mtime);
		if (r == 0)
			r = table_add(&t, name, str_or_dash(entry, "type"), size, mtime);
	}
	if (r == 0)
		table_print(&t, stdout);
	table_free(&t);
	return r;
}

/* --json for one file: its entry of the parent's listing. */
static int print_entry_json(json_t *listing, const char *name)
{
	json_t *entry;
	size_t i;
	json_array_foreach(json_object_get(listing, "entries"), i, entry)
		if (strcmp(str_or_dash(entry, "name"), name) == 0)
			return client_print_json(entry);
	return 0;
}

/* GET of a workspace path: *listing is the directory listing, or NULL
 * when the path is a file (whose bytes are not read). */
int client_get_listing(const char *id, const char *rel, json_t **listing, wr_error *e)
{
	_cleanup_free_ char *target = client_files_target(id, rel);
	struct http_conn c = { .fd = -1 };
	*listing = NULL;
	if (!target)
		return wr_error_set(e, ENOMEM, "request");
	int r = client_open(&c, "GET", target, NULL, NULL, 0, e);
	if (r < 0)
		return r;
	if (c.status >= 200 && c.status <= 299 && !client_is_json(c.content_type)) {
		http_close(&c);
		return 0;
	}
	json_t *j;
	if ((r = client_finish_json(&c, &j, e)) < 0)
		return r;
	if (!json_is_array(json_object_get(j, "entries"))) {
		/* a file that the daemon labelled JSON */
		json_decref(j);
		return 0;
	}
	*listing = j;
	return 0;
}

static int ls_workspace(const char *spec, bool json)
{
	const char *colon = strchr(spec, ':');
	_cleanup_free_ char *id = strndup(spec, colon ? (size_t)(colon - spec) : strlen(spec)), *rel = NULL;
	wr_error e = { 0 };
	json_t *listing = NULL;
	if (!id)
		return -ENOMEM;
	int r = client_workspace_path(colon ? colon + 1 : "", &rel, &e);
	if (r == 0)
		r = client_get_listing(id, rel, &listing, &e);
	if (r == 0 && !listing) {
		/* a file: show its entry in the parent's listing, like ls(1) */
		char *slash = strrchr(rel, '/');
		const char *name = slash ? slash + 1 : rel;
		if (slash)
			*slash = '\0';
		r = client_get_listing(id, slash ? rel : "", &listing, &e);
		if (r == 0 && listing) {
			r = json ? print_entry_json(listing, name) : print_entries(listing, name);
			json_decref(listing);
			return r;
		}
		if (r == 0)
			r = wr_error_set(&e, 0, "%s: cannot list it", spec);
	}
	if (r < 0) {
		cli_error("%s", e.message);
		return r;
	}
	r = json ? client_print_json(listing) : print_entries(listing, NULL);
	json_decref(listing);
	return r;
}

int cmd_ls(int argc, char **argv)
{
	bool json = false;
	int first = client_simple_options(argc, argv, "ls", &json, ls_usage);
	if (first <= 0)
		return first == 0 ? 0 : WARREN_EXIT_SETUP;
	if (argc - first > 1) {
		cli_error("ls: expected at most one ID[:PATH] (try 'warren ls --help')");
		return WARREN_EXIT_SETUP;
	}
	if (first < argc)
		return ls_workspace(argv[first], json) < 0 ? 1 : 0;
	json_t *reply;
	wr_error e = { 0 };
	if (client_call("GET", "/v1/sessions", NULL, &reply, NULL, &e) < 0) {
		cli_error("%s", e.message);
		return 1;
	}
	int r = json ? client_print_json(reply) : print_sessions(reply);
	json_decref(reply);
	if (fflush(stdout) == EOF)
		r = -EIO;
	return r < 0 ? 1 : 0;
}
