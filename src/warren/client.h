/* The CLI's side of warrend's HTTP API (man warren(1), "Talking to
 * warrend"): where the daemon is, one request/reply helper, and the output
 * a person reads (tables, sizes, relative times). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <jansson.h>

#include "error.h"
#include "http-client.h"

#define WARREN_DEFAULT_URL "unix:/run/warren/warrend.sock"

/* --url and --token, from the command line (before or after the
 * subcommand), else $WARREN_URL / $WARREN_TOKEN, else the default. */
extern const char *client_url_option, *client_token_option;
const char *client_url(void);
const char *client_token(void);

/* getopt_long values shared by every client subcommand. */
enum { CLIENT_OPT_URL = 0x200, CLIENT_OPT_TOKEN, CLIENT_OPT_JSON };
#define CLIENT_LONG_OPTIONS                                          \
	{ "url", required_argument, NULL, CLIENT_OPT_URL },          \
	{ "token", required_argument, NULL, CLIENT_OPT_TOKEN }
/* Handles --url/--token from getopt; false if opt is neither. */
bool client_common_option(int opt, const char *arg);
/* Consumes --url/--token (and --url=…) given before the subcommand;
 * returns how many arguments it took, or -1 after printing an error. */
int client_leading_options(int argc, char **argv);

/* Options of a subcommand that has only --json (when json is not NULL),
 * --url, --token and --help: returns the index of the first operand, 0
 * after --help, -1 after printing an error. */
int client_simple_options(int argc, char **argv, const char *name, bool *json, void (*usage)(FILE *));

/* A path in a session as the API wants it, relative to /workspace:
 * "/workspace/a/b" and "a/b" -> "a/b", "/workspace" -> "". Other absolute
 * paths are refused. Trailing slashes are kept. */
int client_workspace_path(const char *path, char **out, wr_error *e);
/* "/v1/sessions/<id>/files/<path>" with both parts percent-encoded and
 * trailing slashes of path dropped. */
char *client_files_target(const char *id, const char *rel_path);

/* GET of a workspace path: *listing is the directory listing
 * ({"path","entries"}), or NULL when the path is a file (its bytes are
 * not read). */
int client_get_listing(const char *id, const char *rel_path, json_t **listing, wr_error *e);

/* Connects and sends one request whose body is body_len bytes of
 * content_type (NULL: no body) and returns with the response head read. */
int client_open(struct http_conn *c, const char *method, const char *target, const char *content_type,
		const void *body, size_t body_len, wr_error *e);
/* Reads the rest of the reply as JSON. A non-2xx status becomes an error
 * with the daemon's message (e->code 0) and a return value that says what
 * kind: -ENOENT for 404, -EACCES 401/403, -EINVAL 400, -EBUSY 409, -EFBIG
 * 413, -EAGAIN 429/503, -EPROTO otherwise. Closes the connection. */
int client_finish_json(struct http_conn *c, json_t **reply, wr_error *e);
/* client_open + client_finish_json with an optional JSON body. *status
 * (may be NULL) gets the HTTP status, 0 if there was no reply. */
int client_call(const char *method, const char *target, json_t *body, json_t **reply, int *status,
		wr_error *e);
/* "/v1/sessions/<id>" + suffix, the id percent-encoded. */
char *client_session_target(const char *id, const char *suffix);

/* Prints JSON for scripts, indented, with a final newline. */
int client_print_json(json_t *j);
/* true when the content type is application/json (parameters ignored). */
bool client_is_json(const char *content_type);

/* All of fd (standard input, a pipe) in a new buffer: 0 or -errno. */
int client_read_all(int fd, char **out, size_t *out_len);

/* Output for people. */
void human_size(uint64_t bytes, char *buf, size_t len);        /* 1536 -> "1.5K" */
void human_duration(uint64_t seconds, char *buf, size_t len);  /* 192 -> "3m12s" */
/* "2026-11-30T00:00:00Z" -> "3s ago" / "in 5m" / the text itself if
 * it is not RFC 3339. */
void human_time(const char *rfc3339, time_t now, char *buf, size_t len);
int parse_rfc3339(const char *text, time_t *out);

/* A table printed with aligned columns (two spaces between them). */
struct table {
	size_t n_cols, n_cells, cap;
	char **cells;
};
int table_add(struct table *t, ...) /* n_cols strings */;
void table_print(const struct table *t, FILE *out);
void table_free(struct table *t);

/* Adds "K=V", or K with our own value (cli_env_arg: dropped when we have
 * none), to the env object; false after a message. */
bool client_add_env(json_t *env, const char *flag, const char *kv);

/* One event of an exec's or a process's output stream, copied to our
 * stdout ("stdout", "pty") or stderr; *result is set by "exit". */
int client_stream_event(const char *event, const char *data, json_t **result, wr_error *e);
/* The exit status for a result object (an exec's, a process's), after
 * saying why it was killed; timeout is the one asked for (NULL: the
 * session's, looked up for the message). */
int client_exit_status(const char *id, const char *timeout, json_t *res);
/* warren exec -d, -i, -t (client-process.c): starts the process `req`
 * describes, then prints its pid (detach) or relays it until it ends. */
int client_exec_process(const char *id, json_t *req, bool detach, bool json, const char *timeout);

int cmd_create(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_kill(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_cp(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_mcp(int argc, char **argv);
